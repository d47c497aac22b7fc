//! Where in the scenario file a problem is, shown as Cargo and rustc show theirs: the first line
//! `FILE:LINE:COL: KEY: MESSAGE` (editors jump to it), then the offending line with a caret
//! under the value.
//!
//! The loader validates plain tables (`toml::Table`, no positions) and reports a key path
//! (`backends.servers[2].workers`); this module finds that path in the file's text again with
//! the toml crate's span-keeping parser (`toml::de::DeTable`), so no validation code needs to
//! carry positions.

use std::ops::Range;
use toml::de::{DeTable, DeValue};
use toml::{Table, Value};

/// One step of a key path: a key, or an index into an array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// Splits `a.b[0].c` (the loader's and serde_path_to_error's notation) into its steps. The
/// loader's paths never hold quoted keys; `(top level)` is the empty path.
pub(crate) fn segments(path: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    if path.is_empty() || path == "(top level)" || path == "." {
        return out;
    }
    for part in path.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            out.push(Seg::Key(name.to_string()));
        }
        while let Some(r) = rest.strip_prefix('[') {
            let Some((n, tail)) = r.split_once(']') else { break };
            match n.parse() {
                Ok(i) => out.push(Seg::Index(i)),
                Err(_) => break,
            }
            rest = tail;
        }
    }
    out
}

/// Whether `prefix` is `path` or an ancestor of it.
pub(crate) fn is_prefix(prefix: &[Seg], path: &[Seg]) -> bool {
    prefix.len() <= path.len() && prefix.iter().zip(path).all(|(a, b)| a == b)
}

/// How many leading steps of `segs` exist in `table`.
pub(crate) fn depth(table: &Table, segs: &[Seg]) -> usize {
    let mut cur: Option<&Value> = None;
    for (n, s) in segs.iter().enumerate() {
        let next = match (cur, s) {
            (None, Seg::Key(k)) => table.get(k),
            (Some(Value::Table(t)), Seg::Key(k)) => t.get(k),
            (Some(Value::Array(a)), Seg::Index(i)) => a.get(*i),
            _ => None,
        };
        match next {
            Some(v) => cur = Some(v),
            None => return n,
        }
    }
    segs.len()
}

/// The byte range to point at for `segs` in `text`: the value when the whole path is in the
/// file (its key with `at_key`), else the key of the deepest table of the path that is (a
/// missing key is shown at its table's header). `None` when nothing of the path is in the file.
pub(crate) fn span(text: &str, segs: &[Seg], at_key: bool) -> Option<Range<usize>> {
    let doc = DeTable::parse(text).ok()?;
    let mut table: Option<&DeTable> = Some(doc.get_ref());
    let mut array: Option<&[toml::Spanned<DeValue>]> = None;
    let mut found: Option<Range<usize>> = None;
    for (n, s) in segs.iter().enumerate() {
        let last = n + 1 == segs.len();
        let (key_span, value) = match (s, table, array) {
            (Seg::Key(k), Some(t), _) => {
                let Some((key, v)) = t.iter().find(|(key, _)| key.get_ref().as_ref() == k.as_str()) else {
                    break;
                };
                (key.span(), v)
            }
            (Seg::Index(i), _, Some(a)) => {
                let Some(v) = a.get(*i) else { break };
                (v.span(), v)
            }
            _ => break,
        };
        found = Some(if last && !at_key { value.span() } else { key_span });
        table = None;
        array = None;
        match value.get_ref() {
            DeValue::Table(t) => table = Some(t),
            DeValue::Array(a) => array = Some(a.as_ref()),
            _ => {}
        }
    }
    found
}

/// `origin:line:col` for a byte offset, the line's text and the caret line under `range`.
pub(crate) fn render(origin: &str, text: &str, range: Range<usize>, head: &str) -> String {
    let start = range.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line_no = text[..start].matches('\n').count() + 1;
    let line = text[line_start..line_end].trim_end_matches('\r');
    let col = text[line_start..start].chars().count() + 1;
    let width = text[start..range.end.clamp(start, line_end)].chars().count().max(1);
    let gutter = " ".repeat(line_no.to_string().len());
    let pad: String = text[line_start..start]
        .chars()
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    format!(
        "{origin}:{line_no}:{col}: {head}\n{gutter} |\n{line_no} | {line}\n{gutter} | {pad}{}",
        "^".repeat(width)
    )
}

/// A TOML syntax error in Cargo's shape: position, message, the line and a caret.
pub(crate) fn syntax_error(origin: &str, text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim();
    match e.span() {
        Some(r) => render(origin, text, r, &format!("not valid TOML: {msg}")),
        None => format!("{origin}: not valid TOML: {msg}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(p: &str) -> Vec<Seg> {
        segments(p)
    }

    #[test]
    fn paths_split_into_keys_and_indices() {
        assert_eq!(
            segs("backends.servers[2].workers"),
            vec![
                Seg::Key("backends".into()),
                Seg::Key("servers".into()),
                Seg::Index(2),
                Seg::Key("workers".into())
            ]
        );
        assert!(segs("(top level)").is_empty());
        assert!(is_prefix(&segs("backends"), &segs("backends.count")));
        assert!(!is_prefix(&segs("backends.count"), &segs("backends")));
    }

    const TEXT: &str =
        "name = \"t\"\n\n[backends]\ncount = -2\n\n[[strategy]]\nlabel = \"a\"\nsessions.storage = \"redis\"\n";

    #[test]
    fn a_value_is_found_with_its_line_and_column() {
        // `count = -2` is line 4; the value starts at column 9 (after `count = `).
        let r = span(TEXT, &segs("backends.count"), false).unwrap();
        let shown = render("s.toml", TEXT, r, "backends.count: must be at least 1");
        assert_eq!(
            shown,
            "s.toml:4:9: backends.count: must be at least 1\n  |\n4 | count = -2\n  |         ^^"
        );
        // A key inside an array-of-tables entry, written as a dotted key.
        let r = span(TEXT, &segs("strategy[0].sessions.storage"), false).unwrap();
        assert!(render("s.toml", TEXT, r, "x").starts_with("s.toml:8:20: x"));
    }

    #[test]
    fn a_missing_key_points_at_its_table() {
        // backends.workers is not in the file: the `backends` of `[backends]` (line 3, col 2).
        let r = span(TEXT, &segs("backends.workers"), false).unwrap();
        assert!(render("s.toml", TEXT, r, "x").starts_with("s.toml:3:2: x"));
        assert_eq!(span(TEXT, &segs("workload.pages"), false), None);
    }

    #[test]
    fn depth_counts_the_steps_present() {
        let t: Table = toml::from_str(TEXT).unwrap();
        assert_eq!(depth(&t, &segs("backends.count")), 2);
        assert_eq!(depth(&t, &segs("backends.workers")), 1);
        assert_eq!(depth(&t, &segs("strategy[0].sessions.storage")), 4);
        assert_eq!(depth(&t, &segs("strategy[1].label")), 1);
    }
}
