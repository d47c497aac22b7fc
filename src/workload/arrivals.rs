//! User arrivals: a Poisson process whose rate may follow a piecewise-constant profile
//! (a daily peak, a ramp in steps).
//!
//! A non-homogeneous Poisson process is generated exactly by inversion: draw E ~ Exp(1) and
//! advance until the integrated rate since the last arrival reaches E (Cinlar, "Introduction to
//! Stochastic Processes", 1975, the time-transformation theorem). No thinning, no bias.

use crate::engine::SimTime;
use crate::engine::rng::{self, SimRng, Stream};
use crate::scenario::{ProfileStep, Workload};
use rand_distr::{Distribution, Exp1};

/// The arrival times of new users: a Poisson process whose rate follows the workload's
/// profile (exact for a piecewise-constant rate).
pub struct Arrivals {
    rng: SimRng,
    base_rate: f64,
    /// (start [s], factor), starting at 0.
    steps: Vec<(f64, f64)>,
    /// Period [s] of the profile, if it repeats.
    repeat: Option<f64>,
    /// Time of the last arrival [s]. Kept as a float between arrivals; each arrival is rounded
    /// to the nanosecond when scheduled.
    t: f64,
}

impl Arrivals {
    /// The arrivals of replication `rep` of a run with `seed`.
    pub fn new(w: &Workload, seed: u64, rep: u32) -> Self {
        let steps = if w.profile.is_empty() {
            vec![(0.0, 1.0)]
        } else {
            w.profile
                .iter()
                .map(|ProfileStep { at, factor }| (at.as_secs_f64(), *factor))
                .collect()
        };
        Arrivals {
            rng: rng::stream(seed, rep, Stream::Arrivals),
            base_rate: w.users_per_second,
            steps,
            repeat: w.profile_repeat.map(|r| r.as_secs_f64()),
            t: 0.0,
        }
    }

    /// The segment containing time `t`: (rate [1/s], end of the segment [s], infinite for the
    /// last one of a profile that does not repeat).
    fn segment(&self, t: f64) -> (f64, f64) {
        let (offset, local) = match self.repeat {
            Some(p) => {
                let k = (t / p).floor();
                (k * p, t - k * p)
            }
            None => (0.0, t),
        };
        let i = self
            .steps
            .partition_point(|(start, _)| *start <= local)
            .saturating_sub(1);
        let end = match self.steps.get(i + 1) {
            Some((next, _)) => offset + next,
            None => self.repeat.map_or(f64::INFINITY, |p| offset + p),
        };
        (self.base_rate * self.steps[i].1, end)
    }

    /// The time of the next arrival, or `None` if the rate stays zero forever.
    pub fn next_arrival(&mut self) -> Option<SimTime> {
        let mut e: f64 = Exp1.sample(&mut self.rng);
        // A repeating profile with all factors zero would loop forever; a bound on segments
        // visited per arrival makes that a clean end of arrivals instead.
        for _ in 0..1_000_000 {
            let (rate, end) = self.segment(self.t);
            if rate > 0.0 {
                let dt = e / rate;
                if self.t + dt <= end {
                    self.t += dt;
                    return Some(SimTime::from_secs_f64(self.t));
                }
                e -= rate * (end - self.t);
            }
            if end.is_infinite() {
                return None;
            }
            // Step onto the boundary; nudge past float rounding that could leave us on it.
            self.t = if end > self.t { end } else { self.t + 1e-9 };
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_str;

    fn arrivals(extra: &str, rate: f64) -> Arrivals {
        let text = format!("name = \"t\"\nduration = \"1h\"\n[workload]\nusers_per_second = {rate}\n{extra}");
        let w = load_str(&text, "t.toml", &[]).unwrap().strategies[0]
            .system
            .workload
            .clone();
        Arrivals::new(&w, 3, 0)
    }

    fn count_until(a: &mut Arrivals, end: f64) -> Vec<f64> {
        let mut v = Vec::new();
        while let Some(t) = a.next_arrival() {
            if t.as_secs_f64() >= end {
                break;
            }
            v.push(t.as_secs_f64());
        }
        v
    }

    #[test]
    fn constant_rate_gives_poisson_counts() {
        // 100/s over 1000 s: count ~ Poisson(100000), sd 316; 4 sd is 1265.
        let v = count_until(&mut arrivals("", 100.0), 1000.0);
        assert!((v.len() as f64 - 100_000.0).abs() < 1265.0, "{}", v.len());
        // Exponential gaps: the coefficient of variation of gaps is 1.
        let gaps: Vec<f64> = v.windows(2).map(|w| w[1] - w[0]).collect();
        let m = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let sd = (gaps.iter().map(|g| (g - m).powi(2)).sum::<f64>() / gaps.len() as f64).sqrt();
        assert!((sd / m - 1.0).abs() < 0.02, "cv {}", sd / m);
    }

    #[test]
    fn profile_steps_change_the_rate() {
        let p = "profile = [{ at = \"0s\", factor = 1.0 }, { at = \"100s\", factor = 0.0 }, { at = \"200s\", factor = 3.0 }]\n";
        let v = count_until(&mut arrivals(p, 50.0), 300.0);
        let first = v.iter().filter(|t| **t < 100.0).count() as f64;
        let gap = v.iter().filter(|t| **t >= 100.0 && **t < 200.0).count();
        let third = v.iter().filter(|t| **t >= 200.0).count() as f64;
        assert_eq!(gap, 0, "factor 0 means no arrivals");
        // Poisson(5000) and Poisson(15000): 4 sd bounds.
        assert!((first - 5000.0).abs() < 283.0, "{first}");
        assert!((third - 15000.0).abs() < 490.0, "{third}");
    }

    #[test]
    fn repeating_profile_repeats() {
        let p =
            "profile = [{ at = \"0s\", factor = 0.0 }, { at = \"50s\", factor = 2.0 }]\nprofile_repeat = \"100s\"\n";
        let v = count_until(&mut arrivals(p, 10.0), 1000.0);
        assert!(
            v.iter().all(|t| t.rem_euclid(100.0) >= 50.0),
            "no arrivals in the first half of each period"
        );
        // 10 periods x 50 s x 20/s = 10000 expected; sd 100.
        assert!((v.len() as f64 - 10_000.0).abs() < 400.0, "{}", v.len());
    }

    #[test]
    fn zero_rate_forever_ends_arrivals() {
        let p = "profile = [{ at = \"0s\", factor = 1.0 }, { at = \"10s\", factor = 0.0 }]\n";
        let mut a = arrivals(p, 10.0);
        let v = count_until(&mut a, f64::INFINITY);
        assert!(v.iter().all(|t| *t < 10.0));
        assert!(a.next_arrival().is_none());
    }
}
