//! Sweeps larger than one machine: `--shard I/N` runs one of N deterministic slices of the
//! grid, and [`merge`] joins the shards' folders into exactly the folder an unsharded run
//! writes. The scheduler (a Slurm job array, GNU parallel over hosts) is the user's; sessim
//! has no cluster runner of its own.
//!
//! Shard I of N (I counts from 0, as Slurm's `--array=0-(N-1)` numbers its tasks) holds the
//! points p with p % N == I. Interleaving rather than cutting the grid into blocks spreads
//! the expensive points (usually the ones at the end of a load axis) over every shard.

use super::output::{self, Existing, MANIFEST, Manifest, ROWS, SUMMARY};
use super::summary::{Layout, summary_csv};
use crate::error::{Error, Result};
use crate::output::OutputDir;
use std::fmt;
use std::path::{Path, PathBuf};

/// One slice of a sweep: `index` of `count`, 0-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub(crate) index: usize,
    pub(crate) count: usize,
}

impl Shard {
    /// The whole sweep.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N`; the message names the fix (I counts from 0).
    pub(crate) fn parse(s: &str) -> std::result::Result<Shard, String> {
        let usage = "expected I/N with 0 <= I < N, e.g. --shard 0/4 (I counts from 0, like \
                     $SLURM_ARRAY_TASK_ID with --array=0-3)";
        let (i, n) = s.split_once('/').ok_or_else(|| format!("`{s}`: {usage}"))?;
        let (Ok(index), Ok(count)) = (i.trim().parse::<usize>(), n.trim().parse::<usize>()) else {
            return Err(format!("`{s}`: {usage}"));
        };
        if count == 0 {
            return Err(format!("`{s}`: N must be at least 1"));
        }
        if index >= count {
            return Err(format!(
                "`{s}`: I counts from 0, so it must be below N ({count}); for a Slurm array numbered \
                 1-{count} write --shard $((SLURM_ARRAY_TASK_ID - 1))/$SLURM_ARRAY_TASK_COUNT"
            ));
        }
        Ok(Shard { index, count })
    }

    /// Whether point `p` belongs to this shard.
    pub(crate) fn holds(&self, p: usize) -> bool {
        p % self.count == self.index
    }

    /// How many of `points` this shard holds.
    pub(crate) fn points_of(&self, points: usize) -> usize {
        (0..points).filter(|p| self.holds(*p)).count()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// A shard folder read for merging: its manifest and its complete rows.
struct Part {
    dir: PathBuf,
    manifest: Manifest,
    shard: Shard,
    rows: Vec<csv::StringRecord>,
}

fn read_part(dir: &Path) -> Result<Part> {
    let manifest = Manifest::read(dir)?;
    let shard = manifest.shard()?;
    let path = dir.join(ROWS);
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let Existing { header_ok, rows, .. } = output::read_existing(&bytes, &manifest.columns);
    if !header_ok {
        return Err(Error::bad_input(format!(
            "{}: its header is not the one {} describes; rerun this shard",
            path.display(),
            MANIFEST
        )));
    }
    let expected = shard.points_of(manifest.points) * manifest.strategies.len() * manifest.replications as usize;
    if rows.len() != expected {
        return Err(Error::bad_input(format!(
            "{}: shard {shard} is incomplete ({} of {expected} rows); finish it with \
             `sessim sweep ... --shard {shard} --resume --out {}`",
            path.display(),
            rows.len(),
            dir.display()
        )));
    }
    if let Some(r) = rows
        .iter()
        .find(|r| r[0].parse::<usize>().map_or(true, |p| !shard.holds(p)))
    {
        return Err(Error::bad_input(format!(
            "{}: holds point {} which is not in shard {shard}",
            path.display(),
            &r[0]
        )));
    }
    Ok(Part {
        dir: dir.to_path_buf(),
        manifest,
        shard,
        rows,
    })
}

/// Joins the folders of every shard of one sweep into `out`, byte for byte what an unsharded
/// run writes. Refuses shards of different sweeps, a shard given twice, a missing shard, and
/// an incomplete shard.
pub(crate) fn merge(dirs: &[PathBuf], out: &Path) -> Result<MergeReport> {
    if dirs.is_empty() {
        return Err(Error::bad_input("merge: give the shard folders to join"));
    }
    let parts = dirs.iter().map(|d| read_part(d)).collect::<Result<Vec<_>>>()?;
    let first = &parts[0];
    for p in &parts[1..] {
        if p.manifest.fingerprint != first.manifest.fingerprint {
            return Err(Error::bad_input(format!(
                "{} and {} are shards of different sweeps (fingerprints {} and {}): the scenario, \
                 --set, --vary, --replications or the sessim version differ",
                first.dir.display(),
                p.dir.display(),
                first.manifest.fingerprint,
                p.manifest.fingerprint
            )));
        }
        if p.shard.count != first.shard.count {
            return Err(Error::bad_input(format!(
                "{} is shard {} but {} is shard {}: every shard must be cut with the same N",
                first.dir.display(),
                first.shard,
                p.dir.display(),
                p.shard
            )));
        }
    }
    let n = first.shard.count;
    let mut by_index: Vec<Option<&Part>> = vec![None; n];
    for p in &parts {
        if let Some(other) = by_index[p.shard.index] {
            return Err(Error::bad_input(format!(
                "shard {} is given twice: {} and {}",
                p.shard,
                other.dir.display(),
                p.dir.display()
            )));
        }
        by_index[p.shard.index] = Some(p);
    }
    let missing: Vec<String> = (0..n)
        .filter(|i| by_index[*i].is_none())
        .map(|i| format!("{i}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(Error::bad_input(format!(
            "shard{} {} missing: run {} and give {} folder{} too",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", "),
            if missing.len() > 1 { "them" } else { "it" },
            if missing.len() > 1 { "their" } else { "its" },
            if missing.len() > 1 { "s" } else { "" },
        )));
    }

    // Point p's rows are in shard p % n, in the order that shard wrote them.
    let m = &first.manifest;
    let per_point = m.strategies.len() * m.replications as usize;
    let mut cursors = vec![0usize; n];
    let mut rows: Vec<csv::StringRecord> = Vec::with_capacity(m.points * per_point);
    for p in 0..m.points {
        let i = p % n;
        let part = by_index[i].map(|x| &x.rows[..]).unwrap_or(&[]);
        let take = &part[cursors[i]..(cursors[i] + per_point).min(part.len())];
        cursors[i] += take.len();
        rows.extend(take.iter().cloned());
    }
    let mut whole = m.clone();
    whole.shard = Shard::WHOLE.to_string();
    let mut csv_bytes = output::record_bytes(&m.columns)?;
    for r in &rows {
        csv_bytes.extend(output::record_bytes(r)?);
    }
    let layout = Layout {
        columns: &m.columns,
        axes: m.axes.len(),
        strategies: &m.strategies,
        baseline: m.strategies.iter().position(|s| *s == m.baseline).unwrap_or(0),
    };
    let summary = summary_csv(&layout, &rows)?;
    let mut dir = OutputDir::create(out)?;
    dir.bytes(MANIFEST, whole.text()?.as_bytes())?;
    dir.bytes(ROWS, &csv_bytes)?;
    dir.bytes(SUMMARY, &summary)?;
    dir.commit()?;
    Ok(MergeReport {
        shards: n,
        points: m.points,
        rows: rows.len(),
    })
}

pub(crate) struct MergeReport {
    pub(crate) shards: usize,
    pub(crate) points: usize,
    pub(crate) rows: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_count_from_zero() {
        assert_eq!(Shard::parse("0/4"), Ok(Shard { index: 0, count: 4 }));
        assert_eq!(Shard::parse(" 3 / 4 "), Ok(Shard { index: 3, count: 4 }));
        let e = Shard::parse("4/4").unwrap_err();
        assert!(
            e.starts_with("`4/4`: I counts from 0, so it must be below N (4)"),
            "{e}"
        );
        assert!(Shard::parse("1/0").unwrap_err().contains("N must be at least 1"));
        assert!(Shard::parse("x").unwrap_err().contains("expected I/N"));
        let s = Shard { index: 1, count: 3 };
        assert_eq!((0..7).filter(|p| s.holds(*p)).collect::<Vec<_>>(), [1, 4]);
        assert_eq!(s.points_of(7), 2);
    }
}
