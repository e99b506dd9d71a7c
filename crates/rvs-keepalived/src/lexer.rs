//! The preprocessor and lexer: raw files in, logical lines of tokens out.
//!
//! keepalived works line by line, in this order, and so does this module:
//! 1. comments are cut (`#` or `!` anywhere outside quotes; `//` is *not* a keepalived
//!    comment, see [`strip_comment`]);
//! 2. `include` lines are followed, before anything else, as keepalived detects them
//!    before conditionals and substitution (keepalived.conf(5), "include");
//! 3. `@ID` / `@^ID` conditional lines are kept or dropped by the config id;
//! 4. `~SEQ(...)`/`~SEQx(...)`/`~LST(...)` lines are repeated;
//! 5. `$NAME=VALUE` (and multi-line `\` values) are defined; `$NAME` / `${NAME}` are
//!    replaced lazily, so a multi-line value's own definitions take effect line by line,
//!    in order, as keepalived's nested examples need;
//! 6. the line is split into words, with `{` and `}` as tokens of their own even when glued
//!    to a word, and quotes (`"` or `'`) grouping words as a shell does.

use crate::diag::{Diag, Pos};
use crate::fs::{glob, ConfigFs};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    Word(String),
    Open,
    Close,
}

/// One logical line after preprocessing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub pos: Pos,
    pub toks: Vec<Tok>,
}

/// Parse options (keepalived's command line equivalents).
#[derive(Clone, Debug)]
pub struct Options {
    /// keepalived `-i/--config-id`. `None` takes keepalived's default, the first part
    /// of the node name ([`ConfigFs::hostname`] up to the first `.`).
    pub config_id: Option<String>,
    /// Nested includes deeper than this are an error (a guard against runaway globs
    /// that a cycle check alone would not catch).
    pub max_include_depth: usize,
    /// Logical lines the whole configuration may expand to (`~SEQ` and `$VAR` can
    /// multiply lines); beyond it the configuration is refused.
    pub max_lines: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            config_id: None,
            max_include_depth: 32,
            max_lines: 2_000_000,
        }
    }
}

impl Options {
    pub fn with_config_id(id: impl Into<String>) -> Options {
        Options {
            config_id: Some(id.into()),
            ..Options::default()
        }
    }
}

/// keepalived's default config id: the node name up to its first dot.
pub fn config_id_from_hostname(host: &str) -> String {
    host.trim().split('.').next().unwrap_or("").to_string()
}

const INCLUDE_WORDS: [&str; 6] = [
    "include", "includer", "includem", "includew", "includeb", "includea",
];

/// How deep `$VAR` expansion and conditionals may recurse on one line.
const MAX_EXPANSION_DEPTH: usize = 64;
/// Substitution passes over one line (each replaces every parameter once).
const MAX_SUBSTITUTIONS: usize = 64;
/// Longest parameter name looked for after `${`.
const MAX_NAME: usize = 64;
/// Longest line parameter substitution may build.
const MAX_LINE: usize = 64 * 1024;

/// `$NAME=...` at the start of `t`.
fn is_definition(t: &str) -> bool {
    let Some(d) = t.strip_prefix('$') else {
        return false;
    };
    let n = d
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(d.len());
    n > 0 && d[n..].starts_with('=') && !d.starts_with(|c: char| c.is_ascii_digit())
}

pub struct Preprocessor<'a> {
    fs: &'a dyn ConfigFs,
    opts: &'a Options,
    config_id: String,
    /// `$NAME` → value lines (one line unless defined with `\` continuations).
    defs: HashMap<String, Vec<String>>,
    pub lines: Vec<Line>,
    pub diags: Vec<Diag>,
    include_stack: Vec<PathBuf>,
    failed: bool,
    /// Logical lines handled so far, expansions included.
    work: usize,
}

impl<'a> Preprocessor<'a> {
    pub fn new(fs: &'a dyn ConfigFs, opts: &'a Options) -> Preprocessor<'a> {
        let config_id = match &opts.config_id {
            Some(id) => id.clone(),
            None => config_id_from_hostname(&fs.hostname().unwrap_or_default()),
        };
        Preprocessor {
            fs,
            opts,
            config_id,
            defs: HashMap::new(),
            lines: Vec::new(),
            diags: Vec::new(),
            include_stack: Vec::new(),
            failed: false,
            work: 0,
        }
    }

    pub fn failed(&self) -> bool {
        self.failed
    }

    fn error(&mut self, pos: &Pos, kw: &str, msg: impl Into<String>) {
        self.diags.push(Diag::error(pos, kw, msg));
        self.failed = true;
    }

    fn warn(&mut self, pos: &Pos, kw: &str, msg: impl Into<String>) {
        self.diags.push(Diag::warning(pos, kw, msg));
    }

    /// Read the top-level file.
    pub fn run_file(&mut self, path: &Path) {
        match self.fs.read(path) {
            Ok(text) => self.run_text(path, &text),
            Err(e) => {
                let pos = Pos::new(&path.to_string_lossy(), 0);
                self.error(&pos, "", format!("cannot read configuration: {e}"));
            }
        }
    }

    /// Preprocess `text` as the contents of `path` (the path gives `${_PWD}`, relative
    /// includes and the file name in messages).
    pub fn run_text(&mut self, path: &Path, text: &str) {
        self.include_stack.push(path.to_path_buf());
        let file: Arc<str> = Arc::from(path.to_string_lossy().as_ref());
        let raw: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < raw.len() && !self.failed {
            let pos = Pos {
                file: file.clone(),
                line: i as u32 + 1,
            };
            let (first, w) = strip_comment(raw[i]);
            if w {
                self.warn(
                    &pos,
                    "//",
                    "'//' does not start a comment in keepalived.conf; keepalived ignores \
                     the extra words after a keyword's value, so rvs drops the rest of the line",
                );
            }
            i += 1;
            let mut unit = vec![first.trim().to_string()];
            // A trailing '\' continues the line: keepalived's multi-line definitions.
            while unit.last().is_some_and(|l| l.ends_with('\\')) {
                let last = unit.last_mut().expect("non-empty");
                last.pop();
                *last = last.trim_end().to_string();
                if i >= raw.len() {
                    break;
                }
                let (next, _) = strip_comment(raw[i]);
                unit.push(next.trim().to_string());
                i += 1;
            }
            if unit.len() == 1 && unit[0].is_empty() {
                continue;
            }
            if unit.len() == 1 {
                let (w, rest) = unit[0]
                    .split_once(char::is_whitespace)
                    .unwrap_or((unit[0].as_str(), ""));
                if INCLUDE_WORDS.contains(&w) {
                    // The rest of the line is the pattern, braces and all (`{a,b}.conf`).
                    let pat = rest.trim();
                    let pat = ['"', '\'']
                        .iter()
                        .find_map(|q| pat.strip_prefix(*q).and_then(|p| p.strip_suffix(*q)))
                        .unwrap_or(pat);
                    self.include(path, &pos, w, pat);
                    continue;
                }
            }
            self.unit(path, &pos, unit, 0);
        }
        self.include_stack.pop();
    }

    fn include(&mut self, from: &Path, pos: &Pos, kw: &str, pat: &str) {
        if pat.is_empty() {
            self.error(pos, kw, "missing file name");
            return;
        }
        if self.include_stack.len() > self.opts.max_include_depth {
            self.error(pos, kw, "includes nested too deeply");
            return;
        }
        let dir = from.parent().unwrap_or(Path::new(""));
        let pattern = if Path::new(pat).is_absolute() {
            PathBuf::from(pat)
        } else {
            dir.join(pat)
        };
        let files = glob(self.fs, &pattern);
        if files.is_empty() {
            // Plain `include` never fails in keepalived; the checked variants do.
            let msg = format!("no file matches {}", pattern.display());
            if kw == "include" {
                self.warn(pos, kw, msg);
            } else {
                self.error(pos, kw, msg);
            }
            return;
        }
        for f in files {
            if self.failed {
                return;
            }
            if self.include_stack.contains(&f) {
                self.error(
                    pos,
                    kw,
                    format!("include cycle: {} includes itself", f.display()),
                );
                return;
            }
            match self.fs.read(&f) {
                Ok(text) => self.run_text(&f, &text),
                Err(e) => {
                    let msg = format!("cannot read {}: {e}", f.display());
                    if kw == "include" {
                        self.warn(pos, kw, msg)
                    } else {
                        self.error(pos, kw, msg)
                    }
                }
            }
        }
    }

    /// One logical unit: a line, or a definition spread over `\` lines.
    fn unit(&mut self, file: &Path, pos: &Pos, unit: Vec<String>, depth: usize) {
        if self.failed {
            return;
        }
        // Total work, not only depth: a multi-line value that names itself twice would
        // otherwise double at every level.
        self.work += 1;
        if self.work > self.opts.max_lines.saturating_mul(4).max(100_000) {
            self.error(pos, "$", "configuration expands to too many lines");
            return;
        }
        if depth > MAX_EXPANSION_DEPTH {
            self.error(pos, "$", "parameter expansion nested too deeply");
            return;
        }
        let mut first = unit[0].as_str();
        // Conditional configuration: `@ID rest` / `@^ID rest`.
        if let Some(c) = first.strip_prefix('@') {
            let (neg, c) = match c.strip_prefix('^') {
                Some(r) => (true, r),
                None => (false, c),
            };
            let end = c.find(char::is_whitespace).unwrap_or(c.len());
            let (id, rest) = c.split_at(end);
            if (id == self.config_id) == neg {
                return;
            }
            first = rest.trim_start();
            if first.is_empty() && unit.len() == 1 {
                return;
            }
        }
        // Definitions: `$NAME=VALUE`, value not substituted until used.
        if is_definition(first) {
            let d = &first[1..];
            let name_len = d.find('=').expect("checked by is_definition");
            {
                let name = d[..name_len].to_string();
                let v = d[name_len + 1..].trim();
                let mut value: Vec<String> = Vec::new();
                if !v.is_empty() || unit.len() == 1 {
                    value.push(v.to_string());
                }
                value.extend(unit[1..].iter().cloned());
                self.defs.insert(name, value);
                return;
            }
        }
        let rest: Vec<String> = std::iter::once(first.to_string())
            .chain(unit[1..].iter().cloned())
            .collect();
        if rest.len() > 1 {
            // A continued line that is not a definition: one line, as keepalived joins it.
            let joined = rest.join(" ");
            self.unit(file, pos, vec![joined], depth + 1);
            return;
        }
        let text = &rest[0];
        if text.starts_with("~SEQ") || text.starts_with("~LST") {
            self.sequence(file, pos, text, depth);
            return;
        }
        let mut text = text.clone();
        // Single-line values are replaced in place, over and over, so replacement is
        // recursive as keepalived's; a result that became a conditional, a definition or
        // a sequence line goes round again as a line of its own.
        for _ in 0..MAX_SUBSTITUTIONS {
            match self.substitute(file, &text) {
                Subst::Same => {
                    self.emit(pos, &text);
                    return;
                }
                Subst::TooLong => {
                    self.error(pos, "$", "line too long after parameter substitution");
                    return;
                }
                Subst::One(t) => {
                    let t = t.trim_start();
                    if t.starts_with(['@', '~']) || is_definition(t) {
                        self.unit(file, pos, vec![t.to_string()], depth + 1);
                        return;
                    }
                    text = t.to_string();
                }
                Subst::Many(ls) => {
                    for l in ls {
                        let l = l.trim().to_string();
                        if !l.is_empty() {
                            self.unit(file, pos, vec![l], depth + 1);
                        }
                    }
                    return;
                }
            }
        }
        self.error(
            pos,
            "$",
            "parameter substitution does not end (a parameter refers to itself?)",
        );
    }

    fn emit(&mut self, pos: &Pos, text: &str) {
        if self.lines.len() >= self.opts.max_lines {
            self.error(pos, "", "configuration expands to too many lines");
            return;
        }
        let toks = split_words(text);
        if !toks.is_empty() {
            self.lines.push(Line {
                pos: pos.clone(),
                toks,
            });
        }
    }

    /// The value of a parameter, the predefined ones included.
    fn lookup(&self, file: &Path, name: &str) -> Option<Vec<String>> {
        if let Some(v) = self.defs.get(name) {
            return Some(v.clone());
        }
        let one = |s: String| Some(vec![s]);
        match name.split_whitespace().next().unwrap_or("") {
            "_PWD" => one(file
                .parent()
                .unwrap_or(Path::new(""))
                .to_string_lossy()
                .into_owned()),
            "_INSTANCE" => one(self.config_id.clone()),
            "_HASH" => one("#".into()),
            "_BANG" => one("!".into()),
            // sans-IO and reproducible: the low end of the range stands in for a random
            // value (keepalived draws one in [MIN, MAX]).
            "_RANDOM" => one(name.split_whitespace().nth(1).unwrap_or("0").to_string()),
            _ => None,
        }
    }

    /// One left-to-right pass replacing every defined parameter of `text`: single-line
    /// values in place (the caller runs passes until nothing changes, so replacement is
    /// recursive as keepalived's), and at the first multi-line value the line is split
    /// into the value's lines, the rest being left for when those lines are processed.
    fn substitute(&self, file: &Path, text: &str) -> Subst {
        let mut out = String::with_capacity(text.len());
        let mut changed = false;
        let mut i = 0;
        while let Some(off) = text[i..].find('$') {
            let at = i + off;
            out.push_str(&text[i..at]);
            let found = param_at(text, at)
                .and_then(|(name, end)| self.lookup(file, name).map(|v| (v, end)));
            let Some((v, end)) = found else {
                out.push('$');
                i = at + 1;
                continue;
            };
            if v.len() > 1 {
                let mut lines = v;
                lines[0] = format!("{out}{}", lines[0]);
                let last = lines.len() - 1;
                lines[last].push_str(&text[end..]);
                return Subst::Many(lines);
            }
            out.push_str(v.first().map(String::as_str).unwrap_or(""));
            changed = true;
            i = end;
            if out.len() > MAX_LINE {
                return Subst::TooLong;
            }
        }
        out.push_str(&text[i..]);
        if changed {
            Subst::One(out)
        } else {
            Subst::Same
        }
    }

    /// `~SEQ(var, [start,] [step,] end) rest`, `~SEQx(...)`, `~LST(var, v1, v2...)` and
    /// `~LST({a, b}, {1, 2}, ...)`: define the variable(s) and run `rest` once per value.
    fn sequence(&mut self, file: &Path, pos: &Pos, text: &str, depth: usize) {
        let kw = if text.starts_with("~SEQx") {
            "~SEQx"
        } else if text.starts_with("~SEQ") {
            "~SEQ"
        } else {
            "~LST"
        };
        let Some(open) = text.find('(') else {
            self.error(pos, kw, "missing '('");
            return;
        };
        let Some(close) = matching_paren(text, open) else {
            self.error(pos, kw, "missing ')'");
            return;
        };
        let inner = &text[open + 1..close];
        let rest = text[close + 1..].trim().to_string();
        let mut runs: Vec<Vec<(String, String)>> = Vec::new();
        if kw == "~LST" {
            let groups = split_lst(inner);
            if groups.len() < 2 {
                self.error(pos, kw, "needs a variable and at least one value");
                return;
            }
            let vars = &groups[0];
            for vals in &groups[1..] {
                if vals.len() != vars.len() {
                    self.error(pos, kw, "value list does not match the variables");
                    return;
                }
                runs.push(vars.iter().cloned().zip(vals.iter().cloned()).collect());
            }
        } else {
            let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
            let num = |s: &str| -> Option<i64> {
                match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                    Some(h) => i64::from_str_radix(h, 16).ok(),
                    None => s.parse().ok(),
                }
            };
            let nums: Option<Vec<i64>> = parts.iter().skip(1).map(|s| num(s)).collect();
            let (var, nums) = match (parts.first(), nums) {
                (Some(v), Some(n)) if !v.is_empty() && (1..=3).contains(&n.len()) => (v, n),
                _ => {
                    self.error(pos, kw, format!("bad sequence '{inner}'"));
                    return;
                }
            };
            let (start, step, end) = match nums[..] {
                [end] => (if end >= 0 { 1 } else { -1 }, None, end),
                [s, e] => (s, None, e),
                [s, st, e] => (s, Some(st), e),
                _ => unreachable!("length checked"),
            };
            let step = step.unwrap_or(if end >= start { 1 } else { -1 });
            if step == 0 {
                self.error(pos, kw, "sequence step is 0");
                return;
            }
            let mut v = start;
            while (step > 0 && v <= end) || (step < 0 && v >= end) {
                if runs.len() >= self.opts.max_lines.min(1 << 20) {
                    self.error(pos, kw, "sequence too long");
                    return;
                }
                let s = if kw == "~SEQx" {
                    format!("{v:x}")
                } else {
                    v.to_string()
                };
                runs.push(vec![(var.to_string(), s)]);
                v = match v.checked_add(step) {
                    Some(n) => n,
                    None => break,
                };
            }
        }
        for run in runs {
            if self.failed {
                return;
            }
            for (k, v) in run {
                self.defs.insert(k, vec![v]);
            }
            self.unit(file, pos, vec![rest.clone()], depth + 1);
        }
    }
}

enum Subst {
    Same,
    One(String),
    Many(Vec<String>),
    TooLong,
}

/// The parameter reference at `text[at] == '$'`: `${NAME}` (a `${_RANDOM MIN MAX}` may hold
/// spaces) or `$NAME` followed by whitespace or the end of the line. Names are short
/// words, so a stray `${` costs a bounded look-ahead, not a scan of the whole line.
fn param_at(text: &str, at: usize) -> Option<(&str, usize)> {
    let b = text.as_bytes();
    if b.get(at + 1) == Some(&b'{') {
        let start = at + 2;
        let len = b[start..]
            .iter()
            .take(MAX_NAME + 1)
            .position(|&c| !(c.is_ascii_alphanumeric() || c == b'_' || c == b' '))?;
        if len > MAX_NAME || b[start + len] != b'}' {
            return None;
        }
        return Some((&text[start..start + len], start + len + 1));
    }
    let start = at + 1;
    let len = b[start..]
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || c == b'_'))
        .unwrap_or(b.len() - start);
    let end = start + len;
    if len == 0 || !(end == b.len() || b[end].is_ascii_whitespace()) {
        return None;
    }
    Some((&text[start..end], end))
}

fn matching_paren(s: &str, open: usize) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in s[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// `a, b, c` → [[a], [b], [c]]; `{a, b}, {1, 2}` → [[a, b], [1, 2]].
fn split_lst(inner: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    let mut group: Vec<String> = Vec::new();
    for c in inner.chars().chain(std::iter::once(',')) {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                group.push(cur.trim().to_string());
                cur.clear();
            }
            ',' if depth > 0 => {
                group.push(cur.trim().to_string());
                cur.clear();
            }
            ',' => {
                if !cur.trim().is_empty() {
                    group.push(cur.trim().to_string());
                }
                cur.clear();
                if !group.is_empty() {
                    out.push(std::mem::take(&mut group));
                }
            }
            c => cur.push(c),
        }
    }
    out
}

/// Cut a comment: `#` or `!` anywhere outside quotes ends the line (keepalived.conf(5):
/// "Comments start with '#' or '!' to the end of the line and can start anywhere").
/// Returns the text and whether a `//` word was cut: keepalived has no `//` comments
/// (it takes `//` as more words, which its single-value keywords ignore), but configs
/// copied from blogs use them, so rvs cuts them and says so.
pub fn strip_comment(line: &str) -> (&str, bool) {
    let mut quote: Option<char> = None;
    let mut prev_ws = true;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            prev_ws = false;
            continue;
        }
        match quote {
            Some(q) => {
                if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '#' | '!' => return (&line[..i], false),
                '"' | '\'' => quote = Some(c),
                '/' if prev_ws && line[i..].starts_with("//") => return (&line[..i], true),
                _ => {}
            },
        }
        prev_ws = c.is_whitespace();
    }
    (line, false)
}

/// Split into words: whitespace separates, quotes group (and are removed, and may join
/// with unquoted text as in a shell), `{`/`}` outside quotes are tokens of their own.
/// Escapes inside quotes follow keepalived.conf(5) "Quoted strings".
pub fn split_words(text: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                in_word = true;
                while let Some(d) = chars.next() {
                    if d == c {
                        break;
                    }
                    if d == '\\' {
                        unescape(&mut chars, &mut cur);
                    } else {
                        cur.push(d);
                    }
                }
            }
            '{' | '}' => {
                if in_word {
                    out.push(Tok::Word(std::mem::take(&mut cur)));
                    in_word = false;
                }
                out.push(if c == '{' { Tok::Open } else { Tok::Close });
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(Tok::Word(std::mem::take(&mut cur)));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(Tok::Word(cur));
    }
    out
}

fn unescape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, out: &mut String) {
    let Some(c) = chars.next() else {
        out.push('\\');
        return;
    };
    match c {
        'a' => out.push('\x07'),
        'b' => out.push('\x08'),
        'E' => out.push('\x1b'),
        'f' => out.push('\x0c'),
        'n' => out.push('\n'),
        'r' => out.push('\r'),
        't' => out.push('\t'),
        'v' => out.push('\x0b'),
        '0'..='7' => {
            let mut v = c.to_digit(8).unwrap_or(0);
            for _ in 0..2 {
                match chars.peek().and_then(|d| d.to_digit(8)) {
                    Some(d) => {
                        v = v * 8 + d;
                        chars.next();
                    }
                    None => break,
                }
            }
            out.push(char::from_u32(v & 0xff).unwrap_or('?'));
        }
        'x' => {
            let mut v: u32 = 0;
            let mut n = 0;
            while let Some(d) = chars.peek().and_then(|d| d.to_digit(16)) {
                v = (v << 4 | d) & 0xff;
                chars.next();
                n += 1;
            }
            if n == 0 {
                out.push('x');
            } else {
                out.push(char::from_u32(v).unwrap_or('?'));
            }
        }
        'c' => match chars.next() {
            Some(d) => {
                out.push(char::from_u32(d.to_ascii_uppercase() as u32 ^ 0x40).unwrap_or('?'))
            }
            None => out.push('c'),
        },
        other => out.push(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        split_words(s)
            .into_iter()
            .map(|t| match t {
                Tok::Word(w) => w,
                Tok::Open => "{".into(),
                Tok::Close => "}".into(),
            })
            .collect()
    }

    #[test]
    fn comments_respect_quotes() {
        assert_eq!(strip_comment("a \"b # c\" # d"), ("a \"b # c\" ", false));
        assert_eq!(strip_comment("a!b"), ("a", false));
        assert_eq!(strip_comment("x // y"), ("x ", true));
        assert_eq!(strip_comment("http://x"), ("http://x", false));
    }

    #[test]
    fn words_quotes_and_braces() {
        assert_eq!(words("a{b}c"), ["a", "{", "b", "}", "c"]);
        assert_eq!(words("abcd\" efg h jkl \"mnop"), ["abcd efg h jkl mnop"]);
        assert_eq!(
            words("abcd \"efg h jkl\" mnop"),
            ["abcd", "efg h jkl", "mnop"]
        );
        assert_eq!(words("\"{\" '}'"), ["{", "}"]);
        assert_eq!(words("\"\\t\\x41\\101\\cA\\\\\""), ["\tAA\u{1}\\"]);
        assert_eq!(words("''"), [""]);
    }

    #[test]
    fn config_id_is_the_first_label() {
        assert_eq!(config_id_from_hostname("lb1.example.org\n"), "lb1");
        assert_eq!(config_id_from_hostname("lb2"), "lb2");
    }
}
