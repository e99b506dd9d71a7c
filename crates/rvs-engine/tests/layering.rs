//! The engine's modules form a DAG: no module reaches (through `crate::` paths, in `use`
//! lines or inline) a module that reaches it back, directly or through others. A module's
//! own files (`xmit/*.rs`, `conn/*.rs`) count as one node; `lib.rs` is the facade, and a
//! `crate::Name` it re-exports counts as a path into the module that defines `Name`.
//!
//! Hand-rolled scanning rather than a Rust parser: `crate::` paths are all it has to find.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without its `//` comments (doc comments name modules too).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first segment of every `crate::` path, `crate::{a, b::c}` giving `a` and `b`.
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').expect("closed use group");
            for item in group[..end].split(',') {
                let name = ident(item.trim());
                if !name.is_empty() {
                    out.push(name.to_string());
                }
            }
        } else {
            out.push(ident(rest).to_string());
        }
    }
    out
}

/// The module graph: node → the modules its code names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = code(&std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs"));
    let mut modules = BTreeSet::new();
    // Names lib.rs re-exports, with the module they come from.
    let mut reexports = BTreeMap::new();
    for stmt in lib.split(';') {
        let stmt = stmt.trim();
        let decl = stmt
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("mod ") || l.starts_with("pub mod "));
        if let Some(decl) = decl {
            modules.insert(
                ident(decl.trim_start_matches("pub ").trim_start_matches("mod ")).to_string(),
            );
        } else if let Some(rest) = stmt.strip_prefix("pub use ") {
            let module = ident(rest).to_string();
            let names = rest[module.len()..].trim_start_matches("::");
            for name in names.trim_matches(|c| c == '{' || c == '}').split(',') {
                let name = ident(name.trim());
                if !name.is_empty() {
                    reexports.insert(name.to_string(), module.clone());
                }
            }
        }
    }
    assert!(
        modules.contains("engine") && modules.contains("xmit"),
        "{modules:?}"
    );
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).expect("under src");
        let first = rel.iter().next().expect("a path").to_string_lossy();
        let node = first.trim_end_matches(".rs").to_string();
        if node == "lib" {
            continue;
        }
        assert!(
            modules.contains(&node),
            "{} is not a module of lib.rs",
            rel.display()
        );
        let text = code(&std::fs::read_to_string(&f).expect("source"));
        for seg in crate_paths(&text) {
            let target = if modules.contains(&seg) {
                seg
            } else if let Some(m) = reexports.get(&seg) {
                m.clone()
            } else {
                panic!(
                    "{}: crate::{seg} is neither a module nor a re-export",
                    rel.display()
                );
            };
            if target != node {
                g.entry(node.clone()).or_default().insert(target);
            }
        }
        g.entry(node).or_default();
    }
    g
}

/// A cycle through `node`, if the graph has one reachable from it.
fn find_cycle(
    g: &BTreeMap<String, BTreeSet<String>>,
    node: &str,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if let Some(i) = path.iter().position(|n| n == node) {
        let mut cycle = path[i..].to_vec();
        cycle.push(node.to_string());
        return Some(cycle);
    }
    if done.contains(node) {
        return None;
    }
    path.push(node.to_string());
    for next in g.get(node).into_iter().flatten() {
        if let Some(c) = find_cycle(g, next, path, done) {
            return Some(c);
        }
    }
    path.pop();
    done.insert(node.to_string());
    None
}

#[test]
fn modules_form_a_dag() {
    let g = graph();
    // The check must see the edges it is about, or it proves nothing.
    assert!(
        g["engine"].contains("xmit"),
        "engine → xmit not seen: {g:?}"
    );
    assert!(g["route"].contains("rt"), "route → rt not seen: {g:?}");
    let mut done = BTreeSet::new();
    for node in g.keys() {
        if let Some(cycle) = find_cycle(&g, node, &mut Vec::new(), &mut done) {
            panic!("module cycle: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn the_check_finds_a_cycle() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("engine".into()).or_default().insert("xmit".into());
    g.entry("xmit".into()).or_default().insert("conn".into());
    g.entry("conn".into()).or_default().insert("engine".into());
    let cycle = find_cycle(&g, "engine", &mut Vec::new(), &mut BTreeSet::new());
    assert_eq!(
        cycle.expect("a cycle"),
        ["engine", "xmit", "conn", "engine"].map(String::from)
    );
}
