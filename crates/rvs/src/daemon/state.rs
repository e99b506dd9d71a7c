//! The daemon's state: the operator's table ([`Model`]), the engine that runs it, and the
//! state directory that keeps it across restarts.
//!
//! Every change is a transaction: the commands are applied to a copy of the model, the copy
//! is validated as a whole engine snapshot, saved (write, fsync, rename), and only then
//! swapped in. A refusal at any step leaves the running table and the saved one as they were.

use super::model::{engine_key, Model};
use arc_swap::ArcSwap;
use rvs_ctl::cmd::{self, Command};
use rvs_ctl::format::{ConnEntry, DestEntry, Rates, ServiceEntry, Stats, Table};
use rvs_ctl::proto::{RequestBody, Response};
use rvs_engine::{Config, Engine, EngineOptions, NetView, StaticNet};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// `IP Virtual Server version 1.2.1 (size=4096)`: the conn hash size ipvsadm reports.
const TABLE_SIZE: u32 = 4096;
const STATE_FILE: &str = "ipvs-table.json";

pub struct Daemon {
    model: Model,
    generation: u64,
    shared: Arc<ArcSwap<Config>>,
    engine: Arc<Mutex<Engine>>,
    state_dir: Option<PathBuf>,
    clock: Instant,
    datapath: Option<Arc<rvs_io::DataPath>>,
    check_status: Option<StatusFn>,
}

/// What `rvsadm --check-status` prints, provided by the keepalived runtime.
pub type StatusFn = Box<dyn Fn() -> Vec<String> + Send>;

impl Daemon {
    /// Start from the saved table in `state_dir`, if there is one.
    pub fn new(state_dir: Option<PathBuf>, conn_capacity: u32) -> anyhow::Result<Daemon> {
        let d = Self::with_parts(
            state_dir,
            conn_capacity,
            Arc::new(StaticNet::default()),
            None,
            Instant::now(),
        )?;
        Ok(d.0)
    }

    /// As [`Daemon::new`], with the data path's view of routes and neighbours, the conn
    /// tables in `mem` (shared memory a predecessor may have left: its conns are adopted),
    /// and the clock the data path shares.
    pub fn with_parts(
        state_dir: Option<PathBuf>,
        conn_capacity: u32,
        net: Arc<dyn NetView>,
        mem: Option<rvs_engine::ConnMemory>,
        clock: Instant,
    ) -> anyhow::Result<(Daemon, rvs_engine::Adopted)> {
        let model = match &state_dir {
            Some(dir) => load(dir)?,
            None => Model::default(),
        };
        let cfg = model
            .to_config(1)
            .map_err(|r| anyhow::anyhow!("saved table is invalid: {}", r.message))?;
        let shared = Arc::new(ArcSwap::from_pointee(cfg));
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
            ^ std::process::id() as u64;
        let opts = EngineOptions {
            conn_capacity_v4: conn_capacity,
            conn_capacity_v6: (conn_capacity / 4).max(1024),
            seed,
        };
        let (engine, adopted) = match mem {
            Some(mem) => Engine::with_conn_memory(shared.clone(), net, opts, mem),
            None => (
                Engine::new(shared.clone(), net, opts),
                rvs_engine::Adopted::default(),
            ),
        };
        let d = Daemon {
            model,
            generation: 1,
            shared,
            engine: Arc::new(Mutex::new(engine)),
            state_dir,
            clock,
            datapath: None,
            check_status: None,
        };
        Ok((d, adopted))
    }

    /// The snapshot cell the engine reads.
    pub fn shared_config(&self) -> Arc<ArcSwap<Config>> {
        self.shared.clone()
    }

    /// The current config snapshot.
    pub fn config(&self) -> Arc<Config> {
        self.shared.load_full()
    }

    /// From now on, every table change also re-steers the data path.
    pub fn set_datapath(&mut self, dp: Arc<rvs_io::DataPath>) {
        self.datapath = Some(dp);
    }

    fn io_stats(&self) -> Vec<(String, String, u64)> {
        let mut rows = match &self.datapath {
            Some(dp) => dp.io_stats(),
            None => Vec::new(),
        };
        let e = self.engine.lock().unwrap_or_else(|p| p.into_inner());
        let c = e.counters();
        for (n, v) in [
            ("rx", c.rx),
            ("tx", c.tx),
            ("tx_pending", c.tx_pending),
            ("pass", c.pass),
            ("conns_new", c.conns_new),
            ("local_answers", c.local_answers),
            ("icmp_sent", c.icmp_sent),
        ] {
            rows.push(("engine".into(), n.into(), v));
        }
        for r in rvs_engine::DropReason::ALL {
            rows.push(("engine drops".into(), r.name().into(), c.drop_count(*r)));
        }
        rows
    }

    /// The engine, for the data path and the timer thread.
    pub fn engine(&self) -> Arc<Mutex<Engine>> {
        self.engine.clone()
    }

    /// The instant the daemon's clock counts from: every caller of the engine must use it,
    /// so that `now` never goes backwards between the timer thread and the control socket.
    pub fn clock(&self) -> Instant {
        self.clock
    }

    /// Milliseconds on the daemon's monotonic clock (never 0).
    pub fn now_ms(&self) -> u64 {
        self.clock.elapsed().as_millis() as u64 + 1
    }

    pub fn handle(&mut self, body: RequestBody) -> Response {
        match body {
            RequestBody::Apply(cmds) => self.apply(&cmds),
            RequestBody::GetTable => Response::Table(self.table()),
            RequestBody::GetConns => Response::Conns(self.conns()),
            RequestBody::GetTimeouts => Response::Timeouts(self.model.timeouts()),
            RequestBody::GetDaemons => Response::Daemons(self.model.daemons.clone()),
            RequestBody::GetIoStats => Response::IoStats(self.io_stats()),
            RequestBody::GetCheckStatus => {
                Response::CheckStatus(self.check_status.as_ref().map(|f| f()).unwrap_or_default())
            }
        }
    }

    /// Apply commands as one transaction, as a control request would (keepalived's
    /// configuration and health checker use this path too).
    pub fn apply_commands(&mut self, cmds: &[Command]) -> Response {
        self.apply(cmds)
    }

    pub fn set_check_status(&mut self, f: StatusFn) {
        self.check_status = Some(f);
    }

    /// The operator's table as it stands.
    pub fn model(&self) -> &Model {
        &self.model
    }

    fn apply(&mut self, cmds: &[Command]) -> Response {
        let mut next = self.model.clone();
        for (index, c) in cmds.iter().enumerate() {
            if let Err(r) = next.apply(c) {
                return Response::Error {
                    index,
                    errno: r.errno,
                    message: r.message,
                };
            }
        }
        let last = cmds.len().saturating_sub(1);
        let cfg = match next.to_config(self.generation + 1) {
            Ok(cfg) => cfg,
            Err(r) => {
                return Response::Error {
                    index: last,
                    errno: r.errno,
                    message: r.message,
                }
            }
        };
        if next != self.model {
            if let Some(dir) = &self.state_dir {
                if let Err(e) = save(dir, &next) {
                    return Response::Error {
                        index: last,
                        errno: None,
                        message: format!("cannot save the table in {}: {e}", dir.display()),
                    };
                }
            }
            self.generation += 1;
            let cfg = Arc::new(cfg);
            self.shared.store(cfg.clone());
            self.model = next;
            if let Some(dp) = &self.datapath {
                // The table is committed either way; a failed re-steer is retried each second.
                if let Err(e) = dp.sync(&cfg) {
                    tracing::error!("data path steering update failed: {e}");
                }
            }
            tracing::info!(
                generation = self.generation,
                commands = cmds.len(),
                "table changed"
            );
        }
        let zeroes: Vec<_> = cmds
            .iter()
            .filter_map(|c| match c {
                Command::Zero(k) => Some(k.map(|k| engine_key(&k))),
                _ => None,
            })
            .collect();
        if !zeroes.is_empty() {
            let now = self.now_ms();
            let mut e = self.engine.lock().unwrap_or_else(|p| p.into_inner());
            e.poll(now);
            for k in zeroes {
                e.zero(k.as_ref());
            }
        }
        Response::Ok
    }

    fn table(&self) -> Table {
        let now = self.now_ms();
        let mut e = self.engine.lock().unwrap_or_else(|p| p.into_inner());
        // Polling first makes the engine pick up the latest snapshot and settle expiries.
        e.poll(now);
        let status: HashMap<_, _> = e.services().into_iter().map(|s| (s.cfg.key, s)).collect();
        let services = self
            .model
            .services
            .iter()
            .map(|s| {
                let st = status.get(&engine_key(&s.spec.key));
                let dests = s
                    .dests
                    .iter()
                    .map(|d| {
                        let ds = st.and_then(|st| st.dests.iter().find(|x| x.id.0 == d.id));
                        DestEntry {
                            spec: d.spec.clone(),
                            active_conns: ds.map_or(0, |x| x.activeconns),
                            inact_conns: ds.map_or(0, |x| x.inactconns),
                            persist_conns: ds.map_or(0, |x| x.persistconns),
                            stats: ds.map_or(Stats::default(), |x| stats(&x.stats)),
                            rates: ds.map_or(Rates::default(), |x| rates(&x.rates)),
                        }
                    })
                    .collect();
                ServiceEntry {
                    spec: s.spec.clone(),
                    stats: st.map_or(Stats::default(), |x| stats(&x.stats)),
                    rates: st.map_or(Rates::default(), |x| rates(&x.rates)),
                    dests,
                }
            })
            .collect();
        Table {
            size: TABLE_SIZE,
            services,
        }
    }

    fn conns(&self) -> Vec<ConnEntry> {
        let now = self.now_ms();
        let mut e = self.engine.lock().unwrap_or_else(|p| p.into_inner());
        e.poll(now);
        e.conns(now)
            .into_iter()
            .map(|c| {
                let protocol = match c.proto {
                    6 => Some(cmd::Protocol::Tcp),
                    17 => Some(cmd::Protocol::Udp),
                    132 => Some(cmd::Protocol::Sctp),
                    _ => None,
                };
                let state = if c.template {
                    "NONE".to_string()
                } else {
                    rvs_proto::Proto::from_number(c.proto)
                        .map_or("NONE", |p| p.state_name(c.state))
                        .to_string()
                };
                ConnEntry {
                    protocol,
                    caddr: c.caddr,
                    cport: c.cport,
                    vaddr: c.vaddr,
                    vport: c.vport,
                    daddr: c.daddr,
                    dport: c.dport,
                    state,
                    expires: c.expires_ms / 1000,
                    pe: None,
                }
            })
            .collect()
    }
}

fn stats(c: &rvs_engine::stats::Counters) -> Stats {
    Stats {
        conns: c.conns,
        inpkts: c.inpkts,
        outpkts: c.outpkts,
        inbytes: c.inbytes,
        outbytes: c.outbytes,
    }
}

fn rates(r: &rvs_engine::stats::Rates) -> Rates {
    Rates {
        cps: r.cps,
        inpps: r.inpps,
        outpps: r.outpps,
        inbps: r.inbps,
        outbps: r.outbps,
    }
}

fn load(dir: &Path) -> anyhow::Result<Model> {
    let path = dir.join(STATE_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Model::default()),
        Err(e) => Err(anyhow::anyhow!("{}: {e}", path.display())),
    }
}

/// Write, fsync, rename, fsync the directory: after a crash at any point the file holds
/// either the old table or the new one.
fn save(dir: &Path, m: &Model) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{STATE_FILE}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec(m).map_err(std::io::Error::other)?)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, dir.join(STATE_FILE))?;
    std::fs::File::open(dir)?.sync_all()
}
