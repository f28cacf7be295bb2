//! OpenTelemetry logs over OTLP/HTTP, JSON encoding (`ExportLogsServiceRequest`,
//! opentelemetry-proto's `logs/v1`): each batch the sink's queue hands over is one POST,
//! its records grouped by the workload they describe (the OTel resource: pod, container,
//! node, image). Retries and backoff as the webhook's; a record the collector rejects
//! (`partialSuccess.rejectedLogRecords`) or a batch that fails for good is counted lost.

use std::{
    collections::BTreeMap,
    sync::{Arc, atomic::Ordering::Relaxed},
    time::{Duration, SystemTime},
};

use serde_json::{Value, json};
use tracing::{info, warn};

use super::{Record, SinkStats};
use crate::{queue, rules::Severity};

#[derive(Clone, Debug)]
pub struct Settings {
    /// The logs endpoint, whole (`http://collector:4318/v1/logs`).
    pub url: String,
    /// Extra request headers (`Authorization`, a tenant id, ...).
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
    pub attempts: u32,
    pub backoff: Duration,
}

/// OpenTelemetry resource attributes, as (key, value) pairs in a stable order.
type Resource = Vec<(String, String)>;

/// Log records in one request at most.
const MAX_RECORDS: usize = 512;

pub fn worker(settings: Settings, rx: queue::Receiver<Arc<Record>>, stats: Arc<SinkStats>) {
    let agent = super::webhook::agent(settings.timeout);
    let post = super::webhook::Post {
        url: &settings.url,
        content_type: "application/json",
        headers: &settings.headers,
        attempts: settings.attempts,
        backoff: settings.backoff,
        // The OTLP/HTTP spec's retryable answers.
        retry: |status| matches!(status, 429 | 502 | 503 | 504),
    };
    let mut failing = false;
    while let Ok(mut batch) = rx.recv() {
        while batch.len() < MAX_RECORDS {
            match rx.try_recv() {
                Ok(more) => batch.extend(more),
                Err(_) => break,
            }
        }
        for chunk in batch.chunks(MAX_RECORDS) {
            let body = request(chunk, SystemTime::now()).to_string();
            let n = chunk.len() as u64;
            match post.send(&agent, &body) {
                Ok(answer) => {
                    let rejected = rejected(&answer);
                    let rejected = rejected.min(n);
                    stats.delivered.fetch_add(n - rejected, Relaxed);
                    stats.lost.fetch_add(rejected, Relaxed);
                    if failing {
                        info!(url = %settings.url, "otlp: delivering again");
                        failing = false;
                    }
                }
                Err(e) => {
                    stats.lost.fetch_add(n, Relaxed);
                    if !failing {
                        warn!(url = %settings.url, error = %e,
                              "otlp: export failed; records are dropped and counted until it recovers");
                        failing = true;
                    }
                }
            }
        }
    }
}

/// `partialSuccess.rejectedLogRecords` of an `ExportLogsServiceResponse` (an int64, which
/// the JSON encoding writes as a string).
fn rejected(answer: &str) -> u64 {
    let v: Value = serde_json::from_str(answer).unwrap_or(Value::Null);
    let n = &v["partialSuccess"]["rejectedLogRecords"];
    n.as_u64()
        .or_else(|| n.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0)
}

/// The `ExportLogsServiceRequest` of a batch: one `resourceLogs` per workload, in the order
/// of their first record.
pub fn request(batch: &[Arc<Record>], now: SystemTime) -> Value {
    let observed = unix_nanos(now).to_string();
    let mut groups: Vec<(Resource, Vec<Value>)> = Vec::new();
    let mut index: BTreeMap<Resource, usize> = BTreeMap::new();
    for r in batch {
        let ev: Value = serde_json::from_str(&r.json).unwrap_or(Value::Null);
        let resource = resource_of(r, &ev);
        let record = log_record(r, &ev, &observed);
        let i = *index.entry(resource.clone()).or_insert_with(|| {
            groups.push((resource, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push(record);
    }
    let resource_logs: Vec<Value> = groups
        .into_iter()
        .map(|(resource, records)| {
            json!({
                "resource": {"attributes": attributes(&resource)},
                "scopeLogs": [{
                    "scope": {"name": "privmon", "version": env!("CARGO_PKG_VERSION")},
                    "logRecords": records,
                }],
            })
        })
        .collect();
    json!({ "resourceLogs": resource_logs })
}

/// The OpenTelemetry resource attributes (semantic conventions) of the workload an event
/// is about: from the event's whole container and pod blocks where the record holds them
/// (an act's line names them briefly), else from the line (alerts carry them whole).
fn resource_of(r: &Record, ev: &Value) -> Resource {
    let mut out = Vec::new();
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            out.push((k.to_string(), v.to_string()));
        }
    };
    put("k8s.node.name", ev["node"].as_str());
    let (k8s, c) = r.whole_blocks(ev);
    put("k8s.namespace.name", k8s["namespace"].as_str());
    put("k8s.pod.name", k8s["pod"].as_str());
    put("k8s.pod.uid", k8s["pod_uid"].as_str());
    put("k8s.container.name", k8s["container"].as_str());
    put("container.id", c["id"].as_str());
    put("container.name", c["name"].as_str());
    put("container.runtime", c["runtime"].as_str());
    if let Some(image) = c["image"].as_str() {
        let (name, tag) = split_image(image);
        put("container.image.name", Some(name));
        put("container.image.tags", tag);
    }
    // A repository digest (`name@sha256:…`) is the image manifest's.
    put(
        "oci.manifest.digest",
        c["image_id"]
            .as_str()
            .and_then(|id| id.split_once('@'))
            .map(|(_, digest)| digest),
    );
    out
}

/// An image reference's repository and tag (`registry:5000/app:1.2` -> `registry:5000/app`,
/// `1.2`); a digest reference has no tag.
fn split_image(image: &str) -> (&str, Option<&str>) {
    let image = image.split_once('@').map_or(image, |(name, _)| name);
    let last = image.rfind('/').map_or(0, |i| i + 1);
    match image[last..].rfind(':') {
        Some(i) => (&image[..last + i], Some(&image[last + i + 1..])),
        None => (image, None),
    }
}

fn attributes(pairs: &[(String, String)]) -> Vec<Value> {
    pairs
        .iter()
        .map(|(k, v)| {
            // container.image.tags is a string array in the conventions.
            let value = if k == "container.image.tags" {
                json!({"arrayValue": {"values": [{"stringValue": v}]}})
            } else {
                json!({ "stringValue": v })
            };
            json!({"key": k, "value": value})
        })
        .collect()
}

/// One `LogRecord`: the event's line as its body, its time, a severity from the alert's,
/// and what a log pipeline indexes on as attributes.
fn log_record(r: &Record, ev: &Value, observed: &str) -> Value {
    let (number, text) = severity(r.severity);
    let time = ev["time"]
        .as_str()
        .and_then(|t| humantime::parse_rfc3339(t).ok())
        .map(unix_nanos);
    let mut attrs: Vec<Value> = Vec::new();
    let mut put = |k: &str, v: Value| {
        let value = match v {
            Value::String(s) => json!({ "stringValue": s }),
            Value::Number(n) if n.is_i64() || n.is_u64() => json!({ "intValue": n.to_string() }),
            Value::Bool(b) => json!({ "boolValue": b }),
            _ => return,
        };
        attrs.push(json!({"key": k, "value": value}));
    };
    put("event.name", Value::String(format!("privmon.{}", r.kind)));
    put("privmon.kind", Value::String(r.kind.to_string()));
    if let Some(rule) = &r.rule {
        put("privmon.rule", Value::String(rule.clone()));
    }
    let process = &ev["process"];
    put("process.pid", process["pid"].clone());
    put("process.executable.name", process["comm"].clone());
    put("process.executable.path", process["exe"].clone());
    put("process.user.id", process["euid"].clone());
    let mut record = json!({
        "observedTimeUnixNano": observed,
        "severityNumber": number,
        "severityText": text,
        "body": {"stringValue": r.json},
        "attributes": attrs,
    });
    if let Some(t) = time {
        record["timeUnixNano"] = t.to_string().into();
    }
    record
}

/// OpenTelemetry's `SeverityNumber` and text for privmon's severities (events other than
/// alerts are INFO).
pub fn severity(s: Option<Severity>) -> (u8, &'static str) {
    match s {
        Some(Severity::Critical) => (21, "FATAL"),
        Some(Severity::High) => (17, "ERROR"),
        Some(Severity::Medium) => (13, "WARN"),
        Some(Severity::Low) => (10, "INFO2"),
        Some(Severity::Info) | None => (9, "INFO"),
    }
}

fn unix_nanos(t: SystemTime) -> u128 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert_record(severity: Severity) -> Arc<Record> {
        let line = json!({
            "time": "2026-11-28T20:00:00.5Z", "kind": "alert", "node": "n1",
            "rule": "mount_in_container", "severity": severity.name(),
            "process": {"pid": 42, "comm": "mount", "exe": "/bin/mount", "euid": 0},
            "k8s": {"namespace": "payments", "pod": "api-7d9", "pod_uid": "u-1", "container": "api"},
            "container": {"id": "3f1c".repeat(16), "name": "api", "runtime": "containerd",
                          "image": "registry:5000/shop/api:1.2",
                          "image_id": "registry:5000/shop/api@sha256:abcd"},
        });
        Arc::new(Record::new(&line).unwrap())
    }

    fn attr<'a>(attrs: &'a Value, key: &str) -> &'a Value {
        attrs
            .as_array()
            .and_then(|a| a.iter().find(|kv| kv["key"] == key))
            .map_or(&Value::Null, |kv| &kv["value"])
    }

    #[test]
    fn an_alert_becomes_a_log_record_of_its_workload() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let req = request(&[alert_record(Severity::High)], now);
        let rl = &req["resourceLogs"];
        assert_eq!(rl.as_array().unwrap().len(), 1);
        let res = &rl[0]["resource"]["attributes"];
        assert_eq!(attr(res, "k8s.namespace.name")["stringValue"], "payments");
        assert_eq!(attr(res, "k8s.pod.name")["stringValue"], "api-7d9");
        assert_eq!(attr(res, "k8s.pod.uid")["stringValue"], "u-1");
        assert_eq!(attr(res, "k8s.node.name")["stringValue"], "n1");
        assert_eq!(attr(res, "container.id")["stringValue"], "3f1c".repeat(16));
        assert_eq!(
            attr(res, "container.image.name")["stringValue"],
            "registry:5000/shop/api"
        );
        assert_eq!(
            attr(res, "container.image.tags")["arrayValue"]["values"][0]["stringValue"],
            "1.2"
        );
        assert_eq!(
            attr(res, "oci.manifest.digest")["stringValue"],
            "sha256:abcd"
        );
        let scope = &rl[0]["scopeLogs"][0];
        assert_eq!(scope["scope"]["name"], "privmon");
        let rec = &scope["logRecords"][0];
        assert_eq!(rec["severityNumber"], 17);
        assert_eq!(rec["severityText"], "ERROR");
        // 2026-11-28T20:00:00.5Z
        assert_eq!(rec["timeUnixNano"], "1795896000500000000");
        assert_eq!(rec["observedTimeUnixNano"], "1800000000000000000");
        let body: Value =
            serde_json::from_str(rec["body"]["stringValue"].as_str().unwrap()).unwrap();
        assert_eq!(body["rule"], "mount_in_container");
        assert_eq!(
            attr(&rec["attributes"], "event.name")["stringValue"],
            "privmon.alert"
        );
        assert_eq!(
            attr(&rec["attributes"], "privmon.rule")["stringValue"],
            "mount_in_container"
        );
        assert_eq!(attr(&rec["attributes"], "process.pid")["intValue"], "42");
        assert_eq!(
            attr(&rec["attributes"], "process.executable.path")["stringValue"],
            "/bin/mount"
        );
    }

    #[test]
    fn records_of_one_workload_share_a_resource_and_severities_map() {
        let batch = [
            alert_record(Severity::Critical),
            alert_record(Severity::Low),
            Arc::new(Record::named(
                "capability",
                None,
                None,
                Default::default(),
                "{}".into(),
            )),
        ];
        let req = request(&batch, SystemTime::now());
        let rl = req["resourceLogs"].as_array().unwrap();
        assert_eq!(rl.len(), 2, "{req:#}");
        let recs = rl[0]["scopeLogs"][0]["logRecords"].as_array().unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0]["severityNumber"], 21);
        assert_eq!(recs[1]["severityNumber"], 10);
        let plain = &rl[1]["scopeLogs"][0]["logRecords"][0];
        assert_eq!(plain["severityNumber"], 9);
        assert!(plain.get("timeUnixNano").is_none(), "no time, none made up");
    }

    #[test]
    fn split_image_keeps_registry_ports_and_digests_apart() {
        assert_eq!(split_image("nginx"), ("nginx", None));
        assert_eq!(split_image("nginx:1.27"), ("nginx", Some("1.27")));
        assert_eq!(
            split_image("registry:5000/app"),
            ("registry:5000/app", None)
        );
        assert_eq!(
            split_image("registry:5000/app:v2"),
            ("registry:5000/app", Some("v2"))
        );
        assert_eq!(split_image("app@sha256:ab"), ("app", None));
    }

    #[test]
    fn partial_success_counts_rejected_records() {
        assert_eq!(rejected(""), 0);
        assert_eq!(rejected("{}"), 0);
        assert_eq!(
            rejected(r#"{"partialSuccess":{"rejectedLogRecords":"3"}}"#),
            3
        );
        assert_eq!(
            rejected(r#"{"partialSuccess":{"rejectedLogRecords":2}}"#),
            2
        );
    }
}
