//! Transactions on the virtual server table: every change, from rvsadm, from keepalived's
//! configuration or from its checker, is a list of ipvsadm commands applied all or nothing.
//!
//! The commands are applied to a copy of the [`Model`] with IPVS's answers (exists / no such
//! service / no such destination), the copy is validated as a whole engine snapshot, saved
//! (write, fsync, rename), and only then swapped in. A refusal at any step leaves the
//! running table and the saved one as they were.

use super::model::{engine_key, Model, Refusal};
use super::store::{Store, StoreError};
use arc_swap::ArcSwap;
use rvs_ctl::cmd::Command;
use rvs_ctl::reply::Errno;
use rvs_engine::config::SvcKey;
use rvs_engine::Config;
use std::sync::Arc;

/// Why a transaction changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum TxnError {
    /// Command `index` was refused, or (at the last index) the whole new table is not a
    /// valid snapshot.
    #[error("{refusal}")]
    Refused { index: usize, refusal: Refusal },
    /// The new table could not be saved.
    #[error("{source}")]
    Save { index: usize, source: StoreError },
}

impl TxnError {
    /// The command of the transaction the error is about (for `-R`'s line numbers).
    pub fn index(&self) -> usize {
        match self {
            TxnError::Refused { index, .. } | TxnError::Save { index, .. } => *index,
        }
    }

    /// IPVS's errno, which selects ipvsadm's wording; none for errors of rvs's own.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            TxnError::Refused { refusal, .. } => refusal.errno,
            TxnError::Save { .. } => None,
        }
    }
}

/// What a committed transaction asks of the rest of the daemon.
#[derive(Debug, Default)]
pub struct Applied {
    /// The new snapshot, when the table changed (the data path is re-steered to it).
    pub changed: Option<Arc<Config>>,
    /// `-Z`: the services whose counters to zero in the engine (`None`: all of them).
    pub zero: Vec<Option<SvcKey>>,
}

/// The operator's table and the snapshot cell the engine reads.
pub struct VsTable {
    model: Model,
    generation: u64,
    shared: Arc<ArcSwap<Config>>,
}

impl VsTable {
    /// Start from the table in `store`, if there is one.
    pub fn open(store: &dyn Store) -> Result<VsTable, OpenError> {
        let model = store.load()?.unwrap_or_default();
        let cfg = model.to_config(1).map_err(OpenError::Invalid)?;
        Ok(VsTable {
            model,
            generation: 1,
            shared: Arc::new(ArcSwap::from_pointee(cfg)),
        })
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The snapshot cell the engine reads.
    pub fn shared(&self) -> Arc<ArcSwap<Config>> {
        self.shared.clone()
    }

    /// The current snapshot.
    pub fn config(&self) -> Arc<Config> {
        self.shared.load_full()
    }

    /// Apply `cmds` as one transaction.
    pub fn apply(&mut self, cmds: &[Command], store: &mut dyn Store) -> Result<Applied, TxnError> {
        let mut next = self.model.clone();
        for (index, c) in cmds.iter().enumerate() {
            next.apply(c)
                .map_err(|refusal| TxnError::Refused { index, refusal })?;
        }
        let last = cmds.len().saturating_sub(1);
        let cfg = next
            .to_config(self.generation + 1)
            .map_err(|refusal| TxnError::Refused {
                index: last,
                refusal,
            })?;
        let mut applied = Applied::default();
        if next != self.model {
            store.save(&next).map_err(|source| TxnError::Save {
                index: last,
                source,
            })?;
            self.generation += 1;
            let cfg = Arc::new(cfg);
            self.shared.store(cfg.clone());
            self.model = next;
            applied.changed = Some(cfg);
        }
        applied.zero = cmds
            .iter()
            .filter_map(|c| match c {
                Command::Zero(k) => Some(k.map(|k| engine_key(&k))),
                _ => None,
            })
            .collect();
        Ok(applied)
    }
}

/// Why the saved table cannot be started from.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("saved table is invalid: {0}")]
    Invalid(Refusal),
}
