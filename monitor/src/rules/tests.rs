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
    let alerts = engine.evaluate(&mount_event("allowed"), Instant::now());
    let ids: Vec<&str> = alerts.iter().map(|a| a.rule.as_str()).collect();
    assert_eq!(ids, ["mount_in_container"]);
    assert_eq!(
        alerts[0].summary,
        "pod payments/api-7d9 (container api) ran mount /dev/vda1 on /mnt (/usr/bin/evil as root)"
    );
    assert_eq!(alerts[0].severity, Severity::High);
    assert_eq!(alerts[0].count, 1);
    // A refused mount is not a mount (the capability event raises its own alert).
    assert!(
        engine
            .evaluate(&mount_event("denied"), Instant::now())
            .is_empty()
    );
}

#[test]
fn repeats_within_the_window_become_one_alert_with_a_count() {
    let mut engine = Engine::new(set(&[(DEFAULT_SOURCE, DEFAULT_RULES)]).unwrap());
    let t0 = Instant::now();
    let ev = mount_event("allowed");
    let mut alerts = Vec::new();
    for i in 0..10_000u64 {
        alerts.extend(engine.evaluate(&ev, t0 + Duration::from_micros(i)));
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
        engine.evaluate(&other, t0 + Duration::from_secs(62)).len(),
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
            .evaluate(&mount_event("allowed"), Instant::now())
            .is_empty()
    );
    let mut elsewhere = mount_event("allowed");
    elsewhere["k8s"]["namespace"] = json!("web");
    assert_eq!(engine.evaluate(&elsewhere, Instant::now()).len(), 1);
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
        .evaluate(&mount_event("allowed"), Instant::now())
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
        !e.evaluate(&ev, Instant::now()).is_empty()
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
