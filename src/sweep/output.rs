//! The files of a sweep folder and their formats:
//!
//! - `sweep.toml`, the manifest: which sweep this is (the scenario as run, the axes, the
//!   strategies, the replications), its fingerprint and which shard of it the folder holds.
//!   It is written (atomically) before the first row, so `--resume` and `sessim merge` can
//!   refuse a folder that belongs to another sweep.
//! - `sweep.csv`: one row per point, strategy and replication, in grid order, appended and
//!   flushed as results complete. A killed run leaves complete rows and at most one partial
//!   trailing row, which `--resume` cuts off.
//! - `sweep_summary.csv` (see [`super::summary`]), written atomically from `sweep.csv` at the
//!   end: its presence says the sweep finished.
//!
//! Every row is formatted by [`row_bytes`] and every header by [`header`], whoever writes the
//! file (a run, a resumed run, a merge), so the bytes cannot differ.

use super::grid::Sweep;
use super::shard::Shard;
use super::spec;
use super::steady::SteadyState;
use crate::error::{Error, Result};
use crate::metrics::SummaryRow;
use crate::output::summary_fields;
use serde::{Deserialize, Serialize};
use std::path::Path;
use toml::{Table, Value};

pub(crate) const MANIFEST: &str = "sweep.toml";
pub(crate) const ROWS: &str = "sweep.csv";
pub(crate) const SUMMARY: &str = "sweep_summary.csv";

/// Version of the folder's format; a change makes old folders refuse to resume or merge.
const FORMAT: u32 = 1;

/// The columns added by the `steady_state` option.
pub(crate) const STEADY_COLUMNS: &[&str] = &["mser5_truncation_s", "in_system_mean", "in_system_ci95"];

/// `sweep.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) format: u32,
    pub(crate) sessim_version: String,
    /// FNV-1a 64 of this manifest written with an empty fingerprint and shard "0/1": equal for
    /// every shard of one sweep, different for any other scenario, grid or version.
    pub(crate) fingerprint: String,
    /// `I/N`, 0-based: the folder holds the points p with p % N == I.
    pub(crate) shard: String,
    pub(crate) points: usize,
    pub(crate) replications: u32,
    pub(crate) mode: String,
    pub(crate) baseline: String,
    pub(crate) steady_state: bool,
    pub(crate) strategies: Vec<String>,
    /// The header of `sweep.csv`.
    pub(crate) columns: Vec<String>,
    pub(crate) axes: Vec<ManifestAxis>,
    /// The scenario exactly as run (after `--set`, `--seed`, `--replications`), `[sweep]`
    /// section included.
    pub(crate) scenario: Table,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ManifestAxis {
    pub(crate) key: String,
    pub(crate) values: Vec<Value>,
}

impl Manifest {
    pub(crate) fn new(sweep: &Sweep, shard: Shard) -> Result<Manifest> {
        let mut m = Manifest {
            format: FORMAT,
            sessim_version: env!("CARGO_PKG_VERSION").to_string(),
            fingerprint: String::new(),
            shard: Shard::WHOLE.to_string(),
            points: sweep.points.len(),
            replications: sweep.replications,
            mode: sweep.mode.name().to_string(),
            baseline: sweep.strategies[sweep.baseline].clone(),
            steady_state: sweep.steady_state,
            strategies: sweep.strategies.clone(),
            columns: header(sweep),
            axes: sweep
                .axes
                .iter()
                .map(|a| ManifestAxis {
                    key: a.key.clone(),
                    values: a.values.clone(),
                })
                .collect(),
            scenario: sweep.source.clone(),
        };
        m.fingerprint = format!("{:016x}", fnv1a(m.text()?.as_bytes()));
        m.shard = shard.to_string();
        Ok(m)
    }

    /// The manifest as written to `sweep.toml`.
    pub(crate) fn text(&self) -> Result<String> {
        let body = toml::to_string(self)
            .map_err(|e| Error::bad_input(format!("cannot write the sweep manifest as TOML: {e}")))?;
        Ok(format!(
            "# A sessim sweep: what it runs, and which shard of it this folder holds.\n\
             # `sessim sweep --resume` and `sessim merge` check the fingerprint.\n{body}"
        ))
    }

    pub(crate) fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::bad_input(format!(
                "{}: cannot read the sweep manifest ({e}); is {} the --out folder of a `sessim sweep`?",
                path.display(),
                dir.display()
            ))
        })?;
        let m: Manifest = toml::from_str(&text)
            .map_err(|e| Error::bad_input(format!("{}: not a sweep manifest: {e}", path.display())))?;
        let consistent = m.columns.first().is_some_and(|c| c == "point")
            && m.columns.len() >= m.axes.len() + 3
            && m.strategies.contains(&m.baseline)
            && m.replications >= 1;
        if !consistent {
            return Err(Error::bad_input(format!(
                "{}: the manifest is inconsistent (was it edited?); rerun the sweep",
                path.display()
            )));
        }
        if m.format != FORMAT {
            return Err(Error::bad_input(format!(
                "{}: written by another version of sessim ({}, folder format {}); rerun the sweep",
                path.display(),
                m.sessim_version,
                m.format
            )));
        }
        Ok(m)
    }

    pub(crate) fn shard(&self) -> Result<Shard> {
        Shard::parse(&self.shard).map_err(|m| Error::bad_input(format!("{MANIFEST}: shard: {m}")))
    }
}

/// 64-bit FNV-1a: a fixed, documented hash (unlike std's, whose output may change between
/// releases). It identifies a sweep; it is not a defence against tampering.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The header of `sweep.csv`: `point`, the axis keys, every `summary.csv` column, and the
/// steady-state columns when they are on.
pub(crate) fn header(sweep: &Sweep) -> Vec<String> {
    let mut h = vec!["point".to_string()];
    h.extend(sweep.axes.iter().map(|a| a.key.clone()));
    if let Ok((summary, _)) = summary_fields(&SummaryRow::default()) {
        h.extend(summary.iter().map(str::to_string));
    }
    if sweep.steady_state {
        h.extend(STEADY_COLUMNS.iter().map(|c| c.to_string()));
    }
    h
}

/// Formats one CSV record (with its terminator).
pub(crate) fn record_bytes<I, T>(fields: I) -> Result<Vec<u8>>
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(fields)
        .map_err(|e| Error::bad_input(format!("cannot format a CSV row: {e}")))?;
    w.into_inner()
        .map_err(|e| Error::bad_input(format!("cannot format a CSV row: {e}")))
}

/// One row of `sweep.csv`.
pub(crate) fn row_bytes(
    point: usize,
    values: &[Value],
    summary: &SummaryRow,
    steady: Option<&SteadyState>,
) -> Result<Vec<u8>> {
    let mut fields: Vec<String> = vec![point.to_string()];
    fields.extend(values.iter().map(spec::display));
    let (_, rec) = summary_fields(summary)?;
    fields.extend(rec.iter().map(str::to_string));
    if let Some(s) = steady {
        let opt = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
        fields.push(opt(s.truncation_s));
        fields.push(opt(s.mean));
        fields.push(opt(s.ci95));
    }
    record_bytes(&fields)
}

/// The complete rows at the start of a `sweep.csv`, and how many bytes they take (header
/// included). Reading stops at the first row that is cut short (no line end, or too few
/// fields): what a killed run leaves behind.
pub(crate) struct Existing {
    pub(crate) header_ok: bool,
    pub(crate) rows: Vec<csv::StringRecord>,
    pub(crate) valid_len: u64,
}

pub(crate) fn read_existing(bytes: &[u8], columns: &[String]) -> Existing {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut out = Existing {
        header_ok: false,
        rows: Vec::new(),
        valid_len: 0,
    };
    let mut rec = csv::StringRecord::new();
    let mut first = true;
    loop {
        let start = r.position().byte() as usize;
        match r.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) | Err(_) => break,
        }
        let end = r.position().byte() as usize;
        // Every row was written by `record_bytes`: a row is complete exactly when writing it
        // again gives the same bytes (this catches a cut inside a quoted field, and a missing
        // line end).
        let complete = rec.len() == columns.len()
            && bytes
                .get(start..end)
                .is_some_and(|b| record_bytes(rec.iter()).is_ok_and(|w| w == b));
        if !complete {
            break;
        }
        if first {
            if rec.iter().ne(columns.iter().map(String::as_str)) {
                break;
            }
            out.header_ok = true;
            first = false;
        } else {
            out.rows.push(rec.clone());
        }
        out.valid_len = end as u64;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        // From the FNV reference (isthe.com/chongo/tech/comp/fnv): "" and "a".
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
    }

    #[test]
    fn a_cut_trailing_row_is_not_complete() {
        let cols: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        let text = b"a,b\n1,2\n3,\"x\ny\"\n5,6";
        let e = read_existing(text, &cols);
        assert!(e.header_ok);
        assert_eq!(e.rows.len(), 2);
        assert_eq!(&e.rows[1][1], "x\ny");
        assert_eq!(e.valid_len as usize, text.len() - 3);
        // Cut inside a quoted field: the row is incomplete.
        let e = read_existing(b"a,b\n1,2\n3,\"x\n", &cols);
        assert_eq!(e.rows.len(), 1);
        assert_eq!(e.valid_len, 8);
        // Another header: nothing is valid.
        let e = read_existing(b"a,c\n1,2\n", &cols);
        assert!(!e.header_ok);
        assert_eq!(e.valid_len, 0);
        assert!(!read_existing(b"a,", &cols).header_ok);
    }
}
