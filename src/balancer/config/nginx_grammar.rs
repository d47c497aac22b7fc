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
pub(crate) use super::nginx_directives::check;

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
