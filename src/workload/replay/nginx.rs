//! nginx access logs in any `log_format`: the format string is compiled into literals and
//! variables, and a line is split at each literal in turn (nginx escapes `"` and control bytes
//! in variable values as `\xHH`, so a quoted value never contains its closing quote).
//!
//! Built in: `combined` (nginx's predefined format, `ngx_http_log_module.c`) and `main` (the
//! format that Debian's and nginx's sample `nginx.conf` define: combined plus
//! `"$http_x_forwarded_for"`). Variables read: `$remote_addr`, `$time_local`, `$time_iso8601`,
//! `$msec`, `$request`, `$request_uri`, `$uri`, `$body_bytes_sent`, `$bytes_sent`,
//! `$http_user_agent`, `$request_time`, `$upstream_response_time`, `$upstream_addr`,
//! `$cookie_NAME` (the client id when NAME is the configured session cookie); others are
//! matched and ignored.

use super::{LineFormat, LogRecord, parse_addr, parse_clf_time, path_of_request};

/// nginx's predefined `combined` log format.
pub const COMBINED: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;
/// The `main` format of the `log_format` example in nginx's own default `nginx.conf`:
/// `combined` plus `$http_x_forwarded_for`.
pub const MAIN: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for""#;

#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Lit(String),
    Var(String),
}

/// A compiled nginx `log_format`.
#[derive(Clone, Debug)]
pub struct NginxFormat {
    pieces: Vec<Piece>,
    /// The cookie whose value identifies a client (`$cookie_<name>`), e.g. PHPSESSID.
    id_cookie: Option<String>,
}

impl NginxFormat {
    /// Compiles a format string: `combined`, `main`, or an nginx `log_format` body.
    pub fn new(format: &str, id_cookie: Option<&str>) -> Result<Self, String> {
        let spec = match format {
            "combined" => COMBINED,
            "main" => MAIN,
            other => other,
        };
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut chars = spec.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '$' {
                lit.push(c);
                continue;
            }
            let braced = chars.peek() == Some(&'{');
            if braced {
                chars.next();
            }
            let mut name = String::new();
            while let Some(&n) = chars.peek() {
                if n.is_ascii_alphanumeric() || n == '_' {
                    name.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
            if braced && chars.next() != Some('}') {
                return Err(format!("log format: `${{{name}` is not closed with `}}`"));
            }
            if name.is_empty() {
                return Err("log format: a `$` is not followed by a variable name".into());
            }
            if lit.is_empty() && matches!(pieces.last(), Some(Piece::Var(_))) {
                return Err(format!(
                    "log format: two variables with nothing between them (before `${name}`) cannot be told apart"
                ));
            }
            if !lit.is_empty() {
                pieces.push(Piece::Lit(std::mem::take(&mut lit)));
            }
            pieces.push(Piece::Var(name));
        }
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        let has = |v: &str| pieces.iter().any(|p| matches!(p, Piece::Var(n) if n == v));
        if !has("remote_addr") {
            return Err("log format: needs `$remote_addr` (the client address)".into());
        }
        if !(has("time_local") || has("time_iso8601") || has("msec")) {
            return Err("log format: needs a time: `$time_local`, `$time_iso8601` or `$msec`".into());
        }
        Ok(NginxFormat {
            pieces,
            id_cookie: id_cookie.map(str::to_string),
        })
    }

    /// Splits a line into (variable, value) pairs in format order.
    fn split<'a>(&'a self, line: &'a str) -> Result<Vec<(&'a str, &'a str)>, String> {
        let mut out = Vec::with_capacity(self.pieces.len());
        let mut pos = 0;
        let mut i = 0;
        while i < self.pieces.len() {
            match &self.pieces[i] {
                Piece::Lit(l) => {
                    if !line[pos..].starts_with(l.as_str()) {
                        return Err(format!("expected `{l}` at column {}", pos + 1));
                    }
                    pos += l.len();
                }
                Piece::Var(name) => {
                    let value = match self.pieces.get(i + 1) {
                        Some(Piece::Lit(l)) => {
                            let end = line[pos..]
                                .find(l.as_str())
                                .ok_or_else(|| format!("`${name}` is not followed by `{l}` (column {})", pos + 1))?;
                            &line[pos..pos + end]
                        }
                        _ => &line[pos..],
                    };
                    pos += value.len();
                    out.push((name.as_str(), value));
                }
            }
            i += 1;
        }
        if pos != line.len() {
            return Err(format!(
                "unexpected text after column {}: `{}`",
                pos,
                truncate(&line[pos..])
            ));
        }
        Ok(out)
    }
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn dash(v: &str) -> Option<&str> {
    if v.is_empty() || v == "-" { None } else { Some(v) }
}

/// The last of a list of attempts: after retries `$upstream_addr` lists every server tried,
/// separated by `, `, and groups after an internal redirect by ` : ` (nginx documentation of
/// `$upstream_addr`); the last one answered.
fn last_attempt(v: &str) -> &str {
    let tail = v.rsplit(", ").next().unwrap_or(v);
    tail.rsplit(" : ").next().unwrap_or(tail).trim()
}

impl LineFormat for NginxFormat {
    fn parse(&self, line: &str, number: u64) -> Result<Option<LogRecord>, String> {
        let fields = self.split(line)?;
        let mut rec = LogRecord {
            line: number,
            time_ns: 0,
            subsecond: false,
            client_ip: std::net::IpAddr::from([0, 0, 0, 0]),
            client_id: None,
            user_agent: None,
            path: None,
            bytes: None,
            service_time: None,
            upstream: None,
        };
        let mut have_time = false;
        let mut have_addr = false;
        for (name, v) in fields {
            match name {
                "remote_addr" => {
                    rec.client_ip = parse_addr(v)?;
                    have_addr = true;
                }
                "time_local" => {
                    (rec.time_ns, rec.subsecond) = parse_clf_time(v)?;
                    have_time = true;
                }
                "time_iso8601" => {
                    let t = time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                        .map_err(|e| format!("`{v}` is not an ISO 8601 time ({e})"))?;
                    rec.time_ns = (t.unix_timestamp_nanos()) as i64;
                    rec.subsecond = false;
                    have_time = true;
                }
                "msec" => {
                    let s: f64 = v.parse().map_err(|_| format!("`{v}` is not a $msec time"))?;
                    rec.time_ns = (s * 1e9).round() as i64;
                    rec.subsecond = true;
                    have_time = true;
                }
                "request" => rec.path = path_of_request(v),
                "request_uri" | "uri" => rec.path = dash(v).map(str::to_string),
                "body_bytes_sent" | "bytes_sent" => rec.bytes = v.parse().ok(),
                "http_user_agent" => rec.user_agent = dash(v).map(str::to_string),
                "request_time" => {
                    rec.service_time = Some(v.parse().map_err(|_| format!("`{v}` is not a $request_time"))?)
                }
                "upstream_response_time" if rec.service_time.is_none() => {
                    rec.service_time = dash(v).and_then(|x| last_attempt(x).parse().ok())
                }
                "upstream_addr" => rec.upstream = dash(v).map(|x| last_attempt(x).to_string()),
                n => {
                    if let (Some(c), Some(cookie)) = (n.strip_prefix("cookie_"), self.id_cookie.as_deref())
                        && c == cookie
                    {
                        rec.client_id = dash(v).map(str::to_string);
                    }
                }
            }
        }
        if !(have_time && have_addr) {
            return Err("no time or no address on the line".into());
        }
        Ok(Some(rec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str =
        r#"127.0.3.7 - - [22/Nov/2026:03:08:40 +0000] "GET /page/12?x=1 HTTP/1.1" 200 612 "-" "curl/8.5.0""#;

    #[test]
    fn combined_lines_parse() {
        let f = NginxFormat::new("combined", None).unwrap();
        let r = f.parse(LINE, 3).unwrap().unwrap();
        assert_eq!(r.client_ip, "127.0.3.7".parse::<std::net::IpAddr>().unwrap());
        assert_eq!(r.time_ns, 1_795_316_920_000_000_000);
        assert!(!r.subsecond);
        assert_eq!(r.path.as_deref(), Some("/page/12?x=1"));
        assert_eq!(r.bytes, Some(612));
        assert_eq!(r.user_agent.as_deref(), Some("curl/8.5.0"));
        assert_eq!(r.line, 3);
    }

    #[test]
    fn custom_format_with_upstream_and_timing() {
        let f = NginxFormat::new(
            r#"$remote_addr [$time_local] "$request" $status rt=$request_time ua="$upstream_addr" sid=$cookie_PHPSESSID"#,
            Some("PHPSESSID"),
        )
        .unwrap();
        let line = r#"10.1.2.3 [22/Nov/2026:03:08:40 +0000] "POST /login HTTP/1.1" 302 rt=0.052 ua="127.0.0.1:18082, 127.0.0.1:18083" sid=abc123"#;
        let r = f.parse(line, 1).unwrap().unwrap();
        assert_eq!(r.service_time, Some(0.052));
        assert_eq!(
            r.upstream.as_deref(),
            Some("127.0.0.1:18083"),
            "the last attempt answered"
        );
        assert_eq!(r.client_id.as_deref(), Some("abc123"));
    }

    #[test]
    fn malformed_lines_say_where() {
        let f = NginxFormat::new("combined", None).unwrap();
        assert_eq!(
            f.parse("garbage", 1).unwrap_err(),
            "`$remote_addr` is not followed by ` - ` (column 1)"
        );
        let e = f.parse(&LINE.replace("[22/Nov", "22/Nov"), 1).unwrap_err();
        assert_eq!(e, "`$remote_user` is not followed by ` [` (column 13)");
        let e = f.parse(&format!("{LINE} trailing"), 1).unwrap_err();
        assert!(e.contains("unexpected text"), "{e}");
    }

    #[test]
    fn bad_formats_are_rejected() {
        assert!(
            NginxFormat::new("$remote_addr$time_local", None)
                .unwrap_err()
                .contains("nothing between")
        );
        assert!(
            NginxFormat::new("$status $request", None)
                .unwrap_err()
                .contains("$remote_addr")
        );
        assert!(
            NginxFormat::new("$remote_addr $status", None)
                .unwrap_err()
                .contains("needs a time")
        );
    }
}
