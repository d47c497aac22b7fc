//! HAProxy's HTTP log format (`option httplog`), as documented in HAProxy's configuration
//! manual, section 8.2.3:
//!
//! ```text
//! haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109
//!   200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1"
//! ```
//!
//! Fields: client ip:port, accept date (milliseconds), frontend, backend/server,
//! TR/Tw/Tc/Tr/Ta timers \[ms\], status, bytes, captured request and response cookies,
//! termination state, connection counts, queues, optional captured headers in braces, and the
//! quoted request. Anything before the client address (a syslog header, `haproxy[pid]:`) is
//! skipped. The service time is Tr (the server's response time); -1 means it did not answer.

use super::{LineFormat, LogRecord, parse_addr, parse_clf_time, path_of_request};

/// HAProxy's `option httplog` line.
#[derive(Clone, Debug, Default)]
pub struct HaproxyFormat;

impl LineFormat for HaproxyFormat {
    fn parse(&self, line: &str, number: u64) -> Result<Option<LogRecord>, String> {
        // Skip a syslog prefix up to "]: " (the process tag), if there is one.
        let body = match line.find("]: ") {
            Some(i) if line[..i].contains("haproxy[") => &line[i + 3..],
            _ => line,
        };
        let (head, request) = match body.find(" \"") {
            Some(i) => (&body[..i], body[i + 2..].strip_suffix('"')),
            None => return Err("no quoted request at the end of the line".into()),
        };
        let request = request.ok_or("the request is not closed with a quote")?;
        let f: Vec<&str> = head.split_whitespace().collect();
        if f.len() < 11 {
            return Err(format!(
                "expected at least 11 fields before the request, found {}",
                f.len()
            ));
        }
        let client_ip = parse_addr(f[0])?;
        let date = f[1]
            .strip_prefix('[')
            .and_then(|d| d.strip_suffix(']'))
            .ok_or("the accept date is not in [brackets]")?;
        let (time_ns, subsecond) = parse_clf_time(date)?;
        let timers: Vec<&str> = f[4].split('/').collect();
        if timers.len() != 5 {
            return Err(format!("`{}` is not TR/Tw/Tc/Tr/Ta timers", f[4]));
        }
        let tr: i64 = timers[3]
            .parse()
            .map_err(|_| format!("`{}` is not a Tr timer", timers[3]))?;
        let bytes = f[6].trim_start_matches('+').parse().ok();
        let cookie = f[7];
        Ok(Some(LogRecord {
            line: number,
            time_ns,
            subsecond,
            client_ip,
            client_id: if cookie == "-" {
                None
            } else {
                Some(cookie.split_once('=').map_or(cookie, |(_, v)| v).to_string())
            },
            user_agent: None,
            path: path_of_request(request),
            bytes,
            service_time: if tr >= 0 { Some(tr as f64 / 1000.0) } else { None },
            upstream: Some(f[3].to_string()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manual_example_parses() {
        let line = r#"Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1""#;
        let r = HaproxyFormat.parse(line, 9).unwrap().unwrap();
        assert_eq!(r.client_ip, "10.0.1.2".parse::<std::net::IpAddr>().unwrap());
        assert!(r.subsecond);
        // 2009-02-06T12:14:14.655Z = 1233922454.655 s.
        assert_eq!(r.time_ns, 1_233_922_454_655_000_000);
        assert_eq!(r.service_time, Some(0.069));
        assert_eq!(r.upstream.as_deref(), Some("static/srv1"));
        assert_eq!(r.path.as_deref(), Some("/index.html"));
        assert_eq!(r.bytes, Some(2750));
        assert_eq!(r.client_id, None);
    }

    #[test]
    fn captured_cookie_is_the_client_id_and_broken_lines_explain() {
        let line = r#"10.0.0.9:5000 [06/Feb/2009:12:14:14.655] fe be/s2 0/0/1/-1/5 503 212 PHPSESSID=xyz - sC-- 1/1/1/1/3 0/0 "GET / HTTP/1.1""#;
        let r = HaproxyFormat.parse(line, 1).unwrap().unwrap();
        assert_eq!(r.client_id.as_deref(), Some("xyz"));
        assert_eq!(r.service_time, None, "Tr = -1: the server did not answer");
        assert!(
            HaproxyFormat
                .parse("10.0.0.9:5000 [x] fe", 1)
                .unwrap_err()
                .contains("quoted request")
        );
        assert!(
            HaproxyFormat
                .parse(r#"a b c d e f g h i j k "GET / HTTP/1.1""#, 1)
                .unwrap_err()
                .contains("not an IP")
        );
    }
}
