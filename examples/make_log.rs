//! Writes a deterministic nginx `combined` access log from sessim's own synthetic user model:
//! the small log bundled as `scenarios/data/replay-example.log`, made by
//!
//!     cargo run --release --example make_log -- scenarios/quick-start.toml 300 1 > scenarios/data/replay-example.log
//!
//! (arguments: the scenario whose workload is used, the seconds of traffic, and the users
//! arriving per second, which overrides the scenario's).
//!
//! Users arrive, click through pages with think times and leave exactly as in a synthetic run
//! of the scenario (replication 0); each request becomes one line at its send time (assuming
//! instant responses), with the user's address, `/page/<n>` and a per-user User-Agent so that
//! users behind one NAT address stay distinct. Timestamps have nginx's one-second resolution
//! and the log is in time order. The same arguments always write the same bytes.

use sessim::engine::SimTime;
use sessim::scenario;
use sessim::workload::{Arrivals, Population};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write;
use std::path::PathBuf;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = PathBuf::from(args.first().map(String::as_str).unwrap_or("scenarios/quick-start.toml"));
    let seconds: u64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(600);
    let mut overrides = Vec::new();
    if let Some(rate) = args.get(2) {
        overrides.push(scenario::Override::parse(&format!("workload.users_per_second={rate}"))?);
    }
    let sc = scenario::load(&path, &overrides)?;
    let w = &sc.strategies()[0].system.workload;
    let pop = Population::new(w, sc.seed(), 0);
    let mut arrivals = Arrivals::new(w, sc.seed(), 0);
    let end = SimTime::from_secs(seconds);
    // (time, user, request index): requests in time order; ties by user then index.
    let mut heap = BinaryHeap::new();
    let mut users = Vec::new();
    while let Some(t) = arrivals.next_arrival() {
        if t >= end {
            break;
        }
        let id = users.len() as u64;
        let p = pop.user(w, id);
        let mut at = t;
        let first = u64::from(!p.login);
        for index in first..=u64::from(p.requests) {
            if index > first {
                at += pop.think_time(w, &p, index);
            }
            if at >= end {
                break;
            }
            heap.push(Reverse((at, id, index)));
        }
        users.push(p);
    }
    // 2026-11-22 10:00:00 UTC.
    let origin = time::macros::datetime!(2026-11-22 10:00:00 UTC);
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    while let Some(Reverse((at, id, index))) = heap.pop() {
        let p = &users[id as usize];
        let t = origin + time::Duration::seconds(at.as_nanos() as i64 / 1_000_000_000);
        let page = if index == 0 {
            "/login".to_string()
        } else {
            format!("/page/{}", pop.page(w, p.key, index))
        };
        writeln!(
            out,
            "{} - - [{:02}/{}/{}:{:02}:{:02}:{:02} +0000] \"GET {page} HTTP/1.1\" 200 {} \"-\" \"Mozilla/5.0 (sessim; u{:x})\"",
            p.addr,
            t.day(),
            MONTHS[t.month() as usize - 1],
            t.year(),
            t.hour(),
            t.minute(),
            t.second(),
            1000 + (p.key % 9000),
            p.key >> 44,
        )?;
    }
    out.flush()?;
    Ok(())
}
