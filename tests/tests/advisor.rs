//! The least-privilege advisor on real runc containers: what a workload used becomes a
//! `securityContext` that keeps only that, probing checks do not count, what was learned
//! survives a restart, and baselines alert after their learning period. Root only:
//! `cargo xtask test`.

use std::path::PathBuf;

use privmon_tests::{
    Container, ContainerSpec, Daemon, PATIENCE, advise, check, host_capabilities, require_root,
    short_id, unique,
};
use serde_json::Value;

/// A state directory of the test's own, removed at the end.
struct StateDir(PathBuf);

impl StateDir {
    fn new() -> StateDir {
        let dir = std::env::temp_dir().join(unique("privmon-state-"));
        std::fs::create_dir_all(&dir).unwrap();
        StateDir(dir)
    }

    fn arg(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `args` to completion in a container of pod `pod` with `caps`, deletes it, and
/// waits until the daemon has written its `container_stop` (every event of the container
/// is out); returns the container's id and output.
fn run_in(daemon: &Daemon, pod: &str, caps: &[&str], args: &[&str]) -> (String, String) {
    let c = Container::create(&ContainerSpec {
        args,
        capabilities: caps,
        pod: Some(pod),
        ..Default::default()
    })
    .unwrap();
    let out = c.run_to_completion().unwrap();
    let id = c.id.clone();
    c.delete();
    let stopped = daemon
        .wait_for_event(|e| e["kind"] == "container_stop" && e["container"]["id"] == short_id(&id));
    assert!(stopped.is_some(), "no container_stop for {id}");
    (id, out)
}

fn advice_json(daemon: &Daemon, pod: &str) -> Value {
    let text = advise(daemon, &["--pod", pod, "--format", "json"]).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(1), "one workload: {v:#}");
    v[0].clone()
}

const BROAD: &[&str] = &[
    "CAP_NET_RAW",
    "CAP_SYS_ADMIN",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_SETUID",
    "CAP_SETGID",
    "CAP_NET_ADMIN",
    "CAP_SYS_PTRACE",
    "CAP_SYS_CHROOT",
    "CAP_SYS_NICE",
];

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn broad_container_that_opens_a_raw_socket_is_advised_net_raw_only() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let pod = unique("rawsock");
    let (_c, out) = run_in(&daemon, &pod, BROAD, &["/bin/trigger", "raw-socket"]);
    assert!(
        out.contains("raw-socket rc=") && !out.contains("rc=-1"),
        "{out}"
    );

    // The YAML a person applies: exactly drop ALL, add NET_RAW.
    let yaml = advise(&daemon, &["--pod", &pod]).unwrap();
    let doc: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    let sc = &doc["securityContext"];
    assert_eq!(
        sc["capabilities"]["drop"],
        serde_json::json!(["ALL"]),
        "{yaml}"
    );
    assert_eq!(
        sc["capabilities"]["add"],
        serde_json::json!(["NET_RAW"]),
        "{yaml}"
    );
    assert_eq!(sc["privileged"], false, "{yaml}");
    assert_eq!(sc["allowPrivilegeEscalation"], false, "{yaml}");
    assert!(yaml.contains("# keep NET_RAW: used by socket"), "{yaml}");

    // The evidence; CAP_SYS_ADMIN was granted and probed (memory accounting at exec and
    // mmap), which is not use.
    let a = advice_json(&daemon, &pod);
    assert_eq!(a["instances"], 1, "{a:#}");
    let used: Vec<&String> = a["used"].as_object().unwrap().keys().collect();
    assert_eq!(used, ["CAP_NET_RAW"], "{a:#}");
    assert_eq!(
        a["used"]["CAP_NET_RAW"]["operations"],
        serde_json::json!(["socket"]),
        "{a:#}"
    );
    let unused: Vec<&str> = a["unused"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for cap in BROAD.iter().filter(|c| **c != "CAP_NET_RAW") {
        assert!(unused.contains(cap), "{cap} unused: {a:#}");
    }
    // The probes are the kernel's own checks: counted apart in the kernel, never events.
    let m = daemon.metrics().unwrap();
    let probed = m.values(
        "privmon_kernel_internal_checks_total",
        &[
            ("pod", pod.as_str()),
            ("cap", "CAP_SYS_ADMIN"),
            ("verdict", "allowed"),
        ],
    );
    assert!(
        probed.iter().sum::<f64>() >= 1.0,
        "the container's processes made CAP_SYS_ADMIN probing checks (this test relies on \
         it):\n{}",
        m.text
    );
    assert!(
        !daemon
            .events()
            .into_iter()
            .any(|e| e["k8s"]["pod"] == pod.as_str()
                && e["kind"] == "capability"
                && check(&e)["name"] == "CAP_SYS_ADMIN"),
        "a probing check was written"
    );

    let docker = advise(&daemon, &["--pod", &pod, "--format", "docker"]).unwrap();
    assert!(
        docker.contains("--cap-drop=ALL --cap-add=NET_RAW --security-opt=no-new-privileges"),
        "{docker}"
    );
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn privileged_container_that_needs_nothing_is_advised_to_drop_privileged() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let pod = unique("priv");
    let all = host_capabilities();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let (_c, out) = run_in(
        &daemon,
        &pod,
        &all,
        &["/bin/busybox", "sh", "-c", "echo hello; ls / > /dev/null"],
    );
    assert!(out.contains("hello"), "{out}");
    let a = advice_json(&daemon, &pod);
    assert_eq!(a["granted"]["privileged"], true, "{a:#}");
    assert_eq!(a["used"], serde_json::json!({}), "{a:#}");
    assert_eq!(
        a["security_context"]["capabilities"],
        serde_json::json!({"drop": ["ALL"], "add": []}),
        "{a:#}"
    );
    assert_eq!(a["security_context"]["privileged"], false, "{a:#}");
    let yaml = advise(&daemon, &["--pod", &pod]).unwrap();
    assert!(
        yaml.contains("# runs privileged now: nothing it did needed it"),
        "{yaml}"
    );
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn what_was_learned_survives_a_restart_and_a_corrupt_state_is_set_aside() {
    require_root();
    let state = StateDir::new();
    let pod = unique("persist");
    let daemon = Daemon::start(&["--state-dir", state.arg()]).unwrap();
    run_in(&daemon, &pod, BROAD, &["/bin/trigger", "raw-socket"]);
    assert!(daemon.stop().unwrap().success());
    let file = state.0.join("advisor.json");
    assert!(file.exists(), "the daemon saved its state at exit");

    let daemon = Daemon::start(&["--state-dir", state.arg()]).unwrap();
    let a = advice_json(&daemon, &pod);
    assert_eq!(
        a["security_context"]["capabilities"]["add"],
        serde_json::json!(["NET_RAW"]),
        "{a:#}"
    );
    assert_eq!(a["instances"], 1, "{a:#}");
    assert!(daemon.stop().unwrap().success());

    std::fs::write(&file, b"{\"version\": 1, \"workloads\": [tru").unwrap();
    let daemon = Daemon::start(&["--state-dir", state.arg()]).unwrap();
    assert!(
        daemon
            .logs()
            .iter()
            .any(|l| l.contains("not a valid state file")),
        "{:#?}",
        daemon.logs()
    );
    let aside = std::fs::read_dir(&state.0)
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("advisor.json.corrupt-")
        });
    assert!(
        aside,
        "the corrupt file is kept aside for a person to look at"
    );
    let m = daemon.metrics().unwrap();
    assert_eq!(m.value("privmon_advisor_state_ok", &[]), Some(0.0));
    assert_eq!(
        m.value("privmon_advisor_state_errors_total", &[]),
        Some(1.0)
    );
    let text = advise(&daemon, &["--pod", &pod, "--format", "json"]).unwrap();
    assert_eq!(text.trim(), "[]", "it starts empty");
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn capability_outside_the_baseline_alerts_after_learning_and_not_during() {
    require_root();
    const LEARNING_SECS: u64 = 3;
    let daemon = Daemon::start(&["--baseline-learning-secs", &LEARNING_SECS.to_string()]).unwrap();
    let pod = unique("baseline");
    // Learning: a raw socket, then a chroot (CAP_SYS_CHROOT) join the baseline silently.
    run_in(&daemon, &pod, BROAD, &["/bin/trigger", "raw-socket"]);
    run_in(&daemon, &pod, BROAD, &["/bin/trigger", "chroot"]);
    let m = daemon.metrics().unwrap();
    let labels = [("workload", pod.as_str()), ("container", "trigger")];
    assert_eq!(
        m.value("privmon_workload_baseline_learned", &labels),
        Some(0.0),
        "still learning"
    );

    // Wait (bounded) for the baseline to be fixed.
    let deadline = std::time::Instant::now() + PATIENCE;
    while daemon
        .metrics()
        .unwrap()
        .value("privmon_workload_baseline_learned", &labels)
        != Some(1.0)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the baseline was never fixed"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // Inside the baseline: no alert. Outside it: one, naming the capability and operation.
    run_in(&daemon, &pod, BROAD, &["/bin/trigger", "raw-socket"]);
    let (id, _) = run_in(&daemon, &pod, BROAD, &["/bin/trigger", "nice"]);
    let alert = daemon
        .wait_for_event(|e| {
            e["kind"] == "alert"
                && e["rule"] == "capability_outside_baseline"
                && e["k8s"]["pod"] == pod.as_str()
        })
        .expect("capability_outside_baseline");
    assert_eq!(alert["container"]["id"], id.as_str(), "{alert:#}");
    assert_eq!(
        alert["event"]["capability"]["name"], "CAP_SYS_NICE",
        "{alert:#}"
    );
    let summary = alert["summary"].as_str().unwrap();
    assert!(
        summary.contains("CAP_SYS_NICE") && summary.contains("setpriority"),
        "{summary}"
    );
    let alerts: Vec<Value> = daemon
        .events()
        .into_iter()
        .filter(|e| e["rule"] == "capability_outside_baseline" && e["k8s"]["pod"] == pod.as_str())
        .collect();
    assert_eq!(
        alerts.len(),
        1,
        "only the use outside the baseline: {alerts:#?}"
    );

    // A reset starts learning again.
    let out = advise(&daemon, &["--pod", &pod, "--reset"]).unwrap();
    assert_eq!(out.trim(), "reset 1 workload(s)");
    let a = advice_json(&daemon, &pod);
    assert_eq!(a["baseline"]["state"], "learning", "{a:#}");
}
