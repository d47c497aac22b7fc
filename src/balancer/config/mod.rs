//! Import of real balancer configs: a whole `nginx.conf` / `haproxy.cfg` as deployed,
//! or a file holding just one `upstream` block / `backend` (or `listen`) section.
//!
//! Owns: tokenising the two config languages, finding the balancer in them, and
//! turning its directives into a [`BalancerConf`]. Directives that change decisions
//! but are not modelled give a [`ConfigError`] naming the line; directives that do not
//! change decisions are collected as [`Note`]s. Nothing here panics on any input.

use super::BalancerConf;
use std::fmt;
use std::path::PathBuf;

pub mod caddy_json;
pub mod caddyfile;
pub mod envoy;
mod envoy_cluster;
pub mod haproxy;
pub mod httpd;
pub mod k8s;
pub mod nginx;
mod nginx_directives;
mod nginx_grammar;
mod nginx_include;
mod yaml;

/// A config that cannot be imported, with the 1-based line it concerns (0 = the file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file it concerns when that is not the file imported (an nginx `include`).
    pub file: Option<PathBuf>,
    /// 1-based line number (0 when the error concerns the whole file).
    pub line: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(line: usize, message: impl Into<String>) -> Self {
        ConfigError {
            file: None,
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(p) => write!(f, "{}:{}: {}", p.display(), self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// A directive that was read but does not change balancing decisions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The file it concerns when that is not the file imported (an nginx `include`).
    pub file: Option<PathBuf>,
    /// 1-based line number.
    pub line: usize,
    /// What was ignored and why.
    pub message: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(p) => write!(f, "{}:{}: {}", p.display(), self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// The result of an import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    /// Name of the upstream / backend that was imported.
    pub name: String,
    /// The balancer.
    pub conf: BalancerConf,
    /// Ignored directives, for `sessim check`.
    pub notes: Vec<Note>,
}

/// Pick one block among several by `wanted` name; the error lists the choices.
pub(crate) fn choose<'a, T>(
    kind: &str,
    found: &'a [(String, T)],
    wanted: Option<&str>,
) -> Result<&'a (String, T), ConfigError> {
    let names = || found.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ");
    match wanted {
        Some(w) => found.iter().find(|(n, _)| n == w).ok_or_else(|| {
            if found.is_empty() {
                ConfigError::new(0, format!("no {kind} named `{w}`: the file has none"))
            } else {
                ConfigError::new(0, format!("no {kind} named `{w}`; the file has: {}", names()))
            }
        }),
        None => match found {
            [] => Err(ConfigError::new(0, format!("the file has no {kind}"))),
            [one] => Ok(one),
            _ => Err(ConfigError::new(
                0,
                format!(
                    "the file has {} {kind}s ({}); name the one to use",
                    found.len(),
                    names()
                ),
            )),
        },
    }
}

/// Every prefix of `text`, and `text` with each character removed or doubled: the inputs the
/// importers' no-panic tests feed them.
/// `a`, `a and b`, `a, b and c`: the names in a "sessim supports ..." message.
pub(crate) fn and_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
pub(crate) fn mangled(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for i in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
        let (head, tail) = text.split_at(i);
        out.push(head.to_string());
        out.push(format!("{head}{}", tail.chars().skip(1).collect::<String>()));
        out.push(format!(
            "{head}{}",
            tail.chars().take(1).chain(tail.chars()).collect::<String>()
        ));
    }
    out
}
