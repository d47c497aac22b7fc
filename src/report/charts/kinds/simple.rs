//! Simple bars: one bar per category in the category's own colour (coefficient of
//! variation by strategy), with optional whiskers.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::barplot::{BarPlot, BarRect, draw_bar_plot};
use super::common::{LegendEntry, Swatch, frame, no_data};
use super::{DrawChart, Per, check_len, colour_of, value_at};
use crate::report::charts::{Bars, ChartError, Palette};

const BAR_WIDTH: f64 = 0.6;

impl DrawChart for Bars {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, palette: &mut Palette) -> Result<(), ChartError> {
        let n = self.categories.len();
        check_len(&self.title, "values", self.values.len(), n, Per::Category)?;
        if let Some(ci) = &self.ci {
            check_len(&self.title, "ci", ci.len(), n, Per::Category)?;
        }
        let colours: Vec<RGBColor> = self.categories.iter().map(|c| colour_of(palette, c)).collect();
        let mut legend: Vec<LegendEntry> = self
            .categories
            .iter()
            .zip(&colours)
            .map(|(name, c)| LegendEntry::new(name, Swatch::Fill(c.to_rgba())))
            .collect();
        if self.ci.is_some() {
            legend.push(LegendEntry::new("confidence interval", Swatch::Whisker));
        }
        let plot_area = frame(root, &self.title, &legend)?;

        if n == 0 || !self.values.iter().any(|v| v.is_finite()) {
            return no_data(&plot_area, "No data to show", &self.title);
        }
        let mut plot = BarPlot {
            chart: &self.title,
            x_label: &self.x_label,
            y_label: &self.y_label,
            categories: &self.categories,
            ..BarPlot::default()
        };
        for (i, (&v, colour)) in self.values.iter().zip(&colours).enumerate() {
            let xc = i as f64 + 0.5;
            if !v.is_finite() {
                plot.missing.push(xc);
                continue;
            }
            plot.rects.push(BarRect {
                x0: xc - BAR_WIDTH / 2.0,
                x1: xc + BAR_WIDTH / 2.0,
                y0: 0.0,
                y1: v,
                fill: colour.to_rgba(),
                outline: None,
            });
            plot.annotate(xc, BAR_WIDTH, 0.06, v, self.ci.as_ref().map(|c| value_at(c, i)));
        }
        draw_bar_plot(&plot_area, &plot)
    }
}
