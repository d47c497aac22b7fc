//! The targets of `sessim plan` (`--target METRIC<VALUE`, each judged by its 95% confidence
//! interval over replications) and the cost columns `--minimize` accepts.

use crate::dist::suggest;
use crate::error::{Error, Result};
use crate::metrics::SummaryRow;
use crate::metrics::stats::Estimate;

/// How a target compares its metric with its value; the confidence interval must lie on the
/// right side of the value for the target to be met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    /// `<`: below the value.
    Lt,
    /// `<=`: at most the value.
    Le,
    /// `>`: above the value.
    Gt,
    /// `>=`: at least the value.
    Ge,
}

/// A target such as `latency_p99_ms<300`.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub(crate) metric: String,
    pub(crate) cmp: Cmp,
    pub(crate) value: f64,
}

impl Target {
    /// Parses `METRIC<VALUE`, `METRIC<=VALUE`, `METRIC>VALUE` or `METRIC>=VALUE`.
    pub fn parse(s: &str) -> Result<Target> {
        let bad = |m: String| Error::bad_input(format!("--target '{s}': {m}"));
        let pos = s
            .find(['<', '>'])
            .ok_or_else(|| bad("expected METRIC<VALUE or METRIC>VALUE, e.g. --target 'latency_p99_ms<300'".into()))?;
        let metric = s[..pos].trim();
        let rest = &s[pos..];
        let (cmp, value) = if let Some(v) = rest.strip_prefix("<=") {
            (Cmp::Le, v)
        } else if let Some(v) = rest.strip_prefix(">=") {
            (Cmp::Ge, v)
        } else if let Some(v) = rest.strip_prefix('<') {
            (Cmp::Lt, v)
        } else {
            (Cmp::Gt, &rest[1..])
        };
        if !SummaryRow::METRICS.contains(&metric) {
            return Err(bad(format!(
                "unknown metric `{metric}`{}; metrics: {}",
                suggest(metric, SummaryRow::METRICS),
                SummaryRow::METRICS.join(", ")
            )));
        }
        let value: f64 = value
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| bad(format!("`{}` is not a number", value.trim())))?;
        Ok(Target {
            metric: metric.to_string(),
            cmp,
            value,
        })
    }

    /// The end of the confidence interval that must clear the target.
    pub(crate) fn bound(&self, e: &Estimate) -> f64 {
        match self.cmp {
            Cmp::Lt | Cmp::Le => e.mean + e.ci95,
            Cmp::Gt | Cmp::Ge => e.mean - e.ci95,
        }
    }

    /// Met when the whole 95% interval is on the right side.
    pub fn met(&self, e: &Estimate) -> bool {
        let b = self.bound(e);
        match self.cmp {
            Cmp::Lt => b < self.value,
            Cmp::Le => b <= self.value,
            Cmp::Gt => b > self.value,
            Cmp::Ge => b >= self.value,
        }
    }
}

impl Cmp {
    /// The comparison as `--target` writes it (`<`, `<=`, `>`, `>=`).
    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}{}", self.metric, self.cmp.symbol(), self.value)
    }
}

impl Target {
    /// How far the interval's end is from the target, as a percentage of the target (positive:
    /// met with room to spare; negative: missed). Empty (NaN) for a target of 0.
    pub(crate) fn margin_pct(&self, e: &Estimate) -> f64 {
        let b = self.bound(e);
        let slack = match self.cmp {
            Cmp::Lt | Cmp::Le => self.value - b,
            Cmp::Gt | Cmp::Ge => b - self.value,
        };
        if self.value == 0.0 {
            f64::NAN
        } else {
            100.0 * slack / self.value.abs()
        }
    }
}

/// The columns `--minimize` accepts: the costs, whose fixed part bounds them from below.
pub const OBJECTIVES: &[&str] = &[
    "cost_total_per_h",
    "cost_backends_per_h",
    "cost_store_per_h",
    "cost_network_per_h",
    "cost_lost_per_h",
];

/// Checks a `--minimize` column.
pub fn parse_objective(s: &str) -> Result<String> {
    let s = s.trim();
    if OBJECTIVES.contains(&s) {
        return Ok(s.to_string());
    }
    Err(Error::bad_input(format!(
        "--minimize {s}: not a cost column{}; choose one of: {}",
        suggest(s, OBJECTIVES),
        OBJECTIVES.join(", ")
    )))
}
