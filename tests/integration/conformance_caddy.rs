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
//! cases and run by `.ci/run` through the `conformance` filter. Ports 18400-18499.

use super::conformance::{Backend, Proc, keep_dir, record, require, sources, start_backends, wait_port};
use sessim::balancer::caddy::cookie_value;
use sessim::balancer::config::caddyfile;
use sessim::balancer::{
    Attempt, BalancerConf, Bookkeeping, ClientInfo, FailurePolicy, PeerState, Policy, SimRng, SimTime, build,
};
use socket2::{Domain, Socket, Type};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
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

    fn request(&mut self, client: &ClientInfo<'_>, now: SimTime, dead: &[String]) -> SimAnswer {
        let FailurePolicy::Nginx(n) = self.conf.failure else {
            panic!("Caddy's retry rules expected")
        };
        let max = n.max_attempts(&self.conf.servers);
        let mut a = Attempt::default();
        for _ in 0..max {
            let Some(i) = self
                .policy
                .pick_counted(client, &mut self.peers, &mut a, now, &mut self.rng)
            else {
                break;
            };
            let addr = self.conf.servers[i].addr.clone();
            let failed = dead.contains(&addr);
            self.policy.report_counted(i, !failed, &mut self.peers, now);
            if !failed {
                return SimAnswer {
                    addr: Some(addr),
                    direct: a.direct,
                };
            }
        }
        SimAnswer {
            addr: None,
            direct: false,
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
