//! Writing a result folder: CSV files, written so that a failed run leaves nothing that looks
//! complete: every file is written to a temporary file in the output folder and renamed into
//! place only when all of them were written (see `OutputDir`). Shared by `sessim run`,
//! [`crate::sweep`] and [`crate::report`] (the charts and `report.html`), which depend on this
//! module and never on each other.

use crate::error::{Error, Result};
use crate::metrics::{RunResult, SummaryRow};
use serde::Serialize;
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

/// A set of files to publish together in one folder.
pub(crate) struct OutputDir {
    dir: PathBuf,
    pending: Vec<(NamedTempFile, PathBuf)>,
}

impl OutputDir {
    /// Creates the folder (and its parents) if needed.
    pub(crate) fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        Ok(OutputDir {
            dir: dir.to_path_buf(),
            pending: Vec::new(),
        })
    }

    /// Writes rows of a serialisable type as `name` (header from the type's field names).
    pub(crate) fn csv<T: Serialize>(&mut self, name: &str, rows: impl IntoIterator<Item = T>) -> Result<()> {
        let target = self.dir.join(name);
        let tmp = NamedTempFile::with_prefix_in(format!(".{name}."), &self.dir).map_err(|e| Error::io(&target, e))?;
        let mut w = csv::Writer::from_writer(std::io::BufWriter::new(tmp.as_file()));
        for row in rows {
            w.serialize(row).map_err(|e| Error::Csv {
                path: target.clone(),
                source: e,
            })?;
        }
        w.flush().map_err(|e| Error::io(&target, e))?;
        drop(w);
        self.pending.push((tmp, target));
        Ok(())
    }

    /// Like [`Self::csv`], but a file with no rows still gets its header (taken from the row
    /// type), so that an empty table is told apart from a failed write and the file set of
    /// every run is the same.
    pub(crate) fn csv_with_header<T: Serialize + Default>(
        &mut self,
        name: &str,
        rows: impl IntoIterator<Item = T>,
    ) -> Result<()> {
        let mut rows = rows.into_iter().peekable();
        if rows.peek().is_some() {
            return self.csv(name, rows);
        }
        let target = self.dir.join(name);
        let mut w = csv::Writer::from_writer(Vec::new());
        w.serialize(T::default()).map_err(|e| Error::Csv {
            path: target.clone(),
            source: e,
        })?;
        let bytes = w.into_inner().map_err(|e| Error::io(&target, e.into_error()))?;
        let header_len = bytes.iter().position(|&b| b == b'\n').map_or(bytes.len(), |i| i + 1);
        self.bytes(name, &bytes[..header_len])
    }

    /// Writes raw bytes as `name`.
    pub(crate) fn bytes(&mut self, name: &str, data: &[u8]) -> Result<()> {
        use std::io::Write;
        let target = self.dir.join(name);
        let mut tmp =
            NamedTempFile::with_prefix_in(format!(".{name}."), &self.dir).map_err(|e| Error::io(&target, e))?;
        tmp.write_all(data).map_err(|e| Error::io(&target, e))?;
        self.pending.push((tmp, target));
        Ok(())
    }

    /// Renames every written file into place. Until this runs, nothing is visible under its
    /// final name; if the process dies before, only hidden temporary files can remain.
    pub(crate) fn commit(self) -> Result<Vec<PathBuf>> {
        let mut done = Vec::new();
        for (tmp, target) in self.pending {
            // Temporary files are created private (0600); results are ordinary files.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644));
            }
            tmp.persist(&target).map_err(|e| Error::io(&target, e.error))?;
            done.push(target);
        }
        Ok(done)
    }
}

/// Writes `summary.csv`, `backends.csv`, `timeseries.csv` and `stores.csv` for a set of runs.
pub(crate) fn write_runs(out: &mut OutputDir, runs: &[RunResult]) -> Result<()> {
    out.csv("summary.csv", runs.iter().map(|r| &r.summary))?;
    out.csv("backends.csv", runs.iter().flat_map(|r| &r.backends))?;
    out.csv("timeseries.csv", runs.iter().flat_map(|r| &r.timeseries))?;
    out.csv_with_header("faults.csv", runs.iter().flat_map(|r| r.faults.iter().cloned()))?;
    out.csv_with_header("stores.csv", runs.iter().flat_map(|r| r.stores.iter().cloned()))?;
    Ok(())
}

/// `replay.csv`: one row of what reading the log found; `replay_bad_lines.csv`: the first
/// malformed lines with their numbers and reasons (the header alone when there are none, so
/// the file set never varies).
pub(crate) fn write_replay(out: &mut OutputDir, rep: &crate::workload::replay::source::ReplayReport) -> Result<()> {
    #[derive(Serialize)]
    struct Row<'a> {
        file: &'a str,
        lines: u64,
        requests: u64,
        user_sessions: u64,
        bad_lines: u64,
        bad_lines_listed: usize,
    }
    #[derive(Serialize)]
    struct Bad<'a> {
        line: u64,
        reason: &'a str,
    }
    out.csv(
        "replay.csv",
        [Row {
            file: &rep.file,
            lines: rep.lines,
            requests: rep.requests,
            user_sessions: rep.sessions,
            bad_lines: rep.bad_count,
            bad_lines_listed: rep.bad.len(),
        }],
    )?;
    if rep.bad.is_empty() {
        out.bytes("replay_bad_lines.csv", b"line,reason\n")
    } else {
        out.csv(
            "replay_bad_lines.csv",
            rep.bad.iter().map(|b| Bad {
                line: b.line,
                reason: &b.reason,
            }),
        )
    }
}

/// The `summary.csv` header and values of one row, formatted exactly as `summary.csv` does
/// (through serde and the csv crate), so that sweep rows and run rows read alike.
pub(crate) fn summary_fields(row: &SummaryRow) -> Result<(csv::StringRecord, csv::StringRecord)> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.serialize(row)
        .map_err(|e| Error::bad_input(format!("cannot format a summary row: {e}")))?;
    let bytes = w
        .into_inner()
        .map_err(|e| Error::bad_input(format!("cannot format a summary row: {e}")))?;
    let mut r = csv::Reader::from_reader(bytes.as_slice());
    let head = r
        .headers()
        .map_err(|e| Error::bad_input(format!("cannot format a summary row: {e}")))?
        .clone();
    let rec = r
        .records()
        .next()
        .transpose()
        .map_err(|e| Error::bad_input(format!("cannot format a summary row: {e}")))?
        .unwrap_or_default();
    Ok((head, rec))
}
