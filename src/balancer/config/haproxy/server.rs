//! HAProxy `server` and `default-server` lines: their parameters, read in order onto one
//! server being built.

use super::{num, time};
use crate::balancer::config::{ConfigError, Note};
use crate::balancer::{CheckConf, ServerConf, SimTime};

/// A server line being built: check parameters are kept even before `check` appears
/// (`default-server inter 1s` then `server ... check`).
pub(super) struct SrvBuild {
    srv: ServerConf,
    check: bool,
    cc: CheckConf,
    fastinter: Option<SimTime>,
    downinter: Option<SimTime>,
}

impl SrvBuild {
    pub(super) fn new(name: &str, addr: &str) -> Self {
        SrvBuild {
            srv: ServerConf::new(name, addr),
            check: false,
            cc: CheckConf::default(),
            fastinter: None,
            downinter: None,
        }
    }

    /// `fastinter`/`downinter` default to `inter` (`srv_getinter`).
    pub(super) fn finish(mut self) -> ServerConf {
        if self.check {
            self.cc.fastinter = self.fastinter.unwrap_or(self.cc.inter);
            self.cc.downinter = self.downinter.unwrap_or(self.cc.inter);
            self.srv.check = Some(self.cc);
        }
        self.srv
    }
}

/// Apply server keywords (from `default-server` or `server`).
pub(super) fn server_params(
    b: &mut SrvBuild,
    words: &[String],
    line: usize,
    notes: &mut Vec<Note>,
) -> Result<(), ConfigError> {
    let mut i = 0;
    while i < words.len() {
        let k = words[i].as_str();
        let srv = &mut b.srv;
        match k {
            "weight" => {
                // HAProxy 2.6 reads the value with atol() (srv_parse_weight, src/server.c):
                // leading digits, anything else is 0; `haproxy -c` accepts `weight x`.
                let raw = words.get(i + 1).map_or("", String::as_str);
                let digits = raw.bytes().take_while(u8::is_ascii_digit).count();
                let v: u32 = if digits == 0 {
                    0
                } else {
                    raw[..digits].parse().unwrap_or(u32::MAX)
                };
                if digits != raw.len() {
                    notes.push(Note {
                        file: None,
                        line,
                        message: format!("weight \"{raw}\" is read as {v} (HAProxy reads leading digits, atol)"),
                    });
                }
                if v > 256 {
                    return Err(ConfigError::new(
                        line,
                        format!("weight of server is not within 0 and 256 ({v}): use a weight from 0 to 256"),
                    ));
                }
                srv.weight = v;
                i += 1;
            }
            "check" => b.check = true,
            "no-check" => b.check = false,
            "inter" => {
                b.cc.inter = time(words, i + 1, line, "inter")?;
                i += 1;
            }
            "fastinter" => {
                b.fastinter = Some(time(words, i + 1, line, "fastinter")?);
                i += 1;
            }
            "downinter" => {
                b.downinter = Some(time(words, i + 1, line, "downinter")?);
                i += 1;
            }
            "fall" => {
                b.cc.fall = num(words, i + 1, line, "fall")?.max(1);
                i += 1;
            }
            "rise" => {
                b.cc.rise = num(words, i + 1, line, "rise")?.max(1);
                i += 1;
            }
            "backup" => srv.backup = true,
            "disabled" => srv.down = true,
            "enabled" => srv.down = false,
            "cookie" => {
                srv.cookie = words.get(i + 1).cloned();
                if srv.cookie.is_none() {
                    return Err(ConfigError::new(line, "'cookie' expects a value"));
                }
                i += 1;
            }
            "maxconn" => {
                // atol() like `weight` (srv_parse_maxconn, src/server.c): `haproxy -c`
                // accepts a missing or non-numeric value as 0 (no limit).
                let raw = words.get(i + 1).map_or("", String::as_str);
                let digits = raw.bytes().take_while(u8::is_ascii_digit).count();
                srv.max_conns = if digits == 0 {
                    0
                } else {
                    raw[..digits].parse().unwrap_or(u32::MAX)
                };
                if digits == 0 || digits != raw.len() {
                    notes.push(Note {
                        file: None,
                        line,
                        message: format!(
                            "maxconn \"{raw}\" is read as {} (HAProxy reads leading digits, atol)",
                            srv.max_conns
                        ),
                    });
                }
                i += 1;
            }
            "port" | "addr" | "maxqueue" | "minconn" | "resolvers" | "init-addr" | "ssl" | "verify" | "sni"
            | "alpn" | "check-ssl" | "send-proxy" | "send-proxy-v2" | "proto" | "resolve-prefer" | "pool-max-conn"
            | "check-send-proxy" | "ca-file" | "crt" | "error-limit" | "id" => {
                let takes_arg = !matches!(
                    k,
                    "ssl" | "send-proxy" | "send-proxy-v2" | "check-ssl" | "check-send-proxy"
                );
                notes.push(Note {
                    file: None,
                    line,
                    message: format!("server keyword `{k}` does not change which server is chosen; ignored"),
                });
                if takes_arg {
                    i += 1;
                }
            }
            "slowstart" | "track" | "agent-check" | "observe" | "on-error" | "on-marked-down" | "on-marked-up"
            | "redir" | "hash-key" => {
                return Err(ConfigError::new(
                    line,
                    format!("server keyword `{k}` changes selection or health and is not modelled"),
                ));
            }
            other => {
                return Err(ConfigError::new(line, format!("unknown server keyword \"{other}\"")));
            }
        }
        i += 1;
    }
    Ok(())
}
