//! Line chart: y against x for several series with optional confidence bands,
//! marked points (the saturation knee) and a linear or log x axis.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::common::{LegendEntry, Swatch, frame};
use super::lineplot::{LinePlot, PlotLine, draw_line_plot};
use super::{DrawChart, colour_of};
use crate::report::charts::{ChartError, LineChart, Palette};

impl DrawChart for LineChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, palette: &mut Palette) -> Result<(), ChartError> {
        let mut lines = Vec::with_capacity(self.series.len());
        let mut legend = Vec::with_capacity(self.series.len());
        for s in &self.series {
            let colour = colour_of(palette, &s.name);
            lines.push(PlotLine::from_series(
                &self.title,
                s,
                (self.x_scale, self.y_scale),
                colour,
            )?);
            let swatch = if s.ci.is_some() {
                Swatch::LineWithBand(colour)
            } else {
                Swatch::Line(colour)
            };
            legend.push(LegendEntry::new(&s.name, swatch));
        }
        let plot_area = frame(root, &self.title, &legend)?;
        let plot = LinePlot {
            chart: &self.title,
            x_label: &self.x_label,
            y_label: &self.y_label,
            x_scale: self.x_scale,
            y_scale: self.y_scale,
            lines,
            markers: self.markers.clone(),
            events: vec![],
            thresholds: self.targets.clone(),
        };
        draw_line_plot(&plot_area, &plot)
    }
}
