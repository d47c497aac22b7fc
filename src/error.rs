//! The library's error type. Bad input (a scenario, an argument, a log, a config) is its own
//! variant so that the command line can exit with code 2 for it and 1 for anything else.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input the user can fix: the message names the file, the place and what to change.
    #[error("{0}")]
    BadInput(String),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// Writing a CSV file failed.
    #[error("{}: {source}", path.display())]
    Csv { path: PathBuf, source: csv::Error },
    /// Drawing a chart failed (a `report::charts::ChartError`, converted where it is defined).
    #[error(transparent)]
    Chart(Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    pub fn bad_input(msg: impl Into<String>) -> Self {
        Error::BadInput(msg.into())
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The process exit code for this error: 2 for bad input, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::BadInput(_) => 2,
            _ => 1,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
