//! A replayed log as the simulator consumes it: the log read one request ahead, the users
//! active in it (log user -> the simulator's slot), and per request in flight what the log
//! says about it (its service time, its path when the balancer hashes it). Everything that
//! differs between a replayed and a modelled workload, beside the arrival of requests, is
//! answered here.

use super::source::{ReplayReport, ReplayRequest, ReplaySource};
use crate::engine::SimTime;
use crate::scenario::ReplayConfig;
use rustc_hash::FxHashMap;

/// A replayed request's index is its log line shifted by this, plus its copy number.
const COPY_BITS: u32 = 10;

/// The state of a replayed workload in one run.
pub(crate) struct Feed {
    login: bool,
    source: ReplaySource,
    /// The next request, read ahead; it arrives at its time.
    next: Option<ReplayRequest>,
    /// Simulated user number -> slot of the user in the simulator.
    slots: FxHashMap<u64, u32>,
    /// Per request slot: the log's service time [ns] (`u64::MAX`: none) and the path when the
    /// balancer hashes it.
    service_ns: Vec<u64>,
    paths: Vec<Option<Box<str>>>,
}

impl Feed {
    /// Opens the log of `cfg`; the error names the file and what is wrong.
    pub(crate) fn open(cfg: &ReplayConfig) -> Result<Self, String> {
        Ok(Feed {
            login: cfg.login,
            source: ReplaySource::open(cfg)?,
            next: None,
            slots: FxHashMap::default(),
            service_ns: Vec::new(),
            paths: Vec::new(),
        })
    }

    /// Whether replayed users log in (`[workload.replay] login`).
    #[inline]
    pub(crate) fn login(&self) -> bool {
        self.login
    }

    /// Reads the next request of the log; returns its arrival time, `None` at the end of
    /// the log or on an error (which [`Feed::report`] carries): arrivals then stop.
    pub(crate) fn read_ahead(&mut self) -> Option<SimTime> {
        self.next = self.source.next_request().ok().flatten();
        self.next.as_ref().map(|n| n.at)
    }

    /// The slots of the users whose log session ended since the last call (forgotten here).
    pub(crate) fn take_ended(&mut self) -> Vec<u32> {
        if self.source.ended.is_empty() {
            return Vec::new();
        }
        let ended = std::mem::take(&mut self.source.ended);
        ended.into_iter().filter_map(|id| self.slots.remove(&id)).collect()
    }

    /// The request read ahead, now arriving.
    pub(crate) fn take_next(&mut self) -> Option<ReplayRequest> {
        self.next.take()
    }

    /// The slot of log user `user`, if it is active.
    pub(crate) fn slot_of(&self, user: u64) -> Option<u32> {
        self.slots.get(&user).copied()
    }

    /// Log user `user` is active in `slot`.
    pub(crate) fn add_user(&mut self, user: u64, slot: u32) {
        self.slots.insert(user, slot);
    }

    /// Log user `user` left.
    pub(crate) fn remove_user(&mut self, user: u64) {
        self.slots.remove(&user);
    }

    /// The request index of a replayed request (its line and copy).
    pub(crate) fn index(n: &ReplayRequest) -> u64 {
        (n.line << COPY_BITS) | u64::from(n.copy)
    }

    /// The number traces show for a replayed request of `index` (its log line).
    pub(crate) fn request_number(index: u64) -> u64 {
        index >> COPY_BITS
    }

    /// Request slot `req` is `n`: keep its logged service time, and its path if `keep_path`.
    pub(crate) fn record(&mut self, req: u32, n: &mut ReplayRequest, keep_path: bool) {
        let i = req as usize;
        if self.service_ns.len() <= i {
            self.service_ns.resize(i + 1, u64::MAX);
        }
        self.service_ns[i] = n
            .service_time
            .map_or(u64::MAX, |s| SimTime::from_secs_f64(s).as_nanos());
        if keep_path {
            if self.paths.len() <= i {
                self.paths.resize(i + 1, None);
            }
            self.paths[i] = n.path.take().map(String::into_boxed_str);
        }
    }

    /// The logged service time of request slot `req`, if the log gives one.
    #[inline]
    pub(crate) fn service_time(&self, req: u32) -> Option<SimTime> {
        match self.service_ns.get(req as usize).copied() {
            Some(ns) if ns != u64::MAX => Some(SimTime(ns)),
            _ => None,
        }
    }

    /// The logged path of request slot `req` (`/` when none was kept).
    #[inline]
    pub(crate) fn path(&self, req: u32) -> &str {
        self.paths.get(req as usize).and_then(|p| p.as_deref()).unwrap_or("/")
    }

    /// Request slot `req` ended: forget what the log said about it.
    pub(crate) fn forget(&mut self, req: u32) {
        if let Some(s) = self.service_ns.get_mut(req as usize) {
            *s = u64::MAX;
        }
        if let Some(p) = self.paths.get_mut(req as usize) {
            *p = None;
        }
    }

    /// What reading the log found.
    pub(crate) fn report(&self) -> ReplayReport {
        self.source.report()
    }
}
