//! The drawing core of every bar chart (stacked, grouped, simple, percentiles):
//! takes bar geometry already laid out in data coordinates over a categorical x
//! axis (category `i` spans `[i, i + 1]`) and draws axes, bars, whiskers and value
//! labels. The chart kinds only compute the geometry.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::axis::{AxisFormat, CategoryAxis};
use super::common::{
    AXIS_DESC_PX, GREY, INK, LIGHT_GREY, NOTE_PX, TICK_PX, anchored, finite_span, fit_axis_descs, fmt_num, pad_linear,
    text, text_width, wrap,
};
use crate::report::charts::error::DrawResultExt;
use crate::report::charts::{ChartError, Threshold};

/// One filled rectangle, in data coordinates.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct BarRect {
    pub(crate) x0: f64,
    pub(crate) x1: f64,
    pub(crate) y0: f64,
    pub(crate) y1: f64,
    pub(crate) fill: RGBAColor,
    pub(crate) outline: Option<RGBColor>,
}

/// A confidence-interval whisker at `x` from `lo` to `hi`, caps `cap` wide.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Whisker {
    pub(crate) x: f64,
    pub(crate) cap: f64,
    pub(crate) lo: f64,
    pub(crate) hi: f64,
}

impl Whisker {
    /// The whisker of `v ± ci`. A bar that is not negative measures something that cannot be
    /// (a count, a percentage, a coefficient of variation): its interval is cut at zero, as a
    /// Student-t interval of a small sample can reach below it (mean 0.017, half-width 0.023).
    pub(crate) fn around(x: f64, cap: f64, v: f64, ci: f64) -> Whisker {
        let lo = v - ci;
        Whisker {
            x,
            cap,
            lo: if v >= 0.0 { lo.max(0.0) } else { lo },
            hi: v + ci,
        }
    }
}

/// The text of a bar's value: [`fmt_num`], except that a value too small to matter prints as
/// `0.000`, as the tables print it with three decimals, not as `1.5e-5`.
pub(crate) fn value_text(v: f64) -> String {
    if v != 0.0 && v.abs() < 1e-3 {
        format!("{:.3}", v.abs())
    } else {
        fmt_num(v)
    }
}

/// A value written above `(x, y)`, only if it fits in `width` (x units).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ValueLabel {
    pub(crate) x: f64,
    pub(crate) y: f64,
    pub(crate) width: f64,
    pub(crate) text: String,
}

/// Everything a bar chart draws inside its plot area.
#[derive(Clone, Debug, Default)]
pub(crate) struct BarPlot<'a> {
    pub(crate) chart: &'a str,
    pub(crate) x_label: &'a str,
    pub(crate) y_label: &'a str,
    pub(crate) categories: &'a [String],
    pub(crate) rects: Vec<BarRect>,
    pub(crate) whiskers: Vec<Whisker>,
    pub(crate) labels: Vec<ValueLabel>,
    /// X centres of bars whose value is missing (NaN/infinite): marked "n/a".
    pub(crate) missing: Vec<f64>,
    /// Horizontal reference lines across the plot (dashed; their labels go in the legend, so
    /// that they never sit on a bar).
    pub(crate) references: Vec<Threshold>,
}

impl BarPlot<'_> {
    /// The value label above a bar of value `v` at `x` (of width `width`), and its confidence
    /// whisker (half-width `ci`, capped `cap` wide) when there is a finite one.
    pub(crate) fn annotate(&mut self, x: f64, width: f64, cap: f64, v: f64, ci: Option<f64>) {
        let mut top = v.max(0.0);
        if let Some(ci) = ci.map(f64::abs).filter(|c| c.is_finite()) {
            self.whiskers.push(Whisker::around(x, cap, v, ci));
            top = top.max(v + ci);
        }
        self.labels.push(ValueLabel {
            x,
            y: top,
            width,
            text: value_text(v),
        });
    }

    /// The y span: always includes zero (bars grow from it), with headroom above
    /// for value labels.
    fn y_span(&self) -> (f64, f64) {
        let ys = self
            .rects
            .iter()
            .flat_map(|r| [r.y0, r.y1])
            .chain(self.whiskers.iter().flat_map(|w| [w.lo, w.hi]))
            .chain(self.references.iter().map(|r| r.y))
            .chain([0.0]);
        let (lo, hi) = finite_span(ys).unwrap_or((0.0, 1.0));
        if hi - lo < 1e-12 {
            return (0.0, 1.0);
        }
        let (plo, phi) = pad_linear(lo, hi, 0.08);
        // Keep the zero baseline on the axis edge when all values are on one side.
        (if lo >= 0.0 { 0.0 } else { plo }, if hi <= 0.0 { 0.0 } else { phi })
    }
}

/// Extra room below the x axis for category labels and the axis description [px].
const X_AREA_PX: u32 = 56;
/// Category names take at most this many lines, each this tall [px].
const MAX_LABEL_LINES: usize = 3;
const LABEL_LINE_PX: u32 = 18;

pub(crate) fn draw_bar_plot<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    plot: &BarPlot,
) -> Result<(), ChartError> {
    let chart_name = plot.chart;
    let n = plot.categories.len().max(1);
    let (y_lo, y_hi) = plot.y_span();

    let tick = text(TICK_PX, INK);
    let y_area = y_label_area(area, y_lo, y_hi, chart_name)?;
    let (w, _) = area.dim_in_pixel();
    let slot_px = (w.saturating_sub(y_area + 20) / n as u32).max(1);
    // Category names are wrapped onto up to three lines (long strategy labels such as
    // "round-robin + replicated_backup" would otherwise be cut to a few words) and drawn below
    // the axis by hand; the mesh's own labels stay empty.
    let mut shown = Vec::with_capacity(n);
    for c in plot.categories {
        shown.push(wrap(
            area,
            c,
            &tick,
            slot_px.saturating_sub(6),
            MAX_LABEL_LINES,
            chart_name,
        )?);
    }
    let lines = shown.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let x_area = X_AREA_PX + (lines as u32 - 1) * LABEL_LINE_PX;
    let x_fmt = |_: &f64| String::new();
    let y_format = AxisFormat::for_span(y_lo, y_hi);
    let y_fmt = |v: &f64| y_format.format(*v);

    let (x_desc, y_desc) = fit_axis_descs(area, (plot.x_label, plot.y_label), (x_area, y_area), chart_name)?;
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(x_area)
        .y_label_area_size(y_area)
        .build_cartesian_2d(CategoryAxis { n }, y_lo..y_hi)
        .drawing(chart_name)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .bold_line_style(LIGHT_GREY)
        .y_labels(8)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .label_style(tick.clone())
        .axis_desc_style(text(AXIS_DESC_PX, INK))
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()
        .drawing(chart_name)?;
    let base = area.get_base_pixel();
    let label_style = anchored(tick.clone(), HPos::Center, VPos::Top);
    for (i, lines) in shown.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(i as f64 + 0.5, y_lo));
        for (k, line) in lines.iter().enumerate() {
            let at = (px - base.0, py - base.1 + 6 + k as i32 * LABEL_LINE_PX as i32);
            area.draw_text(line, &label_style, at).drawing(chart_name)?;
        }
    }

    chart
        .draw_series(
            plot.rects
                .iter()
                .map(|r| Rectangle::new([(r.x0, r.y0), (r.x1, r.y1)], r.fill.filled())),
        )
        .drawing(chart_name)?;
    chart
        .draw_series(plot.rects.iter().filter_map(|r| {
            r.outline
                .map(|c| Rectangle::new([(r.x0, r.y0), (r.x1, r.y1)], c.stroke_width(1)))
        }))
        .drawing(chart_name)?;
    if y_lo < 0.0 {
        chart
            .draw_series([PathElement::new(vec![(0.0, 0.0), (n as f64, 0.0)], INK.stroke_width(1))])
            .drawing(chart_name)?;
    }

    // Whiskers in ink over a white halo, so they stay visible on dark bars.
    for style in [WHITE.stroke_width(4), INK.stroke_width(2)] {
        for wk in &plot.whiskers {
            chart
                .draw_series([
                    PathElement::new(vec![(wk.x, wk.lo), (wk.x, wk.hi)], style),
                    PathElement::new(vec![(wk.x - wk.cap, wk.lo), (wk.x + wk.cap, wk.lo)], style),
                    PathElement::new(vec![(wk.x - wk.cap, wk.hi), (wk.x + wk.cap, wk.hi)], style),
                ])
                .drawing(chart_name)?;
        }
    }

    for r in plot.references.iter().filter(|r| r.y.is_finite()) {
        chart
            .draw_series([DashedPathElement::new(
                vec![(0.0, r.y), (n as f64, r.y)],
                6,
                4,
                INK.stroke_width(1),
            )])
            .drawing(chart_name)?;
    }

    let label_style = anchored(text(NOTE_PX, INK), HPos::Center, VPos::Bottom);
    for l in &plot.labels {
        let (px0, _) = chart.backend_coord(&(l.x - l.width / 2.0, l.y));
        let (px1, _) = chart.backend_coord(&(l.x + l.width / 2.0, l.y));
        let room = (px1 - px0).max(0) as u32 + 4;
        if text_width(area, &l.text, &label_style, chart_name)? > room {
            continue;
        }
        chart
            .draw_series([EmptyElement::at((l.x, l.y)) + Text::new(l.text.clone(), (0, -4), label_style.clone())])
            .drawing(chart_name)?;
    }

    let na_style = anchored(text(NOTE_PX, GREY), HPos::Center, VPos::Bottom);
    chart
        .draw_series(
            plot.missing
                .iter()
                .map(|&x| EmptyElement::at((x, 0.0)) + Text::new("n/a", (0, -4), na_style.clone())),
        )
        .drawing(chart_name)?;
    Ok(())
}

/// Width of the y label area [px]: the widest tick label plus the rotated axis
/// description.
pub(crate) fn y_label_area<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    lo: f64,
    hi: f64,
    chart: &str,
) -> Result<u32, ChartError> {
    let tick = text(TICK_PX, INK);
    let format = AxisFormat::for_span(lo, hi);
    let mut widest = 0;
    for v in [lo, hi, (lo + hi) / 2.0, lo + (hi - lo) * 0.9, lo + (hi - lo) * 0.45] {
        widest = widest.max(text_width(area, &format.format(v), &tick, chart)?);
    }
    Ok(widest + 14 + AXIS_DESC_PX as u32 + 14)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whiskers_of_non_negative_bars_stop_at_zero() {
        // The imbalance chart of what-do-i-lose: HAProxy cookie's CoV 0.017 ± 0.023 over
        // replications would reach 0.017 - 0.023 = -0.006, a CoV no run can have: cut at 0.
        let mut plot = BarPlot::default();
        plot.annotate(0.5, 0.6, 0.06, 0.017, Some(0.023));
        assert_eq!((plot.whiskers[0].lo, plot.whiskers[0].hi), (0.0, 0.017 + 0.023));
        // An interval that stays above zero is drawn as it is: 5 ± 2 = 3..7.
        plot.annotate(1.5, 0.6, 0.06, 5.0, Some(2.0));
        assert_eq!((plot.whiskers[1].lo, plot.whiskers[1].hi), (3.0, 7.0));
        // A negative bar (a difference) keeps its whole interval: -1 ± 2 = -3..1.
        plot.annotate(2.5, 0.6, 0.06, -1.0, Some(2.0));
        assert_eq!((plot.whiskers[2].lo, plot.whiskers[2].hi), (-3.0, 1.0));
    }

    #[test]
    fn tiny_values_print_as_the_table_prints_them() {
        // The CoV of round-robin, 1.5e-5, is 0.000 in the table (three decimals).
        assert_eq!(value_text(1.5e-5), "0.000");
        assert_eq!(value_text(-2e-4), "0.000");
        assert_eq!(value_text(0.0), "0");
        assert_eq!(value_text(0.0462), "0.0462");
        assert_eq!(value_text(29_100.0), "29.1k");
    }
}
