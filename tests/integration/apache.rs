//! The Apache policy in whole runs: stickysession routes keep sessions because the simulator
//! renders JSESSIONID as `<id>.<route>` of the node that created it, and an `httpd.conf`
//! imported by `balancer.config` (errors naming the file and line, exit code 2).

use crate::common::{metric, scenario, sessim};
use sessim::runner::run_all;

const BASE: &str = r#"
name = "apache"
seed = 5
duration = "10m"
warmup = "2m"
replications = 3
[workload]
users_per_second = 5
requests = { dist = "geometric", mean = 10 }
think_time = { dist = "exponential", mean = "5s" }
refuse_cookies = 0
[backends]
count = 4
workers = 16
service_time = "20ms"
[sessions]
storage = "local"
[balancer]
policy = "apache"
[[strategy]]
label = "routes"
balancer.stickysession = "JSESSIONID|jsessionid"
[[strategy]]
label = "no stickysession"
"#;

#[test]
fn routes_keep_local_sessions_and_plain_byrequests_loses_three_quarters() {
    let sc = scenario(BASE);
    let runs = run_all(&sc, 1).expect("runs");
    // With routes every request of a session goes to the member that created it (its route is
    // the session id's suffix) and nobody refuses cookies: nothing can be lost.
    let sticky = metric(&runs, 0, "sessions_lost");
    assert_eq!(sticky.mean, 0.0, "stickysession lost sessions: {sticky:?}");
    // byrequests with equal loadfactors is a strict rotation over 4 members, unrelated to the
    // user: a request finds its session only on the member it logged in on, 1 time in 4, so
    // (N-1)/N = 75% of the session requests are lost (as nginx round-robin in quick-start).
    let plain = metric(&runs, 1, "lost_session_pct");
    assert!(
        (plain.mean - 75.0).abs() < 2.0,
        "byrequests without stickiness lost {:.2}% (expected about 75%)",
        plain.mean
    );
}

const HTTPD: &str = r#"
<Proxy "balancer://tomcats">
    BalancerMember "http://10.0.0.1:8080" route=t1
    BalancerMember "http://10.0.0.2:8080" route=t2 loadfactor=3
    ProxySet lbmethod=bybusyness stickysession=JSESSIONID|jsessionid
</Proxy>
ProxyPass "/" "balancer://tomcats/"
"#;

#[test]
fn httpd_conf_imports_and_errors_name_the_line() {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(d.path().join("httpd.conf"), HTTPD).expect("write");
    std::fs::write(
        d.path().join("bad.conf"),
        HTTPD.replace("route=t2", "route=t2 status=+N"),
    )
    .expect("write");
    let text = |file: &str| {
        format!(
            "name = \"imp\"\nduration = \"20s\"\nwarmup = \"2s\"\n[workload]\nusers_per_second = 2\n\
             requests = 3\nthink_time = \"1s\"\n[balancer]\nconfig = \"{file}\"\n"
        )
    };
    std::fs::write(d.path().join("ok.toml"), text("httpd.conf")).expect("write");
    std::fs::write(d.path().join("bad.toml"), text("bad.conf")).expect("write");
    let ok = sessim(d.path(), &["check", "ok.toml"]);
    let out = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(
        out.contains("balancer   apache (lbmethod=bybusyness stickysession=JSESSIONID|jsessionid"),
        "{out}"
    );
    let bad = sessim(d.path(), &["check", "bad.toml"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("bad.conf:4: status flag `N` is not modelled"), "{err}");
}
