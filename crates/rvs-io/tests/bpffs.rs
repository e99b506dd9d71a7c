//! `ensure_bpffs` mounts a bpffs where none is, and leaves an existing one alone. Needs
//! root (mount(2)); without it the test fails, it never skips.

use rvs_io::steer::ensure_bpffs;

fn bpf_mounts_at(dir: &std::path::Path) -> usize {
    let at = dir.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mounts")
        .expect("mounts")
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some(at.as_str()) && l.contains(" bpf "))
        .count()
}

#[test]
fn a_bpffs_is_mounted_once() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test mounts a bpffs: run it as root"
    );
    let dir = std::env::temp_dir().join(format!("rvs-io-bpffs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    assert_eq!(bpf_mounts_at(&dir), 0);
    let first = ensure_bpffs(&dir);
    let second = ensure_bpffs(&dir);
    let mounted = bpf_mounts_at(&dir);
    let _ = rustix::mount::unmount(&dir, rustix::mount::UnmountFlags::DETACH);
    let _ = std::fs::remove_dir(&dir);
    first.expect("mount");
    second.expect("already there");
    assert_eq!(mounted, 1, "mounted once, not stacked");
}
