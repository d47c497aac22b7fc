//! nginx's `include` (`ngx_conf_include`, src/core/ngx_conf_file.c) for the nginx importer:
//! each `include` in a parsed tree replaced by the directives of the files it names,
//! relative names taken from the main file's directory, globs in the last part read in name
//! order, nesting bounded.

use super::ConfigError;
use super::nginx_grammar::{Directive, LINE_STRIDE, parse};
use std::path::{Path, PathBuf};

/// How deep `include`s may nest (nginx has no limit but runs out of file descriptors on
/// a loop; this gives the loop a clear message).
const MAX_INCLUDE_DEPTH: usize = 16;

/// Replace each `include` in `tree` by the directives of the files it names.
pub(super) fn expand(
    tree: &mut Vec<Directive>,
    prefix: &Path,
    files: &mut Vec<PathBuf>,
    depth: usize,
) -> Result<(), ConfigError> {
    let mut out = Vec::with_capacity(tree.len());
    for mut d in std::mem::take(tree) {
        if d.name() != "include" {
            if let Some(b) = &mut d.block {
                expand(b, prefix, files, depth)?;
            }
            out.push(d);
            continue;
        }
        if d.args.len() != 2 || d.block.is_some() {
            return Err(ConfigError::new(
                d.line,
                "invalid number of arguments in \"include\" directive",
            ));
        }
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(ConfigError::new(
                d.line,
                format!("include nested more than {MAX_INCLUDE_DEPTH} deep: do the files include each other?"),
            ));
        }
        let name = &d.args[1];
        let full = if Path::new(name).is_absolute() {
            PathBuf::from(name)
        } else {
            prefix.join(name)
        };
        let paths = if name.contains(['*', '?', '[']) {
            glob(&full, d.line)?
        } else {
            vec![full]
        };
        for p in paths {
            let text = std::fs::read_to_string(&p).map_err(|e| {
                ConfigError::new(
                    d.line,
                    format!(
                        "include: open() \"{}\" failed ({e}): fix the path (relative paths are taken from the directory of the main file)",
                        p.display()
                    ),
                )
            })?;
            let k = files.len();
            files.push(p.clone());
            let mut sub = parse(&text).map_err(|mut e| {
                e.file = Some(p.clone());
                e
            })?;
            let mut stack: Vec<&mut Directive> = sub.iter_mut().collect();
            while let Some(x) = stack.pop() {
                x.line += k * LINE_STRIDE;
                x.start += k * LINE_STRIDE;
                if let Some(b) = &mut x.block {
                    stack.extend(b.iter_mut());
                }
            }
            expand(&mut sub, prefix, files, depth + 1)?;
            out.extend(sub);
        }
    }
    *tree = out;
    Ok(())
}

/// The files matching a glob whose wildcards (`*`, `?`) are in its last part, sorted by
/// name as glob(3) returns them.
fn glob(pattern: &Path, line: usize) -> Result<Vec<PathBuf>, ConfigError> {
    let not_modelled = || {
        ConfigError::new(
            line,
            format!(
                "include {}: sessim's reader models `*` and `?` in the last part of the path only (not modelled: `[`, wildcard directories); list the files",
                pattern.display()
            ),
        )
    };
    let (Some(dir), Some(last)) = (pattern.parent(), pattern.file_name().and_then(|n| n.to_str())) else {
        return Err(not_modelled());
    };
    if dir.to_string_lossy().contains(['*', '?', '[']) || last.contains('[') {
        return Err(not_modelled());
    }
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| !n.starts_with('.') && wild_match(last.as_bytes(), n.as_bytes()))
            })
            .map(|e| e.path())
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    Ok(out)
}

/// `*` and `?` matching (iterative, no recursion on input).
fn wild_match(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}
