//! Conformance of the Caddy policy with real Caddy 2.6 (`reverse_proxy`).
//!
//! Each case writes a Caddyfile (global options `admin off`, `auto_https off`; one site
//! `:PORT` with `bind 127.0.0.1`; HOME and XDG folders in a temporary directory), starts the
//! four tiny backends of [`super::conformance`], starts `caddy run` in its own process group,
//! and sends requests one at a time from the 127.x source addresses of
//! [`super::conformance::sources`]. The policy is imported from the *same file* with
//! `sessim::balancer::config::caddyfile` and fed the same requests, each attempt reported as
//! the real connection went (refused by a stopped backend, or answered). Every answer (the
//! backend that replied, or Caddy's 502) must agree.
//!
//! Random choices (the `cookie` policy's fallback, `random`) cannot be reproduced: for the
//! cookie fallback the test checks that the real answer came from an upstream the policy
//! considers available and that Caddy's `Set-Cookie` is the HMAC of that upstream's dial
//! address; `random` is checked with a chi-square test (see `caddy_random_is_uniform`).
//!
//! Needs `caddy` (Debian: `apt-get install caddy`); `#[ignore]`d like the nginx/HAProxy
//! cases and run by `.ci/run` through the `conformance` filter. Ports 18400-18519.
//!
//! Passive health (`unhealthy_status`, `unhealthy_latency`, `unhealthy_request_count`) uses
//! backends whose status and delay change on demand ([`super::conformance::Mode`]); the
//! policy gets the same status and the configured delay as the response's latency.

use super::conformance::{Backend, Mode, Proc, keep_dir, record, require, sources, start_backends, wait_port};
use sessim::balancer::caddy::{CaddyConf, cookie_value};
use sessim::balancer::config::caddyfile;
use sessim::balancer::{Attempt, BalancerConf, Bookkeeping, ClientInfo, PeerState, Policy, SimRng, SimTime, build};
use socket2::{Domain, Socket, Type};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

struct Caddy {
    _proc: Proc,
    _dir: tempfile::TempDir,
    text: String,
    port: u16,
    started: Instant,
}

fn start_caddy(port: u16, proxy: &str) -> Caddy {
    let bin = require("caddy");
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!("{{\n\tadmin off\n\tauto_https off\n}}\n\n:{port} {{\n\tbind 127.0.0.1\n\t{proxy}\n}}\n");
    let file = dir.path().join("Caddyfile");
    std::fs::write(&file, &text).expect("write Caddyfile");
    let mut cmd = Command::new(&bin);
    cmd.arg("run")
        .arg("--config")
        .arg(&file)
        .arg("--adapter")
        .arg("caddyfile")
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .stdout(Stdio::null())
        .stderr(
            std::fs::File::create(dir.path().join("caddy.log"))
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null()),
        );
    let proc = Proc::spawn("caddy", &mut cmd);
    wait_port(port, "caddy");
    Caddy {
        _proc: proc,
        _dir: dir,
        text,
        port,
        started: Instant::now(),
    }
}

struct Resp {
    status: u16,
    body: String,
    set_cookie: Option<String>,
}

/// One HTTP/1.1 GET from `src` with extra header lines.
fn get(src: Ipv4Addr, port: u16, path: &str, headers: &[(&str, &str)]) -> Resp {
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    sock.bind(&SocketAddr::from((src, 0)).into())
        .unwrap_or_else(|e| panic!("bind {src}: {e}"));
    let dst = SocketAddr::from(([127, 0, 0, 1], port));
    sock.connect_timeout(&dst.into(), Duration::from_secs(2))
        .unwrap_or_else(|e| panic!("connect {dst} from {src}: {e}"));
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    let req = format!("GET {path} HTTP/1.1\r\nHost: conformance\r\n{extra}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).expect("send request");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let set_cookie = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("set-cookie").then(|| v.trim().to_string())
    });
    Resp {
        status,
        body: body.to_string(),
        set_cookie,
    }
}

/// The policy imported from the same Caddyfile, and Caddy's retry loop around it.
struct Sim {
    conf: BalancerConf,
    policy: Box<dyn Policy>,
    peers: Vec<PeerState>,
    rng: SimRng,
}

/// What the simulated handler did with one request.
struct SimAnswer {
    /// The upstream that answered, or `None` for 502.
    addr: Option<String>,
    /// Whether the answering pick followed the client's cookie (cookie policy).
    direct: bool,
    /// The status the client gets: the upstream's, or Caddy's 502 (dial error) / 503 (no
    /// upstream available).
    status: u16,
}

impl Sim {
    fn new(text: &str) -> Sim {
        let conf = caddyfile::import(text, None).expect("import Caddyfile").conf;
        let policy = build(&conf).expect("policy builds from the imported Caddyfile");
        let peers = PeerState::for_servers(&conf.servers);
        Sim {
            conf,
            policy,
            peers,
            rng: sessim::engine::rng::stream(1, 0, sessim::engine::Stream::Balancer),
        }
    }

    fn caddy(&self) -> CaddyConf {
        match self.conf.method.downcast_ref::<CaddyConf>() {
            Some(c) => c.clone(),
            None => panic!("Caddy expected, got {:?}", self.conf.method),
        }
    }

    fn request(&mut self, client: &ClientInfo<'_>, now: SimTime, dead: &[String]) -> SimAnswer {
        self.request_with(client, now, dead, &mut |_| (200, SimTime::ZERO)).0
    }

    /// Caddy's proxy loop (`proxyLoopIteration` + `tryAgain`) for one request: each
    /// iteration selects; a dead upstream is a dial error (a failure, maybe retried); a live
    /// one answers `answer(addr)` = (status, latency), which ends the loop. Also returns
    /// the waits of `lb_try_interval` the loop made (no request here lasts `lb_try_duration`).
    fn request_with(
        &mut self,
        client: &ClientInfo<'_>,
        now: SimTime,
        dead: &[String],
        answer: &mut dyn FnMut(&str) -> (u16, SimTime),
    ) -> (SimAnswer, SimTime) {
        let caddy = self.caddy();
        let mut a = Attempt::default();
        let mut waited = SimTime::ZERO;
        let mut iterations = 0;
        loop {
            iterations += 1;
            let picked = self
                .policy
                .pick_counted(client, &mut self.peers, &mut a, now, &mut self.rng);
            if let Some(i) = picked {
                let addr = self.conf.servers[i].addr.clone();
                if !dead.contains(&addr) {
                    let (status, latency) = answer(&addr);
                    self.policy
                        .report_response_counted(i, status, latency, &mut self.peers, now);
                    let answer = SimAnswer {
                        addr: Some(addr),
                        direct: a.direct,
                        status,
                    };
                    return (answer, waited);
                }
                self.policy.report_counted(i, false, &mut self.peers, now);
            }
            match caddy.try_again(iterations, waited) {
                Some(w) => waited += w,
                None => {
                    let status = if picked.is_some() { 502 } else { 503 };
                    let answer = SimAnswer {
                        addr: None,
                        direct: false,
                        status,
                    };
                    return (answer, waited);
                }
            }
        }
    }
}

struct Req {
    src: Ipv4Addr,
    path: String,
    header: Option<String>,
    cookie: Option<String>,
}

fn plain(n: usize, tag: &str) -> Vec<Req> {
    let srcs = sources();
    (0..n)
        .map(|k| Req {
            src: srcs[(k * 7) % srcs.len()],
            path: format!("/{tag}/{k}?q={}", k % 13),
            header: None,
            cookie: None,
        })
        .collect()
}

/// Run `reqs` against real Caddy and the imported policy; `stop = (k, b)` stops backend `b`
/// (1-based) before request `k`. Every answer must agree.
fn case(name: &str, base: u16, proxy: &str, reqs: &[Req], stop: Option<(usize, usize)>) {
    let mut backends: Vec<Backend> = start_backends(base);
    let caddy = start_caddy(base, proxy);
    let mut sim = Sim::new(&caddy.text);
    let cookie_name = "lb";
    let secret = cookie_secret(proxy);
    let mut dead: Vec<String> = Vec::new();
    let (mut agree, mut total, mut failed, mut fallbacks) = (0, 0, 0, 0);
    for (k, r) in reqs.iter().enumerate() {
        if let Some((at, which)) = stop
            && k == at
        {
            backends[which - 1].stop();
            dead.push(format!("127.0.0.1:{}", base + which as u16));
        }
        let cookie_line = r.cookie.as_ref().map(|v| format!("{cookie_name}={v}"));
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(h) = &r.header {
            headers.push(("X-Session", h));
        }
        if let Some(c) = &cookie_line {
            headers.push(("Cookie", c));
        }
        let real = get(r.src, caddy.port, &r.path, &headers);
        let real_addr = match real.status {
            200 => Some(real.body.clone()),
            502 | 503 => None,
            other => panic!("{name}: request {k} answered {other}: {}", real.body),
        };
        let client = ClientInfo {
            addr: IpAddr::V4(r.src),
            session_cookie: r.header.as_deref(),
            uri: &r.path,
            server_cookie: r.cookie.as_deref(),
        };
        let now = SimTime::from_secs_f64(caddy.started.elapsed().as_secs_f64());
        let s = sim.request(&client, now, &dead);
        total += 1;
        failed += usize::from(real_addr.is_none());
        let ok = match (&secret, &s.addr, &real_addr) {
            // The cookie policy's random fallback (not reproducible): Caddy must have set the
            // cookie, and its value must be the HMAC of the upstream that answered.
            (Some(key), Some(_), Some(ra)) if !s.direct => {
                fallbacks += 1;
                let want = format!("{cookie_name}={}", cookie_value(key, ra));
                real.set_cookie.as_deref().is_some_and(|c| c.starts_with(&want))
            }
            (Some(_), Some(sa), Some(ra)) => sa == ra && real.set_cookie.is_none(),
            _ => s.addr == real_addr,
        };
        if ok {
            agree += 1;
        } else if total - agree <= 5 {
            eprintln!(
                "{name}: request {k} ({}) real {real_addr:?} (set-cookie {:?}) sim {:?}",
                r.path, real.set_cookie, s.addr
            );
        }
    }
    let _ = std::fs::write(keep_dir().join(format!("{name}.Caddyfile")), &caddy.text);
    record(&format!(
        "{name}: {agree}/{total} requests agree with real Caddy 2.6 ({failed} answered 502{})",
        if secret.is_some() {
            format!(", {fallbacks} cookie fallbacks checked by their Set-Cookie")
        } else {
            String::new()
        }
    ));
    assert_eq!(agree, total, "{name}: disagreements");
}

/// The secret of `lb_policy cookie lb SECRET` in a proxy block, if that is its policy.
fn cookie_secret(proxy: &str) -> Option<String> {
    proxy.lines().find_map(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        match w.as_slice() {
            ["lb_policy", "cookie", "lb", s] => Some((*s).to_string()),
            _ => None,
        }
    })
}

fn proxy(base: u16, body: &str) -> String {
    let ups: Vec<String> = (1..=4).map(|i| format!("127.0.0.1:{}", base + i)).collect();
    format!("reverse_proxy {} {{\n{body}\n\t}}", ups.join(" "))
}

#[test]
#[ignore = "needs real caddy (apt-get install caddy); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn caddy_conformance_round_robin_passive_health() {
    let base = 18400;
    let p = proxy(
        base,
        "\t\tlb_policy round_robin\n\t\tlb_retries 2\n\t\tfail_duration 1m",
    );
    // Backend 2 stops before request 150: its next turn fails, is counted (max_fails 1) and
    // retried on the next in turn; afterwards the robin skips it.
    case("caddy-round-robin-passive", base, &p, &plain(300, "rr"), Some((150, 2)));
}

#[test]
#[ignore = "needs real caddy (apt-get install caddy); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn caddy_conformance_first_without_health_gives_502() {
    let base = 18410;
    // No passive health: after backend 1 stops, `first` keeps choosing it and its one retry
    // fails the same way: 502.
    let p = proxy(base, "\t\tlb_policy first\n\t\tlb_retries 1");
    case("caddy-first-no-health", base, &p, &plain(100, "first"), Some((50, 1)));
}

#[test]
#[ignore = "needs real caddy (apt-get install caddy); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn caddy_conformance_ip_hash_node_loss() {
    let base = 18420;
    let p = proxy(base, "\t\tlb_policy ip_hash\n\t\tlb_retries 1\n\t\tfail_duration 1m");
    let srcs = sources();
    let reqs: Vec<Req> = (0..400)
        .map(|k| Req {
            src: srcs[k % srcs.len()],
            path: format!("/ip/{k}"),
            header: None,
            cookie: None,
        })
        .collect();
    case("caddy-ip-hash-node-loss", base, &p, &reqs, Some((200, 3)));
}

#[test]
#[ignore = "needs real caddy (apt-get install caddy); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn caddy_conformance_uri_hash() {
    let base = 18430;
    let p = proxy(base, "\t\tlb_policy uri_hash\n\t\tlb_retries 1\n\t\tfail_duration 1m");
    case("caddy-uri-hash", base, &p, &plain(300, "uri"), Some((200, 4)));
}

#[test]
#[ignore = "needs real caddy (apt-get install caddy); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn caddy_conformance_header_hash() {
    let base = 18440;
    let p = proxy(base, "\t\tlb_policy header X-Session");
    let mut reqs = plain(300, "header");
    for (k, r) in reqs.iter_mut().enumerate() {
        r.header = Some(format!("{:016x}", (k as u64 % 97).wrapping_mul(0x9E37_79B9_7F4A_7C15)));
    }
    case("caddy-header-hash", base, &p, &reqs, None);
}

#[test]
#[ignore = "needs real caddy (apt-get install caddy); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn caddy_conformance_cookie_with_fallback() {
    let base = 18450;
    let secret = "s3cret";
    let p = proxy(
        base,
        &format!("\t\tlb_policy cookie lb {secret}\n\t\tlb_retries 2\n\t\tfail_duration 1m"),
    );
    let values: Vec<String> = (1..=4)
        .map(|i| cookie_value(secret, &format!("127.0.0.1:{}", base + i)))
        .collect();
    let mut reqs = plain(300, "cookie");
    for (k, r) in reqs.iter_mut().enumerate() {
        // A fifth without a cookie, a fifth with a foreign one, the rest with a valid one;
        // the first request after the stop (k = 150) carries backend 2's cookie.
        r.cookie = match k % 5 {
            _ if k == 150 => Some(values[1].clone()),
            0 => None,
            1 => Some("0123456789abcdef".into()),
            _ => Some(values[if k == 150 { 1 } else { k % 4 }].clone()),
        };
    }
    case("caddy-cookie-fallback", base, &p, &reqs, Some((150, 2)));
}

#[test]
#[ignore = "needs real caddy (apt-get install caddy); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn caddy_conformance_random_is_uniform() {
    // `random` draws from Go's math/rand seeded by the clock: not reproducible, so the real
    // server is checked for uniformity. Pearson's chi-square over the 4 upstreams,
    // X = sum (O - E)^2 / E with E = 400 / 4; 3 degrees of freedom: P(X > 16.27) = 0.001.
    let base = 18460;
    let _backends = start_backends(base);
    let caddy = start_caddy(base, &proxy(base, "\t\tlb_policy random"));
    let mut n = [0f64; 4];
    let src = Ipv4Addr::new(127, 0, 0, 1);
    for k in 0..400 {
        let r = get(src, caddy.port, &format!("/random/{k}"), &[]);
        assert_eq!(r.status, 200, "random: request {k}");
        let i = (1..=4)
            .position(|i| r.body == format!("127.0.0.1:{}", base + i))
            .unwrap_or_else(|| panic!("random: unknown upstream {}", r.body));
        n[i] += 1.0;
    }
    let e = 100.0;
    let chi: f64 = n.iter().map(|o| (o - e) * (o - e) / e).sum();
    record(&format!(
        "caddy-random: chi-square {chi:.2} over {n:?} (uniform at p = 0.001 needs < 16.27)"
    ));
    assert!(chi < 16.27, "random is not uniform: {n:?}");
}

/// A change of a backend's behaviour before request `at`: backend `backend` (1-based) answers
/// `status` after `delay_ms` from then on.
struct Change {
    at: usize,
    backend: usize,
    status: u16,
    delay_ms: u64,
}

/// Sequential requests against backends whose status and delay change as `changes` say;
/// the sim gets the same status and the configured delay as latency, and must agree with
/// every answer: the upstream (or none) and the status. `pause = (k, ms)` sleeps before
/// request `k` (to let failures expire). Returns the agreement and the statuses seen.
fn passive_case(
    name: &str,
    base: u16,
    proxy: &str,
    n: usize,
    changes: &[Change],
    pause: Option<(usize, u64)>,
) -> (usize, usize, Vec<u16>) {
    let modes: Vec<Mode> = (0..4).map(|_| Mode::default()).collect();
    let _backends: Vec<Backend> = (1..=4)
        .map(|i| Backend::start_mode(base + i, modes[usize::from(i - 1)].clone()))
        .collect();
    let caddy = start_caddy(base, proxy);
    let mut sim = Sim::new(&caddy.text);
    let addrs: Vec<String> = (1..=4).map(|i| format!("127.0.0.1:{}", base + i)).collect();
    let srcs = sources();
    let (mut agree, mut statuses) = (0, Vec::new());
    for k in 0..n {
        if let Some((at, ms)) = pause
            && k == at
        {
            std::thread::sleep(Duration::from_millis(ms));
        }
        for c in changes.iter().filter(|c| c.at == k) {
            modes[c.backend - 1].status.store(c.status, Ordering::SeqCst);
            modes[c.backend - 1].delay_ms.store(c.delay_ms, Ordering::SeqCst);
        }
        let src = srcs[k % srcs.len()];
        let path = format!("/{name}/{k}");
        let real = get(src, caddy.port, &path, &[]);
        let client = ClientInfo {
            addr: IpAddr::V4(src),
            session_cookie: None,
            uri: &path,
            server_cookie: None,
        };
        let now = SimTime::from_secs_f64(caddy.started.elapsed().as_secs_f64());
        let mut answer = |addr: &str| {
            let i = addrs.iter().position(|a| a == addr).unwrap_or(0);
            let status = modes[i].status.load(Ordering::SeqCst);
            (status, SimTime::from_millis(modes[i].delay_ms.load(Ordering::SeqCst)))
        };
        let (s, _) = sim.request_with(&client, now, &[], &mut answer);
        // A backend's answer carries its address whatever its status; Caddy's own 502/503
        // carries none of them.
        let real_addr = addrs.iter().find(|a| **a == real.body).cloned();
        if real_addr == s.addr && real.status == s.status {
            agree += 1;
        } else if k + 1 - agree <= 5 {
            eprintln!(
                "{name}: request {k} real {} {:?} sim {} {:?}",
                real.status, real_addr, s.status, s.addr
            );
        }
        statuses.push(real.status);
    }
    let _ = std::fs::write(keep_dir().join(format!("{name}.Caddyfile")), &caddy.text);
    (agree, n, statuses)
}

#[test]
#[ignore = "needs real caddy (apt-get install caddy); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn caddy_conformance_unhealthy_status() {
    // round_robin over 4; `unhealthy_status 5xx 500` with max_fails 3: a 500 matches both
    // entries and counts two failures (reverseproxy.go loops over the entries), so backend 2
    // is skipped after its second 500 (4 >= 3), not its third. Backend 3 answers 404, which
    // no entry lists: never counted. Every 5xx still goes to the client (no retry in 2.6).
    // fail_duration 2s: after a 3 s pause backend 2's failures are forgotten and it gets
    // its turns (and two more 500s) again.
    let base = 18470;
    let p = proxy(
        base,
        "\t\tlb_policy round_robin\n\t\tlb_retries 1\n\t\tfail_duration 2s\n\t\tmax_fails 3\n\t\tunhealthy_status 5xx 500",
    );
    let changes = [
        Change {
            at: 20,
            backend: 2,
            status: 500,
            delay_ms: 0,
        },
        Change {
            at: 20,
            backend: 3,
            status: 404,
            delay_ms: 0,
        },
    ];
    let (agree, total, statuses) = passive_case("caddy-unhealthy-status", base, &p, 120, &changes, Some((60, 3000)));
    let five = statuses.iter().filter(|&&s| s == 500).count();
    record(&format!(
        "caddy-unhealthy-status: {agree}/{total} requests agree with real Caddy 2.6 (upstream and status; \
         {five} answered 500, each counted twice)"
    ));
    assert_eq!(agree, total, "disagreements");
    // Two 500s before the pause, two after: backend 2 was skipped in between.
    assert_eq!(five, 4, "{statuses:?}");
}

#[test]
#[ignore = "needs real caddy (apt-get install caddy); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn caddy_conformance_unhealthy_latency() {
    // `unhealthy_latency 200ms`, max_fails 1: backend 3 starts answering after 600 ms (three
    // times the limit: a wide margin over loopback jitter); its first slow answer still goes
    // to the client and counts one failure, so round_robin skips it for fail_duration 1m.
    // Backend 1 answers after 50 ms (a quarter of the limit): never counted.
    let base = 18480;
    let p = proxy(
        base,
        "\t\tlb_policy round_robin\n\t\tfail_duration 1m\n\t\tunhealthy_latency 200ms",
    );
    let changes = [
        Change {
            at: 10,
            backend: 3,
            status: 200,
            delay_ms: 600,
        },
        Change {
            at: 10,
            backend: 1,
            status: 200,
            delay_ms: 50,
        },
    ];
    let (agree, total, _) = passive_case("caddy-unhealthy-latency", base, &p, 60, &changes, None);
    record(&format!(
        "caddy-unhealthy-latency: {agree}/{total} requests agree with real Caddy 2.6 (upstream and status)"
    ));
    assert_eq!(agree, total, "disagreements");
}

#[test]
#[ignore = "needs real caddy (apt-get install caddy); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn caddy_conformance_passive_keys_without_fail_duration_answer_503() {
    // `unhealthy_request_count` alone: Provision leaves max_fails at 0, and Healthy() is
    // `Fails() < MaxFails` = 0 < 0: every upstream is unhealthy, every request gets 503.
    let base = 18490;
    let p = proxy(base, "\t\tlb_policy round_robin\n\t\tunhealthy_request_count 5");
    let (agree, total, statuses) = passive_case("caddy-passive-no-fail-duration", base, &p, 40, &[], None);
    record(&format!(
        "caddy-passive-no-fail-duration: {agree}/{total} requests agree with real Caddy 2.6 (all 503)"
    ));
    assert_eq!(agree, total, "disagreements");
    assert!(statuses.iter().all(|&s| s == 503), "{statuses:?}");
}

#[test]
#[ignore = "needs real caddy (apt-get install caddy); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn caddy_conformance_unhealthy_request_count() {
    // round_robin, `unhealthy_request_count 2` (every upstream's MaxRequests, Full() at 2 in
    // flight), fail_duration 1m. The backends hold each request 1.5 s; the test sends the
    // requests of a batch one at a time, each once the previous one reached a backend (or
    // got its answer), so Caddy selects them in order with known counts in flight:
    // 8 placed (2 each), the 9th and 10th find every upstream full: 503 at once (no
    // retries). The robin still moves 4 places on an empty selection.
    let base = 18500;
    let p = proxy(
        base,
        "\t\tlb_policy round_robin\n\t\tfail_duration 1m\n\t\tunhealthy_request_count 2",
    );
    let modes: Vec<Mode> = (0..4).map(|_| Mode::default()).collect();
    for m in &modes {
        m.delay_ms.store(1500, Ordering::SeqCst);
    }
    let _backends: Vec<Backend> = (1..=4)
        .map(|i| Backend::start_mode(base + i, modes[usize::from(i - 1)].clone()))
        .collect();
    let caddy = start_caddy(base, &p);
    let mut sim = Sim::new(&caddy.text);
    let srcs = sources();
    let received = || modes.iter().map(|m| m.received.load(Ordering::SeqCst)).sum::<u64>();
    let (mut agree, mut total, mut full) = (0, 0, 0);
    for (batch, n) in [10usize, 5, 9].into_iter().enumerate() {
        let mut threads = Vec::new();
        let mut sim_answers = Vec::new();
        let mut picked = Vec::new();
        for k in 0..n {
            let src = srcs[(batch * 10 + k) % srcs.len()];
            let before = received();
            let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let flag = done.clone();
            let port = caddy.port;
            let path = format!("/urc/{batch}/{k}");
            threads.push(std::thread::spawn(move || {
                let r = get(src, port, &path, &[]);
                flag.store(true, Ordering::SeqCst);
                r
            }));
            let deadline = Instant::now() + Duration::from_secs(5);
            while received() == before && !done.load(Ordering::SeqCst) {
                assert!(
                    Instant::now() < deadline,
                    "request {batch}/{k} neither reached a backend nor got an answer"
                );
                std::thread::sleep(Duration::from_millis(2));
            }
            // The simulated selection, with the earlier requests of the batch in flight.
            let client = ClientInfo {
                addr: IpAddr::V4(src),
                session_cookie: None,
                uri: "/",
                server_cookie: None,
            };
            let now = SimTime::from_secs_f64(caddy.started.elapsed().as_secs_f64());
            let mut a = Attempt::default();
            let i = sim
                .policy
                .pick_counted(&client, &mut sim.peers, &mut a, now, &mut sim.rng);
            picked.push(i);
            sim_answers.push(i.map(|i| sim.conf.servers[i].addr.clone()));
        }
        for (k, t) in threads.into_iter().enumerate() {
            let r = t.join().expect("request thread");
            let real = (r.status == 200).then(|| r.body.clone());
            total += 1;
            full += usize::from(r.status == 503);
            if real == sim_answers[k] && (r.status == 200 || r.status == 503) {
                agree += 1;
            } else if total - agree <= 5 {
                eprintln!(
                    "caddy-urc: batch {batch} request {k}: real {} {:?} sim {:?}",
                    r.status, real, sim_answers[k]
                );
            }
        }
        let now = SimTime::from_secs_f64(caddy.started.elapsed().as_secs_f64());
        for i in picked.into_iter().flatten() {
            sim.policy
                .report_response_counted(i, 200, SimTime::from_millis(1500), &mut sim.peers, now);
        }
    }
    let _ = std::fs::write(keep_dir().join("caddy-unhealthy-request-count.Caddyfile"), &caddy.text);
    record(&format!(
        "caddy-unhealthy-request-count: {agree}/{total} requests agree with real Caddy 2.6 ({full} found every upstream full: 503)"
    ));
    assert_eq!(agree, total, "disagreements");
    assert_eq!(full, 3, "10 and 9 requests over 4 x 2 slots: 2 + 0 + 1 answered 503");
}

#[test]
#[ignore = "needs real caddy (apt-get install caddy); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn caddy_conformance_try_interval_waits_between_tries() {
    // `first` without passive checks, lb_retries 2, lb_try_interval 300ms, backend 1 stopped:
    // every request dials backend 1 three times and waits 300 ms twice (tryAgain), then 502.
    // The real request must take at least the 600 ms the loop computes, and less than
    // 600 + 400 ms.
    let base = 18510;
    let mut backends = start_backends(base);
    let caddy = start_caddy(
        base,
        &proxy(base, "\t\tlb_policy first\n\t\tlb_retries 2\n\t\tlb_try_interval 300ms"),
    );
    backends[0].stop();
    let mut sim = Sim::new(&caddy.text);
    let dead = vec![format!("127.0.0.1:{}", base + 1)];
    let mut agree = 0;
    let n = 8;
    for k in 0..n {
        let src = sources()[k];
        let t0 = Instant::now();
        let real = get(src, caddy.port, &format!("/try/{k}"), &[]);
        let took = t0.elapsed();
        let client = ClientInfo {
            addr: IpAddr::V4(src),
            session_cookie: None,
            uri: "/",
            server_cookie: None,
        };
        let (s, waited) = sim.request_with(&client, SimTime::ZERO, &dead, &mut |_| (200, SimTime::ZERO));
        let wait = Duration::from_nanos(waited.as_nanos());
        let ok =
            real.status == s.status && s.addr.is_none() && took >= wait && took < wait + Duration::from_millis(400);
        if ok {
            agree += 1;
        } else {
            eprintln!(
                "caddy-try-interval: request {k} real {} in {took:?}, sim {} after {wait:?}",
                real.status, s.status
            );
        }
    }
    record(&format!(
        "caddy-try-interval: {agree}/{n} requests agree with real Caddy 2.6 (502 after 2 waits of lb_try_interval)"
    ));
    assert_eq!(agree, n);
}

#[test]
#[ignore = "needs real caddy (apt-get install caddy); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn caddy_conformance_json_import_agrees_with_caddy_adapt() {
    // The JSON that real `caddy adapt` writes for each Caddyfile of these tests (and a few
    // more settings) must import to the very balancer the Caddyfile imports to: the same
    // policy, retry loop, passive and active health, upstreams and cookie values.
    let bin = require("caddy");
    let bodies = [
        "\t\tlb_policy round_robin\n\t\tlb_retries 2\n\t\tfail_duration 1m",
        "\t\tlb_policy first\n\t\tlb_retries 2\n\t\tlb_try_interval 300ms",
        "\t\tlb_policy ip_hash\n\t\tlb_try_duration 5s\n\t\tfail_duration 30s\n\t\tmax_fails 3",
        "\t\tlb_policy header X-Session",
        "\t\tlb_policy cookie lb s3cret\n\t\tunhealthy_status 5xx 404\n\t\tfail_duration 2s",
        "\t\tlb_policy random_choose 3\n\t\tunhealthy_latency 200ms\n\t\tfail_duration 1m",
        "\t\tlb_policy least_conn\n\t\tunhealthy_request_count 5",
        "\t\tlb_policy uri_hash\n\t\thealth_uri /health\n\t\thealth_interval 2s",
        "\t\tlb_policy cookie\n\t\tlb_try_duration 2s\n\t\tlb_try_interval 0",
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let mut agree = 0;
    for (i, body) in bodies.iter().enumerate() {
        let text = format!(
            "{{\n\tadmin off\n\tauto_https off\n}}\n\n:18519 {{\n\tbind 127.0.0.1\n\t{}\n}}\n",
            proxy(18400, body)
        );
        let file = dir.path().join(format!("Caddyfile{i}"));
        std::fs::write(&file, &text).expect("write Caddyfile");
        let out = Command::new(&bin)
            .arg("adapt")
            .arg("--config")
            .arg(&file)
            .arg("--adapter")
            .arg("caddyfile")
            .env("HOME", dir.path())
            .output()
            .expect("caddy adapt");
        assert!(
            out.status.success(),
            "caddy adapt: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json = String::from_utf8_lossy(&out.stdout).to_string();
        let from_json = sessim::balancer::config::caddy_json::import(&json, None)
            .unwrap_or_else(|e| panic!("body {i}: {e}\n{json}"))
            .conf;
        let from_file = caddyfile::import(&text, None).expect("import Caddyfile").conf;
        if from_json == from_file {
            agree += 1;
        } else {
            eprintln!("body {i}:\n{json}\njson {from_json:?}\nfile {from_file:?}");
        }
    }
    record(&format!(
        "caddy-json-adapt: {agree}/{} Caddyfiles import to the same balancer from their `caddy adapt` JSON",
        bodies.len()
    ));
    assert_eq!(agree, bodies.len());
}
