//! The master's modules point one way (docs/ARCHITECTURE.md, *Layers*): the domain uses no other
//! module of the crate, `reasons` only the domain, storage (`db`, `market`) nothing above it, and
//! no module reaches back to one that reaches it (no cycle). Read from the source: every
//! `crate::…` and, inside `actors/`, `super::…` path outside comments and unit tests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module of the layering: a top-level module, or one actor (`actors::session`).
type Module = String;

fn master_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../master/src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read master/src") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a source file belongs to.
fn module_of(relative: &Path) -> Module {
    let parts: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .filter(|p| p != "mod")
        .collect();
    match parts.as_slice() {
        [actors, actor, ..] if actors == "actors" => format!("actors::{actor}"),
        [first, ..] => first.clone(),
        [] => String::new(),
    }
}

/// The code of a file without comment lines and without its `#[cfg(test)]` module.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Identifiers following `prefix` in `code` (`crate::db::x` → `db`, `x`).
fn paths_after<'a>(code: &'a str, prefix: &'a str) -> impl Iterator<Item = (String, String)> + 'a {
    code.match_indices(prefix).map(move |(at, _)| {
        let rest = &code[at + prefix.len()..];
        let word = |s: &str| -> String {
            s.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        };
        let first = word(rest);
        let second = rest[first.len()..]
            .strip_prefix("::")
            .map(word)
            .unwrap_or_default();
        (first, second)
    })
}

/// Which modules each module uses.
fn uses() -> BTreeMap<Module, BTreeSet<Module>> {
    let src = master_src();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let actors: BTreeSet<String> = files
        .iter()
        .filter_map(|f| f.strip_prefix(&src).ok())
        .map(module_of)
        .filter(|m| m.starts_with("actors::"))
        .collect();
    let mut graph: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under master/src");
        let from = module_of(relative);
        if from == "lib" || from == "main" {
            continue;
        }
        let text = code(&std::fs::read_to_string(file).expect("read source"));
        let mut targets: Vec<Module> = paths_after(&text, "crate::")
            .map(|(first, second)| match first.as_str() {
                "actors" if actors.contains(&format!("actors::{second}")) => {
                    format!("actors::{second}")
                }
                _ => first,
            })
            .collect();
        if from.starts_with("actors::") {
            targets.extend(
                paths_after(&text, "super::")
                    .map(|(first, _)| format!("actors::{first}"))
                    .filter(|m| actors.contains(m)),
            );
        }
        let entry = graph.entry(from.clone()).or_default();
        entry.extend(targets.into_iter().filter(|t| *t != from && !t.is_empty()));
    }
    graph
}

/// A cycle through `start`, if there is one.
fn cycle_through(graph: &BTreeMap<Module, BTreeSet<Module>>, start: &str) -> Option<Vec<Module>> {
    fn walk(
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        start: &str,
        path: &mut Vec<Module>,
        seen: &mut BTreeSet<Module>,
    ) -> bool {
        let here = path.last().cloned().unwrap_or_default();
        for next in graph.get(&here).into_iter().flatten() {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_owned()];
    walk(graph, start, &mut path, &mut BTreeSet::new()).then_some(path)
}

#[test]
fn the_master_has_no_module_cycle() {
    let graph = uses();
    assert!(graph.contains_key("domain") && graph.contains_key("actors::session"));
    for module in graph.keys() {
        if let Some(cycle) = cycle_through(&graph, module) {
            panic!("module cycle: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn lower_layers_never_use_higher_ones() {
    let graph = uses();
    let allowed: &[(&str, &[&str])] = &[
        ("domain", &[]),
        ("reasons", &["domain"]),
        ("db", &["domain", "reasons"]),
        ("market", &["domain", "config"]),
        ("oidc", &["domain"]),
    ];
    for (module, may_use) in allowed {
        let used = graph.get(*module).cloned().unwrap_or_default();
        let wrong: Vec<&Module> = used
            .iter()
            .filter(|m| !may_use.contains(&m.as_str()))
            .collect();
        assert!(
            wrong.is_empty(),
            "{module} uses {wrong:?}; it may use only {may_use:?}"
        );
    }
    for (module, used) in &graph {
        if module.starts_with("actors::") {
            let upward: Vec<&Module> = used
                .iter()
                .filter(|m| {
                    ["router", "queries", "accept", "admin", "server"].contains(&m.as_str())
                })
                .collect();
            // A worker link is the network side: it hands forwarded requests to the router.
            if module != "actors::worker_link" {
                assert!(upward.is_empty(), "{module} uses {upward:?}");
            }
        }
    }
}
