//! The tables `sessim plan` prints: each strategy's cheapest sufficient configuration (or,
//! with `--max-load`, its largest load), with each target's mean and 95% half-width.

use super::Sweep;
use super::plan::{LoadAnswer, Plan, Target, describe};
use super::spec;
use comfy_table::Table;
use comfy_table::presets::UTF8_FULL_CONDENSED;

/// `12.345 ± 0.678`, or the mean alone when there is no interval.
fn pm(e: &crate::metrics::stats::Estimate, decimals: usize) -> String {
    if e.ci95.is_finite() {
        format!("{:.decimals$} ± {:.decimals$}", e.mean, e.ci95)
    } else {
        format!("{:.decimals$}", e.mean)
    }
}

/// The table printed by `sessim plan`: per strategy, the cheapest configuration meeting every
/// target, its cost, each target's mean and 95% half-width, the smallest margin (how far the
/// interval's end is from the target, % of the target) and how many configurations the search
/// simulated.
pub(crate) fn plan_table(sweep: &Sweep, targets: &[Target], plan: &Plan) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    let mut head = vec![
        "strategy".to_string(),
        "cheapest configuration".to_string(),
        plan.objective.clone(),
    ];
    head.extend(targets.iter().map(|t| t.to_string()));
    head.push("margin".into());
    head.push("simulated".into());
    t.set_header(head);
    for sp in &plan.strategies {
        let mut row = vec![sp.label.clone()];
        match sp.answer_eval() {
            None => {
                row.push("none meets the targets".into());
                row.push(String::new());
                row.extend(targets.iter().map(|_| String::new()));
                row.push(String::new());
            }
            Some(e) => {
                row.push(describe(sweep, e.point));
                row.push(pm(&e.objective, 3));
                row.extend(e.estimates.iter().map(|x| pm(x, 3)));
                let margin = targets
                    .iter()
                    .zip(&e.estimates)
                    .map(|(t, x)| (t.margin_pct(x), &t.metric))
                    .filter(|(m, _)| m.is_finite())
                    .min_by(|a, b| a.0.total_cmp(&b.0));
                row.push(match margin {
                    Some((m, metric)) => format!("{m:.1}% ({metric})"),
                    None => String::new(),
                });
            }
        }
        row.push(sp.evaluated.len().to_string());
        t.add_row(row);
    }
    t
}

/// The table printed by `sessim plan --max-load` (and `--growth`): per strategy, the largest
/// load meeting every target, and the targets there.
pub(crate) fn max_load_table(sweep: &Sweep, targets: &[Target], answers: &[LoadAnswer]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    let mut head = vec!["strategy".to_string(), "largest users/s meeting targets".to_string()];
    head.extend(targets.iter().map(|t| t.to_string()));
    head.push("next load tried".into());
    head.push("simulated".into());
    t.set_header(head);
    for a in answers {
        let mut row = vec![a.label.clone()];
        match a.largest.and_then(|p| a.evaluated.iter().find(|e| e.point == p)) {
            None => {
                row.push("none (the smallest load fails)".into());
                row.extend(targets.iter().map(|_| String::new()));
            }
            Some(e) => {
                row.push(
                    sweep.points[e.point]
                        .values
                        .iter()
                        .map(spec::display)
                        .collect::<Vec<_>>()
                        .join(" "),
                );
                row.extend(e.estimates.iter().map(|x| pm(x, 3)));
            }
        }
        // The smallest load known to fail, with the target it misses.
        let next = a.evaluated.iter().filter(|e| !e.met).min_by_key(|e| e.point).map(|e| {
            let missed: Vec<String> = targets
                .iter()
                .zip(&e.estimates)
                .filter(|(t, x)| !t.met(x))
                .map(|(t, x)| format!("{} {}", t.metric, pm(x, 3)))
                .collect();
            format!(
                "{}: {}",
                sweep.points[e.point]
                    .values
                    .iter()
                    .map(spec::display)
                    .collect::<Vec<_>>()
                    .join(" "),
                missed.join(", ")
            )
        });
        row.push(next.unwrap_or_else(|| "none fails".into()));
        row.push(a.evaluated.len().to_string());
        t.add_row(row);
    }
    t
}
