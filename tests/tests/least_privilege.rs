//! The DaemonSet's least-privilege settings, and proof that they suffice: the daemon runs
//! and reports containers holding exactly the capabilities the DaemonSet grants.

use std::path::{Path, PathBuf};

use privmon::catalog::capabilities::Capability;
use privmon_tests::{
    Container, ContainerSpec, Daemon, TEST_NAMESPACE, check, kernel_at_least, require_root, unique,
};
use serde_yaml_ng::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn daemonset() -> Value {
    yaml("deploy/kubernetes/base/daemonset.yaml")
}

/// The capabilities the DaemonSet adds, as `CAP_*` names.
fn granted() -> Vec<String> {
    let ds = daemonset();
    let c = &ds["spec"]["template"]["spec"]["containers"][0];
    c["securityContext"]["capabilities"]["add"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| format!("CAP_{}", v.as_str().unwrap()))
        .collect()
}

#[test]
fn the_daemonset_is_not_privileged_and_names_its_capabilities() {
    let ds = daemonset();
    let pod = &ds["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    let sc = &c["securityContext"];
    assert_eq!(sc["privileged"], false);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["capabilities"]["drop"][0], "ALL");
    // Exactly these; `a_daemon_with_only_the_daemonsets_capabilities_works` proves they
    // suffice, and the manifest says why each is needed.
    assert_eq!(
        granted(),
        ["CAP_BPF", "CAP_NET_ADMIN", "CAP_PERFMON", "CAP_SYS_PTRACE"]
    );
    let text =
        std::fs::read_to_string(root().join("deploy/kubernetes/base/daemonset.yaml")).unwrap();
    for cap in ["BPF", "NET_ADMIN", "PERFMON", "SYS_PTRACE"] {
        let line = text
            .lines()
            .position(|l| l.trim() == format!("- {cap}"))
            .unwrap();
        let above = text.lines().nth(line - 1).unwrap().trim();
        assert!(above.starts_with('#'), "no reason given for {cap}");
    }
    assert!(text.contains("hostPID: true"));
    assert!(
        text.lines()
            .take_while(|l| !l.contains("hostPID"))
            .last()
            .unwrap()
            .trim()
            .starts_with('#'),
        "no reason given for hostPID"
    );
    assert_eq!(pod["priorityClassName"], "system-node-critical");
    assert_eq!(pod["tolerations"][0]["operator"], "Exists");
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    for kind in ["requests", "limits"] {
        for r in ["cpu", "memory"] {
            assert!(c["resources"][kind][r].is_string(), "no {kind}.{r}");
        }
    }
    // Every host path is mounted read-only, but the advisor's state directory.
    let host_volumes: Vec<&str> = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|v| v["hostPath"].is_mapping())
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert!(host_volumes.len() >= 6, "{host_volumes:?}");
    for m in c["volumeMounts"].as_sequence().unwrap() {
        let name = m["name"].as_str().unwrap();
        if name == "state" {
            assert_eq!(m["mountPath"], "/var/lib/privmon", "{m:?}");
            assert!(
                m["readOnly"].is_null(),
                "the advisor writes its state: {m:?}"
            );
        } else if host_volumes.contains(&name) {
            assert_eq!(m["readOnly"], true, "{m:?}");
        }
    }
}

#[test]
fn the_kustomization_and_the_service_monitor_fit_together() {
    let k = yaml("deploy/kubernetes/base/kustomization.yaml");
    for r in k["resources"].as_sequence().unwrap() {
        let doc = yaml(&format!("deploy/kubernetes/base/{}", r.as_str().unwrap()));
        assert!(
            doc["apiVersion"].is_string() && doc["kind"].is_string(),
            "{r:?}"
        );
    }
    let labels = &daemonset()["spec"]["template"]["metadata"]["labels"];
    let svc = yaml("deploy/kubernetes/base/service.yaml");
    assert_eq!(
        svc["spec"]["selector"]["app.kubernetes.io/name"],
        labels["app.kubernetes.io/name"]
    );
    let sm = yaml("deploy/kubernetes/prometheus-operator/servicemonitor.yaml");
    assert_eq!(
        sm["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"],
        svc["metadata"]["labels"]["app.kubernetes.io/name"]
    );
    assert_eq!(
        sm["spec"]["endpoints"][0]["port"],
        svc["spec"]["ports"][0]["name"]
    );
    // The pods listen beyond loopback so that Prometheus reaches them.
    let cm = yaml("deploy/kubernetes/base/configmap.yaml");
    let config = cm["data"]["privmon.yaml"].as_str().unwrap();
    let parsed = privmon::config::Config::from_yaml("configmap privmon.yaml", config).unwrap();
    assert!(!parsed.listen.ip().is_loopback());
    let rules = cm["data"]["rules.yaml"].as_str().unwrap();
    let sources = [
        privmon::rules::Source::builtin(),
        privmon::rules::Source {
            name: "configmap rules.yaml".into(),
            text: rules.into(),
        },
    ];
    privmon::rules::RuleSet::from_sources(&sources).unwrap();
}

/// deploy/Containerfile: its build stage runs the commands `cargo xtask` runs in CI (setup,
/// then the release build that `cargo xtask test`'s benchmark smoke run makes), and its
/// image holds the daemon alone on a shell-less base, started as the DaemonSet expects.
/// (No image builder runs here: no registry to pull the bases from.)
#[test]
fn the_containerfile_builds_what_ci_builds_and_ships_only_the_daemon() {
    let text = std::fs::read_to_string(root().join("deploy/Containerfile")).unwrap();
    // Instructions, with continuation lines joined and comments dropped.
    let joined = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("\\\n", " ");
    let stages: Vec<Vec<&str>> = joined
        .split("\nFROM ")
        .map(|stage| {
            stage
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
        })
        // What precedes the first FROM (blank lines once comments are gone).
        .filter(|stage| !stage.is_empty())
        .collect();
    assert_eq!(stages.len(), 2, "a build stage and the image: {stages:#?}");
    let cargo_runs: Vec<&str> = stages[0]
        .iter()
        .filter_map(|l| l.strip_prefix("RUN "))
        .filter(|r| r.starts_with("cargo"))
        .collect();
    // The release build command, as xtask spells it (its RELEASE_BUILD constant).
    let xtask = std::fs::read_to_string(root().join("xtask/src/main.rs")).unwrap();
    let release: Vec<String> = xtask
        .lines()
        .find_map(|l| l.strip_prefix("const RELEASE_BUILD: [&str; 5] = ["))
        .expect("xtask defines RELEASE_BUILD")
        .trim_end_matches("];")
        .split(", ")
        .map(|w| w.trim_matches('"').to_string())
        .collect();
    assert_eq!(
        cargo_runs,
        ["cargo xtask setup --build-only", release.join(" ").as_str()],
        "the build stage must run what CI runs"
    );
    assert!(
        xtask.contains("build_only: bool"),
        "cargo xtask setup has --build-only"
    );
    let image = &stages[1];
    assert!(
        image[0].starts_with("gcr.io/distroless/"),
        "a base without shell or package manager: {}",
        image[0]
    );
    assert_eq!(
        image
            .iter()
            .filter(|l| l.starts_with("COPY") || l.starts_with("ADD"))
            .collect::<Vec<_>>(),
        [&"COPY --from=build /src/target/release/privmon /usr/bin/privmon"],
        "the image holds the daemon and nothing else"
    );
    assert!(image.contains(&r#"ENTRYPOINT ["/usr/bin/privmon"]"#));
    let ds = daemonset();
    let args = &ds["spec"]["template"]["spec"]["containers"][0]["args"];
    assert_eq!(
        args[0].as_str(),
        Some("run"),
        "the DaemonSet runs the daemon"
    );
    let port = &ds["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"];
    assert!(
        image.contains(&format!("EXPOSE {}", port.as_u64().unwrap()).as_str()),
        "the image exposes the DaemonSet's port"
    );
}

/// `kubernetes-validate --strict` on `files`: whether it passed, and its output.
fn kubernetes_validate(files: &[PathBuf]) -> (bool, String) {
    let out = std::process::Command::new("python3")
        .args(["-m", "kubernetes_validate", "--strict"])
        .args(files)
        .output()
        .expect("running kubernetes-validate (PyPI; `cargo xtask setup` installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The base manifests are valid Kubernetes objects (strict: no unknown fields), checked
/// offline by `kubernetes-validate` (PyPI; `cargo xtask setup` installs it). The
/// ServiceMonitor and PrometheusRule are CRDs it has no schema for.
#[test]
fn the_base_manifests_validate_against_the_kubernetes_schemas() {
    let k = yaml("deploy/kubernetes/base/kustomization.yaml");
    let files: Vec<PathBuf> = k["resources"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| {
            root()
                .join("deploy/kubernetes/base")
                .join(r.as_str().unwrap())
        })
        .collect();
    let (ok, text) = kubernetes_validate(&files);
    assert!(ok, "{text}");
    for f in &files {
        assert!(
            text.lines()
                .any(|l| l.contains(f.to_str().unwrap()) && l.contains(" passed ")),
            "{} not validated:\n{text}",
            f.display()
        );
    }
}

/// `kubectl kustomize DIR` (kustomize v5, built into kubectl). kubectl is no Debian
/// package and no registry here serves it: this machine image has it (Google Cloud CLI's
/// `kubectl`, kustomize v5.5). Where it is missing the test fails and says so.
fn kustomize(dir: &str) -> Vec<Value> {
    let out = match std::process::Command::new("kubectl")
        .arg("kustomize")
        .arg(root().join(dir))
        .output()
    {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "kubectl is not installed: this test needs kubectl (with kustomize v5) on PATH; \
             the machine images privmon is tested on have it, no package registry here serves it"
        ),
        other => other.expect("running kubectl kustomize"),
    };
    assert!(
        out.status.success(),
        "kubectl kustomize {dir}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    use serde::Deserialize as _;
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap())
        .collect()
}

fn kinds(docs: &[Value]) -> Vec<&str> {
    let mut k: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    k.sort_unstable();
    k
}

/// The base and the Prometheus Operator overlay build with kustomize (`kubectl apply -k`
/// runs the same), every object lands in the `privmon` namespace, and the rendered base
/// validates against the Kubernetes schemas.
#[test]
fn kustomize_builds_the_base_and_the_overlay_and_the_result_validates() {
    let base = kustomize("deploy/kubernetes/base");
    assert_eq!(
        kinds(&base),
        [
            "ConfigMap",
            "DaemonSet",
            "Namespace",
            "Service",
            "ServiceAccount"
        ]
    );
    for d in base.iter().filter(|d| d["kind"] != "Namespace") {
        assert_eq!(d["metadata"]["namespace"], "privmon", "{d:?}");
    }
    let overlay = kustomize("deploy/kubernetes/prometheus-operator");
    assert_eq!(
        kinds(&overlay),
        [
            "ConfigMap",
            "DaemonSet",
            "Namespace",
            "PrometheusRule",
            "Service",
            "ServiceAccount",
            "ServiceMonitor"
        ]
    );
    for d in overlay.iter().filter(|d| d["kind"] != "Namespace") {
        assert_eq!(d["metadata"]["namespace"], "privmon", "{d:?}");
    }
    // The ServiceMonitor selects the Service the base renders, on its port's name.
    let service = overlay.iter().find(|d| d["kind"] == "Service").unwrap();
    let monitor = overlay
        .iter()
        .find(|d| d["kind"] == "ServiceMonitor")
        .unwrap();
    let selector = monitor["spec"]["selector"]["matchLabels"]
        .as_mapping()
        .unwrap();
    assert!(!selector.is_empty(), "the ServiceMonitor selects nothing");
    for (k, v) in selector {
        assert_eq!(&service["metadata"]["labels"][k], v, "label {k:?}");
    }
    let port = &monitor["spec"]["endpoints"][0]["port"];
    assert!(
        service["spec"]["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|p| &p["name"] == port),
        "no Service port named {port:?}"
    );

    let dir = std::env::temp_dir().join(unique("privmon-kustomize-"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for (i, d) in base.iter().enumerate() {
        let f = dir.join(format!("{i}-{}.yaml", d["kind"].as_str().unwrap()));
        std::fs::write(&f, serde_yaml_ng::to_string(d).unwrap()).unwrap();
        files.push(f);
    }
    let (ok, text) = kubernetes_validate(&files);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ok, "{text}");
    assert_eq!(
        text.lines().filter(|l| l.contains(" passed ")).count(),
        files.len(),
        "{text}"
    );
}

/// Runs the daemon with its bounding set cut to the DaemonSet's capabilities (so, as
/// root, exactly those are effective) and expects it to report a container in full.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn a_daemon_with_only_the_daemonsets_capabilities_works() {
    require_root();
    let caps = granted();
    let bounding = format!(
        "-all,{}",
        caps.iter()
            .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_lowercase()))
            .collect::<Vec<_>>()
            .join(",")
    );
    let daemon = Daemon::start_wrapped(&["setpriv", "--bounding-set", &bounding], &[]).unwrap();
    let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.pid())).unwrap();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .unwrap()
        .trim();
    let mut held: Vec<String> = Capability::from_mask(u64::from_str_radix(eff, 16).unwrap())
        .map(Capability::name)
        .collect();
    held.sort();
    let mut want = caps.clone();
    want.sort();
    assert_eq!(
        held, want,
        "the daemon holds more or less than the DaemonSet grants"
    );

    let pod = unique("leastpriv-");
    let c = Container::create(&ContainerSpec {
        args: &["/bin/trigger", "nice"],
        capabilities: &["CAP_SYS_NICE"],
        pod: Some(&pod),
        ..Default::default()
    })
    .unwrap();
    c.run_to_completion().unwrap();
    let start = daemon
        .wait_for_event(|e| e["kind"] == "container_start" && e["cgroup"]["id"] == c.cgroup_id)
        .expect("container_start");
    assert_eq!(start["k8s"]["namespace"], TEST_NAMESPACE);
    assert_eq!(start["posture"]["privileged"], false, "{start:#}");
    let ev = daemon
        .wait_for_event(|e| {
            e["kind"] == "capability"
                && e["cgroup"]["id"] == c.cgroup_id
                && check(e)["name"] == "CAP_SYS_NICE"
        })
        .expect("the container's capability check");
    assert_eq!(ev["k8s"]["pod"], pod.as_str(), "{ev:#}");
    assert_eq!(ev["process"]["exe"], "/bin/trigger", "{ev:#}");
    let m = daemon.metrics().unwrap();
    // CAP_NET_ADMIN: cgroup/sysctl loads and attaches, and cgroup/connect_unix (Linux 6.7+,
    // loaded by the daemon's own bpf(2) calls) with it.
    assert_eq!(
        m.value(
            "privmon_hook_info",
            &[("hook", "operations/sysctl"), ("attach", "cgroup_sysctl")]
        ),
        Some(1.0),
        "{}",
        m.text
    );
    if kernel_at_least(6, 7) {
        assert_eq!(
            m.value(
                "privmon_hook_info",
                &[
                    ("hook", "operations/runtime_socket"),
                    ("attach", "cgroup_connect_unix")
                ]
            ),
            Some(1.0),
            "{}",
            m.text
        );
    }
    assert!(
        m.value(
            "privmon_capability_checks_total",
            &[
                ("pod", pod.as_str()),
                ("cap", "CAP_SYS_NICE"),
                ("verdict", "allowed")
            ]
        )
        .is_some_and(|v| v >= 1.0),
        "{}",
        m.text
    );
}

/// The systemd unit's settings, as (key, value) lines of its [Service] section.
fn unit() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("deploy/systemd/privmon.service")).unwrap();
    text.lines()
        .skip_while(|l| l.trim() != "[Service]")
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[test]
fn the_systemd_unit_grants_what_the_daemonset_grants_and_no_more() {
    let unit = unit();
    let get = |k: &str| {
        unit.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{k} is not set"))
    };
    let mut bounding: Vec<&str> = get("CapabilityBoundingSet").split_whitespace().collect();
    bounding.sort();
    let mut want = granted();
    want.sort();
    assert_eq!(bounding, want, "the unit and the DaemonSet must agree");
    assert!(
        unit.iter()
            .all(|(k, _)| k != "AmbientCapabilities" && k != "User"),
        "uid 0 with a cut bounding set, as in the DaemonSet"
    );
    assert_eq!(get("NoNewPrivileges"), "yes");
    assert_eq!(get("ProtectSystem"), "strict");
    assert_eq!(
        get("StateDirectory"),
        "privmon",
        "the advisor's /var/lib/privmon"
    );
    assert!(get("SystemCallFilter").contains("bpf"));
}

/// `systemd-analyze verify` accepts the unit, and `systemd-analyze security` (offline)
/// rates its exposure at most 3.0 of 10 ("OK"; what is left is what a monitor needs: uid
/// 0, CAP_BPF, CAP_SYS_PTRACE, the network for /metrics).
#[test]
fn systemd_accepts_the_unit_and_rates_its_exposure_low() {
    let bin = privmon_tests::privmon_bin();
    let dir = std::env::temp_dir().join(unique("privmon-unit-"));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(root().join("deploy/systemd/privmon.service")).unwrap();
    // verify checks that ExecStart's program exists: point it at the build.
    let unit = dir.join("privmon.service");
    std::fs::write(
        &unit,
        text.replace("/usr/local/bin/privmon", bin.to_str().unwrap()),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new("systemd-analyze")
            .args(args)
            .arg(&unit)
            .output()
            .expect("running systemd-analyze");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, text) = run(&["verify"]);
    assert!(
        ok && text.trim().is_empty(),
        "systemd-analyze verify: {text}"
    );
    let (ok, text) = run(&["security", "--offline=yes", "--threshold=30"]);
    assert!(ok, "exposure above 3.0:\n{text}");
    assert!(
        text.contains("Overall exposure level for privmon.service"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
