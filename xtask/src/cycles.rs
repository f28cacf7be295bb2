//! `cargo xtask cycles`: no import cycle between a crate's modules, at two levels.
//!
//! Reads every `.rs` file of a crate's `src/` and notes which modules it names
//! (`use crate::a::…`, `use crate::{a, b::…}`, `crate::a::x` in code, `$crate::a` in
//! macros, `super::x` between the parts of one folder). A module may use its own parts
//! freely; otherwise the arrows must run one way, both between the top-level modules
//! (`pipeline` and `outputs`) and between the parts of one folder (`resolve::containers`
//! and `resolve::processes`), so that the layout reads in one direction. A part and the
//! folder it sits in may name each other (a folder re-exports its parts; a part uses its
//! folder's items). Comments are skipped (doc links name modules without depending on
//! them). Written here rather than with cargo-modules because it covers the eBPF crate
//! too, which only builds for the bpf target.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use anyhow::{Context as _, ensure};

/// Module (`event`, `resolve::containers`) -> the modules it names.
pub type Graph = BTreeMap<String, BTreeSet<String>>;

/// The module graph of the crate whose sources are in `src`, to two levels: a file deeper
/// than `a/b` counts as part of `a::b`.
pub fn graph(src: &Path) -> anyhow::Result<Graph> {
    let mut files = Vec::new();
    collect(src, &mut files)?;
    let mut graph = Graph::new();
    let mut named = Vec::new();
    for file in files {
        let rel = file.strip_prefix(src).expect("under src");
        let Some(module) = module_of(rel) else {
            continue;
        };
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let text = strip_comments(&text);
        let mut uses = named_modules(&text);
        // `super::x` in `a/b.rs` (or `a/b/mod.rs`) names the sibling `a::x`.
        if let [folder, _] = module.as_slice() {
            for sibling in super_names(&text) {
                uses.insert(vec![folder.clone(), sibling]);
            }
        }
        graph.entry(module.join("::")).or_default();
        named.push((module, uses));
    }
    // A name is the deepest module it reaches (`event::Posture` is an item of `event`);
    // names that are no module of the crate (items of the root, macros) are no arrows, and
    // neither is a name of the module itself, its folder or one of its parts.
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for (module, uses) in named {
        let from = module.join("::");
        for path in uses {
            let to = if path.len() > 1 && modules.contains(&path.join("::")) {
                path.join("::")
            } else {
                path[0].clone()
            };
            let related = to == from
                || from.starts_with(&format!("{to}::"))
                || to.starts_with(&format!("{from}::"));
            if modules.contains(&to) && !related {
                graph.get_mut(&from).expect("entered above").insert(to);
            }
        }
    }
    Ok(graph)
}

/// The graph of the top-level modules only: `a::b -> c::d` is `a -> c`.
pub fn top_level(graph: &Graph) -> Graph {
    let top = |m: &str| m.split("::").next().unwrap_or(m).to_string();
    let mut out = Graph::new();
    for (from, uses) in graph {
        let entry = out.entry(top(from)).or_default();
        entry.extend(uses.iter().map(|m| top(m)).filter(|m| *m != top(from)));
    }
    out
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

/// `event/access.rs` -> `[event, access]`, `rules.rs` and `rules/mod.rs` -> `[rules]`,
/// `a/b/c.rs` -> `[a, b]`; the crate roots are no module.
fn module_of(rel: &Path) -> Option<Vec<String>> {
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_str().map(str::to_string))
        .collect::<Option<_>>()?;
    let last = parts.pop()?;
    let stem = last.strip_suffix(".rs").unwrap_or(&last).to_string();
    if stem != "mod" {
        parts.push(stem);
    }
    parts.truncate(2);
    match parts.first().map(String::as_str) {
        None | Some("lib" | "main") if parts.len() <= 1 => None,
        _ => Some(parts),
    }
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

/// The module paths (one or two names) a text names after `crate::`.
fn named_modules(text: &str) -> BTreeSet<Vec<String>> {
    let mut out = BTreeSet::new();
    for rest in after(text, "crate::") {
        let trimmed = rest.trim_start();
        if let Some(group) = trimmed.strip_prefix('{') {
            for item in top_level_items(group) {
                out.extend(path_of(item.trim_start()));
            }
        } else {
            out.extend(path_of(trimmed));
        }
    }
    out
}

/// The names a text reaches through `super::` (`super::{a, b}` too).
fn super_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for rest in after(text, "super::") {
        let trimmed = rest.trim_start();
        let items = match trimmed.strip_prefix('{') {
            Some(group) => top_level_items(group),
            None => vec![trimmed],
        };
        for item in items {
            // `super::super::x` leaves the folder; `super::*` names nothing in particular.
            if let Some(name) = ident(item.trim_start()).filter(|n| *n != "super") {
                out.insert(name.to_string());
            }
        }
    }
    out
}

/// What follows each `prefix` that starts a path (not the end of a longer name;
/// `$crate::` counts).
fn after<'a>(text: &'a str, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    text.match_indices(prefix).filter_map(move |(at, _)| {
        let before = text[..at].chars().next_back();
        (!before.is_some_and(|c| c.is_alphanumeric() || c == '_'))
            .then(|| &text[at + prefix.len()..])
    })
}

/// `a::b::X` -> `[a, b]`, `a::{b, c}` -> `[a, b]` and `[a, c]`, `a` -> `[a]`.
fn path_of(s: &str) -> Vec<Vec<String>> {
    let Some(first) = ident(s) else {
        return Vec::new();
    };
    let rest = s[first.len()..].trim_start();
    let Some(rest) = rest.strip_prefix("::") else {
        return vec![vec![first.to_string()]];
    };
    let rest = rest.trim_start();
    let seconds: Vec<&str> = match rest.strip_prefix('{') {
        Some(group) => top_level_items(group)
            .into_iter()
            .filter_map(|i| ident(i.trim_start()))
            .collect(),
        None => ident(rest).into_iter().collect(),
    };
    if seconds.is_empty() {
        return vec![vec![first.to_string()]];
    }
    seconds
        .into_iter()
        .map(|s| vec![first.to_string(), s.to_string()])
        .collect()
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
        let parts = graph(src)?;
        let top = top_level(&parts);
        for (g, cycle) in cycles(&top)
            .into_iter()
            .map(|c| (&top, c))
            .chain(cycles(&parts).into_iter().map(|c| (&parts, c)))
        {
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

    fn paths(list: &[&str]) -> BTreeSet<Vec<String>> {
        list.iter()
            .map(|p| p.split("::").map(String::from).collect())
            .collect()
    }

    #[test]
    fn reads_paths_groups_and_macro_paths_but_not_comments() {
        let text = "use crate::{\n    advisor::{self, Advisor},\n    resolve::cgroup::v2_root,\n    \
                    event::{access::Event, Process},\n};\nfn f() { crate::rules::workload(x); \
                    $crate::pipeline::queue::bounded(1); }\n/// See [`crate::metrics`].\n";
        let got = named_modules(&strip_comments(text));
        let want = paths(&[
            "advisor::Advisor",
            "resolve::cgroup",
            "event::access",
            "event::Process",
            "rules::workload",
            "pipeline::queue",
        ]);
        assert_eq!(got, want);
    }

    #[test]
    fn sees_cycles_inside_a_folder_but_not_between_a_folder_and_its_parts() {
        let dir = std::env::temp_dir().join(format!("privmon-cycles-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let write = |rel: &str, text: &str| {
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("lib.rs", "pub mod resolve;\npub mod event;\n");
        write(
            "resolve/mod.rs",
            "pub mod a;\npub mod b;\npub use self::a::A;\n",
        );
        write(
            "resolve/a.rs",
            "use super::b::B;\nuse crate::resolve::Shared;\n",
        );
        write(
            "resolve/b.rs",
            "use crate::resolve::a::A;\nuse crate::event::E;\n",
        );
        write("event.rs", "// crate::resolve is only named in a comment\n");
        let g = graph(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(g["resolve::a"], ["resolve::b".to_string()].into());
        assert_eq!(
            g["resolve::b"],
            ["event".to_string(), "resolve::a".to_string()].into()
        );
        assert!(g["resolve"].is_empty(), "a folder may name its parts");
        assert_eq!(cycles(&g), vec![vec!["resolve::a", "resolve::b"]]);
        assert!(cycles(&top_level(&g)).is_empty());
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
