//! `--export-json FILE` and `--export-markdown FILE`: the comparison table `sessim run` prints,
//! for scripts and for pasting into a document (as hyperfine has). Each file is written to a
//! temporary file beside it and renamed, so a failed run leaves no half-written file.

use super::persist;
use crate::error::{Error, Result};
use crate::metrics::RunResult;
use crate::metrics::stats::estimate;
use crate::report::table;
use crate::scenario::Scenario;
use clap::Args;
use comfy_table::Table;
use serde_json::{Map, Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};

/// `--export-json` and `--export-markdown`.
#[derive(Args, Debug, Default)]
pub struct ExportArgs {
    /// Also write the comparison table to FILE as JSON: per strategy, each column's mean and 95%
    /// half-width (null with one replication).
    #[arg(long, value_name = "FILE")]
    pub(crate) export_json: Option<PathBuf>,
    /// Also write the comparison table to FILE as a Markdown table.
    #[arg(long, value_name = "FILE")]
    pub(crate) export_markdown: Option<PathBuf>,
}

impl ExportArgs {
    fn files(&self) -> impl Iterator<Item = (&'static str, &PathBuf)> {
        [
            ("--export-json", &self.export_json),
            ("--export-markdown", &self.export_markdown),
        ]
        .into_iter()
        .filter_map(|(flag, p)| p.as_ref().map(|p| (flag, p)))
    }

    /// Refuses, before anything runs, a file that cannot be written: a folder, or a file in a
    /// folder that does not exist.
    pub(crate) fn check(&self) -> Result<()> {
        for (flag, p) in self.files() {
            if p.is_dir() {
                return Err(Error::bad_input(format!(
                    "{flag} {}: is a folder; name the file to write",
                    p.display()
                )));
            }
            let dir = folder_of(p);
            if !dir.is_dir() {
                return Err(Error::bad_input(format!(
                    "{flag} {}: the folder {} does not exist; create it or name another file",
                    p.display(),
                    dir.display()
                )));
            }
        }
        if let (Some(a), Some(b)) = (&self.export_json, &self.export_markdown)
            && a == b
        {
            return Err(Error::bad_input(format!(
                "--export-json and --export-markdown both name {}; name two files",
                a.display()
            )));
        }
        Ok(())
    }

    /// Writes the files asked for.
    pub(crate) fn write(&self, sc: &Scenario, runs: &[RunResult], shown: &Table) -> Result<()> {
        if let Some(p) = &self.export_json {
            let mut text = serde_json::to_string_pretty(&json_of(sc, runs))
                .map_err(|e| Error::internal(format!("cannot write the table as JSON: {e}")))?;
            text.push('\n');
            write_atomically(p, text.as_bytes())?;
        }
        if let Some(p) = &self.export_markdown {
            write_atomically(p, markdown(shown).as_bytes())?;
        }
        Ok(())
    }
}

fn folder_of(p: &Path) -> &Path {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

fn write_atomically(p: &Path, bytes: &[u8]) -> Result<()> {
    let dir = folder_of(p);
    let mut f = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    f.write_all(bytes).map_err(|e| Error::io(p, e))?;
    f.flush().map_err(|e| Error::io(p, e))?;
    persist(f, p)
}

/// A number, or null where there is none (NaN: no interval from one replication).
fn number(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// The table as JSON: the scenario, the columns (summary.csv name and header), and per strategy
/// each column's mean and 95% half-width over the replications (null for a store column of a
/// strategy without store servers).
pub(crate) fn json_of(sc: &Scenario, runs: &[RunResult]) -> Value {
    let columns = table::columns(runs);
    let strategies: Vec<Value> = sc
        .strategies
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mine: Vec<&RunResult> = runs.iter().filter(|r| r.strategy_index == i).collect();
            let has_store = mine.iter().any(|r| r.summary.store_ops > 0);
            let mut values = Map::new();
            for (_, col, _) in &columns {
                let v = if !has_store && table::is_store_column(*col) {
                    Value::Null
                } else {
                    let vals: Vec<f64> = mine.iter().filter_map(|r| col.of(&r.summary)).collect();
                    let e = estimate(&vals);
                    json!({ "mean": number(e.mean), "ci95": number(e.ci95) })
                };
                values.insert(col.name.to_string(), v);
            }
            json!({ "label": s.label, "replications": mine.len(), "values": values })
        })
        .collect();
    json!({
        "scenario": sc.name,
        "duration_s": sc.duration.as_secs_f64(),
        "warmup_s": sc.warmup.as_secs_f64(),
        "replications": sc.replications,
        "columns": columns
            .iter()
            .map(|(header, col, decimals)| json!({ "key": col.name, "header": header, "decimals": decimals }))
            .collect::<Vec<_>>(),
        "strategies": strategies,
    })
}

/// A table as Markdown: the header, a rule (the first column left-aligned, the figures right),
/// one line per row; `|` in a cell is escaped.
pub(crate) fn markdown(t: &Table) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut out = String::new();
    let header: Vec<String> = t
        .header()
        .map(|h| h.cell_iter().map(|c| cell(&c.content())).collect())
        .unwrap_or_default();
    out.push_str(&format!("| {} |\n", header.join(" | ")));
    let rule: Vec<&str> = (0..header.len())
        .map(|i| if i == 0 { ":---" } else { "---:" })
        .collect();
    out.push_str(&format!("| {} |\n", rule.join(" | ")));
    for row in t.row_iter() {
        let cells: Vec<String> = row.cell_iter().map(|c| cell(&c.content())).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}
