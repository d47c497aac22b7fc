//! `plan_runs.csv`: every simulation a plan has run, appended as each round ends and read back
//! by `--resume`, so that a resumed plan replays the same search.

use super::{Evaluated, Target};
use crate::error::{Error, Result};
use crate::metrics::SummaryRow;
use crate::metrics::stats::{Estimate, estimate};
use crate::output::OutputDir;
use crate::sweep::Sweep;
use crate::sweep::output::{self, MANIFEST, Manifest};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The simulations a plan has run, by (strategy, point, replication), and the file they are
/// appended to (`plan_runs.csv`, the rows formatted as in `sweep.csv`).
pub struct Cache {
    pub(super) rows: BTreeMap<(usize, usize, u32), SummaryRow>,
    file: Option<(PathBuf, std::fs::File)>,
    /// Rows read back by `--resume`.
    pub(crate) resumed: usize,
}

/// The file in the plan's output folder that every simulation's summary row is appended to, so
/// that `--resume` can skip it.
pub const RUNS: &str = "plan_runs.csv";

impl Cache {
    /// Keeps the simulations in memory only.
    pub fn memory() -> Cache {
        Cache {
            rows: BTreeMap::new(),
            file: None,
            resumed: 0,
        }
    }

    /// Opens `dir/plan_runs.csv` for this sweep: afresh, or (`resume`) keeping its complete
    /// rows when `dir/sweep.toml` says they belong to the same sweep.
    pub(crate) fn open(dir: &Path, sweep: &Sweep, resume: bool) -> Result<Cache> {
        let manifest = Manifest::new(sweep, crate::sweep::Shard::WHOLE)?;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(RUNS);
        let mut rows = BTreeMap::new();
        let mut valid_len = 0;
        let mut header_ok = false;
        if resume {
            let found = Manifest::read(dir).map_err(|e| {
                Error::bad_input(format!("--resume: {e}; to start this plan afresh, leave out --resume"))
            })?;
            if found.fingerprint != manifest.fingerprint {
                return Err(Error::bad_input(format!(
                    "--resume: {} holds another plan's simulations (fingerprint {}, this one is {}): the \
                     scenario, --set, --vary, --replications or the sessim version differ; choose another \
                     --out, or leave out --resume to start afresh",
                    dir.display(),
                    found.fingerprint,
                    manifest.fingerprint
                )));
            }
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(Error::io(&path, e)),
            };
            let existing = output::read_existing(&bytes, &manifest.columns);
            header_ok = existing.header_ok;
            valid_len = existing.valid_len;
            let first = 1 + sweep.axes.len();
            let head = csv::StringRecord::from(manifest.columns[first..].to_vec());
            for (k, r) in existing.rows.iter().enumerate() {
                let bad = || {
                    Error::bad_input(format!(
                        "--resume: {} row {} is not a run of this plan: the file was changed; delete the \
                         folder and start afresh",
                        path.display(),
                        k + 2
                    ))
                };
                let point: usize = r[0].parse().map_err(|_| bad())?;
                let summary = csv::StringRecord::from(r.iter().skip(first).collect::<Vec<_>>());
                let row: SummaryRow = summary.deserialize(Some(&head)).map_err(|_| bad())?;
                let s = sweep
                    .strategies
                    .iter()
                    .position(|l| *l == row.strategy)
                    .ok_or_else(bad)?;
                if point >= sweep.points.len() || row.replication >= sweep.replications {
                    return Err(bad());
                }
                rows.insert((s, point, row.replication), row);
            }
        }
        let mut m = OutputDir::create(dir)?;
        m.bytes(MANIFEST, manifest.text()?.as_bytes())?;
        m.commit()?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        if header_ok {
            f.set_len(valid_len).map_err(|e| Error::io(&path, e))?;
            std::io::Seek::seek(&mut f, std::io::SeekFrom::End(0)).map_err(|e| Error::io(&path, e))?;
        } else {
            f.set_len(0).map_err(|e| Error::io(&path, e))?;
            f.write_all(&output::record_bytes(&manifest.columns)?)
                .map_err(|e| Error::io(&path, e))?;
        }
        Ok(Cache {
            resumed: rows.len(),
            rows,
            file: Some((path, f)),
        })
    }

    pub(super) fn has(&self, s: usize, p: usize, reps: u32) -> bool {
        (0..reps).all(|r| self.rows.contains_key(&(s, p, r)))
    }

    pub(super) fn insert(&mut self, sweep: &Sweep, s: usize, p: usize, r: u32, row: SummaryRow) -> Result<()> {
        if let Some((path, f)) = &mut self.file {
            let bytes = output::row_bytes(p, &sweep.points[p].values, &row, None)?;
            f.write_all(&bytes).map_err(|e| Error::io(path.clone(), e))?;
        }
        self.rows.insert((s, p, r), row);
        Ok(())
    }

    pub(super) fn flush(&mut self) -> Result<()> {
        if let Some((path, f)) = &mut self.file {
            f.flush().map_err(|e| Error::io(path.clone(), e))?;
        }
        Ok(())
    }

    pub(super) fn evaluate(&self, s: usize, p: usize, reps: u32, targets: &[Target], objective: &str) -> Evaluated {
        let mine: Vec<&SummaryRow> = (0..reps).filter_map(|r| self.rows.get(&(s, p, r))).collect();
        let est = |m: &str| estimate(&mine.iter().filter_map(|r| r.metric(m)).collect::<Vec<_>>());
        let estimates: Vec<Estimate> = targets.iter().map(|t| est(&t.metric)).collect();
        let met = targets.iter().zip(&estimates).all(|(t, e)| t.met(e));
        Evaluated {
            point: p,
            estimates,
            objective: est(objective),
            met,
        }
    }
}
