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
use crate::report::charts::{ChartError, Marker, Scale, Threshold, XySeries};

/// A series ready to draw: contiguous runs of drawable points in increasing x.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PlotLine {
    pub(crate) colour: RGBColor,
    /// Runs of `(x, y)`; a missing y splits the line.
    pub(crate) runs: Vec<Vec<(f64, f64)>>,
    /// Runs of `(x, low, high)` of the confidence band.
    pub(crate) bands: Vec<Vec<(f64, f64, f64)>>,
    /// Points with a finite y that the y axis cannot show (zero or below on a log axis): the
    /// chart says how many it left out.
    pub(crate) dropped: usize,
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
            dropped: 0,
        };
        let (mut run, mut band) = (vec![], vec![]);
        for (x, y, ci) in pts {
            let y_ok = drawable(y, y_scale);
            if y.is_finite() && !y_ok {
                line.dropped += 1;
            }
            if y_ok {
                run.push((x, y));
            } else if !run.is_empty() {
                line.runs.push(std::mem::take(&mut run));
            }
            // On a log axis the low edge of a band may fall to zero or below: it is
            // clamped to a small fraction of y, so the band still shows.
            // On a linear axis a band around a value that is not negative (a latency, a
            // percentage, a utilisation) stops at zero, where the quantity does.
            let low = if y_scale == Scale::Log {
                (y - ci).max(y * 1e-3)
            } else if y >= 0.0 {
                (y - ci).max(0.0)
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
    pub(crate) label: String,
    pub(crate) start: f64,
    pub(crate) end: f64,
    pub(crate) fill: RGBColor,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct LinePlot<'a> {
    pub(crate) chart: &'a str,
    pub(crate) x_label: &'a str,
    pub(crate) y_label: &'a str,
    pub(crate) x_scale: Scale,
    pub(crate) y_scale: Scale,
    pub(crate) lines: Vec<PlotLine>,
    pub(crate) markers: Vec<Marker>,
    pub(crate) events: Vec<ShadedEvent>,
    pub(crate) thresholds: Vec<Threshold>,
}

/// Where a label of the top strip goes: its row, which side of its line, and the room it may
/// take [px] (it is cut with an ellipsis to that).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Placed {
    pub(crate) row: usize,
    pub(crate) right: bool,
    pub(crate) room: u32,
}

/// Gap kept between two labels of one row, and between a label and its line [px].
const LABEL_GAP_PX: i32 = 6;

/// Places labels in the top strip so that no two overlap: each `(px, width)` (its line's x and
/// its text's width, in pixels) goes in the first row, from the top, where it fits beside its
/// line without touching a label placed before, right of the line if it fits there, else left.
/// When no row has room for the whole text, it goes where it can show the most, cut to the
/// room before its neighbour (or the plot's edge). `span` is the plot's `(left, right)` [px].
pub(crate) fn place_labels(wanted: &[(i32, u32)], span: (i32, i32), rows: usize) -> Vec<Placed> {
    let rows = rows.max(1);
    // The extents [from, to] taken in each row.
    let mut taken: Vec<Vec<(i32, i32)>> = vec![Vec::new(); rows];
    let mut out = Vec::with_capacity(wanted.len());
    for &(px, width) in wanted {
        let w = width as i32;
        // The room on one side of the line in one row: from the label's start to the nearest
        // extent taken (less a gap) or to the plot's edge.
        let room = |row: &[(i32, i32)], right: bool| -> i32 {
            if right {
                let start = px + LABEL_GAP_PX;
                // Extents that end too close before `start` matter as well as those after it.
                let limit = row
                    .iter()
                    .filter(|e| e.1 + LABEL_GAP_PX > start)
                    .fold(span.1 - 2, |lim, &(a, _)| {
                        if a - LABEL_GAP_PX < start {
                            start
                        } else {
                            lim.min(a - LABEL_GAP_PX)
                        }
                    });
                (limit - start).max(0)
            } else {
                let start = px - LABEL_GAP_PX;
                let limit = row
                    .iter()
                    .filter(|e| e.0 - LABEL_GAP_PX < start)
                    .fold(span.0 + 2, |lim, &(_, b)| {
                        if b + LABEL_GAP_PX > start {
                            start
                        } else {
                            lim.max(b + LABEL_GAP_PX)
                        }
                    });
                (start - limit).max(0)
            }
        };
        let mut best: Option<(usize, bool, i32)> = None;
        'rows: for (r, row) in taken.iter().enumerate() {
            for right in [true, false] {
                let room = room(row, right);
                if room >= w {
                    best = Some((r, right, room));
                    break 'rows;
                }
                if best.is_none_or(|(_, _, b)| room > b) {
                    best = Some((r, right, room));
                }
            }
        }
        let (row, right, room) = best.unwrap_or((0, true, 0));
        let shown = w.min(room);
        let start = if right { px + LABEL_GAP_PX } else { px - LABEL_GAP_PX };
        let extent = if right {
            (start, start + shown)
        } else {
            (start - shown, start)
        };
        if shown > 0 {
            taken[row].push(extent);
        }
        out.push(Placed {
            row,
            right,
            room: room.max(0) as u32,
        });
    }
    out
}

const X_AREA_PX: u32 = 56;
/// Target lines: a dark red that no strategy wears (Okabe-Ito has vermillion, not this).
const TARGET: RGBColor = RGBColor(0xA5, 0x00, 0x26);
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
        .chain(plot.thresholds.iter().map(|t| t.y))
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
    let wanted: Vec<(f64, &str)> = wanted.collect();
    let mut sized = Vec::with_capacity(wanted.len());
    for (x, label) in &wanted {
        let (px, _) = chart.backend_coord(&(*x, y_hi));
        sized.push((px, text_width(area, label, &label_style, name)?));
    }
    let places = place_labels(&sized, (px_left, px_right), frame.rows);
    let mut labels = vec![];
    for ((x, label), p) in wanted.iter().zip(&places) {
        let dy = 4 + p.row as i32 * LABEL_ROW_PX;
        let (h, dx) = if p.right {
            (HPos::Left, LABEL_GAP_PX)
        } else {
            (HPos::Right, -LABEL_GAP_PX)
        };
        let shown = fit(area, label, &label_style, p.room, name)?;
        let style = anchored(label_style.clone(), h, VPos::Top);
        labels.push(EmptyElement::at((*x, y_hi)) + Text::new(shown, (dx, dy), style));
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
    // 5. Targets: a dotted line across, its label above the right end.
    let target_style = anchored(text(NOTE_PX, TARGET), HPos::Right, VPos::Bottom);
    for t in plot.thresholds.iter().filter(|t| drawable(t.y, plot.y_scale)) {
        chart
            .draw_series([DashedPathElement::new(
                vec![(x_min, t.y), (x_max, t.y)],
                3,
                4,
                TARGET.stroke_width(2),
            )])
            .drawing(name)?;
        let room = (px_right - px_left).max(0) as u32 / 2;
        let shown = fit(area, &t.label, &target_style, room, name)?;
        chart
            .draw_series([EmptyElement::at((x_max, t.y)) + Text::new(shown, (-4, -3), target_style.clone())])
            .drawing(name)?;
    }
    // 6. Labels last, so nothing covers them.
    chart.draw_series(labels).drawing(name)?;
    // A log axis cannot show zero: say how many points it left out, under the x axis.
    let dropped: usize = plot.lines.iter().map(|l| l.dropped).sum();
    if dropped > 0 {
        let (_, h) = area.dim_in_pixel();
        let note = format!(
            "log scale: {dropped} zero{} not drawn",
            if dropped == 1 { "" } else { "s" }
        );
        area.draw(&Text::new(
            note,
            (px_right - area.get_base_pixel().0, h as i32 - 4),
            anchored(text(NOTE_PX, GREY), HPos::Right, VPos::Bottom),
        ))
        .drawing(name)?;
    }
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

    #[test]
    fn log_axes_count_the_points_they_leave_out() {
        // Lost sessions 0, 0, 0.5, 80 on a log axis: the two zeros cannot be placed.
        let s = xy(&[1.0, 2.0, 3.0, 4.0], &[0.0, 0.0, 0.5, 80.0], None);
        let l = PlotLine::from_series("c", &s, (Scale::Linear, Scale::Log), BLACK).unwrap();
        assert_eq!(l.dropped, 2);
        // A missing value (NaN) is not a dropped zero, and a linear axis drops nothing.
        let s = xy(&[1.0, 2.0], &[f64::NAN, 0.0], None);
        let l = PlotLine::from_series("c", &s, (Scale::Linear, Scale::Linear), BLACK).unwrap();
        assert_eq!(l.dropped, 0);
    }

    #[test]
    fn bands_of_non_negative_values_stop_at_zero_on_a_linear_axis() {
        // 0.5 ± 2 would reach -1.5 lost-session percent: cut at 0.
        let s = xy(&[1.0], &[0.5], Some(&[2.0]));
        let l = PlotLine::from_series("c", &s, (Scale::Linear, Scale::Linear), BLACK).unwrap();
        assert_eq!(l.bands[0][0], (1.0, 0.0, 2.5));
    }

    /// The extent [from, to] a placed label takes, for a label of `width` at line `px`.
    fn extent(px: i32, width: u32, p: Placed) -> (i32, i32) {
        let w = width.min(p.room) as i32;
        if p.right {
            (px + LABEL_GAP_PX, px + LABEL_GAP_PX + w)
        } else {
            (px - LABEL_GAP_PX - w, px - LABEL_GAP_PX)
        }
    }

    #[test]
    fn knee_labels_never_overlap() {
        // capacity-sweep's p99 chart: knees at x = 54 and x = 75 users/s land at about 390 and
        // 520 px on a plot from 120 to 710 px; their labels are 350 and 210 px wide. The first
        // goes right of its line (396..746 does not fit before 708, so left: 34..384 does not
        // fit after 122 either; it takes the side with more room, the right, 396..708 cut).
        // Before this, the second went left of its line in the next row and overlapped the
        // first by 150 px horizontally, one row apart: readable only by luck.
        let wanted = [(390, 350), (520, 210)];
        let placed = place_labels(&wanted, (120, 710), 3);
        assert_eq!(
            placed[0],
            Placed {
                row: 0,
                right: true,
                room: 312
            }
        );
        // Row 0 is taken from 396 to 708 on both sides of 520: row 1, right (526..736 is cut
        // at 708: 182 px) or left (514 - 210 = 304..514 fits, to 122): left, whole.
        assert_eq!(
            placed[1],
            Placed {
                row: 1,
                right: false,
                room: 514 - 122
            }
        );
        // And in general: no two labels of a row overlap, for many labels on a small plot.
        let many: Vec<(i32, u32)> = (0..12).map(|k| (100 + 37 * k, 60 + 13 * (k as u32 % 4))).collect();
        let placed = place_labels(&many, (90, 560), 3);
        for (i, (a, pa)) in many.iter().zip(&placed).enumerate() {
            for (b, pb) in many.iter().zip(&placed).skip(i + 1) {
                if pa.row != pb.row {
                    continue;
                }
                let (ea, eb) = (extent(a.0, a.1, *pa), extent(b.0, b.1, *pb));
                let empty = ea.0 == ea.1 || eb.0 == eb.1;
                assert!(
                    empty || ea.1 + LABEL_GAP_PX <= eb.0 || eb.1 + LABEL_GAP_PX <= ea.0,
                    "{ea:?} {eb:?}"
                );
            }
            let e = extent(a.0, a.1, *pa);
            assert!(e.0 >= 90 && e.1 <= 560, "inside the plot: {e:?}");
        }
    }
}
