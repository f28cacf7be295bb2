//! `privmon advise --format policyreport`: the advice as Policy Reports
//! (`wgpolicyk8s.io/v1alpha2`, the Kubernetes Policy working group's API that Kyverno,
//! Trivy Operator and Policy Reporter read), one per namespace, one result per workload
//! and finding.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::advisor::{Advice, BaselineState};

/// The policy every result names.
pub const POLICY: &str = "privmon-least-privilege";

fn short(cap: &str) -> &str {
    cap.strip_prefix("CAP_").unwrap_or(cap)
}

/// One PolicyReport per namespace of `advice` (workloads outside Kubernetes have none and
/// are left out), in namespace order; `now` (unix seconds) stamps the results.
pub fn policy_reports(advice: &[Advice], now: u64) -> Vec<Value> {
    let mut by_ns: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for a in advice {
        let Some(ns) = a.workload.namespace.as_deref() else {
            continue;
        };
        by_ns.entry(ns).or_default().extend(results(a, now));
    }
    by_ns
        .into_iter()
        .map(|(ns, results)| {
            let count = |r: &str| results.iter().filter(|x| x["result"] == r).count();
            json!({
                "apiVersion": "wgpolicyk8s.io/v1alpha2",
                "kind": "PolicyReport",
                "metadata": {
                    "name": format!("privmon-{ns}"),
                    "namespace": ns,
                    "labels": {"app.kubernetes.io/managed-by": "privmon"},
                },
                "summary": {
                    "pass": count("pass"),
                    "fail": count("fail"),
                    "warn": count("warn"),
                    "error": count("error"),
                    "skip": count("skip"),
                },
                "results": results,
            })
        })
        .collect()
}

/// A workload's results: granted capabilities never used (fail, or pass when there are
/// none), running privileged (fail), and capabilities used outside a learned baseline
/// (warn).
fn results(a: &Advice, now: u64) -> Vec<Value> {
    let properties = |extra: &[(&str, String)]| {
        let mut p = serde_json::Map::new();
        p.insert("workload".into(), a.workload.owner.clone().into());
        p.insert("container".into(), a.workload.container.clone().into());
        p.insert("observedSeconds".into(), a.observed_secs.to_string().into());
        p.insert("instances".into(), a.instances.to_string().into());
        for (k, v) in extra {
            p.insert((*k).into(), v.clone().into());
        }
        Value::Object(p)
    };
    let result = |rule: &str, result: &str, severity: &str, message: String, props: Value| {
        json!({
            "policy": POLICY,
            "rule": rule,
            "category": "Least privilege",
            "severity": severity,
            "result": result,
            "scored": true,
            "source": "privmon",
            "message": message,
            "properties": props,
            "timestamp": {"seconds": now, "nanos": 0},
        })
    };
    let who = format!("{}/{}", a.workload.owner, a.workload.container);
    let mut out = Vec::new();
    if let Some(unused) = &a.unused {
        let names: Vec<&str> = unused.iter().map(|c| short(c)).collect();
        out.push(if names.is_empty() {
            result(
                "excess-capabilities",
                "pass",
                "info",
                format!("{who} uses every capability it is granted"),
                properties(&[]),
            )
        } else {
            result(
                "excess-capabilities",
                "fail",
                "medium",
                format!(
                    "{who} is granted {} it never used: privmon advise gives the securityContext without them",
                    names.join(", ")
                ),
                properties(&[("capabilities", names.join(","))]),
            )
        });
    }
    if a.granted.privileged == Some(true) {
        let used: Vec<&str> = a.used.keys().map(|c| short(c)).collect();
        out.push(result(
            "privileged",
            "fail",
            "high",
            format!(
                "{who} runs privileged; it used {}",
                if used.is_empty() {
                    "no capability".to_string()
                } else {
                    used.join(", ")
                }
            ),
            properties(&[("used", used.join(","))]),
        ));
    }
    if let BaselineState::Learned { capabilities } = &a.baseline {
        let outside: Vec<&str> = a
            .used
            .keys()
            .filter(|c| !capabilities.contains(*c))
            .map(|c| short(c))
            .collect();
        if !outside.is_empty() {
            out.push(result(
                "capability-outside-baseline",
                "warn",
                "high",
                format!(
                    "{who} used {} outside its learned baseline",
                    outside.join(", ")
                ),
                properties(&[("capabilities", outside.join(","))]),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::advisor::{CapabilityUse, Granted, WorkloadId};

    fn advice(ns: Option<&str>, owner: &str, unused: &[&str], privileged: bool) -> Advice {
        Advice {
            workload: WorkloadId {
                namespace: ns.map(str::to_string),
                owner: owner.into(),
                container: "c".into(),
            },
            observed_secs: 60,
            instances: 2,
            last_new_capability: None,
            granted: Granted {
                privileged: Some(privileged),
                ..Granted::default()
            },
            used: [("CAP_NET_RAW".to_string(), CapabilityUse::default())].into(),
            unused: Some(unused.iter().map(|c| c.to_string()).collect()),
            denied: BTreeSet::new(),
            privilege_gain_seen: false,
            baseline: BaselineState::Learned {
                capabilities: BTreeSet::new(),
            },
            security_context: json!({}),
            docker_flags: Vec::new(),
        }
    }

    #[test]
    fn one_report_per_namespace_with_a_result_per_finding() {
        let reports = policy_reports(
            &[
                advice(
                    Some("shop"),
                    "web",
                    &["CAP_SYS_ADMIN", "CAP_NET_ADMIN"],
                    false,
                ),
                advice(Some("shop"), "db", &[], true),
                advice(Some("ops"), "backup", &[], false),
                advice(None, "nginx:1", &["CAP_CHOWN"], false),
            ],
            1_800_000_000,
        );
        assert_eq!(
            reports.len(),
            2,
            "outside Kubernetes: no namespace, no report"
        );
        let (ops, shop) = (&reports[0], &reports[1]);
        assert_eq!(ops["metadata"]["namespace"], "ops");
        assert_eq!(shop["apiVersion"], "wgpolicyk8s.io/v1alpha2");
        assert_eq!(shop["kind"], "PolicyReport");
        assert_eq!(shop["metadata"]["name"], "privmon-shop");
        let rules: Vec<(&str, &str)> = shop["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["rule"].as_str().unwrap(), r["result"].as_str().unwrap()))
            .collect();
        assert_eq!(
            rules,
            [
                ("excess-capabilities", "fail"),
                ("capability-outside-baseline", "warn"),
                ("excess-capabilities", "pass"),
                ("privileged", "fail"),
                ("capability-outside-baseline", "warn"),
            ]
        );
        assert_eq!(
            shop["summary"],
            json!({"pass": 1, "fail": 2, "warn": 2, "error": 0, "skip": 0})
        );
        let web = &shop["results"][0];
        assert_eq!(web["properties"]["capabilities"], "SYS_ADMIN,NET_ADMIN");
        assert_eq!(web["policy"], POLICY);
        assert_eq!(
            web["timestamp"],
            json!({"seconds": 1_800_000_000u64, "nanos": 0})
        );
    }
}
