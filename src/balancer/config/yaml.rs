//! A YAML document as the Kubernetes and Envoy importers read it: every node with its 1-based
//! line, mappings in file order with string keys, scalars as text.
//!
//! Parsing is saphyr's (YAML 1.2 core schema, multi-document streams, duplicate keys refused);
//! this file only turns its marked tree into something the importers can walk and report
//! `line N:` errors from. saphyr resolves aliases to copies of their anchors' nodes; non-scalar
//! keys are refused (no Kubernetes manifest or Envoy bootstrap has them).

use super::ConfigError;
use saphyr::{LoadableYamlNode, MarkedYamlOwned, ScalarOwned, YamlDataOwned};

/// One YAML node and the line it starts on.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    /// 1-based line of the node's first character.
    pub line: usize,
    /// The node's value.
    pub v: Value,
}

/// The value of a [`Node`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    /// `~`, `null` or nothing.
    Null,
    /// Any scalar, as text (`80`, `true`, `ClientIP`); `quoted` when it was a YAML string
    /// rather than a number or a boolean.
    Scalar { text: String, string: bool },
    /// A block or flow sequence.
    Seq(Vec<Node>),
    /// A mapping: (key, line of the key, value), in file order.
    Map(Vec<(String, usize, Node)>),
}

/// Nesting deeper than this is refused (no manifest comes near it).
const MAX_DEPTH: usize = 64;

/// Every document of `text`, in order. Empty documents are skipped.
pub(crate) fn load(text: &str) -> Result<Vec<Node>, ConfigError> {
    let docs = MarkedYamlOwned::load_from_str(text)
        .map_err(|e| ConfigError::new(e.marker().line().max(1), format!("not valid YAML: {}", e.info())))?;
    let mut out = Vec::with_capacity(docs.len());
    for d in docs {
        let n = convert(d, 0)?;
        if n.v != Value::Null {
            out.push(n);
        }
    }
    Ok(out)
}

fn convert(y: MarkedYamlOwned, depth: usize) -> Result<Node, ConfigError> {
    let line = y.span.start.line().max(1);
    if depth > MAX_DEPTH {
        return Err(ConfigError::new(
            line,
            format!("nesting deeper than {MAX_DEPTH} levels"),
        ));
    }
    let v = match y.data {
        YamlDataOwned::Value(s) => match s {
            ScalarOwned::Null => Value::Null,
            ScalarOwned::Boolean(b) => Value::Scalar {
                text: b.to_string(),
                string: false,
            },
            ScalarOwned::Integer(i) => Value::Scalar {
                text: i.to_string(),
                string: false,
            },
            ScalarOwned::FloatingPoint(f) => Value::Scalar {
                text: f.to_string(),
                string: false,
            },
            ScalarOwned::String(s) => Value::Scalar { text: s, string: true },
        },
        YamlDataOwned::Representation(s, _, _) => Value::Scalar { text: s, string: true },
        YamlDataOwned::Sequence(items) => Value::Seq(
            items
                .into_iter()
                .map(|i| convert(i, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        YamlDataOwned::Mapping(m) => {
            let mut entries = Vec::with_capacity(m.len());
            for (k, val) in m {
                let kline = k.span.start.line().max(1);
                let key = match convert(k, depth + 1)?.v {
                    Value::Scalar { text, .. } => text,
                    _ => return Err(ConfigError::new(kline, "a mapping key must be a plain scalar")),
                };
                entries.push((key, kline, convert(val, depth + 1)?));
            }
            Value::Map(entries)
        }
        YamlDataOwned::Tagged(_, inner) => return convert(*inner, depth + 1),
        YamlDataOwned::Alias(_) => {
            return Err(ConfigError::new(
                line,
                "YAML aliases (`*name`) are not supported here; write the value out",
            ));
        }
        YamlDataOwned::BadValue => return Err(ConfigError::new(line, "a value YAML cannot represent")),
    };
    Ok(Node { line, v })
}

impl Node {
    /// The mapping's entries, or an error naming `what` it should have been.
    pub fn map(&self, what: &str) -> Result<&[(String, usize, Node)], ConfigError> {
        match &self.v {
            Value::Map(m) => Ok(m),
            Value::Null => Ok(&[]),
            _ => Err(ConfigError::new(self.line, format!("`{what}` must be a mapping"))),
        }
    }

    /// The sequence's items, or an error naming `what`.
    pub fn seq(&self, what: &str) -> Result<&[Node], ConfigError> {
        match &self.v {
            Value::Seq(s) => Ok(s),
            Value::Null => Ok(&[]),
            _ => Err(ConfigError::new(self.line, format!("`{what}` must be a list"))),
        }
    }

    /// The scalar's text, or an error naming `what`.
    pub fn str(&self, what: &str) -> Result<&str, ConfigError> {
        match &self.v {
            Value::Scalar { text, .. } => Ok(text),
            _ => Err(ConfigError::new(self.line, format!("`{what}` must be a single value"))),
        }
    }

    /// The value of `key` in this mapping, if present (and not null).
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.v {
            Value::Map(m) => m
                .iter()
                .find(|(k, _, _)| k == key)
                .map(|(_, _, n)| n)
                .filter(|n| n.v != Value::Null),
            _ => None,
        }
    }

    /// A scalar child as text.
    pub fn get_str(&self, key: &str) -> Result<Option<&str>, ConfigError> {
        self.get(key).map(|n| n.str(key)).transpose()
    }

    /// A non-negative integer child (YAML number or quoted digits, as protobuf JSON allows).
    pub fn get_u64(&self, key: &str) -> Result<Option<u64>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(n) => {
                let t = n.str(key)?;
                t.parse::<u64>()
                    .map(Some)
                    .map_err(|_| ConfigError::new(n.line, format!("`{key}` must be a whole number >= 0, got `{t}`")))
            }
        }
    }

    /// A boolean child (`true`/`false`).
    pub fn get_bool(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(n) => match n.str(key)? {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                t => Err(ConfigError::new(
                    n.line,
                    format!("`{key}` must be true or false, got `{t}`"),
                )),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_absolute_across_documents() {
        // Line numbers counted by hand in the literal: `b` is on line 4, in the 2nd document.
        let docs = load("a: 1\n---\n# c\nb:\n  - x\n").unwrap_or_default();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].map("doc").map(|m| m[0].1).ok(), Some(4));
        let b = docs[1].get("b").and_then(|n| n.seq("b").ok()).unwrap_or(&[]);
        assert_eq!(b.first().map(|n| n.line), Some(5));
        assert_eq!(docs[0].get_u64("a").ok().flatten(), Some(1));
    }

    #[test]
    fn bad_yaml_duplicates_and_aliases_name_their_line() {
        let e = load("a: 1\na: 2\n").err().map(|e| e.line);
        assert_eq!(e, Some(2));
        // saphyr resolves an alias to a copy of its anchor's node.
        let d = load("a: &x 1\nb: *x\n").unwrap_or_default();
        assert_eq!(d.first().map(|d| d.get_u64("b").ok().flatten()), Some(Some(1)));
        let e = load("a: [1,\n").err();
        assert!(e.is_some_and(|e| e.message.starts_with("not valid YAML")));
    }

    #[test]
    fn mangled_input_never_panics() {
        for t in super::super::mangled("a: [1, {b: \"c\"}]\n---\n- &x y\n- *x\n") {
            let _ = load(&t);
        }
    }
}
