//! Simulation speed, on one thread: simulated requests and events per second of wall time,
//! nanoseconds per request and peak resident memory, for the reference scenario and for the
//! busy site of `scenarios/busy-day.toml` (1 million users alive, 4.6 million sessions).
//!
//!     cargo run --release --example bench                  # every case below
//!     cargo run --release --example bench -- CASE...       # some of them
//!     cargo run --release --example bench -- --reps 5 reference busy-day:30m
//!
//! Cases: `reference` (its own 2 simulated hours, the simulation alone), `reference-run` (the
//! whole `sessim run --jobs 1` of it: loading, simulating, writing every CSV file, the charts
//! and report.html), `busy-day:30m` and `busy-day:6h` (any `busy-day:DURATION` works, e.g.
//! `busy-day:24h`). Each case runs in a process of its own, so its peak memory (VmHWM) is its
//! own; with `--reps N` it runs N times and the median is printed. Compare builds by running
//! this for both in one sitting (the machine is shared: absolute rates move, ratios less).
//! `cargo run --release --example bench --features queue-binary` runs on the binary heap,
//! `--features queue-ladder` on the ladder queue.
//! `req/CPU-s` divides by the CPU time the case used (user + system) instead of wall time: on
//! a machine shared with other work it is the steadier of the two.

use sessim::scenario::{self, Override};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

#[global_allocator]
static ALLOC: sessim::alloc::HugePages = sessim::alloc::HugePages;

const DEFAULT_CASES: [&str; 4] = ["reference", "reference-run", "busy-day:30m", "busy-day:6h"];

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// CPU seconds (user + system) this process has used, from /proc/self/stat (clock ticks of
/// 1/100 s). On a shared machine, a rate by CPU time moves less than one by wall time.
fn cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
            let rest = s.rsplit_once(')')?.1.to_owned();
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
            Some(ticks as f64 / 100.0)
        })
        .unwrap_or(0.0)
}

/// One measurement: (requests, events, wall seconds).
fn measure(case: &str) -> Result<(u64, u64, f64), Box<dyn std::error::Error>> {
    if case == "reference-run" {
        let out = tempfile::tempdir()?;
        let dir = out.path().join("reference");
        let t = Instant::now();
        let cli = <sessim::cli::Cli as clap::Parser>::try_parse_from([
            "sessim",
            "run",
            "scenarios/reference.toml",
            "--jobs",
            "1",
            "--quiet",
            "--out",
            &dir.to_string_lossy(),
        ])?;
        sessim::cli::main_with(cli)?;
        let secs = t.elapsed().as_secs_f64();
        // The requests it simulated, read back from the file it wrote.
        let summary = std::fs::read_to_string(dir.join("summary.csv"))?;
        let mut rows = csv::Reader::from_reader(summary.as_bytes());
        let col = rows
            .headers()?
            .iter()
            .position(|h| h == "requests")
            .ok_or("no requests column")?;
        let mut requests = 0u64;
        for row in rows.records() {
            requests += row?.get(col).ok_or("short row")?.parse::<u64>()?;
        }
        return Ok((requests, 0, secs));
    }
    let (path, duration) = match case.split_once(':') {
        Some((name, d)) => (format!("scenarios/{name}.toml"), Some(d.to_owned())),
        None => (format!("scenarios/{case}.toml"), None),
    };
    let mut o = Vec::new();
    if let Some(d) = &duration {
        o.push(Override::parse(&format!("duration=\"{d}\""))?);
        // Warm-up and buckets only shape the statistics; keep them proportionate.
        o.push(Override::parse("warmup=\"0s\"")?);
        let secs = humantime::parse_duration(d)?.as_secs().max(100);
        o.push(Override::parse(&format!("output.bucket=\"{}s\"", secs / 100))?);
    }
    let sc = scenario::load(Path::new(&path), &o)?;
    let t = Instant::now();
    let mut requests = 0;
    let mut events = 0;
    for s in 0..sc.strategies().len() {
        let r = sessim::sim::run(&sc, s, 0)?.result;
        requests += r.summary.requests;
        events += r.events;
    }
    Ok((requests, events, t.elapsed().as_secs_f64()))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        let cpu0 = cpu_secs();
        let (requests, events, secs) = measure(&args[1])?;
        println!("{requests} {events} {secs} {} {}", peak_rss_kib(), cpu_secs() - cpu0);
        return Ok(());
    }
    let mut reps = 1usize;
    if let Some(i) = args.iter().position(|a| a == "--reps") {
        reps = args.get(i + 1).ok_or("--reps N")?.parse()?;
        args.drain(i..i + 2);
    }
    let cases: Vec<String> = if args.is_empty() {
        DEFAULT_CASES.iter().map(|s| s.to_string()).collect()
    } else {
        args
    };
    let exe = std::env::current_exe()?;
    let queue = if cfg!(feature = "queue-binary") {
        "binary heap"
    } else if cfg!(feature = "queue-ladder") {
        "ladder queue"
    } else {
        "radix heap"
    };
    println!("one thread, event queue: {queue}, median of {reps}");
    println!(
        "{:<16} {:>12} {:>12} {:>10} {:>10} {:>9} {:>11} {:>12}",
        "case", "requests", "events", "req/s", "events/s", "ns/req", "peak RSS", "req/CPU-s"
    );
    for case in &cases {
        let mut rates = Vec::new();
        let mut last = (0u64, 0u64, 0u64);
        let mut secs_all = Vec::new();
        let mut cpu_rates = Vec::new();
        for _ in 0..reps {
            let out = Command::new(&exe).args(["--child", case]).output()?;
            if !out.status.success() {
                return Err(format!("{case}: {}", String::from_utf8_lossy(&out.stderr)).into());
            }
            let line = String::from_utf8(out.stdout)?;
            let f: Vec<&str> = line.split_whitespace().collect();
            let (requests, events, secs, rss, cpu): (u64, u64, f64, u64, f64) = (
                f[0].parse()?,
                f[1].parse()?,
                f[2].parse()?,
                f[3].parse()?,
                f[4].parse()?,
            );
            rates.push(requests as f64 / secs);
            cpu_rates.push(requests as f64 / cpu.max(0.01));
            secs_all.push(secs);
            last = (requests, events, rss);
        }
        let secs = median(secs_all);
        let (requests, events, rss) = last;
        let events_s = if events > 0 {
            format!("{:.2} M", events as f64 / secs / 1e6)
        } else {
            "-".into()
        };
        println!(
            "{:<16} {:>12} {:>12} {:>8.2} M {:>10} {:>9.0} {:>7.0} MiB {:>10.2} M",
            case,
            requests,
            if events > 0 { events.to_string() } else { "-".into() },
            median(rates) / 1e6,
            events_s,
            secs * 1e9 / requests as f64,
            rss as f64 / 1024.0,
            median(cpu_rates) / 1e6
        );
    }
    Ok(())
}
