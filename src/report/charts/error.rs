//! The one error type of the chart layer: bad input data, a drawing failure inside
//! plotters, a PNG encoding failure or an I/O failure while writing the files. Every
//! plotters error is mapped here with the chart's title, never unwrapped.

use std::path::PathBuf;

/// Everything that can go wrong while drawing or writing a chart.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// The input series do not fit together (e.g. 3 categories but 2 values).
    #[error("chart \"{chart}\": {reason}")]
    InvalidData {
        /// Title of the chart whose data is invalid.
        chart: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The requested canvas is too small to hold a title, axes and a legend, or
    /// too large for a sane in-memory bitmap.
    #[error(
        "chart \"{chart}\": size {width}x{height} px is out of range: the width must be {min_width} to {max_width} px and the height {min_height} to {max_height} px"
    )]
    BadSize {
        /// Title of the chart.
        chart: String,
        /// Requested width \[px\].
        width: u32,
        /// Requested height \[px\].
        height: u32,
        /// Smallest accepted width \[px\].
        min_width: u32,
        /// Smallest accepted height \[px\].
        min_height: u32,
        /// Largest accepted width \[px\].
        max_width: u32,
        /// Largest accepted height \[px\].
        max_height: u32,
    },
    /// The embedded font could not be parsed (a corrupt build, not a user error).
    #[error("the embedded chart font could not be loaded")]
    Font,
    /// plotters reported an error while drawing.
    #[error("chart \"{chart}\": drawing failed: {message}")]
    Draw {
        /// Title of the chart.
        chart: String,
        /// plotters' own description of the failure.
        message: String,
    },
    /// The rendered bitmap could not be encoded as PNG.
    #[error("chart \"{chart}\": PNG encoding failed: {source}")]
    Png {
        /// Title of the chart.
        chart: String,
        /// The encoder's error.
        #[source]
        source: png::EncodingError,
    },
    /// A chart file (or its temporary file) could not be written.
    #[error("cannot write chart file {}: {source}", path.display())]
    Io {
        /// The file that was being written.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file name stem is not usable (empty, or contains a path separator).
    #[error(
        "chart file name {stem:?} is not valid: use a non-empty name without '/' or '\\\\' (e.g. \"lost_sessions\")"
    )]
    BadFileName {
        /// The rejected stem.
        stem: String,
    },
}

/// Maps any plotters error into [`ChartError::Draw`] with the chart's title.
pub(crate) trait DrawResultExt<T> {
    fn drawing(self, chart: &str) -> Result<T, ChartError>;
}

impl<T, E: std::fmt::Display> DrawResultExt<T> for Result<T, E> {
    fn drawing(self, chart: &str) -> Result<T, ChartError> {
        self.map_err(|e| ChartError::Draw {
            chart: chart.to_string(),
            message: e.to_string(),
        })
    }
}

/// A chart failure is an internal error of the library (exit code 1). The conversion lives
/// here so that [`crate::error`] does not depend on the chart layer.
impl From<ChartError> for crate::error::Error {
    fn from(e: ChartError) -> Self {
        crate::error::Error::Chart(Box::new(e))
    }
}
