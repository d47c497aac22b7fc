//! The CSV log: the simplest way to bring traffic from anywhere. A header row names the
//! columns; order is free.
//!
//! | column | required | meaning |
//! | --- | --- | --- |
//! | `time` | yes | seconds (decimals allowed; epoch or relative) or an RFC 3339 time |
//! | `client_ip` | yes | IPv4 or IPv6 address |
//! | `client_id` | no | identifies a client across addresses (a session cookie, an account) |
//! | `path` | no | the request path |
//! | `bytes` | no | response size |
//! | `service_time` | no | backend time \[s\] |
//! | `user_agent` | no | the client's User-Agent |

use super::{LineFormat, LogRecord, parse_addr};

/// Column positions, from the header.
#[derive(Clone, Debug)]
pub struct CsvFormat {
    time: usize,
    client_ip: usize,
    client_id: Option<usize>,
    path: Option<usize>,
    bytes: Option<usize>,
    service_time: Option<usize>,
    user_agent: Option<usize>,
}

const COLUMNS: &[&str] = &[
    "time",
    "client_ip",
    "client_id",
    "path",
    "bytes",
    "service_time",
    "user_agent",
];

fn split(line: &str) -> Result<Vec<String>, String> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(line.as_bytes());
    let mut rec = csv::StringRecord::new();
    match r.read_record(&mut rec) {
        Ok(true) => Ok(rec.iter().map(|s| s.trim().to_string()).collect()),
        Ok(false) => Ok(Vec::new()),
        Err(e) => Err(format!("not a CSV row: {e}")),
    }
}

impl CsvFormat {
    /// Reads the header row.
    pub fn from_header(header: &str) -> Result<Self, String> {
        let cols = split(header)?;
        let find = |n: &str| cols.iter().position(|c| c == n);
        for c in &cols {
            if !COLUMNS.contains(&c.as_str()) {
                return Err(format!(
                    "unknown CSV column `{c}`{}; columns: {}",
                    crate::dist::suggest(c, COLUMNS),
                    COLUMNS.join(", ")
                ));
            }
        }
        Ok(CsvFormat {
            time: find("time").ok_or("the CSV header needs a `time` column")?,
            client_ip: find("client_ip").ok_or("the CSV header needs a `client_ip` column")?,
            client_id: find("client_id"),
            path: find("path"),
            bytes: find("bytes"),
            service_time: find("service_time"),
            user_agent: find("user_agent"),
        })
    }
}

fn opt(cols: &[String], i: Option<usize>) -> Option<&str> {
    i.and_then(|i| cols.get(i))
        .map(String::as_str)
        .filter(|s| !s.is_empty() && *s != "-")
}

impl LineFormat for CsvFormat {
    fn parse(&self, line: &str, number: u64) -> Result<Option<LogRecord>, String> {
        let cols = split(line)?;
        let need = self.time.max(self.client_ip) + 1;
        if cols.len() < need {
            return Err(format!("{} columns, the header needs at least {need}", cols.len()));
        }
        let t = &cols[self.time];
        let (time_ns, subsecond) = match t.parse::<f64>() {
            Ok(s) if s.is_finite() => ((s * 1e9).round() as i64, true),
            _ => {
                let dt = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| format!("time `{t}` is neither seconds nor an RFC 3339 time"))?;
                (dt.unix_timestamp_nanos() as i64, dt.nanosecond() != 0)
            }
        };
        let number_col = |name: &str, i: Option<usize>| -> Result<Option<f64>, String> {
            match opt(&cols, i) {
                None => Ok(None),
                Some(v) => match v.parse::<f64>() {
                    Ok(x) if x >= 0.0 && x.is_finite() => Ok(Some(x)),
                    _ => Err(format!("{name} `{v}` is not a non-negative number")),
                },
            }
        };
        Ok(Some(LogRecord {
            line: number,
            time_ns,
            subsecond,
            client_ip: parse_addr(&cols[self.client_ip])?,
            client_id: opt(&cols, self.client_id).map(str::to_string),
            user_agent: opt(&cols, self.user_agent).map(str::to_string),
            path: opt(&cols, self.path).map(str::to_string),
            bytes: number_col("bytes", self.bytes)?.map(|b| b as u64),
            service_time: number_col("service_time", self.service_time)?,
            upstream: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_in_any_order() {
        let f = CsvFormat::from_header("client_ip,time,service_time,client_id").unwrap();
        let r = f.parse("10.0.0.1,12.5,0.040,u17", 2).unwrap().unwrap();
        assert_eq!(r.time_ns, 12_500_000_000);
        assert_eq!(r.service_time, Some(0.04));
        assert_eq!(r.client_id.as_deref(), Some("u17"));
        let r = f.parse("10.0.0.1,2026-11-22T03:08:40Z,,", 3).unwrap().unwrap();
        assert_eq!(r.time_ns, 1_795_316_920_000_000_000);
        assert_eq!(r.service_time, None);
    }

    #[test]
    fn bad_headers_and_rows_explain() {
        assert!(
            CsvFormat::from_header("time,clientip")
                .unwrap_err()
                .contains("did you mean `client_ip`")
        );
        assert!(CsvFormat::from_header("client_ip").unwrap_err().contains("`time`"));
        let f = CsvFormat::from_header("time,client_ip,bytes").unwrap();
        assert!(f.parse("1", 2).unwrap_err().contains("columns"));
        assert!(f.parse("x,10.0.0.1", 2).unwrap_err().contains("neither seconds"));
        assert!(f.parse("1,10.0.0.1,-5", 2).unwrap_err().contains("not a non-negative"));
    }
}
