//! No crate imports its own modules in a circle: in every crate of the
//! workspace, the modules' references to each other (`crate::…`,
//! `super::…`, test modules aside) form no cycle. A circle is a module
//! that cannot be understood, tested or moved without the others in it;
//! ARCHITECTURE.md keeps the crates' layering, and this test keeps it true
//! inside each crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `a/b.rs` → `a::b`; `a/mod.rs`, `lib.rs`, `main.rs` → their folder's module.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src").with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts.join("::")
}

/// The code of a file without comments and without its test module.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths of a use tree starting at `at` (just after `crate::` or
/// `super::`): `a::b`, `a::{b, c::{d}}` → `a::b`, `a::c::d`, `a` …
fn use_paths(text: &[u8], mut at: usize, prefix: &str, out: &mut Vec<String>) -> usize {
    let mut path = prefix.to_owned();
    loop {
        let start = at;
        while at < text.len() && (text[at].is_ascii_alphanumeric() || text[at] == b'_') {
            at += 1;
        }
        if at > start {
            let ident = String::from_utf8_lossy(&text[start..at]);
            if !path.is_empty() {
                path.push_str("::");
            }
            path.push_str(&ident);
            out.push(path.clone());
        }
        let group = if text[at..].starts_with(b"::{") {
            Some(3)
        } else if at == start && text.get(at) == Some(&b'{') {
            Some(1)
        } else {
            None
        };
        if let Some(skip) = group {
            at += skip;
            loop {
                while at < text.len() && text[at].is_ascii_whitespace() {
                    at += 1;
                }
                if at >= text.len() || text[at] == b'}' {
                    return at + 1;
                }
                at = use_paths(text, at, &path, out);
                while at < text.len() && (text[at].is_ascii_whitespace() || text[at] == b',') {
                    at += 1;
                }
            }
        }
        if text[at..].starts_with(b"::") && text.get(at + 2).is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') {
            at += 2;
            continue;
        }
        // `as name`, `*`, or the end of the path.
        while at < text.len() && !matches!(text[at], b',' | b'}' | b';' | b'\n' | b'(' | b')' | b'<' | b'>') {
            if text[at] == b'{' {
                break;
            }
            at += 1;
        }
        return at;
    }
}

/// Which modules each module of the crate at `src` refers to.
fn references(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeMap<String, PathBuf> = files.iter().map(|f| (module_of(src, f), f.clone())).collect();
    let resolve = |path: &str| -> Option<String> {
        let segments: Vec<&str> = path.split("::").collect();
        (1..=segments.len())
            .rev()
            .map(|n| segments[..n].join("::"))
            .find(|m| modules.contains_key(m))
    };
    let mut edges = BTreeMap::new();
    for (module, file) in &modules {
        let text = code(&std::fs::read_to_string(file).expect("read a source file"));
        let bytes = text.as_bytes();
        let mut paths = Vec::new();
        for needle in ["crate::", "super::"] {
            let mut from = 0;
            while let Some(found) = text[from..].find(needle) {
                let at = from + found;
                let preceded =
                    at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_' || bytes[at - 1] == b':');
                from = at + needle.len();
                if preceded {
                    continue;
                }
                let mut prefix: Vec<&str> = if needle == "crate::" {
                    Vec::new()
                } else {
                    module.split("::").filter(|s| !s.is_empty()).collect()
                };
                if needle == "super::" {
                    prefix.pop();
                    while text[from..].starts_with("super::") {
                        prefix.pop();
                        from += "super::".len();
                    }
                }
                use_paths(bytes, from, &prefix.join("::"), &mut paths);
            }
        }
        let targets: BTreeSet<String> = paths
            .iter()
            .filter_map(|p| resolve(p))
            .filter(|t| !t.is_empty() && t != module && !module.starts_with(&format!("{t}::")))
            .collect();
        edges.insert(module.clone(), targets);
    }
    edges
}

/// The cycles (strongly connected components of more than one module).
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Kosaraju: order by finish time, then walk the reversed graph.
    fn finish(
        v: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        seen: &mut BTreeSet<String>,
        order: &mut Vec<String>,
    ) {
        if !seen.insert(v.to_owned()) {
            return;
        }
        for w in edges.get(v).into_iter().flatten() {
            finish(w, edges, seen, order);
        }
        order.push(v.to_owned());
    }
    let mut seen = BTreeSet::new();
    let mut order = Vec::new();
    for v in edges.keys() {
        finish(v, edges, &mut seen, &mut order);
    }
    let mut reversed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (v, ws) in edges {
        for w in ws {
            reversed.entry(w.clone()).or_default().insert(v.clone());
        }
    }
    let mut assigned = BTreeSet::new();
    let mut found = Vec::new();
    for v in order.iter().rev() {
        let mut component = Vec::new();
        finish(v, &reversed, &mut assigned, &mut component);
        if component.len() > 1 {
            component.sort();
            found.push(component);
        }
    }
    found
}

#[test]
fn no_crate_imports_its_modules_in_a_circle() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut checked = 0;
    let mut report = String::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&crates)
        .expect("crates/")
        .flatten()
        .map(|e| e.path().join("src"))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for src in dirs {
        let edges = references(&src);
        checked += edges.len();
        for circle in circles(&edges) {
            report += &format!("{}: {}\n", src.display(), circle.join(" ↔ "));
            for m in &circle {
                let inside: Vec<&String> = edges[m].iter().filter(|t| circle.contains(t)).collect();
                report += &format!("    {m} → {inside:?}\n");
            }
        }
    }
    assert!(checked > 100, "only {checked} modules found under {}", crates.display());
    assert!(
        report.is_empty(),
        "modules that import each other in a circle:\n{report}"
    );
}

/// The checker itself finds a circle, through `use` trees and `super`.
#[test]
fn a_circle_is_found() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path();
    std::fs::create_dir(src.join("net")).expect("mkdir");
    std::fs::write(src.join("lib.rs"), "mod a;\nmod net;\n").expect("write");
    std::fs::write(src.join("a.rs"), "use crate::{net::{wire::Frame, x}, b};\n").expect("write");
    std::fs::write(src.join("net/mod.rs"), "pub mod wire;\n").expect("write");
    std::fs::write(src.join("net/wire.rs"), "// crate::a::x in a comment is not a use\n").expect("write");
    let edges = references(src);
    assert_eq!(edges["a"], BTreeSet::from(["net".to_owned(), "net::wire".to_owned()]));
    assert_eq!(circles(&edges), Vec::<Vec<String>>::new());
    std::fs::write(src.join("net/wire.rs"), "fn f() { super::super::a::g() }\n").expect("write");
    let circle = vec![vec!["a".to_owned(), "net::wire".to_owned()]];
    assert_eq!(circles(&references(src)), circle, "through super::super");
    std::fs::write(src.join("net/wire.rs"), "use crate::{b, a::{Thing as T}};\n").expect("write");
    assert_eq!(circles(&references(src)), circle, "through a use tree");
}
