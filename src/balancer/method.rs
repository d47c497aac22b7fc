//! Which algorithm a balancer uses, with its parameters ([`Method`]), and the request key
//! that hashing policies read ([`HashKey`]).

use super::{ClientInfo, Needs, apache, envoy};
use crate::engine::SimTime;
use std::fmt;

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

/// Which algorithm a balancer uses, with its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Method {
    /// nginx default: smooth weighted round-robin, with backup servers.
    RoundRobin,
    /// nginx `ip_hash`.
    IpHash,
    /// nginx `hash KEY` / `hash KEY consistent`.
    Hash {
        /// What is hashed.
        key: HashKey,
        /// `consistent` (ketama points) rather than modulo.
        consistent: bool,
    },
    /// nginx `least_conn`.
    LeastConn,
    /// nginx `random` / `random two [least_conn]`.
    Random {
        /// `random two`: the less loaded of two random servers.
        two: bool,
    },
    /// HAProxy `balance roundrobin` (lb_fwrr.c).
    HaproxyRoundRobin,
    /// HAProxy `balance source`, map-based or `hash-type consistent`, optionally with
    /// the `avalanche` hash modifier.
    Source {
        /// `hash-type consistent` rather than map-based.
        consistent: bool,
        /// The `avalanche` hash modifier.
        avalanche: bool,
    },
    /// HAProxy `balance leastconn` (lb_fwlc.c).
    HaproxyLeastConn,
    /// Envoy `ROUND_ROBIN` (EDF when weights differ).
    EnvoyRoundRobin {
        /// `outlier_detection`, when configured.
        outlier: Option<envoy::OutlierConf>,
    },
    /// Envoy `LEAST_REQUEST`.
    EnvoyLeastRequest {
        /// Hosts drawn per pick (`choice_count`, default 2).
        choice_count: u32,
        /// `active_request_bias` (default 1.0), used when weights differ.
        active_request_bias: Bias,
        /// `outlier_detection`, when configured.
        outlier: Option<envoy::OutlierConf>,
    },
    /// Envoy `RING_HASH` with a hash policy.
    EnvoyRingHash {
        /// The hash policy.
        key: HashKey,
        /// `minimum_ring_size` (default 1024).
        minimum_ring_size: u64,
        /// `maximum_ring_size` (default 8M).
        maximum_ring_size: u64,
        /// `outlier_detection`, when configured.
        outlier: Option<envoy::OutlierConf>,
    },
    /// Envoy `MAGLEV` with a hash policy.
    EnvoyMaglev {
        /// The hash policy.
        key: HashKey,
        /// The lookup table's size (a prime, default 65537).
        table_size: u64,
        /// `outlier_detection`, when configured.
        outlier: Option<envoy::OutlierConf>,
    },
    /// A Kubernetes Service through kube-proxy's iptables rules; `affinity` is
    /// `sessionAffinity: ClientIP` with its `timeoutSeconds`.
    KubeProxy {
        /// `sessionAffinity: ClientIP` with its `timeoutSeconds`; `None`: no affinity.
        affinity: Option<SimTime>,
        /// Addresses each endpoint's xt_recent list keeps (the kernel's `ip_list_tot`).
        recent_list_size: u32,
    },
    /// Apache httpd `mod_proxy_balancer` (lbmethod, stickysession routes).
    Apache(apache::ApacheConf),
    /// Caddy 2.6 `reverse_proxy` (`lb_policy`, passive and active health).
    Caddy(super::caddy::CaddyConf),
}

/// Envoy's `active_request_bias` (a double), compared by its bits so that [`Method`] stays `Eq`.
#[derive(Clone, Copy, Debug)]
pub struct Bias(pub f64);

impl PartialEq for Bias {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}
impl Eq for Bias {}

impl Method {
    /// Whether this is one of Envoy's algorithms or kube-proxy (no retries, health from checks).
    pub fn is_envoy_or_kube(&self) -> bool {
        self.info().is_envoy_or_kube()
    }

    /// Whether this is one of HAProxy's algorithms.
    pub fn is_haproxy(&self) -> bool {
        self.info().is_haproxy()
    }
}

impl HashKey {
    /// What hashing this key reads from the request.
    pub fn needs(&self) -> Needs {
        Needs {
            session_cookie: matches!(self, HashKey::Cookie(_)),
            uri: matches!(self, HashKey::RequestUri),
            ..Needs::default()
        }
    }
}
