//! The Caddyfile's lexing and block structure, as `caddyconfig/caddyfile/lexer.go` and
//! `parse.go` (Caddy 2.6) define them: tokens ([`tokenize`]), directives with their blocks
//! ([`parse_block`]) and snippets pulled in by `import` ([`expand`]). What the directives
//! mean is [`super`]'s.

use super::super::ConfigError;

/// One token and its 1-based line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Tok {
    text: String,
    line: usize,
    quoted: bool,
}

pub(super) fn tokenize(text: &str) -> Result<Vec<Tok>, ConfigError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(&c) = chars.peek() {
        if c == '\n' {
            line += 1;
            chars.next();
        } else if c.is_whitespace() {
            chars.next();
        } else if c == '#' {
            while chars.peek().is_some_and(|&c| c != '\n') {
                chars.next();
            }
        } else if c == '"' || c == '`' {
            let start = line;
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => return Err(ConfigError::new(start, format!("unterminated {c}-quoted token"))),
                    Some('\\') if c == '"' && chars.peek() == Some(&'"') => {
                        chars.next();
                        s.push('"');
                    }
                    Some(q) if q == c => break,
                    Some(x) => {
                        if x == '\n' {
                            line += 1;
                        }
                        s.push(x);
                    }
                }
            }
            out.push(Tok {
                text: s,
                line: start,
                quoted: true,
            });
        } else {
            let mut s = String::new();
            while let Some(&x) = chars.peek() {
                if x.is_whitespace() {
                    break;
                }
                s.push(x);
                chars.next();
            }
            out.push(Tok {
                text: s,
                line,
                quoted: false,
            });
        }
    }
    Ok(out)
}

/// A directive: the tokens of one line, and its block if the line ends with `{`.
#[derive(Clone, Debug)]
pub(super) struct Dir {
    pub(super) words: Vec<String>,
    pub(super) line: usize,
    pub(super) block: Option<Vec<Dir>>,
}

fn is_open(t: &Tok) -> bool {
    !t.quoted && t.text == "{"
}
fn is_close(t: &Tok) -> bool {
    !t.quoted && t.text == "}"
}

pub(super) fn parse_block(
    toks: &[Tok],
    pos: &mut usize,
    depth: usize,
    opened: Option<usize>,
) -> Result<Vec<Dir>, ConfigError> {
    if depth > 32 {
        return Err(ConfigError::new(
            toks.get(*pos).map_or(0, |t| t.line),
            "blocks nested too deep",
        ));
    }
    let mut dirs = Vec::new();
    while *pos < toks.len() {
        let t = &toks[*pos];
        if is_close(t) {
            if opened.is_none() {
                return Err(ConfigError::new(t.line, "`}` closes no block"));
            }
            *pos += 1;
            return Ok(dirs);
        }
        let line = t.line;
        let mut words = Vec::new();
        let mut block = None;
        while *pos < toks.len() && toks[*pos].line == line && !is_close(&toks[*pos]) {
            let t = &toks[*pos];
            *pos += 1;
            if is_open(t) {
                block = Some(parse_block(toks, pos, depth + 1, Some(t.line))?);
                break;
            }
            words.push(t.text.clone());
        }
        dirs.push(Dir { words, line, block });
    }
    match opened {
        Some(l) => Err(ConfigError::new(l, "this `{` is never closed: add the matching `}`")),
        None => Ok(dirs),
    }
}

/// Replace `import NAME` by the snippet's directives.
pub(super) fn expand(dirs: Vec<Dir>, snippets: &[(String, Vec<Dir>)], depth: usize) -> Result<Vec<Dir>, ConfigError> {
    let mut out = Vec::new();
    for d in dirs {
        if d.words.first().map(String::as_str) == Some("import") {
            let Some(name) = d.words.get(1) else {
                return Err(ConfigError::new(d.line, "`import` needs a snippet name"));
            };
            let Some((_, body)) = snippets.iter().find(|(n, _)| n == name) else {
                return Err(ConfigError::new(
                    d.line,
                    format!(
                        "`import {name}`: no snippet `({name})` in this file; sessim imports snippets only, not files: inline it"
                    ),
                ));
            };
            if depth > 16 {
                return Err(ConfigError::new(d.line, "snippets import each other in a loop"));
            }
            out.extend(expand(body.clone(), snippets, depth + 1)?);
            continue;
        }
        let block = match d.block {
            Some(b) => Some(expand(b, snippets, depth)?),
            None => None,
        };
        out.push(Dir {
            words: d.words,
            line: d.line,
            block,
        });
    }
    Ok(out)
}
