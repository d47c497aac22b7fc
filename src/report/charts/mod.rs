//! Charts for sessim reports. This module owns drawing: it takes plain data series
//! ([`StackedBars`], [`BarGroups`], [`Bars`], [`LineChart`], [`TimeSeries`],
//! [`Percentiles`]) and draws them as PNG and SVG with plotters, with a font
//! embedded in the binary so that charts render on a machine with no system fonts.
//! It must not know about the simulator: computing the series from results is the
//! report's job, drawing them is this one's.
//!
//! Colours come from a [`Palette`] shared by every chart of a run, so a strategy
//! keeps its colour across charts (keep one palette per kind of name: strategies,
//! causes, backends). Bad data gives a [`ChartError`], never a panic;
//! empty or all-missing data draws a "No data to show" chart.
//!
//! ```no_run
//! use sessim::report::charts::{write_chart, Bars, ChartSize, Palette};
//! let mut palette = Palette::from_names(["ip_hash", "cookie"]);
//! let cv = Bars {
//!     title: "Load imbalance by strategy".into(),
//!     x_label: "strategy".into(),
//!     y_label: "coefficient of variation of requests per backend".into(),
//!     categories: vec!["ip_hash".into(), "cookie".into()],
//!     values: vec![0.42, 0.05],
//!     ci: None,
//! };
//! let written = write_chart("out".as_ref(), "imbalance_cv", &cv.into(), &mut palette, ChartSize::default())?;
//! assert!(written.svg.starts_with("<svg"));
//! # Ok::<(), sessim::report::charts::ChartError>(())
//! ```

mod data;
mod error;
mod font;
mod glyphs;
mod kinds;
mod palette;
mod render;

pub use data::{
    BarGroups, Bars, Chart, EventBand, LineChart, Marker, Percentiles, Scale, Series, StackedBars, Threshold,
    TimeSeries, XySeries,
};
pub use error::ChartError;
pub use palette::{Colour, OKABE_ITO, Palette, Scheme, VIRIDIS};
pub use render::{ChartSize, MAX_SIZE, MIN_SIZE, WrittenChart, render_png, render_svg, write_chart};
