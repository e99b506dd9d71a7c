//! Which frames are rvs's, and how the kernel is kept off them.
//!
//! [`SteerSet`] is computed from the engine's config and the kernel's addresses (sans-IO,
//! unit-tested). Under AF_XDP it becomes the maps of the XDP program in `bpf/steer.c`
//! ([`XdpSteer`]); under AF_PACKET, where the kernel sees every frame too, it becomes an
//! nftables `netdev` ingress table that drops what rvs handles ([`nft_ruleset`]).

use aya::maps::lpm_trie::{Key as LpmKey, LpmTrie};
use aya::maps::{HashMap as BpfHashMap, MapData, PerCpuArray, XskMap};
use aya::programs::links::{FdLink, PinnedLink};
use aya::programs::xdp::XdpLink;
use aya::programs::{Xdp, XdpMode};
use aya::Ebpf;
use rvs_engine::config::{FwdMethod, SvcKey};
use rvs_engine::{Config, VipOwnership};
use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

/// The compiled steering program (build.rs).
static STEER_O: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/steer.o"));
/// The program's name, by which a restarted rvsd recognises its own pinned program.
pub const PROG_NAME: &str = "rvs_steer";
/// Where rvs pins its links unless told otherwise (`rvsd --bpffs`).
pub const BPFFS: &str = "/sys/fs/bpf";

const PROTOS: [u8; 3] = [6, 17, 132];

/// (family, protocol, address, port): the key of the `svcs` and `dests` maps.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EpKey {
    pub family: u8,
    pub proto: u8,
    /// Network order, as the program reads it off the wire.
    pub port_be: u16,
    pub addr: [u8; 16],
}

// SAFETY: repr(C), only integers and byte arrays, no padding (1+1+2+16).
unsafe impl aya::Pod for EpKey {}

impl EpKey {
    pub fn new(proto: u8, addr: IpAddr, port: u16) -> EpKey {
        let (family, a) = fam_addr(addr);
        EpKey {
            family,
            proto,
            port_be: port.to_be(),
            addr: a,
        }
    }
    pub fn ip(&self) -> IpAddr {
        if self.family == 4 {
            IpAddr::from([self.addr[0], self.addr[1], self.addr[2], self.addr[3]])
        } else {
            IpAddr::from(self.addr)
        }
    }
    pub fn port(&self) -> u16 {
        u16::from_be(self.port_be)
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddrKey {
    pub family: u8,
    pub pad: [u8; 3],
    pub addr: [u8; 16],
}

// SAFETY: repr(C), bytes only, no padding.
unsafe impl aya::Pod for AddrKey {}

impl AddrKey {
    pub fn new(addr: IpAddr) -> AddrKey {
        let (family, a) = fam_addr(addr);
        AddrKey {
            family,
            pad: [0; 3],
            addr: a,
        }
    }
}

fn fam_addr(addr: IpAddr) -> (u8, [u8; 16]) {
    let mut a = [0u8; 16];
    match addr {
        IpAddr::V4(v4) => {
            a[..4].copy_from_slice(&v4.octets());
            (4, a)
        }
        IpAddr::V6(v6) => (6, v6.octets()),
    }
}

/// Everything the data path must see on a served interface.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SteerSet {
    /// (proto, vaddr, vport); (proto, vaddr, 0) for port-0 services; (0, vaddr, 0) for
    /// every vaddr (its fragments and ICMP errors).
    pub svcs: BTreeSet<EpKey>,
    /// NAT and FULLNAT real servers, whose replies come back through rvs: (proto, daddr,
    /// dport), (proto, daddr, 0) when the dest keeps the client's port, (0, daddr, 0).
    pub dests: BTreeSet<EpKey>,
    /// Addresses rvs answers for and the kernel does not own: all their traffic.
    pub owned: BTreeSet<IpAddr>,
    /// The kernel's own addresses: a real server's packet to one is not a NAT reply.
    pub local: BTreeSet<IpAddr>,
    /// Destination prefixes of firewall-mark rules, steered whole.
    pub nets: BTreeSet<(IpAddr, u8)>,
}

impl SteerSet {
    /// `extra_dests` are real servers removed from the config whose conns may still be
    /// draining: their replies must keep coming to rvs until the conns are gone.
    pub fn compute(
        cfg: &Config,
        locals: &HashSet<IpAddr>,
        extra_dests: impl IntoIterator<Item = EpKey>,
    ) -> SteerSet {
        let mut s = SteerSet {
            local: locals.iter().copied().collect(),
            ..SteerSet::default()
        };
        let marks: HashSet<(u32, bool)> = cfg
            .services()
            .iter()
            .filter_map(|svc| match svc.key {
                SvcKey::Fwmark { mark, v6 } => Some((mark, v6)),
                _ => None,
            })
            .collect();
        for r in cfg.fwmark_rules() {
            if marks.contains(&(r.mark, r.daddr.is_ipv6())) {
                s.nets.insert((r.daddr, r.prefix));
                s.svcs.insert(EpKey::new(0, r.daddr, 0));
            }
        }
        for svc in cfg.services() {
            let protos: Vec<u8> = match svc.key {
                SvcKey::Addr { proto, addr, port } => {
                    s.svcs.insert(EpKey::new(proto.number(), addr, port));
                    s.svcs.insert(EpKey::new(0, addr, 0));
                    vec![proto.number()]
                }
                SvcKey::Fwmark { .. } => PROTOS.to_vec(),
            };
            for d in &svc.dests {
                if !matches!(d.fwd, FwdMethod::Masq | FwdMethod::FullNat) {
                    continue;
                }
                for &p in &protos {
                    s.dests.insert(EpKey::new(p, d.addr, d.port));
                }
                s.dests.insert(EpKey::new(0, d.addr, 0));
            }
        }
        s.dests.extend(extra_dests);
        s.owned = cfg
            .vaddrs()
            .chain(cfg.laddrs())
            .filter(|a| !locals.contains(a))
            .collect();
        // A fwmark rule's network address is not a host rvs speaks for.
        for (net, plen) in &s.nets {
            if *plen < if net.is_ipv6() { 128 } else { 32 } {
                s.owned.remove(net);
            }
        }
        s
    }

    /// Leave out of `owned` the addresses VRRP gave to another director: their ARP/NS is
    /// not steered to rvs and they are not announced.
    pub fn only_owned(mut self, vips: &VipOwnership) -> SteerSet {
        self.owned.retain(|a| vips.owns(*a));
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SteerError {
    #[error("cannot load the XDP steering program: {0}")]
    Load(String),
    #[error("interface {ifname} already has an XDP program attached by someone else ({detail}); detach it (`ip link set dev {ifname} xdp off`) or run rvsd with --io afpacket")]
    Foreign { ifname: String, detail: String },
    #[error("cannot attach XDP to {ifname}: {detail}")]
    Attach { ifname: String, detail: String },
    #[error("XDP map update failed: {0}")]
    Map(String),
    #[error("bpffs: {0}")]
    Bpffs(String),
    #[error("nftables: {0}")]
    Nft(String),
    #[error("policy routing: {0}")]
    Routing(String),
}

/// The steering program on one interface: its maps, and its link, pinned in bpffs so that
/// it outlives a crashed rvsd (and keeps dropping service traffic rather than letting the
/// kernel answer it) until the next rvsd takes it over.
pub struct XdpSteer {
    ifname: String,
    bpf: Ebpf,
    svcs: BpfHashMap<MapData, EpKey, u8>,
    dests: BpfHashMap<MapData, EpKey, u8>,
    local: BpfHashMap<MapData, AddrKey, u8>,
    owned: BpfHashMap<MapData, AddrKey, u8>,
    nets: LpmTrie<MapData, AddrKey, u8>,
    xsks: XskMap<MapData>,
    stats: PerCpuArray<MapData, u64>,
    lconns: MapData,
    current: SteerSet,
    link: Option<PinnedLink>,
    pin: PathBuf,
}

/// How the program got onto the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attached {
    /// A fresh attach, in native (driver) mode.
    Native,
    /// A fresh attach in generic (skb) mode: the driver has no native XDP.
    Generic,
    /// Replaced the program of a pinned link left by an earlier rvsd, atomically.
    TookOver,
}

/// The kernel's per-program counters (bpf/steer.c `stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XdpCounters {
    pub passed: u64,
    pub steered: u64,
    pub dropped_no_socket: u64,
    pub arp: u64,
    pub ndp: u64,
}

/// `ROOT/rvs/net<inode>/IFNAME`: interface names repeat across network namespaces that
/// share one bpffs, so the pin is qualified by this process's network namespace.
pub fn pin_dir(root: &Path, ifname: &str) -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    let ns = std::fs::metadata("/proc/self/ns/net")
        .map(|m| m.ino())
        .unwrap_or(0);
    root.join("rvs").join(format!("net{ns}")).join(ifname)
}

/// Mount bpffs at `root` if nothing is mounted there (containers often lack it). A bpffs
/// mounted by rvsd itself lives only as long as its mount namespace: where that is private
/// to the process (`ip netns exec`), pins do not outlive it, so mount one beforehand.
pub fn ensure_bpffs(root: &Path) -> Result<(), SteerError> {
    let at = root.to_string_lossy().into_owned();
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    if mounts
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(at.as_str()) && l.contains(" bpf "))
    {
        return Ok(());
    }
    tracing::warn!(
        "no bpffs at {at}: mounting one; pinned XDP links last only as long as this mount"
    );
    std::fs::create_dir_all(root).map_err(|e| SteerError::Bpffs(format!("{at}: {e}")))?;
    rustix::mount::mount("bpf", root, "bpf", rustix::mount::MountFlags::empty(), None)
        .map_err(|e| SteerError::Bpffs(format!("mount -t bpf bpf {at}: {e}")))
}

fn map_err<E: std::fmt::Display>(e: E) -> SteerError {
    SteerError::Map(e.to_string())
}

impl XdpSteer {
    /// Load the program with empty maps; nothing is attached yet.
    pub fn load(ifname: &str, bpffs: &Path) -> Result<XdpSteer, SteerError> {
        let mut bpf = Ebpf::load(STEER_O).map_err(|e| SteerError::Load(e.to_string()))?;
        let prog: &mut Xdp = bpf
            .program_mut(PROG_NAME)
            .ok_or_else(|| SteerError::Load("no rvs_steer program in the object".into()))?
            .try_into()
            .map_err(|e: aya::programs::ProgramError| SteerError::Load(e.to_string()))?;
        prog.load()
            .map_err(|e| SteerError::Load(format!("{e:?}")))?;
        let mut take = |name: &str| {
            bpf.take_map(name)
                .ok_or_else(|| SteerError::Load(format!("map {name} missing")))
        };
        let svcs = BpfHashMap::try_from(take("svcs")?).map_err(map_err)?;
        let dests = BpfHashMap::try_from(take("dests")?).map_err(map_err)?;
        let local = BpfHashMap::try_from(take("local")?).map_err(map_err)?;
        let owned = BpfHashMap::try_from(take("owned")?).map_err(map_err)?;
        let nets = LpmTrie::try_from(take("nets")?).map_err(map_err)?;
        let xsks = XskMap::try_from(take("xsks")?).map_err(map_err)?;
        let stats = PerCpuArray::try_from(take("stats")?).map_err(map_err)?;
        let lconns = match take("lconns")? {
            aya::maps::Map::LruHashMap(m) => m,
            _ => return Err(SteerError::Load("map lconns is not an LRU hash".into())),
        };
        Ok(XdpSteer {
            ifname: ifname.to_string(),
            bpf,
            svcs,
            dests,
            local,
            owned,
            nets,
            xsks,
            stats,
            lconns,
            current: SteerSet::default(),
            link: None,
            pin: pin_dir(bpffs, ifname).join("link"),
        })
    }

    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    /// Bring the maps to `want`, touching only what changed.
    pub fn sync(&mut self, want: &SteerSet) -> Result<(), SteerError> {
        let cur = std::mem::take(&mut self.current);
        let r = self.apply(&cur, want);
        self.current = if r.is_ok() { want.clone() } else { cur };
        r
    }

    fn apply(&mut self, cur: &SteerSet, want: &SteerSet) -> Result<(), SteerError> {
        // Add before removing, so that nothing steered in both sets is ever passed.
        for k in want.svcs.difference(&cur.svcs) {
            self.svcs.insert(k, 1, 0).map_err(map_err)?;
        }
        for k in want.dests.difference(&cur.dests) {
            self.dests.insert(k, 1, 0).map_err(map_err)?;
        }
        for a in want.local.difference(&cur.local) {
            self.local.insert(AddrKey::new(*a), 1, 0).map_err(map_err)?;
        }
        for a in want.owned.difference(&cur.owned) {
            self.owned.insert(AddrKey::new(*a), 1, 0).map_err(map_err)?;
        }
        for (n, p) in want.nets.difference(&cur.nets) {
            let k = LpmKey::new(32 + u32::from(*p), AddrKey::new(*n));
            self.nets.insert(&k, 1, 0).map_err(map_err)?;
        }
        for k in cur.svcs.difference(&want.svcs) {
            let _ = self.svcs.remove(k);
        }
        for k in cur.dests.difference(&want.dests) {
            let _ = self.dests.remove(k);
        }
        for a in cur.local.difference(&want.local) {
            let _ = self.local.remove(&AddrKey::new(*a));
        }
        for a in cur.owned.difference(&want.owned) {
            let _ = self.owned.remove(&AddrKey::new(*a));
        }
        for (n, p) in cur.nets.difference(&want.nets) {
            let _ = self
                .nets
                .remove(&LpmKey::new(32 + u32::from(*p), AddrKey::new(*n)));
        }
        Ok(())
    }

    /// A descriptor of the `lconns` map, for a worker to add the replies of the director's
    /// own connections (see [`crate::local`]).
    pub fn lconns_fd(&self) -> std::io::Result<std::os::fd::OwnedFd> {
        use std::os::fd::AsFd;
        self.lconns.fd().as_fd().try_clone_to_owned()
    }

    /// Steer `queue`'s frames to the AF_XDP socket `fd`.
    pub fn register(&mut self, queue: u32, fd: RawFd) -> Result<(), SteerError> {
        self.xsks.set(queue, fd, 0).map_err(map_err)
    }

    /// Attach, or take over the pinned link an earlier rvsd left (atomic program swap, so
    /// that no frame meets an interface without the program).
    pub fn attach(&mut self) -> Result<Attached, SteerError> {
        let dir = self.pin.parent().unwrap_or(Path::new(BPFFS)).to_path_buf();
        std::fs::create_dir_all(&dir)
            .map_err(|e| SteerError::Bpffs(format!("{}: {e}", dir.display())))?;
        if self.pin.exists() {
            match self.take_over() {
                Ok(()) => return Ok(Attached::TookOver),
                Err(e @ SteerError::Foreign { .. }) => return Err(e),
                Err(e) => {
                    // A link whose interface went away, say: it is ours and dead.
                    tracing::warn!(ifname = %self.ifname, "stale pinned XDP link ({e}); attaching afresh");
                    let _ = std::fs::remove_file(&self.pin);
                }
            }
        }
        let ifname = self.ifname.clone();
        let prog = self.prog()?;
        let (id, how) = match prog.attach(&ifname, XdpMode::Driver) {
            Ok(id) => (id, Attached::Native),
            Err(e) if is_busy(&e) => return Err(foreign(&ifname, &e)),
            Err(native) => match prog.attach(&ifname, XdpMode::Skb) {
                Ok(id) => (id, Attached::Generic),
                Err(e) if is_busy(&e) => return Err(foreign(&ifname, &e)),
                Err(e) => {
                    return Err(SteerError::Attach {
                        ifname,
                        detail: format!("native: {native}; generic: {e}"),
                    })
                }
            },
        };
        let link = prog.take_link(id).map_err(|e| attach_err(&ifname, e))?;
        let fd: FdLink = link
            .try_into()
            .map_err(|e: aya::programs::links::LinkError| attach_err(&ifname, e))?;
        let pinned = fd.pin(&self.pin).map_err(|e| attach_err(&ifname, e))?;
        self.link = Some(pinned);
        Ok(how)
    }

    fn prog(&mut self) -> Result<&mut Xdp, SteerError> {
        self.bpf
            .program_mut(PROG_NAME)
            .ok_or_else(|| SteerError::Load("program vanished".into()))?
            .try_into()
            .map_err(|e: aya::programs::ProgramError| SteerError::Load(e.to_string()))
    }

    fn take_over(&mut self) -> Result<(), SteerError> {
        let ifname = self.ifname.clone();
        let pinned = PinnedLink::from_pin(&self.pin).map_err(|e| attach_err(&ifname, e))?;
        let fd: FdLink = pinned.into();
        let info = fd.info().map_err(|e| attach_err(&ifname, e))?;
        let name = aya::programs::loaded_programs()
            .filter_map(Result::ok)
            .find(|p| p.id() == info.program_id())
            .and_then(|p| p.name_as_str().map(str::to_string));
        if name.as_deref() != Some(PROG_NAME) {
            return Err(SteerError::Foreign {
                ifname,
                detail: format!("pinned at {} runs {:?}", self.pin.display(), name),
            });
        }
        let link = XdpLink::try_from(fd).map_err(|e| attach_err(&ifname, e))?;
        let prog = self.prog()?;
        let id = prog
            .attach_to_link(link)
            .map_err(|e| attach_err(&ifname, e))?;
        let link = prog.take_link(id).map_err(|e| attach_err(&ifname, e))?;
        let fd: FdLink = link
            .try_into()
            .map_err(|e: aya::programs::links::LinkError| attach_err(&ifname, e))?;
        // Re-pin under the same name: the old pin still holds the same link.
        let _ = std::fs::remove_file(&self.pin);
        self.link = Some(fd.pin(&self.pin).map_err(|e| attach_err(&ifname, e))?);
        Ok(())
    }

    /// A clean stop: unpin and close the link, which detaches the program.
    pub fn detach(mut self) {
        if let Some(l) = self.link.take() {
            match l.unpin() {
                Ok(fd) => drop(fd),
                Err(e) => tracing::warn!(ifname = %self.ifname, "unpin: {e}"),
            }
        }
        if let Some(dir) = self.pin.parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }

    pub fn counters(&self) -> XdpCounters {
        let get = |i: u32| -> u64 { self.stats.get(&i, 0).map(|v| v.iter().sum()).unwrap_or(0) };
        XdpCounters {
            passed: get(0),
            steered: get(1),
            dropped_no_socket: get(2),
            arp: get(3),
            ndp: get(4),
        }
    }
}

/// Remove a pinned link left by a killed rvsd, detaching its program (`rvsd --detach`).
pub fn detach_pinned(ifname: &str, bpffs: &Path) -> Result<bool, SteerError> {
    let pin = pin_dir(bpffs, ifname).join("link");
    if !pin.exists() {
        return Ok(false);
    }
    std::fs::remove_file(&pin).map_err(|e| SteerError::Bpffs(format!("{}: {e}", pin.display())))?;
    let _ = std::fs::remove_dir(pin_dir(bpffs, ifname));
    Ok(true)
}

fn is_busy(e: &aya::programs::ProgramError) -> bool {
    let s = format!("{e:?}");
    s.contains("EBUSY")
        || s.contains("EEXIST")
        || s.contains("code: 16")
        || s.contains("code: 17")
        || s.contains("Device or resource busy")
        || s.contains("File exists")
}

fn foreign(ifname: &str, e: &dyn std::fmt::Display) -> SteerError {
    SteerError::Foreign {
        ifname: ifname.to_string(),
        detail: e.to_string(),
    }
}

fn attach_err(ifname: &str, e: impl std::fmt::Display) -> SteerError {
    SteerError::Attach {
        ifname: ifname.to_string(),
        detail: e.to_string(),
    }
}

/// The nftables table that, under AF_PACKET, keeps the kernel from also handling what rvs
/// handles (it would answer service traffic with RSTs or forward it a second time). The
/// AF_PACKET tap sees frames before the ingress hook drops them. One atomic `nft -f`.
pub fn nft_ruleset(ifname: &str, set: &SteerSet) -> String {
    let t = nft_table(ifname);
    let mut r = String::new();
    let _ = writeln!(
        r,
        "table netdev {t}\ndelete table netdev {t}\ntable netdev {t} {{"
    );
    let (mut svc4, mut svc6, mut any4, mut any6, mut vad4, mut vad6) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for k in &set.svcs {
        let (a, p, port) = (k.ip(), k.proto, k.port());
        match (a.is_ipv6(), p, port) {
            (false, 0, _) => vad4.push(a.to_string()),
            (true, 0, _) => vad6.push(a.to_string()),
            (false, _, 0) => any4.push(format!("{a} . {p}")),
            (true, _, 0) => any6.push(format!("{a} . {p}")),
            (false, _, _) => svc4.push(format!("{a} . {p} . {port}")),
            (true, _, _) => svc6.push(format!("{a} . {p} . {port}")),
        }
    }
    let (mut d4, mut d6, mut dany4, mut dany6) = (vec![], vec![], vec![], vec![]);
    for k in &set.dests {
        let (a, p, port) = (k.ip(), k.proto, k.port());
        match (a.is_ipv6(), p, port) {
            (_, 0, _) => {}
            (false, _, 0) => dany4.push(format!("{a} . {p}")),
            (true, _, 0) => dany6.push(format!("{a} . {p}")),
            (false, _, _) => d4.push(format!("{a} . {p} . {port}")),
            (true, _, _) => d6.push(format!("{a} . {p} . {port}")),
        }
    }
    let split = |it: &mut dyn Iterator<Item = &IpAddr>| -> (Vec<String>, Vec<String>) {
        let (mut v4, mut v6) = (vec![], vec![]);
        for a in it {
            if a.is_ipv6() {
                v6.push(a.to_string())
            } else {
                v4.push(a.to_string())
            }
        }
        (v4, v6)
    };
    let (own4, own6) = split(&mut set.owned.iter());
    let (loc4, loc6) = split(&mut set.local.iter());
    let mut set_decl = |name: &str, ty: &str, els: &[String]| {
        let _ = write!(r, "  set {name} {{ type {ty};");
        if !els.is_empty() {
            let _ = write!(r, " elements = {{ {} }};", els.join(", "));
        }
        let _ = writeln!(r, " }}");
    };
    set_decl("svc4", "ipv4_addr . inet_proto . inet_service", &svc4);
    set_decl("svc6", "ipv6_addr . inet_proto . inet_service", &svc6);
    set_decl("any4", "ipv4_addr . inet_proto", &any4);
    set_decl("any6", "ipv6_addr . inet_proto", &any6);
    set_decl("vaddr4", "ipv4_addr", &vad4);
    set_decl("vaddr6", "ipv6_addr", &vad6);
    set_decl("dest4", "ipv4_addr . inet_proto . inet_service", &d4);
    set_decl("dest6", "ipv6_addr . inet_proto . inet_service", &d6);
    set_decl("dany4", "ipv4_addr . inet_proto", &dany4);
    set_decl("dany6", "ipv6_addr . inet_proto", &dany6);
    set_decl("owned4", "ipv4_addr", &own4);
    set_decl("owned6", "ipv6_addr", &own6);
    set_decl("local4", "ipv4_addr", &loc4);
    set_decl("local6", "ipv6_addr", &loc6);
    let _ = writeln!(
        r,
        "  chain ingress {{\n    type filter hook ingress device \"{ifname}\" priority -500; policy accept;"
    );
    for rule in [
        "ip daddr @owned4 drop",
        "ip6 daddr @owned6 drop",
        "ip daddr . meta l4proto . th dport @svc4 drop",
        "ip6 daddr . meta l4proto . th dport @svc6 drop",
        "ip daddr . meta l4proto @any4 drop",
        "ip6 daddr . meta l4proto @any6 drop",
        "ip frag-off & 0x3fff != 0 ip daddr @vaddr4 drop",
        "ip daddr != @local4 ip saddr . meta l4proto . th sport @dest4 drop",
        "ip6 daddr != @local6 ip6 saddr . meta l4proto . th sport @dest6 drop",
        "ip daddr != @local4 ip saddr . meta l4proto @dany4 drop",
        "ip6 daddr != @local6 ip6 saddr . meta l4proto @dany6 drop",
    ] {
        let _ = writeln!(r, "    {rule}");
    }
    let _ = writeln!(r, "  }}\n}}");
    r
}

pub fn nft_table(ifname: &str) -> String {
    let safe: String = ifname
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("rvs_{safe}")
}

/// Apply a ruleset with `nft -f -` (one transaction: all or nothing).
pub fn nft_apply(script: &str) -> Result<(), SteerError> {
    use std::io::Write;
    let mut child = std::process::Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| SteerError::Nft(format!("cannot run nft (apt-get install nftables): {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(|e| SteerError::Nft(e.to_string()))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| SteerError::Nft(e.to_string()))?;
    if !out.status.success() {
        return Err(SteerError::Nft(
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ));
    }
    Ok(())
}

pub fn nft_remove(ifname: &str) {
    let t = nft_table(ifname);
    let _ = nft_apply(&format!("table netdev {t}\ndelete table netdev {t}\n"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvs_engine::config::Settings;
    use rvs_engine::topo::{config_with, Svc};
    use rvs_proto::Proto;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn cfg() -> Config {
        let nat = Svc::tcp("10.0.0.100", 80, "rr")
            .dest("172.16.0.2", 8000, FwdMethod::Masq, 1)
            .dest("172.16.0.3", 8000, FwdMethod::Route, 1)
            .build();
        let udp = Svc::new(Proto::Udp, "10.0.0.1", 53, "rr")
            .dest("172.16.0.4", 53, FwdMethod::FullNat, 1)
            .build();
        let settings = Settings {
            laddrs: vec![ip("172.16.0.250")],
            ..Settings::default()
        };
        config_with(vec![nat, udp], settings)
    }

    #[test]
    fn the_set_follows_the_services() {
        let locals: HashSet<IpAddr> = [ip("10.0.0.1"), ip("172.16.0.1")].into();
        let s = SteerSet::compute(&cfg(), &locals, []);
        assert!(s.svcs.contains(&EpKey::new(6, ip("10.0.0.100"), 80)));
        assert!(s.svcs.contains(&EpKey::new(0, ip("10.0.0.100"), 0)));
        assert!(s.svcs.contains(&EpKey::new(17, ip("10.0.0.1"), 53)));
        // NAT and FULLNAT dests are steered back; a DR dest never answers through us.
        assert!(s.dests.contains(&EpKey::new(6, ip("172.16.0.2"), 8000)));
        assert!(s.dests.contains(&EpKey::new(17, ip("172.16.0.4"), 53)));
        assert!(!s.dests.iter().any(|k| k.ip() == ip("172.16.0.3")));
        // The kernel owns 10.0.0.1 (seed 001's VIP is the director's address): it answers ARP.
        assert_eq!(s.owned, [ip("10.0.0.100"), ip("172.16.0.250")].into());
        assert_eq!(s.local.len(), 2);
        // A VRRP backup claims no address.
        let vips = VipOwnership::new();
        for a in ["10.0.0.100", "172.16.0.250", "10.0.0.1"] {
            vips.set_owned(ip(a), false);
        }
        assert!(SteerSet::compute(&cfg(), &locals, [])
            .only_owned(&vips)
            .owned
            .is_empty());
        // Marked owned again, a VIP is claimed again.
        vips.set_owned(ip("10.0.0.100"), true);
        assert_eq!(
            SteerSet::compute(&cfg(), &locals, [])
                .only_owned(&vips)
                .owned,
            [ip("10.0.0.100")].into()
        );
        // Draining dests stay.
        let extra = EpKey::new(6, ip("172.16.0.9"), 80);
        assert!(SteerSet::compute(&cfg(), &locals, [extra])
            .dests
            .contains(&extra));
    }

    #[test]
    fn keys_have_the_c_layout() {
        let k = EpKey::new(6, ip("10.1.2.3"), 80);
        assert_eq!(std::mem::size_of::<EpKey>(), 20);
        assert_eq!(std::mem::size_of::<AddrKey>(), 20);
        // SAFETY: EpKey is Pod; reading its bytes is fine.
        let b: [u8; 20] = unsafe { std::mem::transmute(k) };
        assert_eq!(&b[..4], &[4, 6, 0, 80]);
        assert_eq!(&b[4..8], &[10, 1, 2, 3]);
        assert_eq!(k.port(), 80);
        assert_eq!(k.ip(), ip("10.1.2.3"));
    }

    #[test]
    fn the_nft_ruleset_declares_every_set_it_uses() {
        let locals: HashSet<IpAddr> = [ip("10.0.0.1")].into();
        let s = SteerSet::compute(&cfg(), &locals, []);
        let r = nft_ruleset("eth0", &s);
        if let Ok(p) = std::env::var("RVS_DUMP_NFT") {
            std::fs::write(p, &r).unwrap();
        }
        assert!(r.starts_with("table netdev rvs_eth0\ndelete table netdev rvs_eth0\n"));
        assert!(r.contains("10.0.0.100 . 6 . 80"));
        assert!(r.contains("172.16.0.2 . 6 . 8000"));
        for used in r.lines().filter_map(|l| l.split('@').nth(1)) {
            let name = used.split_whitespace().next().unwrap();
            assert!(r.contains(&format!("set {name} {{")), "{name} undeclared");
        }
    }
}
