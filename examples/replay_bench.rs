//! Replay speed and memory: writes logs of 100k and 1M `combined` lines into a temporary
//! folder and replays each through a 4-backend ip_hash cluster with sessions in local files,
//! printing requests replayed per second of wall time and the peak resident memory after each.
//! Memory stays flat: the replay holds one second of the log and the users active at once,
//! never the log. Run with
//!
//!     cargo run --release --example replay_bench [-- LINES_SMALL LINES_LARGE]

use std::io::Write;
use std::time::Instant;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `lines` requests at 200 per second from a rolling population: every 20 seconds 200 new
/// clients arrive, and each sends one request a second for 20 seconds.
fn write_log(path: &std::path::Path, lines: u64) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    let base = 1_795_341_600u64; // 2026-11-22T10:00:00Z
    for i in 0..lines {
        let second = i / 200;
        let slot = i % 200;
        let client = (second / 20) * 200 + slot;
        let t = base + second;
        let (h, m, s) = ((t / 3600) % 24, (t / 60) % 60, t % 60);
        let day = 22 + (t - base + 10 * 3600) / 86_400;
        writeln!(
            w,
            "10.{}.{}.{} - - [{day:02}/Nov/2026:{h:02}:{m:02}:{s:02} +0000] \"GET /page/{} HTTP/1.1\" 200 512 \"-\" \"bench\"",
            (client >> 16) & 0xFF,
            (client >> 8) & 0xFF,
            client & 0xFF,
            i % 1000
        )?;
    }
    w.flush()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u64> = std::env::args().skip(1).map(|a| a.parse()).collect::<Result<_, _>>()?;
    let sizes = [
        args.first().copied().unwrap_or(100_000),
        args.get(1).copied().unwrap_or(1_000_000),
    ];
    let dir = tempfile::tempdir()?;
    for lines in sizes {
        let log = dir.path().join(format!("access-{lines}.log"));
        write_log(&log, lines)?;
        let text = format!(
            "name = \"replay-bench\"\nduration = \"{}s\"\n[workload.replay]\nfile = {:?}\nsession_gap = \"60s\"\n\
             [backends]\ncount = 4\nworkers = 64\nservice_time = \"20ms\"\n[balancer]\npolicy = \"ip_hash\"\n",
            lines / 200 + 10,
            log.display().to_string()
        );
        let sc = sessim::scenario::load_str(&text, "bench.toml", &[])?;
        let t = Instant::now();
        let run = sessim::sim::run(&sc, 0, 0)?;
        let secs = t.elapsed().as_secs_f64();
        let (r, rep) = (run.result, run.replay.unwrap_or_default());
        if let Some(e) = rep.error {
            return Err(e.into());
        }
        println!(
            "{lines:>8} lines: {} requests, {} user sessions, {} lost, replayed in {secs:.2} s = {:.2} M req/s; \
             peak RSS {} KiB",
            r.summary.requests,
            rep.sessions,
            r.summary.metric("sessions_lost").unwrap_or(0.0),
            r.summary.requests as f64 / secs / 1e6,
            peak_rss_kib().unwrap_or(0)
        );
        std::fs::remove_file(&log)?;
    }
    Ok(())
}
