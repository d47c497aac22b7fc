//! `local`: the session lives on the backend whose login created it, as PHP's default `files`
//! handler keeps it on that host's disk (php-src `ext/session/mod_files.c`). A request that
//! lands on any other backend does not find it.
//!
//! Simplification until the storage issue: a session is deleted when its user logs in again or
//! leaves, instead of idling until `gc_maxlifetime`.

use super::{Lookup, LostCause, SessionId, SessionStore};
use crate::engine::SimTime;
use rustc_hash::FxHashMap;

pub struct Local {
    /// Session -> the backend holding it.
    home: FxHashMap<SessionId, u32>,
    held: Vec<u64>,
}

impl Local {
    pub fn new(backends: usize) -> Self {
        Local {
            home: FxHashMap::default(),
            held: vec![0; backends],
        }
    }
}

impl SessionStore for Local {
    fn create(&mut self, sid: SessionId, backend: usize, _: SimTime) {
        if let Some(old) = self.home.insert(sid, backend as u32) {
            self.held[old as usize] -= 1;
        }
        self.held[backend] += 1;
    }

    fn lookup(&mut self, sid: SessionId, backend: usize, _: SimTime) -> Lookup {
        match self.home.get(&sid) {
            Some(&b) if b as usize == backend => Lookup::Found,
            Some(_) => Lookup::Lost(LostCause::RoutedElsewhere),
            None => Lookup::Lost(LostCause::NodeFailure),
        }
    }

    fn remove(&mut self, sid: SessionId) {
        if let Some(b) = self.home.remove(&sid) {
            self.held[b as usize] -= 1;
        }
    }

    fn held_by(&self, backend: usize) -> u64 {
        self.held[backend]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_is_found_only_where_it_was_created() {
        let mut s = Local::new(3);
        s.create(42, 1, SimTime::ZERO);
        assert_eq!(s.lookup(42, 1, SimTime::ZERO), Lookup::Found);
        assert_eq!(s.lookup(42, 0, SimTime::ZERO), Lookup::Lost(LostCause::RoutedElsewhere));
        assert_eq!(s.held_by(1), 1);
        s.create(42, 2, SimTime::ZERO);
        assert_eq!((s.held_by(1), s.held_by(2)), (0, 1));
        s.remove(42);
        assert_eq!(s.held_by(2), 0);
        assert_eq!(s.lookup(42, 2, SimTime::ZERO), Lookup::Lost(LostCause::NodeFailure));
    }
}
