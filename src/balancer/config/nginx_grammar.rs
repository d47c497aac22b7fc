//! nginx's config grammar, read as nginx 1.22 reads it (checked against the source,
//! src/core/ngx_conf_file.c, and against `nginx -t` by the conformance corpus in
//! tests/data/conformance/).
//!
//! - Tokens (`ngx_conf_read_token`): words end at whitespace, `;` or `{` (a `}` inside a
//!   word is part of it, and so are `#` and quotes); a word that *starts* with `"` or `'`
//!   runs to the matching quote and must be followed by whitespace, `;`, `{` or `)`; a
//!   `\` makes the next character ordinary; `${` inside a word does not open a block; `#` at
//!   the start of a word comments out the rest of the line. When a word is copied, `\"`,
//!   `\'` and `\\` lose their backslash and `\t`, `\r`, `\n` become the control character;
//!   any other `\x` is kept as written.
//! - Nesting (`ngx_conf_parse`): a `}` at top level, or an end of file inside a block or
//!   inside a directive, is an error.
//! - Directives (`ngx_conf_handler`): unknown name -> `unknown directive`; known but in
//!   the wrong block -> `is not allowed here`; a simple directive closed by `{` -> `is
//!   not terminated by ";"`; a block directive closed by `;` -> `has no opening "{"`;
//!   wrong arity -> `invalid number of arguments`.
//!
//! Lines: a directive's `line` is the line of its `;` or `{`, where nginx reports its
//! errors; `start` is the line of its first word.

use super::ConfigError;

/// One directive: its words, its lines, and its block if it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Directive {
    /// Line of the `;` or `{` that ends it (nginx's error line).
    pub line: usize,
    /// Line of its first word.
    pub start: usize,
    /// Line of the `}` that closes its block (= `line` for a simple directive): where
    /// nginx reports what it checks once a block is read ("no servers are inside upstream").
    pub end: usize,
    pub args: Vec<String>,
    pub block: Option<Vec<Directive>>,
}

impl Directive {
    pub fn name(&self) -> &str {
        self.args.first().map_or("", String::as_str)
    }
}

enum Ev {
    Semi,
    Open,
    Close,
    Eof,
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    line: usize,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Copy a word as `ngx_conf_read_token` does.
fn unescape(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' {
            match raw.get(i + 1) {
                Some(b'"' | b'\'' | b'\\') => i += 1,
                Some(b't') => {
                    out.push(b'\t');
                    i += 2;
                    continue;
                }
                Some(b'r') => {
                    out.push(b'\r');
                    i += 2;
                    continue;
                }
                Some(b'n') => {
                    out.push(b'\n');
                    i += 2;
                    continue;
                }
                _ => {}
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn unexpected(line: usize, ch: u8) -> ConfigError {
    ConfigError::new(line, format!("unexpected \"{}\"", char::from(ch)))
}

impl Reader<'_> {
    /// Read one directive's words up to `;`, `{`, `}` or the end of the file.
    fn token(&mut self, args: &mut Vec<String>, start_line: &mut usize) -> Result<Ev, ConfigError> {
        let (mut last_space, mut need_space, mut sharp, mut quoted) = (true, false, false, false);
        let (mut d_quoted, mut s_quoted, mut variable) = (false, false, false);
        let mut start = self.pos;
        loop {
            let Some(&ch) = self.b.get(self.pos) else {
                if !args.is_empty() || !last_space {
                    let what = args.first().map_or(String::new(), |w| {
                        format!(" (directive `{w}` from line {start_line} has no \";\")")
                    });
                    return Err(ConfigError::new(
                        self.line,
                        format!("unexpected end of file, expecting \";\" or \"}}\"{what}"),
                    ));
                }
                return Ok(Ev::Eof);
            };
            self.pos += 1;
            if ch == b'\n' {
                self.line += 1;
                sharp = false;
            }
            if sharp {
                continue;
            }
            if quoted {
                quoted = false;
                continue;
            }
            if need_space {
                if is_space(ch) {
                    last_space = true;
                    need_space = false;
                    continue;
                }
                match ch {
                    b';' => return Ok(Ev::Semi),
                    b'{' => return Ok(Ev::Open),
                    b')' => {
                        last_space = true;
                        need_space = false;
                    }
                    _ => {
                        return Err(ConfigError::new(
                            self.line,
                            format!(
                                "unexpected \"{}\": a quoted word must be followed by a space, \";\" or \"{{\"",
                                char::from(ch)
                            ),
                        ));
                    }
                }
            }
            if last_space {
                start = self.pos - 1;
                if is_space(ch) {
                    continue;
                }
                if args.is_empty() {
                    *start_line = self.line;
                }
                match ch {
                    b';' | b'{' => {
                        if args.is_empty() {
                            return Err(unexpected(self.line, ch));
                        }
                        return Ok(if ch == b'{' { Ev::Open } else { Ev::Semi });
                    }
                    b'}' => {
                        if !args.is_empty() {
                            return Err(ConfigError::new(
                                self.line,
                                format!(
                                    "unexpected \"}}\": directive `{}` (line {start_line}) has no \";\"",
                                    args[0]
                                ),
                            ));
                        }
                        return Ok(Ev::Close);
                    }
                    b'#' => sharp = true,
                    b'\\' => {
                        quoted = true;
                        last_space = false;
                    }
                    b'"' => {
                        start += 1;
                        d_quoted = true;
                        last_space = false;
                    }
                    b'\'' => {
                        start += 1;
                        s_quoted = true;
                        last_space = false;
                    }
                    b'$' => {
                        variable = true;
                        last_space = false;
                    }
                    _ => last_space = false,
                }
                continue;
            }
            if ch == b'{' && variable {
                continue;
            }
            variable = false;
            if ch == b'\\' {
                quoted = true;
                continue;
            }
            if ch == b'$' {
                variable = true;
                continue;
            }
            let found = if d_quoted {
                ch == b'"' && {
                    d_quoted = false;
                    need_space = true;
                    true
                }
            } else if s_quoted {
                ch == b'\'' && {
                    s_quoted = false;
                    need_space = true;
                    true
                }
            } else if is_space(ch) || ch == b';' || ch == b'{' {
                last_space = true;
                true
            } else {
                false
            };
            if found {
                args.push(unescape(&self.b[start..self.pos - 1]));
                match ch {
                    b';' => return Ok(Ev::Semi),
                    b'{' => return Ok(Ev::Open),
                    _ => {}
                }
            }
        }
    }
}

/// Tokenise and nest one file. Nesting uses an explicit stack (no recursion on input).
pub(crate) fn parse(text: &str) -> Result<Vec<Directive>, ConfigError> {
    parse_partial(text).map_err(|(e, _)| e)
}

/// [`parse`] for a main file: nginx checks each directive as soon as it has read it
/// (`ngx_conf_handler` is called from inside `ngx_conf_parse`), so when the file has a
/// syntax error, an error of a directive read before it is the one nginx reports.
pub(crate) fn parse_main(text: &str) -> Result<Vec<Directive>, ConfigError> {
    parse_partial(text).map_err(|(e, read)| {
        let lone = !read.iter().any(|d| matches!(d.name(), "http" | "events"));
        match check(&read, lone) {
            Err(earlier) if earlier.line <= e.line => earlier,
            _ => e,
        }
    })
}

/// On error, also the directives read before it (open blocks closed where they stop).
fn parse_partial(text: &str) -> Result<Vec<Directive>, (ConfigError, Vec<Directive>)> {
    let mut r = Reader {
        b: text.as_bytes(),
        pos: 0,
        line: 1,
    };
    type Open = (Vec<Directive>, Option<(usize, usize, Vec<String>)>);
    let mut stack: Vec<Open> = vec![(Vec::new(), None)];
    let fail = |e: ConfigError, mut stack: Vec<Open>| {
        while let Some((body, head)) = stack.pop() {
            match (head, stack.last_mut()) {
                (Some((line, start, args)), Some(top)) => top.0.push(Directive {
                    line,
                    start,
                    end: line,
                    args,
                    block: Some(body),
                }),
                _ => return (e, body),
            }
        }
        (e, Vec::new())
    };
    loop {
        let mut args = Vec::new();
        let mut start = r.line;
        let ev = match r.token(&mut args, &mut start) {
            Ok(ev) => ev,
            Err(e) => return Err(fail(e, stack)),
        };
        match ev {
            Ev::Semi => {
                if let Some(top) = stack.last_mut() {
                    top.0.push(Directive {
                        line: r.line,
                        start,
                        end: r.line,
                        args,
                        block: None,
                    });
                }
            }
            Ev::Open => stack.push((Vec::new(), Some((r.line, start, args)))),
            Ev::Close => {
                if stack.len() < 2 {
                    let e = ConfigError::new(
                        r.line,
                        "unexpected \"}\": no block is open here (remove it, or the block's \"{\" is missing)",
                    );
                    return Err(fail(e, stack));
                }
                if let Some((body, Some((line, start, args)))) = stack.pop()
                    && let Some(top) = stack.last_mut()
                {
                    top.0.push(Directive {
                        line,
                        start,
                        end: r.line,
                        args,
                        block: Some(body),
                    });
                }
            }
            Ev::Eof => {
                if stack.len() == 1 {
                    return Ok(stack.pop().map(|(top, _)| top).unwrap_or_default());
                }
                let what = stack
                    .last()
                    .and_then(|(_, h)| h.as_ref())
                    .map(|(l, _, args)| format!(" (block `{}` opened on line {l} is not closed)", args.join(" ")))
                    .unwrap_or_default();
                let e = ConfigError::new(r.line, format!("unexpected end of file, expecting \"}}\"{what}"));
                return Err(fail(e, stack));
            }
        }
    }
}

/// Lines of an included file are stored as `file_index * LINE_STRIDE + line`, so that
/// every error and note keeps its file; [`shown`] gives the line within its file.
pub(crate) const LINE_STRIDE: usize = 1 << 32;

/// The line within its own file of an encoded line.
pub(crate) fn shown(line: usize) -> usize {
    line % LINE_STRIDE
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Vec<String>> {
        parse(text)
            .map(|t| t.into_iter().map(|d| d.args).collect())
            .unwrap_or_default()
    }

    #[test]
    fn tokens_as_nginx_reads_them() {
        // `#` and `}` inside a word are ordinary; quotes only open at a word's start.
        assert_eq!(words("a b#c d}e;"), vec![vec!["a", "b#c", "d}e"]]);
        assert_eq!(words("a x\"y;"), vec![vec!["a", "x\"y"]]);
        // Escapes: \" \' \\ lose the backslash, \t becomes a tab, \q is kept.
        assert_eq!(words(r#"a "q\"t\tz\q";"#), vec![vec!["a", "q\"t\tz\\q"]]);
        // `${` in a word is not a block.
        assert_eq!(words("set $a ${b}c;"), vec![vec!["set", "$a", "${b}c"]]);
        // A quoted word followed by a letter is an error.
        assert_eq!(parse("a \"b\"c;").err().map(|e| e.line), Some(1));
        // Missing `;` before `}` / at end of file, stray `}`, unclosed block.
        assert_eq!(parse("u {\n a b\n}").err().map(|e| e.line), Some(3));
        assert_eq!(parse("a b").err().map(|e| e.line), Some(1));
        assert_eq!(parse("a;\n}").err().map(|e| e.line), Some(2));
        assert_eq!(parse("u {\n a;\n").err().map(|e| e.line), Some(3));
        assert!(parse("# only a comment\n").is_ok_and(|t| t.is_empty()));
    }

    #[test]
    fn missing_semicolon_after_ip_hash_is_an_arity_error() {
        // nginx: `invalid number of arguments in "ip_hash" directive` at the line of the `;`.
        let t = parse("upstream u {\n ip_hash\n server 127.0.0.1:1;\n}\n").expect("tokens");
        let e = check(&t, true).err();
        assert_eq!(e.as_ref().map(|e| e.line), Some(3));
        assert!(e.is_some_and(|e| e.message.contains("invalid number of arguments in \"ip_hash\"")));
    }

    #[test]
    fn an_earlier_directive_error_comes_before_a_later_syntax_error() {
        // The upstream's `}` is missing, so the `server {` block lands in it: nginx checks
        // that directive when it reads its `{` (line 5) before reaching the end of the file.
        let text = "events {}\nhttp {\n upstream u {\n server 127.0.0.1:1;\n server {\n listen 1;\n }\n}\n";
        let e = parse_main(text).err();
        assert!(e.is_some_and(|e| e.line == 5 && e.message.contains("not terminated")));
        // Without an earlier error, the syntax error itself (the end of the file, line 5).
        assert_eq!(
            parse_main("events {}\nhttp {\n upstream u {\n server 127.0.0.1:1;\n")
                .err()
                .map(|e| e.line),
            Some(5)
        );
    }

    #[test]
    fn places_and_shapes() {
        let err = |s: &str| parse(s).and_then(|t| check(&t, false)).err().map(|e| e.message);
        assert!(err("events {}\nhttp { server 127.0.0.1:1; }").is_some_and(|m| m.contains("no opening")));
        assert!(err("events {}\nhttp { ip_hash; }").is_some_and(|m| m.contains("not allowed here")));
        assert!(err("events {}\nhttp { gzipp on; }").is_some_and(|m| m.contains("unknown directive")));
        assert!(err("events {}\nhttp { upstream u { server a:1; } }").is_none());
        assert!(err("events {}\nhttp { gzip on { } }").is_some_and(|m| m.contains("not terminated")));
    }
}
