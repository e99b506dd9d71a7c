//! CPU accounting for the bench: the machine's busy time from /proc/stat (every contender
//! is divided by it, since the director's softirq time cannot be attributed to nftables)
//! and a load balancer process's own utime+stime.

use anyhow::{anyhow, bail, Context, Result};
use std::time::Duration;

/// Machine-wide busy and total CPU ticks (all CPUs) from /proc/stat.
fn cpu_ticks() -> Result<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let line = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .ok_or_else(|| anyhow!("/proc/stat has no cpu line"))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().context("/proc/stat field"))
        .collect::<Result<_>>()?;
    if v.len() < 8 {
        bail!("/proc/stat cpu line too short: {line}");
    }
    // user nice system idle iowait irq softirq steal; guest time is already in user.
    let busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    Ok((busy, busy + v[3] + v[4]))
}

fn clk_tck() -> f64 {
    rustix::param::clock_ticks_per_second() as f64
}

/// utime+stime of a process and all its threads, in ticks.
fn proc_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    let rest = stat
        .rsplit_once(") ")
        .ok_or_else(|| anyhow!("malformed /proc/{pid}/stat"))?
        .1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| -> Result<u64> {
        f.get(i)
            .ok_or_else(|| anyhow!("/proc/{pid}/stat too short"))?
            .parse::<u64>()
            .context("/proc/PID/stat field")
    };
    // Fields 14 and 15 (utime, stime), counted from field 3 after the command name.
    Ok(get(11)? + get(12)?)
}

/// CPU used during one measurement.
pub struct CpuWindow {
    pub busy0: u64,
    pub total0: u64,
    pub proc0: Option<u64>,
    pub pid: Option<u32>,
}

pub struct CpuUse {
    pub busy_s: f64,
    pub busy_frac: f64,
    pub proc_s: Option<f64>,
}

impl CpuWindow {
    pub fn start(pid: Option<u32>) -> Result<CpuWindow> {
        let (busy0, total0) = cpu_ticks()?;
        let proc0 = pid.map(proc_ticks).transpose()?;
        Ok(CpuWindow {
            busy0,
            total0,
            proc0,
            pid,
        })
    }

    pub fn end(self) -> Result<CpuUse> {
        let (busy1, total1) = cpu_ticks()?;
        let hz = clk_tck();
        let proc_s = match (self.pid, self.proc0) {
            (Some(pid), Some(p0)) => Some(proc_ticks(pid)?.saturating_sub(p0) as f64 / hz),
            _ => None,
        };
        let busy = busy1.saturating_sub(self.busy0);
        let total = total1.saturating_sub(self.total0).max(1);
        Ok(CpuUse {
            busy_s: busy as f64 / hz,
            busy_frac: busy as f64 / total as f64,
            proc_s,
        })
    }
}

/// How busy the machine is with nothing of ours running: other builds on a shared VM
/// show up here and explain noisy figures.
pub fn background_busy() -> Result<f64> {
    let w = CpuWindow::start(None)?;
    // The sampling window: a measurement, not a wait for anything.
    std::thread::sleep(Duration::from_secs(1));
    Ok(w.end()?.busy_frac)
}
