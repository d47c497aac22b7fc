//! One file per chart kind, each implementing [`DrawChart`]; `common` holds the
//! page layout and `barplot`/`lineplot` the two drawing cores the kinds share.

use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingBackend};

use crate::report::charts::{ChartError, Palette};

mod axis;
mod barplot;
mod common;
mod grouped;
mod line;
mod lineplot;
mod percentiles;
mod simple;
mod stacked;
mod timeseries;

/// A chart kind: draws itself on a canvas, taking series colours from `palette`.
pub(crate) trait DrawChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, palette: &mut Palette) -> Result<(), ChartError>;
}

/// What a vector must have one entry per: categories or x values.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Per {
    Category,
    XValue,
}

impl Per {
    fn name(self, n: usize) -> &'static str {
        match (self, n == 1) {
            (Per::Category, true) => "category",
            (Per::Category, false) => "categories",
            (Per::XValue, true) => "x value",
            (Per::XValue, false) => "x values",
        }
    }
}

/// Checks that `what` has one value per category (or per x value).
pub(crate) fn check_len(chart: &str, what: &str, got: usize, expected: usize, per: Per) -> Result<(), ChartError> {
    if got == expected {
        return Ok(());
    }
    let values = if got == 1 { "value" } else { "values" };
    let (is, are) = if expected == 1 { ("is", "") } else { ("", "are") };
    Err(ChartError::InvalidData {
        chart: chart.to_string(),
        reason: format!(
            "{what} has {got} {values} but there {is}{are} {expected} {}; give one value per {}",
            per.name(expected),
            per.name(1)
        ),
    })
}

/// Value `i` of `v`, or NaN (missing) if there is none. Lengths are checked
/// before drawing; this keeps indexing panic-free regardless.
pub(crate) fn value_at(v: &[f64], i: usize) -> f64 {
    v.get(i).copied().unwrap_or(f64::NAN)
}

/// The colour of `name` as an opaque plotters colour.
pub(crate) fn colour_of(palette: &mut Palette, name: &str) -> plotters::style::RGBColor {
    palette.assign(name).rgb()
}
