//! POSTs each event to a URL, as privmon's JSON or as a falcosidekick payload, with
//! retries and backoff. It runs on its own thread behind a bounded queue: while a dead
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

pub fn worker(settings: Settings, rx: queue::Receiver<Arc<Record>>, stats: Arc<SinkStats>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(settings.timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let mut failing = false;
    for r in rx.iter() {
        let body = match settings.format {
            Format::Privmon => r.json.clone(),
            Format::Falcosidekick => match serde_json::from_str::<Value>(&r.json) {
                Ok(v) => falcosidekick(&v).to_string(),
                Err(_) => {
                    stats.lost.fetch_add(1, Relaxed);
                    continue;
                }
            },
        };
        match deliver(&agent, &settings, &body) {
            Ok(()) => {
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

fn deliver(agent: &ureq::Agent, s: &Settings, body: &str) -> Result<(), String> {
    let mut wait = s.backoff;
    let mut last = String::new();
    for attempt in 0..s.attempts.max(1) {
        if attempt > 0 {
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_secs(30));
        }
        match agent
            .post(&s.url)
            .header("Content-Type", "application/json")
            .send(body)
        {
            Ok(resp) if resp.status().is_success() => return Ok(()),
            Ok(resp) => {
                let status = resp.status().as_u16();
                last = format!("HTTP {status}");
                // The request itself is refused: retrying will not help (except 429).
                if (400..500).contains(&status) && status != 429 {
                    return Err(last);
                }
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
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
    put("privmon.capability", &inner["capability"]["name"]);
    put("privmon.verdict", &inner["capability"]["verdict"]);
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

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
