//! Simulation speed on the reference scenario: simulated requests and events per second of
//! wall time, on one thread. Run with
//!
//!     cargo run --release --example bench [-- SCENARIO [SIMULATED_HOURS]]
//!
//! It also prints the peak resident memory after runs of two lengths, to show that memory
//! does not grow with the number of requests simulated.

use sessim::scenario::{self, Override};
use std::path::PathBuf;
use std::time::Instant;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = PathBuf::from(args.first().map(String::as_str).unwrap_or("scenarios/reference.toml"));
    let hours: f64 = args.get(1).map(|h| h.parse()).transpose()?.unwrap_or(24.0);
    let run = |h: f64| -> Result<(u64, u64, f64), Box<dyn std::error::Error>> {
        let o = [
            Override::parse(&format!("duration=\"{}s\"", (h * 3600.0) as u64))?,
            Override::parse("warmup=\"0s\"")?,
            Override::parse(&format!("output.bucket=\"{}s\"", (h * 36.0).max(1.0) as u64))?,
        ];
        let sc = scenario::load(&path, &o)?;
        let t = Instant::now();
        let r = sessim::sim::run(&sc, 0, 0);
        Ok((r.summary.requests, r.events, t.elapsed().as_secs_f64()))
    };
    // A short run first: its peak memory is the baseline for the long one.
    run(hours / 8.0)?;
    let rss_short = peak_rss_kib();
    let (reqs, events, secs) = run(hours)?;
    let rss_long = peak_rss_kib();
    println!("scenario        {}", path.display());
    println!("simulated       {hours} h, {reqs} requests, {events} events in {secs:.2} s (1 thread)");
    println!("requests/s      {:.2} M", reqs as f64 / secs / 1e6);
    println!("events/s        {:.2} M", events as f64 / secs / 1e6);
    if let (Some(a), Some(b)) = (rss_short, rss_long) {
        println!(
            "peak memory     {a} KiB after {} h, {b} KiB after {hours} h",
            hours / 8.0
        );
    }
    Ok(())
}
