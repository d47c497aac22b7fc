//! The per-request trace: one CSV row per request as it ends, streamed to a writer so that
//! memory does not grow with the requests traced.
//!
//! Sampling is a pure function of the request's identity (a replayed request's log line and
//! copy; a synthetic request's user key and index), never of the run's random streams: the
//! same requests are kept in every strategy, and tracing changes no result. The rows carry no
//! header: the caller writes it once before the runs' rows (see [`HEADER`]).

use crate::engine::rng;
use serde::Serialize;
use std::io::Write;
use std::net::IpAddr;

/// The trace's columns, in order.
pub const HEADER: &str = "strategy,replication,request,user,client_ip,arrival_s,backend_index,backend,attempts,\
                          outcome,latency_ms,session_found,lost_cause,wait_ms";

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Served by a backend.
    Ok,
    /// The backend's queue was full: it answered 503 itself.
    Rejected,
    /// The client got a 502 (nginx out of tries, or an application down behind a live server).
    Error502,
    /// HAProxy gave up after its retries: 503.
    Error503,
    /// No server could be chosen (nginx "no live upstreams", HAProxy "no server available").
    NoServer,
}

impl Outcome {
    /// The name written in the `outcome` column.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Rejected => "rejected",
            Outcome::Error502 => "error_502",
            Outcome::Error503 => "error_503",
            Outcome::NoServer => "no_server",
        }
    }
}

/// One row of the trace.
#[derive(Serialize)]
pub struct TraceRow<'a> {
    /// The strategy's label.
    pub strategy: &'a str,
    /// The replication (0-based).
    pub replication: u32,
    /// A replayed request's log line; a synthetic request's index within its user (0 = login).
    pub request: u64,
    /// The user's index in arrival order (a replayed log's user in order of appearance).
    pub user: u64,
    /// The client address the balancer saw.
    pub client_ip: IpAddr,
    /// When the request reached the balancer [s of simulated time].
    pub arrival_s: f64,
    /// The server's 0-based position in the balancer's server list; empty when none was tried.
    pub backend_index: Option<u32>,
    /// That server's name; empty when none was tried.
    pub backend: &'a str,
    /// Connection attempts made.
    pub attempts: u32,
    /// How it ended ([`Outcome::name`]).
    pub outcome: &'static str,
    /// From arrival at the balancer to the end of the response \[ms\].
    pub latency_ms: f64,
    /// Whether the request found its session; empty when it did not look one up.
    pub session_found: Option<bool>,
    /// Why it did not (the `lost_*` column of summary.csv without the prefix).
    pub lost_cause: Option<&'static str>,
    /// Time it waited in its backend's queue for a worker \[ms\]; empty unless it was served.
    pub wait_ms: Option<f64>,
}

/// Where one run's trace rows go.
pub struct Tracer {
    w: csv::Writer<Box<dyn Write + Send>>,
    /// Keep a request when its identity hash is below this (`u64::MAX`: keep all).
    below: u64,
    all: bool,
    /// The first write error; later rows are dropped.
    pub error: Option<csv::Error>,
}

impl Tracer {
    /// A tracer keeping a fraction `sample` (0..=1) of the requests.
    pub fn new(out: Box<dyn Write + Send>, sample: f64) -> Self {
        Tracer {
            w: csv::WriterBuilder::new().has_headers(false).from_writer(out),
            below: (sample.clamp(0.0, 1.0) * u64::MAX as f64) as u64,
            all: sample >= 1.0,
            error: None,
        }
    }

    /// Whether the request with this identity is traced.
    #[inline]
    pub fn keeps(&self, identity: &[u64]) -> bool {
        self.all || rng::key(identity) < self.below
    }

    /// Writes `row` (the first write error is kept in [`Tracer::error`]).
    pub fn row(&mut self, row: &TraceRow<'_>) {
        if self.error.is_none()
            && let Err(e) = self.w.serialize(row)
        {
            self.error = Some(e);
        }
    }

    /// Flushes the rows; returns the first error.
    pub fn finish(mut self) -> Result<(), csv::Error> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.w.flush().map_err(csv::Error::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_depends_only_on_the_identity() {
        let t = Tracer::new(Box::new(std::io::sink()), 0.25);
        let kept = (0..100_000u64).filter(|i| t.keeps(&[*i, 0])).count();
        // 25% of 100000 within 1% (binomial sd ~ 137).
        assert!((24_000..26_000).contains(&kept), "{kept}");
        let t2 = Tracer::new(Box::new(std::io::sink()), 0.25);
        assert!((0..1000u64).all(|i| t.keeps(&[i, 3]) == t2.keeps(&[i, 3])));
        assert!(Tracer::new(Box::new(std::io::sink()), 1.0).keeps(&[u64::MAX]));
    }
}
