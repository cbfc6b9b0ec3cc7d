//! The shape of the source tree: which way the arrows point. Reads `src/`
//! as text, resolves every `crate::`/`super::`/`self::` path (in `use`
//! statements and in code) to the file that defines it — following `pub
//! use` re-exports — and checks that
//!
//! - no file imports a file that imports it back (no cycle of any length),
//!   nor does a folder module (`app::booking`, `api::consultations`…);
//! - the layers point down only: `api` → `app` → (`domain`, `store`, the
//!   adapters) → `db`; `app` knows nothing of actix or `api`; `domain` does
//!   no I/O.
//!
//! Test modules (`#[cfg(test)] mod tests`, `tests.rs`) are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type ModPath = Vec<String>;

struct SourceFile {
    text: String,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/app/booking/cancel.rs` → `app::booking::cancel`.
fn module_of(path: &Path) -> Option<ModPath> {
    let rel = path.strip_prefix(src_dir()).ok()?;
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    match parts.last().map(String::as_str) {
        Some("main") if parts.len() == 1 => return None,
        Some("tests") => return None,
        Some("mod") | Some("lib") => {
            parts.pop();
        }
        _ => {}
    }
    Some(parts)
}

/// The code of a file without comments, string contents and test modules.
fn code_of(text: &str) -> String {
    let cut = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    let mut out = String::new();
    for line in text[..cut].lines() {
        let mut in_str = false;
        let mut prev = ' ';
        let mut kept = String::new();
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if !in_str && c == '/' && chars.get(i + 1) == Some(&'/') {
                break;
            }
            if c == '"' && prev != '\\' {
                in_str = !in_str;
                kept.push('"');
            } else if !in_str {
                kept.push(c);
            }
            prev = c;
            i += 1;
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

/// Expands a `use` tree (`a::{b, c::{d, e}}`) into full paths.
fn expand(tree: &str) -> Vec<String> {
    // Drop renames (`x as y`), then the white space.
    let mut plain = String::new();
    let mut rest = tree;
    while let Some(i) = rest.find(" as ") {
        plain.push_str(&rest[..i]);
        let after = &rest[i + 4..];
        let end = after.find([',', '}']).unwrap_or(after.len());
        rest = &after[end..];
    }
    plain.push_str(rest);
    let tree: String = plain.chars().filter(|c| !c.is_whitespace()).collect();
    fn walk(prefix: &str, t: &str, out: &mut Vec<String>) {
        if let Some(open) = t.find('{') {
            let head = &t[..open];
            let inner = &t[open + 1..t.rfind('}').unwrap_or(t.len())];
            let mut depth = 0;
            let mut start = 0;
            let base = format!("{prefix}{head}");
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        walk(&base, &inner[start..i], out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            walk(&base, &inner[start..], out);
        } else if !t.is_empty() {
            let item = t;
            if item == "self" {
                out.push(prefix.trim_end_matches("::").to_owned());
            } else {
                out.push(format!("{prefix}{item}"));
            }
        }
    }
    let mut out = Vec::new();
    walk("", &tree, &mut out);
    out
}

/// `use` trees of a file's code: (is `pub use`, tree).
fn use_trees(code: &str) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while let Some(pos) = code[i..].find("use ") {
        let at = i + pos;
        let boundary = at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
        let line_start = code[..at].rfind('\n').map_or(0, |n| n + 1);
        let before = code[line_start..at].trim();
        if boundary && (before.is_empty() || before.starts_with("pub")) {
            let end = code[at..].find(';').map_or(code.len(), |n| at + n);
            out.push((before.starts_with("pub"), code[at + 4..end].to_owned()));
            i = end;
        } else {
            i = at + 4;
        }
    }
    out
}

/// Absolute segments of a path written in `module`.
fn absolute(module: &ModPath, path: &str) -> Option<ModPath> {
    let mut segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let mut base: ModPath = match segs.first().copied() {
        Some("crate") => {
            segs.remove(0);
            Vec::new()
        }
        Some("self") => {
            segs.remove(0);
            module.clone()
        }
        Some("super") => {
            let mut b = module.clone();
            while segs.first() == Some(&"super") {
                segs.remove(0);
                b.pop();
            }
            b
        }
        _ => return None,
    };
    base.extend(segs.iter().map(|s| s.to_string()));
    Some(base)
}

struct Tree {
    files: BTreeMap<ModPath, SourceFile>,
    /// Per module: re-exported name → absolute path it stands for.
    reexports: BTreeMap<ModPath, BTreeMap<String, ModPath>>,
    /// `macro_rules!` name → defining module.
    macros: BTreeMap<String, ModPath>,
}

impl Tree {
    fn load() -> Tree {
        let mut paths = Vec::new();
        collect(&src_dir(), &mut paths);
        let mut files = BTreeMap::new();
        for p in paths {
            if let Some(module) = module_of(&p) {
                let text = std::fs::read_to_string(&p).unwrap();
                files.insert(module, SourceFile { text });
            }
        }
        let mut reexports = BTreeMap::new();
        let mut macros = BTreeMap::new();
        for (m, f) in &files {
            let code = code_of(&f.text);
            let mut map = BTreeMap::new();
            for (public, tree) in use_trees(&code) {
                if !public {
                    continue;
                }
                for path in expand(&tree) {
                    if let Some(abs) = absolute(m, &path) {
                        if let Some(name) = abs.last() {
                            map.insert(name.clone(), abs.clone());
                        }
                    }
                }
            }
            reexports.insert(m.clone(), map);
            for (i, _) in code.match_indices("macro_rules! ") {
                let name: String = code[i + 13..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                macros.insert(name, m.clone());
            }
        }
        Tree {
            files,
            reexports,
            macros,
        }
    }

    /// The file an absolute path refers to, following re-exports.
    fn resolve(&self, abs: &ModPath, depth: usize) -> Option<ModPath> {
        if abs.len() == 1 {
            if let Some(m) = self.macros.get(&abs[0]) {
                return Some(m.clone());
            }
        }
        let mut n = abs.len();
        while n > 0 && !self.files.contains_key(&abs[..n]) {
            n -= 1;
        }
        let module = abs[..n].to_vec();
        if !self.files.contains_key(&module) {
            return None;
        }
        if n < abs.len() && depth < 8 {
            if let Some(target) = self.reexports.get(&module).and_then(|r| r.get(&abs[n])) {
                let mut next = target.clone();
                next.extend(abs[n + 1..].iter().cloned());
                if &next != abs {
                    return self.resolve(&next, depth + 1).or(Some(module));
                }
            }
        }
        Some(module)
    }

    /// The files each file refers to.
    fn edges(&self) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
        let mut edges = BTreeMap::new();
        for (m, f) in &self.files {
            let code = code_of(&f.text);
            let mut targets = BTreeSet::new();
            let mut paths: Vec<String> = Vec::new();
            for (public, tree) in use_trees(&code) {
                let _ = public;
                paths.extend(expand(&tree));
            }
            for prefix in ["crate::", "super::", "self::"] {
                for (i, _) in code.match_indices(prefix) {
                    let ok = i == 0
                        || !code.as_bytes()[i - 1].is_ascii_alphanumeric()
                            && code.as_bytes()[i - 1] != b':';
                    if !ok {
                        continue;
                    }
                    let p: String = code[i..]
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                        .collect();
                    // `a::{b, c}`: a use group, expanded above.
                    if code[i + p.len()..].starts_with('{') {
                        continue;
                    }
                    paths.push(p.trim_end_matches(':').to_owned());
                }
            }
            for p in paths {
                if let Some(abs) = absolute(m, &p) {
                    if let Some(target) = self.resolve(&abs, 0) {
                        if &target != m {
                            targets.insert(target);
                        }
                    }
                }
            }
            edges.insert(m.clone(), targets);
        }
        // A module's own `mod` declarations are not imports; its children
        // naming the parent's items are, and the parent re-exporting a
        // child is: both directions are kept, so a parent that holds code
        // its children use while re-exporting them shows as a cycle.
        edges
    }
}

/// Strongly connected components with more than one member.
fn cycles(edges: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<ModPath>> {
    let nodes: Vec<&ModPath> = edges.keys().collect();
    let index: BTreeMap<&ModPath, usize> = nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let reach = |from: usize| -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from];
        while let Some(n) = stack.pop() {
            for t in edges.get(nodes[n]).into_iter().flatten() {
                if let Some(&ti) = index.get(t) {
                    if seen.insert(ti) {
                        stack.push(ti);
                    }
                }
            }
        }
        seen
    };
    let reaches: Vec<BTreeSet<usize>> = (0..nodes.len()).map(reach).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for i in 0..nodes.len() {
        if done.contains(&i) {
            continue;
        }
        let scc: Vec<usize> = (0..nodes.len())
            .filter(|&j| j == i || (reaches[i].contains(&j) && reaches[j].contains(&i)))
            .collect();
        if scc.len() > 1 {
            out.push(scc.iter().map(|&j| nodes[j].clone()).collect());
        }
        done.extend(scc);
    }
    out
}

fn show(m: &ModPath) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

/// Folder modules as units: `app::booking::cancel` → `app::booking`; a
/// file module (`app::holds`) is its own unit.
fn unit_of(m: &ModPath) -> ModPath {
    m.iter().take(2).cloned().collect()
}

#[test]
fn no_file_or_folder_imports_what_imports_it_back() {
    let tree = Tree::load();
    let edges = tree.edges();
    let file_cycles = cycles(&edges);
    let mut units: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for (from, tos) in &edges {
        let u = unit_of(from);
        let entry = units.entry(u.clone()).or_default();
        for t in tos {
            let tu = unit_of(t);
            // A unit and the folder it sits in (`app::booking` in `app`)
            // are parent and child, not peers.
            if tu != u && !u.starts_with(&tu) && !tu.starts_with(&u) {
                entry.insert(tu);
            }
        }
    }
    let unit_cycles = cycles(&units);
    let render = |cs: &[Vec<ModPath>]| {
        cs.iter()
            .map(|c| c.iter().map(show).collect::<Vec<_>>().join(" ⇄ "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        file_cycles.is_empty(),
        "files importing each other:\n{}",
        render(&file_cycles)
    );
    assert!(
        unit_cycles.is_empty(),
        "folder modules importing each other:\n{}",
        render(&unit_cycles)
    );
}

#[test]
fn the_layers_point_down_only() {
    let tree = Tree::load();
    let edges = tree.edges();
    // What each layer may not refer to.
    let forbidden: &[(&str, &[&str])] = &[
        ("app", &["api", "startup"]),
        (
            "domain",
            &[
                "api", "app", "store", "db", "payments", "cache", "outbound", "startup", "seed",
                "config", "notify",
            ],
        ),
        (
            "store",
            &[
                "api", "app", "startup", "seed", "payments", "cache", "outbound", "notify",
            ],
        ),
        (
            "db",
            &["api", "app", "store", "startup", "seed", "payments"],
        ),
        (
            "payments",
            &["api", "app", "store", "db", "startup", "seed"],
        ),
        ("cache", &["api", "app", "store", "db", "startup"]),
        ("outbound", &["api", "app", "store", "db", "startup"]),
        (
            "metrics",
            &[
                "api", "app", "store", "db", "startup", "seed", "payments", "cache", "outbound",
                "domain", "config", "notify",
            ],
        ),
        ("notify", &["api", "app", "store", "db", "startup", "seed"]),
    ];
    let mut wrong = Vec::new();
    for (from, tos) in &edges {
        let Some(layer) = from.first() else { continue };
        for (l, banned) in forbidden {
            if layer != l {
                continue;
            }
            for t in tos {
                if t.first().is_some_and(|top| banned.contains(&top.as_str())) {
                    wrong.push(format!("{} → {}", show(from), show(t)));
                }
            }
        }
        if layer == "app" || layer == "domain" || layer == "store" {
            let code = code_of(&tree.files[from].text);
            if code.contains("actix_web") || code.contains("HttpRequest") {
                wrong.push(format!("{} uses actix", show(from)));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows pointing the wrong way:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_checker_sees_what_it_should() {
    // A guard against a checker that sees nothing: known arrows are found.
    let tree = Tree::load();
    let edges = tree.edges();
    let has = |from: &str, to: &str| {
        let f: ModPath = from.split("::").map(str::to_owned).collect();
        let t: ModPath = to.split("::").map(str::to_owned).collect();
        edges.get(&f).is_some_and(|e| e.contains(&t))
    };
    assert!(has("api::consultations::create", "app::booking::create"));
    assert!(has("app::booking::cancel", "app::refunds"));
    assert!(has("app::holds", "app::tx"), "Tx through the app re-export");
    assert!(
        has("store::consultations", "db::connection"),
        "native! and DbConnection"
    );
    assert_eq!(
        expand("crate::a::{self, b, c::{d, e as f}}"),
        vec![
            "crate::a",
            "crate::a::b",
            "crate::a::c::d",
            "crate::a::c::e"
        ]
    );
}
