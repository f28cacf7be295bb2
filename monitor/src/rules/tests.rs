use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;

fn set(files: &[(&str, &str)]) -> Result<RuleSet, RuleError> {
    let sources: Vec<Source> = files
        .iter()
        .map(|(n, t)| Source {
            name: n.to_string(),
            text: t.to_string(),
        })
        .collect();
    RuleSet::from_sources(&sources)
}

fn with_defaults(extra: &str) -> Result<RuleSet, RuleError> {
    set(&[(DEFAULT_SOURCE, DEFAULT_RULES), ("extra.yaml", extra)])
}

fn mount_event(verdict: &str) -> Value {
    json!({
        "time": "2026-11-28T20:00:00Z", "kind": "syscall", "node": "n1",
        "process": {"pid": 42, "comm": "evil", "exe": "/usr/bin/evil", "euid": 0, "uid": 0},
        "container": {"id": "ab".repeat(32), "runtime": "containerd", "name": null, "image": "registry.example/app:1"},
        "k8s": {"namespace": "payments", "pod": "api-7d9", "pod_uid": null, "container": "api"},
        "cgroup": {"id": 7, "path": "/kubepods/x"},
        "group": "mounts",
        "capability": {"name": "CAP_SYS_ADMIN", "number": 21, "verdict": verdict, "scope": "host"},
        "syscall": {"name": "mount", "number": 165, "result": null,
                    "args": {"source": "/dev/vda1", "target": "/mnt", "fstype": "ext4", "flags": 0}}
    })
}

#[test]
fn the_default_rules_load() {
    let rules = set(&[(DEFAULT_SOURCE, DEFAULT_RULES)]).unwrap();
    assert!(rules.rules.len() >= 14, "{}", rules.rules.len());
    for r in &rules.rules {
        assert!(!r.mitre.is_empty(), "{} has no MITRE technique", r.id);
        assert!(!r.description.is_empty());
    }
}

#[test]
fn a_mount_in_a_container_raises_one_alert_with_a_sentence() {
    let mut engine = Engine::new(set(&[(DEFAULT_SOURCE, DEFAULT_RULES)]).unwrap());
    let alerts = engine.evaluate_json(&mount_event("allowed"), Instant::now());
    let ids: Vec<&str> = alerts.iter().map(|a| a.rule.as_str()).collect();
    assert_eq!(ids, ["mount_in_container"]);
    assert_eq!(
        alerts[0].summary,
        "pod payments/api-7d9 (container api) ran mount /dev/vda1 on /mnt (/usr/bin/evil as root)"
    );
    assert_eq!(alerts[0].severity, Severity::High);
    assert_eq!(alerts[0].count, 1);
    // A refused mount is not a mount: it is the refusal of a dangerous capability, once.
    let refused: Vec<String> = engine
        .evaluate_json(&mount_event("denied"), Instant::now())
        .into_iter()
        .map(|a| a.summary)
        .collect();
    assert_eq!(
        refused,
        [
            "pod payments/api-7d9 (container api) was refused CAP_SYS_ADMIN for mount \
          (/usr/bin/evil as root)"
        ]
    );
}

#[test]
fn a_refusal_names_the_call_that_made_it() {
    // A fresh engine each: the rule's dedup window would count the second as a repeat.
    let refused = |process: Value, syscall: Value| {
        let mut engine = Engine::new(set(&[(DEFAULT_SOURCE, DEFAULT_RULES)]).unwrap());
        let mut ev = mount_event("denied");
        ev["kind"] = json!("capability");
        ev["process"] = process;
        ev["syscall"] = syscall;
        engine
            .evaluate_json(&ev, Instant::now())
            .into_iter()
            .map(|a| a.summary)
            .collect::<Vec<String>>()
    };
    let worker = json!({"pid": 42, "comm": "iou-wrk-42", "exe": "/usr/bin/evil", "euid": 0, "io_worker": true});
    assert_eq!(
        refused(worker, Value::Null),
        [
            "pod payments/api-7d9 (container api) was refused CAP_SYS_ADMIN for an io_uring \
          submission (/usr/bin/evil as root)"
        ]
    );
    let thread = json!({"pid": 43, "comm": "evil", "exe": "/usr/bin/evil", "euid": 0});
    assert_eq!(
        refused(thread, Value::Null),
        [
            "pod payments/api-7d9 (container api) was refused CAP_SYS_ADMIN for no syscall \
          (/usr/bin/evil as root)"
        ]
    );
}

#[test]
fn repeats_within_the_window_become_one_alert_with_a_count() {
    let mut engine = Engine::new(set(&[(DEFAULT_SOURCE, DEFAULT_RULES)]).unwrap());
    let t0 = Instant::now();
    let ev = mount_event("allowed");
    let mut alerts = Vec::new();
    for i in 0..10_000u64 {
        alerts.extend(engine.evaluate_json(&ev, t0 + Duration::from_micros(i)));
    }
    assert_eq!(alerts.len(), 1);
    assert!(engine.flush(t0 + Duration::from_secs(30)).is_empty());
    let closing = engine.flush(t0 + Duration::from_secs(61));
    assert_eq!(closing.len(), 1);
    assert_eq!(closing[0].count, 9_999);
    assert_eq!(closing[0].window_secs, 60);
    // A different target is another key: its own alert.
    let mut other = ev.clone();
    other["syscall"]["args"]["target"] = json!("/mnt2");
    assert_eq!(
        engine
            .evaluate_json(&other, t0 + Duration::from_secs(62))
            .len(),
        1
    );
}

#[test]
fn exceptions_spare_matching_workloads() {
    let rules = with_defaults(
        "rules:\n  - id: mount_in_container\n    exceptions:\n      - {namespace: [pay*], exe: [/usr/bin/evil]}\n",
    )
    .unwrap();
    let mut engine = Engine::new(rules);
    assert!(
        engine
            .evaluate_json(&mount_event("allowed"), Instant::now())
            .is_empty()
    );
    let mut elsewhere = mount_event("allowed");
    elsewhere["k8s"]["namespace"] = json!("web");
    assert_eq!(engine.evaluate_json(&elsewhere, Instant::now()).len(), 1);
}

#[test]
fn a_file_can_disable_override_and_add_rules() {
    let rules = with_defaults(
        "lists:\n  mount_syscalls: [umount2]\n\
         rules:\n  - id: untrusted_image\n    enabled: false\n\
         \x20 - id: my_rule\n    description: d\n    severity: low\n    mitre: [T1610]\n    \
         condition: {field: process.comm, regex: '^ev.l$'}\n    summary: \"{process} x\"\n",
    )
    .unwrap();
    assert!(
        !rules
            .rules
            .iter()
            .any(|r| r.id == "untrusted_image" && r.enabled)
    );
    let mut engine = Engine::new(rules);
    let ids: Vec<String> = engine
        .evaluate_json(&mount_event("allowed"), Instant::now())
        .into_iter()
        .map(|a| a.rule)
        .collect();
    // mount is no longer in the (replaced) list; my_rule matches comm `evil`.
    assert_eq!(ids, ["my_rule"]);
}

fn error(text: &str) -> RuleError {
    set(&[("r.yaml", text)]).unwrap_err()
}

#[test]
fn errors_name_file_line_column_and_reason() {
    let e = error("rules:\n  - id: x\n    description: d\n    severity: urgent\n");
    assert_eq!((e.line, e.source_name.as_str()), (Some(4), "r.yaml"), "{e}");
    assert!(e.column.is_some());
    assert!(e.message.contains("urgent"), "{e}");
    assert!(e.to_string().starts_with("r.yaml:4:"), "{e}");

    let e = error("rules:\n  - id: x\n    condition: {field: kind, regex: '('}\n");
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.message.contains("invalid regex `(`"), "{e}");

    let e = error("rules:\n  - id: x\n    condition: {field: syscal.name, eq: mount}\n");
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.message.contains("unknown field `syscal.name`"), "{e}");

    let e = error("rules:\n  - id: x\n    condition: {field: kind}\n");
    assert!(e.message.contains("needs an operator"), "{e}");

    let e = error("rules:\n  - id: x\n    condition: {field: kind, eq: a, ne: b}\n");
    assert!(e.message.contains("several operators"), "{e}");

    let e = error("rules:\n  - id: Bad-Id\n");
    assert!(e.message.contains("snake_case"), "{e}");

    let e = error("rules:\n  - id: x\n    mitre: [X1]\n");
    assert!(e.message.contains("MITRE"), "{e}");

    let e = error("rules:\n  - id: x\n    severity: high\n    condition: {field: kind, eq: a}\n");
    assert!(e.message.contains("needs `description`"), "{e}");
    assert_eq!(e.line, Some(2), "{e}");

    let e = error("rules:\n  - id: nothing_here\n    enabled: false\n");
    assert!(e.message.contains("patches no existing rule"), "{e}");

    let e = error("rulez: []\n");
    assert_eq!(e.line, Some(1), "{e}");
    assert!(e.message.contains("unknown field `rulez`"), "{e}");

    let e = error("rules:\n  - id: x\n    summary: \"{proces.exe}\"\n");
    assert!(e.message.contains("unknown field `proces.exe`"), "{e}");
}

#[test]
fn unknown_macros_and_lists_point_at_their_use() {
    let text = "rules:\n  - id: x\n    description: d\n    severity: low\n    summary: s\n    \
                condition:\n      all:\n        - {field: kind, eq: a}\n        - macro: nope\n";
    let e = error(text);
    assert_eq!((e.line, e.column), (Some(9), Some(18)), "{e}");
    assert!(e.message.contains("rule `x`: unknown macro `nope`"), "{e}");
    let text = "rules:\n  - id: x\n    description: d\n    severity: low\n    summary: s\n    \
                condition: {field: kind, in: missing_list}\n";
    let e = error(text);
    assert_eq!(e.line, Some(6), "{e}");
    assert!(e.message.contains("unknown list `missing_list`"), "{e}");
    let text = "macros:\n  a: {macro: a}\nrules:\n  - id: x\n    description: d\n    \
                severity: low\n    summary: s\n    condition: {macro: a}\n";
    assert!(error(text).message.contains("nest"), "{}", error(text));
}

#[test]
fn operators() {
    let ev = json!({"kind": "syscall", "process": {"pid": 5, "args": ["a", "b"], "exe": "/bin/sh"},
                    "syscall": {"args": {"flags": 4096}}, "container": null});
    let check = |cond: &str| -> bool {
        let text = format!(
            "rules:\n  - id: t\n    description: d\n    severity: low\n    summary: s\n    condition: {cond}\n"
        );
        let mut e = Engine::new(set(&[("t.yaml", &text)]).unwrap());
        !e.evaluate_json(&ev, Instant::now()).is_empty()
    };
    assert!(check("{field: process.pid, eq: 5}"));
    assert!(check("{field: process.pid, gt: 4}"));
    assert!(!check("{field: process.pid, lt: 5}"));
    assert!(check("{field: process.pid, le: 5}"));
    assert!(check("{field: process.args, contains: b}"));
    assert!(check("{field: process.exe, glob: '/bin/*'}"));
    assert!(check("{field: process.exe, regex: 'sh$'}"));
    assert!(check("{field: container, exists: false}"));
    assert!(check("{field: container.id, exists: false}"));
    assert!(check("{field: process.args, empty: false}"));
    assert!(check("{field: process.args, any_in: [z, a]}"));
    assert!(check("{field: process.exe, not_in: [/bin/bash]}"));
    assert!(check("{field: syscall.args.flags, ge: 4096}"));
    assert!(check("{not: {field: kind, ne: syscall}}"));
    assert!(check(
        "{any: [{field: kind, eq: x}, {field: kind, eq: syscall}]}"
    ));
    assert!(!check(
        "{all: [{field: kind, eq: x}, {field: kind, eq: syscall}]}"
    ));
}

#[test]
fn summaries_name_the_workload() {
    let mut ev = mount_event("allowed");
    assert_eq!(workload(&ev), "pod payments/api-7d9 (container api)");
    ev["k8s"] = Value::Null;
    ev["container"]["name"] = json!("web");
    assert_eq!(workload(&ev), "container web (abababababab)");
    ev["container"] = Value::Null;
    assert_eq!(workload(&ev), "host process");
}

mod differential {
    //! The typed engine against v1's, which read every event as JSON: the same answers on a
    //! corpus of every event kind (fields filled, empty, null and absent), every schema
    //! path, every operator, exceptions and dedup windows.

    use super::*;
    use crate::event::samples::samples;

    /// Every schema path, and paths into arguments, labels, indexes, and past the leaves.
    fn paths() -> Vec<String> {
        let mut p = super::super::fields::all_paths();
        for extra in [
            "syscall.args.0",
            "syscall.args.5",
            "syscall.args.6",
            "syscall.args.target",
            "syscall.args.data",
            "syscall.args.target.x",
            "k8s.labels.app",
            "k8s.labels.nope",
            "process.args.3",
            "process.args.9",
            "process.pid.x",
            "process.ancestors.1.exe",
            "process.ancestors.2.pid",
            "process.cap_effective.added.1",
            "process.cap_effective.dropped",
            "process.cap_effective.mask",
            "namespace.types.0",
            "credentials.new.groups.1",
            "posture.host_namespaces.1",
            "kind.x",
        ] {
            p.push(extra.to_string());
        }
        p
    }

    #[test]
    fn every_path_reads_what_the_json_holds() {
        for (name, s) in samples() {
            let value = s.value();
            for p in paths() {
                // Past the schema too: the accessors must agree on any path.
                let path = Path(crate::event::access::Key::path(&p));
                let want = path.get(&value).cloned();
                let got = path.find(&s).to_json();
                assert_eq!(got, want, "{name}: {p}");
            }
        }
    }

    /// Operands for the operators: of every JSON type, and values the samples hold.
    fn operands() -> Vec<Value> {
        vec![
            json!(null),
            json!(0),
            json!(21),
            json!(4242),
            json!(21.0),
            json!(-13),
            json!(true),
            json!(false),
            json!(""),
            json!("allowed"),
            json!("denied"),
            json!("CAP_SYS_ADMIN"),
            json!("mount"),
            json!("syscall"),
            json!("payments"),
            json!("api"),
            json!("/host/mnt"),
            json!("mnt"),
            json!(["mnt"]),
            json!([0, 10]),
            json!({"id": 9, "path": null}),
        ]
    }

    fn leaves(path: &str) -> Vec<String> {
        let mut out = Vec::new();
        for v in operands() {
            let null = v.is_null();
            let v = v.to_string();
            // `eq: null` reads as no operator at all.
            for op in ["eq", "ne", "contains"].into_iter().filter(|_| !null) {
                out.push(format!("{{field: {path}, {op}: {v}}}"));
            }
            out.push(format!("{{field: {path}, in: [{v}, 1]}}"));
            out.push(format!("{{field: {path}, not_in: [{v}]}}"));
            out.push(format!("{{field: {path}, any_in: [{v}, \"CAP_CHOWN\"]}}"));
        }
        for op in [
            "gt: 20",
            "ge: 21",
            "lt: 0",
            "le: 4242",
            "exists: true",
            "exists: false",
        ] {
            out.push(format!("{{field: {path}, {op}}}"));
        }
        for op in [
            "empty: true",
            "empty: false",
            "glob: \"*a*\"",
            "glob: \"/bin/*\"",
            "glob: \"CAP_S*\"",
            "glob: \"mount\"",
            "regex: \"^[0-9]+$\"",
        ] {
            out.push(format!("{{field: {path}, {op}}}"));
        }
        out
    }

    #[test]
    fn every_operator_on_every_path_agrees_with_the_json_engine() {
        let corpus = samples();
        let values: Vec<Value> = corpus.iter().map(|(_, s)| s.value()).collect();
        let mut compared = 0;
        for p in paths() {
            let conditions = leaves(&p).join(", ");
            // One rule per leaf, so that a disagreement names its condition.
            let text = format!("macros:\n  m:\n    any: [{conditions}]\n");
            if !super::super::fields::known(&p) {
                continue;
            }
            let file: RuleFile = serde_yaml_ng::from_str(&text).unwrap();
            let Condition::Any(leaves) = &file.macros["m"] else {
                panic!("any")
            };
            let no_names = NoNames;
            for leaf in leaves {
                let c = leaf.compile(&no_names, 0).unwrap();
                for ((name, s), v) in corpus.iter().zip(&values) {
                    assert_eq!(c.matches(s), c.matches_json(v), "{name}: {leaf:?}");
                    compared += 1;
                }
            }
        }
        assert!(compared > 50_000, "{compared}");
    }

    struct NoNames;

    impl condition::Resolver for NoNames {
        fn list(&self, name: &str) -> Result<Vec<Value>, String> {
            Err(format!("no list {name}"))
        }

        fn macro_condition(&self, name: &str, _: usize) -> Result<Compiled, String> {
            Err(format!("no macro {name}"))
        }
    }

    /// Rules beside the defaults that test lists, exceptions and dedup windows.
    const EXTRA: &str = r#"
lists:
  admin_caps: [CAP_SYS_ADMIN, CAP_SYS_PTRACE]
rules:
  - id: any_admin_check
    description: every CAP_SYS_ADMIN check, counted per verdict
    severity: low
    mitre: [T1611]
    condition:
      all:
        - {field: capability.name, in: admin_caps}
        - not: {field: process.comm, glob: "runc:*"}
    summary: "{workload} {capability.name} {outcome} by {process} as {user} ({process.ancestors.0.exe})"
    dedup: {window_secs: 60, by: [capability.verdict, process.ancestors]}
  - id: labelled_pods
    description: events of labelled pods, outside one image
    severity: info
    mitre: [T1610]
    condition: {field: k8s.labels.app, exists: true}
    summary: "{kind} in {k8s.labels} {syscall.args} {posture.host_namespaces}"
    exceptions:
      - {image: ["*/other:*"], exe: ["/bin/*"]}
    dedup: {window_secs: 0}
  - id: mounts_not_in_payments
    description: mounts anywhere but payments
    severity: medium
    mitre: [T1611]
    condition:
      any:
        - {field: kind, eq: syscall}
        - {field: kind, in: [namespace, credentials]}
    summary: "{syscall.name} {credentials.new.uid} {namespace.types}"
    exceptions:
      - {namespace: [payments], pod: ["api-*"]}
"#;

    #[test]
    fn the_engine_raises_the_same_alerts_from_typed_events_as_from_json() {
        let rules = with_defaults(EXTRA).unwrap();
        let mut from_typed = Engine::new(rules.clone());
        let mut from_json = Engine::new(rules);
        let t0 = Instant::now();
        let mut alerts = 0;
        // Repeats open, fill and close dedup windows.
        for round in 0..3u64 {
            let now = t0 + Duration::from_secs(round * 40);
            for (name, s) in samples() {
                let a = from_typed.evaluate(&s, Some(&s.line()), now);
                let b = from_json.evaluate_json(&s.value(), now);
                let a: Vec<Value> = a.iter().map(|a| serde_json::to_value(a).unwrap()).collect();
                let b: Vec<Value> = b.iter().map(|a| serde_json::to_value(a).unwrap()).collect();
                assert_eq!(a, b, "{name}, round {round}");
                alerts += a.len();
            }
            let now = now + Duration::from_secs(30);
            let a = from_typed.flush(now);
            let b = from_json.flush(now);
            assert_eq!(a.len(), b.len());
            alerts += a.len();
        }
        assert!(alerts > 20, "{alerts}");
        assert_eq!(from_typed.unreadable, 0);
    }

    #[test]
    fn rules_run_only_on_the_kinds_they_can_match() {
        let rules = with_defaults(EXTRA).unwrap();
        let engine = Engine::new(rules);
        let on = |kind: &str| -> Vec<&str> {
            engine
                .index
                .rules(kind)
                .all()
                .iter()
                .map(|&i| engine.rules.rules[i].id.as_str())
                .collect()
        };
        assert!(on("syscall").contains(&"mounts_not_in_payments"));
        assert!(on("credentials").contains(&"mounts_not_in_payments"));
        assert!(!on("capability").contains(&"mounts_not_in_payments"));
        assert!(!on("container_start").contains(&"mount_in_container"));
        // Conditions that do not bound the kind run on every kind.
        for kind in ["capability", "syscall", "container_start", "unheard_of"] {
            assert!(on(kind).contains(&"labelled_pods"), "{kind}");
        }
    }
}

mod index {
    //! The engine's index against trying every rule: the same rules match, in the same
    //! order, with the defaults and with 500 generated rules.

    use super::*;
    use crate::event::samples::samples;

    fn many_rules() -> String {
        generated_rules(true)
    }

    #[test]
    fn the_index_tries_every_rule_that_can_match_and_in_rule_order() {
        for extra in [String::new(), many_rules()] {
            let rules = with_defaults(&extra).unwrap();
            let mut engine = Engine::new(rules.clone());
            let mut matched_somewhere = 0;
            for (name, s) in samples() {
                let v = s.value();
                let kind = v["kind"].as_str().unwrap();
                let every: Vec<usize> = rules
                    .rules
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.enabled && r.condition.matches_json(&v))
                    .map(|(i, _)| i)
                    .collect();
                let mut tried = Vec::new();
                engine.index.rules(kind).select(&v, &mut tried);
                let through_index: Vec<usize> = tried
                    .iter()
                    .copied()
                    .filter(|&i| rules.rules[i].condition.matches_json(&v))
                    .collect();
                assert_eq!(through_index, every, "{name}");
                assert!(tried.windows(2).all(|w| w[0] < w[1]), "{name}: order");
                matched_somewhere += every.len();
                // The alerts come out the same way through the whole engine.
                let alerts = engine.evaluate_json(&v, Instant::now());
                assert!(alerts.len() <= every.len());
            }
            assert!(matched_somewhere > 5, "{matched_somewhere}");
        }
    }

    #[test]
    fn most_generated_rules_are_not_tried() {
        let rules = with_defaults(&many_rules()).unwrap();
        let engine = Engine::new(rules);
        let mut tried = Vec::new();
        for (name, s) in samples() {
            let v = s.value();
            engine
                .index
                .rules(v["kind"].as_str().unwrap())
                .select(&v, &mut tried);
            assert!(
                tried.len() < 100,
                "{name}: {} of 500+ rules tried",
                tried.len()
            );
        }
    }
}

fn action_rule(action: &str, condition: &str) -> String {
    action_rule_except(action, condition, "")
}

/// The same with an `exceptions:` list (empty: none).
fn action_rule_except(action: &str, condition: &str, exceptions: &str) -> String {
    let exceptions = if exceptions.is_empty() {
        String::new()
    } else {
        format!("    exceptions: {exceptions}\n")
    };
    format!(
        "rules:
  - id: acts
    description: d
    severity: high
    condition: {condition}
    summary: s
    action: {action}
{exceptions}"
    )
}

#[test]
fn a_rule_with_an_action_may_test_only_what_the_kernel_map_expresses() {
    let e = set(&[(
        "a.yaml",
        &action_rule("kill", "{all: [{field: capability.name, eq: CAP_SYS_ADMIN}, {field: process.exe, eq: /bin/sh}]}"),
    )])
    .unwrap_err();
    assert!(e.message.contains("`process.exe` is not among them"), "{e}");
    assert_eq!(e.line, Some(2), "{e}");
    let e = set(&[(
        "a.yaml",
        &action_rule(
            "deny",
            "{field: syscall.args.sysctl, eq: kernel.core_pattern}",
        ),
    )])
    .unwrap_err();
    assert!(
        e.message.contains("only be tested with `exists: true`"),
        "{e}"
    );
    // Through a macro too: the condition is checked as compiled.
    let e = with_defaults(&action_rule("kill", "{macro: runtime_setup}")).unwrap_err();
    assert!(e.message.contains("`process.comm`"), "{e}");
    let e = set(&[(
        "a.yaml",
        &action_rule_except(
            "kill",
            "{field: capability.name, eq: CAP_SYS_ADMIN}",
            "[{exe: [/bin/sh]}]",
        ),
    )])
    .unwrap_err();
    assert!(e.message.contains("`exe` exception"), "{e}");
    assert!(
        set(&[(
            "a.yaml",
            &action_rule("stop", "{field: kind, eq: capability}")
        )])
        .is_err(),
        "an unknown action"
    );
}

#[test]
fn a_rule_covers_the_capabilities_and_sysctl_writes_its_condition_matches_in_a_container() {
    let header = crate::event::samples::header("capability", true, true);
    let rules = set(&[(
        "a.yaml",
        &action_rule(
            "kill",
            "{all: [{field: capability.name, in: [CAP_SYS_ADMIN, CAP_SYS_MODULE]}, {field: k8s.namespace, eq: payments}]}",
        ),
    )])
    .unwrap();
    let covers = rules.rules[0].covers(&header);
    assert_eq!(covers.capabilities, 1 << 21 | 1 << 16);
    assert!(!covers.sysctl_writes);
    // Another namespace: nothing.
    let rules = set(&[(
        "a.yaml",
        &action_rule("kill", "{all: [{field: capability.name, eq: CAP_SYS_ADMIN}, {field: k8s.namespace, eq: shop}]}"),
    )])
    .unwrap();
    assert_eq!(rules.rules[0].covers(&header), Covers::default());
    // A deny of sysctl writes: no capability, sysctl writes.
    let rules = set(&[(
        "a.yaml",
        &action_rule(
            "deny",
            "{all: [{field: syscall.args.sysctl, exists: true}, {field: container.name, eq: api}]}",
        ),
    )])
    .unwrap();
    let r = &rules.rules[0];
    assert!(r.denies_only_sysctl_writes());
    assert_eq!(
        r.covers(&header),
        Covers {
            capabilities: 0,
            sysctl_writes: true
        }
    );
    // An exception spares what it names.
    let rules = set(&[(
        "a.yaml",
        &action_rule_except(
            "kill",
            "{field: capability.name, eq: CAP_SYS_ADMIN}",
            "[{namespace: [pay*]}]",
        ),
    )])
    .unwrap();
    assert_eq!(rules.rules[0].covers(&header), Covers::default());
    // A patch may give an existing rule an action; a default rule that tests the
    // syscall then is refused, naming the field.
    let e = with_defaults(
        "rules:
  - id: kernel_module_loaded
    action: kill
",
    )
    .unwrap_err();
    assert!(e.message.contains("rule `kernel_module_loaded`"), "{e}");
    assert!(e.message.contains("is not among them"), "{e}");
}
