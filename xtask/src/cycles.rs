//! `cargo xtask cycles`: no import cycle between a crate's top-level modules.
//!
//! Reads every `.rs` file of a crate's `src/` and notes which top-level modules it names
//! (`use crate::a::…`, `use crate::{a, b::…}`, `crate::a::x` in code, `$crate::a` in
//! macros). A module may use its own parts freely; between two top-level modules the
//! arrows must run one way, so that the layout reads in one direction. Comments are
//! skipped (doc links name modules without depending on them). Written here rather than
//! with cargo-modules because it covers the eBPF crate too, which only builds for the bpf
//! target.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use anyhow::{Context as _, ensure};

/// Top-level module -> the top-level modules it names.
pub type Graph = BTreeMap<String, BTreeSet<String>>;

/// The module graph of the crate whose sources are in `src`.
pub fn graph(src: &Path) -> anyhow::Result<Graph> {
    let mut files = Vec::new();
    collect(src, &mut files)?;
    let mut graph = Graph::new();
    for file in files {
        let rel = file.strip_prefix(src).expect("under src");
        let Some(module) = top_module(rel) else {
            continue;
        };
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let uses = graph.entry(module.clone()).or_default();
        for m in named_modules(&strip_comments(&text)) {
            if m != module {
                uses.insert(m);
            }
        }
    }
    // Names that are not modules of the crate (items of the crate root, macros) are no
    // arrows.
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for uses in graph.values_mut() {
        uses.retain(|m| modules.contains(m));
    }
    Ok(graph)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// `event/access.rs` -> `event`, `rules.rs` -> `rules`; the crate roots are no module.
fn top_module(rel: &Path) -> Option<String> {
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_string())
}

/// The text without `//` comments (strings keep their contents; a `//` inside a string is
/// rare enough in this code base to be ignored).
fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(at) => &l[..at],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules a text names after `crate::`.
fn named_modules(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        // `crate::` as a path start, not the end of another name (`$crate::` counts).
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let trimmed = rest.trim_start();
        if let Some(group) = trimmed.strip_prefix('{') {
            for item in top_level_items(group) {
                if let Some(name) = ident(item.trim_start()) {
                    out.insert(name.to_string());
                }
            }
        } else if let Some(name) = ident(trimmed) {
            out.insert(name.to_string());
        }
    }
    out
}

/// The comma-separated items of a `{…}` group whose opening brace was just read.
fn top_level_items(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items
}

fn ident(s: &str) -> Option<&str> {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    let name = &s[..end];
    (!name.is_empty() && name != "self").then_some(name)
}

/// Every cycle of the graph, each once, as the list of modules around it.
pub fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    // Strongly connected components (Tarjan); a component of two or more is a cycle.
    struct State<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out.sort();
    s.out
}

/// Fails, naming the modules and their arrows, if a crate has an import cycle.
pub fn check(crates: &[&Path]) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    for src in crates {
        let g = graph(src)?;
        for cycle in cycles(&g) {
            let arrows: Vec<String> = cycle
                .iter()
                .flat_map(|a| {
                    g[a].iter()
                        .filter(|b| cycle.contains(b))
                        .map(move |b| format!("{a} -> {b}"))
                })
                .collect();
            problems.push(format!(
                "{}: import cycle between {} ({})",
                src.display(),
                cycle.join(", "),
                arrows.join(", ")
            ));
        }
    }
    ensure!(
        problems.is_empty(),
        "modules must import one way (move what both need below both):\n{}",
        problems.join("\n")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_paths_groups_and_macro_paths_but_not_comments() {
        let text = "use crate::{\n    advisor::{self, Advisor},\n    cgroup::v2_root,\n    \
                    event::{access::Event, Process},\n};\nfn f() { crate::rules::workload(x); \
                    $crate::queue::bounded(1); }\n/// See [`crate::metrics`].\n";
        let got = named_modules(&strip_comments(text));
        let want: BTreeSet<String> = ["advisor", "cgroup", "event", "rules", "queue"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn finds_each_cycle_once() {
        let mut g = Graph::new();
        let mut arrow = |a: &str, b: &str| {
            g.entry(a.to_string()).or_default().insert(b.to_string());
            g.entry(b.to_string()).or_default();
        };
        arrow("a", "b");
        arrow("b", "c");
        arrow("c", "a");
        arrow("c", "d");
        arrow("e", "f");
        arrow("f", "e");
        assert_eq!(
            cycles(&g),
            vec![vec!["a", "b", "c"], vec!["e", "f"]]
                .into_iter()
                .map(|c| c.into_iter().map(String::from).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        );
    }
}
