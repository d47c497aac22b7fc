//! Time series: lines over simulated time with shaded, labelled event bands
//! (crash → detection → recovery) behind them.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::common::{LegendEntry, Swatch, frame};
use super::lineplot::{LinePlot, PlotLine, ShadedEvent, draw_line_plot};
use super::{DrawChart, colour_of};
use crate::report::charts::{ChartError, Palette, Scale, TimeSeries};

/// Pale tints for event bands, distinct from the saturated series colours and
/// from one another: red, amber, grey, lavender.
const EVENT_TINTS: [RGBColor; 4] = [
    RGBColor(0xF2, 0xB8, 0xB5),
    RGBColor(0xF9, 0xD9, 0x9E),
    RGBColor(0xC8, 0xC8, 0xC8),
    RGBColor(0xC9, 0xBE, 0xE3),
];

impl DrawChart for TimeSeries {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, palette: &mut Palette) -> Result<(), ChartError> {
        let mut lines = Vec::with_capacity(self.series.len());
        let mut legend = Vec::with_capacity(self.series.len() + self.bands.len());
        for s in &self.series {
            let colour = colour_of(palette, &s.name);
            lines.push(PlotLine::from_series(
                &self.title,
                s,
                (Scale::Linear, Scale::Linear),
                colour,
            )?);
            let swatch = if s.ci.is_some() {
                Swatch::LineWithBand(colour)
            } else {
                Swatch::Line(colour)
            };
            legend.push(LegendEntry::new(&s.name, swatch));
        }
        let events: Vec<ShadedEvent> = self
            .bands
            .iter()
            .filter(|b| b.start.is_finite() && b.end.is_finite())
            .enumerate()
            .map(|(i, b)| ShadedEvent {
                label: b.label.clone(),
                start: b.start,
                end: b.end,
                fill: EVENT_TINTS[i % EVENT_TINTS.len()],
            })
            .collect();
        legend.extend(
            events
                .iter()
                .map(|e| LegendEntry::new(&e.label, Swatch::Fill(e.fill.mix(0.55)))),
        );
        let plot_area = frame(root, &self.title, &legend)?;
        let plot = LinePlot {
            chart: &self.title,
            x_label: &self.x_label,
            y_label: &self.y_label,
            x_scale: Scale::Linear,
            y_scale: Scale::Linear,
            lines,
            markers: vec![],
            events,
            thresholds: vec![],
        };
        draw_line_plot(&plot_area, &plot)
    }
}
