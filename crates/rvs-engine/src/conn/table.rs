//! The connection table: flat arrays and `u32` indexes, no pointers.
//!
//! Why this shape: every field is plain old data, so the whole table can later live in a
//! shared-memory region that a restarted rvsd re-attaches (the data-path issue). Two chained
//! hash indexes share one slab of entries: `in` keys the client→VIP direction
//! (IPVS `ip_vs_conn_in_get`), `out` keys the real-server→client direction of NAT and FULLNAT
//! (`ip_vs_conn_out_get`). DR/TUN conns never see replies, so they are only in `in`.
//!
//! Expiry is lazy plus a sweeping hand: a lookup treats an entry whose deadline passed as
//! gone (so timeouts and persistence templates expire exactly on time), and
//! [`ConnTable::sweep`] walks a bounded number of slots per call to reclaim them and let the
//! engine unbind them from their dest. This replaces IPVS's per-conn kernel timers, which
//! would cost a timer node per entry.

use super::{Conn, ConnAddr, ConnFlags, ConnKey, NIL};
use std::collections::VecDeque;

/// Wrapping millisecond clock kept in each entry (u32 saves 4 bytes a conn). Deadlines are
/// compared with wrapping arithmetic, which is sound while every deadline lies within
/// ±24.8 days of `now`; [`MAX_TIMEOUT_MS`] bounds the timeouts and the sweeping hand reclaims
/// expired entries long before they could wrap.
pub type Tick = u32;

/// Longest timeout a conn or template may carry (about 24 days).
pub const MAX_TIMEOUT_MS: u32 = (1 << 31) - 1;

#[inline]
pub fn tick_of(now_ms: u64) -> Tick {
    now_ms as u32
}

/// `deadline <= now` on the wrapping clock.
#[inline]
pub fn passed(deadline: Tick, now: Tick) -> bool {
    (now.wrapping_sub(deadline) as i32) >= 0
}

/// Why an insert failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsertError {
    /// Every slot holds a live, non-embryonic conn: the caller drops the packet and counts it.
    Full,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableCounters {
    /// Embryonic (SYN_RECV) entries evicted to make room.
    pub evicted_embryonic: u64,
    /// Expired-but-unswept entries reclaimed to make room.
    pub reclaimed_expired: u64,
    /// Inserts refused because nothing could be evicted.
    pub full: u64,
}

/// Where the entries live: the heap, or memory the embedder provides (a shared-memory file
/// that outlives a crashed rvsd, so that its successor re-attaches every conn).
pub enum Entries<A: 'static> {
    Heap(Box<[Conn<A>]>),
    External(&'static mut [Conn<A>]),
}

impl<A> core::ops::Deref for Entries<A> {
    type Target = [Conn<A>];
    #[inline]
    fn deref(&self) -> &[Conn<A>] {
        match self {
            Entries::Heap(b) => b,
            Entries::External(s) => s,
        }
    }
}

impl<A> core::ops::DerefMut for Entries<A> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [Conn<A>] {
        match self {
            Entries::Heap(b) => b,
            Entries::External(s) => s,
        }
    }
}

pub struct ConnTable<A: ConnAddr> {
    entries: Entries<A>,
    in_heads: Box<[u32]>,
    out_heads: Box<[u32]>,
    mask: u32,
    free_head: u32,
    len: u32,
    hand: u32,
    seed: [u64; 2],
    /// Indexes of conns that entered SYN_RECV, oldest first; validated lazily on use.
    embryonic: VecDeque<u32>,
    embryonic_cap: usize,
    pub counters: TableCounters,
}

impl<A: ConnAddr> ConnTable<A> {
    /// A table of exactly `capacity` entries (at least 1) and a power-of-two bucket count
    /// no smaller than the capacity, so chains average at most one entry when full.
    pub fn new(capacity: u32, seed: u64) -> Self {
        let capacity = capacity.max(1);
        let entries = vec![Conn::<A>::EMPTY; capacity as usize].into_boxed_slice();
        let mut t = Self::with_entries(Entries::Heap(entries), seed);
        t.rebuild(|_, _| false);
        t
    }

    /// A table over `entries` as they are, with no index yet: call [`ConnTable::rebuild`]
    /// before use. Empty memory gives an empty table; memory a previous process left
    /// gives back its conns.
    pub fn with_entries(entries: Entries<A>, seed: u64) -> Self {
        let capacity = (entries.len() as u32).max(1);
        let buckets = capacity.next_power_of_two();
        // An embryonic ring of capacity/8 is enough: eviction only needs *some* SYN_RECV
        // entry, and stale indexes are skipped when popped.
        let embryonic_cap = (capacity as usize / 8).max(16);
        ConnTable {
            entries,
            in_heads: vec![NIL; buckets as usize].into_boxed_slice(),
            out_heads: vec![NIL; buckets as usize].into_boxed_slice(),
            mask: buckets - 1,
            free_head: 0,
            len: 0,
            hand: 0,
            seed: [
                seed ^ 0x9e37_79b9_7f4a_7c15,
                seed.rotate_left(32) ^ 0xd6e8_feb8_6659_fd93,
            ],
            embryonic: VecDeque::with_capacity(embryonic_cap),
            embryonic_cap,
            counters: TableCounters::default(),
        }
    }

    /// Rebuild both indexes, the free list and the embryonic ring from the entries alone:
    /// `keep(idx, entry)` sees every entry marked in use (and may edit it) and says whether
    /// it stays. Nothing but the entries is trusted, so memory left by a process killed in
    /// the middle of an update still gives a consistent table. Returns the entries kept.
    pub fn rebuild(&mut self, mut keep: impl FnMut(u32, &mut Conn<A>) -> bool) -> u32 {
        self.in_heads.fill(NIL);
        self.out_heads.fill(NIL);
        self.embryonic.clear();
        self.free_head = NIL;
        self.len = 0;
        self.hand = 0;
        for i in (0..self.entries.len() as u32).rev() {
            let e = &mut self.entries[i as usize];
            if e.flags.contains(ConnFlags::IN_USE) && keep(i, e) {
                self.link_entry(i);
                self.len += 1;
            } else {
                *e = Conn::EMPTY;
                e.next_in = self.free_head;
                self.free_head = i;
            }
        }
        for i in 0..self.entries.len() as u32 {
            let e = &self.entries[i as usize];
            if e.flags.contains(ConnFlags::IN_USE) && e.is_embryonic() {
                self.note_embryonic(i);
            }
        }
        self.len
    }

    /// Every slot, live or free, for adopting memory a previous process left.
    pub(crate) fn slots_mut(&mut self) -> &mut [Conn<A>] {
        &mut self.entries
    }

    #[inline]
    pub fn capacity(&self) -> u32 {
        self.entries.len() as u32
    }

    #[inline]
    pub fn len(&self) -> u32 {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub fn get(&self, idx: u32) -> &Conn<A> {
        &self.entries[idx as usize]
    }

    #[inline]
    pub fn get_mut(&mut self, idx: u32) -> &mut Conn<A> {
        &mut self.entries[idx as usize]
    }

    /// Bucket of a key; exposed so a batch can prefetch before it looks up.
    #[inline]
    pub fn bucket(&self, key: &ConnKey<A>) -> u32 {
        (key.hash(self.seed) as u32) & self.mask
    }

    /// Address of a bucket head and of the entry it names, for software prefetching.
    #[inline]
    pub fn in_head_ptr(&self, bucket: u32) -> *const u32 {
        &self.in_heads[bucket as usize]
    }

    #[inline]
    pub fn out_head_ptr(&self, bucket: u32) -> *const u32 {
        &self.out_heads[bucket as usize]
    }

    #[inline]
    pub fn in_head(&self, bucket: u32) -> u32 {
        self.in_heads[bucket as usize]
    }

    #[inline]
    pub fn entry_ptr(&self, idx: u32) -> *const Conn<A> {
        if idx == NIL {
            core::ptr::null()
        } else {
            &self.entries[idx as usize]
        }
    }

    /// IPVS `ip_vs_conn_in_get`/`ip_vs_ct_in_get`: the entry whose client-side key matches,
    /// live or expired (the caller decides; an expired one must be removed before a new
    /// conn with the same key is inserted).
    #[inline]
    pub fn find_in(&self, key: &ConnKey<A>) -> Option<u32> {
        self.find_in_bucket(self.bucket(key), key)
    }

    #[inline]
    pub fn find_in_bucket(&self, bucket: u32, key: &ConnKey<A>) -> Option<u32> {
        let mut i = self.in_heads[bucket as usize];
        while i != NIL {
            let e = &self.entries[i as usize];
            if e.in_key_matches(key) {
                return Some(i);
            }
            i = e.next_in;
        }
        None
    }

    /// IPVS `ip_vs_conn_out_get`: the NAT/FULLNAT entry a real server's reply belongs to.
    /// The key is the reply as seen on the wire: (proto, daddr, dport, raddr, rport).
    #[inline]
    pub fn find_out(&self, key: &ConnKey<A>) -> Option<u32> {
        self.find_out_bucket(self.bucket(key), key)
    }

    /// Both indexes hash the same key shape with the same seed, so a packet's bucket serves
    /// its `in` probe and, if that misses, its `out` probe.
    #[inline]
    pub fn find_out_bucket(&self, bucket: u32, key: &ConnKey<A>) -> Option<u32> {
        let mut i = self.out_heads[bucket as usize];
        while i != NIL {
            let e = &self.entries[i as usize];
            if e.out_key_matches(key) {
                return Some(i);
            }
            i = e.next_out;
        }
        None
    }

    /// Whether a reply key is taken (FULLNAT local-port allocation probes with this).
    #[inline]
    pub fn out_key_taken(&self, key: &ConnKey<A>) -> bool {
        self.find_out(key).is_some()
    }

    /// Insert a conn. The caller has already removed any entry with the same key.
    /// On a full table an embryonic or expired entry is evicted first; `on_evict` sees it
    /// so the engine can unbind it from its dest.
    pub fn insert(
        &mut self,
        mut conn: Conn<A>,
        now: Tick,
        on_evict: impl FnMut(&Conn<A>),
    ) -> Result<u32, InsertError> {
        if self.free_head == NIL && !self.evict_one(now, on_evict) {
            self.counters.full += 1;
            return Err(InsertError::Full);
        }
        let idx = self.free_head;
        self.free_head = self.entries[idx as usize].next_in;
        conn.flags.insert(ConnFlags::IN_USE);
        self.entries[idx as usize] = conn;
        self.link_entry(idx);
        self.len += 1;
        Ok(idx)
    }

    /// Take an entry out of both indexes (it keeps its slot).
    fn unlink_entry(&mut self, idx: u32) {
        let conn = self.entries[idx as usize];
        let in_b = self.bucket(&conn.in_key()) as usize;
        unlink(&mut self.entries, &mut self.in_heads[in_b], idx, |e| {
            &mut e.next_in
        });
        if conn.flags.contains(ConnFlags::OUT_HASHED) {
            let out_b = self.bucket(&conn.out_key()) as usize;
            unlink(&mut self.entries, &mut self.out_heads[out_b], idx, |e| {
                &mut e.next_out
            });
        }
    }

    /// Put an entry at the head of its chains in both indexes.
    fn link_entry(&mut self, idx: u32) {
        let conn = self.entries[idx as usize];
        let in_b = self.bucket(&conn.in_key()) as usize;
        self.entries[idx as usize].next_in = self.in_heads[in_b];
        self.in_heads[in_b] = idx;
        self.entries[idx as usize].next_out = NIL;
        if conn.flags.contains(ConnFlags::OUT_HASHED) {
            let out_b = self.bucket(&conn.out_key()) as usize;
            self.entries[idx as usize].next_out = self.out_heads[out_b];
            self.out_heads[out_b] = idx;
        }
    }

    /// Unlink and free an entry, returning a copy of it.
    pub fn remove(&mut self, idx: u32) -> Conn<A> {
        let conn = self.entries[idx as usize];
        debug_assert!(conn.flags.contains(ConnFlags::IN_USE));
        self.unlink_entry(idx);
        let e = &mut self.entries[idx as usize];
        *e = Conn::EMPTY;
        e.next_in = self.free_head;
        self.free_head = idx;
        self.len -= 1;
        conn
    }

    /// Change an entry's keys in place (same index), relinking it in both indexes. IPVS
    /// re-hashes an invalidated template this way; keeping the index keeps every conn's
    /// `control` reference valid.
    pub fn rekey(&mut self, idx: u32, f: impl FnOnce(&mut Conn<A>)) {
        self.unlink_entry(idx);
        f(&mut self.entries[idx as usize]);
        self.link_entry(idx);
    }

    /// Remember that a conn just became embryonic, for eviction under pressure.
    pub fn note_embryonic(&mut self, idx: u32) {
        if self.embryonic.len() >= self.embryonic_cap {
            self.embryonic.pop_front();
        }
        self.embryonic.push_back(idx);
    }

    /// Free one slot: an expired entry, else the oldest embryonic one. IPVS would rather fail
    /// the allocation; evicting half-open entries first keeps established flows safe from a
    /// SYN flood.
    fn evict_one(&mut self, now: Tick, mut on_evict: impl FnMut(&Conn<A>)) -> bool {
        // Expired entries are free capacity that the hand has not reached yet.
        let cap = self.capacity();
        for _ in 0..cap.min(64) {
            let i = self.advance_hand();
            let e = &self.entries[i as usize];
            if e.flags.contains(ConnFlags::IN_USE) && e.expired(now) {
                let c = self.remove(i);
                on_evict(&c);
                self.counters.reclaimed_expired += 1;
                return true;
            }
        }
        while let Some(i) = self.embryonic.pop_front() {
            let e = &self.entries[i as usize];
            if e.flags.contains(ConnFlags::IN_USE) && e.is_embryonic() {
                let c = self.remove(i);
                on_evict(&c);
                self.counters.evicted_embryonic += 1;
                return true;
            }
        }
        false
    }

    /// IPVS `ip_vs_random_dropentry` (the drop_entry defence): evict up to `max` embryonic
    /// entries, oldest first. Returns how many went.
    pub fn drop_embryonic(&mut self, max: usize, mut on_evict: impl FnMut(&Conn<A>)) -> usize {
        let mut n = 0;
        while n < max {
            let Some(i) = self.embryonic.pop_front() else {
                break;
            };
            let e = &self.entries[i as usize];
            if e.flags.contains(ConnFlags::IN_USE) && e.is_embryonic() {
                let c = self.remove(i);
                on_evict(&c);
                self.counters.evicted_embryonic += 1;
                n += 1;
            }
        }
        n
    }

    #[inline]
    fn advance_hand(&mut self) -> u32 {
        let i = self.hand;
        self.hand = if i + 1 >= self.capacity() { 0 } else { i + 1 };
        i
    }

    /// Visit `budget` slots from the sweeping hand; reclaim expired entries. A template that
    /// still controls conns is not removed: `on_template_due` decides (IPVS re-arms it).
    /// Returns the number of entries removed.
    pub fn sweep(
        &mut self,
        now: Tick,
        budget: u32,
        on_due: impl FnMut(&mut Conn<A>) -> bool,
        on_removed: impl FnMut(&Conn<A>),
    ) -> u32 {
        self.sweep_bounded(now, budget, u32::MAX, on_due, on_removed)
            .1
    }

    /// [`ConnTable::sweep`] that also stops once `max_removed` entries went, so that one
    /// call's work stays bounded when most of the table expires at once (a removal costs
    /// two chain walks, a visit a sequential read). Returns (slots visited, removed).
    pub fn sweep_bounded(
        &mut self,
        now: Tick,
        budget: u32,
        max_removed: u32,
        mut on_due: impl FnMut(&mut Conn<A>) -> bool,
        mut on_removed: impl FnMut(&Conn<A>),
    ) -> (u32, u32) {
        let mut removed = 0;
        let mut visited = 0;
        let budget = budget.min(self.capacity());
        while visited < budget && removed < max_removed {
            let i = self.advance_hand();
            visited += 1;
            let e = &mut self.entries[i as usize];
            if e.flags.contains(ConnFlags::IN_USE) && passed(e.expires, now) && on_due(e) {
                let c = self.remove(i);
                on_removed(&c);
                removed += 1;
            }
        }
        (visited, removed)
    }

    /// All live entries, for listings (`ipvsadm -Lnc`) and export.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Conn<A>)> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.flags.contains(ConnFlags::IN_USE))
            .map(|(i, e)| (i as u32, e))
    }

    /// Bytes of heap this table holds, for the bytes-per-conn figure.
    pub fn heap_bytes(&self) -> usize {
        core::mem::size_of_val(&*self.entries)
            + core::mem::size_of_val(&*self.in_heads)
            + core::mem::size_of_val(&*self.out_heads)
            + self.embryonic.capacity() * 4
    }
}

fn unlink<A: ConnAddr>(
    entries: &mut [Conn<A>],
    head: &mut u32,
    idx: u32,
    next: impl Fn(&mut Conn<A>) -> &mut u32,
) {
    if *head == idx {
        *head = *next(&mut entries[idx as usize]);
        return;
    }
    let mut i = *head;
    while i != NIL {
        let n = *next(&mut entries[i as usize]);
        if n == idx {
            let after = *next(&mut entries[idx as usize]);
            *next(&mut entries[i as usize]) = after;
            return;
        }
        i = n;
    }
    debug_assert!(false, "conn {idx} not on its chain");
}
