//! rvsd's event loop: one thread owns the [`Core`] and every I/O handle its actions need
//! (the data path, the health checker, the VRRP runner), and is the only one to call it.
//! Control clients, the signal thread, the checker and the VRRP runner send it [`Event`]s
//! over one channel; it sleeps until the next event or the core's next deadline, whichever
//! comes first.
//!
//! Nothing here decides anything: it turns the core's [`Action`]s into I/O.

use super::core::{Action, Core, Event, KaError, Reply};
use super::keepalived;
use super::txn::TxnError;
use rvs_check::runner::Checker;
use rvs_io::vrrp::{VrrpEvent, VrrpRunner};
use rvs_vrrp::VrrpConfig;
use std::collections::VecDeque;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Where a control request's reply goes: its client thread waits on the other end.
pub type ReplyTx = mpsc::SyncSender<Result<Reply, TxnError>>;

/// The events rvsd's loop receives.
pub type LoopEvent = Event<ReplyTx>;

pub struct EventLoop {
    core: Core,
    tx: mpsc::Sender<LoopEvent>,
    rx: mpsc::Receiver<LoopEvent>,
    /// The clock the data path's workers share: `now` never goes backwards between them.
    clock: Instant,
    datapath: Option<rvs_io::DataPath>,
    checker: Option<Checker>,
    vrrp: Option<VrrpRunner>,
    /// Why the configured VRRP is not running (a reload's start failed), for
    /// `--vrrp-status`.
    vrrp_error: Option<String>,
    /// Set once [`EventLoop::start`] has loaded the configuration: a VRRP runner that
    /// cannot start stops rvsd before that, and is an error in the log after.
    started: bool,
}

impl EventLoop {
    /// A loop without a data path yet: rvsd loads `--config` ([`EventLoop::start`]) before
    /// it starts the data path, so that VRRP's VIPs are marked not owned before the data
    /// path's first steering and announcements, then attaches it.
    pub fn new(core: Core, clock: Instant) -> EventLoop {
        let (tx, rx) = mpsc::channel();
        EventLoop {
            core,
            tx,
            rx,
            clock,
            datapath: None,
            checker: None,
            vrrp: None,
            vrrp_error: None,
            started: false,
        }
    }

    /// The core, for starting the data path on its engine and table.
    pub fn core(&self) -> &Core {
        &self.core
    }

    /// The data path serves from now on; the core's next tick re-steers it.
    pub fn attach(&mut self, datapath: rvs_io::DataPath) {
        self.datapath = Some(datapath);
    }

    /// rvsd gives up before serving (the data path would not start): what runs stops as
    /// on a clean stop.
    pub fn abort(&mut self) {
        let _ = self.finish(Ok(()));
    }

    /// Where to send events (the control server, the signal thread).
    pub fn sender(&self) -> mpsc::Sender<LoopEvent> {
        self.tx.clone()
    }

    /// Milliseconds on the daemon's clock (never 0).
    fn now(&self) -> u64 {
        self.clock.elapsed().as_millis() as u64 + 1
    }

    /// Load `--config`, if any, before serving. On an error the data path is stopped and
    /// rvsd must exit with it.
    pub fn start(&mut self) -> Result<(), KaError> {
        let first = self.core.start();
        let exit = self.execute(first);
        self.started = true;
        match exit {
            Some(exit) => self.finish(exit),
            None => Ok(()),
        }
    }

    /// Run until a signal stops rvsd.
    pub fn run(mut self) -> Result<(), KaError> {
        loop {
            let now = self.now();
            let due = self.core.poll_timeout(now);
            let event = if now >= due {
                // While the engine owes sweeping, timers come due back to back: a queued
                // request goes first, so a long sweep never delays the operator.
                self.rx.try_recv().unwrap_or(Event::Timer)
            } else {
                match self.rx.recv_timeout(Duration::from_millis(due - now)) {
                    Ok(e) => e,
                    Err(mpsc::RecvTimeoutError::Timeout) => Event::Timer,
                    // Unreachable: the loop holds a sender itself.
                    Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
                }
            };
            if let Event::Vrrp(VrrpEvent::Failed { reason }) = &event {
                self.vrrp_failed(reason);
            }
            let actions = self.core.handle(event, self.now());
            if let Some(exit) = self.execute(actions) {
                return self.finish(exit);
            }
        }
    }

    /// The runner's thread died (its VIPs released): it is gone, and `--vrrp-status` says
    /// why until a reload starts it again.
    fn vrrp_failed(&mut self, reason: &str) {
        self.vrrp = None;
        self.vrrp_error = Some(reason.to_string());
    }

    /// Do what the core asks. Returns the exit status once it asks to stop.
    fn execute(&mut self, actions: Vec<Action<ReplyTx>>) -> Option<Result<(), KaError>> {
        let mut queue = VecDeque::from(actions);
        let mut exit = None;
        while let Some(a) = queue.pop_front() {
            match a {
                Action::Reply { to, result } => {
                    // A client that went away needs no answer.
                    let _ = to.send(result);
                }
                Action::ReplyIoStats { to, engine } => {
                    let mut rows = match &self.datapath {
                        Some(dp) => dp.io_stats(),
                        None => Vec::new(),
                    };
                    rows.extend(engine);
                    let _ = to.send(Ok(Reply::IoStats(rows)));
                }
                Action::ReplyCheckStatus { to } => {
                    let lines = self.checker.as_ref().map(keepalived::status);
                    let _ = to.send(Ok(Reply::CheckStatus(lines.unwrap_or_default())));
                }
                Action::Resteer(cfg) => {
                    if let Some(dp) = &self.datapath {
                        // The table is committed either way; the next tick retries.
                        if let Err(e) = dp.sync(&cfg) {
                            tracing::warn!("data path steering update failed: {e}");
                        }
                    }
                }
                Action::RunScript { script, args } => keepalived::run_notify(&script, &args),
                Action::ReadConfig(path) => {
                    let read = keepalived::load(&path);
                    let now = self.now();
                    queue.extend(self.core.handle(Event::ConfigRead(read), now));
                }
                Action::StartChecker(targets) => {
                    let tx = self.tx.clone();
                    self.checker = Some(keepalived::start_checker(&targets, move |a| {
                        let _ = tx.send(Event::Check(a));
                    }));
                }
                Action::UpdateChecker(targets) => {
                    if let Some(c) = &self.checker {
                        keepalived::update_checker(c, &targets);
                    }
                }
                Action::StopChecker => {
                    if let Some(c) = self.checker.take() {
                        c.stop();
                    }
                }
                Action::StartVrrp(cfg) => {
                    if let Err(e) = self.start_vrrp(cfg) {
                        exit = Some(Err(e));
                    }
                }
                Action::ReconfigureVrrp(cfg) => match &self.vrrp {
                    Some(r) => {
                        if let Err(e) = r.reconfigure(cfg) {
                            tracing::error!("VRRP reload refused, its running instances stay: {e}");
                        }
                    }
                    // The last start failed: this reload is its next chance.
                    None => {
                        if let Err(e) = self.start_vrrp(cfg) {
                            exit = Some(Err(e));
                        }
                    }
                },
                Action::StopVrrp => self.stop_vrrp(),
                Action::OwnVips(addrs) => {
                    let vips = self.core.vip_ownership();
                    for a in addrs {
                        vips.set_owned(a, true);
                    }
                }
                Action::ReplyVrrpStatus { to } => {
                    let reply = match (&self.vrrp, &self.vrrp_error) {
                        // Bounded (rvs_io::vrrp::STATUS_WAIT): the loop serves everyone else.
                        (Some(r), _) => match r.try_status() {
                            Ok(st) => Reply::VrrpStatus(rvs_vrrp::status_lines(&st, r.now())),
                            Err(e) => Reply::Unavailable(format!("VRRP status: {e}")),
                        },
                        (None, Some(e)) => Reply::Unavailable(format!("VRRP is not running: {e}")),
                        (None, None) => Reply::VrrpStatus(Vec::new()),
                    };
                    let _ = to.send(Ok(reply));
                }
                Action::Exit { error } => {
                    exit = Some(match error {
                        Some(e) => Err(e),
                        None => Ok(()),
                    })
                }
            }
        }
        exit
    }

    /// Start the runner; its transitions come back into the loop's channel. A failure stops
    /// rvsd at startup (the operator asked for VRRP and would not get it); on a reload the
    /// running table stays and `--vrrp-status` says why VRRP is not running.
    fn start_vrrp(&mut self, cfg: VrrpConfig) -> Result<(), KaError> {
        let tx = self.tx.clone();
        let on_event = move |e| {
            let _ = tx.send(Event::Vrrp(e));
        };
        match VrrpRunner::start(cfg, self.core.vip_ownership(), on_event) {
            Ok(r) => {
                self.vrrp = Some(r);
                self.vrrp_error = None;
                Ok(())
            }
            Err(source) if !self.started => Err(KaError::Vrrp {
                path: self.core.config_path().unwrap_or_default(),
                source,
            }),
            Err(e) => {
                tracing::error!("VRRP could not start: {e}");
                self.vrrp_error = Some(e.to_string());
                Ok(())
            }
        }
    }

    /// MASTERs send priority 0 and release their VIPs (bounded by the runner).
    fn stop_vrrp(&mut self) {
        if let Some(r) = self.vrrp.take() {
            r.stop();
        }
        self.vrrp_error = None;
    }

    /// The last of a stop: the checker's final actions (omega's down notifiers) are in the
    /// channel already; run them, then detach the data path. Requests still queued get no
    /// reply (their clients see the socket close).
    fn finish(&mut self, exit: Result<(), KaError>) -> Result<(), KaError> {
        // After a clean stop's StopVrrp/StopChecker these are gone already; an exit on an
        // error at startup stops them here. VRRP before the data path either way, so a
        // MASTER's VIPs are handed over while they are still served.
        self.stop_vrrp();
        if let Some(c) = self.checker.take() {
            c.stop();
        }
        while let Ok(e) = self.rx.try_recv() {
            if let Event::Check(a) = e {
                let actions = self.core.handle(Event::Check(a), self.now());
                self.execute(actions);
            }
        }
        // A clean stop detaches XDP; a killed rvsd leaves it pinned for the next one.
        if let Some(dp) = self.datapath.take() {
            dp.stop();
        }
        exit
    }
}
