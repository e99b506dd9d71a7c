//! The conn tables in shared memory (files in a tmpfs such as /dev/shm), so that a restarted
//! rvsd — after an upgrade, or a crash — re-attaches every connection its predecessor had.
//!
//! Each file is a 4 KiB header and the table's entries, mapped shared (memmap2). Only the
//! entries are trusted on re-attach: the engine rebuilds its indexes and counters from them
//! (`Engine::with_conn_memory`). The header records the entry layout, so a build whose
//! entries differ starts afresh instead of misreading them, and the clock origin of the
//! process that wrote the deadlines, so the successor can move them onto its own clock.

use memmap2::{MmapMut, MmapOptions};
use rvs_engine::conn::Conn;
use rvs_engine::ConnMemory;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

const MAGIC: [u8; 8] = *b"RVSCONN1";
const HEADER: usize = 4096;

/// The header's fields: byte ranges in native byte order, the layout of the
/// `#[repr(C)] struct { magic: [u8; 8], entry_size: u32, capacity: u32,
/// clock_origin_ms: i64 }` that earlier builds wrote, so their files stay adoptable.
mod field {
    use std::ops::Range;
    pub const MAGIC: Range<usize> = 0..8;
    pub const ENTRY_SIZE: Range<usize> = 8..12;
    pub const CAPACITY: Range<usize> = 12..16;
    /// CLOCK_MONOTONIC milliseconds at which the writer's `now_ms` was 0.
    pub const CLOCK_ORIGIN_MS: Range<usize> = 16..24;
}

fn get_u32(h: &[u8], r: std::ops::Range<usize>) -> u32 {
    u32::from_ne_bytes(h[r].try_into().expect("4-byte field"))
}

/// Milliseconds on CLOCK_MONOTONIC, the clock `std::time::Instant` reads on Linux: the
/// same for every process since boot, which is what lets deadlines cross a restart.
pub fn monotonic_ms() -> i64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
}

/// One mapped table file; mapped for the rest of the process's life (the engine holds
/// `&'static mut` views of it), and locked so that no second rvsd maps it.
struct Mapped {
    _file: File,
    map: MmapMut,
}

/// Takes the file's exclusive lock, or says who holds it. flock(2) through rustix rather
/// than fs4: the lock belongs to the open file and the kernel drops it when rvsd dies, even
/// by `kill -9`, which is what lets the successor in; rustix already makes the call safe,
/// so a crate for this one call would add nothing (std's `File::try_lock` is newer than
/// the workspace's rust-version).
fn lock(file: &File, path: &Path) -> std::io::Result<()> {
    use rustix::fs::{flock, FlockOperation};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(std::io::Error::other(format!(
            "{} is in use by another rvsd",
            path.display()
        ))),
        Err(e) => Err(e.into()),
    }
}

fn map_table<T>(
    path: &Path,
    capacity: u32,
    origin_ms: i64,
) -> std::io::Result<(&'static mut [T], Option<i64>)> {
    let entry_size = std::mem::size_of::<T>() as u32;
    let len = HEADER + capacity as usize * entry_size as usize;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    lock(&file, path)?;
    let old_len = file.metadata()?.len() as usize;
    let mut fresh = old_len != len;
    if fresh {
        // A different size or layout: what is there cannot be read as our entries.
        file.set_len(0)?;
        file.set_len(len as u64)?;
    }
    // SAFETY: the mapping is of a file we hold the exclusive flock of, at the length we
    // just checked or set; no other rvsd maps or truncates it while we live (the lock),
    // and nothing in this process resizes it.
    let map = unsafe { MmapOptions::new().len(len).populate().map_mut(&file)? };
    // The mapping outlives every user: it is never unmapped (the file stays locked until
    // the process exits).
    let m: &'static mut Mapped = Box::leak(Box::new(Mapped { _file: file, map }));
    let (hdr, body) = m.map.split_at_mut(HEADER);
    if !fresh
        && (hdr[field::MAGIC] != MAGIC
            || get_u32(hdr, field::ENTRY_SIZE) != entry_size
            || get_u32(hdr, field::CAPACITY) != capacity)
    {
        fresh = true;
        // No entry is marked in use afterwards.
        hdr.fill(0);
        body.fill(0);
    }
    let shift = if fresh {
        None
    } else {
        let old = i64::from_ne_bytes(hdr[field::CLOCK_ORIGIN_MS].try_into().expect("8 bytes"));
        Some(old - origin_ms)
    };
    hdr[field::MAGIC].copy_from_slice(&MAGIC);
    hdr[field::ENTRY_SIZE].copy_from_slice(&entry_size.to_ne_bytes());
    hdr[field::CAPACITY].copy_from_slice(&capacity.to_ne_bytes());
    hdr[field::CLOCK_ORIGIN_MS].copy_from_slice(&origin_ms.to_ne_bytes());
    debug_assert_eq!(body.as_ptr() as usize % std::mem::align_of::<T>(), 0);
    debug_assert_eq!(body.len(), capacity as usize * std::mem::size_of::<T>());
    // SAFETY: `body` starts at a 4 KiB boundary of a page-aligned mapping (aligned for T),
    // holds exactly `capacity` Ts, and is borrowed for 'static from the leaked mapping, so
    // this is the only view of those bytes. T is plain data (repr(C) integers and byte
    // arrays), valid for any bit pattern.
    let entries =
        unsafe { std::slice::from_raw_parts_mut(body.as_mut_ptr().cast::<T>(), capacity as usize) };
    Ok((entries, shift))
}

/// Map (or create) `dir/conns4` and `dir/conns6`. `origin_ms` is the CLOCK_MONOTONIC time
/// at which this process's `now_ms` is 0. The header's origin is rewritten at once: the
/// engine shifts the deadlines while it adopts them, before it forwards anything.
pub fn open(dir: &Path, cap4: u32, cap6: u32, origin_ms: i64) -> std::io::Result<ConnMemory> {
    std::fs::create_dir_all(dir)?;
    let p4: PathBuf = dir.join("conns4");
    let p6: PathBuf = dir.join("conns6");
    let (v4, s4) = map_table::<Conn<[u8; 4]>>(&p4, cap4, origin_ms)?;
    let (v6, s6) = map_table::<Conn<[u8; 16]>>(&p6, cap6, origin_ms)?;
    // Both files come from the same writer; if one was recreated, adopt what the other has.
    let shift = s4.or(s6);
    Ok(ConnMemory {
        v4,
        v6,
        clock_shift_ms: shift,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: u32 = 8;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rvs-shm-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// A file as the earlier `#[repr(C)] Header` wrote it, entries filled with a pattern.
    fn old_file(path: &Path, entry_size: usize, origin: i64) -> Vec<u8> {
        let mut b = vec![0u8; HEADER + CAP as usize * entry_size];
        b[..8].copy_from_slice(b"RVSCONN1");
        b[8..12].copy_from_slice(&(entry_size as u32).to_ne_bytes());
        b[12..16].copy_from_slice(&CAP.to_ne_bytes());
        b[16..24].copy_from_slice(&origin.to_ne_bytes());
        for (i, x) in b[HEADER..].iter_mut().enumerate() {
            *x = (i % 251) as u8 + 1;
        }
        std::fs::write(path, &b).unwrap();
        b
    }

    #[test]
    fn a_predecessors_file_is_adopted_byte_for_byte() {
        let d = dir("adopt");
        let s4 = std::mem::size_of::<Conn<[u8; 4]>>();
        let s6 = std::mem::size_of::<Conn<[u8; 16]>>();
        let before4 = old_file(&d.join("conns4"), s4, 1_000);
        old_file(&d.join("conns6"), s6, 1_000);
        let mem = open(&d, CAP, CAP, 1_500).unwrap();
        assert_eq!(mem.clock_shift_ms, Some(-500));
        assert_eq!((mem.v4.len(), mem.v6.len()), (CAP as usize, CAP as usize));
        // Through the mapping, MAP_SHARED: the file now says the new origin, nothing else
        // changed.
        let after4 = std::fs::read(d.join("conns4")).unwrap();
        assert_eq!(after4[16..24], 1_500i64.to_ne_bytes());
        assert_eq!(after4[..16], before4[..16]);
        assert_eq!(after4[HEADER..], before4[HEADER..], "entries kept");
        // And locked: a second rvsd is refused.
        let e = open(&d, CAP, CAP, 2_000)
            .err()
            .expect("second open refused");
        assert!(e.to_string().contains("in use by another rvsd"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn another_layout_starts_afresh() {
        let d = dir("fresh");
        let s4 = std::mem::size_of::<Conn<[u8; 4]>>();
        let s6 = std::mem::size_of::<Conn<[u8; 16]>>();
        // Same file size, but the header names another entry size.
        let mut b = old_file(&d.join("conns4"), s4, 1_000);
        b[8..12].copy_from_slice(&(s4 as u32 + 1).to_ne_bytes());
        std::fs::write(d.join("conns4"), &b).unwrap();
        // A different capacity changes the size.
        std::fs::write(d.join("conns6"), vec![7u8; HEADER + s6]).unwrap();
        let mem = open(&d, CAP, CAP, 1_500).unwrap();
        assert_eq!(mem.clock_shift_ms, None);
        let after4 = std::fs::read(d.join("conns4")).unwrap();
        assert!(after4[HEADER..].iter().all(|&x| x == 0), "entries cleared");
        assert_eq!(after4[..8], *b"RVSCONN1");
        assert_eq!(after4[8..12], (s4 as u32).to_ne_bytes());
        let after6 = std::fs::read(d.join("conns6")).unwrap();
        assert_eq!(after6.len(), HEADER + CAP as usize * s6);
        assert!(after6[HEADER..].iter().all(|&x| x == 0));
        let _ = std::fs::remove_dir_all(&d);
    }
}
