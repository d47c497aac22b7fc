//! What every chart kind shares: the page layout (title on top, legend panel on the
//! right, plot area), text styles and fitting, the "no data" placeholder, number
//! formatting for ticks and value labels, and axis spans that never collapse.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::report::charts::ChartError;
use crate::report::charts::error::DrawResultExt;
use crate::report::charts::font::FAMILY;

/// Text sizes [px], chosen to read comfortably on a 1000x600 chart.
pub(crate) const TITLE_PX: f64 = 24.0;
pub(crate) const AXIS_DESC_PX: f64 = 18.0;
pub(crate) const TICK_PX: f64 = 15.0;
pub(crate) const LEGEND_PX: f64 = 15.0;
pub(crate) const NOTE_PX: f64 = 13.0;

/// Grey for secondary marks (grid, "n/a", markers).
pub(crate) const GREY: RGBColor = RGBColor(0x60, 0x60, 0x60);
pub(crate) const LIGHT_GREY: RGBColor = RGBColor(0xE4, 0xE4, 0xE4);
pub(crate) const INK: RGBColor = RGBColor(0x20, 0x20, 0x20);

/// Light colours (yellow) need a grey outline to stand out on white as lines.
pub(crate) fn is_light(c: RGBColor) -> bool {
    let RGBColor(r, g, b) = c;
    crate::report::charts::Colour { r, g, b }.luminance() > 0.75
}

pub(crate) fn text(size: f64, colour: RGBColor) -> TextStyle<'static> {
    TextStyle {
        font: (FAMILY, size).into_font(),
        color: colour.to_backend_color(),
        pos: Pos::default(),
    }
}

pub(crate) fn anchored(style: TextStyle<'static>, h: HPos, v: VPos) -> TextStyle<'static> {
    style.pos(Pos::new(h, v))
}

/// Width [px] of `s` drawn in `style`.
pub(crate) fn text_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &str,
    style: &TextStyle,
    chart: &str,
) -> Result<u32, ChartError> {
    Ok(area.estimate_text_size(s, style).drawing(chart)?.0)
}

/// `s`, cut with an ellipsis so that it is at most `max_px` wide.
pub(crate) fn fit<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &str,
    style: &TextStyle,
    max_px: u32,
    chart: &str,
) -> Result<String, ChartError> {
    if text_width(area, s, style, chart)? <= max_px {
        return Ok(s.to_string());
    }
    let chars: Vec<char> = s.chars().collect();
    // Largest prefix that fits with the ellipsis: binary search on its length.
    let (mut lo, mut hi) = (0usize, chars.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let candidate: String = chars[..mid].iter().collect::<String>() + "…";
        if text_width(area, &candidate, style, chart)? <= max_px {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    if lo == 0 {
        return Ok(String::new());
    }
    Ok(chars[..lo].iter().collect::<String>().trim_end().to_string() + "…")
}

/// `s` broken at spaces into at most `max_lines` lines of at most `max_px` each; the last line
/// is cut with an ellipsis if the text does not fit, and so is a single word wider than a line.
pub(crate) fn wrap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &str,
    style: &TextStyle,
    max_px: u32,
    max_lines: usize,
    chart: &str,
) -> Result<Vec<String>, ChartError> {
    let words: Vec<&str> = s.split_whitespace().collect();
    let mut lines: Vec<String> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if lines.len() + 1 == max_lines.max(1) {
            lines.push(fit(area, &words[i..].join(" "), style, max_px, chart)?);
            break;
        }
        let mut line = words[i].to_string();
        i += 1;
        while i < words.len() {
            let candidate = format!("{line} {}", words[i]);
            if text_width(area, &candidate, style, chart)? > max_px {
                break;
            }
            line = candidate;
            i += 1;
        }
        lines.push(fit(area, &line, style, max_px, chart)?);
    }
    Ok(lines)
}

/// The x and y axis descriptions, cut to the plot's width and height. `x_area`
/// and `y_area` are the label areas below and left of the plot [px].
pub(crate) fn fit_axis_descs<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x_desc, y_desc): (&str, &str),
    (x_area, y_area): (u32, u32),
    chart: &str,
) -> Result<(String, String), ChartError> {
    let (w, h) = area.dim_in_pixel();
    let style = text(AXIS_DESC_PX, INK);
    let x = fit(area, x_desc, &style, w.saturating_sub(y_area + 30), chart)?;
    let y = fit(area, y_desc, &style, h.saturating_sub(x_area + 30), chart)?;
    Ok((x, y))
}

/// How a legend entry is drawn.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Swatch {
    /// A filled box (bars, stacked layers, event bands).
    Fill(RGBAColor),
    /// A filled box with an outline (shaded percentile bars).
    Outlined(RGBAColor, RGBColor),
    /// A thick line (line series).
    Line(RGBColor),
    /// A line over a shaded band (series with a confidence band).
    LineWithBand(RGBColor),
    /// A whisker with caps (confidence intervals).
    Whisker,
}

#[derive(Clone, Debug)]
pub(crate) struct LegendEntry {
    pub(crate) label: String,
    pub(crate) swatch: Swatch,
}

impl LegendEntry {
    pub(crate) fn new(label: impl Into<String>, swatch: Swatch) -> Self {
        Self {
            label: label.into(),
            swatch,
        }
    }
}

const LEGEND_ROW_PX: i32 = 24;
const SWATCH_PX: i32 = 22;
const LEGEND_GAP_PX: i32 = 8;

/// Fills the canvas white, draws the title and the legend panel, and returns the
/// area left for the plot.
pub(crate) fn frame<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    legend: &[LegendEntry],
) -> Result<DrawingArea<DB, Shift>, ChartError> {
    root.fill(&WHITE).drawing(title)?;
    let (w, _) = root.dim_in_pixel();

    let title_style = text(TITLE_PX, INK);
    let shown_title = fit(root, title, &title_style, w.saturating_sub(40), title)?;
    root.draw(&Text::new(
        shown_title,
        (w as i32 / 2, 14),
        anchored(title_style, HPos::Center, VPos::Top),
    ))
    .drawing(title)?;

    let title_band = (TITLE_PX * 1.9) as i32;
    let body = root.margin(title_band, 8, 8, 12);
    if legend.is_empty() {
        return Ok(body);
    }

    // The legend sits in its own panel right of the plot, so it never covers data;
    // it is as wide as its longest label, up to 28% of the chart.
    let label_style = text(LEGEND_PX, INK);
    let max_panel = (w as f64 * 0.28) as u32;
    let mut widest = 0;
    for e in legend {
        widest = widest.max(text_width(root, &e.label, &label_style, title)?);
    }
    let label_max = max_panel.saturating_sub((SWATCH_PX + 3 * LEGEND_GAP_PX) as u32);
    let panel = (widest.min(label_max) as i32 + SWATCH_PX + 3 * LEGEND_GAP_PX) as u32;
    let (body_w, body_h) = body.dim_in_pixel();
    let (plot, panel_area) = body.split_horizontally(body_w.saturating_sub(panel));

    let rows_fit = ((body_h as i32 - 2 * LEGEND_GAP_PX) / LEGEND_ROW_PX).max(1) as usize;
    let (shown, hidden) = if legend.len() > rows_fit {
        (rows_fit - 1, legend.len() - (rows_fit - 1))
    } else {
        (legend.len(), 0)
    };
    let x0 = LEGEND_GAP_PX;
    for (i, e) in legend.iter().take(shown).enumerate() {
        let yc = 2 * LEGEND_GAP_PX + i as i32 * LEGEND_ROW_PX + LEGEND_ROW_PX / 2;
        draw_swatch(&panel_area, e.swatch, (x0, yc), title)?;
        let label = fit(&panel_area, &e.label, &label_style, label_max, title)?;
        panel_area
            .draw(&Text::new(
                label,
                (x0 + SWATCH_PX + LEGEND_GAP_PX, yc),
                anchored(label_style.clone(), HPos::Left, VPos::Center),
            ))
            .drawing(title)?;
    }
    if hidden > 0 {
        let yc = 2 * LEGEND_GAP_PX + shown as i32 * LEGEND_ROW_PX + LEGEND_ROW_PX / 2;
        panel_area
            .draw(&Text::new(
                format!("+{hidden} more"),
                (x0, yc),
                anchored(text(LEGEND_PX, GREY), HPos::Left, VPos::Center),
            ))
            .drawing(title)?;
    }
    Ok(plot)
}

fn draw_swatch<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    swatch: Swatch,
    (x, yc): (i32, i32),
    chart: &str,
) -> Result<(), ChartError> {
    let boxed = [(x, yc - 7), (x + SWATCH_PX, yc + 7)];
    match swatch {
        Swatch::Fill(c) => area.draw(&Rectangle::new(boxed, c.filled())),
        Swatch::Outlined(fill, line) => area
            .draw(&Rectangle::new(boxed, fill.filled()))
            .and_then(|_| area.draw(&Rectangle::new(boxed, line.stroke_width(1)))),
        Swatch::Line(c) => {
            let line = vec![(x, yc), (x + SWATCH_PX, yc)];
            let outline = if is_light(c) { GREY } else { c };
            area.draw(&PathElement::new(line.clone(), outline.stroke_width(5)))
                .and_then(|_| area.draw(&PathElement::new(line, c.stroke_width(3))))
        }
        Swatch::LineWithBand(c) => area
            .draw(&Rectangle::new(boxed, c.mix(0.2).filled()))
            .and_then(|_| area.draw(&PathElement::new(vec![(x, yc), (x + SWATCH_PX, yc)], c.stroke_width(3)))),
        Swatch::Whisker => {
            let xm = x + SWATCH_PX / 2;
            let style = INK.stroke_width(2);
            area.draw(&PathElement::new(vec![(xm, yc - 8), (xm, yc + 8)], style))
                .and_then(|_| area.draw(&PathElement::new(vec![(xm - 5, yc - 8), (xm + 5, yc - 8)], style)))
                .and_then(|_| area.draw(&PathElement::new(vec![(xm - 5, yc + 8), (xm + 5, yc + 8)], style)))
        }
    }
    .drawing(chart)
}

/// The placeholder drawn instead of axes when a chart has nothing to show.
pub(crate) fn no_data<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    why: &str,
    chart: &str,
) -> Result<(), ChartError> {
    let (w, h) = area.dim_in_pixel();
    area.draw(&Rectangle::new(
        [(10, 10), (w as i32 - 10, h as i32 - 10)],
        LIGHT_GREY.stroke_width(2),
    ))
    .drawing(chart)?;
    let style = text(AXIS_DESC_PX, GREY);
    let line = fit(area, why, &style, w.saturating_sub(40), chart)?;
    area.draw(&Text::new(
        line,
        (w as i32 / 2, h as i32 / 2),
        anchored(style, HPos::Center, VPos::Center),
    ))
    .drawing(chart)
}

/// A compact, unit-free number for ticks and value labels: `0`, `0.25`, `12.5`,
/// `1500`, `12.5k`, `3.2M`.
pub(crate) fn fmt_num(v: f64) -> String {
    fn trim(s: String) -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
    if !v.is_finite() {
        return "n/a".to_string();
    }
    let a = v.abs();
    if a < 1e-12 {
        "0".to_string()
    } else if a >= 1e9 {
        trim(format!("{:.2}", v / 1e9)) + "G"
    } else if a >= 1e6 {
        trim(format!("{:.2}", v / 1e6)) + "M"
    } else if a >= 1e4 {
        trim(format!("{:.1}", v / 1e3)) + "k"
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        trim(format!("{v:.2}"))
    } else if a >= 1e-3 {
        trim(format!("{v:.4}"))
    } else {
        format!("{v:.1e}")
    }
}

/// `[lo, hi]` of the finite values, or `None` if there is none.
pub(crate) fn finite_span(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// A linear axis span with a margin, never empty: a single value `v` becomes
/// `[v - 1, v + 1]` (or `[0, 1]` for zero) so plotters never divides by zero.
pub(crate) fn pad_linear(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
    if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
        let d = if lo.abs() < 1e-12 { 1.0 } else { lo.abs() * 0.5 };
        let (lo, hi) = (lo - d, hi + d);
        return (lo, hi);
    }
    let m = (hi - lo) * frac;
    (lo - m, hi + m)
}

/// A positive log axis span with a margin: a single value `v` becomes `[v/2, 2v]`.
pub(crate) fn pad_log(lo: f64, hi: f64) -> (f64, f64) {
    if hi / lo < 1.0 + 1e-9 {
        (lo / 2.0, hi * 2.0)
    } else {
        // 5% of the span in log space on each side.
        let k = (hi / lo).powf(0.05);
        (lo / k, hi * k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_compact() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(0.25), "0.25");
        assert_eq!(fmt_num(12.5), "12.5");
        assert_eq!(fmt_num(1500.0), "1500");
        assert_eq!(fmt_num(12_500.0), "12.5k");
        assert_eq!(fmt_num(3_200_000.0), "3.2M");
        assert_eq!(fmt_num(-40.0), "-40");
        assert_eq!(fmt_num(f64::NAN), "n/a");
        assert_eq!(fmt_num(0.0000123), "1.2e-5");
    }

    #[test]
    fn spans_never_collapse() {
        assert_eq!(pad_linear(0.0, 0.0, 0.05), (-1.0, 1.0));
        assert_eq!(pad_linear(4.0, 4.0, 0.05), (2.0, 6.0));
        let (lo, hi) = pad_linear(0.0, 10.0, 0.1);
        assert!((lo + 1.0).abs() < 1e-9 && (hi - 11.0).abs() < 1e-9);
        assert_eq!(pad_log(10.0, 10.0), (5.0, 20.0));
        assert_eq!(finite_span([f64::NAN, 3.0, -1.0, f64::INFINITY]), Some((-1.0, 3.0)));
        assert_eq!(finite_span([f64::NAN]), None);
    }
}
