//! The conn tables in shared memory (files in a tmpfs such as /dev/shm), so that a restarted
//! rvsd — after an upgrade, or a crash — re-attaches every connection its predecessor had.
//!
//! Each file is a 4 KiB header and the table's entries, mapped MAP_SHARED. Only the entries
//! are trusted on re-attach: the engine rebuilds its indexes and counters from them
//! (`Engine::with_conn_memory`). The header records the entry layout, so a build whose
//! entries differ starts afresh instead of misreading them, and the clock origin of the
//! process that wrote the deadlines, so the successor can move them onto its own clock.

use rvs_engine::conn::Conn;
use rvs_engine::ConnMemory;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

const MAGIC: [u8; 8] = *b"RVSCONN1";
const HEADER: usize = 4096;

#[repr(C)]
#[derive(Clone, Copy)]
struct Header {
    magic: [u8; 8],
    entry_size: u32,
    capacity: u32,
    /// CLOCK_MONOTONIC milliseconds at which the writer's `now_ms` was 0.
    clock_origin_ms: i64,
}

/// Milliseconds on CLOCK_MONOTONIC, the clock `std::time::Instant` reads on Linux: the
/// same for every process since boot, which is what lets deadlines cross a restart.
pub fn monotonic_ms() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
}

/// One mapped table file; mapped for the rest of the process's life (the engine holds
/// `&'static mut` views of it), and locked so that no second rvsd maps it.
struct Mapped {
    _file: File,
    base: *mut u8,
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
    // SAFETY: flock on our own fd.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(std::io::Error::other(format!(
            "{} is in use by another rvsd",
            path.display()
        )));
    }
    let old_len = file.metadata()?.len() as usize;
    let mut fresh = old_len != len;
    if fresh {
        // A different size or layout: what is there cannot be read as our entries.
        file.set_len(0)?;
        file.set_len(len as u64)?;
    }
    // SAFETY: a shared mapping of the whole file, which is `len` bytes long.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_POPULATE,
            file.as_raw_fd(),
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    let base = base as *mut u8;
    // SAFETY: the header fits in the first 4 KiB of the mapping; Header is plain data.
    let hdr = unsafe { &mut *(base as *mut Header) };
    if !fresh && (hdr.magic != MAGIC || hdr.entry_size != entry_size || hdr.capacity != capacity) {
        fresh = true;
        // SAFETY: zero the whole mapping: no entry is marked in use afterwards.
        unsafe { std::ptr::write_bytes(base, 0, len) };
    }
    let shift = if fresh {
        None
    } else {
        Some(hdr.clock_origin_ms - origin_ms)
    };
    hdr.magic = MAGIC;
    hdr.entry_size = entry_size;
    hdr.capacity = capacity;
    hdr.clock_origin_ms = origin_ms;
    // The mapping outlives every user: it is never unmapped (the file stays locked until
    // the process exits).
    let m = Box::leak(Box::new(Mapped { _file: file, base }));
    // SAFETY: entries start at a 4 KiB boundary (aligned for T), span `capacity` Ts inside
    // the mapping, and this is the only view of them in this process. T is plain data
    // (repr(C) integers and byte arrays), valid for any bit pattern.
    let entries =
        unsafe { std::slice::from_raw_parts_mut(m.base.add(HEADER) as *mut T, capacity as usize) };
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
