//! Persistence: the operator's table kept across restarts, so that a restarted rvsd restores
//! exactly what was configured (dest ids included, which its conns are adopted by).
//!
//! The daemon core sees only [`Store`]: rvsd uses [`DirStore`] (the state directory) or
//! [`NoStore`] (no `--state-dir`), the core's tests [`MemStore`].

use super::model::Model;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The file in the state directory.
pub const STATE_FILE: &str = "ipvs-table.json";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The saved table exists but cannot be read.
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The saved table is not a table (hand-edited, or from an incompatible rvs).
    #[error("{}: {source}", path.display())]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// Writing the new table failed; the old one is still in place.
    #[error("cannot save the table in {}: {source}", dir.display())]
    Save {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// Where the table is kept. `save` is all or nothing: after a crash at any point the store
/// holds either the old table or the new one.
pub trait Store: Send {
    /// The saved table; `None` when nothing was saved yet.
    fn load(&self) -> Result<Option<Model>, StoreError>;
    fn save(&mut self, model: &Model) -> Result<(), StoreError>;
}

/// No state directory: the table lives as long as the process.
pub struct NoStore;

impl Store for NoStore {
    fn load(&self) -> Result<Option<Model>, StoreError> {
        Ok(None)
    }

    fn save(&mut self, _: &Model) -> Result<(), StoreError> {
        Ok(())
    }
}

/// `--state-dir DIR`: the table as JSON in `DIR/ipvs-table.json`.
pub struct DirStore {
    dir: PathBuf,
}

impl DirStore {
    pub fn new(dir: PathBuf) -> DirStore {
        DirStore { dir }
    }
}

impl Store for DirStore {
    fn load(&self) -> Result<Option<Model>, StoreError> {
        let path = self.dir.join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| StoreError::Parse { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Read { path, source }),
        }
    }

    fn save(&mut self, model: &Model) -> Result<(), StoreError> {
        write_atomically(&self.dir, model).map_err(|source| StoreError::Save {
            dir: self.dir.clone(),
            source,
        })
    }
}

/// Write, fsync, rename, fsync the directory.
fn write_atomically(dir: &Path, m: &Model) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{STATE_FILE}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec(m).map_err(std::io::Error::other)?)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, dir.join(STATE_FILE))?;
    std::fs::File::open(dir)?.sync_all()
}

/// A store in memory whose saves can be made to fail, for tests. Clones share the table.
#[derive(Clone, Default)]
pub struct MemStore {
    saved: Arc<Mutex<Option<Model>>>,
    fail: Arc<AtomicBool>,
}

impl MemStore {
    /// The table last saved.
    pub fn saved(&self) -> Option<Model> {
        self.saved.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// From now on, saves fail (as a full disk would) or succeed again.
    pub fn set_failing(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }
}

impl Store for MemStore {
    fn load(&self) -> Result<Option<Model>, StoreError> {
        Ok(self.saved())
    }

    fn save(&mut self, model: &Model) -> Result<(), StoreError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Save {
                dir: PathBuf::from("(memory)"),
                source: std::io::Error::from(std::io::ErrorKind::StorageFull),
            });
        }
        *self.saved.lock().unwrap_or_else(|p| p.into_inner()) = Some(model.clone());
        Ok(())
    }
}
