//! The one parallel loop of the crate: independent tasks `0..n` on `jobs` threads, their results
//! handed on in task order whatever the thread count or the finishing order. Every caller (a
//! run's strategies x replications, a sweep's rows, a plan's rounds) gets its determinism from
//! here: a task's result depends only on its index, and the order results are used in is the
//! index order.

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

/// The thread count for `jobs`: `jobs` itself, or one per core for 0.
pub(crate) fn threads(jobs: usize) -> usize {
    if jobs > 0 {
        jobs
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// Runs `work(k)` for every `k` in `0..n` on `jobs` threads (0 = one per core) and hands each
/// result to `sink` in order of `k`, as soon as every earlier one has been handed on (so a
/// caller can stream rows to a file). The first error, of a task or of `sink`, stops the loop:
/// the workers finish the task they are on and start no other, and the error is returned.
pub(crate) fn ordered<T: Send>(
    jobs: usize,
    n: usize,
    work: impl Fn(usize) -> Result<T> + Sync,
    mut sink: impl FnMut(usize, T) -> Result<()>,
) -> Result<()> {
    let workers = threads(jobs).min(n);
    if workers <= 1 {
        // One thread: no channel, the same order.
        for k in 0..n {
            sink(k, work(k)?)?;
        }
        return Ok(());
    }
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(usize, Result<T>)>();
    std::thread::scope(|s| {
        let (next, stop, work) = (&next, &stop, &work);
        for w in 0..workers {
            let tx = tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("sessim-{w}"))
                .spawn_scoped(s, move || {
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        if k >= n || stop.load(Ordering::Relaxed) {
                            break;
                        }
                        if tx.send((k, work(k))).is_err() {
                            break;
                        }
                    }
                });
            if let Err(e) = spawned {
                stop.store(true, Ordering::Relaxed);
                return Err(Error::internal(format!(
                    "cannot start worker thread {w} of {workers}: {e}"
                )));
            }
        }
        drop(tx);
        let mut pending: BTreeMap<usize, T> = BTreeMap::new();
        let mut want = 0;
        let mut result = Ok(());
        'received: for (k, r) in rx.iter() {
            match r {
                Ok(t) => {
                    pending.insert(k, t);
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
            while let Some(t) = pending.remove(&want) {
                if let Err(e) = sink(want, t) {
                    result = Err(e);
                    break 'received;
                }
                want += 1;
            }
        }
        // On an error, let the workers finish their current task and stop.
        stop.store(true, Ordering::Relaxed);
        drop(rx);
        result
    })
}

/// [`ordered`], collecting the results: `work(0), work(1), ...` in that order.
pub(crate) fn map<T: Send>(jobs: usize, n: usize, work: impl Fn(usize) -> Result<T> + Sync) -> Result<Vec<T>> {
    let mut out = Vec::with_capacity(n);
    ordered(jobs, n, work, |_, t| {
        out.push(t);
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tasks that finish in reverse order (later indexes sleep less) still come back in index
    /// order, for every thread count.
    #[test]
    fn results_come_back_in_task_order_for_any_thread_count() {
        let expected: Vec<usize> = (0..24).map(|k| k * k).collect();
        for jobs in [1, 2, 3, 8, 0] {
            let got = map(jobs, 24, |k| {
                std::thread::sleep(std::time::Duration::from_micros(((24 - k) * 200) as u64));
                Ok(k * k)
            })
            .unwrap();
            assert_eq!(got, expected, "jobs = {jobs}");
        }
        assert_eq!(map(4, 0, Ok).unwrap(), Vec::<usize>::new());
    }

    /// The sink sees every index once, in order; an error of a task is returned, and the sink
    /// never sees the failed index or any after it.
    #[test]
    fn an_error_stops_the_loop_and_is_returned() {
        let mut seen = Vec::new();
        let r = ordered(
            3,
            50,
            |k| {
                if k == 7 {
                    Err(Error::bad_input(format!("task {k}")))
                } else {
                    Ok(k)
                }
            },
            |k, t| {
                assert_eq!(k, t);
                seen.push(k);
                Ok(())
            },
        );
        assert_eq!(r.unwrap_err().to_string(), "task 7");
        assert!(
            seen.iter().enumerate().all(|(i, &k)| i == k) && seen.len() <= 7,
            "{seen:?}"
        );
        // A failing sink stops it too.
        let r = ordered(
            2,
            10,
            Ok,
            |k, _| if k == 3 { Err(Error::internal("full")) } else { Ok(()) },
        );
        assert_eq!(r.unwrap_err().exit_code(), 1);
    }
}
