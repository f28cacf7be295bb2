//! Sinks and the live stream against real containers: `privmon tail` filters, the webhook
//! against a real local HTTP server and a dead one, file rotation, the stream's token.
//! Root only: `cargo xtask test`.

use std::time::{Duration, Instant};

use monitor_common::VERDICT_ALLOWED;
use privmon_tests::{
    Container, ContainerSpec, Daemon, PATIENCE, Rsyslog, TEST_NAMESPACE, Tail, WebhookReceiver,
    checked_event, require_root, unique,
};
use serde_json::Value;

fn run(args: &[&str], caps: &[&str], pod: &str) -> Container {
    let c = Container::create(&ContainerSpec {
        args,
        capabilities: caps,
        pod: Some(pod),
        ..Default::default()
    })
    .unwrap();
    c.run_to_completion().unwrap();
    c
}

fn lost(daemon: &Daemon, stage: &str) -> f64 {
    daemon
        .metrics()
        .unwrap()
        .value("privmon_events_lost_total", &[("stage", stage)])
        .unwrap_or(0.0)
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn tail_shows_what_its_filters_select() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let alerts = Tail::start(&daemon, &["--severity", "high", "--history", "0"]).unwrap();
    let pod = unique("tail-pod-");
    let caps = Tail::start(
        &daemon,
        &[
            "--json",
            "--pod",
            &pod,
            "--kind",
            "capability",
            "--history",
            "0",
        ],
    )
    .unwrap();
    // Give both clients a moment to connect before anything happens.
    std::thread::sleep(Duration::from_millis(500));

    // A refused mount in `pod`: a high alert; a priority change elsewhere: no alert.
    let _c = run(&["/bin/trigger", "mount"], &["CAP_CHOWN"], &pod);
    // A check of no reported operation in `pod`: a `capability` line.
    let _n = run(&["/bin/trigger", "nice"], &["CAP_SYS_NICE"], &pod);
    let other = unique("tail-other-");
    let _o = run(&["/bin/trigger", "nice"], &["CAP_SYS_NICE"], &other);

    let line = alerts
        .wait_for(|l| l.contains(&pod))
        .unwrap_or_else(|| panic!("no alert line; tail: {:?}", alerts.lines()));
    // time, severity, namespace/pod/container, process, summary
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cols[1], "HIGH", "{line}");
    assert_eq!(cols[2], format!("{TEST_NAMESPACE}/{pod}/trigger"), "{line}");
    assert!(cols[3].starts_with("trigger["), "{line}");
    assert!(
        line.contains("was refused CAP_SYS_ADMIN for mount"),
        "{line}"
    );

    caps.wait_for(|l| l.contains("CAP_SYS_NICE"))
        .unwrap_or_else(|| panic!("no capability line; tail: {:?}", caps.lines()));
    // The other pod's CAP_SYS_NICE event has come out of the daemon by now.
    daemon
        .wait_for_event(|e| e["k8s"]["pod"] == other.as_str() && e["kind"] == "capability")
        .expect("the other pod's check");
    std::thread::sleep(Duration::from_millis(300));
    for l in caps.lines() {
        let ev = checked_event(&l);
        assert_eq!(ev["kind"], "capability", "{l}");
        assert_eq!(ev["k8s"]["pod"], pod.as_str(), "{l}");
    }
    for l in alerts.lines() {
        assert!(
            l.split_whitespace().nth(1) == Some("HIGH") || l.contains("CRITICAL"),
            "{l}"
        );
        assert!(!l.contains(&other), "{l}");
    }

    // A responder who connects later sees the alert at once, from the history.
    let late = Tail::start(&daemon, &["--severity", "high", "--pod", &pod]).unwrap();
    late.wait_for(|l| l.contains("was refused CAP_SYS_ADMIN"))
        .unwrap_or_else(|| panic!("no history; tail: {:?}", late.lines()));

    // Stopping the daemon ends the streams, and the tails exit on their own.
    daemon.stop().unwrap();
    assert!(late.wait().unwrap().success());
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn the_webhook_survives_a_dead_endpoint_and_delivers_when_it_is_back() {
    require_root();
    // A port with nothing on it, for now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let daemon = Daemon::start(&[
        "--webhook-url",
        &url,
        "--webhook-format",
        "falcosidekick",
        "--webhook-kinds",
        "syscall,alert",
        // Room for one container's burst (runc's set-up mounts, the trigger's, the alert)
        // once the endpoint answers; far too little for 200 mounts while it does not.
        "--webhook-queue-capacity",
        "32",
        "--webhook-attempts",
        "2",
        "--webhook-backoff-ms",
        "50",
        "--webhook-timeout-secs",
        "1",
    ])
    .unwrap();

    // 200 mounts while the endpoint is dead: the webhook's queue overflows, stdout gets
    // every event.
    let pod = unique("hook-dead-");
    let c = run(&["/bin/trigger", "mount", "200"], &["CAP_SYS_ADMIN"], &pod);
    let cgroup = c.cgroup_id;
    let deadline = Instant::now() + PATIENCE;
    let mounts = loop {
        let n = daemon
            .events()
            .iter()
            .filter(|e| {
                e["kind"] == "syscall"
                    && e["cgroup"]["id"] == cgroup
                    && e["syscall"]["args"]["target"] == "/mnt"
                    && e["syscall"]["name"] == "mount"
            })
            .count();
        if n >= 200 || Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(mounts >= 200, "stdout got {mounts} mount events");
    assert!(
        daemon.cap_count(cgroup, 21, VERDICT_ALLOWED).unwrap() >= 200,
        "the kernel counted fewer CAP_SYS_ADMIN checks than mounts"
    );
    let dropped = lost(&daemon, "sink_webhook");
    assert!(dropped > 0.0, "nothing counted as lost");

    // The endpoint comes up: new alerts are delivered, as falcosidekick payloads. A
    // container's start is a burst (runc's set-up mounts) that a 32-event queue may not
    // hold whole while the first deliveries are made, and the alert comes last: a few
    // containers, one after the other, until one's alert arrives.
    let receiver = WebhookReceiver::start(port).unwrap();
    let delivered = |pod: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let found = receiver.bodies().into_iter().find(|b| {
                b["output_fields"]["k8s.pod.name"] == pod
                    && b["rule"] == "dangerous_capability_denied"
            });
            if found.is_some() {
                return found;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    };
    let payload = (0..5)
        .find_map(|_| {
            let pod = unique("hook-back-");
            let _c = run(&["/bin/trigger", "mount"], &["CAP_CHOWN"], &pod);
            delivered(&pod)
        })
        .unwrap_or_else(|| panic!("not delivered; received {:#?}", receiver.bodies()));
    assert_eq!(payload["priority"], "Error", "{payload:#}");
    assert_eq!(payload["source"], "privmon", "{payload:#}");
    assert_eq!(payload["output_fields"]["k8s.ns.name"], TEST_NAMESPACE);
    assert_eq!(
        payload["output_fields"]["privmon.capability"],
        "CAP_SYS_ADMIN"
    );
    assert!(payload["hostname"].as_str().is_some_and(|h| !h.is_empty()));
    assert!(
        payload["output"]
            .as_str()
            .unwrap()
            .contains("was refused CAP_SYS_ADMIN for mount"),
        "{payload:#}"
    );
    assert!(
        payload["tags"]
            .as_array()
            .unwrap()
            .contains(&"T1611".into()),
        "{payload:#}"
    );
    let m = daemon.metrics().unwrap();
    assert!(
        m.value("privmon_sink_events_total", &[("sink", "webhook")])
            .unwrap()
            >= 1.0
    );
}

/// `webhook_format: cloudevents`: a CloudEvents 1.0 event in structured mode, its required
/// attributes set, the privmon alert as `data`; the receiver refuses the first delivery
/// (503) and the retry carries the same `id`, so it can drop a repeat.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn the_webhook_sends_cloudevents_whose_id_survives_a_retry() {
    require_root();
    let receiver = WebhookReceiver::start_failing(0, 1).unwrap();
    let url = format!("http://127.0.0.1:{}/events", receiver.port);
    let daemon = Daemon::start(&[
        "--webhook-url",
        &url,
        "--webhook-format",
        "cloudevents",
        "--webhook-kinds",
        "alert",
        "--webhook-backoff-ms",
        "50",
    ])
    .unwrap();
    let pod = unique("cloudevents-");
    let _c = run(&["/bin/trigger", "mount"], &["CAP_CHOWN"], &pod);
    let ce = receiver
        .wait_for(|b| b["data"]["k8s"]["pod"] == pod.as_str())
        .unwrap_or_else(|| panic!("nothing delivered: {:#?}", receiver.requests()));
    for attr in ["id", "source", "specversion", "type"] {
        assert!(
            ce[attr].as_str().is_some_and(|v| !v.is_empty()),
            "required attribute {attr}: {ce:#}"
        );
    }
    assert_eq!(ce["specversion"], "1.0", "{ce:#}");
    assert_eq!(ce["type"], "dev.privmon.alert.v1", "{ce:#}");
    assert_eq!(ce["datacontenttype"], "application/json", "{ce:#}");
    assert!(
        ce["source"]
            .as_str()
            .is_some_and(|s| s.starts_with("privmon://")),
        "{ce:#}"
    );
    assert_eq!(
        ce["subject"],
        format!("{TEST_NAMESPACE}/{pod}/trigger"),
        "{ce:#}"
    );
    assert_eq!(ce["time"], ce["data"]["time"], "{ce:#}");
    assert_eq!(ce["data"]["kind"], "alert", "{ce:#}");
    assert_eq!(ce["severity"], ce["data"]["severity"], "{ce:#}");
    assert_eq!(ce["rule"], ce["data"]["rule"], "{ce:#}");
    // The first request of all was refused; its retry is the same event, the same id.
    let requests = receiver.requests();
    assert_eq!(requests[0].status, 503, "{requests:#?}");
    assert_eq!(requests[1].status, 200, "{requests:#?}");
    assert_eq!(
        requests[0].body["id"], requests[1].body["id"],
        "{requests:#?}"
    );
    for r in &requests {
        assert_eq!(r.path, "/events");
        assert_eq!(
            r.content_type.as_deref(),
            Some("application/cloudevents+json"),
            "{r:#?}"
        );
    }
    // Different events, different ids.
    let mut ids: Vec<String> = receiver
        .bodies()
        .iter()
        .filter_map(|b| b["id"].as_str().map(str::to_string))
        .collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "ids repeat among delivered events");
    daemon.stop().unwrap();
}

/// OTLP/HTTP logs (JSON encoding) to a receiver that decodes the request: a container's
/// mount is one log record of its workload's resource (pod, container, node, image), with
/// the event as its body, its time and a severity; an alert maps its severity.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn otlp_exports_log_records_of_the_workload() {
    require_root();
    let receiver = WebhookReceiver::start(0).unwrap();
    let url = format!("http://127.0.0.1:{}/v1/logs", receiver.port);
    let daemon = Daemon::start(&[
        "--otlp-url",
        &url,
        "--otlp-kinds",
        "syscall,alert",
        "--otlp-headers",
        "x-scope-orgid=tenant-1",
    ])
    .unwrap();
    let pod = unique("otlp-");
    let c = run(&["/bin/trigger", "mount"], &["CAP_SYS_ADMIN"], &pod);
    fn attr<'a>(attrs: &'a Value, key: &str) -> Option<&'a str> {
        attrs
            .as_array()?
            .iter()
            .find(|kv| kv["key"] == key)?
            .get("value")?
            .get("stringValue")?
            .as_str()
    }
    // The mount's record and the alert's, possibly in different requests.
    let records_of_pod = || -> Vec<(Value, Value)> {
        receiver
            .bodies()
            .iter()
            .flat_map(|b| b["resourceLogs"].as_array().cloned().unwrap_or_default())
            .filter(|rl| attr(&rl["resource"]["attributes"], "k8s.pod.name") == Some(pod.as_str()))
            .flat_map(|rl| {
                let res = rl["resource"].clone();
                rl["scopeLogs"][0]["logRecords"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |r| (res.clone(), r))
            })
            .collect()
    };
    let deadline = Instant::now() + PATIENCE;
    let records = loop {
        let r = records_of_pod();
        let kinds: Vec<String> = r
            .iter()
            .filter_map(|(_, rec)| attr(&rec["attributes"], "privmon.kind").map(str::to_string))
            .collect();
        let rules: Vec<String> = r
            .iter()
            .filter_map(|(_, rec)| attr(&rec["attributes"], "privmon.rule").map(str::to_string))
            .collect();
        // The posture's alert comes with the container's start, which may wait for the
        // runtime's files: after the mount's, at times.
        if (kinds.contains(&"syscall".to_string())
            && rules.contains(&"mount_in_container".to_string())
            && rules.contains(&"capabilities_added_over_default".to_string()))
            || Instant::now() > deadline
        {
            break r;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mount = records
        .iter()
        .find(|(_, r)| attr(&r["attributes"], "privmon.kind") == Some("syscall"))
        .unwrap_or_else(|| panic!("no syscall record: {:#?}", receiver.requests()));
    let (res, rec) = mount;
    let res = &res["attributes"];
    assert_eq!(
        attr(res, "k8s.namespace.name"),
        Some(TEST_NAMESPACE),
        "{res:#}"
    );
    assert_eq!(
        attr(res, "k8s.pod.uid"),
        Some(c.pod_uid.as_str()),
        "{res:#}"
    );
    assert_eq!(
        attr(res, "container.id"),
        Some(c.id.as_str()),
        "the full id: {res:#}"
    );
    assert_eq!(attr(res, "k8s.container.name"), Some("trigger"), "{res:#}");
    assert!(
        attr(res, "k8s.node.name").is_some_and(|n| !n.is_empty()),
        "{res:#}"
    );
    assert!(attr(res, "container.image.name").is_some(), "{res:#}");
    assert_eq!(rec["severityNumber"], 9, "{rec:#}");
    let body = checked_event(rec["body"]["stringValue"].as_str().unwrap());
    assert_eq!(body["syscall"]["name"], "mount", "{body:#}");
    // timeUnixNano is the event's own time.
    let t = humantime::parse_rfc3339(body["time"].as_str().unwrap()).unwrap();
    let ns = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    assert_eq!(rec["timeUnixNano"], ns.to_string(), "{rec:#}");
    assert_eq!(
        attr(&rec["attributes"], "process.executable.path"),
        Some("/bin/trigger"),
        "{rec:#}"
    );
    let alert = |rule: &str| {
        records
            .iter()
            .find(|(_, r)| attr(&r["attributes"], "privmon.rule") == Some(rule))
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("no {rule} record: {:#?}", receiver.requests()))
    };
    // A high alert is ERROR, a medium one (the posture's added capability) WARN.
    let high = alert("mount_in_container");
    assert_eq!(high["severityText"], "ERROR", "{high:#}");
    assert_eq!(high["severityNumber"], 17, "{high:#}");
    let medium = alert("capabilities_added_over_default");
    assert_eq!(medium["severityText"], "WARN", "{medium:#}");
    assert_eq!(medium["severityNumber"], 13, "{medium:#}");
    for r in receiver.requests() {
        assert_eq!(r.path, "/v1/logs");
        assert_eq!(r.content_type.as_deref(), Some("application/json"));
        assert!(
            r.headers
                .contains(&("x-scope-orgid".to_string(), "tenant-1".to_string())),
            "{:?}",
            r.headers
        );
    }
    let m = daemon.metrics().unwrap();
    assert!(
        m.value("privmon_sink_events_total", &[("sink", "otlp")])
            .unwrap()
            >= 2.0
    );
    daemon.stop().unwrap();
}

/// Syslog to a real rsyslog over UDP, TCP (octet-counted), TLS and its unix socket: a
/// container's mount alert arrives as an RFC 5424 message rsyslog parses field by field
/// (facility, severity, host, app, pid, msgid), the container and the pod in structured
/// data, the alert's JSON as the message; lines over `syslog_max_bytes` are cut and
/// counted. Before rsyslog is up, what the TCP sink cannot send is counted lost.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn syslog_reaches_a_real_rsyslog_over_udp_tcp_tls_and_a_unix_socket() {
    require_root();
    let rsyslog = Rsyslog::start().unwrap();
    // A container's mount and alert sent to `address`, which cannot take them: counted lost,
    // nothing of the container reaches rsyslog (a TLS link refused is never sent in clear).
    let undeliverable = |address: &str| {
        let daemon = Daemon::start(&[
            "--syslog-address",
            address,
            "--syslog-kinds",
            "alert,syscall",
        ])
        .unwrap();
        let pod = unique("syslog-undelivered-");
        let _c = run(&["/bin/trigger", "mount"], &["CAP_SYS_ADMIN"], &pod);
        let deadline = Instant::now() + PATIENCE;
        while lost(&daemon, "sink_syslog") < 1.0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            lost(&daemon, "sink_syslog") >= 1.0,
            "nothing counted lost: {address}"
        );
        assert!(
            !rsyslog
                .messages()
                .iter()
                .any(|m| m.structured_data.contains(&pod)),
            "sent to {address}"
        );
        daemon.stop().unwrap();
    };
    // Nothing listens on this port.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    undeliverable(&format!("tcp://127.0.0.1:{dead}"));
    // TLS with the system's CAs only: the test CA's certificate is refused.
    undeliverable(&format!("tls://127.0.0.1:{}", rsyslog.tls_port));
    // UDP at the default 2048 bytes (alerts run longer: cut), the others with room.
    let transports = [
        (
            format!("udp://127.0.0.1:{}", rsyslog.udp_port),
            "imudp",
            "2048",
        ),
        (
            format!("tcp://127.0.0.1:{}", rsyslog.tcp_port),
            "imtcp",
            "16384",
        ),
        (
            format!("tls://127.0.0.1:{}", rsyslog.tls_port),
            "imtcp-tls",
            "16384",
        ),
        (
            format!("unix://{}", rsyslog.socket.display()),
            "imuxsock",
            "16384",
        ),
    ];
    for (address, input, max) in &transports {
        let daemon = Daemon::start(&[
            "--syslog-address",
            address,
            "--syslog-kinds",
            "alert,syscall",
            "--syslog-max-bytes",
            max,
            "--syslog-tls-ca",
            rsyslog.ca.to_str().unwrap(),
            "--node-name",
            "syslog-node",
        ])
        .unwrap();
        let pid = daemon.pid().to_string();
        let pod = unique("syslog-");
        let _c = run(&["/bin/trigger", "mount"], &["CAP_SYS_ADMIN"], &pod);
        let alert = rsyslog
            .wait_for(|m| {
                m.input == *input
                    && m.msgid == "alert"
                    && m.structured_data.contains(&format!("pod=\"{pod}\""))
                    && m.structured_data.contains("rule=\"mount_in_container\"")
            })
            .unwrap_or_else(|| panic!("no alert over {input}: {:#?}", rsyslog.messages()));
        assert_eq!(alert.facility, "local0", "{alert:#?}");
        assert_eq!(alert.severity, "err", "high is err: {alert:#?}");
        assert_eq!(alert.hostname, "syslog-node", "{alert:#?}");
        assert_eq!(alert.app_name, "privmon", "{alert:#?}");
        assert_eq!(alert.procid, pid, "{alert:#?}");
        assert!(
            alert.structured_data.contains(&format!(
                "[k8s@32473 namespace=\"{TEST_NAMESPACE}\" pod=\"{pod}\" container=\"trigger\"]"
            )),
            "{alert:#?}"
        );
        assert!(
            alert.structured_data.contains("severity=\"high\""),
            "{alert:#?}"
        );
        let cut = *max == "2048";
        if cut {
            assert!(alert.msg.starts_with("{\"cgroup\":"), "{alert:#?}");
            assert!(
                serde_json::from_str::<Value>(&alert.msg).is_err(),
                "not cut: {alert:#?}"
            );
        } else {
            let body: Value = serde_json::from_str(&alert.msg)
                .unwrap_or_else(|e| panic!("message is not the alert's JSON ({e}): {alert:#?}"));
            assert_eq!(body["rule"], "mount_in_container");
        }
        // The mount itself: info, its container in structured data.
        let mount = rsyslog
            .wait_for(|m| {
                m.input == *input
                    && m.msgid == "syscall"
                    && m.structured_data.contains(&format!("pod=\"{pod}\""))
            })
            .unwrap_or_else(|| panic!("no syscall over {input}: {:#?}", rsyslog.messages()));
        assert_eq!(mount.severity, "info", "{mount:#?}");
        assert!(
            mount.structured_data.contains("[container@32473 id=\""),
            "{mount:#?}"
        );
        // Alerts are over 2 KB: cut at 2048 bytes, counted, still sent.
        let m = daemon.metrics().unwrap();
        let truncated = m
            .value("privmon_syslog_truncated_total", &[])
            .unwrap_or(0.0);
        if cut {
            assert!(truncated >= 1.0, "no cut message counted over {input}");
        } else {
            assert_eq!(truncated, 0.0, "over {input}");
        }
        assert!(
            m.value("privmon_sink_events_total", &[("sink", "syslog")])
                .unwrap()
                >= 2.0
        );
        assert_eq!(lost(&daemon, "sink_syslog"), 0.0, "over {input}");
        daemon.stop().unwrap();
    }
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn the_file_sink_rotates_and_keeps_so_many_files() {
    require_root();
    let dir = std::env::temp_dir().join(unique("privmon-file-"));
    let path = dir.join("events.json");
    let daemon = Daemon::start(&[
        "--file-path",
        path.to_str().unwrap(),
        "--file-max-bytes",
        "8192",
        "--file-keep",
        "2",
        "--file-kinds",
        "syscall,alert",
    ])
    .unwrap();
    let pod = unique("file-pod-");
    let c = run(&["/bin/trigger", "mount", "100"], &["CAP_SYS_ADMIN"], &pod);
    let cgroup = c.cgroup_id;
    daemon
        .wait_for_event(|e| e["kind"] == "container_start" && e["cgroup"]["id"] == cgroup)
        .unwrap();
    let rotated = |n: u32| dir.join(format!("events.json.{n}"));
    let deadline = Instant::now() + PATIENCE;
    while !rotated(2).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    daemon.stop().unwrap();
    assert!(rotated(1).exists() && rotated(2).exists());
    assert!(!rotated(3).exists(), "more files kept than --file-keep");
    for p in [path.clone(), rotated(1), rotated(2)] {
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.len() <= 8192,
            "{} is {} bytes",
            p.display(),
            text.len()
        );
        for line in text.lines() {
            let ev = checked_event(line);
            assert!(
                ev["kind"] == "syscall" || ev["kind"] == "alert",
                "{}: {line}",
                p.display()
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn the_stream_needs_a_token_beyond_loopback() {
    require_root();
    let open = Daemon::start(&["--listen", "0.0.0.0:0"]).unwrap();
    let (status, body) = open.get("/events").unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("api_token"), "{body}");
    // Metrics stay available for Prometheus.
    assert_eq!(open.get("/healthz").unwrap().0, 200);
    drop(open);

    let token = "s3cret-token-0123456789";
    let daemon = Daemon::start(&["--listen", "0.0.0.0:0", "--api-token", token]).unwrap();
    let (status, _) = daemon.get("/events").unwrap();
    assert_eq!(status, 401);
    let refused = Tail::start(&daemon, &["--token", "wrong-token-0123456789"]).unwrap();
    assert!(!refused.wait().unwrap().success());
    let tail = Tail::start(
        &daemon,
        &["--token", token, "--json", "--kind", "container_start"],
    )
    .unwrap();
    let pod = unique("token-pod-");
    let _c = run(&["/bin/true"], &[], &pod);
    let line = tail
        .wait_for(|l| l.contains(&pod))
        .unwrap_or_else(|| panic!("nothing streamed: {:?} {:?}", tail.lines(), tail.errors()));
    let ev: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(ev["kind"], "container_start");
}
