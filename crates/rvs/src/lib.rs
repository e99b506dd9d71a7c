//! The rvs binaries' shared code (layer: I/O and wiring). `daemon` holds rvsd's control
//! plane: a sans-IO core that owns the virtual server table (transactions, keepalived's
//! plan, timers), the event loop that drives it, persistence in the state directory, and
//! the control socket. The binaries in `bin/` only parse their arguments and call into
//! here or into `rvs-ctl`.

#![forbid(unsafe_code)]

pub mod daemon;
