//! `privmon advise --check`: a proposed spec (Kubernetes manifests) against what the
//! workloads were seen to use, before the change is merged; and the advice as a patch of
//! those manifests.
//!
//! For each container of each pod template: *would break* (a capability used that the
//! proposed `securityContext` does not grant, with its evidence), *excess* (granted, never
//! used, the runtime's defaults included when the spec does not drop ALL), or *unknown*
//! (nothing observed, or a baseline still being learned and nothing that would break).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    advisor::{Advice, BaselineState, pod_stem},
    catalog::capabilities::{Capability, DOCKER_DEFAULT_CAPS, LAST_CAP},
};

/// One container of a manifest's pod template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Proposed {
    /// The manifest's kind (`Deployment`, `CronJob`, ...).
    pub kind: String,
    /// The object's name (a Pod's: its name's stem).
    pub name: String,
    /// `metadata.namespace`; absent: any namespace matches.
    pub namespace: Option<String>,
    pub container: String,
    pub init: bool,
    /// Index in `containers` or `initContainers`.
    pub index: usize,
    /// Which document of the file (0-based).
    pub document: usize,
    /// Capabilities the proposed `securityContext` grants (`CAP_*`), privileged: all.
    pub grants: BTreeSet<String>,
    pub privileged: bool,
    /// Drops ALL: the runtime's defaults are not granted.
    pub drops_all: bool,
    /// `runAsNonRoot: true` or `runAsUser` not 0 (container or pod level).
    pub non_root: bool,
    /// `allowPrivilegeEscalation: false` (`--security-opt no-new-privileges`): the
    /// container runs with no_new_privs.
    pub no_new_privs: bool,
}

/// Where each kind keeps its pod template's spec.
pub fn pod_spec_path(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "Pod" => &["spec"],
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => &["spec", "template", "spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => return None,
    })
}

fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, k| &v[*k])
}

/// A capability as Kubernetes names it (`NET_RAW`, `CAP_NET_RAW`, `net_raw`) in privmon's
/// form (`CAP_NET_RAW`); an unknown name is an error.
pub fn capability_name(s: &str) -> Result<String, String> {
    Capability::from_name(s)
        .map(Capability::name)
        .map_err(|_| format!("unknown capability `{s}`"))
}

/// What a container is granted: every capability when privileged, else the runtime's
/// default 14 (none when `drop` holds ALL), less `drop`, plus `add` (ALL in `add`: every
/// one). An unknown capability name is an error.
fn grants<S: AsRef<str>>(
    privileged: bool,
    drop: &[S],
    add: &[S],
) -> Result<BTreeSet<String>, String> {
    let every = || (0..LAST_CAP).map(|n| Capability(n).name());
    let is_all = |c: &S| c.as_ref().eq_ignore_ascii_case("ALL");
    let all = |list: &[S]| list.iter().any(is_all);
    if privileged {
        return Ok(every().collect());
    }
    let mut grants: BTreeSet<String> = if all(drop) {
        BTreeSet::new()
    } else {
        DOCKER_DEFAULT_CAPS.iter().map(|c| c.to_string()).collect()
    };
    for d in drop.iter().filter(|d| !is_all(d)) {
        grants.remove(&capability_name(d.as_ref())?);
    }
    for a in add.iter().filter(|a| !is_all(a)) {
        grants.insert(capability_name(a.as_ref())?);
    }
    if all(add) {
        grants.extend(every());
    }
    Ok(grants)
}

/// The containers of every pod template in `docs` (other kinds are skipped; a document
/// of a workload kind without a pod template, or with a bad capability name, is an error
/// naming it).
pub fn containers_of(docs: &[Value]) -> Result<Vec<Proposed>, String> {
    let mut out = Vec::new();
    for (document, doc) in docs.iter().enumerate() {
        let kind = doc["kind"].as_str().unwrap_or_default();
        let Some(path) = pod_spec_path(kind) else {
            continue;
        };
        let meta_name = doc["metadata"]["name"].as_str().unwrap_or_default();
        let where_ = format!("document {} ({kind} {meta_name})", document + 1);
        let spec = at(doc, path);
        if !spec.is_object() {
            return Err(format!("{where_}: no pod spec at {}", path.join(".")));
        }
        let name = if kind == "Pod" {
            pod_stem(meta_name)
        } else {
            meta_name.to_string()
        };
        let pod_sc = &spec["securityContext"];
        let pod_non_root =
            pod_sc["runAsNonRoot"] == true || pod_sc["runAsUser"].as_u64().is_some_and(|u| u != 0);
        for (list, init) in [("containers", false), ("initContainers", true)] {
            for (index, c) in spec[list].as_array().into_iter().flatten().enumerate() {
                let container = c["name"].as_str().unwrap_or_default().to_string();
                let sc = &c["securityContext"];
                let caps = |key: &str| -> Vec<&str> {
                    sc["capabilities"][key]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|v| v.as_str().unwrap_or_default())
                        .collect()
                };
                let drop = caps("drop");
                let drops_all = drop.iter().any(|c| c.eq_ignore_ascii_case("ALL"));
                let privileged = sc["privileged"] == true;
                // Kubernetes passes ALL in `add` on to the runtime; privmon reads only the
                // capabilities it names there.
                let add: Vec<&str> = caps("add")
                    .into_iter()
                    .filter(|c| !c.eq_ignore_ascii_case("ALL"))
                    .collect();
                let grants = grants(privileged, &drop, &add)
                    .map_err(|e| format!("{where_}, container {container}: {e}"))?;
                let non_root = match (&sc["runAsNonRoot"], &sc["runAsUser"]) {
                    (_, Value::Number(u)) => u.as_u64() != Some(0),
                    (Value::Bool(b), _) => *b,
                    _ => pod_non_root,
                };
                out.push(Proposed {
                    kind: kind.to_string(),
                    name: name.clone(),
                    namespace: doc["metadata"]["namespace"].as_str().map(str::to_string),
                    container,
                    init,
                    index,
                    document,
                    grants,
                    privileged,
                    drops_all,
                    non_root,
                    no_new_privs: sc["allowPrivilegeEscalation"] == false,
                });
            }
        }
    }
    Ok(out)
}

/// `docker run` / `podman run` flags that take a value (the image is the first argument
/// after the flags).
const DOCKER_VALUE_FLAGS: &[&str] = &[
    "--add-host",
    "--cap-add",
    "--cap-drop",
    "--cgroupns",
    "--cpus",
    "--device",
    "--dns",
    "--entrypoint",
    "--env",
    "--env-file",
    "--hostname",
    "--ipc",
    "--label",
    "--log-driver",
    "--log-opt",
    "--memory",
    "--mount",
    "--name",
    "--network",
    "--pid",
    "--platform",
    "--publish",
    "--pull",
    "--restart",
    "--runtime",
    "--security-opt",
    "--shm-size",
    "--tmpfs",
    "--ulimit",
    "--user",
    "--userns",
    "--uts",
    "--volume",
    "--workdir",
    "-e",
    "-h",
    "-l",
    "-m",
    "-p",
    "-u",
    "-v",
    "-w",
];

/// The container a `docker run` (or `podman run`) command line proposes: what it grants
/// (Docker's default 14 less `--cap-drop`, plus `--cap-add`; every capability with
/// `--privileged`), named as privmon names a container outside Kubernetes (its image, and
/// its `--name`; without one, every container of the image matches).
pub fn docker_run(line: &str) -> Result<Proposed, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let start = match words.as_slice() {
        ["docker" | "podman", "run", ..] => 2,
        ["docker" | "podman", "container", "run", ..] => 3,
        _ => return Err("not a `docker run` or `podman run` command line".into()),
    };
    let (mut add, mut drop, mut privileged, mut name, mut user) =
        (Vec::new(), Vec::new(), false, None, None);
    let mut no_new_privs = false;
    let mut image = None;
    let mut i = start;
    while i < words.len() {
        let w = words[i];
        if !w.starts_with('-') {
            image = Some(w);
            break;
        }
        let (flag, value) = match w.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None if DOCKER_VALUE_FLAGS.contains(&w) => {
                i += 1;
                (w, words.get(i).map(|v| v.to_string()))
            }
            None => (w, None),
        };
        let value = value.map(|v| v.trim_matches(|c| c == '"' || c == '\'').to_string());
        match (flag, value) {
            ("--cap-add", Some(v)) => add.push(v),
            ("--cap-drop", Some(v)) => drop.push(v),
            ("--privileged", v) => privileged = v.is_none_or(|v| v != "false"),
            ("--name", Some(v)) => name = Some(v),
            ("--user" | "-u", Some(v)) => user = Some(v),
            ("--security-opt", Some(v)) => {
                no_new_privs |= matches!(v.as_str(), "no-new-privileges" | "no-new-privileges:true")
            }
            _ => {}
        }
        i += 1;
    }
    let image = image.ok_or("no image in the command line")?.to_string();
    let drops_all = drop.iter().any(|d| d.eq_ignore_ascii_case("ALL"));
    let grants = grants(privileged, &drop, &add)?;
    let non_root = user.is_some_and(|u| {
        let uid = u.split(':').next().unwrap_or_default();
        !(uid == "0" || uid == "root")
    });
    Ok(Proposed {
        kind: "docker run".into(),
        name: image,
        namespace: None,
        container: name.unwrap_or_default(),
        init: false,
        index: 0,
        document: 0,
        grants,
        privileged,
        drops_all,
        non_root,
        no_new_privs,
    })
}

/// What the check says of one container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Nothing it used is taken away.
    Ok,
    WouldBreak,
    Unknown,
}

/// A capability the proposal takes away, and what used it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Breaks {
    pub capability: String,
    pub operations: Vec<String>,
    /// Unix seconds.
    pub last_seen: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub container: Proposed,
    pub verdict: Verdict,
    /// The workload the observations are of (`namespace/owner/container`), if any.
    pub observed: Option<String>,
    pub would_break: Vec<Breaks>,
    /// Granted by the proposal, never used.
    pub excess: Vec<String>,
    /// Refused when tried (a broken feature or an attack: not a grant to add).
    pub denied: Vec<String>,
    pub notes: Vec<String>,
}

/// Checks each proposed container against the advice of the workloads it describes.
pub fn check(proposed: &[Proposed], advice: &[Advice]) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in proposed {
        let matches = |a: &&Advice| {
            a.workload.owner == p.name
                && (a.workload.container == p.container || p.container.is_empty())
                && p.namespace
                    .as_ref()
                    .is_none_or(|ns| a.workload.namespace.as_deref() == Some(ns.as_str()))
        };
        let seen: Vec<&Advice> = advice.iter().filter(matches).collect();
        if seen.is_empty() {
            out.push(finding(p, None));
        }
        // A `docker run` without `--name` is every container of its image.
        for a in seen {
            out.push(finding(p, Some(a)));
        }
    }
    out
}

fn finding(p: &Proposed, seen: Option<&Advice>) -> Finding {
    let mut notes = Vec::new();
    let Some(a) = seen else {
        return Finding {
            container: p.clone(),
            verdict: Verdict::Unknown,
            observed: None,
            would_break: Vec::new(),
            excess: Vec::new(),
            denied: Vec::new(),
            notes: vec!["privmon has not seen this container run".to_string()],
        };
    };
    let would_break: Vec<Breaks> = a
        .used
        .iter()
        .filter(|(cap, _)| !p.grants.contains(*cap))
        .map(|(cap, u)| Breaks {
            capability: cap.clone(),
            operations: u.operations.iter().cloned().collect(),
            last_seen: u.last_seen,
        })
        .collect();
    let excess: Vec<String> = p
        .grants
        .iter()
        .filter(|c| !a.used.contains_key(*c))
        .cloned()
        .collect();
    if p.non_root && !a.used.is_empty() {
        notes.push(
            "the proposal runs the container as non-root: its capabilities are not effective \
             unless the program has file capabilities or ambient ones are set"
                .to_string(),
        );
    }
    if p.privileged {
        notes.push("privileged: every capability, and much more, is granted".to_string());
    }
    // Installing a seccomp filter without no_new_privs takes CAP_SYS_ADMIN, through a
    // no-audit check privmon does not report (the kernel makes the same kind of check for
    // memory accounting): a use it cannot vouch for either way.
    let had_sys_admin = a.granted.privileged == Some(true)
        || a.granted
            .capabilities
            .as_ref()
            .is_some_and(|c| c.iter().any(|c| c == "CAP_SYS_ADMIN"));
    if had_sys_admin
        && a.granted.no_new_privs != Some(true)
        && !p.grants.contains("CAP_SYS_ADMIN")
        && !p.no_new_privs
    {
        notes.push(
            "the proposal drops CAP_SYS_ADMIN and does not set allowPrivilegeEscalation: \
             false: a program that installs a seccomp filter (a sandbox: browsers, systemd \
             services, ...) needs one or the other, and privmon does not see that use (the \
             kernel checks it without auditing); set allowPrivilegeEscalation: false too"
                .to_string(),
        );
    }
    let learned = matches!(a.baseline, BaselineState::Learned { .. });
    let verdict = if !would_break.is_empty() {
        Verdict::WouldBreak
    } else if !learned {
        notes.push(format!(
            "observed for {} s over {} instance(s), still learning: a capability used rarely \
             may not have been seen yet",
            a.observed_secs, a.instances
        ));
        Verdict::Unknown
    } else {
        Verdict::Ok
    };
    Finding {
        container: p.clone(),
        verdict,
        observed: Some(a.workload.to_string()),
        would_break,
        excess,
        denied: a.denied.iter().cloned().collect(),
        notes,
    }
}

/// The exit status of a check: 1 if anything would break, else 3 if anything is unknown,
/// else 0 (2 stays the usage error).
pub fn exit_status(findings: &[Finding]) -> u8 {
    if findings.iter().any(|f| f.verdict == Verdict::WouldBreak) {
        1
    } else if findings.is_empty() || findings.iter().any(|f| f.verdict == Verdict::Unknown) {
        3
    } else {
        0
    }
}

/// The report a person reads.
pub fn report(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        let c = &f.container;
        let init = if c.init { " (init)" } else { "" };
        let ns = c.namespace.as_deref().unwrap_or("*");
        let verdict = match f.verdict {
            Verdict::Ok => "ok",
            Verdict::WouldBreak => "WOULD BREAK",
            Verdict::Unknown => "unknown",
        };
        out.push_str(&format!(
            "{} {ns}/{}/{}{init}: {verdict}",
            c.kind, c.name, c.container
        ));
        if let Some(o) = &f.observed {
            out.push_str(&format!(" (observed as {o})"));
        }
        out.push('\n');
        for b in &f.would_break {
            out.push_str(&format!(
                "  would break: {} is used by {} and the proposal does not grant it\n",
                short(&b.capability),
                b.operations.join(", ")
            ));
        }
        if !f.excess.is_empty() {
            let names: Vec<&str> = f.excess.iter().map(|c| short(c)).collect();
            out.push_str(&format!(
                "  excess: {} (granted, never used)\n",
                names.join(", ")
            ));
        }
        if !f.denied.is_empty() {
            let names: Vec<&str> = f.denied.iter().map(|c| short(c)).collect();
            out.push_str(&format!(
                "  refused when tried: {} (a broken feature or an attack, not a grant to add)\n",
                names.join(", ")
            ));
        }
        for n in &f.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
    }
    out
}

fn short(cap: &str) -> &str {
    cap.strip_prefix("CAP_").unwrap_or(cap)
}

/// The advice for each container of the manifests as strategic-merge patches, one per
/// object: `containers` (and `initContainers`) merge by name, and the `securityContext`
/// given replaces `capabilities.add`/`drop` whole (lists of strings have no merge key).
/// Containers privmon has no advice for are left out; an object with none is skipped.
pub fn strategic_merge_patches(
    docs: &[Value],
    findings: &[Finding],
    advice: &[Advice],
) -> Vec<Value> {
    let mut by_doc: BTreeMap<usize, Vec<(&Finding, &Advice)>> = BTreeMap::new();
    for f in findings {
        if let Some(a) = advice_of(f, advice) {
            by_doc.entry(f.container.document).or_default().push((f, a));
        }
    }
    by_doc
        .into_iter()
        .filter_map(|(document, items)| {
            let doc = docs.get(document)?;
            let path = pod_spec_path(doc["kind"].as_str()?)?;
            let mut spec = json!({});
            for (f, a) in items {
                let list = if f.container.init {
                    "initContainers"
                } else {
                    "containers"
                };
                let entry = json!({"name": f.container.container, "securityContext": a.security_context});
                match spec[list].as_array_mut() {
                    Some(l) => l.push(entry),
                    None => spec[list] = json!([entry]),
                }
            }
            let mut patch = spec;
            for key in path.iter().rev() {
                patch = json!({ *key: patch });
            }
            let head = json!({
                "apiVersion": doc["apiVersion"],
                "kind": doc["kind"],
                "metadata": {"name": doc["metadata"]["name"], "namespace": doc["metadata"]["namespace"]},
            });
            let mut out = head;
            if out["metadata"]["namespace"].is_null() {
                out["metadata"]
                    .as_object_mut()
                    .map(|m| m.remove("namespace"));
            }
            for (k, v) in patch.as_object().into_iter().flatten() {
                out[k] = v.clone();
            }
            Some(out)
        })
        .collect()
}

/// The same as RFC 6902 operations per object: containers are addressed by index, each
/// guarded by a `test` of the container's name, so a patch applied to a spec whose
/// containers moved fails instead of changing the wrong one.
pub fn json_patches(docs: &[Value], findings: &[Finding], advice: &[Advice]) -> Vec<Value> {
    let mut by_doc: BTreeMap<usize, Vec<Value>> = BTreeMap::new();
    for f in findings {
        let Some(a) = advice_of(f, advice) else {
            continue;
        };
        let Some(doc) = docs.get(f.container.document) else {
            continue;
        };
        let Some(path) = doc["kind"].as_str().and_then(pod_spec_path) else {
            continue;
        };
        let list = if f.container.init {
            "initContainers"
        } else {
            "containers"
        };
        let base = format!("/{}/{list}/{}", path.join("/"), f.container.index);
        let ops = by_doc.entry(f.container.document).or_default();
        ops.push(
            json!({"op": "test", "path": format!("{base}/name"), "value": f.container.container}),
        );
        ops.push(json!({"op": "add", "path": format!("{base}/securityContext"), "value": a.security_context}));
    }
    by_doc
        .into_iter()
        .map(|(document, ops)| {
            let doc = &docs[document]; // present: ops were made from it above
            json!({
                "kind": doc["kind"],
                "name": doc["metadata"]["name"],
                "namespace": doc["metadata"]["namespace"],
                "patch": ops,
            })
        })
        .collect()
}

pub fn advice_of<'a>(f: &Finding, advice: &'a [Advice]) -> Option<&'a Advice> {
    let observed = f.observed.as_ref()?;
    advice.iter().find(|a| a.workload.to_string() == *observed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisor::{CapabilityUse, Granted, WorkloadId};

    fn yaml(text: &str) -> Vec<Value> {
        use serde::Deserialize as _;
        serde_yaml_ng::Deserializer::from_str(text)
            .map(|d| Value::deserialize(d).unwrap())
            .collect()
    }

    const MANIFESTS: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  template:
    spec:
      initContainers:
      - name: setup
        securityContext: {capabilities: {drop: [ALL]}}
      containers:
      - name: api
        securityContext:
          capabilities: {add: [NET_ADMIN, SYS_ADMIN, NET_RAW]}
      - name: side
        securityContext: {capabilities: {drop: [ALL], add: [net_bind_service]}, runAsUser: 1000}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: backup}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: dump
            securityContext: {privileged: true}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ignored}
---
apiVersion: v1
kind: Pod
metadata: {name: web-7d9f8c6b5-x2x4z, namespace: shop}
spec:
  containers:
  - name: web
    securityContext: {capabilities: {drop: [NET_RAW, MKNOD]}}
"#;

    fn advice(owner: &str, container: &str, used: &[(&str, &str)], learned: bool) -> Advice {
        let used: BTreeMap<String, CapabilityUse> = used
            .iter()
            .map(|(cap, op)| {
                (
                    cap.to_string(),
                    CapabilityUse {
                        first_seen: 1,
                        last_seen: 2,
                        checks: 1,
                        operations: [op.to_string()].into(),
                    },
                )
            })
            .collect();
        let add: Vec<String> = used.keys().map(|c| short(c).to_string()).collect();
        Advice {
            workload: WorkloadId {
                namespace: Some("shop".into()),
                owner: owner.into(),
                container: container.into(),
            },
            observed_secs: 3600,
            instances: 3,
            last_new_capability: None,
            granted: Granted::default(),
            used,
            unused: None,
            denied: ["CAP_SYS_MODULE".to_string()].into(),
            privilege_gain_seen: false,
            baseline: if learned {
                BaselineState::Learned {
                    capabilities: BTreeSet::new(),
                }
            } else {
                BaselineState::Learning { since: 1 }
            },
            security_context: json!({"capabilities": {"drop": ["ALL"], "add": add},
                                     "allowPrivilegeEscalation": false}),
            docker_flags: Vec::new(),
        }
    }

    #[test]
    fn every_pod_template_is_read_with_what_it_grants() {
        let docs = yaml(MANIFESTS);
        let c = containers_of(&docs).unwrap();
        let names: Vec<(&str, &str, &str, bool)> = c
            .iter()
            .map(|p| {
                (
                    p.kind.as_str(),
                    p.name.as_str(),
                    p.container.as_str(),
                    p.init,
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("Deployment", "api", "api", false),
                ("Deployment", "api", "side", false),
                ("Deployment", "api", "setup", true),
                ("CronJob", "backup", "dump", false),
                ("Pod", "web", "web", false),
            ]
        );
        // The runtime's 14 and the two added it lacks (NET_RAW is among the 14).
        assert_eq!(c[0].grants.len(), 16);
        assert!(c[0].grants.contains("CAP_SYS_ADMIN") && c[0].grants.contains("CAP_CHOWN"));
        assert_eq!(c[1].grants, ["CAP_NET_BIND_SERVICE".to_string()].into());
        assert!(c[1].non_root);
        assert!(c[2].grants.is_empty() && c[2].drops_all);
        assert!(c[3].privileged && c[3].grants.len() == 41);
        assert_eq!(c[3].namespace, None);
        assert_eq!(
            c[4].grants.len(),
            12,
            "the default 14 less NET_RAW and MKNOD"
        );
        assert_eq!((c[4].document, c[1].index, c[2].index), (3, 1, 0));
    }

    #[test]
    fn a_bad_capability_or_a_template_without_spec_is_named() {
        let bad = yaml(
            "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, securityContext: {capabilities: {add: [SYS_WIZARD]}}}]}",
        );
        let e = containers_of(&bad).unwrap_err();
        assert!(e.contains("container c") && e.contains("SYS_WIZARD"), "{e}");
        let no_spec = yaml("kind: Deployment\nmetadata: {name: d}\nspec: {replicas: 1}");
        let e = containers_of(&no_spec).unwrap_err();
        assert!(
            e.contains("Deployment d") && e.contains("spec.template.spec"),
            "{e}"
        );
    }

    #[test]
    fn used_but_not_granted_would_break_and_granted_but_unused_is_excess() {
        let docs = yaml(MANIFESTS);
        let proposed = containers_of(&docs).unwrap();
        let seen = [advice("api", "api", &[("CAP_NET_RAW", "socket")], true)];
        let f = check(&proposed, &seen);
        assert_eq!(f[0].verdict, Verdict::Ok);
        assert!(f[0].excess.contains(&"CAP_SYS_ADMIN".to_string()));
        assert!(f[0].excess.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(
            f[0].excess.contains(&"CAP_CHOWN".to_string()),
            "runtime defaults too"
        );
        assert!(!f[0].excess.contains(&"CAP_NET_RAW".to_string()));
        assert_eq!(f[0].denied, ["CAP_SYS_MODULE"]);
        assert_eq!(f[0].observed.as_deref(), Some("shop/api/api"));
        // Never seen: unknown.
        assert_eq!(f[1].verdict, Verdict::Unknown);
        assert_eq!(exit_status(&f), 3, "unknown containers, nothing breaks");
        assert_eq!(exit_status(&f[..1]), 0);
        // The proposal drops NET_RAW: the raw socket would break.
        let strict = yaml(
            "kind: Deployment\nmetadata: {name: api, namespace: shop}\nspec: {template: {spec: {containers: [{name: api, securityContext: {capabilities: {drop: [ALL], add: [NET_ADMIN]}}}]}}}",
        );
        let f2 = check(&containers_of(&strict).unwrap(), &seen);
        assert_eq!(f2[0].verdict, Verdict::WouldBreak);
        assert_eq!(f2[0].would_break[0].capability, "CAP_NET_RAW");
        assert_eq!(f2[0].would_break[0].operations, ["socket"]);
        let all: Vec<Finding> = f.into_iter().chain(f2).collect();
        assert_eq!(exit_status(&all), 1, "1 over 3 over 0");
        let text = report(&all);
        assert!(text.contains("WOULD BREAK"), "{text}");
        assert!(
            text.contains("would break: NET_RAW is used by socket"),
            "{text}"
        );
    }

    #[test]
    fn dropping_sys_admin_without_no_new_privs_is_named_for_seccomp_filters() {
        // Observed with SYS_ADMIN and without no_new_privs; never seen to use it.
        let mut seen = advice("api", "api", &[("CAP_NET_RAW", "socket")], true);
        seen.granted.capabilities = Some(vec!["CAP_SYS_ADMIN".into(), "CAP_NET_RAW".into()]);
        seen.granted.no_new_privs = Some(false);
        let note = |manifest: &str| {
            let f = check(&containers_of(&yaml(manifest)).unwrap(), &[seen.clone()]);
            f[0].notes
                .iter()
                .any(|n| n.contains("allowPrivilegeEscalation: false"))
        };
        let base = "kind: Deployment\nmetadata: {name: api, namespace: shop}\nspec: {template: {spec: {containers: [{name: api, securityContext: ";
        assert!(note(&format!(
            "{base}{{capabilities: {{drop: [ALL], add: [NET_RAW]}}}}}}]}}}}}}"
        )));
        // With no_new_privs set, or SYS_ADMIN kept: nothing to say.
        assert!(!note(&format!(
            "{base}{{allowPrivilegeEscalation: false, capabilities: {{drop: [ALL], add: [NET_RAW]}}}}}}]}}}}}}"
        )));
        assert!(!note(&format!(
            "{base}{{capabilities: {{drop: [ALL], add: [NET_RAW, SYS_ADMIN]}}}}}}]}}}}}}"
        )));
        // docker run: --security-opt no-new-privileges is the same setting.
        let p =
            docker_run("docker run --security-opt no-new-privileges --cap-drop ALL img").unwrap();
        assert!(p.no_new_privs);
        let p = docker_run("docker run --cap-drop ALL img").unwrap();
        assert!(!p.no_new_privs);
    }

    #[test]
    fn still_learning_is_unknown_unless_something_would_break() {
        let docs = yaml(MANIFESTS);
        let proposed = containers_of(&docs).unwrap();
        let f = check(&proposed[..1], &[advice("api", "api", &[], false)]);
        assert_eq!(f[0].verdict, Verdict::Unknown);
        assert!(f[0].notes.iter().any(|n| n.contains("still learning")));
        let f = check(
            &proposed[2..3],
            &[advice("api", "setup", &[("CAP_CHOWN", "chown")], false)],
        );
        assert_eq!(f[0].verdict, Verdict::WouldBreak);
    }

    #[test]
    fn a_docker_run_command_line_is_a_proposal_too() {
        let p = docker_run(
            "docker run -d --name web -p 8080:80 --cap-drop ALL --cap-add=NET_BIND_SERVICE \
             -v /data:/data --user 1000:1000 nginx:1.27 nginx -g daemon off;",
        )
        .unwrap();
        assert_eq!(
            (p.name.as_str(), p.container.as_str()),
            ("nginx:1.27", "web")
        );
        assert_eq!(p.grants, ["CAP_NET_BIND_SERVICE".to_string()].into());
        assert!(p.drops_all && p.non_root && !p.privileged);
        let defaults =
            docker_run("podman run --cap-drop net_raw --cap-add SYS_ADMIN app:1").unwrap();
        assert_eq!(defaults.grants.len(), 14, "14 - NET_RAW + SYS_ADMIN");
        assert!(
            defaults.grants.contains("CAP_SYS_ADMIN") && !defaults.grants.contains("CAP_NET_RAW")
        );
        assert_eq!(
            defaults.container, "",
            "no --name: every container of the image"
        );
        assert!(
            docker_run("docker run --privileged app:1")
                .unwrap()
                .grants
                .len()
                == 41
        );
        assert!(docker_run("docker ps").is_err());
        assert!(
            docker_run("docker run --cap-add SYS_WIZARD app")
                .unwrap_err()
                .contains("SYS_WIZARD")
        );
        assert!(
            docker_run("docker run --rm -it")
                .unwrap_err()
                .contains("no image")
        );
        // Without --name, each container of the image is checked.
        let mut web1 = advice("app:1", "brave_curie", &[("CAP_NET_RAW", "socket")], true);
        web1.workload.namespace = None;
        let mut web2 = advice("app:1", "calm_tesla", &[], true);
        web2.workload.namespace = None;
        let f = check(&[defaults], &[web1, web2]);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].verdict, Verdict::WouldBreak);
        assert_eq!(f[1].verdict, Verdict::Ok);
    }

    #[test]
    fn patches_address_the_right_template_and_container() {
        let docs = yaml(MANIFESTS);
        let proposed = containers_of(&docs).unwrap();
        let seen = [
            advice("api", "api", &[("CAP_NET_RAW", "socket")], true),
            advice("api", "setup", &[], true),
        ];
        let mut backup = advice("backup", "dump", &[], true);
        backup.workload.namespace = Some("ops".into());
        let seen: Vec<Advice> = seen.into_iter().chain([backup]).collect();
        let f = check(&proposed, &seen);
        let smp = strategic_merge_patches(&docs, &f, &seen);
        assert_eq!(smp.len(), 2, "{smp:#?}");
        assert_eq!(smp[0]["kind"], "Deployment");
        assert_eq!(
            smp[0]["metadata"],
            json!({"name": "api", "namespace": "shop"})
        );
        let spec = &smp[0]["spec"]["template"]["spec"];
        assert_eq!(spec["containers"][0]["name"], "api");
        assert_eq!(
            spec["containers"][0]["securityContext"]["capabilities"]["add"],
            json!(["NET_RAW"])
        );
        assert_eq!(spec["initContainers"][0]["name"], "setup");
        assert!(
            spec["containers"].as_array().unwrap().len() == 1,
            "side has no advice"
        );
        let cron = &smp[1];
        assert!(cron["metadata"].get("namespace").is_none());
        assert_eq!(
            cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["name"],
            "dump"
        );
        let jp = json_patches(&docs, &f, &seen);
        let ops = &jp[0]["patch"];
        assert_eq!(
            ops[0],
            json!({"op": "test", "path": "/spec/template/spec/containers/0/name", "value": "api"})
        );
        assert_eq!(ops[1]["op"], "add");
        assert_eq!(
            ops[1]["path"],
            "/spec/template/spec/containers/0/securityContext"
        );
        assert_eq!(ops[2]["path"], "/spec/template/spec/initContainers/0/name");
        assert_eq!(
            jp[1]["patch"][0]["path"],
            "/spec/jobTemplate/spec/template/spec/containers/0/name"
        );
    }
}
