//! The metrics endpoint against real containers and a real Prometheus server.
//! Root only: `cargo xtask test`.

use std::time::{Duration, Instant};

use monitor_common::VERDICT_ALLOWED;
use privmon_tests::{
    Container, ContainerSpec, Daemon, Metrics, PATIENCE, Prometheus, TEST_NAMESPACE,
    host_capabilities, require_root, short_id, unique,
};

/// CAP_SETUID
const CAP_SETUID: u32 = 7;

/// Polls the daemon's `/metrics` until `pred` holds; returns the last scrape either way.
fn scrape_until(daemon: &Daemon, timeout: Duration, pred: impl Fn(&Metrics) -> bool) -> Metrics {
    let deadline = Instant::now() + timeout;
    loop {
        let m = daemon.metrics().expect("scraping /metrics");
        if pred(&m) || Instant::now() > deadline {
            return m;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn pod_labels(pod: &str) -> [(&'static str, &str); 3] {
    [
        ("namespace", TEST_NAMESPACE),
        ("pod", pod),
        ("container", "trigger"),
    ]
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn endpoints_answer() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    assert_eq!(daemon.get("/healthz").unwrap(), (200, "ok\n".to_string()));
    // Ready once the reader and the output thread have shown life (within a second).
    let deadline = Instant::now() + PATIENCE;
    let ready = loop {
        let (status, body) = daemon.get("/readyz").unwrap();
        if status == 200 || Instant::now() > deadline {
            break (status, body);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(ready, (200, "ready\n".to_string()));
    let m = daemon.metrics().unwrap();
    assert_eq!(m.value("privmon_ready", &[]), Some(1.0), "{}", m.text);
    assert_eq!(
        m.value(
            "privmon_hook_info",
            &[("hook", "capability"), ("attach", "tp_btf")]
        ),
        Some(1.0),
        "{}",
        m.text
    );
    assert_eq!(daemon.get("/nothing-here").unwrap().0, 404);
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn prometheus_sees_exact_per_container_counts() {
    require_root();
    const CALLS: u64 = 20_000;
    let daemon = Daemon::start(&[]).unwrap();
    let prometheus = Prometheus::start(&[&daemon.address]).unwrap();
    let pod = unique("metrics-pod-");
    let c = Container::create(&ContainerSpec {
        args: &["/bin/trigger", "setuid-loop", &CALLS.to_string()],
        capabilities: &["CAP_SETUID"],
        pod: Some(&pod),
        ..Default::default()
    })
    .unwrap();
    // runc's set-up in the container's cgroup may have made checks already.
    let before = daemon
        .cap_count(c.cgroup_id, CAP_SETUID, VERDICT_ALLOWED)
        .unwrap();
    let out = c.run_to_completion().unwrap();
    assert!(out.contains(&format!("calls={CALLS} ok={CALLS}")), "{out}");
    let exact = daemon
        .cap_count(c.cgroup_id, CAP_SETUID, VERDICT_ALLOWED)
        .unwrap();
    assert_eq!(exact - before, CALLS);

    let mut labels = pod_labels(&pod).to_vec();
    labels.extend([("cap", "CAP_SETUID"), ("verdict", "allowed")]);
    let m = scrape_until(&daemon, PATIENCE, |m| {
        m.value("privmon_capability_checks_total", &labels) == Some(exact as f64)
    });
    assert_eq!(
        m.value("privmon_capability_checks_total", &labels),
        Some(exact as f64),
        "{}",
        m.text
    );

    // The same series, through a real Prometheus scrape and its query API.
    let expr = format!(
        "privmon_capability_checks_total{{pod=\"{pod}\",cap=\"CAP_SETUID\",verdict=\"allowed\"}}"
    );
    let deadline = Instant::now() + PATIENCE;
    let result = loop {
        let r = prometheus.query(&expr).unwrap();
        if r.first().is_some_and(|(_, v)| *v == exact as f64) || Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(result.len(), 1, "{result:?}\n{}", prometheus.log());
    let (series, value) = &result[0];
    assert_eq!(*value, exact as f64, "{series}");
    assert_eq!(series["namespace"], TEST_NAMESPACE, "{series}");
    assert_eq!(series["container"], "trigger", "{series}");
    assert_eq!(series["job"], "privmon", "{series}");
    let events = prometheus
        .query("sum(privmon_events_total{kind=\"capability\"})")
        .unwrap();
    assert!(events.first().is_some_and(|(_, v)| *v >= 1.0), "{events:?}");

    // Every query of the dashboard is valid PromQL for a real Prometheus (with Grafana's
    // variables filled in), and the main panels have data.
    let dashboard = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../deploy/grafana/privmon-dashboard.json"),
    )
    .unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"]
                .as_str()
                .unwrap()
                .replace("$__rate_interval", "1m")
                .replace("$node", ".*")
                .replace("$namespace", ".*");
            // (No check in this test is denied: the denied panel may be empty. Rates need
            // two scrapes of a series: wait for them.)
            let must_have_data = [
                "privmon instances ready",
                "Probe attachment per node",
                "Capability checks by namespace",
                "privmon memory (RSS)",
            ]
            .contains(&panel["title"].as_str().unwrap());
            let deadline = Instant::now() + PATIENCE;
            loop {
                let result = prometheus
                    .query(&expr)
                    .unwrap_or_else(|e| panic!("panel {}: {e}", panel["title"]));
                if !must_have_data || !result.is_empty() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "panel {}: no data for {expr}",
                    panel["title"]
                );
                std::thread::sleep(Duration::from_millis(250));
            }
        }
    }
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn posture_gauges_and_series_of_a_stopped_container_go_away() {
    require_root();
    let daemon = Daemon::start(&["--metrics-grace-secs", "2"]).unwrap();
    let pod = unique("posture-pod-");
    let caps = host_capabilities();
    let caps: Vec<&str> = caps.iter().map(String::as_str).collect();
    let c = Container::create(&ContainerSpec {
        args: &["/bin/trigger", "nice"],
        capabilities: &caps,
        host_pid: true,
        pod: Some(&pod),
        ..Default::default()
    })
    .unwrap();
    let labels = pod_labels(&pod);
    // Created, not started: it exists, so its posture is known.
    let m = scrape_until(&daemon, PATIENCE, |m| {
        m.value("privmon_container_privileged", &labels).is_some()
    });
    assert_eq!(
        m.value("privmon_container_privileged", &labels),
        Some(1.0),
        "{}",
        m.text
    );
    let mut host_pid = labels.to_vec();
    host_pid.push(("type", "pid"));
    assert_eq!(
        m.value("privmon_container_host_namespace", &host_pid),
        Some(1.0)
    );
    let mut host_net = labels.to_vec();
    host_net.push(("type", "net"));
    assert_eq!(m.value("privmon_container_host_namespace", &host_net), None);
    let added = m
        .value("privmon_container_capabilities_added", &labels)
        .unwrap();
    assert!(added >= 1.0, "{}", m.text);
    assert!(
        m.value("privmon_containers_tracked", &[]).unwrap() >= 1.0,
        "{}",
        m.text
    );

    // Its nice(-5) makes a CAP_SYS_NICE check.
    c.run_to_completion().unwrap();
    let mut nice = labels.to_vec();
    nice.push(("cap", "CAP_SYS_NICE"));
    let m = scrape_until(&daemon, PATIENCE, |m| {
        !m.values("privmon_capability_checks_total", &nice)
            .is_empty()
    });
    assert!(
        !m.values("privmon_capability_checks_total", &nice)
            .is_empty(),
        "{}",
        m.text
    );

    let (id, cgroup_id) = (c.id.clone(), c.cgroup_id);
    c.delete();
    daemon
        .wait_for_event(|e| e["kind"] == "container_stop" && e["container"]["id"] == short_id(&id))
        .expect("container_stop");
    // Posture gauges describe running containers: gone at once. Counters stay for the grace
    // period, so their last value is scraped.
    let m = daemon.metrics().unwrap();
    assert_eq!(m.value("privmon_container_privileged", &labels), None);
    assert!(
        !m.values("privmon_capability_checks_total", &nice)
            .is_empty(),
        "counters went before the grace period: {}",
        m.text
    );
    let m = scrape_until(&daemon, PATIENCE, |m| {
        m.values("privmon_capability_checks_total", &labels)
            .is_empty()
    });
    assert!(
        m.values("privmon_capability_checks_total", &labels)
            .is_empty(),
        "series still there after the grace period: {}",
        m.text
    );
    // And so are the kernel's counters of the removed cgroup.
    for cap in 0..64 {
        for verdict in 0..2 {
            assert_eq!(daemon.cap_count(cgroup_id, cap, verdict).unwrap(), 0);
        }
    }
}

/// The shipped alert rules, loaded in a real Prometheus, fire on a real condition: a
/// container refused CAP_SYS_ADMIN for a mount (a series born at 1, which increase() alone
/// would miss), and privmon's own alert for it feeds the escape-attempt alert.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn denied_mount_fires_the_shipped_alert_in_prometheus() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/prometheus/privmon-rules.yaml")
        .canonicalize()
        .unwrap();
    let prometheus = Prometheus::start_with_rules(&[&daemon.address], Some(&rules)).unwrap();
    let pod = unique("denied-pod-");
    // A few scrapes before the container exists: its series are new when they appear.
    std::thread::sleep(Duration::from_secs(2));
    let c = Container::create(&ContainerSpec {
        args: &["/bin/trigger", "mount"],
        capabilities: &["CAP_CHOWN"],
        pod: Some(&pod),
        ..Default::default()
    })
    .unwrap();
    let out = c.run_to_completion().unwrap();
    assert!(
        out.contains(&format!("mount rc=-1 errno={}", libc::EPERM)),
        "{out}"
    );
    let expr = format!(
        "ALERTS{{alertname=\"PrivmonDangerousCapabilityDenied\",alertstate=\"firing\",pod=\"{pod}\"}}"
    );
    let firing = query_until_some(&prometheus, &expr);
    assert_eq!(firing.len(), 1, "{firing:?}\n{}", prometheus.log());
    let (labels, _) = &firing[0];
    assert_eq!(labels["cap"], "CAP_SYS_ADMIN", "{labels}");
    assert_eq!(labels["namespace"], TEST_NAMESPACE, "{labels}");
    assert_eq!(labels["container"], "trigger", "{labels}");
    assert_eq!(labels["severity"], "warning", "{labels}");

    // The refusal is also privmon's own `dangerous_capability_denied` alert (high), which
    // the escape-attempt alert counts per namespace through privmon_alerts_total.
    let expr = format!(
        "ALERTS{{alertname=\"PrivmonEscapeAttempt\",alertstate=\"firing\",namespace=\"{TEST_NAMESPACE}\"}}"
    );
    let firing = query_until_some(&prometheus, &expr);
    assert_eq!(firing.len(), 1, "{firing:?}\n{}", prometheus.log());
    assert_eq!(firing[0].0["severity"], "critical", "{:?}", firing[0]);
}

/// Queries until the result is not empty (or patience runs out); returns the last result.
fn query_until_some(prometheus: &Prometheus, expr: &str) -> Vec<(serde_json::Value, f64)> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let r = prometheus.query(expr).unwrap();
        if !r.is_empty() || Instant::now() > deadline {
            return r;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Every `privmon_` name that the alert rules and the dashboard use is a family that the
/// running daemon exposes.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn alert_rules_and_dashboard_use_real_metric_names() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let pod = unique("names-pod-");
    let caps = host_capabilities();
    let caps: Vec<&str> = caps.iter().map(String::as_str).collect();
    // A privileged, host-pid container (not started: it stays) so posture families exist,
    // and its runc set-up made capability checks.
    let _c = Container::create(&ContainerSpec {
        args: &["/bin/true"],
        capabilities: &caps,
        host_pid: true,
        bind_mounts: &[("/etc", "/host-etc")],
        pod: Some(&pod),
        ..Default::default()
    })
    .unwrap();
    let labels = pod_labels(&pod);
    let m = scrape_until(&daemon, PATIENCE, |m| {
        m.value("privmon_container_privileged", &labels).is_some()
            && !m
                .values("privmon_capability_checks_total", &labels)
                .is_empty()
    });
    let families = m.families();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut used = Vec::new();
    for file in [
        "deploy/prometheus/privmon-rules.yaml",
        "deploy/grafana/privmon-dashboard.json",
    ] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let names = metric_names(&text);
        assert!(!names.is_empty(), "{file} names no privmon metric");
        used.extend(names.into_iter().map(|n| (file, n)));
    }
    let missing: Vec<_> = used.iter().filter(|(_, n)| !families.contains(n)).collect();
    assert!(
        missing.is_empty(),
        "names not in /metrics: {missing:?}\n{}",
        m.text
    );
    // And the other way: every family privmon serves is in the reference.
    let reference = std::fs::read_to_string(root.join("docs/metrics.md")).unwrap();
    let undocumented: Vec<&String> = families
        .iter()
        .filter(|f| f.starts_with("privmon_") && !reference.contains(&format!("`{f}`")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "families missing from docs/metrics.md: {undocumented:?}"
    );
    assert!(
        families
            .iter()
            .any(|f| f == "privmon_workload_baseline_learned"),
        "the advisor's gauges are served once a container is seen"
    );
}

/// `privmon_...` and `process_...` identifiers in a text.
fn metric_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        let at_word_start =
            i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if at_word_start && (rest.starts_with("privmon_") || rest.starts_with("process_")) {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            out.push(rest[..len].to_string());
            i += len;
        } else {
            i += 1;
        }
    }
    out.sort();
    out.dedup();
    out
}
