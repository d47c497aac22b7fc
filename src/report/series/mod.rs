//! The data of every chart, computed from result rows: pure functions from
//! [`RunTables`]/[`SweepTables`] to chart inputs ([`crate::report::charts`]), separate from
//! drawing so that the numbers drawn can be tested.
//!
//! Conventions:
//! - Strategies appear in the order of their first row in `summary.csv` (the scenario's order)
//!   and keep one colour in every chart (the strategies' palette); loss causes and backends
//!   have palettes of their own ([`ColourKey`]).
//! - A bar or point is the mean over replications; its interval the 95% Student-t half-width
//!   ([`crate::metrics::stats::estimate`]), absent with one replication.
//! - Time series show the first replication of each strategy (averaging replications would
//!   blur random failures, which differ between replications), with that replication's faults.
//! - A chart with nothing to show for the run (no faults, no store, no sweep axis) is not
//!   produced at all.
//! - The saturation knee is the first swept value at which the mean utilisation (of the
//!   backends' workers, or of the busiest store server) reaches [`KNEE_UTILISATION`]. At 0.9 an
//!   M/M/1 queue already waits 9 service times on average (rho / (1 - rho)), and waiting grows
//!   without bound past it, so this is where latency turns upward.

use super::charts::{BarGroups, Bars, Chart, EventBand, LineChart, Marker, Percentiles, Scale, Series, StackedBars};
use super::charts::{Threshold, TimeSeries, XySeries};
use super::input::{RunTables, SweepTables};
use crate::metrics::loss::LostCause;
use crate::metrics::stats::{Estimate, estimate};
use crate::metrics::{Column, SummaryRow, TimeseriesRow, col};

/// Utilisation at which a sweep point counts as saturated (see the module doc).
pub(crate) const KNEE_UTILISATION: f64 = 0.9;

/// Which palette colours a chart's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColourKey {
    Strategies,
    Causes,
    // No chart colours its names by backend at the moment; it was hidden from dead-code
    // analysis while `ColourKey` was public.
    #[allow(dead_code)]
    Backends,
    /// The parts of the backends' work ([`WORK_LAYERS`]).
    Work,
}

/// A chart to draw: its file stem, its data, its palette, and a sentence for the report.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ChartSpec {
    pub(crate) stem: String,
    pub(crate) chart: Chart,
    pub(crate) colours: ColourKey,
    pub(crate) caption: String,
}

/// Strategies in order of first appearance.
pub(crate) fn strategies(summary: &[SummaryRow]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in summary {
        if !out.contains(&r.strategy) {
            out.push(r.strategy.clone());
        }
    }
    out
}

/// The estimate of one summary metric over the replications of `strategy`.
pub(crate) fn metric_estimate(summary: &[SummaryRow], strategy: &str, metric: Column) -> Estimate {
    let v: Vec<f64> = summary
        .iter()
        .filter(|r| r.strategy == strategy)
        .filter_map(|r| metric.of(r))
        .collect();
    estimate(&v)
}

/// `Some(half-widths)` when every one is finite (there were replications), else `None`.
fn cis(e: &[Estimate]) -> Option<Vec<f64>> {
    e.iter()
        .all(|e| e.ci95.is_finite())
        .then(|| e.iter().map(|e| e.ci95).collect())
}

fn mean_or_nan(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

mod over_time;
mod plan;
mod run;
mod sweep;
#[cfg(test)]
mod tests;

pub(crate) use over_time::*;
pub(crate) use plan::*;
pub(crate) use run::*;
pub(crate) use sweep::*;
