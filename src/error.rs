//! The library's error type, in two kinds: bad input (a scenario, an argument, a log, a config:
//! the user can fix it, exit code 2) and internal failures (writing the outputs, starting
//! threads, drawing charts: exit code 1). [`Error::exit_code`] is the one place that maps them.

use std::path::PathBuf;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input the user can fix: the message names the file, the place and what to change.
    #[error("{0}")]
    BadInput(String),
    /// A failure that is not the input's fault (a thread pool that will not start, a value that
    /// cannot be serialised): exit code 1.
    #[error("{0}")]
    Internal(String),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// Writing a CSV file failed.
    #[error("{}: {source}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// What the CSV writer said.
        source: csv::Error,
    },
    /// Drawing a chart failed.
    #[error(transparent)]
    Chart(Box<dyn std::error::Error + Send + Sync>),
}

impl From<crate::sim::RunError> for Error {
    /// A run that cannot start is the input's fault: the replayed log cannot be opened.
    fn from(e: crate::sim::RunError) -> Self {
        match e {
            crate::sim::RunError::ReplayLog(msg) => Error::BadInput(msg),
        }
    }
}

impl Error {
    /// Input the user can fix; `msg` names the file, the place and the fix.
    pub(crate) fn bad_input(msg: impl Into<String>) -> Self {
        Error::BadInput(msg.into())
    }

    /// A failed read or write of `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A failure that is not the input's fault.
    pub(crate) fn internal(msg: impl Into<String>) -> Self {
        Error::Internal(msg.into())
    }

    /// Whether the user can fix this by changing the input.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, Error::BadInput(_))
    }

    /// The process exit code for this error: 2 for bad input, 1 otherwise. The one place
    /// where errors become exit codes (clap itself exits 2 on a usage error).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::BadInput(_) => 2,
            _ => 1,
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_exits_2_and_internal_failures_exit_1() {
        assert_eq!(Error::bad_input("scenario.toml: seed: must be a number").exit_code(), 2);
        assert_eq!(Error::internal("cannot start the thread pool").exit_code(), 1);
        let io = Error::io("out/summary.csv", std::io::Error::other("disk full"));
        assert_eq!(io.exit_code(), 1);
        assert!(!io.is_bad_input());
        assert_eq!(io.to_string(), "out/summary.csv: disk full");
    }
}
