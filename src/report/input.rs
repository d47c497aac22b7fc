//! Reading a result folder back: the CSV files of `sessim run` (`summary.csv`,
//! `backends.csv`, `timeseries.csv`, `faults.csv`, `stores.csv`, `scenario.toml`) or of
//! `sessim sweep` (`sweep.csv`, `sweep.toml`) into the same row types the simulator returns
//! ([`crate::metrics`]), so that charts and the report are drawn from the files alone (a merged
//! sweep or an edited CSV redraws the same way).
//!
//! Every problem is bad input (exit code 2) with a message naming the file and the line.
//! Nothing here writes.

use crate::error::{Error, Result};
use crate::metrics::{BackendRow, FaultRow, StoreRow, SummaryRow, TimeseriesRow};
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// The files of a `sessim run` folder.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunTables {
    /// The rows of `summary.csv`.
    pub summary: Vec<SummaryRow>,
    pub(crate) backends: Vec<BackendRow>,
    pub(crate) timeseries: Vec<TimeseriesRow>,
    /// The rows of `faults.csv`.
    pub faults: Vec<FaultRow>,
    pub(crate) stores: Vec<StoreRow>,
    /// `scenario.toml` as written by the run (empty if the file is absent).
    pub(crate) scenario_toml: String,
}

/// One row of `sweep.csv`: the point, its axis values as written, and the summary row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SweepRow {
    pub(crate) point: usize,
    /// The point's value of each swept axis, as written in `sweep.csv`.
    pub axes: Vec<String>,
    /// The row's summary columns: one strategy and replication at this point.
    pub summary: SummaryRow,
}

/// The files of a `sessim sweep` folder.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SweepTables {
    /// The axis keys, in column order.
    pub(crate) axes: Vec<String>,
    /// The rows of `sweep.csv`, in file order.
    pub rows: Vec<SweepRow>,
    /// The scenario section of `sweep.toml` as TOML (empty if the file is absent).
    pub(crate) scenario_toml: String,
}

/// What kind of folder `dir` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FolderKind {
    Run,
    Sweep,
}

/// A run folder has `summary.csv`, a sweep folder `sweep.csv`.
pub(crate) fn folder_kind(dir: &Path) -> Result<FolderKind> {
    if dir.join("summary.csv").is_file() {
        Ok(FolderKind::Run)
    } else if dir.join("sweep.csv").is_file() {
        Ok(FolderKind::Sweep)
    } else {
        Err(Error::bad_input(format!(
            "{}: neither summary.csv (a `sessim run` folder) nor sweep.csv (a `sessim sweep` folder) is there",
            dir.display()
        )))
    }
}

fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::bad_input(format!("{}: cannot read: {e}", path.display())))
}

/// Describes a csv error with the file, the line and, for a bad field, the column name.
fn csv_error(path: &Path, header: Option<&csv::StringRecord>, e: &csv::Error) -> Error {
    let line = e.position().map(|p| p.line());
    let detail = match e.kind() {
        csv::ErrorKind::Deserialize { err, .. } => {
            let column = err
                .field()
                .and_then(|f| header.and_then(|h| h.get(f as usize)))
                .map(|c| format!("column `{c}`: "))
                .unwrap_or_default();
            format!("{column}{}", err.kind())
        }
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("{len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_string(),
        _ => e.to_string(),
    };
    match line {
        Some(l) => Error::bad_input(format!("{}: line {l}: {detail}", path.display())),
        None => Error::bad_input(format!("{}: {detail}", path.display())),
    }
}

/// Reads every row of a CSV file with a header into `T`.
pub(crate) fn read_rows<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let bytes = read_bytes(path)?;
    parse_rows(path, &bytes)
}

/// Parses CSV bytes (named `path` in messages) into rows of `T`.
pub(crate) fn parse_rows<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<Vec<T>> {
    // A run without faults writes an empty faults.csv: no header, no rows.
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let mut r = csv::Reader::from_reader(bytes);
    let header = r.headers().map_err(|e| csv_error(path, None, &e))?.clone();
    let mut rows = Vec::new();
    for rec in r.deserialize() {
        rows.push(rec.map_err(|e| csv_error(path, Some(&header), &e))?);
    }
    Ok(rows)
}

/// Parses the bytes of a `summary.csv` (named `path` in messages). A metric column the header
/// lacks (the file is older than the column) is not an error: every row names it in
/// [`SummaryRow::absent`].
pub(crate) fn parse_summary(path: &Path, bytes: &[u8]) -> Result<Vec<SummaryRow>> {
    let mut rows: Vec<SummaryRow> = parse_rows(path, bytes)?;
    if !bytes.is_empty() {
        let mut r = csv::Reader::from_reader(bytes);
        let header = r.headers().map_err(|e| csv_error(path, None, &e))?;
        let absent = SummaryRow::absent_from(header);
        if !absent.is_empty() {
            for row in &mut rows {
                row.absent = absent.clone();
            }
        }
    }
    Ok(rows)
}

/// The metric columns absent from the file `rows` were read from, in column order.
pub(crate) fn absent_columns(rows: &[SummaryRow]) -> Vec<&'static str> {
    SummaryRow::METRICS
        .iter()
        .copied()
        .filter(|m| rows.iter().any(|r| r.absent.contains(m)))
        .collect()
}

/// Reads a run folder. `summary.csv` must have at least one row; the other CSV files may be
/// absent (their charts are then not drawn), but a file that is there must be valid.
pub fn read_run(dir: &Path) -> Result<RunTables> {
    let path = dir.join("summary.csv");
    let summary = parse_summary(&path, &read_bytes(&path)?)?;
    if summary.is_empty() {
        return Err(Error::bad_input(format!(
            "{}: no rows: nothing to report",
            dir.join("summary.csv").display()
        )));
    }
    let optional = |name: &str| -> Option<PathBuf> { Some(dir.join(name)).filter(|p| p.is_file()) };
    let mut t = RunTables {
        summary,
        ..RunTables::default()
    };
    if let Some(p) = optional("backends.csv") {
        t.backends = read_rows(&p)?;
    }
    if let Some(p) = optional("timeseries.csv") {
        t.timeseries = read_rows(&p)?;
    }
    if let Some(p) = optional("faults.csv") {
        t.faults = read_rows(&p)?;
    }
    if let Some(p) = optional("stores.csv") {
        t.stores = read_rows(&p)?;
    }
    if let Some(p) = optional("scenario.toml") {
        let bytes = read_bytes(&p)?;
        t.scenario_toml =
            String::from_utf8(bytes).map_err(|_| Error::bad_input(format!("{}: not valid UTF-8", p.display())))?;
    }
    Ok(t)
}

/// Reads a sweep folder: `sweep.csv` (its header is `point`, the axis keys, then every
/// `summary.csv` column, then possibly the steady-state columns) and, if present, the scenario
/// recorded in `sweep.toml`. Statistics are recomputed from these rows, so an edited or merged
/// `sweep.csv` redraws consistently.
pub fn read_sweep(dir: &Path) -> Result<SweepTables> {
    let path = dir.join("sweep.csv");
    let bytes = read_bytes(&path)?;
    let mut t = parse_sweep(&path, &bytes)?;
    let manifest = dir.join("sweep.toml");
    if manifest.is_file() {
        let text = String::from_utf8(read_bytes(&manifest)?)
            .map_err(|_| Error::bad_input(format!("{}: not valid UTF-8", manifest.display())))?;
        let table: toml::Table = toml::from_str(&text)
            .map_err(|e| Error::bad_input(format!("{}: not valid TOML: {e}", manifest.display())))?;
        if let Some(toml::Value::Table(sc)) = table.get("scenario") {
            t.scenario_toml =
                toml::to_string(sc).map_err(|e| Error::bad_input(format!("{}: scenario: {e}", manifest.display())))?;
        }
    }
    Ok(t)
}

/// Parses the bytes of a `sweep.csv` (named `path` in messages).
pub(crate) fn parse_sweep(path: &Path, bytes: &[u8]) -> Result<SweepTables> {
    let mut r = csv::Reader::from_reader(bytes);
    let header = r.headers().map_err(|e| csv_error(path, None, &e))?.clone();
    if header.get(0) != Some("point") {
        return Err(Error::bad_input(format!(
            "{}: line 1: the first column must be `point` (is this a sweep.csv?)",
            path.display()
        )));
    }
    let Some(first) = header.iter().position(|h| h == "scenario") else {
        return Err(Error::bad_input(format!(
            "{}: line 1: no `scenario` column: the summary columns must follow `point` and the axes",
            path.display()
        )));
    };
    let axes: Vec<String> = header.iter().skip(1).take(first - 1).map(str::to_string).collect();
    let summary_header: csv::StringRecord = header.iter().skip(first).collect();
    let absent = SummaryRow::absent_from(&summary_header);
    let mut rows = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| csv_error(path, Some(&header), &e))?;
        let line = rec.position().map_or(0, |p| p.line());
        let point = rec[0].parse::<usize>().map_err(|_| {
            Error::bad_input(format!(
                "{}: line {line}: column `point`: {:?} is not a point number",
                path.display(),
                &rec[0]
            ))
        })?;
        let summary_part: csv::StringRecord = rec.iter().skip(first).collect();
        let mut summary: SummaryRow = summary_part.deserialize(Some(&summary_header)).map_err(|e| {
            let detail = match e.kind() {
                csv::ErrorKind::Deserialize { err, .. } => {
                    let column = err
                        .field()
                        .and_then(|f| summary_header.get(f as usize))
                        .map(|c| format!("column `{c}`: "))
                        .unwrap_or_default();
                    format!("{column}{}", err.kind())
                }
                _ => e.to_string(),
            };
            Error::bad_input(format!("{}: line {line}: {detail}", path.display()))
        })?;
        summary.absent = absent.clone();
        rows.push(SweepRow {
            point,
            axes: rec.iter().skip(1).take(first - 1).map(str::to_string).collect(),
            summary,
        });
    }
    if rows.is_empty() {
        return Err(Error::bad_input(format!(
            "{}: no rows: nothing to report",
            path.display()
        )));
    }
    Ok(SweepTables {
        axes,
        rows,
        scenario_toml: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err<T: std::fmt::Debug>(r: Result<T>) -> String {
        match r {
            Ok(v) => panic!("expected an error, got {v:?}"),
            Err(e) => {
                assert_eq!(e.exit_code(), 2, "bad CSV is bad input");
                e.to_string()
            }
        }
    }

    #[test]
    fn a_bad_field_names_the_file_line_and_column() {
        let text = "scenario,strategy,replication,backend_index,backend,requests,completed,errors,utilization,\
                    sessions_held,sessions_lost,failed_attempts\n\
                    s,a,0,0,web1,10,10,0,0.5,1,0,0\n\
                    s,a,0,1,web2,ten,10,0,0.5,1,0,0\n";
        let e = err(parse_rows::<BackendRow>(Path::new("x/backends.csv"), text.as_bytes()));
        assert_eq!(
            e,
            "x/backends.csv: line 3: column `requests`: invalid digit found in string"
        );
    }

    #[test]
    fn short_rows_are_clear_and_empty_files_have_no_rows() {
        let text = "scenario,strategy,replication,backend_index,backend,requests,completed,errors,utilization,\
                    sessions_held,sessions_lost,failed_attempts\n\
                    s,a,0\n";
        let e = err(parse_rows::<BackendRow>(Path::new("b.csv"), text.as_bytes()));
        assert_eq!(e, "b.csv: line 2: 3 fields where the header has 12");
        let e = err(parse_rows::<BackendRow>(
            Path::new("b.csv"),
            b"scenario,strategy\ns,a\n",
        ));
        assert_eq!(e, "b.csv: line 2: missing field `replication`");
        // An empty file (faults.csv of a run without faults) has no rows.
        assert_eq!(parse_rows::<BackendRow>(Path::new("b.csv"), b"").unwrap(), []);
    }

    #[test]
    fn sweep_rows_split_axes_from_the_summary() {
        let (head, rec) = crate::output::summary_fields(&SummaryRow {
            scenario: "s".into(),
            strategy: "a".into(),
            requests: 7,
            ..SummaryRow::default()
        })
        .unwrap();
        let mut text = format!("point,backends.count,{}\n", head.iter().collect::<Vec<_>>().join(","));
        text.push_str(&format!("3,8,{}\n", rec.iter().collect::<Vec<_>>().join(",")));
        let t = parse_sweep(Path::new("sweep.csv"), text.as_bytes()).unwrap();
        assert_eq!(t.axes, ["backends.count"]);
        assert_eq!(t.rows[0].point, 3);
        assert_eq!(t.rows[0].axes, ["8"]);
        assert_eq!(t.rows[0].summary.requests, 7);

        let bad = text.replace("3,8,s,a", "x,8,s,a");
        let e = err(parse_sweep(Path::new("sweep.csv"), bad.as_bytes()));
        assert_eq!(e, "sweep.csv: line 2: column `point`: \"x\" is not a point number");
        let e = err(parse_sweep(Path::new("sweep.csv"), b"a,b\n1,2\n"));
        assert!(
            e.starts_with("sweep.csv: line 1: the first column must be `point`"),
            "{e}"
        );
    }
}
