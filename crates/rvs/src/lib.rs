//! The rvs binaries' shared code (layer: I/O and wiring). `daemon` holds rvsd's control
//! plane: the authoritative virtual server table, its translation into engine snapshots,
//! persistence in the state directory, and the control socket. The binaries in `bin/` only
//! parse their arguments and call into here or into `rvs-ctl`.

pub mod daemon;
