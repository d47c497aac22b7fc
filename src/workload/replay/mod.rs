//! Access-log replay: reading real traffic as the workload.
//!
//! A log is read as a stream of [`LogRecord`]s by a [`LogReader`] (one line at a time, bounded
//! line length, bytes not assumed UTF-8), parsed by one of the formats in this folder: nginx
//! (any `log_format`, with `combined` and `main` built in), HAProxy's HTTP log, or a documented
//! CSV. Lines that do not parse are counted and the first few reported with their line numbers;
//! nothing is skipped silently. Timestamps with one-second resolution are spread evenly and
//! deterministically over their second, in log order ([`spread`]).

pub mod csv_log;
pub(crate) mod feed;
pub mod haproxy;
pub mod nginx;
pub mod source;
pub mod spread;
pub mod users;

use std::io::BufRead;
use std::net::IpAddr;

/// One request read from a log.
#[derive(Clone, Debug, PartialEq)]
pub struct LogRecord {
    /// 1-based line number in the log file.
    pub line: u64,
    /// When the request arrived [ns since the Unix epoch, or since the log's own origin for
    /// CSV logs with relative times].
    pub time_ns: i64,
    /// Whether `time_ns` has sub-second resolution; if not, [`spread`] spreads it.
    pub subsecond: bool,
    /// The client address (`$remote_addr`, HAProxy's client ip, a CSV column).
    pub client_ip: IpAddr,
    /// A client identifier (session cookie, client id column) when the log has one.
    pub client_id: Option<String>,
    /// The `User-Agent`, when logged (it tells apart users behind one address).
    pub user_agent: Option<String>,
    /// The request's path and query.
    pub path: Option<String>,
    /// The response's body bytes, when logged.
    pub bytes: Option<u64>,
    /// Time the backend took \[s\] (`$request_time`, HAProxy's Tr timer, a CSV column).
    pub service_time: Option<f64>,
    /// The backend that answered (`$upstream_addr`, HAProxy `backend/server`), if logged.
    pub upstream: Option<String>,
}

/// A line that did not parse, with its 1-based number and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadLine {
    /// The line number (1-based).
    pub line: u64,
    /// Why it did not parse.
    pub reason: String,
}

/// Longest line accepted; a longer one is reported as malformed (and read past in bounded
/// memory) rather than loaded whole.
pub const MAX_LINE: usize = 64 * 1024;

/// How many malformed lines are kept for the report; all are counted.
pub const KEEP_BAD: usize = 10;

/// A log format: turns one line (without its newline) into a record.
pub trait LineFormat {
    /// The record on line `number`, `None` for a line that holds no request (a comment, a
    /// header), or why it does not parse.
    fn parse(&self, line: &str, number: u64) -> Result<Option<LogRecord>, String>;
}

/// Reads a log line by line through a [`LineFormat`], counting and keeping malformed lines.
pub struct LogReader<R: BufRead, F: LineFormat> {
    input: R,
    format: F,
    line: u64,
    buf: Vec<u8>,
    /// Malformed lines seen so far.
    pub bad_count: u64,
    /// The first [`KEEP_BAD`] of them.
    pub bad: Vec<BadLine>,
    /// Lines read so far.
    pub lines_read: u64,
}

impl<R: BufRead, F: LineFormat> LogReader<R, F> {
    /// A reader of `input` in `format`.
    pub fn new(input: R, format: F) -> Self {
        LogReader {
            input,
            format,
            line: 0,
            buf: Vec::with_capacity(1024),
            bad_count: 0,
            bad: Vec::new(),
            lines_read: 0,
        }
    }

    /// The format lines are parsed with.
    pub fn format(&self) -> &F {
        &self.format
    }

    /// Counts the line just read as malformed (also for checks made after parsing).
    pub fn bad_line(&mut self, reason: String) {
        self.bad_count += 1;
        if self.bad.len() < KEEP_BAD {
            self.bad.push(BadLine {
                line: self.line,
                reason,
            });
        }
    }

    /// Reads one line into `buf`, at most `MAX_LINE` bytes; returns (got a line, too long).
    fn read_line(&mut self) -> std::io::Result<(bool, bool)> {
        self.buf.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let chunk = self.input.fill_buf()?;
            if chunk.is_empty() {
                return Ok((any, too_long));
            }
            any = true;
            let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            let room = MAX_LINE.saturating_sub(self.buf.len());
            if take > room {
                too_long = true;
            }
            self.buf.extend_from_slice(&chunk[..take.min(room)]);
            self.input.consume(take);
            if done {
                return Ok((true, too_long));
            }
        }
    }

    /// The next well-formed record; malformed lines are counted and skipped with a record of
    /// why. An I/O error ends the stream with that error.
    pub fn next_record(&mut self) -> std::io::Result<Option<LogRecord>> {
        loop {
            let (got, too_long) = self.read_line()?;
            if !got {
                return Ok(None);
            }
            self.line += 1;
            self.lines_read += 1;
            if too_long {
                self.bad_line(format!("line longer than {MAX_LINE} bytes"));
                continue;
            }
            while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
                self.buf.pop();
            }
            let text = match std::str::from_utf8(&self.buf) {
                Ok(t) => t.to_string(),
                Err(e) => {
                    // Logs escape most bytes, but not all servers do: parse the valid prefix's
                    // fields lossily rather than drop the request, and say so only if that fails.
                    let lossy = String::from_utf8_lossy(&self.buf).into_owned();
                    match self.format.parse(&lossy, self.line) {
                        Ok(Some(r)) => return Ok(Some(r)),
                        Ok(None) => continue,
                        Err(m) => {
                            self.bad_line(format!("not UTF-8 ({e}) and {m}"));
                            continue;
                        }
                    }
                }
            };
            if text.trim().is_empty() {
                continue;
            }
            match self.format.parse(&text, self.line) {
                Ok(Some(r)) => return Ok(Some(r)),
                Ok(None) => continue,
                Err(m) => self.bad_line(m),
            }
        }
    }
}

/// The path of a request line `GET /x?y HTTP/1.1`.
pub fn path_of_request(request: &str) -> Option<String> {
    let mut it = request.split(' ');
    let _method = it.next()?;
    let path = it.next()?;
    if path.is_empty() || path == "-" {
        None
    } else {
        Some(path.to_string())
    }
}

/// Parses an address, accepting `a.b.c.d:port` and `[v6]:port` forms too.
pub fn parse_addr(s: &str) -> Result<IpAddr, String> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(ip);
    }
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return Ok(sa.ip());
    }
    Err(format!("`{s}` is not an IP address"))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Parses `22/Nov/2026:03:08:40 +0000` (nginx `$time_local`, Apache common log) and HAProxy's
/// `06/Feb/2009:12:14:14.655` (local time, no zone: taken as UTC). Returns (ns since the
/// epoch, has sub-second digits).
pub fn parse_clf_time(s: &str) -> Result<(i64, bool), String> {
    let bad = || format!("`{s}` is not a time like 22/Nov/2026:03:08:40 +0000");
    let (dt, zone) = match s.split_once(' ') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let mut parts = dt.splitn(3, '/');
    let day: u8 = parts.next().and_then(|d| d.parse().ok()).ok_or_else(bad)?;
    let mon = parts.next().ok_or_else(bad)?;
    let month = MONTHS.iter().position(|m| *m == mon).ok_or_else(bad)? as u8 + 1;
    let rest = parts.next().ok_or_else(bad)?;
    let mut hms = rest.split(':');
    let year: i32 = hms.next().and_then(|y| y.parse().ok()).ok_or_else(bad)?;
    let hour: u8 = hms.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let minute: u8 = hms.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let sec_s = hms.next().ok_or_else(bad)?;
    let (sec, frac_ns, subsecond) = match sec_s.split_once('.') {
        Some((a, f)) => {
            let digits: String = f.chars().take(9).collect();
            let scale = 10i64.pow(9 - digits.len() as u32);
            (
                a.parse::<u8>().map_err(|_| bad())?,
                digits.parse::<i64>().map_err(|_| bad())? * scale,
                true,
            )
        }
        None => (sec_s.parse::<u8>().map_err(|_| bad())?, 0, false),
    };
    let date = time::Date::from_calendar_date(year, time::Month::try_from(month).map_err(|_| bad())?, day)
        .map_err(|_| bad())?;
    let t = time::Time::from_hms(hour, minute, sec).map_err(|_| bad())?;
    let offset_s: i64 = match zone {
        None => 0,
        Some(z) => {
            let (sign, digits) = match z.as_bytes().first() {
                Some(b'+') => (1, &z[1..]),
                Some(b'-') => (-1, &z[1..]),
                _ => return Err(bad()),
            };
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let h: i64 = digits[..2].parse().map_err(|_| bad())?;
            let m: i64 = digits[2..].parse().map_err(|_| bad())?;
            sign * (h * 3600 + m * 60)
        }
    };
    let unix = time::PrimitiveDateTime::new(date, t).assume_utc().unix_timestamp() - offset_s;
    Ok((unix * 1_000_000_000 + frac_ns, subsecond))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clf_times_parse_with_zones_and_fractions() {
        // 2026-11-22T03:08:40Z = 1795316920 s since the epoch.
        assert_eq!(
            parse_clf_time("22/Nov/2026:03:08:40 +0000"),
            Ok((1_795_316_920_000_000_000, false))
        );
        assert_eq!(
            parse_clf_time("22/Nov/2026:04:08:40 +0100"),
            Ok((1_795_316_920_000_000_000, false))
        );
        assert_eq!(
            parse_clf_time("22/Nov/2026:03:08:40.655"),
            Ok((1_795_316_920_655_000_000, true))
        );
        assert!(parse_clf_time("32/Nov/2026:03:08:40 +0000").is_err());
        assert!(parse_clf_time("22/Nox/2026:03:08:40 +0000").is_err());
        assert!(parse_clf_time("").is_err());
    }

    fn read_all<F: LineFormat>(input: &[u8], f: F) -> (Vec<LogRecord>, LogReader<&[u8], F>) {
        let mut r = LogReader::new(input, f);
        let mut out = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            out.push(rec);
        }
        (out, r)
    }

    const GOOD: &str = r#"10.0.0.1 - - [22/Nov/2026:03:08:40 +0000] "GET / HTTP/1.1" 200 5 "-" "ua""#;

    #[test]
    fn malformed_lines_are_counted_with_their_numbers() {
        let log = format!(
            "{GOOD}\nnot a log line\n\n{GOOD}\n10.0.0.1 - - [bad] \"GET / HTTP/1.1\" 200 5 \"-\" \"ua\"\n{GOOD}"
        );
        let (recs, r) = read_all(log.as_bytes(), nginx::NginxFormat::new("combined", None).unwrap());
        assert_eq!(recs.iter().map(|r| r.line).collect::<Vec<_>>(), vec![1, 4, 6]);
        assert_eq!(r.bad_count, 2);
        assert_eq!(r.bad.iter().map(|b| b.line).collect::<Vec<_>>(), vec![2, 5]);
        assert!(r.bad[1].reason.contains("`bad` is not a time"), "{}", r.bad[1].reason);
        assert_eq!(r.lines_read, 6);
    }

    #[test]
    fn empty_input_gives_no_records() {
        let (recs, r) = read_all(b"", nginx::NginxFormat::new("combined", None).unwrap());
        assert!(recs.is_empty());
        assert_eq!((r.lines_read, r.bad_count), (0, 0));
    }

    #[test]
    fn non_utf8_bytes_do_not_lose_the_request() {
        // A user agent with a raw Latin-1 byte: the request is still read.
        let mut log = GOOD.replace("\"ua\"", "\"caf\u{FFFD}\"").into_bytes();
        let at = log.iter().position(|&b| b == 0xEF).unwrap();
        log.splice(at..at + 3, [0xE9u8]);
        log.extend_from_slice(b"\n\xff\xfe\n");
        let (recs, r) = read_all(&log, nginx::NginxFormat::new("combined", None).unwrap());
        assert_eq!(recs.len(), 1);
        assert_eq!(r.bad_count, 1);
        assert!(r.bad[0].reason.starts_with("not UTF-8"), "{}", r.bad[0].reason);
    }

    #[test]
    fn gigantic_lines_are_reported_not_loaded() {
        let mut log = Vec::new();
        log.extend_from_slice(GOOD.as_bytes());
        log.push(b'\n');
        log.extend(std::iter::repeat_n(b'x', 10 * MAX_LINE));
        log.push(b'\n');
        log.extend_from_slice(GOOD.as_bytes());
        let (recs, r) = read_all(&log, nginx::NginxFormat::new("combined", None).unwrap());
        assert_eq!(recs.iter().map(|r| r.line).collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(
            r.bad,
            vec![BadLine {
                line: 2,
                reason: format!("line longer than {MAX_LINE} bytes")
            }]
        );
    }

    #[test]
    fn addresses_with_ports() {
        assert_eq!(parse_addr("10.0.0.1:443"), Ok("10.0.0.1".parse().unwrap()));
        assert_eq!(parse_addr("[::1]:80"), Ok("::1".parse().unwrap()));
        assert!(parse_addr("example.com").is_err());
    }
}
