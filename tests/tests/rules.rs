//! The default rules against real runc containers: each scenario raises its alert, a
//! benign workload raises none, repeats collapse into one alert with a count, and a broken
//! rule file on reload keeps the running rules. Root only: `cargo xtask test`.

use std::time::{Duration, Instant};

use privmon_tests::{
    Container, ContainerSpec, Daemon, PATIENCE, TEST_IMAGE, TEST_NAMESPACE, check,
    host_capabilities, require_root, unique,
};
use serde_json::Value;

/// The runtime's default capability set (Docker's and containerd's), as privmon knows it.
const DEFAULT_CAPS: &[&str] = privmon::resolve::containers::posture::DEFAULT_CAPS;

fn alerts_for(daemon: &Daemon, pod: &str) -> Vec<Value> {
    daemon
        .events()
        .into_iter()
        .filter(|e| e["kind"] == "alert" && e["k8s"]["pod"] == pod)
        .collect()
}

/// Waits for the alert of `rule` for `pod` and checks what every alert must carry.
fn expect_alert(daemon: &Daemon, pod: &str, rule: &str) -> Value {
    let alert = daemon
        .wait_for_event(|e| e["kind"] == "alert" && e["rule"] == rule && e["k8s"]["pod"] == pod)
        .unwrap_or_else(|| {
            panic!(
                "no {rule} alert for {pod}; alerts: {:#?}",
                alerts_for(daemon, pod)
            )
        });
    let summary = alert["summary"].as_str().unwrap();
    assert!(
        summary.starts_with(&format!("pod {TEST_NAMESPACE}/{pod} (container trigger)")),
        "{summary}"
    );
    assert!(!alert["mitre"].as_array().unwrap().is_empty(), "{alert:#}");
    assert_eq!(alert["count"], 1, "{alert:#}");
    alert
}

fn run(spec: ContainerSpec) -> (Container, String) {
    let c = Container::create(&spec).unwrap();
    let out = c.run_to_completion().unwrap();
    (c, out)
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn default_rules_fire_on_real_containers() {
    require_root();
    let daemon = Daemon::start(&["--trusted-registry", "trusted.example/"]).unwrap();

    // A privileged, host-pid container with the host's /etc, from an untrusted image,
    // that mounts a filesystem.
    let pod = unique("rules-priv-");
    let caps = host_capabilities();
    let caps: Vec<&str> = caps.iter().map(String::as_str).collect();
    let (_c, out) = run(ContainerSpec {
        args: &["/bin/trigger", "mount"],
        capabilities: &caps,
        host_pid: true,
        bind_mounts: &[("/etc", "/host-etc")],
        pod: Some(&pod),
        ..Default::default()
    });
    assert!(out.contains("mount rc=0"), "{out}");
    let a = expect_alert(&daemon, &pod, "privileged_container_started");
    assert_eq!(a["severity"], "high");
    assert_eq!(
        a["summary"],
        format!(
            "pod {TEST_NAMESPACE}/{pod} (container trigger) started privileged (image {TEST_IMAGE})"
        )
    );
    let a = expect_alert(&daemon, &pod, "sensitive_host_mount");
    assert!(a["summary"].as_str().unwrap().contains("/etc"), "{a:#}");
    let a = expect_alert(&daemon, &pod, "host_namespace_shared");
    assert!(a["summary"].as_str().unwrap().contains("pid"), "{a:#}");
    expect_alert(&daemon, &pod, "untrusted_image");
    // runc's own set-up mounts (/proc, /dev, ...) are not the container's doing.
    assert!(
        alerts_for(&daemon, &pod)
            .iter()
            .all(|a| a["rule"] != "mount_in_container"
                || a["event"]["syscall"]["args"]["target"] == "/mnt"),
        "{:#?}",
        alerts_for(&daemon, &pod)
    );
    let a = expect_alert(&daemon, &pod, "mount_in_container");
    assert_eq!(a["severity"], "high");
    assert_eq!(a["event"]["syscall"]["args"]["target"], "/mnt", "{a:#}");
    assert!(
        a["summary"]
            .as_str()
            .unwrap()
            .contains("ran mount none on /mnt"),
        "{a:#}"
    );

    // Default capabilities: the mount is refused, an escape attempt.
    let pod = unique("rules-denied-");
    let (_c, out) = run(ContainerSpec {
        args: &["/bin/trigger", "mount"],
        capabilities: DEFAULT_CAPS,
        pod: Some(&pod),
        ..Default::default()
    });
    assert!(out.contains("mount rc=-1"), "{out}");
    let a = expect_alert(&daemon, &pod, "dangerous_capability_denied");
    assert_eq!(a["event"]["capability"]["name"], "CAP_SYS_ADMIN", "{a:#}");
    assert!(
        a["summary"]
            .as_str()
            .unwrap()
            .contains("was refused CAP_SYS_ADMIN for mount"),
        "{a:#}"
    );
    assert!(
        alerts_for(&daemon, &pod)
            .iter()
            .all(|a| a["rule"] != "mount_in_container"),
        "a refused mount is not a mount"
    );

    // Capabilities beyond the default set.
    let pod = unique("rules-added-");
    let mut caps = DEFAULT_CAPS.to_vec();
    caps.push("CAP_SYS_ADMIN");
    let (_c, _) = run(ContainerSpec {
        args: &["/bin/true"],
        capabilities: &caps,
        pod: Some(&pod),
        ..Default::default()
    });
    let a = expect_alert(&daemon, &pod, "capabilities_added_over_default");
    assert!(
        a["summary"].as_str().unwrap().contains("CAP_SYS_ADMIN"),
        "{a:#}"
    );
}

/// What an ordinary container does: shell loops, file writes, unpacking an archive, a
/// short-lived helper process. None of it is an alert.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn a_benign_workload_raises_no_alert() {
    require_root();
    let daemon = Daemon::start(&["--watch", "all"]).unwrap();
    let pod = unique("rules-benign-");
    let script = "for i in $(seq 1 50); do echo line $i >> /tmp/log; done; \
                  mkdir -p /tmp/pkg/usr/bin /tmp/root && cp /bin/busybox /tmp/pkg/usr/bin/tool && \
                  echo config > /tmp/pkg/etc.conf && tar -cf /tmp/pkg.tar -C /tmp/pkg . && \
                  tar -xf /tmp/pkg.tar -C /tmp/root && chown -R 1000:1000 /tmp/root && \
                  chmod 755 /tmp/root/usr/bin/tool && chmod 600 /tmp/root/etc.conf && \
                  cat /tmp/root/etc.conf > /dev/null && ls /tmp/root/usr/bin > /dev/null && \
                  (sh -c 'cat /tmp/log > /dev/null') && rm -rf /tmp/pkg /tmp/root && echo done";
    let (c, out) = run(ContainerSpec {
        args: &["/bin/sh", "-c", script],
        capabilities: DEFAULT_CAPS,
        pod: Some(&pod),
        ..Default::default()
    });
    assert!(out.contains("done"), "{out}");
    let cgroup = c.cgroup_id;
    c.delete();
    // Everything of the container has been handled once its stop is (FIFO order), and a
    // host marker flushes what came after.
    daemon
        .wait_for_event(|e| e["kind"] == "container_stop" && e["cgroup"]["id"] == cgroup)
        .expect("container_stop");
    daemon.sync().unwrap();
    let events = daemon.events();
    let mine: Vec<&Value> = events
        .iter()
        .filter(|e| e["k8s"]["pod"] == pod.as_str())
        .collect();
    assert!(
        mine.iter().any(|e| e["kind"] == "capability"),
        "the workload made no capability check (chown, chmod and read of another user's \
         files) at all: {mine:#?}"
    );
    let alerts: Vec<&&Value> = mine.iter().filter(|e| e["kind"] == "alert").collect();
    assert!(alerts.is_empty(), "benign workload alerted: {alerts:#?}");
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn ten_thousand_mounts_make_one_alert_with_a_count() {
    require_root();
    const MOUNTS: u64 = 10_000;
    let dir = std::env::temp_dir().join(unique("privmon-rules-"));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("short-window.yaml");
    std::fs::write(
        &rules,
        "rules:\n  - id: mount_in_container\n    dedup: {window_secs: 10}\n",
    )
    .unwrap();
    let daemon = Daemon::start(&[
        "--rules",
        rules.to_str().unwrap(),
        // Every mount is a record: room for all of them, so the count can be exact.
        "--ring-buffer-bytes",
        "33554432",
        "--event-queue-capacity",
        "200000",
    ])
    .unwrap();
    let pod = unique("rules-flood-");
    let (_c, out) = run(ContainerSpec {
        args: &["/bin/trigger", "mount", &MOUNTS.to_string()],
        capabilities: &["CAP_SYS_ADMIN"],
        pod: Some(&pod),
        ..Default::default()
    });
    assert!(out.contains("mount rc=0"), "{out}");
    // The first alert at once; each window's repeats in one more when it closes. Wait
    // until the alerts account for every mount event: 10,000 mounts, each reported at
    // each of its capability checks (a tmpfs mount makes two).
    let started = Instant::now();
    let deadline = started + 3 * PATIENCE;
    let mount_events = |daemon: &Daemon| {
        daemon
            .events()
            .iter()
            .filter(|e| {
                e["kind"] == "syscall"
                    && e["k8s"]["pod"] == pod.as_str()
                    && e["syscall"]["name"] == "mount"
                    && e["syscall"]["args"]["target"] == "/mnt"
            })
            .count() as u64
    };
    let (alerts, events, handled_in) = loop {
        let a: Vec<Value> = alerts_for(&daemon, &pod)
            .into_iter()
            .filter(|a| a["rule"] == "mount_in_container")
            .collect();
        let total: u64 = a.iter().map(|a| a["count"].as_u64().unwrap()).sum();
        let events = mount_events(&daemon);
        if events >= MOUNTS && total == events || Instant::now() > deadline {
            break (a, events, started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // Runc's set-up mounts are not the container's: every alert is for /mnt.
    assert!(
        alerts
            .iter()
            .all(|a| a["event"]["syscall"]["args"]["target"] == "/mnt"),
        "{alerts:#?}"
    );
    let counts: Vec<u64> = alerts
        .iter()
        .map(|a| a["count"].as_u64().unwrap())
        .collect();
    assert!(events >= MOUNTS, "{events}");
    assert_eq!(counts.iter().sum::<u64>(), events, "{counts:?}");
    // Two alerts per 10 s window the daemon took to handle the flood (one window on a
    // fast machine), never one per mount.
    let windows = handled_in.as_secs() / 10 + 1;
    assert!(
        counts.len() as u64 <= 2 * windows,
        "{counts:?} in {handled_in:?}"
    );
    assert!(
        counts.iter().skip(1).step_by(2).all(|c| *c > 1),
        "{counts:?}"
    );
    assert_eq!(counts[0], 1, "{counts:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn a_broken_rule_file_on_reload_keeps_the_running_rules() {
    require_root();
    let dir = std::env::temp_dir().join(unique("privmon-rules-"));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("mine.yaml");
    let good = "rules:\n  - id: nice_in_container\n    description: a process asked for a higher priority\n    \
                severity: low\n    mitre: [T1496]\n    \
                condition: {all: [{field: kind, eq: capability}, {field: capability.name, eq: CAP_SYS_NICE}]}\n    \
                summary: \"{workload} raised its priority\"\n    dedup: {window_secs: 0}\n";
    std::fs::write(&rules, good).unwrap();
    let daemon = Daemon::start(&["--rules", rules.to_str().unwrap()]).unwrap();
    let nice = |pod: &str| {
        run(ContainerSpec {
            args: &["/bin/trigger", "nice"],
            capabilities: &["CAP_SYS_NICE"],
            pod: Some(pod),
            ..Default::default()
        })
    };
    let pod = unique("rules-reload-");
    let _c = nice(&pod);
    expect_alert(&daemon, &pod, "nice_in_container");

    // Broken on disk: the daemon notices the change, refuses it and says so.
    std::fs::write(
        &rules,
        "rules:\n  - id: nice_in_container\n    condition: {field: kind, regex: '('}\n",
    )
    .unwrap();
    let logged = daemon_log_wait(&daemon, "invalid rules: keeping the previous set");
    assert!(
        logged.contains(&format!("{}:3:", rules.display())),
        "{logged}"
    );
    let m = daemon.metrics().unwrap();
    assert_eq!(m.value("privmon_rules_last_reload_ok", &[]), Some(0.0));
    assert_eq!(
        m.value("privmon_rules_reload_failures_total", &[]),
        Some(1.0)
    );
    let pod = unique("rules-reload-");
    let _c = nice(&pod);
    expect_alert(&daemon, &pod, "nice_in_container");

    // Fixed and reloaded by SIGHUP.
    std::fs::write(&rules, good.replace("severity: low", "severity: medium")).unwrap();
    // SAFETY: signalling the daemon we started.
    unsafe { libc::kill(daemon.pid() as i32, libc::SIGHUP) };
    daemon_log_wait(&daemon, "rules reloaded");
    let pod = unique("rules-reload-");
    let _c = nice(&pod);
    let a = expect_alert(&daemon, &pod, "nice_in_container");
    assert_eq!(a["severity"], "medium", "{a:#}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn daemon_log_wait(daemon: &Daemon, needle: &str) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(l) = daemon.logs().into_iter().find(|l| l.contains(needle)) {
            return l;
        }
        assert!(Instant::now() < deadline, "no log line with {needle:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The operation rules, one container each: (trigger, capabilities, rule, words of the
/// summary). Module loads and kexec cannot happen on this kernel (no CONFIG_MODULES, no
/// CONFIG_KEXEC): the QEMU kernels of issue 10 will cover `kernel_module_loaded`.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn operation_rules_fire_on_real_containers() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let cases: &[(&str, &[&str], &str, &str)] = &[
        (
            "open-by-handle",
            &["CAP_DAC_READ_SEARCH"],
            "open_by_handle_at",
            "called open_by_handle_at (/bin/trigger as root, allowed)",
        ),
        (
            "bpf-map",
            &["CAP_BPF"],
            "bpf_from_container",
            "used bpf() command 0 (/bin/trigger as root)",
        ),
        (
            "ptrace-other",
            &["CAP_SYS_PTRACE", "CAP_SETUID"],
            "ptrace_other_process",
            "ran ptrace on pid",
        ),
        (
            "userns",
            &[],
            "user_namespace_in_container",
            "created a user namespace (/bin/trigger as root)",
        ),
        (
            "release-agent",
            &["CAP_SYS_ADMIN"],
            "release_agent_write",
            "wrote /mnt/release_agent (/bin/trigger as root, allowed)",
        ),
        (
            "reboot-bad-magic",
            &[],
            "kexec_or_reboot",
            "called reboot (/bin/trigger as root, denied)",
        ),
    ];
    for (trigger, caps, rule, words) in cases {
        let pod = unique("rules-op-");
        let (_c, out) = run(ContainerSpec {
            args: &["/bin/trigger", trigger],
            capabilities: caps,
            pod: Some(&pod),
            ..Default::default()
        });
        assert!(out.contains(&format!("{trigger} rc=")), "{out}");
        let a = expect_alert(&daemon, &pod, rule);
        let summary = a["summary"].as_str().unwrap();
        assert!(summary.contains(words), "{trigger}: {summary}");
    }
}

/// A user that runs a set-user-id-root file becomes root: a `credentials` event at the
/// exec, and the `root_through_setuid_binary` alert.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn root_through_a_setuid_binary_is_an_alert() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let pod = unique("rules-suid-");
    let (c, out) = run(ContainerSpec {
        args: &["/bin/suid-trigger", "ids"],
        capabilities: &[],
        uid: Some(1000),
        setuid_trigger: true,
        pod: Some(&pod),
        ..Default::default()
    });
    assert!(out.contains("ids uid=1000 euid=0"), "{out}");
    let ev = daemon
        .wait_for_event(|e| {
            e["kind"] == "credentials"
                && e["cgroup"]["id"] == c.cgroup_id
                // runc's own switch to gid 1000 is one too (it keeps euid 0).
                && e["cause"] == "exec"
                && e["credentials"]["new"]["euid"] == 0
        })
        .unwrap_or_else(|| panic!("no credentials event: {:#?}", daemon.events()));
    assert_eq!(ev["credentials"]["new"]["uid"], 1000, "{ev:#}");
    assert_eq!(ev["cause"], "exec", "{ev:#}");
    assert_eq!(ev["exec"]["filename"], "/bin/suid-trigger", "{ev:#}");
    let a = expect_alert(&daemon, &pod, "root_through_setuid_binary");
    assert!(
        a["summary"]
            .as_str()
            .unwrap()
            .ends_with("uid 1000 became root by executing /bin/suid-trigger"),
        "{a:#}"
    );
}

/// A non-root process holding CAP_SETUID (ambient) asks for uid 0 and gets it: a
/// `credentials` event for the call, and the `root_through_setuid_call` alert.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn root_through_a_setuid_call_is_an_alert() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let pod = unique("rules-setuid-");
    let (c, out) = run(ContainerSpec {
        args: &["/bin/trigger", "setuid-to", "0"],
        capabilities: &["CAP_SETUID"],
        ambient: true,
        uid: Some(1000),
        pod: Some(&pod),
        ..Default::default()
    });
    assert!(out.contains("setuid-to rc=0"), "{out}");
    let ev = daemon
        .wait_for_event(|e| {
            e["kind"] == "credentials"
                && e["cgroup"]["id"] == c.cgroup_id
                && e["cause"] == "setuid"
                // runc's own switch to uid 1000 is one too.
                && e["process"]["comm"] == "trigger"
        })
        .unwrap_or_else(|| panic!("no credentials event: {:#?}", daemon.events()));
    assert_eq!(ev["credentials"]["old"]["euid"], 1000, "{ev:#}");
    assert_eq!(ev["credentials"]["new"]["euid"], 0, "{ev:#}");
    assert_eq!(check(&ev)["verdict"], "allowed", "{ev:#}");
    let a = expect_alert(&daemon, &pod, "root_through_setuid_call");
    assert!(
        a["summary"]
            .as_str()
            .unwrap()
            .contains("uid 1000 became root through setuid() (/bin/trigger)"),
        "{a:#}"
    );
}

/// A host-pid container joins a namespace of a host process (the test itself):
/// `setns_into_host_namespace`. (Not pid 1: this VM's init refuses /proc/1/ns to others.)
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn setns_into_a_host_namespace_is_an_alert() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let pod = unique("rules-setns-");
    let host_pid = std::process::id().to_string();
    let (_c, out) = run(ContainerSpec {
        args: &["/bin/trigger", "setns-pid-uts", &host_pid],
        capabilities: &["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"],
        host_pid: true,
        pod: Some(&pod),
        ..Default::default()
    });
    assert!(out.contains("setns-pid-uts rc=0"), "{out}");
    let a = expect_alert(&daemon, &pod, "setns_into_host_namespace");
    assert_eq!(a["severity"], "critical");
    assert!(
        a["summary"]
            .as_str()
            .unwrap()
            .contains("joined the host's uts namespace"),
        "{a:#}"
    );
}
