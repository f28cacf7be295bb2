//! POSTs each event to a URL, as privmon's JSON, a falcosidekick payload or a CloudEvent,
//! with retries and backoff. It runs on its own thread behind a bounded queue: while a dead
//! endpoint is retried the queue fills and further events are dropped and counted; the
//! first success after failures says so in the log.

use std::{
    sync::{Arc, atomic::Ordering::Relaxed},
    time::Duration,
};

use serde_json::{Map, Value, json};
use tracing::{info, warn};

use super::{Record, SinkStats};
use crate::queue;

pub use crate::config::WebhookFormat as Format;

#[derive(Clone, Debug)]
pub struct Settings {
    pub url: String,
    pub format: Format,
    pub timeout: Duration,
    /// Attempts per event, the first included.
    pub attempts: u32,
    /// Wait before the second attempt; doubled for each next one (at most 30 s).
    pub backoff: Duration,
}

/// An HTTP client whose every request gives up after `timeout`, and that hands over error
/// statuses as answers (the caller decides what to retry).
pub(super) fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into()
}

/// One POST of a network sink, tried up to `attempts` times with a doubling wait (at most
/// 30 s) while the answer is a connection error or a status `retry` accepts.
pub(super) struct Post<'a> {
    pub url: &'a str,
    pub content_type: &'a str,
    pub headers: &'a [(String, String)],
    pub attempts: u32,
    pub backoff: Duration,
    pub retry: fn(u16) -> bool,
}

impl Post<'_> {
    /// Sends `body`; the body of the success answer, or the last failure.
    pub fn send(&self, agent: &ureq::Agent, body: &str) -> Result<String, String> {
        let mut wait = self.backoff;
        let mut last = String::new();
        for attempt in 0..self.attempts.max(1) {
            if attempt > 0 {
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(30));
            }
            let mut req = agent
                .post(self.url)
                .header("Content-Type", self.content_type);
            for (k, v) in self.headers {
                req = req.header(k.as_str(), v.as_str());
            }
            match req.send(body) {
                Ok(mut resp) if resp.status().is_success() => {
                    return Ok(resp.body_mut().read_to_string().unwrap_or_default());
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    last = format!("HTTP {status}");
                    if !(self.retry)(status) {
                        return Err(last);
                    }
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(last)
    }
}

pub fn worker(settings: Settings, rx: queue::Receiver<Arc<Record>>, stats: Arc<SinkStats>) {
    let agent = agent(settings.timeout);
    let post = Post {
        url: &settings.url,
        content_type: match settings.format {
            Format::Cloudevents => "application/cloudevents+json",
            Format::Privmon | Format::Falcosidekick => "application/json",
        },
        headers: &[],
        attempts: settings.attempts,
        backoff: settings.backoff,
        // A request refused as such (4xx) will not do better again, except 429.
        retry: |status| !(400..500).contains(&status) || status == 429,
    };
    let mut failing = false;
    for r in rx.iter() {
        let body = match settings.format {
            Format::Privmon => r.json.clone(),
            Format::Falcosidekick | Format::Cloudevents => {
                match serde_json::from_str::<Value>(&r.json) {
                    Ok(v) if settings.format == Format::Falcosidekick => {
                        falcosidekick(&v).to_string()
                    }
                    Ok(v) => cloudevent(&v, &r.json).to_string(),
                    Err(_) => {
                        stats.lost.fetch_add(1, Relaxed);
                        continue;
                    }
                }
            }
        };
        match post.send(&agent, &body) {
            Ok(_) => {
                stats.delivered.fetch_add(1, Relaxed);
                if failing {
                    info!(url = %settings.url, "webhook: delivering again");
                    failing = false;
                }
            }
            Err(e) => {
                stats.lost.fetch_add(1, Relaxed);
                if !failing {
                    warn!(url = %settings.url, error = %e,
                          "webhook: delivery failed; events are dropped and counted until it recovers");
                    failing = true;
                }
            }
        }
    }
}

/// Falco's priority names for privmon's severities.
fn priority(severity: Option<&str>) -> &'static str {
    match severity {
        Some("critical") => "Critical",
        Some("high") => "Error",
        Some("medium") => "Warning",
        Some("low") => "Notice",
        Some("info") => "Informational",
        _ => "Debug",
    }
}

/// falcosidekick's input payload for a privmon event.
pub fn falcosidekick(ev: &Value) -> Value {
    let kind = ev["kind"].as_str().unwrap_or("event");
    let is_alert = kind == "alert";
    let mut fields = Map::new();
    let mut put = |k: &str, v: &Value| {
        if !v.is_null() {
            fields.insert(k.to_string(), v.clone());
        }
    };
    put("k8s.ns.name", &ev["k8s"]["namespace"]);
    put("k8s.pod.name", &ev["k8s"]["pod"]);
    put("k8s.pod.uid", &ev["k8s"]["pod_uid"]);
    put("container.id", &ev["container"]["id"]);
    put("container.name", &ev["container"]["name"]);
    put("container.image", &ev["container"]["image"]);
    put("proc.pid", &ev["process"]["pid"]);
    put("proc.name", &ev["process"]["comm"]);
    put("proc.exepath", &ev["process"]["exe"]);
    put("user.uid", &ev["process"]["euid"]);
    let inner = if is_alert { &ev["event"] } else { ev };
    put("evt.type", &inner["syscall"]["name"]);
    put("privmon.kind", &inner["kind"]);
    // An operation's line lists its checks; the first is the call's (docs/events.md).
    let cap = match &inner["capability"] {
        Value::Null => &inner["checks"][0],
        cap => cap,
    };
    put("privmon.capability", &cap["name"]);
    put("privmon.verdict", &cap["verdict"]);
    put("privmon.mitre", &ev["mitre"]);
    put("privmon.count", &ev["count"]);
    let time = ev["time"].as_str().unwrap_or_default();
    let prio = priority(ev["severity"].as_str());
    let summary = if is_alert {
        ev["summary"].as_str().unwrap_or_default().to_string()
    } else {
        format!("privmon {kind} event")
    };
    let mut tags: Vec<Value> = ev["tags"].as_array().cloned().unwrap_or_default();
    tags.extend(ev["mitre"].as_array().cloned().unwrap_or_default());
    json!({
        "output": format!("{time}: {prio} {summary}"),
        "priority": prio,
        "rule": if is_alert { ev["rule"].clone() } else { Value::String(kind.to_string()) },
        "time": time,
        "output_fields": fields,
        "source": "privmon",
        "tags": tags,
        "hostname": ev["node"],
    })
}

/// A CloudEvents 1.0 event (structured mode) carrying a privmon event as its `data`.
///
/// `id` is derived from the line itself (FNV-1a, 128 bits), so a retried delivery carries
/// the same id and a receiver can drop the repeat; `source` names the node, `type` the
/// kind (`dev.privmon.alert.v1`), `subject` the workload (`namespace/pod/container`, else
/// `container/<name>`, else `host`). Alerts add the extension attributes `severity` and
/// `rule`, for routing on them (Knative triggers filter on attributes).
pub fn cloudevent(ev: &Value, line: &str) -> Value {
    let kind = ev["kind"].as_str().unwrap_or("event");
    let node = ev["node"].as_str().unwrap_or("unknown");
    let k8s = &ev["k8s"];
    let container = &ev["container"];
    let subject = match (
        k8s["namespace"].as_str(),
        k8s["pod"].as_str(),
        k8s["container"].as_str().or(container["name"].as_str()),
    ) {
        (Some(ns), Some(pod), Some(c)) => format!("{ns}/{pod}/{c}"),
        (Some(ns), Some(pod), None) => format!("{ns}/{pod}"),
        _ => match container["name"].as_str().or(container["id"].as_str()) {
            Some(c) => format!("container/{c}"),
            None => "host".to_string(),
        },
    };
    let mut out = json!({
        "specversion": "1.0",
        "id": format!("{:032x}", crate::digest::fnv1a_128(line.as_bytes())),
        "source": format!("privmon://{node}"),
        "type": format!("dev.privmon.{kind}.v1"),
        "subject": subject,
        "datacontenttype": "application/json",
        "data": ev,
    });
    if !ev["time"].is_null() {
        out["time"] = ev["time"].clone();
    }
    if kind == "alert" {
        for ext in ["severity", "rule"] {
            if let Some(v) = ev[ext].as_str() {
                out[ext] = v.into();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cloudevent_has_the_required_attributes_and_a_stable_id() {
        let line = r#"{"time":"2026-11-28T20:00:00.5Z","kind":"alert","node":"n1","severity":"high","rule":"mount_in_container","k8s":{"namespace":"payments","pod":"api-7d9","container":"api"},"container":{"id":"ab","name":"api"}}"#;
        let ev: Value = serde_json::from_str(line).unwrap();
        let ce = cloudevent(&ev, line);
        assert_eq!(ce["specversion"], "1.0");
        assert_eq!(ce["type"], "dev.privmon.alert.v1");
        assert_eq!(ce["source"], "privmon://n1");
        assert_eq!(ce["subject"], "payments/api-7d9/api");
        assert_eq!(ce["time"], "2026-11-28T20:00:00.5Z");
        assert_eq!(ce["datacontenttype"], "application/json");
        assert_eq!(ce["severity"], "high");
        assert_eq!(ce["rule"], "mount_in_container");
        assert_eq!(ce["data"], ev);
        let id = ce["id"].as_str().unwrap();
        assert_eq!(id.len(), 32);
        assert_eq!(
            cloudevent(&ev, line)["id"],
            id,
            "the same line, the same id"
        );
        let other = line.replace("20:00:00.5Z", "20:00:00.6Z");
        assert_ne!(cloudevent(&ev, &other)["id"], id);
    }

    #[test]
    fn a_cloudevent_names_a_container_outside_kubernetes_and_the_host() {
        let ev = json!({"kind": "capability", "node": "n1", "k8s": null,
                        "container": {"id": "3f1c3f1c3f1c", "name": "web"}});
        let ce = cloudevent(&ev, "x");
        assert_eq!(ce["subject"], "container/web");
        assert_eq!(ce["type"], "dev.privmon.capability.v1");
        assert!(ce.get("severity").is_none());
        let host = json!({"kind": "capability", "node": "n1", "k8s": null, "container": null});
        assert_eq!(cloudevent(&host, "y")["subject"], "host");
        assert!(cloudevent(&host, "y").get("time").is_none());
    }

    #[test]
    fn falcosidekick_payload_of_an_alert() {
        let ev = json!({
            "time": "2026-11-28T20:00:00.5Z", "kind": "alert", "node": "n1",
            "process": {"pid": 42, "comm": "mount", "exe": "/bin/mount", "euid": 0},
            "container": {"id": "ab", "name": null, "image": "img:1"},
            "k8s": {"namespace": "payments", "pod": "api-7d9", "pod_uid": null, "container": "api"},
            "rule": "mount_in_container", "severity": "high", "mitre": ["T1611"],
            "tags": ["container"], "summary": "pod payments/api-7d9 (container api) ran mount",
            "count": 1,
            "event": {"kind": "syscall", "syscall": {"name": "mount"},
                      "capability": {"name": "CAP_SYS_ADMIN", "verdict": "allowed"}}
        });
        let p = falcosidekick(&ev);
        assert_eq!(p["priority"], "Error");
        assert_eq!(p["rule"], "mount_in_container");
        assert_eq!(p["source"], "privmon");
        assert_eq!(p["hostname"], "n1");
        assert_eq!(p["time"], "2026-11-28T20:00:00.5Z");
        assert_eq!(
            p["output"],
            "2026-11-28T20:00:00.5Z: Error pod payments/api-7d9 (container api) ran mount"
        );
        assert_eq!(p["tags"], json!(["container", "T1611"]));
        let f = &p["output_fields"];
        assert_eq!(f["k8s.ns.name"], "payments");
        assert_eq!(f["k8s.pod.name"], "api-7d9");
        assert_eq!(f["evt.type"], "mount");
        assert_eq!(f["proc.exepath"], "/bin/mount");
        assert_eq!(f["privmon.capability"], "CAP_SYS_ADMIN");
        assert!(f.get("container.name").is_none());
        // An operation's own line: its first check.
        let op = json!({"kind": "syscall", "syscall": {"name": "mount"},
                        "checks": [{"count": 1, "name": "CAP_SYS_ADMIN", "scope": "host",
                                    "verdict": "denied"}]});
        let f = &falcosidekick(&op)["output_fields"];
        assert_eq!(f["privmon.capability"], "CAP_SYS_ADMIN");
        assert_eq!(f["privmon.verdict"], "denied");
    }
}
