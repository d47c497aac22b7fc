//! Conformance of the balancer policies with the real nginx and HAProxy.
//!
//! Each case writes a real config file, starts four tiny backends that answer with
//! their own address, starts the real balancer on that file (127.0.0.1 only), sends
//! requests from several hundred source addresses in 127.0.0.0/8 (150 sharing the /24
//! 127.1.1.0, 250 in distinct /24s), and records which backend answered. The policy is
//! built from the *same file* by the config import and fed the same request sequence;
//! every decision must agree (100%).
//!
//! These tests need `nginx` and `haproxy` (Debian: `apt-get install nginx haproxy`).
//! They are `#[ignore]`d so that a plain `cargo test` reports them as ignored instead of
//! passing silently; `.ci/run` runs them with
//! `cargo test --test integration -- --ignored conformance --test-threads 1` (about 30 s).
//! With `--ignored` a missing binary is a failure, not a skip. Everything listens on
//! 127.0.0.1 ports 18100-18299 and every process started is stopped (its process group) when
//! its case ends, panics included.
//!
//! Kept after a run, in `target/conformance/`: each nginx case's access log
//! (`nginx-<case>.log`, combined format plus `$upstream_addr`, for the access-log replay),
//! each config file, and `summary.txt` with the agreement figures.

use sessim::balancer::config::{haproxy, nginx};
use sessim::balancer::{
    Attempt, BalancerConf, Bookkeeping, ClientInfo, FailurePolicy, PeerState, Policy, SetCookie, SimRng, SimTime, build,
};
use socket2::{Domain, Socket, Type};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------
// Harness: binaries, processes, backends, client requests.
// ---------------------------------------------------------------------------------

pub(crate) fn require(name: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from));
    dirs.into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` not found on PATH or in /usr/sbin: install it (apt-get install nginx haproxy)")
        })
}

/// A process in its own process group, stopped (TERM, then KILL) on drop.
pub(crate) struct Proc {
    child: Child,
    what: String,
}

impl Proc {
    pub(crate) fn spawn(what: &str, cmd: &mut Command) -> Proc {
        cmd.stdin(Stdio::null()).process_group(0);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Proc {
            child,
            what: what.to_string(),
        }
    }

    fn signal_group(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([sig, "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.signal_group("-TERM");
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                // The master is gone; make sure no worker of its group is left.
                self.signal_group("-KILL");
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("{} did not stop on TERM; killing its group", self.what);
        self.signal_group("-KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A backend on 127.0.0.1:port answering every request with its own address.
pub(crate) struct Backend {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// How a running backend answers, changeable while it runs: its status (200 unless set) and
/// a wait before answering; `received` counts the requests it has read.
#[derive(Clone, Debug)]
pub(crate) struct Mode {
    pub(crate) status: Arc<AtomicU16>,
    pub(crate) delay_ms: Arc<AtomicU64>,
    pub(crate) received: Arc<AtomicU64>,
}

impl Default for Mode {
    fn default() -> Self {
        Mode {
            status: Arc::new(AtomicU16::new(200)),
            delay_ms: Arc::new(AtomicU64::new(0)),
            received: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl Backend {
    fn start(port: u16) -> Backend {
        Backend::start_mode(port, Mode::default())
    }

    /// A backend answering as `mode` says at the time each request is read.
    pub(crate) fn start_mode(port: u16, mode: Mode) -> Backend {
        let addr = format!("127.0.0.1:{port}");
        let listener = TcpListener::bind(&addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        listener.set_nonblocking(true).expect("non-blocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let body = addr.clone();
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(300);
            while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((s, _)) => {
                        let body = body.clone();
                        let mode = mode.clone();
                        std::thread::spawn(move || serve(s, &body, &mode));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
            // The listener is dropped here: new connections are refused.
        });
        Backend {
            stop,
            thread: Some(thread),
        }
    }

    pub(crate) fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(mut s: TcpStream, body: &str, mode: &Mode) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return, // health check: connect and close
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        }
    }
    mode.received.fetch_add(1, Ordering::SeqCst);
    let status = mode.status.load(Ordering::SeqCst);
    let delay = mode.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        std::thread::sleep(Duration::from_millis(delay.min(10_000)));
    }
    let reason = if status == 200 { "OK" } else { "Status" };
    let resp = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        body
    );
    let _ = s.write_all(resp.as_bytes());
}

pub(crate) fn start_backends(base: u16) -> Vec<Backend> {
    (1..=4).map(|i| Backend::start(base + i)).collect()
}

pub(crate) fn wait_port(port: u16, what: &str) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on 127.0.0.1:{port} within 10 s");
}

#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) set_cookie: Option<String>,
}

/// One HTTP/1.1 request from source address `src` (bound before connecting).
pub(crate) fn request(src: Ipv4Addr, port: u16, path: &str, cookie: Option<&str>) -> Response {
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    sock.bind(&SocketAddr::from((src, 0)).into())
        .unwrap_or_else(|e| panic!("bind {src}: {e}"));
    let dst = SocketAddr::from(([127, 0, 0, 1], port));
    sock.connect_timeout(&dst.into(), Duration::from_secs(2))
        .unwrap_or_else(|e| panic!("connect {dst} from {src}: {e}"));
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let cookie_line = cookie.map_or(String::new(), |c| format!("Cookie: {c}\r\n"));
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: conformance\r\nUser-Agent: sessim-conformance\r\n{cookie_line}Connection: close\r\n\r\n"
    );
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
    Response {
        status,
        body: body.to_string(),
        set_cookie,
    }
}

/// 400 source addresses: 150 sharing 127.1.1.0/24, 250 in distinct /24s.
pub(crate) fn sources() -> Vec<Ipv4Addr> {
    let mut v: Vec<Ipv4Addr> = (1..=150).map(|d| Ipv4Addr::new(127, 1, 1, d)).collect();
    for i in 0..250u32 {
        let b = 2 + (i / 100) as u8;
        let c = (i % 100) as u8 * 2 + 1;
        let d = 10 + ((i * 37) % 200) as u8;
        v.push(Ipv4Addr::new(127, b, c, d));
    }
    v
}

/// Where logs and configs are kept after the run: `target/conformance/`.
pub(crate) fn keep_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let d = tmp.parent().unwrap_or(tmp).join("conformance");
    std::fs::create_dir_all(&d).expect("create kept-output dir");
    d
}

pub(crate) fn record(summary: &str) {
    println!("{summary}");
    let path = keep_dir().join("summary.txt");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("summary file");
    let _ = writeln!(f, "{summary}");
}

// ---------------------------------------------------------------------------------
// The simulator side: the policy built from the same config file.
// ---------------------------------------------------------------------------------

struct Sim {
    conf: BalancerConf,
    policy: Box<dyn Policy>,
    peers: Vec<PeerState>,
    rng: SimRng,
}

impl Sim {
    fn new(conf: BalancerConf) -> Sim {
        let policy = build(&conf).expect("policy builds from the imported config");
        let peers = PeerState::for_servers(&conf.servers);
        Sim {
            conf,
            policy,
            peers,
            rng: sessim::engine::rng::stream(1, 0, sessim::engine::Stream::Balancer),
        }
    }

    fn addr(&self, i: usize) -> String {
        self.conf.servers[i].addr.clone()
    }

    /// nginx: attempts until one reaches a live backend (`error` retried on the next
    /// peer), as `proxy_next_upstream error timeout` does. Returns the addresses tried.
    fn nginx_request(&mut self, client: &ClientInfo<'_>, now: SimTime, dead: &[String]) -> Vec<String> {
        let FailurePolicy::Nginx(next) = self.conf.failure else {
            panic!("nginx config expected")
        };
        let max = next.max_attempts(&self.conf.servers);
        let mut a = Attempt::default();
        let mut tried = Vec::new();
        while (tried.len() as u32) < max {
            let Some(i) = self
                .policy
                .pick_counted(client, &mut self.peers, &mut a, now, &mut self.rng)
            else {
                break;
            };
            let addr = self.addr(i);
            let failed = dead.contains(&addr);
            self.policy.report_counted(i, !failed, &mut self.peers, now);
            tried.push(addr);
            if !failed {
                break;
            }
        }
        tried
    }

    /// HAProxy without failures: one pick; the address and the cookie set.
    fn haproxy_request(&mut self, client: &ClientInfo<'_>) -> (String, Option<String>) {
        let mut a = Attempt::default();
        let i = self
            .policy
            .pick_counted(client, &mut self.peers, &mut a, SimTime::ZERO, &mut self.rng)
            .expect("a server is available");
        let cookie = match self.policy.response_cookie(i, &a) {
            SetCookie::Keep => None,
            SetCookie::Set { name, value } => Some(format!("{name}={value}")),
            SetCookie::Clear { name } => Some(format!("{name}=")),
        };
        self.policy.report_counted(i, true, &mut self.peers, SimTime::ZERO);
        (self.addr(i), cookie)
    }
}

fn client(addr: Ipv4Addr, cookie: Option<&str>) -> ClientInfo<'_> {
    ClientInfo {
        addr: IpAddr::V4(addr),
        session_cookie: None,
        uri: "/",
        server_cookie: cookie,
    }
}

// ---------------------------------------------------------------------------------
// nginx
// ---------------------------------------------------------------------------------

struct Nginx {
    _proc: Proc,
    dir: tempfile::TempDir,
    conf_text: String,
    port: u16,
}

const LOG_FORMAT: &str = r#"log_format sessim '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $upstream_addr';"#;

/// Start nginx with one worker in front of `upstream_body`.
fn start_nginx(port: u16, upstream_body: &str) -> Nginx {
    let bin = require("nginx");
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display();
    let conf_text = format!(
        "worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log notice;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    {LOG_FORMAT}
    upstream app {{
{upstream_body}
    }}
    server {{
        listen 127.0.0.1:{port};
        access_log {d}/access.log sessim;
        location / {{
            proxy_pass http://app;
        }}
    }}
}}
"
    );
    let conf = dir.path().join("nginx.conf");
    std::fs::write(&conf, &conf_text).expect("write nginx.conf");
    let test = Command::new(&bin)
        .arg("-t")
        .arg("-c")
        .arg(&conf)
        .arg("-e")
        .arg(dir.path().join("error.log"))
        .output()
        .expect("nginx -t");
    assert!(
        test.status.success(),
        "nginx rejects the config: {}",
        String::from_utf8_lossy(&test.stderr)
    );
    let proc = Proc::spawn(
        "nginx",
        Command::new(&bin)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_port(port, "nginx");
    Nginx {
        _proc: proc,
        dir,
        conf_text,
        port,
    }
}

impl Nginx {
    /// `$upstream_addr` of each logged request (comma-separated on retries).
    fn upstream_addrs(&self) -> Vec<Vec<String>> {
        let log = std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default();
        log.lines()
            .map(|l| {
                let ups = l.rsplit_once("\" ").map_or("", |(_, u)| u);
                ups.split(", ").map(|s| s.trim().to_string()).collect()
            })
            .collect()
    }

    /// Keep the access log and the config for later features (log replay).
    fn keep(&self, case: &str) {
        let k = keep_dir();
        let _ = std::fs::copy(self.dir.path().join("access.log"), k.join(format!("{case}.log")));
        let _ = std::fs::write(k.join(format!("{case}.nginx.conf")), &self.conf_text);
    }
}

/// Send `rounds` requests from every source, compare with the policy imported from the
/// same nginx.conf, and check the access log's `$upstream_addr` too.
fn nginx_case(case: &str, base: u16, upstream_body: &str, rounds: usize) -> Vec<(Ipv4Addr, String)> {
    let _backends = start_backends(base);
    let ngx = start_nginx(base, upstream_body);
    let imported = nginx::import(&ngx.conf_text, Some("app")).expect("import nginx.conf");
    let mut sim = Sim::new(imported.conf);
    let srcs = sources();
    let mut agree = 0;
    let mut total = 0;
    let mut answers = Vec::new();
    let mut expected_attempts = Vec::new();
    for round in 0..rounds {
        for (k, &src) in srcs.iter().enumerate() {
            let r = request(src, ngx.port, &format!("/{case}/{round}/{k}"), None);
            assert_eq!(r.status, 200, "{case}: request from {src} failed: {r:?}");
            let tried = sim.nginx_request(&client(src, None), SimTime::ZERO, &[]);
            total += 1;
            if tried.last() == Some(&r.body) {
                agree += 1;
            } else if total - agree <= 5 {
                eprintln!("{case}: {src} real {} sim {:?}", r.body, tried);
            }
            expected_attempts.push(tried);
            answers.push((src, r.body));
        }
    }
    let logged = ngx.upstream_addrs();
    let log_agree = logged.iter().zip(&expected_attempts).filter(|(a, b)| a == b).count();
    ngx.keep(case);
    record(&format!(
        "{case}: {agree}/{total} requests agree with real nginx; access log $upstream_addr agrees for {log_agree}/{}",
        logged.len()
    ));
    assert_eq!(agree, total, "{case}: disagreements");
    assert_eq!(log_agree, total, "{case}: access log disagreements");
    answers
}

#[test]
#[ignore = "needs real nginx and haproxy (apt-get install nginx haproxy); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn nginx_ip_hash_weights_and_down() {
    let body = "        ip_hash;
        server 127.0.0.1:18101 weight=3;
        server 127.0.0.1:18102;
        server 127.0.0.1:18103;
        server 127.0.0.1:18104;";
    let answers = nginx_case("nginx-ip_hash-3111", 18100, body, 2);
    // The /24 effect: all 150 addresses of 127.1.1.0/24 land on one server.
    let first = &answers[0].1;
    assert!(answers[..150].iter().all(|(_, b)| b == first));

    let body_down = "        ip_hash;
        server 127.0.0.1:18121 weight=3;
        server 127.0.0.1:18122;
        server 127.0.0.1:18123 down;
        server 127.0.0.1:18124;";
    let down = nginx_case("nginx-ip_hash-3111-down", 18120, body_down, 1);
    assert!(down.iter().all(|(_, b)| b != "127.0.0.1:18123"));
    // Only the down server's clients moved (compare by server position).
    for ((_, before), (_, after)) in answers.iter().zip(&down) {
        let pos = |a: &str| a.chars().last();
        if pos(before) != Some('3') {
            assert_eq!(pos(before), pos(after));
        }
    }
}

#[test]
#[ignore = "needs real nginx and haproxy (apt-get install nginx haproxy); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn nginx_hash_remote_addr_consistent_4_then_3() {
    let four = "        hash $remote_addr consistent;
        server 127.0.0.1:18161;
        server 127.0.0.1:18162;
        server 127.0.0.1:18163;
        server 127.0.0.1:18164;";
    // The same server texts, so the same points: ports must match across both runs.
    let a = nginx_case("nginx-chash-4", 18160, four, 1);
    let three = "        hash $remote_addr consistent;
        server 127.0.0.1:18161;
        server 127.0.0.1:18162;
        server 127.0.0.1:18163;";
    let b = nginx_case("nginx-chash-3", 18160, three, 1);
    let moved = a.iter().zip(&b).filter(|(x, y)| x.1 != y.1).count();
    let on_fourth = a.iter().filter(|x| x.1 == "127.0.0.1:18164").count();
    record(&format!(
        "nginx-chash 4->3: {moved} of {} clients moved, all of them from the removed server ({on_fourth} were on it)",
        a.len()
    ));
    assert_eq!(moved, on_fourth);
}

#[test]
#[ignore = "needs real nginx and haproxy (apt-get install nginx haproxy); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn nginx_weighted_round_robin_with_passive_failure() {
    let case = "nginx-rr-5111-failure";
    let base = 18140;
    let body = "        server 127.0.0.1:18141 weight=5;
        server 127.0.0.1:18142;
        server 127.0.0.1:18143;
        server 127.0.0.1:18144 backup;";
    let mut backends = start_backends(base);
    let ngx = start_nginx(base, body);
    let imported = nginx::import(&ngx.conf_text, Some("app")).expect("import nginx.conf");
    let mut sim = Sim::new(imported.conf);
    let srcs = sources();
    let t0 = Instant::now();
    let now = || SimTime::from_nanos(u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX));
    let mut agree = 0;
    let mut total = 0;
    let mut expected = Vec::new();
    let mut dead: Vec<String> = Vec::new();
    let mut run = |phase: &str, n: usize, dead: &[String], sim: &mut Sim| {
        for k in 0..n {
            let src = srcs[k % srcs.len()];
            let r = request(src, ngx.port, &format!("/{case}/{phase}/{k}"), None);
            assert_eq!(r.status, 200, "{case}: {r:?}");
            let tried = sim.nginx_request(&client(src, None), now(), dead);
            total += 1;
            if tried.last() == Some(&r.body) {
                agree += 1;
            } else if total - agree <= 5 {
                eprintln!("{case} {phase} #{k}: real {} sim {:?}", r.body, tried);
            }
            expected.push(tried);
        }
    };
    // Phase 1: the smooth order 5,1,1: a a b a c a a ..., never the backup.
    run("up", 400, &dead, &mut sim);
    // Phase 2: b2 stops. Its next turn fails (connection refused) and is retried on the
    // next peer; b2 is then skipped for fail_timeout (10 s). Keep this phase well
    // inside 10 s so that whole-second rounding cannot matter.
    backends[1].stop();
    dead.push("127.0.0.1:18142".into());
    let phase2 = Instant::now();
    run("b2-dead", 200, &dead, &mut sim);
    assert!(phase2.elapsed() < Duration::from_secs(5), "phase 2 too slow");
    // Phase 3: b2 is back; 12 s after its failure nginx tries it again and its
    // recovering effective weight shapes the order.
    backends[1] = Backend::start(base + 2);
    dead.clear();
    std::thread::sleep(Duration::from_secs(12).saturating_sub(phase2.elapsed()));
    run("b2-back", 400, &dead, &mut sim);
    let logged = ngx.upstream_addrs();
    let log_agree = logged.iter().zip(&expected).filter(|(a, b)| a == b).count();
    ngx.keep(case);
    record(&format!(
        "{case}: {agree}/{total} requests agree with real nginx; access log $upstream_addr (including retries) agrees for {log_agree}/{}",
        logged.len()
    ));
    assert_eq!(agree, total);
    assert_eq!(log_agree, total);
    assert!(expected.iter().any(|t| t.len() == 2), "a retry was exercised");
}

// ---------------------------------------------------------------------------------
// HAProxy
// ---------------------------------------------------------------------------------

struct Haproxy {
    _proc: Proc,
    dir: tempfile::TempDir,
    conf_text: String,
    port: u16,
}

fn start_haproxy(port: u16, backend: &str) -> Haproxy {
    let bin = require("haproxy");
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display();
    let conf_text = format!(
        "global
    nbthread 1
    stats socket {d}/admin.sock mode 600 level admin

defaults
    mode http
    timeout connect 500ms
    timeout client 5s
    timeout server 5s

frontend fe
    bind 127.0.0.1:{port}
    default_backend app

backend app
{backend}
"
    );
    let cfg = dir.path().join("haproxy.cfg");
    std::fs::write(&cfg, &conf_text).expect("write haproxy.cfg");
    let check = Command::new(&bin)
        .arg("-c")
        .arg("-f")
        .arg(&cfg)
        .output()
        .expect("haproxy -c");
    assert!(
        check.status.success(),
        "haproxy rejects the config: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let proc = Proc::spawn(
        "haproxy",
        Command::new(&bin)
            .arg("-db")
            .arg("-f")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_port(port, "haproxy");
    Haproxy {
        _proc: proc,
        dir,
        conf_text,
        port,
    }
}

impl Haproxy {
    /// Status of a server of backend `app` from `show stat` on the admin socket.
    fn status(&self, server: &str) -> String {
        use std::os::unix::net::UnixStream;
        let Ok(mut s) = UnixStream::connect(self.dir.path().join("admin.sock")) else {
            return String::new();
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = s.write_all(b"show stat\n");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        let mut lines = out.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").trim_start_matches("# ").split(',').collect();
        let col = header.iter().position(|h| *h == "status").unwrap_or(17);
        lines
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|f| f.first() == Some(&"app") && f.get(1) == Some(&server))
            .and_then(|f| f.get(col).map(|s| s.to_string()))
            .unwrap_or_default()
    }

    fn wait_status(&self, server: &str, prefix: &str) -> Duration {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if self.status(server).starts_with(prefix) {
                return start.elapsed();
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!(
            "haproxy did not mark {server} {prefix} within 20 s (status {:?})",
            self.status(server)
        );
    }

    fn keep(&self, case: &str) {
        let _ = std::fs::write(keep_dir().join(format!("{case}.haproxy.cfg")), &self.conf_text);
    }
}

#[test]
#[ignore = "needs real nginx and haproxy (apt-get install nginx haproxy); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn haproxy_balance_source_weights() {
    haproxy_plain_case(
        "haproxy-source-3111",
        18200,
        "    balance source
    server b1 127.0.0.1:18201 weight 3
    server b2 127.0.0.1:18202 weight 1
    server b3 127.0.0.1:18203 weight 1
    server b4 127.0.0.1:18204 weight 1",
        2,
    );
}

#[test]
#[ignore = "needs real nginx and haproxy (apt-get install nginx haproxy); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn haproxy_balance_source_consistent_weights_and_disabled() {
    // The chash tree of src/lb_chash.c: 16 * weight points per server at
    // full_hash(puid * 4096 + n), the request at the raw source address (get_server_sh,
    // src/backend.c), the nearer of the points around it. b3 `disabled` has no points.
    haproxy_plain_case(
        "haproxy-source-consistent-3121-disabled",
        18260,
        "    balance source
    hash-type consistent
    server b1 127.0.0.1:18261 weight 3
    server b2 127.0.0.1:18262 weight 1
    server b3 127.0.0.1:18263 weight 2 disabled
    server b4 127.0.0.1:18264 weight 1",
        2,
    );
}

#[test]
#[ignore = "needs real nginx and haproxy (apt-get install nginx haproxy); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn haproxy_balance_source_map_based_avalanche() {
    // The map of src/lb_map.c indexed by full_hash(address) % total weight (get_server_sh
    // with the `avalanche` modifier, src/backend.c).
    haproxy_plain_case(
        "haproxy-source-map-avalanche",
        18290,
        "    balance source
    hash-type map-based sdbm avalanche
    server b1 127.0.0.1:18291 weight 3
    server b2 127.0.0.1:18292 weight 1
    server b3 127.0.0.1:18293 weight 1
    server b4 127.0.0.1:18294 weight 1",
        1,
    );
}

#[test]
#[ignore = "needs real nginx and haproxy (apt-get install nginx haproxy); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn haproxy_balance_source_consistent_avalanche() {
    // As above with the `avalanche` modifier: the address goes through full_hash first.
    haproxy_plain_case(
        "haproxy-source-consistent-avalanche",
        18270,
        "    balance source
    hash-type consistent sdbm avalanche
    server b1 127.0.0.1:18271 weight 3
    server b2 127.0.0.1:18272 weight 1
    server b3 127.0.0.1:18273 weight 1
    server b4 127.0.0.1:18274 weight 1",
        2,
    );
}

#[test]
#[ignore = "needs real nginx and haproxy (apt-get install nginx haproxy); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn haproxy_cookie_insert_with_server_stopped() {
    let case = "haproxy-cookie-rr-3111";
    let base = 18220;
    let mut backends = start_backends(base);
    let hap = start_haproxy(
        base,
        "    balance roundrobin
    cookie SERVERID insert indirect nocache
    option redispatch
    retries 3
    default-server check inter 300ms fall 2 rise 2
    server b1 127.0.0.1:18221 weight 3 cookie s1
    server b2 127.0.0.1:18222 cookie s2
    server b3 127.0.0.1:18223 cookie s3
    server b4 127.0.0.1:18224 cookie s4",
    );
    hap.wait_status("b2", "UP");
    let imported = haproxy::import(&hap.conf_text, Some("app")).expect("import haproxy.cfg");
    let b2 = imported.conf.servers.iter().position(|s| s.name == "b2").expect("b2");
    let mut sim = Sim::new(imported.conf);
    let users: Vec<Ipv4Addr> = sources().into_iter().take(300).collect();
    // Users with u % 10 == 0 refuse cookies.
    let mut jar: Vec<Option<String>> = vec![None; users.len()];
    let mut agree = 0;
    let mut total = 0;
    let mut phase = |name: &str, order: &[usize], jar: &mut Vec<Option<String>>, sim: &mut Sim| {
        let mut repinned = 0;
        for &u in order {
            let src = users[u];
            let sent = jar[u].clone();
            let r = request(src, hap.port, &format!("/{case}/{name}/{u}"), sent.as_deref());
            assert_eq!(r.status, 200, "{case}: {r:?}");
            let real_cookie = r
                .set_cookie
                .as_deref()
                .map(|c| c.split(';').next().unwrap_or("").trim().to_string());
            let value = sent.as_deref().and_then(|c| c.strip_prefix("SERVERID="));
            let (addr, sim_cookie) = sim.haproxy_request(&client(src, value));
            total += 1;
            if addr == r.body && sim_cookie == real_cookie {
                agree += 1;
            } else if total - agree <= 5 {
                eprintln!(
                    "{case} {name} user {u}: real {} {:?} sim {addr} {:?}",
                    r.body, real_cookie, sim_cookie
                );
            }
            if sent.is_some() && real_cookie.is_some() {
                repinned += 1;
            }
            if u % 10 != 0
                && let Some(c) = real_cookie
            {
                jar[u] = Some(c);
            }
        }
        repinned
    };
    let forward: Vec<usize> = (0..users.len()).collect();
    let stride: Vec<usize> = (0..users.len()).map(|k| (k * 7) % users.len()).collect();
    phase("first", &forward, &mut jar, &mut sim);
    let repinned = phase("pinned", &stride, &mut jar, &mut sim);
    assert_eq!(repinned, 0, "no re-pinning while every server is up");
    // b2 stops; no request until HAProxy's checks mark it down.
    backends[1].stop();
    let took = hap.wait_status("b2", "DOWN");
    sim.policy.set_up_counted(b2, false, &mut sim.peers);
    let repinned_down = phase("b2-down", &forward, &mut jar, &mut sim);
    assert!(repinned_down > 0, "b2's users were re-pinned");
    phase("after", &stride, &mut jar, &mut sim);
    // b2 comes back: checks mark it up; new users are balanced over it again.
    backends[1] = Backend::start(base + 2);
    hap.wait_status("b2", "UP");
    sim.policy.set_up_counted(b2, true, &mut sim.peers);
    for u in jar.iter_mut().step_by(3) {
        *u = None; // a third of the users start a new session
    }
    phase("b2-back", &forward, &mut jar, &mut sim);
    hap.keep(case);
    record(&format!(
        "{case}: {agree}/{total} requests agree with real HAProxy (server and Set-Cookie); \
         b2 marked down {:.1} s after it stopped, {repinned_down} users re-pinned",
        took.as_secs_f64()
    ));
    assert_eq!(agree, total);
}

/// Plain balancing (no persistence) through one HAProxy backend: every request's
/// server must agree.
fn haproxy_plain_case(case: &str, base: u16, backend: &str, rounds: usize) {
    let _backends = start_backends(base);
    let hap = start_haproxy(base, backend);
    let imported = haproxy::import(&hap.conf_text, Some("app")).expect("import haproxy.cfg");
    let mut sim = Sim::new(imported.conf);
    let mut agree = 0;
    let mut total = 0;
    for round in 0..rounds {
        for (k, &src) in sources().iter().enumerate() {
            let r = request(src, hap.port, &format!("/{case}/{round}/{k}"), None);
            assert_eq!(r.status, 200, "{case}: {r:?}");
            let (addr, _) = sim.haproxy_request(&client(src, None));
            total += 1;
            if addr == r.body {
                agree += 1;
            } else if total - agree <= 5 {
                eprintln!("{case}: {src} real {} sim {addr}", r.body);
            }
        }
    }
    hap.keep(case);
    record(&format!("{case}: {agree}/{total} requests agree with real HAProxy"));
    assert_eq!(agree, total);
}

#[test]
#[ignore = "needs real nginx and haproxy (apt-get install nginx haproxy); run: cargo test --test integration -- --ignored conformance --test-threads 1"]
fn haproxy_roundrobin_weights_5_2_1_1() {
    haproxy_plain_case(
        "haproxy-rr-5211",
        18240,
        "    balance roundrobin
    server b1 127.0.0.1:18241 weight 5
    server b2 127.0.0.1:18242 weight 2
    server b3 127.0.0.1:18243 weight 1
    server b4 127.0.0.1:18244 weight 1",
        1,
    );
}
