//! Output: CSV files written atomically ([`csv_out`]), the comparison table printed after a
//! run (`table`), and the charts and HTML report of a result folder: the folder's CSV files
//! are read back ([`input`]), turned into chart data (`series`) and verdicts (`verdict`),
//! drawn ([`charts`]) and laid out as `report.html` (`html`). This module sees only result
//! types ([`crate::metrics`]), never the simulator.

pub(crate) mod answer;
pub mod charts;
pub(crate) mod html;
pub mod input;
pub(crate) mod series;
pub(crate) mod table;
pub(crate) mod verdict;

/// The result folder's writer, now [`crate::output`] (shared with sweeps); this name stays for
/// existing callers.
pub(crate) use crate::output as csv_out;

use crate::error::{Error, Result};
use crate::output::OutputDir;
use charts::{ChartSize, Palette, render_png, render_svg};
use input::{FolderKind, RunTables, SweepTables};
use series::{ChartSpec, ColourKey};
use std::path::{Path, PathBuf};

/// The folder of the chart files inside a result folder.
pub(crate) const CHARTS_DIR: &str = "charts";
/// The report's file name.
pub(crate) const REPORT: &str = "report.html";

/// What [`report_dir`] drew.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Outcome {
    pub(crate) kind: FolderKind,
    /// Stems of the charts drawn (each as `.png` and `.svg`).
    pub(crate) charts: Vec<String>,
    /// Charts not drawn, and why.
    pub(crate) not_drawn: Vec<String>,
    /// The path of `report.html`.
    pub(crate) report: PathBuf,
    /// The summary columns the folder's files lack (written by an older sessim), shown as
    /// absent in the report; empty for a folder this version wrote.
    pub(crate) absent: Vec<&'static str>,
    /// The answer sentences at the top of a run's `report.html` (empty for a sweep), so that
    /// `sessim run` prints the same ones without reading the folder again.
    pub(crate) answers: Vec<String>,
}

/// The note that says which summary columns a folder lacks, or `None` if it lacks none.
pub(crate) fn absent_note(absent: &[&str], file: &str) -> Option<String> {
    (!absent.is_empty()).then(|| {
        format!(
            "{file} has no column {} (written by an older sessim): shown as absent, not as 0.",
            absent.join(", ")
        )
    })
}

/// The three palettes of a folder: strategies (Okabe-Ito, in scenario order), loss causes and
/// backends (viridis), so that a cause or a backend never wears a strategy's colour.
pub(crate) struct Palettes {
    pub(crate) strategies: Palette,
    pub(crate) causes: Palette,
    pub(crate) backends: Palette,
    /// The parts of the backends' work ([`series::WORK_LAYERS`]), viridis like the causes.
    pub(crate) work: Palette,
}

impl Palettes {
    /// `causes` are the loss causes drawn (at most six keep distinct colours, so only the
    /// causes present are given one, in [`crate::metrics::loss::LostCause::ALL`] order).
    pub(crate) fn new(strategies: &[String], causes: &[String], backends: &[String]) -> Palettes {
        Palettes {
            strategies: Palette::from_names(strategies),
            causes: Palette::sequential().with_names(causes),
            backends: Palette::sequential().with_names(backends),
            work: Palette::sequential().with_names(series::WORK_LAYERS),
        }
    }

    fn for_key(&mut self, key: ColourKey) -> &mut Palette {
        match key {
            ColourKey::Strategies => &mut self.strategies,
            ColourKey::Causes => &mut self.causes,
            ColourKey::Backends => &mut self.backends,
            ColourKey::Work => &mut self.work,
        }
    }
}

/// A chart rendered in memory.
pub(crate) struct Rendered {
    pub(crate) spec: ChartSpec,
    pub(crate) png: Vec<u8>,
    pub(crate) svg: String,
}

/// The canvas: 1000 x 600 px, wider for charts with many categories (about 110 px each, e.g.
/// the eleven strategies of seeds-compare) so that their names stay readable.
pub(crate) fn size_for(chart: &charts::Chart) -> ChartSize {
    let n = match chart {
        charts::Chart::Stacked(c) => c.categories.len(),
        charts::Chart::Bars(c) => c.categories.len(),
        charts::Chart::Percentiles(c) => c.categories.len(),
        charts::Chart::Grouped(c) => c.categories.len() * c.series.len().div_ceil(3),
        _ => 0,
    };
    let d = ChartSize::default();
    ChartSize {
        width: (400 + 110 * n as u32).clamp(d.width, 2400),
        height: d.height,
    }
}

/// Draws every spec as PNG and SVG, in memory.
pub(crate) fn render_all(specs: Vec<ChartSpec>, palettes: &mut Palettes) -> Result<Vec<Rendered>> {
    specs
        .into_iter()
        .map(|spec| {
            let size = size_for(&spec.chart);
            let p = palettes.for_key(spec.colours);
            let png = render_png(&spec.chart, p, size)?;
            let svg = render_svg(&spec.chart, p, size)?;
            Ok(Rendered { spec, png, svg })
        })
        .collect()
}

/// Reads the result folder `dir` (a run's or a sweep's), draws its charts into `dir/charts/`
/// (PNG and SVG) and writes `dir/report.html`. Everything is read and drawn before anything is
/// written; files are published by rename, and chart files of an earlier drawing that this one
/// no longer produces are removed.
pub(crate) fn report_dir(dir: &Path) -> Result<Outcome> {
    let kind = input::folder_kind(dir)?;
    let mut answers = Vec::new();
    let (rendered, html, not_drawn, absent) = match kind {
        FolderKind::Run => {
            let t = input::read_run(dir)?;
            let p = run_report(&t)?;
            answers = p.answers;
            (p.rendered, p.html, p.notes, input::absent_columns(&t.summary))
        }
        FolderKind::Sweep => {
            let t = input::read_sweep(dir)?;
            let (r, h, n) = sweep_report(&t)?;
            let summaries: Vec<_> = t.rows.iter().map(|r| r.summary.clone()).collect();
            (r, h, n, input::absent_columns(&summaries))
        }
    };
    let mut o = publish(dir, kind, &rendered, &html, not_drawn)?;
    o.absent = absent;
    o.answers = answers;
    Ok(o)
}

fn figures(rendered: &[Rendered]) -> Vec<html::Figure<'_>> {
    rendered
        .iter()
        .map(|r| html::Figure {
            stem: &r.spec.stem,
            caption: &r.spec.caption,
            svg: &r.svg,
        })
        .collect()
}

/// What [`run_report`] makes of a run folder.
pub(crate) struct RunPage {
    pub(crate) rendered: Vec<Rendered>,
    /// `report.html`.
    pub(crate) html: String,
    /// Charts not drawn, and why.
    pub(crate) notes: Vec<String>,
    /// The page's answer sentences.
    pub(crate) answers: Vec<String>,
}

/// The charts, page, notes and answer sentences of a run folder.
pub(crate) fn run_report(t: &RunTables) -> Result<RunPage> {
    let names = series::strategies(&t.summary);
    let mut backends: Vec<(u32, String)> = Vec::new();
    for b in &t.backends {
        if !backends.iter().any(|(_, n)| n == &b.backend) {
            backends.push((b.backend_index, b.backend.clone()));
        }
    }
    backends.sort_by_key(|(i, _)| *i);
    let backends: Vec<String> = backends.into_iter().map(|(_, n)| n).collect();
    let specs = series::run_charts(t);
    let causes: Vec<String> = specs
        .iter()
        .filter(|s| s.colours == ColourKey::Causes)
        .filter_map(|s| match &s.chart {
            charts::Chart::Stacked(c) => Some(c.layers.iter().map(|l| l.name.clone())),
            _ => None,
        })
        .flatten()
        .collect();
    let mut palettes = Palettes::new(&names, &causes, &backends);
    let mut notes = Vec::new();
    let has = |stem: &str| specs.iter().any(|s| s.stem == stem);
    if !has("lost_sessions") {
        notes.push("Lost sessions by cause: no request needed a session.".to_string());
    }
    if t.timeseries.is_empty() {
        notes.push("Charts over time: timeseries.csv is empty or absent.".to_string());
    } else {
        if t.faults.is_empty() {
            notes.push("Fault bands: the scenario has no faults.".to_string());
        }
        if !has("errors_over_time") {
            notes.push("Errors over time: no request failed in any time bucket.".to_string());
        }
        if !has("lost_sessions_over_time") {
            notes.push("Lost sessions over time: no session was lost in any time bucket.".to_string());
        }
        if !has("store_utilization_over_time") {
            notes.push("Store utilisation over time: no strategy has store servers.".to_string());
        }
    }
    notes.push(
        "Store utilisation and p99 against load, replication messages against node count, and latency \
         against a swept axis come from a sweep: see the report of `sessim sweep`."
            .to_string(),
    );
    let verdicts = verdict::run_verdicts(t);
    let rendered = render_all(specs, &mut palettes)?;
    let answers = answer::run_answers(t);
    let page = html::run_page(
        t,
        &answers,
        &verdicts,
        &figures(&rendered),
        &notes,
        &palettes.strategies,
    );
    Ok(RunPage {
        rendered,
        html: page,
        notes,
        answers,
    })
}

/// The charts, page and notes of a sweep folder.
pub(crate) fn sweep_report(t: &SweepTables) -> Result<(Vec<Rendered>, String, Vec<String>)> {
    let names = series::sweep_strategies(t);
    let mut palettes = Palettes::new(&names, &[], &[]);
    let specs = series::sweep_charts(t);
    let mut notes = Vec::new();
    match series::slices(t) {
        None => notes.push(format!(
            "Charts against a swept axis: no axis is numeric ({}).",
            t.axes.join(", ")
        )),
        Some(slices) => {
            let total = {
                let mut fixed: Vec<Vec<String>> = Vec::new();
                let axis = slices.first().map_or(0, |s| s.axis);
                for r in &t.rows {
                    let f: Vec<String> = r
                        .axes
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != axis)
                        .map(|(_, v)| v.clone())
                        .collect();
                    if !fixed.contains(&f) {
                        fixed.push(f);
                    }
                }
                fixed.len()
            };
            if total > slices.len() {
                notes.push(format!(
                    "Only the first {} of {total} combinations of the other axes are drawn.",
                    slices.len()
                ));
            }
        }
    }
    if !t.rows.iter().any(|r| r.summary.store_ops > 0) {
        notes.push("Store utilisation and store p99 against load: no strategy has store servers.".to_string());
    }
    if !specs.iter().any(|s| s.stem.starts_with("replication_vs_nodes")) {
        notes.push(
            "Replication messages against node count: needs a sweep over backends.count with a replicating \
             strategy."
                .to_string(),
        );
    }
    notes.push("Charts over time and per backend come from `sessim run` (sweeps keep summaries only).".to_string());
    let verdicts = verdict::sweep_verdicts(t);
    let rendered = render_all(specs, &mut palettes)?;
    let answers = answer::sweep_answers(t);
    let page = html::sweep_page(
        t,
        &answers,
        &verdicts,
        &figures(&rendered),
        &notes,
        &palettes.strategies,
    );
    Ok((rendered, page, notes))
}

fn publish(dir: &Path, kind: FolderKind, rendered: &[Rendered], html: &str, not_drawn: Vec<String>) -> Result<Outcome> {
    let charts_dir = dir.join(CHARTS_DIR);
    let mut out = OutputDir::create(&charts_dir)?;
    for r in rendered {
        out.bytes(&format!("{}.png", r.spec.stem), &r.png)?;
        out.bytes(&format!("{}.svg", r.spec.stem), r.svg.as_bytes())?;
    }
    let written = out.commit()?;
    // Charts an earlier drawing made that this one does not (e.g. an edited CSV without
    // faults): remove them, so the folder shows only what the data supports.
    let entries = std::fs::read_dir(&charts_dir).map_err(|e| Error::io(&charts_dir, e))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let chart_file = path.extension().is_some_and(|e| e == "png" || e == "svg");
        if chart_file && !written.contains(&path) {
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    let mut page = OutputDir::create(dir)?;
    page.bytes(REPORT, html.as_bytes())?;
    page.commit()?;
    Ok(Outcome {
        answers: Vec::new(),
        kind,
        charts: rendered.iter().map(|r| r.spec.stem.clone()).collect(),
        not_drawn,
        report: dir.join(REPORT),
        absent: Vec::new(),
    })
}
