//! Which algorithm a balancer uses, with its parameters ([`Method`], a handle on one
//! [`Algorithm`]), and the request key that hashing policies read ([`HashKey`]).
//!
//! Everything about one algorithm lives in its policy's file: a small parameter type
//! (`ip_hash::IpHashConf`, `hash::HashConf { key, consistent }`, `apache::ApacheConf`, ...)
//! implementing [`Algorithm`] says which [`PolicyInfo`] it belongs to, builds its [`Policy`],
//! checks its parameters, shows them in `sessim check` and writes them into a resolved
//! scenario file. Nothing else matches over the policies: the code that must know one
//! concrete algorithm (Caddy's retry loop, the importers' tests) asks
//! [`Method::downcast_ref`].

use super::envoy::OutlierConf;
use super::registry::PolicyInfo;
use super::{BalancerError, ClientInfo, Needs, Policy, ServerConf};
use crate::engine::SimTime;
use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// The key of nginx `hash` / `hash ... consistent`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HashKey {
    /// `$remote_addr`: the client address as text (`127.0.0.1`).
    RemoteAddr,
    /// `$cookie_NAME`: the session cookie value (empty when absent).
    Cookie(String),
    /// `$request_uri`: the request URI.
    RequestUri,
}

impl HashKey {
    /// Write the key's bytes for `client` into `buf`; returns the used prefix.
    /// Allocation-free: an address is formatted into the stack buffer.
    pub(crate) fn bytes<'b>(&self, client: &ClientInfo<'b>, buf: &'b mut [u8; 64]) -> &'b [u8] {
        match self {
            HashKey::RemoteAddr => {
                use std::io::Write;
                let mut cursor = std::io::Cursor::new(&mut buf[..]);
                // 64 bytes hold any IPv4 or IPv6 text form; on the impossible overflow
                // the key is what fit.
                let _ = write!(cursor, "{}", client.addr);
                let n = usize::try_from(cursor.position()).unwrap_or(0).min(64);
                &buf[..n]
            }
            HashKey::Cookie(_) => client.session_cookie.unwrap_or("").as_bytes(),
            HashKey::RequestUri => client.uri.as_bytes(),
        }
    }

    /// Its value of the scenario key `balancer.key` (`remote_addr`, `cookie`, `request_uri`).
    pub fn key_name(&self) -> &'static str {
        match self {
            HashKey::RemoteAddr => "remote_addr",
            HashKey::Cookie(_) => "cookie",
            HashKey::RequestUri => "request_uri",
        }
    }

    /// What hashing this key reads from the request.
    pub fn needs(&self) -> Needs {
        Needs {
            session_cookie: matches!(self, HashKey::Cookie(_)),
            uri: matches!(self, HashKey::RequestUri),
            ..Needs::default()
        }
    }
}

impl fmt::Display for HashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HashKey::RemoteAddr => write!(f, "$remote_addr"),
            HashKey::Cookie(name) => write!(f, "$cookie_{name}"),
            HashKey::RequestUri => write!(f, "$request_uri"),
        }
    }
}

/// One algorithm with its parameters: what a policy's file implements besides its
/// [`Policy`] and its [`PolicyInfo`]. Every method but [`Algorithm::info`] and
/// [`Algorithm::build`] has a default for an algorithm without parameters.
///
/// Equality and downcasting come with it ([`AlgorithmAny`], for every `Eq` type), so a
/// parameter type derives `Clone, Debug, PartialEq, Eq` and implements only this. `Debug`
/// must show every parameter: the resolved round-trip tests compare scenarios by it.
pub trait Algorithm: AlgorithmAny + fmt::Debug + Send + Sync {
    /// The policy it belongs to (the `cookie` policy wraps it when the balancer inserts a
    /// persistence cookie: see [`super::BalancerConf::info`]).
    fn info(&self) -> &'static PolicyInfo;

    /// A fresh policy for `servers` (its own round-robin position, connection counts and hash
    /// tables). Called once per run, never per request.
    fn build(&self, servers: &[ServerConf]) -> Box<dyn Policy>;

    /// The range checks the real software makes of these parameters (and sessim's own
    /// limits), run once by [`super::CheckedConf::new`] after the servers' checks.
    fn validate(&self) -> Result<(), BalancerError> {
        Ok(())
    }

    /// Its parameters as `sessim check` shows them after the policy's name, starting with a
    /// space (` (key $remote_addr)`); nothing for an algorithm without parameters.
    fn summary(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let _ = f;
        Ok(())
    }

    /// Its own `[balancer]` keys in a resolved scenario file, every one of them, in the
    /// order written; `servers` are the balancer's (Apache's `retry` is its members'
    /// `fail_timeout`). The family's keys (nginx `max_fails`, HAProxy or Envoy `check`...)
    /// and `outlier_detection` are written by the resolved file itself.
    fn keys(&self, servers: &[ServerConf], keys: &mut Keys) {
        let _ = (servers, keys);
    }

    /// Envoy `outlier_detection`, when this algorithm has it configured.
    fn outlier(&self) -> Option<&OutlierConf> {
        None
    }

    /// HAProxy's `stream_choose_redispatch` redispatches a request that did not follow a
    /// cookie on every retry when the algorithm is not a hash (`BE_LB_KIND_HI`): true for
    /// `roundrobin` and `leastconn`.
    fn redispatch_every_retry(&self) -> bool {
        false
    }
}

/// Downcasting and equality of an [`Algorithm`] behind `dyn`; implemented for every
/// `'static` type that is `Eq`, never by hand.
pub trait AlgorithmAny: Any {
    /// `self` as [`Any`], for [`Method::downcast_ref`].
    fn as_any(&self) -> &dyn Any;
    /// Whether `other` is of the same type and equal.
    fn dyn_eq(&self, other: &dyn Algorithm) -> bool;
}

impl<T: Algorithm + Eq> AlgorithmAny for T {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn dyn_eq(&self, other: &dyn Algorithm) -> bool {
        other.as_any().downcast_ref::<T>() == Some(self)
    }
}

/// Which algorithm a balancer uses, with its parameters: a cheap, clonable handle on one
/// [`Algorithm`] (dereferences to it). Two methods are equal when their algorithms are of the
/// same type with equal parameters; `Debug` shows the algorithm's.
#[derive(Clone)]
pub struct Method(Arc<dyn Algorithm>);

impl Method {
    /// The method of `algorithm`.
    pub fn new(algorithm: impl Algorithm) -> Self {
        Method(Arc::new(algorithm))
    }

    /// The algorithm's parameters, if it is a `T` (`method.downcast_ref::<CaddyConf>()`).
    pub fn downcast_ref<T: Algorithm>(&self) -> Option<&T> {
        let a: &dyn Algorithm = &*self.0;
        a.as_any().downcast_ref::<T>()
    }

    /// Whether this is one of Envoy's algorithms or kube-proxy (no retries, health from checks).
    pub fn is_envoy_or_kube(&self) -> bool {
        self.info().is_envoy_or_kube()
    }

    /// Whether this is one of HAProxy's algorithms.
    pub fn is_haproxy(&self) -> bool {
        self.info().is_haproxy()
    }
}

impl<A: Algorithm> From<A> for Method {
    fn from(algorithm: A) -> Self {
        Method::new(algorithm)
    }
}

impl std::ops::Deref for Method {
    type Target = dyn Algorithm;

    fn deref(&self) -> &(dyn Algorithm + 'static) {
        &*self.0
    }
}

impl PartialEq for Method {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.dyn_eq(&*other.0)
    }
}
impl Eq for Method {}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// Envoy's `active_request_bias` (a double), compared by its bits so that its parameters stay
/// `Eq`.
#[derive(Clone, Copy, Debug)]
pub struct Bias(pub f64);

impl PartialEq for Bias {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}
impl Eq for Bias {}

/// The value of one `[balancer]` key, as a resolved scenario file writes it.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyValue {
    /// A string.
    Str(String),
    /// A whole number.
    Int(i64),
    /// A number with a fraction.
    Float(f64),
    /// `true` / `false`.
    Bool(bool),
    /// A duration (written as the loader reads it back, `"1m 30s"`).
    Time(SimTime),
    /// A list of strings.
    List(Vec<String>),
}

impl From<&str> for KeyValue {
    fn from(s: &str) -> Self {
        KeyValue::Str(s.to_string())
    }
}
impl From<String> for KeyValue {
    fn from(s: String) -> Self {
        KeyValue::Str(s)
    }
}
impl From<i64> for KeyValue {
    fn from(n: i64) -> Self {
        KeyValue::Int(n)
    }
}
impl From<f64> for KeyValue {
    fn from(x: f64) -> Self {
        KeyValue::Float(x)
    }
}
impl From<bool> for KeyValue {
    fn from(b: bool) -> Self {
        KeyValue::Bool(b)
    }
}
impl From<SimTime> for KeyValue {
    fn from(t: SimTime) -> Self {
        KeyValue::Time(t)
    }
}
impl From<Vec<String>> for KeyValue {
    fn from(v: Vec<String>) -> Self {
        KeyValue::List(v)
    }
}

/// An algorithm's `[balancer]` keys with their values, in the order written
/// ([`Algorithm::keys`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Keys(pub Vec<(&'static str, KeyValue)>);

impl Keys {
    /// Appends `key = value`.
    pub fn put(&mut self, key: &'static str, value: impl Into<KeyValue>) {
        self.0.push((key, value.into()));
    }
}
