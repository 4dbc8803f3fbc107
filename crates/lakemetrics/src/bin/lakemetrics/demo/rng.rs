//! The simulation's random source: `fastrand`'s seedable generator (wyrand),
//! with the few distributions the simulation needs on top. Not for anything but
//! synthetic load.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Rng(fastrand::Rng);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(fastrand::Rng::with_seed(seed))
    }

    /// An independent stream for worker `i`, the same for the same seed.
    pub fn fork(&mut self, i: u64) -> Rng {
        Rng::new(self.0.u64(..) ^ i.wrapping_mul(0xD1B5_4A32_D192_ED03))
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        self.0.f64()
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in `[lo, hi)` (`lo` if the range is empty).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            self.0.u64(lo..hi)
        }
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit(); // (0, 1]: ln is finite
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Log-normal with the given median and shape: most values near the median,
    /// a long right tail, as service latencies and file sizes are.
    pub fn log_normal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// A log-normal duration.
    pub fn latency(&mut self, median: Duration, sigma: f64) -> Duration {
        Duration::from_secs_f64(self.log_normal(median.as_secs_f64(), sigma).min(60.0))
    }

    /// Exponential with the given rate per second: the gap between Poisson arrivals.
    pub fn exp_gap(&mut self, rate: f64) -> Duration {
        let u = 1.0 - self.unit();
        Duration::from_secs_f64((-u.ln() / rate.max(1e-3)).min(3600.0))
    }

    /// One of `choices`, by weight.
    pub fn pick<'a>(&mut self, choices: &[(&'a str, f64)]) -> &'a str {
        let total: f64 = choices.iter().map(|c| c.1).sum();
        let mut x = self.unit() * total;
        for (name, w) in choices {
            if x < *w {
                return name;
            }
            x -= w;
        }
        choices.last().map_or("error", |c| c.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distributions_are_plausible() {
        let mut r = Rng::new(7);
        let n = 20_000;
        let mut v: Vec<f64> = (0..n).map(|_| r.log_normal(10.0, 0.5)).collect();
        v.sort_by(f64::total_cmp);
        let median = v[n / 2];
        assert!((9.5..10.5).contains(&median), "{median}");
        assert!(v[n * 99 / 100] > 25.0, "a right tail");
        let hits = (0..n).filter(|_| r.chance(0.1)).count();
        assert!((1700..2300).contains(&hits), "{hits}");
        let mean: f64 = (0..n).map(|_| r.exp_gap(4.0).as_secs_f64()).sum::<f64>() / n as f64;
        assert!((0.23..0.27).contains(&mean), "{mean}");
        let picks = (0..n)
            .filter(|_| r.pick(&[("a", 3.0), ("b", 1.0)]) == "a")
            .count();
        assert!((14_500..15_500).contains(&picks), "{picks}");
        assert!((0..n).all(|_| (20..80).contains(&r.range(20, 80))));
        assert_eq!(r.range(5, 5), 5);
    }

    #[test]
    fn a_seed_gives_the_same_streams() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        let (mut fa, mut fb) = (a.fork(1), b.fork(1));
        for _ in 0..100 {
            assert_eq!(fa.unit().to_bits(), fb.unit().to_bits());
        }
        assert_ne!(Rng::new(42).fork(1).unit(), Rng::new(42).fork(2).unit());
    }
}
