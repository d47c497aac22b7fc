//! The chart inputs: plain data, no simulator types. Each chart kind is a struct of
//! titles, axis labels (with units) and series; [`Chart`] is the closed set of
//! kinds. Values that are NaN or infinite are treated as missing (not drawn).

/// One named series of values, one value per category of the chart.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// Legend name; also the key of its colour in the [`crate::report::charts::Palette`].
    pub name: String,
    /// One value per category, in the chart's category order.
    pub values: Vec<f64>,
    /// Optional half-width of the confidence interval of each value (drawn as a
    /// whisker `value ± ci`), same length as `values`.
    pub ci: Option<Vec<f64>>,
}

/// One named series of `(x, y)` points for line and time-series charts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct XySeries {
    /// Legend name; also the key of its colour in the [`crate::report::charts::Palette`].
    pub name: String,
    /// X values (need not be sorted: points are drawn in increasing x).
    pub x: Vec<f64>,
    /// Y values, same length as `x`.
    pub y: Vec<f64>,
    /// Optional half-width of the confidence interval of each y, same length as
    /// `y`: drawn as a shaded band `y ± ci`.
    pub ci: Option<Vec<f64>>,
}

/// Axis scale.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scale {
    /// Linear axis.
    #[default]
    Linear,
    /// Base-10 logarithmic axis; values that are not positive are not drawn.
    Log,
}

/// A marked x position (e.g. "saturation knee"): a dashed vertical line with a
/// label, and a dot at `(x, y)` when `y` is given.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Marker {
    /// X position, in the chart's x unit.
    pub x: f64,
    /// Optional y of the marked point.
    pub y: Option<f64>,
    /// Text drawn next to the line.
    pub label: String,
}

/// A horizontal line at a target value (e.g. "p99 < 300 ms"), labelled at its right end.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Threshold {
    /// Y position, in the chart's y unit.
    pub y: f64,
    /// Text drawn above the line.
    pub label: String,
}

/// A shaded vertical band over `[start, end]` of the x axis marking an event (a
/// crash until its detection, an outage until recovery, a drain...).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventBand {
    /// Text drawn at the top of the band and in the legend.
    pub label: String,
    /// Start, in the chart's x unit.
    pub start: f64,
    /// End, in the chart's x unit (equal to `start` for an instant: a line).
    pub end: f64,
}

/// Bars stacked by layer for each category, e.g. lost sessions by strategy
/// (categories) stacked by cause (layers), with optional whiskers on the total.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StackedBars {
    /// What the chart shows.
    pub title: String,
    /// X axis label (what the categories are).
    pub x_label: String,
    /// Y axis label, with unit.
    pub y_label: String,
    /// One bar per category, in this order.
    pub categories: Vec<String>,
    /// The stacked parts, bottom first; each has one value per category. Colours
    /// come from the palette by layer name: pass a palette of causes (e.g.
    /// `crate::report::charts::Palette::sequential`), not the strategies' one. A layer's own `ci` is not drawn
    /// (whiskers on stacked segments mislead): give the total's in `total_ci`.
    pub layers: Vec<Series>,
    /// Optional confidence-interval half-width of each category's total.
    pub total_ci: Option<Vec<f64>>,
}

/// Bars grouped by category, one bar per series in each group, e.g. requests per
/// backend (categories) for each strategy (series).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BarGroups {
    /// What the chart shows.
    pub title: String,
    /// X axis label (what the categories are).
    pub x_label: String,
    /// Y axis label, with unit.
    pub y_label: String,
    /// One group per category, in this order.
    pub categories: Vec<String>,
    /// One bar per series in each group, coloured by series name.
    pub series: Vec<Series>,
    /// Horizontal reference lines, dashed, named in the legend (e.g. "fair share" at 1 for
    /// load over the mean).
    pub reference: Vec<Threshold>,
}

/// One bar per category, coloured by category name, e.g. the coefficient of
/// variation of load by strategy.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bars {
    /// What the chart shows.
    pub title: String,
    /// X axis label (what the categories are).
    pub x_label: String,
    /// Y axis label, with unit.
    pub y_label: String,
    /// One bar per category; the name is also the colour key.
    pub categories: Vec<String>,
    /// One value per category.
    pub values: Vec<f64>,
    /// Optional confidence-interval half-width per category.
    pub ci: Option<Vec<f64>>,
}

/// Y against x for several series, with optional confidence bands and marked
/// points, e.g. store p99 latency against offered load with the knee marked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LineChart {
    /// What the chart shows.
    pub title: String,
    /// X axis label, with unit.
    pub x_label: String,
    /// Y axis label, with unit.
    pub y_label: String,
    /// The lines, coloured by name.
    pub series: Vec<XySeries>,
    /// Scale of the x axis.
    pub x_scale: Scale,
    /// Scale of the y axis (log for latencies that explode past saturation).
    pub y_scale: Scale,
    /// Marked x positions.
    pub markers: Vec<Marker>,
    /// Target values drawn as horizontal lines.
    pub targets: Vec<Threshold>,
}

/// Lines over simulated time with shaded event bands, e.g. requests per backend
/// per time bucket with web2's crash, detection and recovery marked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimeSeries {
    /// What the chart shows.
    pub title: String,
    /// X axis label, with unit (e.g. "simulated time \[s\]").
    pub x_label: String,
    /// Y axis label, with unit.
    pub y_label: String,
    /// The lines, coloured by name.
    pub series: Vec<XySeries>,
    /// Shaded events, drawn behind the lines.
    pub bands: Vec<EventBand>,
}

/// Latency percentiles grouped by category, e.g. p50/p95/p99 by strategy. Bars
/// take the category's colour, shaded light (first percentile) to full (last).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Percentiles {
    /// What the chart shows.
    pub title: String,
    /// X axis label (what the categories are).
    pub x_label: String,
    /// Y axis label, with unit.
    pub y_label: String,
    /// One group per category (strategy); the name is also the colour key.
    pub categories: Vec<String>,
    /// One series per percentile (named "p50", "p95", ...), in increasing order,
    /// each with one value per category.
    pub percentiles: Vec<Series>,
}

/// Every chart kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Chart {
    /// See [`StackedBars`].
    Stacked(StackedBars),
    /// See [`BarGroups`].
    Grouped(BarGroups),
    /// See [`Bars`].
    Bars(Bars),
    /// See [`LineChart`].
    Line(LineChart),
    /// See [`TimeSeries`].
    TimeSeries(TimeSeries),
    /// See [`Percentiles`].
    Percentiles(Percentiles),
}

impl Chart {
    /// The chart's title.
    pub fn title(&self) -> &str {
        match self {
            Chart::Stacked(c) => &c.title,
            Chart::Grouped(c) => &c.title,
            Chart::Bars(c) => &c.title,
            Chart::Line(c) => &c.title,
            Chart::TimeSeries(c) => &c.title,
            Chart::Percentiles(c) => &c.title,
        }
    }
}

macro_rules! into_chart {
    ($($t:ident => $v:ident),*) => {$(
        impl From<$t> for Chart {
            fn from(c: $t) -> Self {
                Chart::$v(c)
            }
        }
    )*};
}
into_chart!(StackedBars => Stacked, BarGroups => Grouped, Bars => Bars, LineChart => Line,
    TimeSeries => TimeSeries, Percentiles => Percentiles);
