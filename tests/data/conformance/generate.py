#!/usr/bin/env python3
"""Writes the config-reader conformance corpus: variants of one real nginx.conf and one
real haproxy.cfg, each one edit away from the base. Which variants the real servers accept
is not decided here: tests/integration/config_conformance.rs runs every file through
`nginx -t` / `haproxy -c` and through sessim's readers and compares.

Run from this directory: python3 generate.py (it rewrites nginx/ and haproxy/)."""
import os, shutil

NGINX = """worker_processes 1;
events { worker_connections 64; }
http {
    proxy_next_upstream error timeout;
    upstream app {
        ip_hash;
        server 127.0.0.1:18401 weight=3;
        server 127.0.0.1:18402 max_fails=2 fail_timeout=30s;
        server 127.0.0.1:18403 down;
    }
    server {
        listen 127.0.0.1:18400;
        location / {
            proxy_pass http://app;
        }
    }
}
"""

LONE = """upstream app {
    server 127.0.0.1:18401 weight=2;
    server 127.0.0.1:18402;
}
"""

def sub(old, new, base=NGINX):
    assert old in base, old
    return base.replace(old, new, 1)

NGINX_VARIANTS = {
    # --- expected valid (the real server decides) ---
    "base": NGINX,
    "round-robin": sub("        ip_hash;\n", ""),
    "least-conn": sub("ip_hash;", "least_conn;"),
    "hash-remote-addr-consistent": sub("ip_hash;", "hash $remote_addr consistent;"),
    "hash-request-uri": sub("ip_hash;", "hash $request_uri;"),
    "hash-cookie": sub("ip_hash;", "hash $cookie_PHPSESSID;"),
    "hash-host-not-modelled": sub("ip_hash;", "hash $host;"),
    "random-two-least-conn": sub("ip_hash;", "random two least_conn;"),
    "comments": sub("        ip_hash;\n", "        # the method\n        ip_hash; # by client address\n        #server 127.0.0.1:18409;\n"),
    "hash-inside-word": sub("listen 127.0.0.1:18400;", "listen 127.0.0.1:18400;\n        add_header X-A a#b;"),
    "quoted-address": sub("server 127.0.0.1:18401 weight=3;", 'server "127.0.0.1:18401" \'weight=3\';'),
    "multi-line-server": sub("server 127.0.0.1:18401 weight=3;", "server 127.0.0.1:18401\n            weight=3\n        ;"),
    "keepalive-zone": sub("        server 127.0.0.1:18403 down;\n", "        server 127.0.0.1:18403 down;\n        keepalive 8;\n        zone app 64k;\n"),
    "backup-round-robin": sub("        ip_hash;\n", "").replace("18403 down;", "18403 backup;"),
    "max-conns": sub("18403 down;", "18403 max_conns=10;"),
    "fail-timeout-minutes": sub("fail_timeout=30s", "fail_timeout=1m"),
    "next-upstream-tries": sub("proxy_pass http://app;", "proxy_pass http://app;\n            proxy_next_upstream_tries 2;"),
    "escaped-quote": sub("proxy_pass http://app;", 'proxy_pass http://app;\n            proxy_set_header X-A "a\\"b\\\\c";'),
    "dollar-brace-variable": sub("proxy_pass http://app;", 'proxy_pass http://app;\n            set $x "${remote_addr}z";'),
    "if-block": sub("listen 127.0.0.1:18400;", "listen 127.0.0.1:18400;\n        if ($request_method = POST) { return 405; }"),
    "map-block": sub("    upstream app {", "    map $uri $m {\n        default 0;\n        ~^/a 1;\n    }\n    upstream app {"),
    "log-format-multiline": sub("    upstream app {", "    log_format x '$remote_addr '\n                 '$upstream_addr';\n    upstream app {"),
    "proxy-pass-uri": sub("proxy_pass http://app;", "proxy_pass http://app/;"),
    "one-line-upstream": sub("""    upstream app {
        ip_hash;
        server 127.0.0.1:18401 weight=3;
        server 127.0.0.1:18402 max_fails=2 fail_timeout=30s;
        server 127.0.0.1:18403 down;
    }""", "    upstream app { ip_hash; server 127.0.0.1:18401 weight=3;server 127.0.0.1:18402; }"),
    "two-upstreams": sub("    server {", "    upstream other { server 127.0.0.1:18409; }\n    server {"),
    "duplicate-server-address": sub("18403 down;", "18401;"),
    "method-redefined": sub("ip_hash;", "least_conn;\n        ip_hash;"),
    "include-upstream": sub("""    upstream app {
        ip_hash;
        server 127.0.0.1:18401 weight=3;
        server 127.0.0.1:18402 max_fails=2 fail_timeout=30s;
        server 127.0.0.1:18403 down;
    }""", "    include inc/upstream-app.conf;"),
    "include-glob": sub("""        server 127.0.0.1:18401 weight=3;
        server 127.0.0.1:18402 max_fails=2 fail_timeout=30s;
        server 127.0.0.1:18403 down;""", "        include inc/servers-*.conf;"),
    "include-glob-no-match-plus-server": sub("        server 127.0.0.1:18403 down;\n", "        server 127.0.0.1:18403 down;\n        include inc/none-*.conf;\n"),
    "worker-processes-auto": sub("worker_processes 1;", "worker_processes auto;"),
    "lone-upstream": LONE,
    "lone-upstream-hash": sub("upstream app {\n", "upstream app {\n    hash $remote_addr;\n", LONE),
    "lone-upstream-comments": sub("upstream app {\n", "# imported alone\nupstream app { # block\n", LONE),
    # --- expected broken ---
    "missing-semicolon-after-ip-hash": sub("ip_hash;", "ip_hash"),
    "missing-semicolon-before-brace": sub("18403 down;", "18403 down"),
    "missing-semicolon-least-conn": sub("ip_hash;", "least_conn"),
    "missing-semicolon-proxy-pass": sub("proxy_pass http://app;", "proxy_pass http://app"),
    "extra-closing-brace": NGINX + "}\n",
    "missing-closing-brace": NGINX.rstrip()[:-1] + "\n",
    "missing-upstream-closing-brace": sub("        server 127.0.0.1:18403 down;\n    }\n", "        server 127.0.0.1:18403 down;\n"),
    "unknown-server-parameter": sub("weight=3", "wieght=3"),
    "weight-zero": sub("weight=3", "weight=0"),
    "weight-not-a-number": sub("weight=3", "weight=x"),
    "weight-empty": sub("weight=3", "weight="),
    "max-fails-not-a-number": sub("max_fails=2", "max_fails=two"),
    "fail-timeout-milliseconds": sub("fail_timeout=30s", "fail_timeout=500ms"),
    "max-conns-negative": sub("18403 down;", "18403 max_conns=-1;"),
    "slow-start-plus": sub("weight=3", "weight=3 slow_start=30s"),
    "include-missing-file": sub("    upstream app {", "    include inc/does-not-exist.conf;\n    upstream app {"),
    "include-broken-file": sub("    upstream app {", "    include inc/broken.conf;\n    upstream app {"),
    "unknown-directive-upstream": sub("ip_hash;", "ip_hash;\n        frobnicate;"),
    "unknown-directive-http": sub("    proxy_next_upstream", "    gzipp on;\n    proxy_next_upstream"),
    "server-line-in-http": sub("    server {", "    server 127.0.0.1:18404;\n    server {"),
    "ip-hash-in-http": sub("    proxy_next_upstream", "    ip_hash;\n    proxy_next_upstream"),
    "proxy-pass-in-server": sub("listen 127.0.0.1:18400;", "listen 127.0.0.1:18400;\n        proxy_pass http://app;"),
    "unterminated-quote": sub("proxy_pass http://app;", 'proxy_pass "http://app;'),
    "quote-then-letter": sub("server 127.0.0.1:18401 weight=3;", 'server "127.0.0.1:18401"weight=3;'),
    "hash-three-arguments": sub("ip_hash;", "hash $remote_addr consistent extra;"),
    "hash-misspelt-consistent": sub("ip_hash;", "hash $remote_addr consistant;"),
    "random-bad-parameter": sub("ip_hash;", "random three;"),
    "ip-hash-with-backup": sub("18403 down;", "18403 backup;"),
    "no-servers": sub("""        server 127.0.0.1:18401 weight=3;
        server 127.0.0.1:18402 max_fails=2 fail_timeout=30s;
        server 127.0.0.1:18403 down;
""", ""),
    "duplicate-upstream": sub("    server {", "    upstream app { server 127.0.0.1:18409; }\n    server {"),
    "no-events": sub("events { worker_connections 64; }\n", ""),
    "upstream-without-name": sub("upstream app {", "upstream {"),
    "location-without-block": sub("        location / {\n            proxy_pass http://app;\n        }\n", "        location /;\n"),
    "events-with-argument": sub("events {", "events on {"),
    "sticky-plus": sub("ip_hash;", "sticky cookie srv;"),
    "stray-semicolon": sub("        ip_hash;\n", "        ip_hash;\n        ;\n"),
    "server-without-address": sub("18403 down;", "18403 down;\n        server;"),
    "keepalive-without-argument": sub("ip_hash;", "ip_hash;\n        keepalive;"),
    "ip-hash-with-argument": sub("ip_hash;", "ip_hash on;"),
    "lone-missing-semicolon": sub("server 127.0.0.1:18402;", "server 127.0.0.1:18402", LONE),
    "lone-unknown-parameter": sub("weight=2", "weigth=2", LONE),
}

NGINX_INCLUDES = {
    "upstream-app.conf": """upstream app {
    ip_hash;
    server 127.0.0.1:18401 weight=3;
    server 127.0.0.1:18402;
}
""",
    "servers-1.conf": "server 127.0.0.1:18401 weight=3;\n",
    "servers-2.conf": "server 127.0.0.1:18402;\n",
    "broken.conf": "# an upstream with a missing semicolon\nupstream broken {\n    server 127.0.0.1:18405\n}\n",
}

HAPROXY = """global
    maxconn 100

defaults
    mode http
    retries 2
    timeout connect 1s
    timeout client 5s
    timeout server 5s

frontend fe
    bind 127.0.0.1:18450
    default_backend app

backend app
    balance roundrobin
    server s1 127.0.0.1:18451 check weight 3
    server s2 127.0.0.1:18452 check
    server s3 127.0.0.1:18453 check
"""

def hsub(old, new, base=HAPROXY):
    assert old in base, old
    return base.replace(old, new, 1)

HAPROXY_VARIANTS = {
    # --- expected valid ---
    "base": HAPROXY,
    "leastconn": hsub("balance roundrobin", "balance leastconn"),
    "source-map-based": hsub("balance roundrobin", "balance source"),
    "source-consistent": hsub("balance roundrobin", "balance source\n    hash-type consistent"),
    "static-rr-not-modelled": hsub("balance roundrobin", "balance static-rr"),
    "cookie-insert": hsub("balance roundrobin", "balance roundrobin\n    cookie SERVERID insert indirect nocache").replace("check weight 3", "check weight 3 cookie s1").replace("18452 check", "18452 check cookie s2"),
    "redispatch": hsub("    retries 2\n", "    retries 2\n    option redispatch\n"),
    "no-option-redispatch": hsub("balance roundrobin", "balance roundrobin\n    no option redispatch"),
    "default-server": hsub("    timeout server 5s\n", "    timeout server 5s\n    default-server inter 1s fall 2 rise 1\n"),
    "comments-and-blanks": hsub("\nbackend app\n", "\n# the application\n\nbackend app # servers below\n\n"),
    "quoted-address": hsub("server s1 127.0.0.1:18451", 'server "s1" "127.0.0.1:18451"'),
    "single-quoted": hsub("balance roundrobin", "balance 'roundrobin'"),
    "escaped-quote": hsub("balance roundrobin", 'balance roundrobin\n    http-request set-header X-A "a\\"b"'),
    "tabs": hsub("    balance roundrobin", "\tbalance\troundrobin"),
    "listen-section": """global
    maxconn 100

defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s

listen app
    bind 127.0.0.1:18450
    balance roundrobin
    server s1 127.0.0.1:18451 weight 3
    server s2 127.0.0.1:18452
""",
    "lone-backend": "backend app\n    balance roundrobin\n    server s1 127.0.0.1:18451 weight 2\n    server s2 127.0.0.1:18452\n",
    "weight-zero": hsub("weight 3", "weight 0"),
    "weight-not-a-number": hsub("weight 3", "weight x"),
    "backup-server": hsub("18453 check", "18453 check backup"),
    "disabled-server": hsub("18453 check", "18453 check disabled"),
    "server-maxconn": hsub("18453 check", "18453 check maxconn 10"),
    "timeout-connect-backend": hsub("balance roundrobin", "balance roundrobin\n    timeout connect 100ms"),
    "option-forwardfor": hsub("    mode http\n", "    mode http\n    option forwardfor\n"),
    "two-backends": HAPROXY + "\nbackend other\n    server o1 127.0.0.1:18459\n",
    "stick-table-not-modelled": hsub("balance roundrobin", "balance roundrobin\n    stick-table type ip size 1k"),
    "server-id": hsub("18453 check", "18453 check id 5"),
    "bind-in-backend-warning": hsub("balance roundrobin", "balance roundrobin\n    bind 127.0.0.1:18458"),
    "no-servers-not-modelled": hsub("""    server s1 127.0.0.1:18451 check weight 3
    server s2 127.0.0.1:18452 check
    server s3 127.0.0.1:18453 check
""", ""),
    "hash-type-avalanche": hsub("balance roundrobin", "balance source\n    hash-type map-based sdbm avalanche"),
    "global-nbthread": hsub("    maxconn 100\n", "    maxconn 100\n    nbthread 1\n"),
    # --- expected broken ---
    "unknown-keyword-backend": hsub("balance roundrobin", "balance roundrobin\n    frobnicate 1"),
    "unknown-keyword-frontend": hsub("default_backend app", "default_backend app\n    frobnicate 1"),
    "unknown-keyword-defaults": hsub("    mode http\n", "    mode http\n    frobnicate 1\n"),
    "unknown-keyword-global": hsub("    maxconn 100\n", "    maxconn 100\n    frobnicate 1\n"),
    "server-outside-section": "server s0 127.0.0.1:18450\n" + HAPROXY,
    "misspelt-section": hsub("\nbackend app\n", "\nbacknd app\n"),
    "weight-too-high": hsub("weight 3", "weight 257"),
    "duplicate-server-name": hsub("server s3 ", "server s2 "),
    "unknown-server-keyword": hsub("weight 3", "wieght 3"),
    "unknown-option": hsub("    retries 2\n", "    retries 2\n    option redispach\n"),
    "no-not-option": hsub("balance roundrobin", "balance roundrobin\n    no redispatch"),
    "balance-unknown": hsub("balance roundrobin", "balance roundrobyn"),
    "balance-without-argument": hsub("balance roundrobin", "balance"),
    "server-without-address": hsub("server s3 127.0.0.1:18453 check", "server s3"),
    "unterminated-double-quote": hsub("server s3 127.0.0.1:18453 check", 'server s3 "127.0.0.1:18453 check'),
    "unterminated-single-quote": hsub("server s3 127.0.0.1:18453 check", "server s3 '127.0.0.1:18453 check"),
    "hash-type-unknown-function": hsub("balance roundrobin", "balance source\n    hash-type consistent md5"),
    "hash-type-unknown-method": hsub("balance roundrobin", "balance source\n    hash-type random"),
    "duplicate-backend": HAPROXY + "\nbackend app\n    server o1 127.0.0.1:18459\n",
    "backend-without-name": hsub("\nbackend app\n", "\nbackend\n"),
    "timeout-connect-bad": hsub("timeout connect 1s", "timeout connect soon"),
    "inter-bad": hsub("18453 check", "18453 check inter soon"),
    "cookie-without-name": hsub("balance roundrobin", "balance roundrobin\n    cookie"),
    "server-cookie-without-value": hsub("18453 check", "18453 check cookie"),
    "default-server-unknown-keyword": hsub("    timeout server 5s\n", "    timeout server 5s\n    default-server wieght 1\n"),
    "option-without-name": hsub("balance roundrobin", "balance roundrobin\n    option"),
    "fall-without-value": hsub("18453 check", "18453 check fall"),
    "maxconn-without-value": hsub("18453 check", "18453 check maxconn"),
    "lone-unknown-keyword": "backend app\n    balanse roundrobin\n    server s1 127.0.0.1:18451\n",
    "lone-duplicate-server": "backend app\n    server s1 127.0.0.1:18451\n    server s1 127.0.0.1:18452\n",
}

def write(dirname, variants, ext):
    if os.path.isdir(dirname):
        shutil.rmtree(dirname)
    os.makedirs(dirname)
    for name, text in variants.items():
        with open(os.path.join(dirname, name + ext), "w") as f:
            f.write(text)

if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    write(os.path.join(here, "nginx"), NGINX_VARIANTS, ".conf")
    os.makedirs(os.path.join(here, "nginx", "inc"))
    for name, text in NGINX_INCLUDES.items():
        with open(os.path.join(here, "nginx", "inc", name), "w") as f:
            f.write(text)
    write(os.path.join(here, "haproxy"), HAPROXY_VARIANTS, ".cfg")
    print(len(NGINX_VARIANTS), "nginx variants,", len(HAPROXY_VARIANTS), "haproxy variants")
