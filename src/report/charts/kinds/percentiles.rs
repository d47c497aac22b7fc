//! Percentile bars: for each category (strategy) one bar per percentile, all in the
//! category's colour, shaded from light (lowest percentile) to full (highest), so
//! the strategy keeps its colour and the percentiles read left to right.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::barplot::{BarPlot, BarRect, draw_bar_plot};
use super::common::{GREY, LegendEntry, Swatch, frame, no_data};
use super::{DrawChart, Per, check_len, colour_of, value_at};
use crate::report::charts::{ChartError, Palette, Percentiles};

const GROUP_WIDTH: f64 = 0.75;

/// Opacity of percentile `j` of `m`: 0.3 for the first, 1.0 for the last.
fn shade(j: usize, m: usize) -> f64 {
    if m <= 1 {
        1.0
    } else {
        0.3 + 0.7 * j as f64 / (m - 1) as f64
    }
}

impl DrawChart for Percentiles {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, palette: &mut Palette) -> Result<(), ChartError> {
        let n = self.categories.len();
        for p in &self.percentiles {
            check_len(
                &self.title,
                &format!("percentile {:?}", p.name),
                p.values.len(),
                n,
                Per::Category,
            )?;
            if let Some(ci) = &p.ci {
                check_len(
                    &self.title,
                    &format!("ci of percentile {:?}", p.name),
                    ci.len(),
                    n,
                    Per::Category,
                )?;
            }
        }
        let m = self.percentiles.len();
        let colours: Vec<RGBColor> = self.categories.iter().map(|c| colour_of(palette, c)).collect();
        let mut legend: Vec<LegendEntry> = self
            .categories
            .iter()
            .zip(&colours)
            .map(|(name, c)| LegendEntry::new(name, Swatch::Fill(c.to_rgba())))
            .collect();
        legend.extend(
            self.percentiles
                .iter()
                .enumerate()
                .map(|(j, p)| LegendEntry::new(&p.name, Swatch::Outlined(GREY.mix(shade(j, m)), GREY))),
        );
        if self.percentiles.iter().any(|p| p.ci.is_some()) {
            legend.push(LegendEntry::new("confidence interval", Swatch::Whisker));
        }
        let plot_area = frame(root, &self.title, &legend)?;

        let any_value = self.percentiles.iter().flat_map(|p| &p.values).any(|v| v.is_finite());
        if n == 0 || !any_value {
            return no_data(&plot_area, "No data to show", &self.title);
        }
        let mut plot = BarPlot {
            chart: &self.title,
            x_label: &self.x_label,
            y_label: &self.y_label,
            categories: &self.categories,
            ..BarPlot::default()
        };
        let w = GROUP_WIDTH / m as f64;
        for (i, colour) in colours.iter().enumerate() {
            for (j, p) in self.percentiles.iter().enumerate() {
                let x0 = i as f64 + (1.0 - GROUP_WIDTH) / 2.0 + j as f64 * w;
                let xc = x0 + w / 2.0;
                let v = value_at(&p.values, i);
                if !v.is_finite() {
                    plot.missing.push(xc);
                    continue;
                }
                plot.rects.push(BarRect {
                    x0: x0 + w * 0.05,
                    x1: x0 + w * 0.95,
                    y0: 0.0,
                    y1: v,
                    fill: colour.mix(shade(j, m)),
                    outline: Some(*colour),
                });
                plot.annotate(xc, w, w * 0.2, v, p.ci.as_ref().map(|c| value_at(c, i)));
            }
        }
        draw_bar_plot(&plot_area, &plot)
    }
}
