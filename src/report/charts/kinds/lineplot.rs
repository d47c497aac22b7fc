//! The drawing core of line and time-series charts: lines broken at missing
//! values, shaded confidence bands, shaded event bands and marked points, on
//! linear or logarithmic axes. The chart kinds turn their series into
//! [`PlotLine`]s and call [`draw_line_plot`].

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::axis::{AxisFormat, LogAxis};
use super::barplot::y_label_area;
use super::common::{
    AXIS_DESC_PX, GREY, INK, LIGHT_GREY, NOTE_PX, TICK_PX, anchored, finite_span, fit, fit_axis_descs, fmt_num,
    is_light, no_data, pad_linear, pad_log, text, text_width,
};
use super::{Per, check_len, value_at};
use crate::report::charts::error::DrawResultExt;
use crate::report::charts::{ChartError, Marker, Scale, XySeries};

/// A series ready to draw: contiguous runs of drawable points in increasing x.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PlotLine {
    pub colour: RGBColor,
    /// Runs of `(x, y)`; a missing y splits the line.
    pub runs: Vec<Vec<(f64, f64)>>,
    /// Runs of `(x, low, high)` of the confidence band.
    pub bands: Vec<Vec<(f64, f64, f64)>>,
}

/// Whether `v` can be placed on an axis of this scale.
pub(crate) fn drawable(v: f64, scale: Scale) -> bool {
    v.is_finite() && (scale == Scale::Linear || v > 0.0)
}

impl PlotLine {
    /// Checks lengths, drops what cannot be drawn (non-finite values, and values
    /// that are not positive on a log axis), sorts by x and splits the line where
    /// a y is missing.
    pub(crate) fn from_series(
        chart: &str,
        s: &XySeries,
        (x_scale, y_scale): (Scale, Scale),
        colour: RGBColor,
    ) -> Result<Self, ChartError> {
        check_len(
            chart,
            &format!("y of series {:?}", s.name),
            s.y.len(),
            s.x.len(),
            Per::XValue,
        )?;
        if let Some(ci) = &s.ci {
            check_len(
                chart,
                &format!("ci of series {:?}", s.name),
                ci.len(),
                s.x.len(),
                Per::XValue,
            )?;
        }
        let mut pts: Vec<(f64, f64, f64)> = (0..s.x.len())
            .map(|i| {
                (
                    value_at(&s.x, i),
                    value_at(&s.y, i),
                    s.ci.as_ref().map_or(f64::NAN, |c| value_at(c, i).abs()),
                )
            })
            .filter(|&(x, _, _)| drawable(x, x_scale))
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));

        let mut line = PlotLine {
            colour,
            runs: vec![],
            bands: vec![],
        };
        let (mut run, mut band) = (vec![], vec![]);
        for (x, y, ci) in pts {
            let y_ok = drawable(y, y_scale);
            if y_ok {
                run.push((x, y));
            } else if !run.is_empty() {
                line.runs.push(std::mem::take(&mut run));
            }
            // On a log axis the low edge of a band may fall to zero or below: it is
            // clamped to a small fraction of y, so the band still shows.
            let low = if y_scale == Scale::Log {
                (y - ci).max(y * 1e-3)
            } else {
                y - ci
            };
            if y_ok && ci.is_finite() {
                band.push((x, low, y + ci));
            } else if !band.is_empty() {
                line.bands.push(std::mem::take(&mut band));
            }
        }
        if !run.is_empty() {
            line.runs.push(run);
        }
        if !band.is_empty() {
            line.bands.push(band);
        }
        Ok(line)
    }

    fn point_count(&self) -> usize {
        self.runs.iter().map(Vec::len).sum()
    }

    /// Light colours (yellow) get a grey outline to stand out on white.
    fn needs_outline(&self) -> bool {
        is_light(self.colour)
    }
}

/// A shaded x interval with a label at its top.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ShadedEvent {
    pub label: String,
    pub start: f64,
    pub end: f64,
    pub fill: RGBColor,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct LinePlot<'a> {
    pub chart: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub x_scale: Scale,
    pub y_scale: Scale,
    pub lines: Vec<PlotLine>,
    pub markers: Vec<Marker>,
    pub events: Vec<ShadedEvent>,
}

const X_AREA_PX: u32 = 56;
const MARGIN_PX: u32 = 10;
const LABEL_ROW_PX: i32 = 20;
/// At most this many label rows at the top of the plot; more labels reuse rows.
const MAX_LABEL_ROWS: usize = 3;
/// Points are drawn as dots when a line has at most this many (sweeps), not for
/// dense time series.
const MAX_DOTTED_POINTS: usize = 40;

pub(crate) fn draw_line_plot<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    plot: &LinePlot,
) -> Result<(), ChartError> {
    let chart = plot.chart;
    let xs = plot
        .lines
        .iter()
        .flat_map(|l| l.runs.iter().flatten().map(|p| p.0))
        .chain(plot.markers.iter().map(|m| m.x))
        .chain(plot.events.iter().flat_map(|e| [e.start, e.end]))
        .filter(|&x| drawable(x, plot.x_scale));
    let ys = plot
        .lines
        .iter()
        .flat_map(|l| {
            l.runs
                .iter()
                .flatten()
                .map(|p| p.1)
                .chain(l.bands.iter().flatten().flat_map(|b| [b.1, b.2]))
        })
        .chain(plot.markers.iter().filter_map(|m| m.y))
        .filter(|&y| drawable(y, plot.y_scale));
    let (Some((x_lo, x_hi)), Some((y_lo, y_hi))) = (finite_span(xs), finite_span(ys)) else {
        return no_data(area, "No data to show", chart);
    };

    // Headroom for the event and marker labels, so that they never sit on a line:
    // the top `strip` pixels of the plot are kept free of data.
    let label_count = plot.events.len() + plot.markers.len();
    let rows = label_count.min(MAX_LABEL_ROWS);
    let (_, h) = area.dim_in_pixel();
    let plot_h = h.saturating_sub(X_AREA_PX + 2 * MARGIN_PX).max(1) as f64;
    let strip = if rows == 0 {
        0.0
    } else {
        f64::from(rows as i32 * LABEL_ROW_PX + 8)
    };
    let keep = 1.0 - (strip / plot_h).min(0.5);

    let y_axis = match plot.y_scale {
        Scale::Linear => {
            let (lo, hi) = pad_linear(y_lo, y_hi, 0.05);
            // Honest y axis: non-negative data starts at zero.
            let lo = if y_lo >= 0.0 { 0.0 } else { lo };
            Axis::Linear(lo, lo + (hi - lo) / keep)
        }
        Scale::Log => {
            let (lo, hi) = pad_log(y_lo, y_hi);
            Axis::Log(lo, lo * (hi / lo).powf(1.0 / keep))
        }
    };
    let x_axis = match plot.x_scale {
        // Time axes start and end where the data does; sweeps get a margin.
        Scale::Linear if !plot.events.is_empty() => {
            let (lo, hi) = pad_linear(x_lo, x_hi, 0.0);
            Axis::Linear(lo, hi)
        }
        Scale::Linear => {
            let (lo, hi) = pad_linear(x_lo, x_hi, 0.02);
            Axis::Linear(lo, hi)
        }
        Scale::Log => {
            let (lo, hi) = pad_log(x_lo, x_hi);
            Axis::Log(lo, hi)
        }
    };
    let frame = Frame {
        x: x_axis.span(),
        y: y_axis.span(),
        rows,
    };
    match (x_axis, y_axis) {
        (Axis::Linear(a, b), Axis::Linear(c, d)) => draw_on(area, plot, a..b, c..d, frame),
        (Axis::Linear(a, b), Axis::Log(c, d)) => draw_on(area, plot, a..b, LogAxis { lo: c, hi: d }, frame),
        (Axis::Log(a, b), Axis::Linear(c, d)) => draw_on(area, plot, LogAxis { lo: a, hi: b }, c..d, frame),
        (Axis::Log(a, b), Axis::Log(c, d)) => {
            draw_on(area, plot, LogAxis { lo: a, hi: b }, LogAxis { lo: c, hi: d }, frame)
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Axis {
    Linear(f64, f64),
    Log(f64, f64),
}

impl Axis {
    fn span(self) -> (f64, f64) {
        match self {
            Axis::Linear(lo, hi) | Axis::Log(lo, hi) => (lo, hi),
        }
    }
}

/// The axis spans and the number of label rows at the top.
#[derive(Clone, Copy, Debug)]
struct Frame {
    x: (f64, f64),
    y: (f64, f64),
    rows: usize,
}

/// Tick label of a value on an axis of this scale over `[lo, hi]`.
fn tick_formatter(scale: Scale, lo: f64, hi: f64) -> impl Fn(&f64) -> String {
    let format = AxisFormat::for_span(lo, hi);
    move |v: &f64| match scale {
        Scale::Linear => format.format(*v),
        // Log ticks span decades: each gets its own compact form.
        Scale::Log => fmt_num(*v),
    }
}

fn draw_on<DB, XS, YS>(
    area: &DrawingArea<DB, Shift>,
    plot: &LinePlot,
    x_spec: XS,
    y_spec: YS,
    frame: Frame,
) -> Result<(), ChartError>
where
    DB: DrawingBackend,
    XS: AsRangedCoord<Value = f64>,
    XS::CoordDescType: ValueFormatter<f64>,
    YS: AsRangedCoord<Value = f64>,
    YS::CoordDescType: ValueFormatter<f64>,
{
    let name = plot.chart;
    let ((x_min, x_max), (y_lo, y_hi)) = (frame.x, frame.y);
    let x_fmt = tick_formatter(plot.x_scale, x_min, x_max);
    let y_fmt = tick_formatter(plot.y_scale, y_lo, y_hi);
    let y_area = y_label_area(area, y_lo, y_hi, name)?;
    let (x_desc, y_desc) = fit_axis_descs(area, (plot.x_label, plot.y_label), (X_AREA_PX, y_area), name)?;
    let mut chart = ChartBuilder::on(area)
        .margin(MARGIN_PX)
        .margin_right(24)
        .x_label_area_size(X_AREA_PX)
        .y_label_area_size(y_area)
        .build_cartesian_2d(x_spec, y_spec)
        .drawing(name)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .bold_line_style(LIGHT_GREY)
        .x_labels(10)
        .y_labels(8)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .label_style(text(TICK_PX, INK))
        .axis_desc_style(text(AXIS_DESC_PX, INK))
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()
        .drawing(name)?;

    // Labels of events and markers go in the strip at the top, in rows, right of
    // their x if there is room there, otherwise left of it, cut to the room left.
    let (px_left, _) = chart.backend_coord(&(x_min, y_hi));
    let (px_right, _) = chart.backend_coord(&(x_max, y_hi));
    let label_style = text(NOTE_PX, INK);
    let wanted = plot
        .events
        .iter()
        .map(|e| (e.start.min(e.end), e.label.as_str()))
        .chain(plot.markers.iter().map(|m| (m.x, m.label.as_str())))
        .filter(|&(x, label)| drawable(x, plot.x_scale) && !label.is_empty());
    let mut labels = vec![];
    for (row, (x, label)) in wanted.enumerate() {
        let (px, _) = chart.backend_coord(&(x, y_hi));
        let dy = 4 + (row % frame.rows.max(1)) as i32 * LABEL_ROW_PX;
        let right_room = (px_right - px - 8).max(0) as u32;
        let left_room = (px - px_left - 8).max(0) as u32;
        let width = text_width(area, label, &label_style, name)?;
        let (room, h, dx) = if width <= right_room || right_room >= left_room {
            (right_room, HPos::Left, 5)
        } else {
            (left_room, HPos::Right, -5)
        };
        let shown = fit(area, label, &label_style, room, name)?;
        let style = anchored(label_style.clone(), h, VPos::Top);
        labels.push(EmptyElement::at((x, y_hi)) + Text::new(shown, (dx, dy), style));
    }

    // 1. Event bands, behind everything.
    for e in &plot.events {
        let (start, end) = (e.start.min(e.end), e.start.max(e.end));
        if !drawable(start, plot.x_scale) {
            continue;
        }
        if end - start <= f64::EPSILON * end.abs().max(1.0) {
            chart
                .draw_series([PathElement::new(
                    vec![(start, y_lo), (start, y_hi)],
                    e.fill.stroke_width(3),
                )])
                .drawing(name)?;
        } else {
            chart
                .draw_series([Rectangle::new([(start, y_lo), (end, y_hi)], e.fill.mix(0.55).filled())])
                .drawing(name)?;
        }
    }
    // 2. Confidence bands.
    for l in &plot.lines {
        for band in &l.bands {
            if let [(x, lo, hi)] = band[..] {
                chart
                    .draw_series([PathElement::new(
                        vec![(x, lo), (x, hi)],
                        l.colour.mix(0.4).stroke_width(6),
                    )])
                    .drawing(name)?;
                continue;
            }
            let poly: Vec<(f64, f64)> = band
                .iter()
                .map(|b| (b.0, b.2))
                .chain(band.iter().rev().map(|b| (b.0, b.1)))
                .collect();
            chart
                .draw_series([Polygon::new(poly, l.colour.mix(0.18).filled())])
                .drawing(name)?;
        }
    }
    // 3. Lines, with dots when they are sparse; light colours get an outline.
    for l in &plot.lines {
        let dotted = l.point_count() <= MAX_DOTTED_POINTS;
        let outline = l.needs_outline();
        for run in &l.runs {
            if outline {
                chart
                    .draw_series([PathElement::new(run.clone(), GREY.stroke_width(5))])
                    .drawing(name)?;
            }
            chart
                .draw_series([PathElement::new(run.clone(), l.colour.stroke_width(3))])
                .drawing(name)?;
            if dotted || run.len() == 1 {
                if outline {
                    chart
                        .draw_series(run.iter().map(|&p| Circle::new(p, 5, GREY.filled())))
                        .drawing(name)?;
                }
                chart
                    .draw_series(run.iter().map(|&p| Circle::new(p, 4, l.colour.filled())))
                    .drawing(name)?;
            }
        }
    }
    // 4. Markers on top.
    for m in &plot.markers {
        if !drawable(m.x, plot.x_scale) {
            continue;
        }
        chart
            .draw_series([DashedPathElement::new(
                vec![(m.x, y_lo), (m.x, y_hi)],
                8,
                5,
                INK.stroke_width(2),
            )])
            .drawing(name)?;
        if let Some(y) = m.y.filter(|&y| drawable(y, plot.y_scale)) {
            chart
                .draw_series([
                    Circle::new((m.x, y), 7, WHITE.filled()),
                    Circle::new((m.x, y), 7, INK.stroke_width(2)),
                ])
                .drawing(name)?;
        }
    }
    // 5. Labels last, so nothing covers them.
    chart.draw_series(labels).drawing(name)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xy(x: &[f64], y: &[f64], ci: Option<&[f64]>) -> XySeries {
        XySeries {
            name: "s".into(),
            x: x.to_vec(),
            y: y.to_vec(),
            ci: ci.map(<[f64]>::to_vec),
        }
    }

    #[test]
    fn lines_are_sorted_by_x_and_split_at_missing_values() {
        let s = xy(
            &[3.0, 1.0, 2.0, 4.0, 5.0],
            &[30.0, 10.0, f64::NAN, 40.0, 50.0],
            Some(&[1.0; 5]),
        );
        let l = PlotLine::from_series("c", &s, (Scale::Linear, Scale::Linear), BLACK).unwrap();
        assert_eq!(
            l.runs,
            vec![vec![(1.0, 10.0)], vec![(3.0, 30.0), (4.0, 40.0), (5.0, 50.0)]]
        );
        assert_eq!(l.bands[1][0], (3.0, 29.0, 31.0));
    }

    #[test]
    fn log_axes_drop_points_that_are_not_positive() {
        let s = xy(&[0.0, 1.0, 10.0, 100.0], &[5.0, 5.0, -1.0, 7.0], Some(&[10.0; 4]));
        let l = PlotLine::from_series("c", &s, (Scale::Log, Scale::Log), BLACK).unwrap();
        assert_eq!(l.runs, vec![vec![(1.0, 5.0)], vec![(100.0, 7.0)]]);
        // 5 - 10 < 0: the band's low edge is clamped to y / 1000.
        assert_eq!(l.bands[0][0], (1.0, 0.005, 15.0));
    }

    #[test]
    fn mismatched_lengths_name_the_series() {
        let s = xy(&[1.0, 2.0], &[1.0], None);
        let err = PlotLine::from_series("Latency", &s, (Scale::Linear, Scale::Linear), BLACK).unwrap_err();
        assert_eq!(
            err.to_string(),
            "chart \"Latency\": y of series \"s\" has 1 value but there are 2 x values; give one value per x value"
        );
    }
}
