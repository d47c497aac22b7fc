//! Where nginx 1.22 allows each directive and how many arguments it takes, and the check
//! of a parsed tree against that (`ngx_conf_handler`, src/core/ngx_conf_file.c, with the
//! `ngx_command_t` tables of the modules named below); checked against `nginx -t` by the
//! conformance corpus in tests/data/conformance/. The tokens and blocks are
//! `nginx_grammar.rs`'s.

use super::ConfigError;
use super::nginx_grammar::{Directive, shown};

/// Which block a directive sits in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ctx {
    Main,
    Events,
    Http,
    Server,
    Location,
    Upstream,
    /// Inside `types`, `map`, `geo`, `split_clients`, `charset_map`: not directives.
    Data,
}

/// Argument count of a directive (words after its name), as the `NGX_CONF_TAKE*`,
/// `NGX_CONF_1MORE`, `NGX_CONF_2MORE` flags of its `ngx_command_t`.
#[derive(Clone, Copy)]
enum Arity {
    Range(usize, usize),
    AtLeast(usize),
}

/// (name, contexts, block, arity) for the directives whose place and shape nginx's
/// modules declare and that matter to finding the upstream: ngx_core_module,
/// ngx_events_module, ngx_http_core_module, ngx_http_upstream_module (+ ip_hash, hash,
/// least_conn, random, keepalive, zone), ngx_http_proxy_module.
const SPECS: &[(&str, &[Ctx], bool, Arity)] = {
    use Arity::*;
    use Ctx::*;
    &[
        ("events", &[Main], true, Range(0, 0)),
        ("http", &[Main], true, Range(0, 0)),
        ("worker_processes", &[Main], false, Range(1, 1)),
        ("user", &[Main], false, Range(1, 2)),
        ("pid", &[Main], false, Range(1, 1)),
        ("daemon", &[Main], false, Range(1, 1)),
        ("master_process", &[Main], false, Range(1, 1)),
        ("load_module", &[Main], false, Range(1, 1)),
        ("worker_rlimit_nofile", &[Main], false, Range(1, 1)),
        ("worker_priority", &[Main], false, Range(1, 1)),
        ("worker_shutdown_timeout", &[Main], false, Range(1, 1)),
        ("worker_cpu_affinity", &[Main], false, AtLeast(1)),
        ("working_directory", &[Main], false, Range(1, 1)),
        ("timer_resolution", &[Main], false, Range(1, 1)),
        ("pcre_jit", &[Main], false, Range(1, 1)),
        ("env", &[Main], false, Range(1, 1)),
        ("lock_file", &[Main], false, Range(1, 1)),
        ("thread_pool", &[Main], false, Range(2, 3)),
        ("error_log", &[Main, Http, Server, Location], false, AtLeast(1)),
        ("worker_connections", &[Events], false, Range(1, 1)),
        ("use", &[Events], false, Range(1, 1)),
        ("multi_accept", &[Events], false, Range(1, 1)),
        ("accept_mutex", &[Events], false, Range(1, 1)),
        ("accept_mutex_delay", &[Events], false, Range(1, 1)),
        ("worker_aio_requests", &[Events], false, Range(1, 1)),
        ("debug_connection", &[Events], false, Range(1, 1)),
        ("upstream", &[Http], true, Range(1, 1)),
        ("server", &[Http], true, Range(0, 0)),
        ("server", &[Upstream], false, AtLeast(1)),
        ("location", &[Server, Location], true, Range(1, 2)),
        ("listen", &[Server], false, AtLeast(1)),
        ("server_name", &[Server], false, AtLeast(1)),
        ("proxy_pass", &[Location], false, Range(1, 1)),
        ("proxy_next_upstream", &[Http, Server, Location], false, AtLeast(1)),
        (
            "proxy_next_upstream_tries",
            &[Http, Server, Location],
            false,
            Range(1, 1),
        ),
        (
            "proxy_next_upstream_timeout",
            &[Http, Server, Location],
            false,
            Range(1, 1),
        ),
        ("ip_hash", &[Upstream], false, Range(0, 0)),
        ("least_conn", &[Upstream], false, Range(0, 0)),
        ("hash", &[Upstream], false, Range(1, 2)),
        ("random", &[Upstream], false, Range(0, 2)),
        ("keepalive", &[Upstream], false, Range(1, 1)),
        (
            "keepalive_requests",
            &[Http, Server, Location, Upstream],
            false,
            Range(1, 1),
        ),
        (
            "keepalive_time",
            &[Http, Server, Location, Upstream],
            false,
            Range(1, 1),
        ),
        ("keepalive_timeout", &[Upstream], false, Range(1, 1)),
        ("keepalive_timeout", &[Http, Server, Location], false, Range(1, 2)),
        ("zone", &[Upstream], false, Range(1, 2)),
        (
            "include",
            &[Main, Events, Http, Server, Location, Upstream, Data],
            false,
            Range(1, 1),
        ),
        ("types", &[Http, Server, Location], true, Range(0, 0)),
        ("map", &[Http], true, Range(2, 2)),
        ("geo", &[Http], true, Range(1, 2)),
        ("split_clients", &[Http], true, Range(2, 2)),
        ("charset_map", &[Http], true, Range(2, 2)),
        ("if", &[Server, Location], true, AtLeast(1)),
        ("limit_except", &[Location], true, AtLeast(1)),
        ("log_format", &[Http], false, AtLeast(2)),
        ("return", &[Server, Location], false, Range(1, 2)),
    ]
};

/// Other directives of the modules Debian's nginx 1.22 builds in (http core, proxy,
/// fastcgi, uwsgi, scgi, grpc, gzip, ssl, http2 (1.22 has no `http2` directive), log, rewrite, access, headers, index,
/// limit_conn/_req, realip, ...): allowed as simple directives in `http`, `server` and
/// `location`, their arity not checked (a wrong one is refused by nginx, not by sessim;
/// they do not change which server is chosen).
const OTHERS: &[&str] = &[
    "absolute_redirect",
    "access_log",
    "add_header",
    "add_trailer",
    "aio",
    "aio_write",
    "alias",
    "allow",
    "auth_basic",
    "auth_basic_user_file",
    "auth_request",
    "auth_request_set",
    "autoindex",
    "autoindex_exact_size",
    "autoindex_format",
    "autoindex_localtime",
    "break",
    "charset",
    "charset_types",
    "chunked_transfer_encoding",
    "client_body_buffer_size",
    "client_body_in_file_only",
    "client_body_in_single_buffer",
    "client_body_temp_path",
    "client_body_timeout",
    "client_header_buffer_size",
    "client_header_timeout",
    "client_max_body_size",
    "connection_pool_size",
    "default_type",
    "deny",
    "directio",
    "directio_alignment",
    "disable_symlinks",
    "error_page",
    "etag",
    "expires",
    "fastcgi_buffering",
    "fastcgi_buffers",
    "fastcgi_buffer_size",
    "fastcgi_cache",
    "fastcgi_cache_key",
    "fastcgi_cache_path",
    "fastcgi_cache_valid",
    "fastcgi_connect_timeout",
    "fastcgi_hide_header",
    "fastcgi_index",
    "fastcgi_intercept_errors",
    "fastcgi_keep_conn",
    "fastcgi_next_upstream",
    "fastcgi_param",
    "fastcgi_pass",
    "fastcgi_read_timeout",
    "fastcgi_send_timeout",
    "fastcgi_split_path_info",
    "fastcgi_temp_path",
    "grpc_pass",
    "grpc_set_header",
    "grpc_read_timeout",
    "gzip",
    "gzip_buffers",
    "gzip_comp_level",
    "gzip_disable",
    "gzip_http_version",
    "gzip_min_length",
    "gzip_proxied",
    "gzip_types",
    "gzip_vary",
    "gzip_static",
    "http2_max_concurrent_streams",
    "if_modified_since",
    "ignore_invalid_headers",
    "index",
    "internal",
    "keepalive_disable",
    "large_client_header_buffers",
    "limit_conn",
    "limit_conn_log_level",
    "limit_conn_status",
    "limit_conn_zone",
    "limit_rate",
    "limit_rate_after",
    "limit_req",
    "limit_req_log_level",
    "limit_req_status",
    "limit_req_zone",
    "lingering_close",
    "lingering_time",
    "lingering_timeout",
    "log_not_found",
    "log_subrequest",
    "max_ranges",
    "merge_slashes",
    "open_file_cache",
    "open_file_cache_errors",
    "open_file_cache_min_uses",
    "open_file_cache_valid",
    "open_log_file_cache",
    "output_buffers",
    "port_in_redirect",
    "postpone_output",
    "proxy_bind",
    "proxy_buffer_size",
    "proxy_buffering",
    "proxy_buffers",
    "proxy_busy_buffers_size",
    "proxy_cache",
    "proxy_cache_bypass",
    "proxy_cache_key",
    "proxy_cache_lock",
    "proxy_cache_methods",
    "proxy_cache_path",
    "proxy_cache_use_stale",
    "proxy_cache_valid",
    "proxy_connect_timeout",
    "proxy_cookie_domain",
    "proxy_cookie_path",
    "proxy_hide_header",
    "proxy_http_version",
    "proxy_ignore_client_abort",
    "proxy_ignore_headers",
    "proxy_intercept_errors",
    "proxy_max_temp_file_size",
    "proxy_no_cache",
    "proxy_pass_header",
    "proxy_pass_request_body",
    "proxy_pass_request_headers",
    "proxy_read_timeout",
    "proxy_redirect",
    "proxy_request_buffering",
    "proxy_send_timeout",
    "proxy_set_body",
    "proxy_set_header",
    "proxy_socket_keepalive",
    "proxy_ssl_server_name",
    "proxy_ssl_verify",
    "proxy_temp_file_write_size",
    "proxy_temp_path",
    "read_ahead",
    "real_ip_header",
    "real_ip_recursive",
    "recursive_error_pages",
    "request_pool_size",
    "reset_timedout_connection",
    "resolver",
    "resolver_timeout",
    "rewrite",
    "rewrite_log",
    "root",
    "satisfy",
    "scgi_pass",
    "scgi_param",
    "scgi_temp_path",
    "send_lowat",
    "send_timeout",
    "sendfile",
    "sendfile_max_chunk",
    "server_name_in_redirect",
    "server_names_hash_bucket_size",
    "server_names_hash_max_size",
    "server_tokens",
    "set",
    "set_real_ip_from",
    "ssi",
    "ssl_certificate",
    "ssl_certificate_key",
    "ssl_ciphers",
    "ssl_prefer_server_ciphers",
    "ssl_protocols",
    "ssl_session_cache",
    "ssl_session_tickets",
    "ssl_session_timeout",
    "ssl_stapling",
    "ssl_dhparam",
    "stub_status",
    "sub_filter",
    "tcp_nodelay",
    "tcp_nopush",
    "try_files",
    "types_hash_bucket_size",
    "types_hash_max_size",
    "underscores_in_headers",
    "uninitialized_variable_warn",
    "uwsgi_pass",
    "uwsgi_param",
    "uwsgi_temp_path",
    "variables_hash_bucket_size",
    "variables_hash_max_size",
    "valid_referers",
    "mirror",
];

fn ctx_name(c: Ctx) -> &'static str {
    match c {
        Ctx::Main => "the main context",
        Ctx::Events => "events",
        Ctx::Http => "http",
        Ctx::Server => "server",
        Ctx::Location => "location",
        Ctx::Upstream => "upstream",
        Ctx::Data => "a data block",
    }
}

/// Check every directive's name, place, shape and arity as `ngx_conf_handler` does.
/// `lone`: the file is a lone block (an `upstream`, a `server`...) meant to be included
/// in `http`, so its top level is read as `http`.
pub(crate) fn check(tree: &[Directive], lone: bool) -> Result<(), ConfigError> {
    let top = if lone { Ctx::Http } else { Ctx::Main };
    let mut work: Vec<(&Directive, Ctx)> = tree.iter().rev().map(|d| (d, top)).collect();
    while let Some((d, ctx)) = work.pop() {
        if ctx == Ctx::Data {
            continue;
        }
        let name = d.name();
        let known: Vec<_> = SPECS.iter().filter(|s| s.0 == name).collect();
        let spec = known.iter().find(|s| s.1.contains(&ctx));
        let Some(&&(_, _, block, arity)) = spec else {
            let generic = OTHERS.contains(&name) && matches!(ctx, Ctx::Http | Ctx::Server | Ctx::Location);
            if generic {
                if d.block.is_some() {
                    return Err(ConfigError::new(
                        d.line,
                        format!("directive \"{name}\" is not terminated by \";\" (it takes no {{}} block)"),
                    ));
                }
                continue;
            }
            // NGINX Plus's upstream directives: open-source nginx refuses them as unknown.
            if ctx == Ctx::Upstream && matches!(name, "sticky" | "least_time" | "queue" | "ntlm" | "state") {
                return Err(ConfigError::new(
                    d.line,
                    format!(
                        "`{name}` (NGINX Plus) changes balancing and is not modelled; remove it or use ip_hash/hash"
                    ),
                ));
            }
            if known.is_empty() && !OTHERS.contains(&name) {
                return Err(ConfigError::new(
                    d.line,
                    format!(
                        "unknown directive \"{name}\" (nginx refuses directives it does not know: check the spelling; \
                         a directive of a module sessim's reader does not list is not modelled: remove it from the file sessim reads)"
                    ),
                ));
            }
            return Err(ConfigError::new(
                d.line,
                format!(
                    "\"{name}\" directive is not allowed here (in {}): move it to its block",
                    ctx_name(ctx)
                ),
            ));
        };
        match (&d.block, block) {
            (Some(_), false) => {
                return Err(ConfigError::new(
                    d.line,
                    format!("directive \"{name}\" is not terminated by \";\""),
                ));
            }
            (None, true) => {
                return Err(ConfigError::new(
                    d.line,
                    format!("directive \"{name}\" has no opening \"{{\""),
                ));
            }
            _ => {}
        }
        let n = d.args.len() - 1;
        let ok = match arity {
            Arity::Range(lo, hi) => (lo..=hi).contains(&n),
            Arity::AtLeast(lo) => n >= lo,
        };
        if !ok {
            let hint = if d.start != d.line {
                format!(
                    " (it runs from line {} to line {}: is a \";\" missing at the end of line {}?)",
                    shown(d.start),
                    shown(d.line),
                    shown(d.start)
                )
            } else {
                String::new()
            };
            return Err(ConfigError::new(
                d.line,
                format!("invalid number of arguments in \"{name}\" directive{hint}"),
            ));
        }
        if let Some(b) = &d.block {
            let inner = match name {
                "events" => Ctx::Events,
                "http" => Ctx::Http,
                "server" => Ctx::Server,
                "location" | "if" | "limit_except" => Ctx::Location,
                "upstream" => Ctx::Upstream,
                _ => Ctx::Data,
            };
            work.extend(b.iter().rev().map(|x| (x, inner)));
        }
    }
    Ok(())
}
