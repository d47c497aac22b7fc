//! Grouped bars: for each category a group of bars, one per series (requests per
//! backend, one bar per strategy), with optional whiskers.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::barplot::{BarPlot, BarRect, draw_bar_plot};
use super::common::{INK, LegendEntry, Swatch, frame, no_data};
use super::{DrawChart, Per, check_len, colour_of, value_at};
use crate::report::charts::{BarGroups, ChartError, Palette};

/// Share of a category's slot taken by its group of bars.
const GROUP_WIDTH: f64 = 0.8;

impl DrawChart for BarGroups {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, palette: &mut Palette) -> Result<(), ChartError> {
        let n = self.categories.len();
        for s in &self.series {
            check_len(
                &self.title,
                &format!("series {:?}", s.name),
                s.values.len(),
                n,
                Per::Category,
            )?;
            if let Some(ci) = &s.ci {
                check_len(
                    &self.title,
                    &format!("ci of series {:?}", s.name),
                    ci.len(),
                    n,
                    Per::Category,
                )?;
            }
        }
        let colours: Vec<RGBColor> = self.series.iter().map(|s| colour_of(palette, &s.name)).collect();
        let mut legend: Vec<LegendEntry> = self
            .series
            .iter()
            .zip(&colours)
            .map(|(s, c)| LegendEntry::new(&s.name, Swatch::Fill(c.to_rgba())))
            .collect();
        for r in &self.reference {
            legend.push(LegendEntry::new(&r.label, Swatch::Line(INK)));
        }
        if self.series.iter().any(|s| s.ci.is_some()) {
            legend.push(LegendEntry::new("confidence interval", Swatch::Whisker));
        }
        let plot_area = frame(root, &self.title, &legend)?;

        let any_value = self.series.iter().flat_map(|s| &s.values).any(|v| v.is_finite());
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
        plot.references = self.reference.clone();
        let m = self.series.len() as f64;
        let w = GROUP_WIDTH / m;
        for i in 0..n {
            for (j, (s, colour)) in self.series.iter().zip(&colours).enumerate() {
                let x0 = i as f64 + (1.0 - GROUP_WIDTH) / 2.0 + j as f64 * w;
                let xc = x0 + w / 2.0;
                let v = value_at(&s.values, i);
                if !v.is_finite() {
                    plot.missing.push(xc);
                    continue;
                }
                // A thin white gap between neighbouring bars.
                plot.rects.push(BarRect {
                    x0: x0 + w * 0.04,
                    x1: x0 + w * 0.96,
                    y0: 0.0,
                    y1: v,
                    fill: colour.to_rgba(),
                    outline: None,
                });
                plot.annotate(xc, w, w * 0.2, v, s.ci.as_ref().map(|c| value_at(c, i)));
            }
        }
        draw_bar_plot(&plot_area, &plot)
    }
}
