//! Per-service and per-real-server counters and rate estimates, as `ipvsadm --stats/--rate`.
//!
//! Rates follow IPVS's estimator (`ip_vs_est.c`): every 2 seconds the counter deltas feed an
//! exponentially weighted moving average with weight 1/4, kept in fixed point (conns and
//! packets scaled by 2^10, bytes by 2^5) so that no float is needed and small rates survive.

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
}

impl Counters {
    /// One packet of `bytes`, client to server (`inbound`) or back.
    #[inline(always)]
    pub fn count_pkt(&mut self, inbound: bool, bytes: u64) {
        if inbound {
            self.inpkts += 1;
            self.inbytes += bytes;
        } else {
            self.outpkts += 1;
            self.outbytes += bytes;
        }
    }

    pub fn add(&mut self, o: &Counters) {
        self.conns += o.conns;
        self.inpkts += o.inpkts;
        self.outpkts += o.outpkts;
        self.inbytes += o.inbytes;
        self.outbytes += o.outbytes;
    }
}

/// Rates per second, as `ipvsadm --rate` shows them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rates {
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

/// IPVS estimation period.
pub const EST_PERIOD_MS: u64 = 2000;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Estimator {
    last: Counters,
    cps: i64,
    inpps: i64,
    outpps: i64,
    inbps: i64,
    outbps: i64,
}

impl Estimator {
    /// Start from the current counters so that history before now is not a burst.
    pub fn new(now: &Counters) -> Self {
        Estimator {
            last: *now,
            ..Default::default()
        }
    }

    /// One 2-second step. `<< 9` is "per second, scaled by 2^10" for a 2 s delta;
    /// `<< 4` is the same for bytes scaled by 2^5.
    pub fn tick(&mut self, c: &Counters) {
        fn ewma(avg: &mut i64, rate: i64) {
            *avg += (rate - *avg) >> 2;
        }
        let d = |now: u64, last: u64| now.wrapping_sub(last) as i64;
        ewma(&mut self.cps, d(c.conns, self.last.conns) << 9);
        ewma(&mut self.inpps, d(c.inpkts, self.last.inpkts) << 9);
        ewma(&mut self.outpps, d(c.outpkts, self.last.outpkts) << 9);
        ewma(&mut self.inbps, d(c.inbytes, self.last.inbytes) << 4);
        ewma(&mut self.outbps, d(c.outbytes, self.last.outbytes) << 4);
        self.last = *c;
    }

    /// IPVS `ip_vs_read_estimator`: round the fixed point to units.
    pub fn rates(&self) -> Rates {
        let r10 = |v: i64| (v.max(0) as u64 + 0x1FF) >> 10;
        let r5 = |v: i64| (v.max(0) as u64 + 0xF) >> 5;
        Rates {
            cps: r10(self.cps),
            inpps: r10(self.inpps),
            outpps: r10(self.outpps),
            inbps: r5(self.inbps),
            outbps: r5(self.outbps),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_rate_converges_to_itself() {
        let mut c = Counters::default();
        let mut e = Estimator::new(&c);
        for _ in 0..60 {
            c.conns += 200; // 100 per second
            c.inpkts += 2000;
            c.outpkts += 4000;
            c.inbytes += 2_000_000;
            c.outbytes += 8_000_000;
            e.tick(&c);
        }
        let r = e.rates();
        assert_eq!(r.cps, 100);
        assert_eq!(r.inpps, 1000);
        assert_eq!(r.outpps, 2000);
        assert_eq!(r.inbps, 1_000_000);
        assert_eq!(r.outbps, 4_000_000);
    }

    #[test]
    fn the_average_moves_a_quarter_of_the_way_each_period() {
        let mut c = Counters::default();
        let mut e = Estimator::new(&c);
        c.conns = 2000; // 1000/s for one period
        e.tick(&c);
        assert_eq!(e.rates().cps, 250);
        e.tick(&c); // nothing new: decays by a quarter
        assert_eq!(e.rates().cps, 187); // 187.5 in fixed point, rounded as IPVS does
    }
}
