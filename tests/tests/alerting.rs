//! The alerting assets in deploy/: valid for promtool, unit-tested, documented, and the
//! Prometheus Operator copies identical to the plain files. Needs `promtool` (Debian package
//! `prometheus`, installed by `cargo xtask setup`), not root.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use serde_yaml_ng::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(root().join("deploy/prometheus"))
        .output()
        .expect("running promtool (Debian package `prometheus`; `cargo xtask setup`)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

fn alerts() -> Vec<Value> {
    yaml("deploy/prometheus/privmon-rules.yaml")["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_sequence().unwrap().clone())
        .collect()
}

#[test]
fn promtool_accepts_the_rules() {
    let out = promtool(&["check", "rules", "privmon-rules.yaml"]);
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn promtool_unit_tests_pass_and_cover_every_alert() {
    let out = promtool(&["test", "rules", "privmon-rules.test.yaml"]);
    assert!(out.contains("SUCCESS"), "{out}");
    // Every alert has a case where it fires (a non-empty exp_alerts).
    let tests = yaml("deploy/prometheus/privmon-rules.test.yaml");
    let mut fired = Vec::new();
    for t in tests["tests"].as_sequence().unwrap() {
        for a in t["alert_rule_test"].as_sequence().unwrap() {
            if a["exp_alerts"].as_sequence().is_some_and(|e| !e.is_empty()) {
                fired.push(a["alertname"].as_str().unwrap().to_string());
            }
        }
    }
    for alert in alerts() {
        let name = alert["alert"].as_str().unwrap();
        assert!(
            fired.iter().any(|f| f == name),
            "no unit test makes {name} fire"
        );
    }
}

#[test]
fn every_alert_has_severity_summary_description_and_a_runbook() {
    let runbooks = std::fs::read_to_string(root().join("docs/alerts.md")).unwrap();
    let alerts = alerts();
    assert!(alerts.len() >= 6, "{alerts:?}");
    for alert in alerts {
        let name = alert["alert"].as_str().unwrap();
        let severity = alert["labels"]["severity"].as_str().unwrap_or_default();
        assert!(
            ["critical", "warning", "info"].contains(&severity),
            "{name}: severity {severity:?}"
        );
        for key in ["summary", "description"] {
            assert!(
                alert["annotations"][key]
                    .as_str()
                    .is_some_and(|s| s.len() > 10),
                "{name}: no {key}"
            );
        }
        let url = alert["annotations"]["runbook_url"].as_str().unwrap();
        assert!(
            url.ends_with(&format!("docs/alerts.md#{}", name.to_lowercase())),
            "{name}: runbook_url {url}"
        );
        assert!(
            runbooks.contains(&format!("\n## {name}\n")),
            "docs/alerts.md has no section for {name}"
        );
    }
}

#[test]
fn the_prometheus_rule_carries_the_same_groups() {
    let crd = yaml("deploy/kubernetes/prometheus-operator/prometheusrule.yaml");
    assert_eq!(crd["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(crd["kind"], "PrometheusRule");
    let plain = yaml("deploy/prometheus/privmon-rules.yaml");
    assert_eq!(
        crd["spec"]["groups"], plain["groups"],
        "deploy/kubernetes/prometheus-operator/prometheusrule.yaml differs from deploy/prometheus/privmon-rules.yaml"
    );
}

#[test]
fn the_service_monitor_keeps_container_labels_and_adds_the_node() {
    let sm = yaml("deploy/kubernetes/prometheus-operator/servicemonitor.yaml");
    assert_eq!(sm["kind"], "ServiceMonitor");
    let endpoint = &sm["spec"]["endpoints"][0];
    assert_eq!(endpoint["path"], "/metrics");
    assert_eq!(endpoint["honorLabels"], true);
    let relabels = endpoint["relabelings"].as_sequence().unwrap();
    assert!(
        relabels.iter().any(|r| r["targetLabel"] == "node"
            && r["sourceLabels"][0] == "__meta_kubernetes_pod_node_name")
    );
    // The alerts select the job by the name the ServiceMonitor gives it.
    assert_eq!(sm["spec"]["jobLabel"], "app.kubernetes.io/name");
    assert_eq!(
        sm["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"],
        "privmon"
    );
}

#[test]
fn the_dashboard_is_valid_json_with_queries() {
    let text =
        std::fs::read_to_string(root().join("deploy/grafana/privmon-dashboard.json")).unwrap();
    let d: serde_json::Value = serde_json::from_str(&text).unwrap();
    let panels = d["panels"].as_array().unwrap();
    assert!(panels.len() >= 8);
    for p in panels {
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "panel {} has no query", p["title"]);
        for t in targets {
            assert!(t["expr"].as_str().is_some_and(|e| !e.is_empty()));
        }
    }
}
