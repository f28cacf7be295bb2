//! `privmon tail`: follows a running daemon's live stream (`/events`), one aligned line
//! per event for people, or the JSON lines as they come (`--json`).

use std::io::{BufRead, BufReader, IsTerminal, Write};

use anyhow::Context as _;
use serde_json::Value;

use crate::{cli::client::DaemonArgs, rules::workload};

/// Filters, sent to the daemon (the stream is filtered there).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct TailArgs {
    #[command(flatten)]
    pub daemon: DaemonArgs,
    /// Kubernetes namespace.
    #[arg(long, short)]
    pub namespace: Option<String>,
    /// Pod name.
    #[arg(long, short)]
    pub pod: Option<String>,
    /// Container name (Kubernetes, else the runtime's).
    #[arg(long, short)]
    pub container: Option<String>,
    /// Event kinds, comma-separated (capability, syscall, namespace, credentials,
    /// container_start, container_stop, alert).
    #[arg(long, short)]
    pub kind: Option<String>,
    /// Alerts of this severity or above only (critical, high, medium, low, info).
    #[arg(long, short)]
    pub severity: Option<String>,
    /// Alerts of this rule only.
    #[arg(long, short)]
    pub rule: Option<String>,
    /// Past events to show first.
    #[arg(long, default_value_t = 20)]
    pub history: usize,
    /// Print the JSON lines as they come, for piping.
    #[arg(long)]
    pub json: bool,
}

impl TailArgs {
    pub fn url(&self) -> String {
        let history = self.history.to_string();
        self.daemon.url(
            "/events",
            &[
                ("history", Some(history.as_str())),
                ("namespace", self.namespace.as_deref()),
                ("pod", self.pod.as_deref()),
                ("container", self.container.as_deref()),
                ("kind", self.kind.as_deref()),
                ("severity", self.severity.as_deref()),
                ("rule", self.rule.as_deref()),
            ],
        )
    }
}

/// Follows the stream until the daemon closes it.
pub fn run(args: &TailArgs) -> anyhow::Result<()> {
    let body = args.daemon.get(&args.url())?;
    let reader = BufReader::new(body.into_reader());
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut out = std::io::stdout().lock();
    for line in reader.lines() {
        let line = line.context("reading the stream")?;
        let written = if args.json {
            writeln!(out, "{line}")
        } else {
            match serde_json::from_str::<Value>(&line) {
                Ok(ev) => writeln!(out, "{}", human(&ev, colour)),
                Err(_) => writeln!(out, "{line}"),
            }
        };
        // A closed pipe (`| head`) ends the tail quietly.
        if written.and_then(|()| out.flush()).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// One line: time, severity (or kind), where, process, what.
pub fn human(ev: &Value, colour: bool) -> String {
    let time = ev["time"]
        .as_str()
        .and_then(|t| t.split('T').nth(1))
        .map(|t| t.trim_end_matches('Z').chars().take(12).collect::<String>())
        .unwrap_or_default();
    let kind = ev["kind"].as_str().unwrap_or("?");
    let level = ev["severity"].as_str().unwrap_or(kind).to_uppercase();
    let k8s = &ev["k8s"];
    let place = match (k8s["namespace"].as_str(), k8s["pod"].as_str()) {
        (Some(ns), Some(pod)) => format!("{ns}/{pod}/{}", k8s["container"].as_str().unwrap_or("?")),
        _ => match ev["container"]["id"].as_str() {
            Some(id) => ev["container"]["name"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| id.chars().take(12).collect()),
            None => "host".to_string(),
        },
    };
    let p = &ev["process"];
    let process = match p["pid"].as_u64() {
        Some(pid) => format!("{}[{pid}]", p["comm"].as_str().unwrap_or("?")),
        None => "-".to_string(),
    };
    let what = summary(ev);
    let level_text = format!("{level:<15}");
    let level_text = if colour {
        let code = match ev["severity"].as_str() {
            Some("critical") => "1;31",
            Some("high") => "31",
            Some("medium") => "33",
            Some("low") => "36",
            Some(_) => "37",
            None => "2",
        };
        format!("\x1b[{code}m{level_text}\x1b[0m")
    } else {
        level_text
    };
    format!("{time:<12}  {level_text}  {place:<40}  {process:<22}  {what}")
}

fn summary(ev: &Value) -> String {
    let args = |v: &Value| -> String {
        v.as_object()
            .map(|m| {
                m.iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| match v {
                        Value::String(s) => format!("{k}={s}"),
                        v => format!("{k}={v}"),
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    };
    // An operation's line lists its checks; the first decided the call's verdict.
    let cap = match &ev["capability"] {
        Value::Null => &ev["checks"][0],
        cap => cap,
    };
    match ev["kind"].as_str().unwrap_or_default() {
        "alert" => {
            let n = ev["count"].as_u64().unwrap_or(1);
            let s = ev["summary"].as_str().unwrap_or_default();
            if n > 1 {
                format!("{s} (x{n} in {}s)", ev["window_secs"])
            } else {
                s.to_string()
            }
        }
        "capability" => format!(
            "{} {} ({})",
            cap["name"].as_str().unwrap_or("?"),
            cap["verdict"].as_str().unwrap_or("?"),
            ev["syscall"]["name"].as_str().unwrap_or("?")
        ),
        "syscall" | "namespace" => format!(
            "{}({}) {}",
            ev["syscall"]["name"].as_str().unwrap_or("?"),
            args(&ev["syscall"]["args"]),
            cap["verdict"].as_str().unwrap_or("")
        ),
        "container_start" | "container_stop" => {
            let verb = if ev["kind"] == "container_start" {
                "started"
            } else {
                "stopped"
            };
            let p = &ev["posture"];
            format!(
                "{} {verb} (image {}, privileged {})",
                workload(ev),
                ev["container"]["image"].as_str().unwrap_or("?"),
                p["privileged"]
            )
        }
        k => k.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_aligned_line_per_alert() {
        let ev = json!({
            "time": "2026-11-28T20:01:02.123456789Z", "kind": "alert", "severity": "high",
            "k8s": {"namespace": "payments", "pod": "api-7d9", "container": "api"},
            "container": {"id": "ab"}, "process": {"pid": 42, "comm": "mount"},
            "summary": "pod payments/api-7d9 (container api) ran mount", "count": 1
        });
        let l = human(&ev, false);
        assert_eq!(
            l,
            format!(
                "{:<12}  {:<15}  {:<40}  {:<22}  {}",
                "20:01:02.123",
                "HIGH",
                "payments/api-7d9/api",
                "mount[42]",
                "pod payments/api-7d9 (container api) ran mount"
            )
        );
        assert!(human(&ev, true).contains("\x1b[31mHIGH"));
    }

    #[test]
    fn an_operation_reads_its_verdict_from_its_first_check() {
        let ev = json!({
            "time": "2026-11-28T20:01:02.123456789Z", "kind": "syscall",
            "container": {"id": "3f1c3f1c3f1c", "name": "api"},
            "process": {"pid": 42, "comm": "mount"},
            "checks": [{"count": 1, "name": "CAP_SYS_ADMIN", "scope": "host", "verdict": "denied"}],
            "syscall": {"name": "mount", "args": {"target": "/mnt", "data": null}}
        });
        assert_eq!(summary(&ev), "mount(target=/mnt) denied");
    }

    #[test]
    fn the_url_carries_the_filters() {
        let a = TailArgs {
            daemon: DaemonArgs {
                address: "127.0.0.1:9798".into(),
                token: None,
            },
            namespace: Some("pay ments".into()),
            severity: Some("high".into()),
            history: 5,
            ..Default::default()
        };
        assert_eq!(
            a.url(),
            "http://127.0.0.1:9798/events?history=5&namespace=pay%20ments&severity=high"
        );
    }
}
