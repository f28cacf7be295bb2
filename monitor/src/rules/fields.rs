//! The event fields a rule may name: those of the event schema (docs/event.schema.json),
//! so a typo in a rule is an error at load time rather than a rule that never fires.

use std::sync::OnceLock;

use serde_json::Value;

const SCHEMA: &str = include_str!("../../../docs/event.schema.json");

fn schema() -> &'static Value {
    static S: OnceLock<Value> = OnceLock::new();
    S.get_or_init(|| serde_json::from_str(SCHEMA).expect("docs/event.schema.json is valid JSON"))
}

/// The schemas that describe the top level: the root and each kind-specific branch.
fn roots() -> Vec<&'static Value> {
    let s = schema();
    let mut out = vec![s];
    if let Some(all) = s["allOf"].as_array() {
        out.extend(all.iter().map(|b| &b["then"]));
    }
    out
}

/// Whether `path` (dotted) names a field some event kind has. Objects without listed
/// properties (syscall arguments) accept any name below them; arrays accept an index.
pub fn known(path: &str) -> bool {
    let steps: Vec<&str> = path.split('.').collect();
    !path.is_empty() && steps.iter().all(|s| !s.is_empty()) && walk(&roots(), &steps)
}

fn walk(nodes: &[&Value], steps: &[&str]) -> bool {
    let Some((first, rest)) = steps.split_first() else {
        return true;
    };
    // Arrays: an index, then the items' schema.
    if first.parse::<usize>().is_ok() {
        let items: Vec<&Value> = nodes
            .iter()
            .map(|n| &n["items"])
            .filter(|i| i.is_object())
            .collect();
        return !items.is_empty() && walk(&items, rest);
    }
    let with_properties: Vec<&Value> = nodes
        .iter()
        .copied()
        .filter(|n| n["properties"].is_object())
        .collect();
    if with_properties.is_empty() {
        // An object whose members are not listed (syscall.args, capability in some kinds).
        return nodes.iter().any(|n| is_object_type(n));
    }
    let next: Vec<&Value> = with_properties
        .iter()
        .filter_map(|n| n["properties"].get(*first))
        .collect();
    !next.is_empty() && walk(&next, rest)
}

fn is_object_type(n: &Value) -> bool {
    match &n["type"] {
        Value::String(t) => t == "object",
        Value::Array(ts) => ts.iter().any(|t| t == "object"),
        _ => false,
    }
}

/// Every field path the schema lists (array items as index 0 and 1), for the tests that
/// read each of them from typed events and from their JSON.
#[cfg(test)]
pub fn all_paths() -> Vec<String> {
    fn walk(n: &Value, prefix: &str, out: &mut Vec<String>) {
        if let Some(props) = n["properties"].as_object() {
            for (k, v) in props {
                let p = format!("{prefix}{k}");
                out.push(p.clone());
                walk(v, &format!("{p}."), out);
            }
        }
        if n["items"].is_object() {
            for i in ["0", "1"] {
                out.push(format!("{prefix}{i}"));
                walk(&n["items"], &format!("{prefix}{i}."), out);
            }
        }
        for key in ["oneOf", "anyOf"] {
            for b in n[key].as_array().into_iter().flatten() {
                walk(b, prefix, out);
            }
        }
    }
    let mut out = Vec::new();
    for r in roots() {
        walk(r, "", &mut out);
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::known;

    #[test]
    fn schema_fields_are_known() {
        for f in [
            "kind",
            "time",
            "process.exe",
            "process.args",
            "process.ancestors.0.exe",
            "container.image",
            "k8s.namespace",
            "capability.name",
            "capability.verdict",
            "syscall.name",
            "syscall.args.target",
            "namespace.target.owner",
            "posture.privileged",
            "posture.capabilities.added_over_default",
        ] {
            assert!(known(f), "{f}");
        }
    }

    #[test]
    fn typos_are_unknown() {
        for f in [
            "",
            "kidn",
            "process.exee",
            "posture.privileged.x",
            "k8s..pod",
            "syscal.name",
        ] {
            assert!(!known(f), "{f}");
        }
    }
}
