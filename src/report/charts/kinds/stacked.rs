//! Stacked bars: one bar per category, one segment per layer, whiskers on the
//! total (lost sessions by strategy, stacked by cause).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::barplot::{BarPlot, BarRect, ValueLabel, Whisker, draw_bar_plot, value_text};
use super::common::{LegendEntry, Swatch, frame, no_data};
use super::{DrawChart, Per, check_len, colour_of, value_at};
use crate::report::charts::{ChartError, Palette, StackedBars};

const BAR_WIDTH: f64 = 0.6;

impl DrawChart for StackedBars {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, palette: &mut Palette) -> Result<(), ChartError> {
        let n = self.categories.len();
        for l in &self.layers {
            check_len(
                &self.title,
                &format!("layer {:?}", l.name),
                l.values.len(),
                n,
                Per::Category,
            )?;
        }
        if let Some(ci) = &self.total_ci {
            check_len(&self.title, "total_ci", ci.len(), n, Per::Category)?;
        }

        let colours: Vec<RGBColor> = self.layers.iter().map(|l| colour_of(palette, &l.name)).collect();
        // Legend top-down in the same order as the stack reads top-down.
        let mut legend: Vec<LegendEntry> = self
            .layers
            .iter()
            .zip(&colours)
            .rev()
            .map(|(l, c)| LegendEntry::new(&l.name, Swatch::Fill(c.to_rgba())))
            .collect();
        if self.total_ci.is_some() {
            legend.push(LegendEntry::new("confidence interval of total", Swatch::Whisker));
        }
        let plot_area = frame(root, &self.title, &legend)?;

        let any_value = self.layers.iter().flat_map(|l| &l.values).any(|v| v.is_finite());
        if n == 0 || !any_value {
            return no_data(&plot_area, "No data to show", &self.title);
        }

        draw_bar_plot(&plot_area, &self.geometry(&colours))
    }
}

impl StackedBars {
    /// The bars, whiskers and labels in data coordinates (lengths already checked).
    fn geometry(&self, colours: &[RGBColor]) -> BarPlot<'_> {
        let n = self.categories.len();
        let mut plot = BarPlot {
            chart: &self.title,
            x_label: &self.x_label,
            y_label: &self.y_label,
            categories: &self.categories,
            ..BarPlot::default()
        };
        for i in 0..n {
            let (x0, x1) = (i as f64 + 0.5 - BAR_WIDTH / 2.0, i as f64 + 0.5 + BAR_WIDTH / 2.0);
            // Positive parts stack up from zero, negative ones down from zero.
            let (mut up, mut down, mut seen) = (0.0, 0.0, false);
            for (layer, colour) in self.layers.iter().zip(colours) {
                let v = value_at(&layer.values, i);
                if !v.is_finite() {
                    continue;
                }
                seen = true;
                let (y0, y1) = if v >= 0.0 {
                    up += v;
                    (up - v, up)
                } else {
                    down += v;
                    (down, down - v)
                };
                plot.rects.push(BarRect {
                    x0,
                    x1,
                    y0,
                    y1,
                    fill: colour.to_rgba(),
                    outline: Some(WHITE),
                });
            }
            if !seen {
                plot.missing.push(i as f64 + 0.5);
                continue;
            }
            let total = up + down;
            let mut top = up;
            if let Some(ci) = self
                .total_ci
                .as_ref()
                .map(|c| value_at(c, i).abs())
                .filter(|c| c.is_finite())
            {
                plot.whiskers.push(Whisker::around(i as f64 + 0.5, 0.06, total, ci));
                top = top.max(total + ci);
            }
            plot.labels.push(ValueLabel {
                x: i as f64 + 0.5,
                y: top,
                width: BAR_WIDTH,
                text: value_text(total),
            });
        }
        plot
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::charts::Series;

    fn layer(name: &str, values: &[f64]) -> Series {
        Series {
            name: name.into(),
            values: values.to_vec(),
            ci: None,
        }
    }

    #[test]
    fn layers_stack_up_and_down_from_zero_with_a_whisker_on_the_total() {
        let chart = StackedBars {
            categories: vec!["ip_hash".into(), "cookie".into(), "redis".into()],
            layers: vec![
                layer("crash", &[4.0, 1.0, f64::NAN]),
                layer("refused", &[1.5, -0.5, f64::NAN]),
            ],
            total_ci: Some(vec![0.5, f64::NAN, 1.0]),
            ..Default::default()
        };
        let plot = chart.geometry(&[BLACK, WHITE]);
        let spans: Vec<(f64, f64)> = plot.rects.iter().map(|r| (r.y0, r.y1)).collect();
        // ip_hash: 0..4 then 4..5.5; cookie: 0..1 up, -0.5..0 down.
        assert_eq!(spans, vec![(0.0, 4.0), (4.0, 5.5), (0.0, 1.0), (-0.5, 0.0)]);
        // Whisker only where the total's CI is finite: 5.5 ± 0.5.
        assert_eq!(plot.whiskers.len(), 1);
        assert_eq!((plot.whiskers[0].lo, plot.whiskers[0].hi), (5.0, 6.0));
        // Totals 5.5 and 1 - 0.5 = 0.5; redis has no value at all: "n/a".
        let labels: Vec<&str> = plot.labels.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(labels, ["5.5", "0.5"]);
        assert_eq!(plot.missing, vec![2.5]);
    }
}
