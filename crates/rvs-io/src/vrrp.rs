//! The VRRP runner: drives `rvs_vrrp::Router` on a thread of its own (raw IP-protocol-112
//! sockets, multicast or unicast, the VIPs on interfaces or in the engine's ownership
//! overlay, gratuitous ARP / unsolicited NA, link watching, track scripts and files,
//! notify scripts). Adverts never wait behind the data path or the daemon's loop.
//!
//! ```text
//!  daemon ──Cmd (mpsc + eventfd)──▶ rvs-vrrp thread (SCHED_FIFO + RESET_ON_FORK when allowed)
//!                                   poll(2): eventfd, one raw socket per (interface, family)
//!                                   timeout = Router::poll_timeout on its own ms clock
//!                                      │ Router::{handle, poll} ─▶ Actions, executed in order
//!                                      │ (VIP releases of a batch first of all)
//!  rvs-vrrp-nl thread (rtnetlink) ◀────┤ dumps; VIP add/remove queued, not waited for;
//!                                      │ link events ─▶ Cmd::Links
//!  script waiter threads ◀─────────────┘ spawn; exit status ─▶ Cmd::Script
//! ```

pub mod announce;
mod netlink;
pub mod script;
pub mod sock;

use announce::Announcer;
use netlink::{LinkInfo, NetState, Netlink};
use rustix::event::{PollFd, PollFlags};
use rvs_engine::VipOwnership;
use rvs_vrrp::{
    Action, Input, InstanceConfig, InstanceStatus, Router, State, Vip, VipOwner, VrrpConfig,
};
use script::Users;
use sock::VrrpSocket;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// What the runner tells the daemon (from the runner's thread, through the callback given
/// to [`VrrpRunner::start`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VrrpEvent {
    /// An instance changed state; its VIPs' ownership already follows (the daemon
    /// re-steers the data path so ARP/NS steering matches).
    Transition {
        instance: String,
        from: State,
        to: State,
        reason: String,
    },
    /// The runner's thread failed (a bug: it panicked). Every instance's VIPs were
    /// released on the way out (a dead router must not keep them without advertising);
    /// no adverts go out until the runner is started again (a reload).
    Failed { reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum VrrpIoError {
    #[error("vrrp_instance {instance}: interface {iface:?}: {message}")]
    Interface {
        instance: String,
        iface: String,
        message: String,
    },
    #[error("VRRP socket: {0}")]
    Socket(String),
}

/// SCHED_FIFO priority of the advert thread: the lowest real-time level already runs ahead
/// of every normal thread (the forwarding workers), and stays below the kernel's own
/// real-time threads.
const RT_PRIORITY: i32 = 1;
/// How long `start` and `reconfigure` wait for the thread.
const CMD_WAIT: Duration = Duration::from_secs(10);
/// How long a clean stop may take in all (the priority-0 adverts go out within
/// milliseconds; the rest is the kernel's address removals): rvsd's exit is bounded by it.
const STOP_WAIT: Duration = Duration::from_millis(1500);
/// How long a status request waits for the thread (the daemon's loop waits with it).
pub const STATUS_WAIT: Duration = Duration::from_secs(1);
/// How long dropping a runner waits for its thread to end.
const QUIT_WAIT: Duration = Duration::from_secs(1);
/// Datagrams read from one socket per wake-up before the timers get their turn.
const RX_BATCH: usize = 64;
/// Datagrams read per [`RX_WINDOW`] at most, all sockets together (25,600/s: hundreds of
/// times what the instances of any real network send). A proto-112 flood past it waits in
/// the socket buffers (the kernel drops what overflows) instead of keeping this real-time
/// thread busy ahead of the forwarding workers.
const RX_BUDGET: usize = 256;
const RX_WINDOW: Duration = Duration::from_millis(10);
/// One warning per key this often (a link down makes every advert fail to send).
const WARN_EVERY: Duration = Duration::from_secs(60);

enum Cmd {
    Status(mpsc::Sender<Vec<InstanceStatus>>),
    /// With the new configuration's script users, resolved on the caller's thread.
    Reconfigure(
        Box<(VrrpConfig, Users)>,
        mpsc::Sender<Result<(), VrrpIoError>>,
    ),
    Stop(mpsc::Sender<()>, Instant),
    /// The runner was dropped: end without the handover.
    Quit,
    Script {
        name: String,
        ok: bool,
    },
    Links(Vec<LinkInfo>),
}

/// The command channel and the eventfd that wakes the thread's poll(2).
#[derive(Clone)]
struct CmdTx {
    tx: mpsc::Sender<Cmd>,
    wake: Arc<OwnedFd>,
}

impl CmdTx {
    fn send(&self, c: Cmd) -> bool {
        let sent = self.tx.send(c).is_ok();
        let _ = rustix::io::write(&*self.wake, &1u64.to_ne_bytes());
        sent
    }
}

/// A running VRRP subsystem. Dropping it without [`VrrpRunner::stop`] stops the thread
/// without the priority-0 handover (as a crash would).
pub struct VrrpRunner {
    cmd: CmdTx,
    clock: Instant,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Disconnected once the thread has ended (its sender drops with the thread): joins
    /// wait on it with a deadline, never unbounded.
    ended: mpsc::Receiver<()>,
}

impl VrrpRunner {
    /// Open the sockets, resolve the advert sources, start the thread and the machines
    /// (`Router::start`). Instances' VIPs are marked not owned in `vips` before this
    /// returns unless the instance starts as MASTER (address owner), so a standby is silent
    /// from its first moment.
    pub fn start(
        cfg: VrrpConfig,
        vips: VipOwnership,
        on_event: impl Fn(VrrpEvent) + Send + 'static,
    ) -> Result<VrrpRunner, VrrpIoError> {
        let wake = rustix::event::eventfd(
            0,
            rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
        )
        .map_err(|e| VrrpIoError::Socket(format!("eventfd: {e}")))?;
        let (tx, rx) = mpsc::channel();
        let cmd = CmdTx {
            tx,
            wake: Arc::new(wake),
        };
        // One clock for the thread and `VrrpRunner::now`: the transitions' ages read right.
        let clock = Instant::now();
        let links_tx = cmd.clone();
        let nl = Netlink::start(move |links| {
            links_tx.send(Cmd::Links(links));
        })
        .map_err(VrrpIoError::Socket)?;
        let st = nl.dump().map_err(VrrpIoError::Socket)?;
        let plan = plan(&cfg, &st)?;
        let socks = open_sockets(&plan.sockets, &mut Vec::new())?;
        // NSS lookups here, not on the advert thread.
        let users = Users::resolve(&cfg);
        let mut io = Io::new(
            cfg,
            &plan,
            &st,
            vips,
            nl,
            socks,
            Box::new(on_event),
            cmd.clone(),
            clock,
        );
        io.users = users;
        // A previous run may have died as MASTER and left its addresses behind
        // (keepalived cleans up the same way); a non-owner starts silent.
        let backups: Vec<InstanceConfig> = io
            .cfg
            .instances
            .iter()
            .filter(|i| i.priority != 255)
            .cloned()
            .collect();
        for inst in &backups {
            io.release(inst);
        }
        if let Err(e) = io.nl.flush(CMD_WAIT) {
            tracing::warn!("VRRP: leftover VIPs: {e}");
        }
        let (ready_tx, ready_rx) = mpsc::channel::<()>();
        let (ended_tx, ended) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("rvs-vrrp".into())
            .spawn(move || {
                let _ended = ended_tx;
                guarded(&mut io, move |io| {
                    realtime();
                    io.first_links();
                    let now = io.now();
                    let first = io.router.start(now);
                    io.run(first);
                    io.recheck_links(true);
                    let _ = ready_tx.send(());
                    io.serve(rx);
                });
            })
            .map_err(|e| VrrpIoError::Socket(format!("thread: {e}")))?;
        if ready_rx.recv_timeout(CMD_WAIT).is_err() {
            let _ = cmd.send(Cmd::Quit);
            return Err(VrrpIoError::Socket(
                "the VRRP thread did not start (see the log)".into(),
            ));
        }
        Ok(VrrpRunner {
            cmd,
            clock,
            thread: Some(thread),
            ended,
        })
    }

    /// A reload (`Router::reconfigure`): unchanged instances keep their state.
    pub fn reconfigure(&self, cfg: VrrpConfig) -> Result<(), VrrpIoError> {
        let (reply, rx) = mpsc::channel();
        let users = Users::resolve(&cfg);
        self.cmd
            .send(Cmd::Reconfigure(Box::new((cfg, users)), reply));
        rx.recv_timeout(CMD_WAIT)
            .map_err(|_| VrrpIoError::Socket("the VRRP thread does not answer".into()))?
    }

    /// The operator's view, taken on the runner's thread (empty if the thread is gone or
    /// does not answer within [`STATUS_WAIT`]).
    pub fn status(&self) -> Vec<InstanceStatus> {
        self.try_status().unwrap_or_default()
    }

    /// [`VrrpRunner::status`], saying why there is none: the daemon's loop waits at most
    /// [`STATUS_WAIT`] on it, not the 10 s a start may take.
    pub fn try_status(&self) -> Result<Vec<InstanceStatus>, VrrpIoError> {
        let (reply, rx) = mpsc::channel();
        self.cmd.send(Cmd::Status(reply));
        rx.recv_timeout(STATUS_WAIT).map_err(|e| {
            VrrpIoError::Socket(match e {
                mpsc::RecvTimeoutError::Timeout => format!(
                    "the VRRP thread did not answer within {} ms",
                    STATUS_WAIT.as_millis()
                ),
                mpsc::RecvTimeoutError::Disconnected => "the VRRP thread is gone".into(),
            })
        })
    }

    /// Now on the runner's clock, the one [`InstanceStatus`]'s transitions are stamped on
    /// (`rvs_vrrp::status_lines` needs it for their ages).
    pub fn now(&self) -> u64 {
        self.clock.elapsed().as_millis() as u64
    }

    /// A clean stop: MASTERs go silent (ownership overlay), send priority 0 right after,
    /// then their kernel addresses go; notify_stop runs. Returns within [`STOP_WAIT`] (the
    /// thread is left behind, with a warning, if the kernel does not answer by then).
    pub fn stop(mut self) {
        let started = Instant::now();
        let deadline = started + STOP_WAIT;
        let (reply, rx) = mpsc::channel();
        self.cmd.send(Cmd::Stop(reply, deadline));
        match rx.recv_timeout(STOP_WAIT) {
            Ok(()) => {
                self.join(deadline.saturating_duration_since(Instant::now()));
                tracing::info!("VRRP stopped in {} ms", started.elapsed().as_millis());
            }
            Err(_) => {
                tracing::warn!(
                    "VRRP: the thread did not finish its stop within {} ms; left behind",
                    STOP_WAIT.as_millis()
                );
                self.thread = None;
            }
        }
    }

    /// Joins the thread if it ends within `wait`; otherwise leaves it behind.
    fn join(&mut self, wait: Duration) {
        let Some(t) = self.thread.take() else {
            return;
        };
        match self.ended.recv_timeout(wait) {
            Err(mpsc::RecvTimeoutError::Timeout) => {
                tracing::warn!("VRRP: the thread did not end in time; left behind");
            }
            _ => {
                let _ = t.join();
            }
        }
    }
}

impl Drop for VrrpRunner {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.cmd.send(Cmd::Quit);
            self.join(QUIT_WAIT);
        }
    }
}

/// Checks `cfg` against the system as [`VrrpRunner::start`] and `reconfigure` will: every
/// interface exists and every instance without `mcast_src_ip`/`unicast_src_ip` has an
/// address to send from. The daemon calls it while reading the file, so a bad VRRP part
/// refuses the whole file before anything changes (at start and on reload alike).
pub fn check(cfg: &VrrpConfig) -> Result<(), VrrpIoError> {
    let nl = Netlink::start(|_| {}).map_err(VrrpIoError::Socket)?;
    let st = nl.dump().map_err(VrrpIoError::Socket)?;
    plan(cfg, &st).map(|_| ())
}

/// Asks for SCHED_FIFO so that forwarding load cannot delay adverts; says so once when
/// refused (no CAP_SYS_NICE, or a container without real-time budget).
///
/// With SCHED_RESET_ON_FORK: every task this thread creates (notify and track scripts,
/// their waiter threads) starts SCHED_OTHER, so a user's script never runs real-time (a
/// busy script would otherwise starve the forwarding workers, or this very thread).
fn realtime() {
    let param = libc::sched_param {
        sched_priority: RT_PRIORITY,
    };
    // SAFETY: tid 0 is the calling thread and `param` a valid sched_param.
    let r = unsafe {
        libc::sched_setscheduler(0, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, &param)
    };
    if r == 0 {
        tracing::debug!("VRRP thread runs SCHED_FIFO {RT_PRIORITY} (reset on fork)");
    } else {
        tracing::warn!(
            "VRRP: real-time priority (SCHED_FIFO {RT_PRIORITY}) refused: {}; adverts run at normal priority and heavy forwarding load may delay them",
            std::io::Error::last_os_error()
        );
    }
}

/// What a configuration needs of the system, checked before anything changes.
struct Plan {
    resolved: Vec<(String, IpAddr)>,
    /// (interface, index, IPv6, multicast)
    sockets: Vec<(String, u32, bool, bool)>,
    watched: HashSet<String>,
}

fn plan(cfg: &VrrpConfig, st: &NetState) -> Result<Plan, VrrpIoError> {
    let mut resolved = Vec::new();
    let mut sockets: Vec<(String, u32, bool, bool)> = Vec::new();
    let mut watched = HashSet::new();
    for inst in &cfg.instances {
        let err = |iface: &str, message: String| VrrpIoError::Interface {
            instance: inst.name.clone(),
            iface: iface.to_string(),
            message,
        };
        let link = st
            .link(&inst.interface)
            .ok_or_else(|| err(&inst.interface, "no such interface".into()))?;
        for v in inst.vips.iter().chain(&inst.vips_excluded) {
            if let Some(dev) = &v.dev {
                if st.link(dev).is_none() {
                    return Err(err(dev, format!("no such interface (VIP {})", v.addr)));
                }
            }
        }
        if inst.src.is_none() {
            let src = st.default_src(link.index, inst.ipv6).ok_or_else(|| {
                err(
                    &inst.interface,
                    if inst.ipv6 {
                        "no IPv6 link-local address to send adverts from".into()
                    } else {
                        "no IPv4 address to send adverts from".into()
                    },
                )
            })?;
            resolved.push((inst.name.clone(), src));
        }
        let multicast = inst.unicast_peers.is_empty();
        match sockets
            .iter_mut()
            .find(|s| s.0 == inst.interface && s.2 == inst.ipv6)
        {
            Some(s) => s.3 |= multicast,
            None => sockets.push((inst.interface.clone(), link.index, inst.ipv6, multicast)),
        }
        watched.insert(inst.interface.clone());
        watched.extend(inst.track_interfaces.iter().map(|t| t.name.clone()));
    }
    Ok(Plan {
        resolved,
        sockets,
        watched,
    })
}

/// The sockets `want` asks for, reusing those of `have` that match. The new ones open
/// first: on an error `have` is left whole (a refused reload keeps every socket, so a
/// MASTER keeps advertising); on success the reused ones are taken out of it and what
/// stays in `have` is no longer wanted.
fn open_sockets(
    want: &[(String, u32, bool, bool)],
    have: &mut Vec<VrrpSocket>,
) -> Result<Vec<VrrpSocket>, VrrpIoError> {
    let same = |w: &(String, u32, bool, bool), s: &VrrpSocket| {
        s.iface == w.0 && s.ifindex == w.1 && s.v6 == w.2 && s.multicast == w.3
    };
    let mut fresh = VecDeque::new();
    for w in want.iter().filter(|w| !have.iter().any(|s| same(w, s))) {
        let (iface, index, v6, multicast) = w;
        let s = VrrpSocket::open(iface, *index, *v6, *multicast).map_err(|e| {
            VrrpIoError::Socket(format!(
                "IPv{} raw socket on {iface}: {e}",
                if *v6 { 6 } else { 4 }
            ))
        })?;
        fresh.push_back(s);
    }
    let mut out = Vec::with_capacity(want.len());
    for w in want {
        match have.iter().position(|s| same(w, s)) {
            Some(i) => out.push(have.swap_remove(i)),
            // Opened above, in `want`'s order.
            None => out.extend(fresh.pop_front()),
        }
    }
    Ok(out)
}

/// Where an action goes in its batch ([`order`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// Releases in the ownership overlay: the data path is silent about the VIPs at once.
    Silence,
    /// Adverts: a stopping MASTER's priority 0 goes out right after, so the backup takes
    /// over without waiting for the kernel's address removals.
    Advert,
    /// Kernel address removals (queued to the netlink thread).
    Unaddress,
    /// Everything else (VIPs taken, announcements, notify, track scripts and files).
    Rest,
    /// The daemon hears of a transition last (it re-steers then).
    Tell,
}

/// The order a batch runs in: a release (`SetVips { owned: false }`) splits into its
/// [`Stage::Silence`] and [`Stage::Unaddress`] halves; within a stage the router's order.
fn order(batch: Vec<Action>) -> Vec<(Stage, Action)> {
    let mut out = Vec::with_capacity(batch.len() + 1);
    for a in batch {
        let stage = match &a {
            Action::SetVips { owned: false, .. } => {
                out.push((Stage::Silence, a.clone()));
                Stage::Unaddress
            }
            Action::Send { .. } => Stage::Advert,
            Action::Transition { .. } => Stage::Tell,
            _ => Stage::Rest,
        };
        out.push((stage, a));
    }
    // Stable: the router's order within a stage.
    out.sort_by_key(|(s, _)| *s);
    out
}

/// The receive budget: [`RX_BUDGET`] datagrams per [`RX_WINDOW`].
struct RxBudget {
    start: Instant,
    used: usize,
    /// Windows whose budget ran out (a flood, for the log).
    spent: u64,
}

impl RxBudget {
    fn new(now: Instant) -> RxBudget {
        RxBudget {
            start: now,
            used: 0,
            spent: 0,
        }
    }

    /// Datagrams that may still be read at `now` (a window ends, the next starts).
    fn left(&mut self, now: Instant) -> usize {
        if now >= self.start + RX_WINDOW {
            self.start = now;
            self.used = 0;
        }
        RX_BUDGET - self.used
    }

    fn spend(&mut self) {
        self.used += 1;
        if self.used == RX_BUDGET {
            self.spent += 1;
        }
    }

    /// While the window's budget is spent: when the sockets may be read again.
    fn paused_until(&self, now: Instant) -> Option<Instant> {
        let end = self.start + RX_WINDOW;
        (self.used >= RX_BUDGET && now < end).then_some(end)
    }
}

/// An input the thread produced itself (a track file read), fed after the current batch.
enum OwnedInput {
    File { name: String, value: i64 },
}

/// Runs the thread's `body`. A panic (a bug) must not leave VIPs owned while no advert goes
/// out: every instance's VIPs are released on the way out and the daemon is told
/// ([`VrrpEvent::Failed`]).
fn guarded(io: &mut Io, body: impl FnOnce(&mut Io)) {
    let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&mut *io))) else {
        return;
    };
    let reason = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into());
    io.fail(&format!("the VRRP thread panicked: {reason}"));
}

/// Everything the runner's thread owns.
struct Io {
    router: Router,
    cfg: VrrpConfig,
    vips: VipOwnership,
    nl: Netlink,
    socks: Vec<VrrpSocket>,
    announcers: HashMap<String, Announcer>,
    /// Every link by name, as last dumped.
    links: HashMap<String, LinkInfo>,
    /// Instance and tracked interfaces.
    watched: HashSet<String>,
    /// What the router was last told about each watched interface.
    reported: HashMap<String, bool>,
    on_event: Box<dyn Fn(VrrpEvent) + Send>,
    cmd: CmdTx,
    clock: Instant,
    warned: HashMap<String, Instant>,
    inputs: VecDeque<OwnedInput>,
    /// The configuration's script users, resolved off this thread.
    users: Users,
    rx_budget: RxBudget,
}

impl Io {
    #[allow(clippy::too_many_arguments)]
    fn new(
        cfg: VrrpConfig,
        plan: &Plan,
        st: &NetState,
        vips: VipOwnership,
        nl: Netlink,
        socks: Vec<VrrpSocket>,
        on_event: Box<dyn Fn(VrrpEvent) + Send>,
        cmd: CmdTx,
        clock: Instant,
    ) -> Io {
        Io {
            router: Router::new(cfg.clone(), &plan.resolved),
            cfg,
            vips,
            nl,
            socks,
            announcers: HashMap::new(),
            links: st
                .links
                .iter()
                .map(|l| (l.name.clone(), l.clone()))
                .collect(),
            watched: plan.watched.clone(),
            reported: HashMap::new(),
            on_event,
            cmd,
            clock,
            warned: HashMap::new(),
            inputs: VecDeque::new(),
            users: Users::default(),
            rx_budget: RxBudget::new(clock),
        }
    }

    /// The way out of a failed thread: every instance's VIPs released (overlay at once,
    /// kernel addresses waited for, bounded), then the daemon told.
    fn fail(&mut self, reason: &str) {
        tracing::error!("VRRP: {reason}; every VIP released, no adverts until a reload");
        let all = self.cfg.instances.clone();
        for inst in &all {
            self.release(inst);
        }
        if let Err(e) = self.nl.flush(QUIT_WAIT) {
            tracing::warn!("VRRP: releasing the kernel addresses: {e}");
        }
        (self.on_event)(VrrpEvent::Failed {
            reason: reason.to_string(),
        });
    }

    fn now(&self) -> u64 {
        self.clock.elapsed().as_millis() as u64
    }

    /// Rate-limits warnings by key.
    fn warn_once(&mut self, key: &str, msg: impl FnOnce() -> String) {
        let now = Instant::now();
        match self.warned.get(key) {
            Some(t) if now.duration_since(*t) < WARN_EVERY => {}
            _ => {
                self.warned.insert(key.to_string(), now);
                tracing::warn!("VRRP: {}", msg());
            }
        }
    }

    fn link_up(&self, name: &str) -> bool {
        self.links.get(name).is_some_and(|l| l.up)
    }

    /// Tell the router how every watched interface is, before its first state.
    fn first_links(&mut self) {
        let now = self.now();
        let mut names: Vec<String> = self.watched.iter().cloned().collect();
        names.sort();
        for name in names {
            let up = self.link_up(&name);
            self.reported.insert(name.clone(), up);
            let acts = self.router.handle(Input::Link { iface: &name, up }, now);
            self.run(acts);
        }
    }

    /// Report watched interfaces whose state differs from what the router knows
    /// (`repeat_down`: the down ones again, after `Router::start`, in case INIT ignored them).
    fn recheck_links(&mut self, repeat_down: bool) {
        let mut names: Vec<String> = self.watched.iter().cloned().collect();
        names.sort();
        for name in names {
            let up = self.link_up(&name);
            let known = self.reported.get(&name).copied();
            let repeat = repeat_down && !up;
            if known == Some(up) && !repeat {
                continue;
            }
            self.reported.insert(name.clone(), up);
            tracing::info!(
                "VRRP: interface {name} is {}",
                if up { "up" } else { "down" }
            );
            let now = self.now();
            let acts = self.router.handle(Input::Link { iface: &name, up }, now);
            self.run(acts);
        }
    }

    fn serve(&mut self, rx: mpsc::Receiver<Cmd>) {
        let mut buf = vec![0u8; 65536];
        loop {
            let now = self.now();
            // A spent receive budget: the sockets wait for the next window.
            let paused = self.rx_budget.paused_until(Instant::now());
            let resume_ms = paused.map(|t| {
                let left = t.saturating_duration_since(Instant::now());
                left.as_millis() as u64 + u64::from(left.subsec_nanos() % 1_000_000 != 0)
            });
            let timeout = self
                .router
                .poll_timeout()
                .map(|d| d.saturating_sub(now))
                .into_iter()
                .chain(resume_ms)
                .min()
                .map(|ms| rustix::time::Timespec {
                    tv_sec: (ms / 1000) as i64,
                    tv_nsec: ((ms % 1000) * 1_000_000) as i64,
                });
            let (ready, failed): (Vec<bool>, _) = {
                let mut fds = Vec::with_capacity(1 + self.socks.len());
                fds.push(PollFd::new(self.cmd.wake.as_ref(), PollFlags::IN));
                if paused.is_none() {
                    for s in &self.socks {
                        fds.push(PollFd::from_borrowed_fd(s.fd(), PollFlags::IN));
                    }
                }
                let r = rustix::event::poll(&mut fds, timeout.as_ref());
                (
                    fds.iter().map(|f| !f.revents().is_empty()).collect(),
                    r.err(),
                )
            };
            if let Some(e) = failed.filter(|e| *e != rustix::io::Errno::INTR) {
                self.warn_once("poll", || format!("poll: {e}"));
                // Not a busy loop on a real-time thread if poll keeps failing.
                std::thread::sleep(Duration::from_millis(10));
            }
            if ready[0] {
                let mut b = [0u8; 8];
                let _ = rustix::io::read(self.cmd.wake.as_fd(), &mut b);
            }
            loop {
                match rx.try_recv() {
                    Ok(Cmd::Stop(reply, deadline)) => {
                        self.shutdown(deadline);
                        let _ = reply.send(());
                        return;
                    }
                    Ok(Cmd::Quit) | Err(mpsc::TryRecvError::Disconnected) => return,
                    Ok(c) => self.command(c),
                    Err(mpsc::TryRecvError::Empty) => break,
                }
            }
            for (i, r) in ready.iter().skip(1).enumerate() {
                if *r && i < self.socks.len() {
                    self.receive(i, &mut buf);
                }
            }
            while self.router.poll_timeout().is_some_and(|d| d <= self.now()) {
                let now = self.now();
                let acts = self.router.poll(now);
                self.run(acts);
            }
        }
    }

    fn command(&mut self, c: Cmd) {
        match c {
            Cmd::Status(reply) => {
                let _ = reply.send(self.router.status());
            }
            Cmd::Reconfigure(next, reply) => {
                let (cfg, users) = *next;
                let _ = reply.send(self.reconfigure(cfg, users));
            }
            Cmd::Script { name, ok } => {
                let now = self.now();
                let acts = self.router.handle(Input::Script { name: &name, ok }, now);
                self.run(acts);
            }
            Cmd::Links(links) => {
                self.links = links.into_iter().map(|l| (l.name.clone(), l)).collect();
                self.recheck_links(false);
            }
            Cmd::Stop(..) | Cmd::Quit => {}
        }
    }

    fn receive(&mut self, i: usize, buf: &mut [u8]) {
        let n = RX_BATCH.min(self.rx_budget.left(Instant::now()));
        for _ in 0..n {
            let got = match self.socks[i].recv(buf) {
                Ok(Some(r)) => r,
                Ok(None) => return,
                Err(e) => {
                    let iface = self.socks[i].iface.clone();
                    self.warn_once(&format!("recv {iface}"), || {
                        format!("receiving on {iface}: {e}")
                    });
                    return;
                }
            };
            self.rx_budget.spend();
            let now = self.now();
            let input = Input::Packet {
                iface: &self.socks[i].iface,
                src: got.src,
                dst: got.dst,
                ttl: got.ttl,
                payload: &buf[got.start..got.end],
            };
            let acts = self.router.handle(input, now);
            self.run(acts);
        }
        if self.rx_budget.paused_until(Instant::now()).is_some() {
            let spent = self.rx_budget.spent;
            self.warn_once("rx budget", || {
                format!(
                    "more than {RX_BUDGET} datagrams per {} ms (a flood?): the rest waits in the socket buffers (budget spent {spent} time(s) so far)",
                    RX_WINDOW.as_millis()
                )
            });
        }
    }

    fn reconfigure(&mut self, cfg: VrrpConfig, users: Users) -> Result<(), VrrpIoError> {
        let st = self.nl.dump().map_err(VrrpIoError::Socket)?;
        let plan = plan(&cfg, &st)?;
        // On an error every old socket stays; on success those no longer wanted close
        // here.
        let socks = open_sockets(&plan.sockets, &mut self.socks)?;
        self.socks = socks;
        self.links = st
            .links
            .iter()
            .map(|l| (l.name.clone(), l.clone()))
            .collect();
        let old: HashSet<String> = self.cfg.instances.iter().map(|i| i.name.clone()).collect();
        let new_backups: Vec<InstanceConfig> = cfg
            .instances
            .iter()
            .filter(|i| !old.contains(&i.name) && i.priority != 255)
            .cloned()
            .collect();
        for inst in &new_backups {
            self.release(inst);
        }
        self.watched = plan.watched;
        self.users = users;
        self.cfg = cfg.clone();
        let now = self.now();
        let acts = self.router.reconfigure(cfg, &plan.resolved, now);
        self.run(acts);
        // The router rebuilt its view of the links: tell it all again.
        self.reported.clear();
        self.recheck_links(false);
        Ok(())
    }

    /// `Router::shutdown` executed ([`order`]: MASTERs silent, priority 0 sent, kernel
    /// removals queued), then the removals waited for until `deadline`. Only MASTERs hold
    /// VIPs: the others released theirs on leaving MASTER, and leftovers at start.
    fn shutdown(&mut self, deadline: Instant) {
        let now = self.now();
        let acts = self.router.shutdown(now);
        let masters = acts
            .iter()
            .filter(|a| matches!(a, Action::Send { .. }))
            .count();
        self.run(acts);
        tracing::info!("VRRP stop: VIPs silenced, {masters} priority-0 advert(s) sent");
        match self
            .nl
            .flush(deadline.saturating_duration_since(Instant::now()))
        {
            Ok(()) => tracing::info!("VRRP stop: kernel addresses released"),
            Err(e) => tracing::warn!("VRRP stop: kernel addresses: {e}"),
        }
    }

    /// Not owned in the overlay, and (kernel mode) off the interfaces if present.
    fn release(&mut self, inst: &InstanceConfig) {
        let vips: Vec<Vip> = inst
            .vips
            .iter()
            .chain(&inst.vips_excluded)
            .cloned()
            .collect();
        self.set_vips(&inst.name, inst.vip_owner, &vips, false);
    }

    /// Executes a batch in [`order`], then whatever inputs it produced, in order.
    fn run(&mut self, first: Vec<Action>) {
        let mut batch = first;
        loop {
            for (stage, a) in order(batch) {
                match (stage, a) {
                    (Stage::Silence, Action::SetVips { vips, .. }) => self.overlay(&vips, false),
                    (
                        Stage::Unaddress,
                        Action::SetVips {
                            instance,
                            owner,
                            vips,
                            ..
                        },
                    ) => self.kernel_vips(&instance, owner, &vips, false),
                    (_, a) => self.execute(a),
                }
            }
            let Some(OwnedInput::File { name, value }) = self.inputs.pop_front() else {
                return;
            };
            let now = self.now();
            batch = self.router.handle(Input::File { name: &name, value }, now);
        }
    }

    fn execute(&mut self, a: Action) {
        match a {
            Action::Send {
                instance,
                iface,
                src,
                dst,
                payload,
            } => {
                let Some(s) = self
                    .socks
                    .iter()
                    .find(|s| s.iface == iface && s.v6 == dst.is_ipv6())
                else {
                    self.warn_once(&format!("nosock {instance}"), || {
                        format!("{instance}: no socket for {iface}")
                    });
                    return;
                };
                if let Err(e) = s.send(src, dst, &payload) {
                    self.warn_once(&format!("send {instance}"), || {
                        format!("{instance}: advert {src} -> {dst} on {iface}: {e}")
                    });
                }
            }
            Action::SetVips {
                instance,
                owner,
                vips,
                owned,
            } => self.set_vips(&instance, owner, &vips, owned),
            Action::Announce { iface, addrs } => self.announce(&iface, &addrs),
            Action::Notify {
                command,
                user,
                args,
            } => match self.users.ids(&user) {
                Ok(ids) => script::notify(&command, &args, ids),
                Err(e) => tracing::warn!("VRRP notify {command:?} not run: {e}"),
            },
            Action::RunTrackScript {
                name,
                command,
                user,
                timeout_ms,
            } => {
                let cmd = self.cmd.clone();
                let n = name.clone();
                let ids = match self.users.ids(&user) {
                    Ok(ids) => ids,
                    Err(e) => {
                        self.warn_once(&format!("user {name}"), || {
                            format!("vrrp_script {name} not run: {e}; it counts as failed")
                        });
                        self.cmd.send(Cmd::Script { name, ok: false });
                        return;
                    }
                };
                script::track(
                    &name,
                    &command,
                    ids,
                    Duration::from_millis(timeout_ms),
                    move |ok| {
                        cmd.send(Cmd::Script { name: n, ok });
                    },
                );
            }
            Action::ReadTrackFile { name, path } => {
                let (value, err) = script::read_track_file(&path);
                if let Some(e) = err {
                    self.warn_once(&format!("file {name}"), || {
                        format!("vrrp_track_file {name}: {e}; its value is 0")
                    });
                }
                self.inputs.push_back(OwnedInput::File { name, value });
            }
            Action::Transition {
                instance,
                from,
                to,
                reason,
            } => {
                tracing::info!("VRRP_Instance({instance}) {from:?} -> {to:?}: {reason}");
                (self.on_event)(VrrpEvent::Transition {
                    instance,
                    from,
                    to,
                    reason,
                });
            }
        }
    }

    /// owned: on the interfaces first (kernel mode), then owned in the overlay; not owned:
    /// the overlay first, so the data path goes silent before the kernel lets go.
    fn set_vips(&mut self, instance: &str, owner: VipOwner, vips: &[Vip], owned: bool) {
        if !owned {
            self.overlay(vips, false);
        }
        self.kernel_vips(instance, owner, vips, owned);
        if owned {
            self.overlay(vips, true);
        }
    }

    fn overlay(&self, vips: &[Vip], owned: bool) {
        for v in vips {
            self.vips.set_owned(v.addr, owned);
        }
    }

    /// Kernel mode: queues the addresses' addition to / removal from their interfaces.
    fn kernel_vips(&mut self, instance: &str, owner: VipOwner, vips: &[Vip], owned: bool) {
        if owner == VipOwner::Kernel {
            let iface = self
                .cfg
                .instances
                .iter()
                .find(|i| i.name == instance)
                .map(|i| i.interface.clone());
            for v in vips {
                let Some(dev) = v.dev.clone().or_else(|| iface.clone()) else {
                    continue;
                };
                let Some(index) = self.links.get(&dev).map(|l| l.index) else {
                    if owned {
                        self.warn_once(&format!("vipdev {dev}"), || {
                            format!("{instance}: VIP {} not added: no interface {dev}", v.addr)
                        });
                    }
                    continue;
                };
                self.nl.set_addr(instance, owned, index, v);
            }
        }
    }

    fn announce(&mut self, iface: &str, addrs: &[IpAddr]) {
        let Some((index, mac)) = self.links.get(iface).map(|l| (l.index, l.mac)) else {
            return self.warn_once(&format!("announce {iface}"), || {
                format!("no interface {iface} to announce on")
            });
        };
        let Some(mac) = mac else {
            return self.warn_once(&format!("announce {iface}"), || {
                format!("{iface} has no MAC address; nothing announced")
            });
        };
        if self
            .announcers
            .get(iface)
            .is_none_or(|a| a.ifindex != index)
        {
            match Announcer::open(index) {
                Ok(a) => {
                    self.announcers.insert(iface.to_string(), a);
                }
                Err(e) => {
                    return self.warn_once(&format!("announce {iface}"), || {
                        format!("packet socket on {iface}: {e}")
                    })
                }
            }
        }
        let mut failed = None;
        if let Some(a) = self.announcers.get(iface) {
            for addr in addrs {
                if let Err(e) = a.announce(mac, *addr) {
                    failed = Some(e);
                }
            }
        }
        if let Some(e) = failed {
            self.warn_once(&format!("announce {iface}"), || {
                format!("gratuitous ARP / NA on {iface}: {e}")
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vip(a: &str) -> Vip {
        Vip {
            addr: a.parse().unwrap(),
            prefix: 32,
            brd: None,
            dev: None,
            scope: None,
            label: None,
        }
    }

    fn set_vips(owned: bool) -> Action {
        Action::SetVips {
            instance: "VI_1".into(),
            owner: VipOwner::Kernel,
            vips: vec![vip("10.0.0.100")],
            owned,
        }
    }

    fn send(priority: u8) -> Action {
        Action::Send {
            instance: "VI_1".into(),
            iface: "eth0".into(),
            src: "10.0.0.1".parse().unwrap(),
            dst: "224.0.0.18".parse().unwrap(),
            payload: vec![0x21, 51, priority],
        }
    }

    fn transition(to: State) -> Action {
        Action::Transition {
            instance: "VI_1".into(),
            from: State::Master,
            to,
            reason: "test".into(),
        }
    }

    fn notify() -> Action {
        Action::Notify {
            command: "true".into(),
            user: None,
            args: vec![],
        }
    }

    fn engine_instance() -> InstanceConfig {
        InstanceConfig {
            name: "VI_1".into(),
            interface: "lo".into(),
            vrid: 51,
            version: rvs_vrrp::Version::V2,
            ipv6: false,
            initial: rvs_vrrp::InitialState::Backup,
            priority: 100,
            advert_int_cs: 100,
            auth: rvs_vrrp::Auth::None,
            nopreempt: false,
            preempt_delay_ms: 0,
            vips: vec![vip("10.0.0.100")],
            vips_excluded: vec![vip("10.0.0.101")],
            vip_owner: VipOwner::Engine,
            src: Some("127.0.0.1".parse().unwrap()),
            unicast_peers: vec![],
            track_interfaces: vec![],
            track_scripts: vec![],
            track_files: vec![],
            notify: Default::default(),
            garp: Default::default(),
            accept: false,
            pos: "vrrp.rs:1".into(),
        }
    }

    #[test]
    fn a_panicking_thread_releases_every_vip_and_tells_the_daemon() {
        // Needs rtnetlink (root): the failed thread waits for its kernel removals.
        let cfg = VrrpConfig {
            instances: vec![engine_instance()],
            ..VrrpConfig::default()
        };
        let plan = Plan {
            resolved: vec![],
            sockets: vec![],
            watched: HashSet::new(),
        };
        let wake = rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC).unwrap();
        let (tx, _rx) = mpsc::channel();
        let cmd = CmdTx {
            tx,
            wake: Arc::new(wake),
        };
        let nl = Netlink::start(|_| {}).expect("netlink (needs root)");
        let vips = VipOwnership::new();
        let (ev_tx, events) = mpsc::channel();
        let on_event = Box::new(move |e| {
            let _ = ev_tx.send(e);
        });
        let st = NetState::default();
        let mut io = Io::new(
            cfg,
            &plan,
            &st,
            vips.clone(),
            nl,
            vec![],
            on_event,
            cmd,
            Instant::now(),
        );
        // A MASTER's VIPs (one excluded), owned when the bug strikes.
        for a in ["10.0.0.100", "10.0.0.101"] {
            vips.set_owned(a.parse().unwrap(), true);
        }
        guarded(&mut io, |_| panic!("a bug"));
        for a in ["10.0.0.100", "10.0.0.101"] {
            assert!(!vips.owns(a.parse().unwrap()), "{a} released");
        }
        match events.try_recv() {
            Ok(VrrpEvent::Failed { reason }) => assert!(reason.contains("a bug"), "{reason}"),
            other => panic!("no Failed event: {other:?}"),
        }
        // A body that ends normally releases nothing.
        vips.set_owned("10.0.0.100".parse().unwrap(), true);
        guarded(&mut io, |_| {});
        assert!(vips.owns("10.0.0.100".parse().unwrap()));
        assert!(events.try_recv().is_err());
    }

    #[test]
    fn a_socket_that_does_not_open_leaves_the_old_ones_whole() {
        // Raw sockets need root.
        let lo = ("lo".to_string(), 1, false, false);
        let mut have = open_sockets(std::slice::from_ref(&lo), &mut Vec::new()).expect("lo");
        let want = [
            lo.clone(),
            ("rvs-no-such0".to_string(), 999_999, false, false),
        ];
        assert!(open_sockets(&want, &mut have).is_err());
        assert_eq!(have.len(), 1, "the old socket stays");
        assert_eq!(have[0].iface, "lo");
        // Success: the reused socket moves out, the unwanted stay behind to close.
        let v6 = ("lo".to_string(), 1, true, false);
        let got = open_sockets(std::slice::from_ref(&v6), &mut have).expect("lo v6");
        assert_eq!((got.len(), got[0].v6), (1, true));
        assert_eq!(have.len(), 1, "lo v4 no longer wanted");
        let got = open_sockets(&[v6, lo], &mut have).expect("both");
        assert_eq!((got[0].v6, got[1].v6), (true, false));
        assert!(have.is_empty(), "lo v4 reused");
    }

    #[test]
    fn the_receive_budget_pauses_the_sockets_until_the_next_window() {
        let t0 = Instant::now();
        let mut b = RxBudget::new(t0);
        assert_eq!(b.left(t0), RX_BUDGET);
        for _ in 0..RX_BUDGET {
            b.spend();
        }
        assert_eq!(b.left(t0), 0);
        let mid = t0 + RX_WINDOW / 2;
        assert_eq!(b.paused_until(mid), Some(t0 + RX_WINDOW));
        assert_eq!(b.spent, 1);
        // The next window: reading resumes, with a whole budget.
        let next = t0 + RX_WINDOW;
        assert_eq!(b.paused_until(next), None);
        assert_eq!(b.left(next), RX_BUDGET);
        b.spend();
        assert_eq!((b.left(next), b.paused_until(next)), (RX_BUDGET - 1, None));
    }

    #[test]
    fn a_stopping_master_goes_silent_then_sends_priority_0_before_its_kernel_addresses_go() {
        // Whatever order the router gives, the data path is silent first, the handover
        // advert next, and only then the kernel removals, the rest, the daemon's news.
        let batch = vec![transition(State::Init), notify(), set_vips(false), send(0)];
        let got: Vec<(Stage, Action)> = order(batch);
        assert_eq!(
            got,
            vec![
                (Stage::Silence, set_vips(false)),
                (Stage::Advert, send(0)),
                (Stage::Unaddress, set_vips(false)),
                (Stage::Rest, notify()),
                (Stage::Tell, transition(State::Init)),
            ]
        );
    }

    #[test]
    fn a_batch_keeps_the_routers_order_within_a_stage() {
        let batch = vec![send(100), set_vips(true), notify(), send(101)];
        let stages: Vec<Stage> = order(batch.clone()).into_iter().map(|(s, _)| s).collect();
        assert_eq!(
            stages,
            [Stage::Advert, Stage::Advert, Stage::Rest, Stage::Rest]
        );
        let actions: Vec<Action> = order(batch).into_iter().map(|(_, a)| a).collect();
        assert_eq!(
            actions,
            vec![send(100), send(101), set_vips(true), notify()]
        );
    }
}
