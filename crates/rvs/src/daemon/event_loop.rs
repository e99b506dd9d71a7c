//! rvsd's event loop: one thread owns the [`Core`] and every I/O handle its actions need
//! (the data path, the health checker), and is the only one to call it. Control clients,
//! the signal thread and the checker send it [`Event`]s over one channel; it sleeps until
//! the next event or the core's next deadline, whichever comes first.
//!
//! Nothing here decides anything: it turns the core's [`Action`]s into I/O.

use super::core::{Action, Core, Event, KaError, Reply};
use super::keepalived;
use super::txn::TxnError;
use rvs_check::runner::Checker;
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
}

impl EventLoop {
    pub fn new(core: Core, clock: Instant, datapath: Option<rvs_io::DataPath>) -> EventLoop {
        let (tx, rx) = mpsc::channel();
        EventLoop {
            core,
            tx,
            rx,
            clock,
            datapath,
            checker: None,
        }
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
        match self.execute(first) {
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
            let actions = self.core.handle(event, self.now());
            if let Some(exit) = self.execute(actions) {
                return self.finish(exit);
            }
        }
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

    /// The last of a stop: the checker's final actions (omega's down notifiers) are in the
    /// channel already; run them, then detach the data path. Requests still queued get no
    /// reply (their clients see the socket close).
    fn finish(&mut self, exit: Result<(), KaError>) -> Result<(), KaError> {
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
