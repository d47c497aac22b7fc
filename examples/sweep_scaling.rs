//! Sweep scaling: wall time of the same sweep with `--jobs 1` and `--jobs 2` (or JOBS), the
//! speed-up, and a check that both wrote the same bytes. Run with
//!
//!     cargo run --release --example sweep_scaling [-- SCENARIO [JOBS [REPEATS]]]
//!
//! Each configuration runs REPEATS times (default 2) and the fastest is kept, which filters out
//! some of the noise of a shared machine; the speed-up is only meaningful on otherwise idle
//! cores.

use sessim::scenario;
use sessim::sweep::run::{Options, run};
use sessim::sweep::{AxesFrom, Shard, Sweep};
use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = PathBuf::from(
        args.first()
            .map(String::as_str)
            .unwrap_or("scenarios/capacity-sweep.toml"),
    );
    let jobs: usize = args.get(1).map(|j| j.parse()).transpose()?.unwrap_or(2);
    let repeats: usize = args.get(2).map(|r| r.parse()).transpose()?.unwrap_or(2);
    let sc = scenario::load(&path, &[])?;
    let sweep = Sweep::build(&sc, &path.display().to_string(), &[], AxesFrom::FileAndVary)?;
    let tmp = tempfile::tempdir()?;
    let time_of = |j: usize| -> Result<(f64, u64, Vec<u8>), Box<dyn std::error::Error>> {
        let mut best = f64::INFINITY;
        let mut requests = 0;
        let out = tmp.path().join(format!("jobs{j}"));
        for _ in 0..repeats {
            let t = Instant::now();
            let o = run(
                &sweep,
                &Options {
                    out: out.clone(),
                    jobs: j,
                    shard: Shard::WHOLE,
                    resume: false,
                    progress: false,
                },
            )?;
            best = best.min(t.elapsed().as_secs_f64());
            requests = o.requests;
        }
        Ok((best, requests, std::fs::read(out.join("sweep.csv"))?))
    };
    let (t1, requests, a) = time_of(1)?;
    let (tj, _, b) = time_of(jobs)?;
    println!("scenario        {}", path.display());
    println!(
        "sweep           {} points x {} strategies x {} replications = {} runs, {requests} requests",
        sweep.points.len(),
        sweep.strategies.len(),
        sweep.replications,
        sweep.runs()
    );
    println!(
        "cores           {}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("--jobs 1        {t1:.2} s (best of {repeats})");
    println!("--jobs {jobs}        {tj:.2} s (best of {repeats})");
    println!("speed-up        {:.2}x", t1 / tj);
    println!("same bytes      {}", if a == b { "yes" } else { "NO" });
    if a != b {
        return Err("the sweep files differ between --jobs values".into());
    }
    Ok(())
}
