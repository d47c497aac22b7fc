//! A log as the simulator's request source: reader -> spreader -> window and time scale ->
//! sessionizer -> clones, pulled one request at a time when the simulator's clock reaches it.
//!
//! Memory: the reader's one line, one second of spread records, the sessionizer's active
//! users; never the log's length. The log's order is the arrival order: a time that goes
//! backwards (nginx writes a line when the request ends) is clamped to the previous one.
//!
//! This module knows nothing of balancers or stores; it owns what a replayed request is and
//! what reading the log found wrong ([`ReplayReport`]).

use super::csv_log::CsvFormat;
use super::haproxy::HaproxyFormat;
use super::nginx::NginxFormat;
use super::spread::Spreader;
use super::users::Sessionizer;
use super::{BadLine, LineFormat, LogReader, LogRecord};
use crate::engine::SimTime;
use crate::engine::rng;
use crate::scenario::{LogFormat, ReplayConfig, ServiceSource};
use std::cell::OnceCell;
use std::fs::File;
use std::io::BufReader;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One request to replay.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayRequest {
    /// When it arrives in the simulation.
    pub at: SimTime,
    /// Its line in the log (1-based).
    pub line: u64,
    /// Which copy of the line (0 = the original; see `clone`).
    pub copy: u32,
    /// The simulated user: `session * clone + copy`, numbered in order of first request.
    pub user: u64,
    /// Whether it is the first request of its user's session.
    pub first: bool,
    /// The client address.
    pub addr: IpAddr,
    /// The request's path, when logged.
    pub path: Option<String>,
    /// Service time from the log \[s\], when it is to be used.
    pub service_time: Option<f64>,
}

/// What reading the log found: the same for every strategy and replication.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplayReport {
    /// The log as named in messages.
    pub file: String,
    /// Lines read.
    pub lines: u64,
    /// Requests replayed (copies included).
    pub requests: u64,
    /// Malformed lines.
    pub bad_count: u64,
    /// The first malformed lines.
    pub bad: Vec<BadLine>,
    /// User sessions inferred (before cloning).
    pub sessions: u64,
    /// A fatal problem: an I/O error, or the first malformed line under `strict`.
    pub error: Option<String>,
}

/// The log formats behind one type. A CSV log's first line is its header.
enum AnyFormat {
    Nginx(NginxFormat),
    Haproxy(HaproxyFormat),
    /// The header, once read (or why it could not be).
    Csv(OnceCell<Result<CsvFormat, String>>),
}

impl LineFormat for AnyFormat {
    fn parse(&self, line: &str, number: u64) -> Result<Option<LogRecord>, String> {
        match self {
            AnyFormat::Nginx(f) => f.parse(line, number),
            AnyFormat::Haproxy(f) => f.parse(line, number),
            AnyFormat::Csv(cell) => match cell.get() {
                Some(Ok(f)) => f.parse(line, number),
                Some(Err(_)) => Err("the CSV header is unusable".into()),
                None => {
                    let f = CsvFormat::from_header(line);
                    let out = match &f {
                        Ok(_) => Ok(None),
                        Err(m) => Err(format!("CSV header: {m}")),
                    };
                    let _ = cell.set(f);
                    out
                }
            },
        }
    }
}

/// Pulls replayed requests from a log, in arrival order.
pub struct ReplaySource {
    cfg: ReplayConfig,
    reader: LogReader<BufReader<File>, AnyFormat>,
    spreader: Spreader,
    sessions: Sessionizer,
    eof: bool,
    /// Log time of the replay's time zero [ns], set by the first record.
    origin: Option<i64>,
    last_ns: i64,
    /// The record being copied and the copies already given.
    current: Option<(LogRecord, u64, bool, SimTime)>,
    next_copy: u32,
    report: ReplayReport,
    /// Users of the simulation whose log session is over (all their copies).
    pub ended: Vec<u64>,
}

impl ReplaySource {
    /// Opens the log. Errors name the file and say what to fix.
    pub fn open(cfg: &ReplayConfig) -> Result<Self, String> {
        let shown = cfg.file.display().to_string();
        let file = File::open(&cfg.file).map_err(|e| {
            format!("{shown}: cannot open the log (workload.replay.file is relative to the scenario file): {e}")
        })?;
        let format = match &cfg.format {
            LogFormat::Nginx(f) => {
                AnyFormat::Nginx(NginxFormat::new(f, cfg.id_cookie.as_deref()).map_err(|m| format!("{shown}: {m}"))?)
            }
            LogFormat::Haproxy => AnyFormat::Haproxy(HaproxyFormat),
            LogFormat::Csv => AnyFormat::Csv(OnceCell::new()),
        };
        Ok(ReplaySource {
            reader: LogReader::new(BufReader::with_capacity(1 << 16, file), format),
            spreader: Spreader::new(),
            sessions: Sessionizer::new(cfg.session_gap.as_nanos() as i64),
            eof: false,
            origin: None,
            last_ns: i64::MIN,
            current: None,
            next_copy: 0,
            report: ReplayReport {
                file: shown,
                ..ReplayReport::default()
            },
            ended: Vec::new(),
            cfg: cfg.clone(),
        })
    }

    /// What reading found so far.
    pub fn report(&self) -> ReplayReport {
        let mut r = self.report.clone();
        r.lines = self.reader.lines_read;
        r.bad_count = self.reader.bad_count;
        r.bad = self.reader.bad.clone();
        r.sessions = self.sessions.sessions();
        r
    }

    /// Stops the replay with a fatal error (it is also in [`Self::report`]).
    fn fail(&mut self, msg: String) -> Result<Option<ReplayRequest>, String> {
        self.eof = true;
        self.current = None;
        self.report.error = Some(msg.clone());
        Err(msg)
    }

    /// The next record whose time is final, or `None` at the end of the log.
    fn next_spread(&mut self) -> Result<Option<LogRecord>, String> {
        loop {
            if let Some(r) = self.spreader.pop() {
                return Ok(Some(r));
            }
            if self.eof {
                return Ok(None);
            }
            let before = self.reader.bad_count;
            let mut rec = match self.reader.next_record() {
                Ok(r) => r,
                Err(e) => return Err(format!("{}: cannot read the log: {e}", self.report.file)),
            };
            if let AnyFormat::Csv(cell) = self.reader.format()
                && let Some(Err(m)) = cell.get()
            {
                return Err(format!(
                    "{}:1: CSV header: {m} (the first line of a CSV log names its columns)",
                    self.report.file
                ));
            }
            let eof = rec.is_none();
            if let Some(r) = &mut rec {
                match self.cfg.service {
                    ServiceSource::Model => r.service_time = None,
                    ServiceSource::Log if r.service_time.is_none() => {
                        self.reader.bad_line(
                            "no service time on the line, and workload.replay.service_time = \"log\" needs one".into(),
                        );
                        rec = None;
                    }
                    _ => {}
                }
            }
            // Under strict replay the first malformed line stops it, so it is the first kept.
            if self.cfg.strict
                && self.reader.bad_count > before
                && let Some(b) = self.reader.bad.first()
            {
                return Err(format!(
                    "{}:{}: {} (strict replay: fix or remove the line, or drop --strict / workload.replay.strict \
                     to count and skip malformed lines)",
                    self.report.file, b.line, b.reason
                ));
            }
            match rec {
                Some(r) => self.spreader.push(r),
                None if eof => {
                    self.eof = true;
                    self.spreader.finish();
                }
                None => {}
            }
        }
    }

    /// The next request to replay, or `None` when the log (or its window) is done.
    pub fn next_request(&mut self) -> Result<Option<ReplayRequest>, String> {
        let k = self.cfg.clone;
        loop {
            if let Some((rec, user, first, at)) = &self.current
                && self.next_copy < k
            {
                let copy = self.next_copy;
                self.next_copy += 1;
                self.report.requests += 1;
                return Ok(Some(ReplayRequest {
                    at: *at,
                    line: rec.line,
                    copy,
                    user: user * k as u64 + copy as u64,
                    first: *first,
                    addr: copy_addr(rec.client_ip, copy),
                    path: rec.path.clone(),
                    service_time: rec.service_time,
                }));
            }
            self.current = None;
            let rec = match self.next_spread() {
                Ok(Some(r)) => r,
                Ok(None) => return Ok(None),
                Err(m) => return self.fail(m),
            };
            // The log's order is the arrival order.
            let t = rec.time_ns.max(self.last_ns);
            self.last_ns = t;
            let origin = *self.origin.get_or_insert_with(|| t - t.rem_euclid(1_000_000_000));
            let since = (t - origin) as u64;
            if since < self.cfg.from.as_nanos() {
                continue;
            }
            if self.cfg.to.is_some_and(|to| since >= to.as_nanos()) {
                self.eof = true;
                self.spreader = Spreader::new();
                return Ok(None);
            }
            let v = self.sessions.visit(Sessionizer::identity(&rec), t);
            for u in self.sessions.ended.drain(..) {
                for c in 0..k {
                    self.ended.push(u * k as u64 + c as u64);
                }
            }
            let at = SimTime::from_secs_f64((since - self.cfg.from.as_nanos()) as f64 * 1e-9 * self.cfg.time_scale);
            self.current = Some((rec, v.user, v.first, at));
            self.next_copy = 0;
        }
    }
}

/// The address of copy `copy` of a client: copy 0 is the client itself; another copy moves
/// the client's whole /24 (IPv4) or /64 (IPv6) network to a network of its own, keeping the
/// host part, so clients that shared a network (a NAT, an office) still share one.
pub fn copy_addr(ip: IpAddr, copy: u32) -> IpAddr {
    if copy == 0 {
        return ip;
    }
    match ip {
        IpAddr::V4(a) => {
            let a = u32::from(a);
            let net = rng::key(&[0xC0FE, (a >> 8) as u64, copy as u64]) as u32 & 0x00FF_FFFF;
            IpAddr::V4(Ipv4Addr::from((net << 8) | (a & 0xFF)))
        }
        IpAddr::V6(a) => {
            let a = u128::from(a);
            let net = rng::key(&[0xC0FE, (a >> 64) as u64, copy as u64]);
            IpAddr::V6(Ipv6Addr::from(((net as u128) << 64) | (a & u64::MAX as u128)))
        }
    }
}

/// The simulated time of the last request of a log (with its window and time scale), read in
/// one streaming pass: what `sessim replay` sets as the scenario's duration.
pub fn span(cfg: &ReplayConfig) -> Result<(SimTime, ReplayReport), String> {
    let mut s = ReplaySource::open(cfg)?;
    let mut last = SimTime::ZERO;
    while let Some(r) = s.next_request()? {
        last = r.at;
        s.ended.clear();
    }
    Ok((last, s.report()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_move_whole_networks() {
        let a: IpAddr = "10.1.2.3".parse().unwrap();
        let b: IpAddr = "10.1.2.77".parse().unwrap();
        assert_eq!(copy_addr(a, 0), a);
        let (ca, cb) = (copy_addr(a, 1), copy_addr(b, 1));
        let net = |ip: IpAddr| match ip {
            IpAddr::V4(v) => u32::from(v) >> 8,
            IpAddr::V6(_) => 0,
        };
        assert_eq!(net(ca), net(cb), "one /24 stays one /24");
        assert_ne!(net(ca), net(a));
        assert_ne!(net(copy_addr(a, 2)), net(ca));
        assert!(ca.to_string().ends_with(".3"), "{ca}");
        assert_eq!(copy_addr(a, 1), ca, "deterministic");
    }
}
