//! The only way the parser touches files: a small trait, so that tests and the fuzzer
//! feed in-memory files and the daemon reads the real file system.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

pub trait ConfigFs {
    /// The whole file as text (keepalived.conf is text; invalid UTF-8 is replaced).
    fn read(&self, path: &Path) -> io::Result<String>;
    /// The names of the entries of a directory (not sorted; the glob sorts).
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// The node name, for keepalived's default config id (`@ID` lines); None if unknown.
    fn hostname(&self) -> Option<String> {
        None
    }
}

/// The real file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct StdFs;

impl ConfigFs for StdFs {
    fn read(&self, path: &Path) -> io::Result<String> {
        let bytes = std::fs::read(path)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir)? {
            out.push(e?.file_name().to_string_lossy().into_owned());
        }
        Ok(out)
    }

    fn hostname(&self) -> Option<String> {
        // uname(2)'s nodename, as keepalived takes it.
        std::fs::read_to_string("/proc/sys/kernel/hostname").ok()
    }
}

/// Files held in memory, keyed by absolute path.
#[derive(Clone, Debug, Default)]
pub struct MemFs {
    files: BTreeMap<PathBuf, String>,
    /// What [`ConfigFs::hostname`] answers.
    pub hostname: Option<String>,
}

impl MemFs {
    pub fn new() -> MemFs {
        MemFs::default()
    }

    pub fn add(&mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> &mut MemFs {
        self.files.insert(normalize(&path.into()), text.into());
        self
    }

    pub fn with(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> MemFs {
        self.add(path, text);
        self
    }
}

impl ConfigFs for MemFs {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.files
            .get(&normalize(path))
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn hostname(&self) -> Option<String> {
        self.hostname.clone()
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let dir = &normalize(dir);
        let mut out: Vec<String> = Vec::new();
        for p in self.files.keys() {
            if let Ok(rest) = p.strip_prefix(dir) {
                if let Some(first) = rest.components().next() {
                    let name = first.as_os_str().to_string_lossy().into_owned();
                    if !name.is_empty() && out.last() != Some(&name) && !out.contains(&name) {
                        out.push(name);
                    }
                }
            }
        }
        if out.is_empty() && !self.files.keys().any(|p| p.starts_with(dir)) {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such directory"));
        }
        Ok(out)
    }
}

/// `a/./b/../c` → `a/c`, lexically, as the kernel would resolve it without symlinks.
fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c.as_os_str()),
        }
    }
    out
}

/// Most patterns one `include` line may expand to with braces.
pub const MAX_BRACE_EXPANSION: usize = 4096;

/// Expand csh-style braces (`{a,b}c` → `ac`, `bc`), as keepalived's glob(GLOB_BRACE),
/// stopping at [`MAX_BRACE_EXPANSION`] patterns (`{a,b}{a,b}...` doubles per group).
pub fn expand_braces(pat: &str) -> Vec<String> {
    let mut out = Vec::new();
    expand_into(pat, &mut out);
    out
}

fn expand_into(pat: &str, out: &mut Vec<String>) {
    if out.len() >= MAX_BRACE_EXPANSION {
        return;
    }
    let bytes = pat.as_bytes();
    let Some(open) = pat.find('{') else {
        out.push(pat.to_string());
        return;
    };
    // Find the matching close brace and the top-level commas.
    let mut depth = 0;
    let mut commas = Vec::new();
    let mut close = None;
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            b',' if depth == 1 => commas.push(i),
            _ => {}
        }
    }
    let Some(close) = close else {
        out.push(pat.to_string());
        return;
    };
    let (pre, post) = (&pat[..open], &pat[close + 1..]);
    let mut starts = vec![open + 1];
    starts.extend(commas.iter().map(|c| c + 1));
    let mut ends = commas;
    ends.push(close);
    for (s, e) in starts.into_iter().zip(ends) {
        expand_into(&format!("{}{}{}", pre, &pat[s..e], post), out);
        if out.len() >= MAX_BRACE_EXPANSION {
            return;
        }
    }
}

/// fnmatch(3) without flags beyond what a file name needs: `*`, `?`, `[...]`/`[!...]`;
/// a leading `.` must be matched explicitly, as glob(3) wants.
pub fn fnmatch(pat: &str, name: &str) -> bool {
    if name.starts_with('.') && !pat.starts_with('.') {
        return false;
    }
    let p: Vec<char> = pat.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matcher with single-star backtracking: linear in practice.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((ok, next)) = class_match(&p, pi, n[ni]) {
                        if ok {
                            pi = next;
                            ni += 1;
                            continue;
                        }
                    } else if n[ni] == '[' {
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() && p[pi + 1] == n[ni] => {
                    pi += 2;
                    ni += 1;
                    continue;
                }
                c if c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// `[...]` at `p[i]`: whether `c` is in the class and where the pattern goes on; None if
/// the class is not closed (then `[` is literal).
fn class_match(p: &[char], i: usize, c: char) -> Option<(bool, usize)> {
    let mut j = i + 1;
    let neg = j < p.len() && (p[j] == '!' || p[j] == '^');
    if neg {
        j += 1;
    }
    let mut found = false;
    let mut first = true;
    while j < p.len() && (p[j] != ']' || first) {
        first = false;
        if j + 2 < p.len() && p[j + 1] == '-' && p[j + 2] != ']' {
            if p[j] <= c && c <= p[j + 2] {
                found = true;
            }
            j += 3;
        } else {
            if p[j] == c {
                found = true;
            }
            j += 1;
        }
    }
    if j >= p.len() {
        return None;
    }
    Some((found != neg, j + 1))
}

fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// glob(3) over a [`ConfigFs`]: brace expansion, then component-wise wildcard matching;
/// the matches of each brace alternative sorted, as GLOB_BRACE without GLOB_NOSORT.
/// A pattern without wildcards yields itself if the file can be read.
pub fn glob(fs: &dyn ConfigFs, pattern: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for alt in expand_braces(&pattern.to_string_lossy()) {
        let path = PathBuf::from(&alt);
        let mut found: Vec<PathBuf> = Vec::new();
        let mut bases: Vec<PathBuf> = vec![PathBuf::new()];
        let comps: Vec<_> = path.components().collect();
        for (k, comp) in comps.iter().enumerate() {
            let s = comp.as_os_str().to_string_lossy();
            let last = k + 1 == comps.len();
            let mut next = Vec::new();
            for b in &bases {
                if has_magic(&s) {
                    let dir = if b.as_os_str().is_empty() {
                        PathBuf::from(".")
                    } else {
                        b.clone()
                    };
                    let mut names = fs.list_dir(&dir).unwrap_or_default();
                    names.sort();
                    for n in names {
                        if fnmatch(&s, &n) {
                            next.push(b.join(n));
                        }
                    }
                } else {
                    next.push(b.join(comp.as_os_str()));
                }
                if next.len() > 4096 {
                    break;
                }
            }
            bases = next;
            if last {
                found = bases.clone();
            }
        }
        found.retain(|p| fs.read(p).is_ok());
        out.extend(found);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_like_glob3() {
        assert!(fnmatch("*.conf", "a.conf"));
        assert!(!fnmatch("*.conf", ".hidden.conf"));
        assert!(fnmatch("[ab]?.c*", "b1.conf"));
        assert!(!fnmatch("[!ab]*", "a"));
        assert!(fnmatch("a*b*c", "aXXbYYc"));
        assert!(!fnmatch("a*b*c", "aXXbYY"));
        assert!(fnmatch("[", "["));
    }

    #[test]
    fn braces_expand_in_order_and_nest() {
        assert_eq!(expand_braces("{a,b{1,2}}.c"), ["a.c", "b1.c", "b2.c"]);
        assert_eq!(expand_braces("x{}y"), ["xy"]);
        assert_eq!(expand_braces("unclosed{a"), ["unclosed{a"]);
        // Exponential patterns stop at the cap, quickly.
        let bomb = "{a,b}".repeat(40);
        assert_eq!(expand_braces(&bomb).len(), MAX_BRACE_EXPANSION);
    }

    #[test]
    fn glob_over_memory() {
        let fs = MemFs::new()
            .with("/e/k/conf.d/b.conf", "")
            .with("/e/k/conf.d/a.conf", "")
            .with("/e/k/conf.d/a.txt", "")
            .with("/e/k/other/z.conf", "");
        let g = glob(&fs, Path::new("/e/k/*/*.conf"));
        assert_eq!(
            g,
            [
                PathBuf::from("/e/k/conf.d/a.conf"),
                PathBuf::from("/e/k/conf.d/b.conf"),
                PathBuf::from("/e/k/other/z.conf")
            ]
        );
        assert!(glob(&fs, Path::new("/e/k/none/*")).is_empty());
        assert_eq!(glob(&fs, Path::new("/e/k/x/../conf.d/a.txt")).len(), 1);
    }
}
