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

/// `privmon advise` with the given arguments: its exit status and stdout.
fn advise_status(daemon: &Daemon, args: &[&str]) -> (i32, String, String) {
    let ran = privmon_tests::advise_run(daemon, args).unwrap();
    (ran.code, ran.stdout, ran.stderr)
}

/// `kubectl patch --local` of `manifest` with `patch` (`strategic` or `json`): the patched
/// object. kubectl comes with the machine image (docs: README); without it the test fails.
fn kubectl_patch(manifest: &std::path::Path, kind: &str, patch: &str) -> Value {
    let dir = std::env::temp_dir().join(unique("privmon-patch-"));
    std::fs::create_dir_all(&dir).unwrap();
    let patch_file = dir.join("patch");
    std::fs::write(&patch_file, patch).unwrap();
    let out = std::process::Command::new("kubectl")
        .args(["patch", "--local", "-o", "json", "--type", kind, "-f"])
        .arg(manifest)
        .arg("--patch-file")
        .arg(&patch_file)
        .output()
        .expect("kubectl is not installed: the machine image has it");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "kubectl patch: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A proposed spec checked against what a workload used, before it is merged: the
/// workload's spec adds NET_ADMIN, SYS_ADMIN and NET_RAW, it uses only NET_RAW. Its own
/// manifest passes (exit 0) listing SYS_ADMIN and NET_ADMIN as excess; a manifest that
/// also drops NET_RAW would break (exit 1, naming the raw socket); a container never seen
/// is unknown (exit 3). The advice as patches, applied with `kubectl patch --local`, gives
/// the advised securityContext.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn a_proposed_spec_is_checked_against_what_was_used_and_the_advice_patches_it() {
    require_root();
    let daemon = Daemon::start(&["--baseline-learning-secs", "1"]).unwrap();
    // Two replicas of the deployment's pod (names as its ReplicaSet makes them).
    let owner = unique("shop");
    for suffix in ["x2x4z", "b2c4d"] {
        let pod = format!("{owner}-7d9f8c6b5-{suffix}");
        run_in(
            &daemon,
            &pod,
            &["CAP_NET_ADMIN", "CAP_SYS_ADMIN", "CAP_NET_RAW"],
            &["/bin/trigger", "raw-socket"],
        );
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    let dir = StateDir::new();
    let manifest = |name: &str, caps: &str| -> PathBuf {
        let path = dir.0.join(name);
        std::fs::write(
            &path,
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {owner}, namespace: {ns}}}\n\
                 spec:\n  selector: {{matchLabels: {{app: shop}}}}\n  template:\n    metadata: {{labels: {{app: shop}}}}\n    spec:\n      containers:\n\
                 \x20     - name: trigger\n        image: trigger:1\n        securityContext:\n          capabilities: {caps}\n\
                 \x20     - name: never-seen\n        image: side:1\n",
                ns = privmon_tests::TEST_NAMESPACE,
            ),
        )
        .unwrap();
        path
    };
    let original = manifest("original.yaml", "{add: [NET_ADMIN, SYS_ADMIN, NET_RAW]}");
    let json_findings = |file: &PathBuf| -> (i32, Value) {
        let (code, out, err) = advise_status(
            &daemon,
            &["--check", file.to_str().unwrap(), "--format", "json"],
        );
        (
            code,
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}")),
        )
    };
    // The sidecar was never seen: unknown, 3.
    let (code, f) = json_findings(&original);
    assert_eq!(code, 3, "{f:#}");
    assert_eq!(f[0]["verdict"], "ok", "{f:#}");
    assert_eq!(f[1]["verdict"], "unknown", "{f:#}");
    let excess: Vec<&str> = f[0]["excess"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        excess.contains(&"CAP_SYS_ADMIN") && excess.contains(&"CAP_NET_ADMIN"),
        "{f:#}"
    );
    assert!(!excess.contains(&"CAP_NET_RAW"), "{f:#}");
    // Without the sidecar: 0.
    let only = dir.0.join("only.yaml");
    let text = std::fs::read_to_string(&original).unwrap();
    std::fs::write(
        &only,
        text.split("      - name: never-seen").next().unwrap(),
    )
    .unwrap();
    let (code, out, err) = advise_status(&daemon, &["--check", only.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("excess:") && out.contains("SYS_ADMIN"),
        "{out}"
    );
    // Dropping NET_RAW too would break the raw socket: 1.
    let strict = manifest("strict.yaml", "{drop: [ALL], add: [NET_ADMIN]}");
    let (code, out, err) = advise_status(&daemon, &["--check", strict.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("would break: NET_RAW is used by socket"),
        "{out}"
    );
    // A file that is not there: the check could not be made, 2.
    let (code, _, err) = advise_status(&daemon, &["--check", "/nonexistent.yaml"]);
    assert_eq!(code, 2, "{err}");
    // The advice as a strategic-merge patch and as JSON patch, applied by kubectl.
    let (code, smp, err) = advise_status(
        &daemon,
        &["--check", only.to_str().unwrap(), "--format", "patch"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(!smp.contains("---"), "one object, one document: {smp}");
    let patched = kubectl_patch(&only, "strategic", &smp);
    let sc = &patched["spec"]["template"]["spec"]["containers"][0]["securityContext"];
    assert_eq!(
        sc["capabilities"]["drop"],
        serde_json::json!(["ALL"]),
        "{patched:#}"
    );
    assert_eq!(
        sc["capabilities"]["add"],
        serde_json::json!(["NET_RAW"]),
        "{patched:#}"
    );
    assert_eq!(sc["privileged"], false, "{patched:#}");
    let (code, jp, err) = advise_status(
        &daemon,
        &["--check", only.to_str().unwrap(), "--format", "json-patch"],
    );
    assert_eq!(code, 0, "{err}");
    let ops: Value = serde_json::from_str(&jp).unwrap();
    let patched_json = kubectl_patch(&only, "json", &ops[0]["patch"].to_string());
    assert_eq!(
        patched_json["spec"]["template"]["spec"]["containers"][0]["securityContext"], *sc,
        "both patches give the same securityContext"
    );
    // The advice as a Policy Report of the namespace: the workload's excess capabilities
    // fail, in a document of the v1alpha2 API's shape. No registry serves the CRD and the
    // project copies no one's files: the schema is privmon's own transcription of the API's
    // fields (tests/fixtures), not the CRD's published openAPIV3Schema.
    let (code, text, err) = advise_status(
        &daemon,
        &[
            "--namespace",
            privmon_tests::TEST_NAMESPACE,
            "--format",
            "policyreport",
        ],
    );
    assert_eq!(code, 0, "{err}");
    use serde::Deserialize as _;
    let reports: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap())
        .collect();
    assert_eq!(reports.len(), 1, "{text}");
    let schema: Value = serde_json::from_str(include_str!(
        "../fixtures/policyreport-v1alpha2.schema.json"
    ))
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&reports[0])
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{text}");
    let excess = reports[0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["rule"] == "excess-capabilities" && r["properties"]["workload"] == owner.as_str()
        })
        .unwrap_or_else(|| panic!("no excess result for {owner}: {text}"));
    assert_eq!(excess["result"], "fail", "{excess:#}");
    let caps = excess["properties"]["capabilities"].as_str().unwrap();
    assert!(
        caps.contains("SYS_ADMIN") && caps.contains("NET_ADMIN") && !caps.contains("NET_RAW"),
        "{excess:#}"
    );
    daemon.stop().unwrap();
}

/// One workload's replicas on two nodes, at the same time: each node's daemon (its own
/// state) watches only its own replica (`--workload-mode ignore` for the rest, as a node
/// sees only its own containers, while every daemon on one host sees every container) and
/// exports what it learned; the exports merge into one workload (instances added up)
/// whose advice keeps only NET_RAW, and `--check` of the merged advice passes the
/// workload's own manifest and fails one that drops NET_RAW. A file edited after export is
/// refused.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn replicas_on_two_nodes_merge_into_one_advice() {
    require_root();
    let owner = unique("cart");
    let dir = StateDir::new();
    let nodes = [("node-a", "x2x4z", "b2c4d"), ("node-b", "b2c4d", "x2x4z")];
    let daemons: Vec<(StateDir, Daemon)> = nodes
        .iter()
        .map(|(node, own, _)| {
            let state = StateDir::new();
            let daemon = Daemon::start(&[
                "--state-dir",
                state.arg(),
                "--node-name",
                node,
                "--baseline-learning-secs",
                "1",
                "--workload-mode",
                &format!("monitor:pod=*-{own}"),
                "--workload-mode",
                "ignore",
            ])
            .unwrap();
            (state, daemon)
        })
        .collect();
    // Both replicas run at once; every daemon's kernel side sees both.
    let replicas: Vec<Container> = nodes
        .iter()
        .map(|(_, own, _)| {
            let pod = format!("{owner}-7d9f8c6b5-{own}");
            Container::create(&ContainerSpec {
                args: &["/bin/trigger", "raw-socket"],
                capabilities: &["CAP_NET_ADMIN", "CAP_SYS_ADMIN", "CAP_NET_RAW"],
                pod: Some(&pod),
                ..Default::default()
            })
            .unwrap()
        })
        .collect();
    for c in &replicas {
        c.start().unwrap();
    }
    let ids: Vec<String> = replicas
        .iter()
        .map(|c| short_id(&c.id).to_string())
        .collect();
    for c in replicas {
        c.wait_stopped().unwrap();
        c.delete();
    }
    // The learning period (1 s) ends on each node.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let mut exports = Vec::new();
    for (i, ((node, own, other), (_state, daemon))) in nodes.iter().zip(daemons).enumerate() {
        let (id, other_id) = (&ids[i], &ids[1 - i]);
        let stopped =
            daemon.wait_for_event(|e| e["kind"] == "container_stop" && e["container"]["id"] == *id);
        assert!(
            stopped.is_some(),
            "{node}: no container_stop of its replica {id}: {:#?} {:#?}",
            daemon.logs(),
            daemon
                .events()
                .iter()
                .filter(|e| e["container"].is_object())
                .map(|e| format!("{} {} {}", e["kind"], e["container"], e["k8s"]))
                .collect::<Vec<_>>()
        );
        let metrics = daemon.metrics().unwrap();
        let file = dir.0.join(format!("{node}.json"));
        let ran = privmon_tests::privmon(&[
            "baseline",
            "export",
            "--address",
            &daemon.address,
            "--out",
            file.to_str().unwrap(),
        ])
        .unwrap();
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        let text = std::fs::read_to_string(&file).unwrap();
        let export: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(export["node"], *node);
        assert_eq!(export["version"], 1);
        assert!(
            text.contains(id.as_str()),
            "{node} learned its replica: {text}"
        );
        assert!(
            !text.contains(other_id.as_str()),
            "{node} learned the other node's replica: {text}"
        );
        let events = daemon.events();
        assert!(
            !events.iter().any(|e| e.to_string().contains(other)),
            "{node} wrote the other node's replica: {events:#?}"
        );
        assert!(
            events.iter().any(|e| e["kind"] == "container_start"
                && e["k8s"]["pod"].as_str().is_some_and(|p| p.ends_with(own))),
            "{node}: no container_start of its replica"
        );
        // The other replica was let go once it was known; its removal takes it off the
        // gauge.
        let deadline = std::time::Instant::now() + PATIENCE;
        let mut ignored = metrics.value("privmon_containers_ignored", &[]);
        while ignored != Some(0.0) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(100));
            ignored = daemon
                .metrics()
                .unwrap()
                .value("privmon_containers_ignored", &[]);
        }
        assert_eq!(ignored, Some(0.0), "{node}");
        assert!(
            daemon
                .logs()
                .iter()
                .any(|l| l.contains("workload mode ignore") && l.contains(other)),
            "{node}: the other replica was not let go: {:#?}",
            daemon.logs()
        );
        exports.push(file);
        daemon.stop().unwrap();
    }
    let files: Vec<&str> = exports.iter().map(|p| p.to_str().unwrap()).collect();
    let mut args = vec!["advise", "--merge"];
    args.extend(&files);
    args.extend(["--pod", owner.as_str(), "--format", "json"]);
    let ran = privmon_tests::privmon(&args).unwrap();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let advice: Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(advice.as_array().map(Vec::len), Some(1), "{advice:#}");
    let a = &advice[0];
    assert_eq!(a["instances"], 2, "one replica per node: {a:#}");
    assert_eq!(
        a["security_context"]["capabilities"],
        serde_json::json!({"drop": ["ALL"], "add": ["NET_RAW"]}),
        "{a:#}"
    );
    // The merged advice gates a proposed spec, with no daemon running.
    let manifest = |name: &str, caps: &str| -> PathBuf {
        let path = dir.0.join(name);
        std::fs::write(
            &path,
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {owner}, namespace: {}}}\n\
                 spec:\n  template:\n    spec:\n      containers:\n      - name: trigger\n\
                 \x20       securityContext: {{capabilities: {caps}}}\n",
                privmon_tests::TEST_NAMESPACE
            ),
        )
        .unwrap();
        path
    };
    let check = |file: &PathBuf| -> (i32, String) {
        let mut args = vec!["advise", "--check", file.to_str().unwrap(), "--merge"];
        args.extend(&files);
        let ran = privmon_tests::privmon(&args).unwrap();
        (ran.code, ran.stdout + &ran.stderr)
    };
    let (code, out) = check(&manifest(
        "own.yaml",
        "{add: [NET_ADMIN, SYS_ADMIN, NET_RAW]}",
    ));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("SYS_ADMIN") && out.contains("NET_ADMIN") && out.contains("excess"),
        "{out}"
    );
    let (code, out) = check(&manifest("strict.yaml", "{drop: [ALL]}"));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("NET_RAW is used by socket"), "{out}");
    // An export edited after it was written is refused, naming the file.
    let text = std::fs::read_to_string(&exports[0]).unwrap();
    std::fs::write(&exports[0], text.replace("\"socket\"", "\"mount\"")).unwrap();
    let (code, out) = check(&manifest("own2.yaml", "{add: [NET_RAW]}"));
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("node-a.json") && out.contains("digest"),
        "{out}"
    );
}
