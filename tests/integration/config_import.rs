//! Balancers imported from nginx and HAProxy config files: exact error text naming the config
//! file and line, notes in `sessim check`, and a run over the imported servers.

use crate::common::sessim;
use std::fs;
use std::path::Path;

fn scenario(balancer: &str, backends: &str) -> String {
    format!(
        r#"
name = "imported"
duration = "20s"
warmup = "2s"
[workload]
users_per_second = 5
requests = 3
think_time = "1s"
[backends]
workers = 2
{backends}
[balancer]
{balancer}
"#
    )
}

fn write(dir: &Path, name: &str, text: &str) {
    fs::write(dir.join(name), text).expect("write test file");
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const NGINX: &str = "worker_processes 1;
events { worker_connections 64; }
http {
    upstream app {
        ip_hash;
        server 10.0.0.1:80 weight=3;
        server 10.0.0.2:80;
        server 10.0.0.3:80 down;
        keepalive 8;
    }
    upstream other { server 10.0.1.1:80; }
    server { listen 80; location / { proxy_pass http://app; } }
}
";

#[test]
fn config_errors_name_the_file_and_line() {
    let d = tempfile::tempdir().expect("tempdir");
    write(d.path(), "nginx.conf", NGINX);
    write(
        d.path(),
        "plus.conf",
        "upstream app {\n    server 10.0.0.1:80;\n    sticky cookie srv_id;\n}\n",
    );
    write(
        d.path(),
        "haproxy.cfg",
        "backend app\n    balance uri\n    server a 10.0.0.1:80\n",
    );
    let cases: &[(&str, String, &str)] = &[
        (
            "several.toml",
            scenario("config = \"nginx.conf\"", ""),
            "error: several.toml:13:10: balancer.config: nginx.conf: the file has 2 upstreams (app, other); \
             name the one to use with balancer.upstream\n",
        ),
        (
            "unknown.toml",
            scenario("config = \"nginx.conf\"\nupstream = \"ap\"", ""),
            "error: unknown.toml:13:10: balancer.config: nginx.conf: no upstream named `ap`; the file has: app, other\n",
        ),
        (
            "plus.toml",
            scenario("config = \"plus.conf\"", ""),
            "error: plus.toml:13:10: balancer.config: plus.conf:3: `sticky` (NGINX Plus) changes balancing and is not \
             modelled; remove it or use ip_hash/hash\n",
        ),
        (
            "uri.toml",
            scenario("config = \"haproxy.cfg\"", ""),
            "error: uri.toml:13:10: balancer.config: haproxy.cfg:2: balance uri is not modelled; sessim supports \
             roundrobin, leastconn and source\n",
        ),
        (
            "both.toml",
            scenario("config = \"nginx.conf\"\nupstream = \"app\"\npolicy = \"ip_hash\"", ""),
            "error: both.toml:15:10: balancer.policy: cannot be combined with `balancer.config`: the config file sets \
             the method (remove one of them)\n",
        ),
        (
            "count.toml",
            scenario("config = \"nginx.conf\"\nupstream = \"app\"", "count = 4"),
            "error: count.toml:11:9: backends.count: is 4 but nginx.conf lists 3 servers; drop `count` (the config \
             file defines the servers) or make them agree\n",
        ),
        (
            "missing.toml",
            scenario("config = \"nope.conf\"", ""),
            "error: missing.toml:13:10: balancer.config: cannot read nope.conf: No such file or directory (os error 2)\n",
        ),
        (
            "family.toml",
            scenario("policy = \"ip_hash\"\nretries = 2", ""),
            "error: family.toml:14:11: balancer.retries: is an HAProxy setting, and policy `ip_hash` follows nginx; \
             use max_fails, fail_timeout, next_upstream, next_upstream_tries\n",
        ),
        (
            "backup.toml",
            scenario(
                "policy = \"ip_hash\"",
                "servers = [{ name = \"a\" }, { name = \"b\", backup = true }]",
            ),
            "error: backup.toml:9:1: backends: server b: `backup` cannot be used with nginx ip_hash (nginx refuses \
             this configuration)\n",
        ),
    ];
    for (name, text, want) in cases {
        write(d.path(), name, text);
        let o = sessim(d.path(), &["check", name]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        // The first line names the place (line:column of the key's value) and the fix; the
        // lines under it show that line of the file with a caret (tests/integration/cli.rs
        // checks that shape exactly).
        let e = stderr(&o);
        assert_eq!(e.lines().next(), want.lines().next(), "{name}");
        assert!(e.lines().nth(3).is_some_and(|l| l.contains('^')), "{name}: {e}");
    }
}

#[test]
fn check_prints_the_import_and_its_notes_and_run_uses_the_config_servers() {
    let d = tempfile::tempdir().expect("tempdir");
    fs::create_dir(d.path().join("conf")).expect("mkdir");
    write(&d.path().join("conf"), "nginx.conf", NGINX);
    // The config file is found relative to the scenario's folder, not the working directory.
    write(
        &d.path().join("conf"),
        "s.toml",
        &scenario(
            "config = \"nginx.conf\"\nupstream = \"app\"",
            "servers = [{ name = \"10.0.0.2:80\", workers = 5 }]",
        ),
    );
    let o = sessim(d.path(), &["check", "conf/s.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for want in [
        "  balancer   ip_hash\n",
        "             proxy_next_upstream error timeout\n",
        "             imported from conf/nginx.conf (nginx `app`)\n",
        "             note: conf/nginx.conf:9: `keepalive` does not change which server is chosen; ignored\n",
        "  backend    10.0.0.1:80 weight 3, 2 workers",
        "  backend    10.0.0.2:80 weight 1, 5 workers",
        "  backend    10.0.0.3:80 weight 1, 2 workers, queue 100, service exponential(mean 50ms), down,",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    let o = sessim(d.path(), &["run", "conf/s.toml", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let backends = fs::read_to_string(d.path().join("output/imported/backends.csv")).expect("backends.csv");
    assert!(
        backends.contains(",10.0.0.3:80,0,0,0,"),
        "the down server gets nothing:\n{backends}"
    );
}
