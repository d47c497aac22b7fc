//! Axis types and tick labels: a categorical axis (one tick per category), a
//! base-10 log axis with 1-2-5 ticks, and the number format shared by an axis's
//! ticks (`5k, 10k, 15k`, not `5000, 10k, 15k`).

use std::ops::Range;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};

use super::common::fmt_num;

/// A categorical x axis over `[0, n]`: category `i` spans `[i, i + 1]` and gets
/// one tick, at its centre. (plotters' `WithKeyPoints` over an `f64` range has no
/// value formatter to hang our labels on.)
pub(crate) struct CategoryAxis {
    pub(crate) n: usize,
}

impl Ranged for CategoryAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let frac = value / self.n.max(1) as f64;
        limit.0 + (frac * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        // Every category is labelled, whatever the hint: a bar without its name
        // cannot be read. Long names are shortened to their slot instead.
        (0..self.n).map(|i| i as f64 + 0.5).collect()
    }

    fn range(&self) -> Range<f64> {
        0.0..self.n as f64
    }
}

impl ValueFormatter<f64> for CategoryAxis {
    fn format(value: &f64) -> String {
        fmt_num(*value)
    }
}

/// A base-10 logarithmic axis over `[lo, hi]`, `0 < lo < hi`. plotters' own log
/// axis labels only whole decades on short spans (2..32 gets just "10, 20, 30"),
/// so this one picks 1-2-5 ticks.
pub(crate) struct LogAxis {
    pub(crate) lo: f64,
    pub(crate) hi: f64,
}

impl Ranged for LogAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        // Non-positive values have no place on a log axis: pin them to the start.
        let v = value.max(self.lo * 1e-6);
        let frac = (v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln());
        limit.0 + (frac * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        log_ticks(self.lo, self.hi, hint.max_num_points())
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

impl ValueFormatter<f64> for LogAxis {
    fn format(value: &f64) -> String {
        fmt_num(*value)
    }
}

/// Ticks `m * 10^k` inside `[lo, hi]`: mantissas 1, 2, 5 if at most `max` fit,
/// else decades only (thinned if still too many), else 1..9 if 1-2-5 gives fewer
/// than three.
pub(crate) fn log_ticks(lo: f64, hi: f64, max: usize) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo && lo.is_finite() && hi.is_finite()) || max == 0 {
        return vec![];
    }
    let ticks = |mantissas: &[f64]| -> Vec<f64> {
        let (k0, k1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
        (k0..=k1)
            .flat_map(|k| mantissas.iter().map(move |m| m * 10f64.powi(k)))
            .filter(|&v| v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9))
            .collect()
    };
    let one_two_five = ticks(&[1.0, 2.0, 5.0]);
    if one_two_five.len() > max {
        let decades = ticks(&[1.0]);
        let step = decades.len().div_ceil(max).max(1);
        return decades.into_iter().step_by(step).collect();
    }
    if one_two_five.len() < 3 {
        let all = ticks(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        if all.len() <= max {
            return all;
        }
    }
    one_two_five
}

/// One number format for every tick of a linear axis: the unit prefix (k, M, G)
/// is chosen from the axis's largest magnitude.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AxisFormat {
    div: f64,
    suffix: &'static str,
}

impl AxisFormat {
    pub(crate) fn for_span(lo: f64, hi: f64) -> Self {
        let m = lo.abs().max(hi.abs());
        let (div, suffix) = if m >= 1e9 {
            (1e9, "G")
        } else if m >= 1e6 {
            (1e6, "M")
        } else if m >= 1e4 {
            (1e3, "k")
        } else {
            (1.0, "")
        };
        Self { div, suffix }
    }

    pub(crate) fn format(&self, v: f64) -> String {
        if !v.is_finite() {
            return "n/a".to_string();
        }
        let x = v / self.div;
        if x != 0.0 && x.abs() < 1e-3 && self.suffix.is_empty() {
            return fmt_num(v);
        }
        let s = format!("{x:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "0" || s == "-0" {
            // Zero needs no unit prefix.
            return "0".to_string();
        }
        format!("{s}{}", self.suffix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_use_one_two_five() {
        assert_eq!(log_ticks(1.5, 40.0, 10), vec![2.0, 5.0, 10.0, 20.0]);
        assert_eq!(
            log_ticks(1.0, 1000.0, 10),
            vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0]
        );
        // Too many 1-2-5 ticks: decades only.
        assert_eq!(log_ticks(1.0, 1e4, 6), vec![1.0, 10.0, 100.0, 1000.0, 1e4]);
        // A narrow span gets every integer mantissa.
        assert_eq!(log_ticks(3.5, 9.5, 10), vec![4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        assert!(log_ticks(0.0, 10.0, 10).is_empty());
    }

    #[test]
    fn an_axis_shares_one_unit_prefix() {
        let f = AxisFormat::for_span(0.0, 24_000.0);
        assert_eq!(f.format(5000.0), "5k");
        assert_eq!(f.format(12_500.0), "12.5k");
        assert_eq!(f.format(0.0), "0");
        let f = AxisFormat::for_span(0.0, 0.5);
        assert_eq!(f.format(0.25), "0.25");
        assert_eq!(f.format(-0.0), "0");
    }
}
