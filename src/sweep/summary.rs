//! `sweep_summary.csv`: statistics over replications, computed from the rows of `sweep.csv`
//! (so a resumed or merged sweep gets exactly the summary of an uninterrupted one).
//!
//! One row per point, strategy and metric: the mean, the sample standard deviation and the
//! 95% Student-t half-width over replications, and the paired difference against the baseline
//! strategy. Common random numbers make the comparison paired: at one point, replication r of
//! every strategy sees the same users, requests and service draws, so d_r = x_{s,r} - x_{b,r}
//! cancels most of the noise the strategies share, and its interval, t(R-1) sd(d) / sqrt(R),
//! is usually much narrower than either strategy's own.

use super::output::{STEADY_COLUMNS, record_bytes};
use crate::error::{Error, Result};
use crate::metrics::stats::{Estimate, estimate};
use crate::metrics::{SummaryRow, round6};

/// What the summary needs to know besides the rows.
pub(crate) struct Layout<'a> {
    /// The header of `sweep.csv`.
    pub(crate) columns: &'a [String],
    /// How many axis columns follow `point`.
    pub(crate) axes: usize,
    pub(crate) strategies: &'a [String],
    pub(crate) baseline: usize,
}

/// The bytes of `sweep_summary.csv` for the rows of `sweep.csv` (in grid order).
pub(crate) fn summary_csv(layout: &Layout, rows: &[csv::StringRecord]) -> Result<Vec<u8>> {
    // Summary columns come after `point` and the axis columns.
    let first = layout.axes + 1;
    let col = |name: &str| {
        layout.columns[first..]
            .iter()
            .position(|c| c == name)
            .map(|i| i + first)
            .ok_or_else(|| Error::bad_input(format!("sweep.csv has no `{name}` column")))
    };
    let strategy_col = col("strategy")?;
    let replication_col = col("replication")?;
    let metrics: Vec<(&str, usize)> = SummaryRow::METRICS
        .iter()
        .chain(STEADY_COLUMNS)
        .filter_map(|m| col(m).ok().map(|i| (*m, i)))
        .collect();

    let mut header: Vec<String> = layout.columns[..=layout.axes].to_vec();
    for h in [
        "strategy",
        "metric",
        "n",
        "mean",
        "sd",
        "ci95",
        "baseline",
        "diff_mean",
        "diff_sd",
        "diff_ci95",
    ] {
        header.push(h.to_string());
    }
    let mut out = record_bytes(&header)?;
    let opt = |x: f64| {
        if x.is_finite() {
            round6(x).to_string()
        } else {
            String::new()
        }
    };

    // Rows of one point are contiguous (grid order).
    let mut start = 0;
    while start < rows.len() {
        let point = &rows[start][0];
        let end = start + rows[start..].iter().take_while(|r| &r[0] == point).count();
        let group = &rows[start..end];
        let baseline = &layout.strategies[layout.baseline];
        for label in layout.strategies {
            let mine: Vec<&csv::StringRecord> = group.iter().filter(|r| &r[strategy_col] == label).collect();
            if mine.is_empty() {
                continue;
            }
            for (metric, i) in &metrics {
                let vals: Vec<f64> = mine.iter().filter_map(|r| r[*i].parse().ok()).collect();
                let e = estimate(&vals);
                let d: Option<Estimate> = (label != baseline).then(|| {
                    let diffs: Vec<f64> = mine
                        .iter()
                        .filter_map(|r| {
                            let b = group
                                .iter()
                                .find(|b| &b[strategy_col] == baseline && b[replication_col] == r[replication_col])?;
                            Some(r[*i].parse::<f64>().ok()? - b[*i].parse::<f64>().ok()?)
                        })
                        .collect();
                    estimate(&diffs)
                });
                let mut rec: Vec<String> = group[0].iter().take(layout.axes + 1).map(str::to_string).collect();
                rec.push(label.clone());
                rec.push(metric.to_string());
                rec.push(e.n.to_string());
                rec.push(opt(e.mean));
                rec.push(opt(e.sd));
                rec.push(opt(e.ci95));
                rec.push(baseline.clone());
                match d {
                    Some(d) => {
                        rec.push(opt(d.mean));
                        rec.push(opt(d.sd));
                        rec.push(opt(d.ci95));
                    }
                    None => rec.extend([String::new(), String::new(), String::new()]),
                }
                out.extend(record_bytes(&rec)?);
            }
        }
        start = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_intervals_and_paired_differences_by_hand() {
        // One point (rate 10), strategies a (baseline) and b, 3 replications.
        // a: latency 10, 12, 14 -> mean 12, sd 2, half-width t(2, 0.975) * 2 / sqrt 3
        //    = 4.302653 * 1.154701 = 4.968275.
        // b: latency 11, 14, 14 -> mean 13, sd sqrt(3) = 1.732051,
        //    half-width 4.302653 * 1.732051 / 1.732051 = 4.302653.
        // b - a paired by replication: 1, 2, 0 -> mean 1, sd 1, half-width 4.302653 / sqrt 3
        //    = 2.484138: far narrower than either strategy's own interval.
        let columns: Vec<String> = ["point", "rate", "strategy", "replication", "latency_mean_ms"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let strategies = vec!["a".to_string(), "b".to_string()];
        let rows: Vec<csv::StringRecord> = [
            ["0", "10", "a", "0", "10"],
            ["0", "10", "a", "1", "12"],
            ["0", "10", "a", "2", "14"],
            ["0", "10", "b", "0", "11"],
            ["0", "10", "b", "1", "14"],
            ["0", "10", "b", "2", "14"],
        ]
        .iter()
        .map(|r| csv::StringRecord::from(r.to_vec()))
        .collect();
        let layout = Layout {
            columns: &columns,
            axes: 1,
            strategies: &strategies,
            baseline: 0,
        };
        let text = String::from_utf8(summary_csv(&layout, &rows).unwrap()).unwrap();
        assert_eq!(
            text,
            "point,rate,strategy,metric,n,mean,sd,ci95,baseline,diff_mean,diff_sd,diff_ci95\n\
             0,10,a,latency_mean_ms,3,12,2,4.968275,a,,,\n\
             0,10,b,latency_mean_ms,3,13,1.732051,4.302653,a,1,1,2.484138\n"
        );
    }
}
