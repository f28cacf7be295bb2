//! One line per act: what privmon writes for a container is what its workload did. The
//! runtime's set-up is counted in `container_start`, a call is one line, the kernel's own
//! checks are counted apart. Root only: run
//! with `cargo xtask test`.

use privmon_tests::*;
use serde_json::Value;

/// Docker's and containerd's default capabilities.
const DOCKER_DEFAULT: &[&str] = privmon::resolve::containers::posture::DEFAULT_CAPS;

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn a_container_that_runs_true_writes_its_start_and_stop_with_the_runtime_setup_in_it() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let c = Container::create(&ContainerSpec {
        args: &["/bin/true"],
        capabilities: DOCKER_DEFAULT,
        ..Default::default()
    })
    .unwrap();
    c.run_to_completion().unwrap();
    let cgroup = c.cgroup_id;
    let lines = daemon.lines_of(c);
    let kinds: Vec<&str> = lines.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        ["container_start", "container_stop"],
        "lines beyond the start and stop: {lines:#?}"
    );
    // Its memory accounting asked for CAP_SYS_ADMIN, refused: the kernel's own checks,
    // counted apart, not written. The tracepoints see them; fexit and kprobe on
    // cap_capable() do not where the compiler inlined it into cap_vm_enough_memory() (both
    // are in security/commoncap.c: Debian's 6.1 and 6.12 of the kernel matrix).
    let m = daemon.metrics().unwrap();
    let on_tracepoint = ["tp_btf", "tracepoint"].iter().any(|a| {
        m.value(
            "privmon_hook_info",
            &[("hook", "capability"), ("attach", a)],
        ) == Some(1.0)
    });
    let internal = monitor_common::VERDICT_DENIED | monitor_common::COUNT_INTERNAL;
    let counted = daemon.cap_count(cgroup, 21, internal).unwrap();
    assert!(
        counted >= 1 || !on_tracepoint,
        "no memory-accounting check was counted on the tracepoint"
    );
    let start = lines
        .iter()
        .find(|e| e["kind"] == "container_start")
        .expect("container_start");
    let setup = &start["runtime_setup"];
    // runc mounted /proc, /dev, ... made device nodes and switched roots.
    assert!(
        setup["operations"]["mount"].as_u64() >= Some(1),
        "{setup:#}"
    );
    assert_eq!(setup["operations"]["pivot_root"], 1, "{setup:#}");
    assert!(
        setup["capabilities"]["CAP_SYS_ADMIN"].as_u64() >= Some(1),
        "{setup:#}"
    );
    assert!(
        lines.iter().all(|e| e["kind"] != "syscall"),
        "a runtime operation was written: {lines:#?}"
    );
    let m = daemon.metrics().unwrap();
    assert!(
        m.value("privmon_runtime_setup_events_total", &[]) >= Some(10.0),
        "{:?}",
        m.value("privmon_runtime_setup_events_total", &[])
    );
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn a_user_container_setting_its_own_uid_writes_only_its_start_and_stop() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    // As uid 1000 without CAP_SETUID, setuid(1000): the kernel checks CAP_SETUID first and
    // refuses, then lets the call through (busybox does it at every applet's start). runc's
    // own privilege drop to uid 1000 comes first, in the set-up.
    let c = Container::create(&ContainerSpec {
        args: &["/bin/trigger", "setuid-to", "1000"],
        uid: Some(1000),
        ..Default::default()
    })
    .unwrap();
    let out = c.run_to_completion().unwrap();
    assert!(out.contains("setuid-to rc=0"), "{out}");
    let cgroup = c.cgroup_id;
    let lines = daemon.lines_of(c);
    let kinds: Vec<&str> = lines.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        ["container_start", "container_stop"],
        "lines beyond the start and stop: {lines:#?}"
    );
    // Counted as the kernel's own check, on every hook.
    let internal = monitor_common::VERDICT_DENIED | monitor_common::COUNT_INTERNAL;
    assert!(
        daemon.cap_count(cgroup, 7, internal).unwrap() >= 1,
        "the refused CAP_SETUID check of setuid(1000) was not counted as the kernel's own"
    );
    // Asking for an id it does not have is still written, refused (operations.rs has the
    // root-without-CAP_SETUID case; this one is a user's).
    let c = Container::create(&ContainerSpec {
        args: &["/bin/trigger", "setuid-to", "0"],
        uid: Some(1000),
        ..Default::default()
    })
    .unwrap();
    let out = c.run_to_completion().unwrap();
    assert!(out.contains("setuid-to rc=-1 errno=1"), "{out}");
    let lines = daemon.lines_of(c);
    let calls: Vec<&Value> = lines
        .iter()
        .filter(|e| e["process"]["comm"] == "trigger" && e["kind"] != "container_start")
        .collect();
    assert_eq!(calls.len(), 1, "{lines:#?}");
    assert_eq!(calls[0]["kind"], "credentials", "{:#}", calls[0]);
    assert_eq!(calls[0]["cause"], "setuid", "{:#}", calls[0]);
    assert_eq!(check(calls[0])["verdict"], "denied", "{:#}", calls[0]);
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn an_io_uring_workers_refused_open_is_marked_and_names_no_syscall() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    // Root without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH opens a mode-000 file through
    // io_uring, forced to a worker thread (IOSQE_ASYNC): the worker's registers are zeros,
    // which read as syscall 0 (`read`) unless the probe knows the thread for what it is.
    let c = Container::create(&ContainerSpec {
        args: &["/bin/trigger", "io-uring-open", "/io-uring-target"],
        ..Default::default()
    })
    .unwrap();
    let out = c.run_to_completion().unwrap();
    assert!(out.contains("io-uring-open res=-13"), "{out}");
    let lines = daemon.lines_of(c);
    let worker: Vec<&Value> = lines
        .iter()
        .filter(|e| e["process"]["io_worker"] == true && e["kind"] != "alert")
        .collect();
    assert!(!worker.is_empty(), "no io_uring worker's check: {lines:#?}");
    // Its alert says what made it.
    let alert = lines
        .iter()
        .find(|e| e["rule"] == "dangerous_capability_denied")
        .unwrap_or_else(|| panic!("no alert: {lines:#?}"));
    assert!(
        alert["summary"]
            .as_str()
            .is_some_and(|s| s.contains("for an io_uring submission")),
        "{alert:#}"
    );
    for e in &worker {
        assert_eq!(e["kind"], "capability", "{e:#}");
        assert_eq!(e["syscall"], Value::Null, "{e:#}");
        assert_eq!(check(e)["verdict"], "denied", "{e:#}");
        assert!(
            e["process"]["comm"]
                .as_str()
                .is_some_and(|c| c.starts_with("iou-wrk")),
            "{e:#}"
        );
        // The worker is a thread of the trigger's process.
        assert_eq!(e["process"]["exe"], "/bin/trigger", "{e:#}");
    }
    // No other thread's check claims the worker's zeroed registers as `read`.
    assert!(
        lines.iter().all(|e| e["syscall"]["name"] != "read"),
        "{lines:#?}"
    );
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn the_workloads_own_mount_is_one_line_and_the_runtimes_are_counted() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let c = Container::create(&ContainerSpec {
        args: &["/bin/trigger", "mount"],
        capabilities: &["CAP_SYS_ADMIN"],
        ..Default::default()
    })
    .unwrap();
    let out = c.run_to_completion().unwrap();
    assert!(out.contains("mount rc=0"), "{out}");
    let lines = daemon.lines_of(c);
    let mounts: Vec<&Value> = lines
        .iter()
        .filter(|e| e["syscall"]["name"] == "mount")
        .collect();
    assert_eq!(mounts.len(), 1, "{mounts:#?}");
    assert_eq!(mounts[0]["process"]["comm"], "trigger", "{:#}", mounts[0]);
    assert_eq!(mounts[0]["kind"], "syscall", "{:#}", mounts[0]);
    let alerts: Vec<&Value> = lines
        .iter()
        .filter(|e| e["kind"] == "alert" && e["rule"] == "mount_in_container")
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn runtime_setup_events_writes_the_runtimes_set_up_in_full() {
    require_root();
    let daemon = Daemon::start(&["--runtime-setup-events", "true"]).unwrap();
    let c = Container::create(&ContainerSpec {
        args: &["/bin/true"],
        capabilities: DOCKER_DEFAULT,
        ..Default::default()
    })
    .unwrap();
    c.run_to_completion().unwrap();
    let lines = daemon.lines_of(c);
    let pivot: Vec<&Value> = lines
        .iter()
        .filter(|e| e["kind"] == "syscall" && e["syscall"]["name"] == "pivot_root")
        .collect();
    assert_eq!(pivot.len(), 1, "{lines:#?}");
    assert!(
        pivot[0]["process"]["comm"]
            .as_str()
            .is_some_and(|c| c.starts_with("runc")),
        "{:#}",
        pivot[0]
    );
}
