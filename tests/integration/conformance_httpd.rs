//! Conformance of the Apache policy with real Apache httpd 2.4 (`mod_proxy_balancer`).
//!
//! Each case writes an `httpd.conf` (its own ServerRoot, pid file, runtime directory and logs
//! in a temporary folder; `Listen 127.0.0.1` only; Debian's modules loaded from
//! /usr/lib/apache2/modules), starts the four tiny backends of [`super::conformance`], starts
//! `apache2 -X` (one process) in its own process group, and sends requests one at a time
//! (except `httpd_bybusyness_with_requests_in_flight`, whose backends hold some requests so
//! that members differ in `busy`).
//! The policy is imported from the *same file* and fed the same requests, each attempt
//! reported as the real connection went (refused by a stopped backend, or answered). Every
//! answer (the backend that replied, or 503) must agree.
//!
//! Needs `apache2` (Debian: `apt-get install apache2`); `#[ignore]`d like the nginx/HAProxy
//! cases and run by `.ci/run` through the `conformance` filter. Ports 18300-18399.

use super::conformance::{Backend, Proc, keep_dir, record, request, require, sources, start_backends, wait_port};
use sessim::balancer::config::httpd;
use sessim::balancer::{
    Attempt, BalancerConf, Bookkeeping, ClientInfo, FailurePolicy, PeerState, Policy, SimRng, SimTime, build,
};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const MODULES: &[(&str, &str)] = &[
    ("mpm_event_module", "mod_mpm_event.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("slotmem_shm_module", "mod_slotmem_shm.so"),
    ("proxy_module", "mod_proxy.so"),
    ("proxy_http_module", "mod_proxy_http.so"),
    ("proxy_balancer_module", "mod_proxy_balancer.so"),
    ("lbmethod_byrequests_module", "mod_lbmethod_byrequests.so"),
    ("lbmethod_bybusyness_module", "mod_lbmethod_bybusyness.so"),
    ("lbmethod_bytraffic_module", "mod_lbmethod_bytraffic.so"),
];

struct Apache {
    _proc: Proc,
    _dir: tempfile::TempDir,
    conf_text: String,
    port: u16,
    started: Instant,
}

/// Start Apache in front of the balancer block `proxy` (the `<Proxy>` block and `ProxyPass`).
fn start_apache(port: u16, proxy: &str) -> Apache {
    let bin = require("apache2");
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display();
    let modules: String = MODULES
        .iter()
        .map(|(m, f)| format!("LoadModule {m} /usr/lib/apache2/modules/{f}\n"))
        .collect();
    // Running as root, Apache's children switch to User/Group; www-data comes with the package.
    let user = if Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"))
    {
        "User www-data\nGroup www-data\n"
    } else {
        ""
    };
    let conf_text = format!(
        "ServerRoot {d}
DefaultRuntimeDir {d}
PidFile {d}/httpd.pid
ErrorLog {d}/error.log
LogLevel warn
ServerName conformance
Listen 127.0.0.1:{port}
{modules}{user}{proxy}
"
    );
    let conf = dir.path().join("httpd.conf");
    std::fs::write(&conf, &conf_text).expect("write httpd.conf");
    let test = Command::new(&bin)
        .arg("-t")
        .arg("-f")
        .arg(&conf)
        .output()
        .expect("apache2 -t");
    assert!(
        test.status.success(),
        "apache2 rejects the config: {}",
        String::from_utf8_lossy(&test.stderr)
    );
    let proc = Proc::spawn(
        "apache2",
        Command::new(&bin)
            .arg("-X")
            .arg("-f")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_port(port, "apache2");
    Apache {
        _proc: proc,
        _dir: dir,
        conf_text,
        port,
        started: Instant::now(),
    }
}

/// The policy imported from the same file, and Apache's failover loop around it.
struct Sim {
    conf: BalancerConf,
    policy: Box<dyn Policy>,
    peers: Vec<PeerState>,
    rng: SimRng,
}

impl Sim {
    fn new(conf_text: &str) -> Sim {
        let imported = httpd::import(conf_text, Some("app")).expect("import httpd.conf");
        let conf = imported.conf;
        let policy = build(&conf).expect("policy builds from the imported config");
        let peers = PeerState::for_servers(&conf.servers);
        Sim {
            conf,
            policy,
            peers,
            rng: sessim::engine::rng::stream(1, 0, sessim::engine::Stream::Balancer),
        }
    }

    /// The member that answers (its address), or `None` for Apache's 503: attempts until
    /// one reaches a live backend, as many as `maxattempts + 1`.
    fn request(&mut self, client: &ClientInfo<'_>, now: SimTime, dead: &[String]) -> Option<String> {
        let FailurePolicy::Nginx(n) = self.conf.failure else {
            panic!("Apache's failover rules expected")
        };
        let max = n.max_attempts(&self.conf.servers);
        let mut a = Attempt::default();
        for _ in 0..max {
            let i = self
                .policy
                .pick_counted(client, &mut self.peers, &mut a, now, &mut self.rng)?;
            let addr = self.conf.servers[i].addr.clone();
            let failed = dead.contains(&addr);
            self.policy.report_counted(i, !failed, &mut self.peers, now);
            if !failed {
                return Some(addr);
            }
        }
        None
    }
}

/// One request of a case: its source, path and JSESSIONID cookie value.
struct Req {
    src: Ipv4Addr,
    path: String,
    session: Option<String>,
}

/// Run `reqs` against real Apache and the imported policy; `stop = (k, b)` stops backend `b`
/// (1-based) before request `k`. Every answer must agree.
fn case(name: &str, base: u16, proxy: &str, reqs: &[Req], stop: Option<(usize, usize)>, pause: Duration) {
    let mut backends: Vec<Backend> = start_backends(base);
    let apache = start_apache(base, proxy);
    let mut sim = Sim::new(&apache.conf_text);
    let mut dead: Vec<String> = Vec::new();
    let (mut agree, mut total, mut refused) = (0, 0, 0);
    for (k, r) in reqs.iter().enumerate() {
        if let Some((at, which)) = stop
            && k == at
        {
            backends[which - 1].stop();
            dead.push(format!("127.0.0.1:{}", base + which as u16));
        }
        let cookie = r.session.as_ref().map(|v| format!("JSESSIONID={v}"));
        let real = request(r.src, apache.port, &r.path, cookie.as_deref());
        let real = match real.status {
            200 => Some(real.body),
            503 => None,
            other => panic!("{name}: request {k} answered {other}: {real:?}"),
        };
        let client = ClientInfo {
            addr: IpAddr::V4(r.src),
            session_cookie: r.session.as_deref(),
            uri: &r.path,
            server_cookie: None,
        };
        let now = SimTime::from_secs_f64(apache.started.elapsed().as_secs_f64());
        let simulated = sim.request(&client, now, &dead);
        total += 1;
        refused += usize::from(real.is_none());
        if simulated == real {
            agree += 1;
        } else if total - agree <= 5 {
            eprintln!("{name}: request {k} ({}) real {real:?} sim {simulated:?}", r.path);
        }
        std::thread::sleep(pause);
    }
    let _ = std::fs::write(keep_dir().join(format!("{name}.httpd.conf")), &apache.conf_text);
    record(&format!(
        "{name}: {agree}/{total} requests agree with real Apache httpd ({refused} answered 503)"
    ));
    assert_eq!(agree, total, "{name}: disagreements");
}

fn plain(n: usize, tag: &str) -> Vec<Req> {
    let srcs = sources();
    (0..n)
        .map(|k| Req {
            src: srcs[k % srcs.len()],
            path: format!("/{tag}/{k}"),
            session: None,
        })
        .collect()
}

fn block(base: u16, members: &[&str], proxyset: &str) -> String {
    let lines: String = members
        .iter()
        .enumerate()
        .map(|(i, extra)| {
            format!(
                "    BalancerMember \"http://127.0.0.1:{}\" {extra}\n",
                base + 1 + i as u16
            )
        })
        .collect();
    format!(
        "<Proxy \"balancer://app\">\n{lines}    ProxySet {proxyset}\n</Proxy>\nProxyPass \"/\" \"balancer://app/\"\n"
    )
}

#[test]
#[ignore = "needs real apache2 (apt-get install apache2); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn httpd_byrequests_loadfactors_then_member_stopped() {
    let base = 18300;
    let proxy = block(
        base,
        &[
            "loadfactor=5 route=r1",
            "loadfactor=2 route=r2",
            "loadfactor=1",
            "loadfactor=1.5",
        ],
        "lbmethod=byrequests",
    );
    // 600 requests; backend 2 stops before request 300: its next turn fails over.
    case(
        "httpd-byrequests-5-2-1-1.5",
        base,
        &proxy,
        &plain(600, "byrequests"),
        Some((300, 2)),
        Duration::ZERO,
    );
}

#[test]
#[ignore = "needs real apache2 (apt-get install apache2); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn httpd_bybusyness_tie_rule() {
    let base = 18310;
    let proxy = block(
        base,
        &["loadfactor=1", "loadfactor=3", "loadfactor=1", "loadfactor=2 status=+H"],
        "lbmethod=bybusyness",
    );
    // One request at a time, so every member has busy 0 when chosen: this checks the tie
    // rule (largest lbstatus wins), the lbfactor accounting (the hot standby is never
    // compared while a primary is usable) and the failover when backend 2 stops at request
    // 200 (unequal `busy`: `httpd_bybusyness_with_requests_in_flight`). The pause
    // lets Apache's request-pool cleanup decrement `busy` before the next request.
    case(
        "httpd-bybusyness-1-3-1-standby",
        base,
        &proxy,
        &plain(400, "bybusyness"),
        Some((200, 2)),
        Duration::from_millis(3),
    );
}

fn sticky_requests(n: usize) -> Vec<Req> {
    let srcs = sources();
    (0..n)
        .map(|k| {
            // A quarter without a session, the others with sessions of routes r1..r4 and an
            // unknown one, some carried in the URL (;jsessionid=) instead of the cookie.
            let route = ["r1", "r2", "r3", "r4", "gone"][k % 5];
            let id = format!("{:016X}", (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let (path, session) = match k % 4 {
                0 => (format!("/sticky/{k}"), None),
                1 => (format!("/sticky/{k};jsessionid={id}.{route}"), None),
                _ => (format!("/sticky/{k}"), Some(format!("{id}.{route}"))),
            };
            Req {
                src: srcs[k % srcs.len()],
                path,
                session,
            }
        })
        .collect()
}

#[test]
#[ignore = "needs real apache2 (apt-get install apache2); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn httpd_stickysession_routes_and_failover() {
    let base = 18320;
    let proxy = block(
        base,
        &["route=r1", "route=r2 loadfactor=2", "route=r3", "route=r4"],
        "lbmethod=byrequests stickysession=JSESSIONID|jsessionid",
    );
    // Backend 3 (route r3) stops at request 250: its sessions fail over to the others.
    case(
        "httpd-sticky-routes-r3-stopped",
        base,
        &proxy,
        &sticky_requests(500),
        Some((250, 3)),
        Duration::ZERO,
    );
}

#[test]
#[ignore = "needs real apache2 (apt-get install apache2); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn httpd_stickysession_nofailover() {
    let base = 18330;
    let proxy = block(
        base,
        &["route=r1", "route=r2", "route=r3", "route=r4"],
        "lbmethod=byrequests stickysession=JSESSIONID|jsessionid nofailover=On",
    );
    // With nofailover=On the sessions of r2 get 503 once backend 2 is stopped and in error.
    case(
        "httpd-sticky-nofailover-r2-stopped",
        base,
        &proxy,
        &sticky_requests(300),
        Some((150, 2)),
        Duration::ZERO,
    );
}

/// Backends that hold every request whose path starts with `/hold` until `release` is set
/// (at most 10 s), so that Apache sees members with requests in flight (`busy` > 0).
struct HoldingBackends {
    stop: Arc<AtomicBool>,
    release: Arc<AtomicBool>,
    /// Held requests that reached a backend so far.
    arrived: Arc<AtomicUsize>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl HoldingBackends {
    fn start(base: u16) -> HoldingBackends {
        let stop = Arc::new(AtomicBool::new(false));
        let release = Arc::new(AtomicBool::new(false));
        let arrived = Arc::new(AtomicUsize::new(0));
        let threads = (1..=4)
            .map(|i| {
                let addr = format!("127.0.0.1:{}", base + i);
                let listener = TcpListener::bind(&addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
                listener.set_nonblocking(true).expect("non-blocking listener");
                let (stop, release, arrived) = (stop.clone(), release.clone(), arrived.clone());
                std::thread::spawn(move || {
                    let deadline = Instant::now() + Duration::from_secs(120);
                    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                        match listener.accept() {
                            Ok((s, _)) => {
                                let (body, release, arrived) = (addr.clone(), release.clone(), arrived.clone());
                                std::thread::spawn(move || hold_and_serve(s, &body, &release, &arrived));
                            }
                            Err(_) => std::thread::sleep(Duration::from_millis(1)),
                        }
                    }
                })
            })
            .collect();
        HoldingBackends {
            stop,
            release,
            arrived,
            threads,
        }
    }
}

impl Drop for HoldingBackends {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.release.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn hold_and_serve(mut s: TcpStream, body: &str, release: &AtomicBool, arrived: &AtomicUsize) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    if buf.starts_with(b"GET /hold") {
        arrived.fetch_add(1, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !release.load(Ordering::Relaxed) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(resp.as_bytes());
}

#[test]
#[ignore = "needs real apache2 (apt-get install apache2); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn httpd_bybusyness_with_requests_in_flight() {
    let base = 18340;
    let backends = HoldingBackends::start(base);
    let proxy = block(
        base,
        &["loadfactor=1", "loadfactor=2", "loadfactor=1", "loadfactor=1"],
        "lbmethod=bybusyness",
    );
    let apache = start_apache(base, &proxy);
    let mut sim = Sim::new(&apache.conf_text);
    let src = Ipv4Addr::new(127, 0, 0, 1);
    let client = ClientInfo {
        addr: IpAddr::V4(src),
        session_cookie: None,
        uri: "/",
        server_cookie: None,
    };
    let (mut agree, mut total, mut expected_arrivals) = (0, 0, 0);
    // Each round: k requests (k = 1, 2, 3 in turn) held in flight, each chosen while the
    // previous ones are held; then 5 requests answered at once while those are still busy;
    // then the held ones are released.
    for round in 0..30 {
        backends.release.store(false, Ordering::Relaxed);
        let mut held = Vec::new();
        for h in 0..1 + round % 3 {
            let path = format!("/hold/{round}/{h}");
            let port = apache.port;
            let t = std::thread::spawn(move || request(src, port, &path, None));
            // Apache has chosen once the backend holds the request: wait for it (at most 5 s).
            expected_arrivals += 1;
            let deadline = Instant::now() + Duration::from_secs(5);
            while backends.arrived.load(Ordering::SeqCst) < expected_arrivals && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            let mut a = Attempt::default();
            let i = sim
                .policy
                .pick_counted(&client, &mut sim.peers, &mut a, SimTime::ZERO, &mut sim.rng)
                .expect("a member");
            held.push((t, i));
        }
        for k in 0..5 {
            let r = request(src, apache.port, &format!("/quick/{round}/{k}"), None);
            let s = sim.request(&client, SimTime::ZERO, &[]);
            total += 1;
            if Some(&r.body) == s.as_ref() {
                agree += 1;
            } else if total - agree <= 5 {
                eprintln!(
                    "bybusyness-in-flight: round {round} quick {k}: real {} sim {s:?}",
                    r.body
                );
            }
            // Apache decrements `busy` in the request pool's cleanup, after the response.
            std::thread::sleep(Duration::from_millis(10));
        }
        backends.release.store(true, Ordering::Relaxed);
        for (h, (t, i)) in held.into_iter().enumerate() {
            let r = t.join().expect("held request");
            sim.policy.report_counted(i, true, &mut sim.peers, SimTime::ZERO);
            let want = sim.conf.servers[i].addr.clone();
            total += 1;
            if r.body == want {
                agree += 1;
            } else if total - agree <= 5 {
                eprintln!(
                    "bybusyness-in-flight: round {round} held {h}: real {} sim {want}",
                    r.body
                );
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::write(
        keep_dir().join("httpd-bybusyness-in-flight.httpd.conf"),
        &apache.conf_text,
    );
    record(&format!(
        "httpd-bybusyness-in-flight: {agree}/{total} requests agree with real Apache httpd"
    ));
    assert_eq!(agree, total, "bybusyness with requests in flight: disagreements");
}
