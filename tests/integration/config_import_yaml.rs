//! Kubernetes Service and Envoy cluster YAML as `balancer.config` and as `replay --balancer`:
//! the import shown by `sessim check`, refusals naming the file and line (exit code 2), and
//! whole runs and replays over the imported endpoints.

use crate::common::{repo, sessim};
use std::fs;

fn scenario(config: &str, extra: &str) -> String {
    format!(
        "name = \"yaml\"\nduration = \"20s\"\nwarmup = \"2s\"\n[workload]\nusers_per_second = 5\nrequests = 3\n\
         think_time = \"1s\"\n[backends]\nworkers = 2\n[balancer]\nconfig = \"{config}\"\n{extra}"
    )
}

fn data(name: &str) -> String {
    repo().join("tests/data/k8s").join(name).display().to_string()
}

#[test]
fn service_and_envoy_yaml_import_check_and_run() {
    let d = tempfile::tempdir().expect("tempdir");
    for (file, want) in [
        (
            "shop-service.yaml",
            [
                "  balancer   kube_proxy (sessionAffinity ClientIP, timeoutSeconds 10800, recent list 100)\n",
                "(kubernetes `shop`)\n",
                "shop-service.yaml:49: Deployment ignored: it does not route requests\n",
            ],
        ),
        (
            "shop-envoy.yaml",
            [
                "  balancer   envoy_ring_hash (hash $cookie_PHPSESSID, minimum_ring_size 1024, maximum_ring_size 8388608)\n",
                "(envoy `shop`)\n",
                "shop-envoy.yaml:31: connect_timeout ignored",
            ],
        ),
    ] {
        fs::write(d.path().join("s.toml"), scenario(&data(file), "")).expect("write");
        let o = sessim(d.path(), &["check", "s.toml"]);
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        for w in want {
            assert!(out.contains(w), "missing {w:?} in:\n{out}");
        }
        let o = sessim(d.path(), &["run", "s.toml", "--quiet"]);
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        let backends = fs::read_to_string(d.path().join("output/yaml/backends.csv")).expect("backends.csv");
        // The four endpoints of the file are the backends (their names are address:port).
        let first = if file == "shop-envoy.yaml" {
            ",10.0.0.1:8080,"
        } else {
            ",10.244.1.11:8080,"
        };
        assert!(backends.contains(first), "{backends}");
    }
}

#[test]
fn unmodelled_yaml_fields_are_refused_with_file_and_line() {
    let d = tempfile::tempdir().expect("tempdir");
    for (file, line, what) in [
        (
            "shop-local.yaml",
            10,
            "`spec.externalTrafficPolicy: Local` is not modelled",
        ),
        ("shop-envoy-random.yaml", 32, "`lb_policy: RANDOM` is not modelled"),
    ] {
        fs::write(d.path().join("s.toml"), scenario(&data(file), "")).expect("write");
        let o = sessim(d.path(), &["check", "s.toml"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        let want = format!("balancer.config: {}:{line}: {what}", data(file));
        assert!(err.contains(&want), "missing {want:?} in:\n{err}");
    }
    // A scenario key of the Envoy/kube-proxy policies next to the YAML: refused, not merged.
    fs::write(
        d.path().join("s.toml"),
        scenario(&data("shop-service.yaml"), "session_affinity = \"None\"\n"),
    )
    .expect("write");
    let o = sessim(d.path(), &["check", "s.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("balancer.session_affinity"));
}

#[test]
fn replay_routes_a_log_through_the_service_yaml() {
    let d = tempfile::tempdir().expect("tempdir");
    let log = repo().join("scenarios/data/replay-example.log").display().to_string();
    let o = sessim(
        d.path(),
        &[
            "replay",
            &log,
            "--balancer",
            &data("shop-service.yaml"),
            "--out",
            "r",
            "--quiet",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let trace = fs::read_to_string(d.path().join("r/trace.csv")).expect("trace.csv");
    let mut rows = trace.lines().skip(1).filter_map(|l| {
        let f: Vec<&str> = l.split(',').collect();
        Some((f.get(4)?.to_string(), f.get(7)?.to_string()))
    });
    // ClientIP affinity (timeoutSeconds 10800, longer than the log): every request of a client
    // address goes to the endpoint its first request went to.
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut n = 0;
    for (ip, backend) in rows.by_ref() {
        assert!(backend.starts_with("10.244."), "{backend}");
        match seen.iter().find(|(i, _)| *i == ip) {
            Some((_, b)) => assert_eq!(*b, backend, "client {ip} moved"),
            None => seen.push((ip, backend)),
        }
        n += 1;
    }
    assert!(n > 0 && seen.len() < n, "{n} requests from {} clients", seen.len());
}
