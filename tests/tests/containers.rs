//! Containers are announced with their posture when they appear (or when privmon starts),
//! and every event is attributed to the right container. Root only: `cargo xtask test`.

use privmon_tests::{
    Container, ContainerSpec, Daemon, TEST_IMAGE, TEST_NAMESPACE, TEST_POD, check,
    host_capabilities, in_container, require_root, short_id,
};
use serde_json::Value;

fn lifecycle_event(daemon: &Daemon, kind: &str, c: &Container) -> Value {
    daemon
        .wait_for_event(|e| e["kind"] == kind && in_container(e, &c.id))
        .unwrap_or_else(|| panic!("no {kind} for {}; events: {:#?}", c.id, daemon.events()))
}

fn assert_attributed(ev: &Value, c: &Container) {
    // The full id at start, the short one on every other line (docs/events.md).
    let id = if ev["kind"] == "container_start" {
        c.id.as_str()
    } else {
        short_id(&c.id)
    };
    assert_eq!(ev["container"]["id"], id, "{ev:#}");
    assert_eq!(ev["k8s"]["pod"], TEST_POD, "{ev:#}");
    assert_eq!(ev["k8s"]["namespace"], TEST_NAMESPACE, "{ev:#}");
    assert_eq!(ev["cgroup"]["id"], c.cgroup_id, "{ev:#}");
    if ev["kind"] == "container_start" {
        assert_eq!(ev["container"]["runtime"], "containerd", "{ev:#}");
        assert_eq!(ev["container"]["image"], TEST_IMAGE, "{ev:#}");
        assert_eq!(ev["k8s"]["pod_uid"], c.pod_uid.as_str(), "{ev:#}");
        assert_eq!(ev["cgroup"]["path"], c.cgroup_path.as_str(), "{ev:#}");
    } else {
        privmon_tests::assert_brief(ev);
    }
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn privileged_container_posture() {
    require_root();
    let daemon = Daemon::start(&["--trusted-registry", "registry.example/"]).unwrap();
    let caps = host_capabilities();
    let caps: Vec<&str> = caps.iter().map(String::as_str).collect();
    let c = Container::create(&ContainerSpec {
        args: &["/bin/trigger", "nice"],
        capabilities: &caps,
        host_pid: true,
        bind_mounts: &[("/etc", "/host-etc")],
        ..Default::default()
    })
    .unwrap();
    c.run_to_completion().unwrap();
    let start = lifecycle_event(&daemon, "container_start", &c);
    assert_attributed(&start, &c);
    let p = &start["posture"];
    assert_eq!(p["privileged"], true, "{p:#}");
    assert_eq!(
        p["capabilities"]["effective"].as_array().unwrap().len(),
        caps.len(),
        "{p:#}"
    );
    assert!(
        p["capabilities"]["added_over_default"]
            .as_array()
            .unwrap()
            .contains(&"CAP_SYS_ADMIN".into()),
        "{p:#}"
    );
    assert!(
        p["host_namespaces"]
            .as_array()
            .unwrap()
            .contains(&"pid".into()),
        "{p:#}"
    );
    assert!(
        !p["host_namespaces"]
            .as_array()
            .unwrap()
            .contains(&"mnt".into()),
        "{p:#}"
    );
    assert_eq!(p["sensitive_mounts"], serde_json::json!(["/etc"]), "{p:#}");
    assert_eq!(p["runs_as_root"], true, "{p:#}");
    assert_eq!(p["no_new_privs"], false, "{p:#}");
    assert_eq!(p["seccomp"], "disabled", "{p:#}");
    assert_eq!(p["readonly_rootfs"], false, "{p:#}");
    // TEST_IMAGE is under registry.example/.
    assert_eq!(p["image_trusted"], true, "{p:#}");

    c.wait_stopped().unwrap();
    let id = c.id.clone();
    let cgroup_id = c.cgroup_id;
    c.delete();
    let stop = daemon
        .wait_for_event(|e| e["kind"] == "container_stop" && e["container"]["id"] == short_id(&id))
        .unwrap_or_else(|| panic!("no container_stop for {id}"));
    assert_eq!(stop["cgroup"]["id"], cgroup_id);
    // The start said the posture; the stop names the container only.
    assert!(stop.get("posture").is_none(), "{stop:#}");
    privmon_tests::assert_brief(&stop);
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn restricted_container_posture() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let c = Container::create(&ContainerSpec {
        // The init lives on a while: container_start describes it only while it lives
        // (the start can come late on a slow machine, e.g. the QEMU matrix).
        args: &["/bin/sh", "-c", "/bin/trigger nice; sleep 2"],
        capabilities: &[],
        no_new_privs: true,
        readonly_root: true,
        seccomp: true,
        ..Default::default()
    })
    .unwrap();
    c.run_to_completion().unwrap();
    let start = lifecycle_event(&daemon, "container_start", &c);
    assert_attributed(&start, &c);
    let p = &start["posture"];
    assert_eq!(p["privileged"], false, "{p:#}");
    assert_eq!(
        p["capabilities"]["effective"],
        serde_json::json!([]),
        "{p:#}"
    );
    assert_eq!(
        p["capabilities"]["added_over_default"],
        serde_json::json!([]),
        "{p:#}"
    );
    for ns in ["pid", "net", "ipc", "uts", "mnt"] {
        assert!(
            !p["host_namespaces"]
                .as_array()
                .unwrap()
                .contains(&ns.into()),
            "{ns}: {p:#}"
        );
    }
    assert_eq!(p["sensitive_mounts"], serde_json::json!([]), "{p:#}");
    assert_eq!(p["no_new_privs"], true, "{p:#}");
    assert_eq!(p["seccomp"], "filter", "{p:#}");
    assert_eq!(p["readonly_rootfs"], true, "{p:#}");
    // No trust policy configured.
    assert_eq!(p["image_trusted"], Value::Null, "{p:#}");
    // The init process is described while it lives.
    assert_eq!(start["process"]["pid"], c.pid, "{start:#}");
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn container_running_before_the_daemon_is_discovered() {
    require_root();
    let c = Container::create(&ContainerSpec {
        args: &["/bin/busybox", "sleep", "60"],
        capabilities: &["CAP_KILL"],
        ..Default::default()
    })
    .unwrap();
    c.start().unwrap();
    let daemon = Daemon::start(&[]).unwrap();
    let start = lifecycle_event(&daemon, "container_start", &c);
    assert_attributed(&start, &c);
    assert_eq!(start["process"]["pid"], c.pid, "{start:#}");
    assert_eq!(start["process"]["comm"], "busybox", "{start:#}");
    assert_eq!(
        start["process"]["args"],
        serde_json::json!(["/bin/busybox", "sleep", "60"])
    );
    assert_eq!(
        start["posture"]["capabilities"]["effective"],
        serde_json::json!(["CAP_KILL"])
    );
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn short_lived_container_is_attributed_and_announced() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let c = Container::create(&ContainerSpec {
        args: &["/bin/trigger", "raw-socket"],
        capabilities: &["CAP_NET_RAW"],
        ..Default::default()
    })
    .unwrap();
    let (id, cgroup_id) = (c.id.clone(), c.cgroup_id);
    // Start, exit and delete as fast as runc goes: the container is gone before the test
    // looks at anything.
    c.run_to_completion().unwrap();
    c.delete();
    let stop = daemon
        .wait_for_event(|e| e["kind"] == "container_stop" && e["container"]["id"] == short_id(&id))
        .unwrap_or_else(|| panic!("no container_stop for {id}: {:#?}", daemon.events()));
    assert_eq!(stop["k8s"]["pod"], TEST_POD, "{stop:#}");
    let events = daemon.events();
    let start = events
        .iter()
        .position(|e| e["kind"] == "container_start" && e["container"]["id"] == id.as_str())
        .expect("container_start precedes container_stop");
    let stop_at = events
        .iter()
        .position(|e| e["kind"] == "container_stop" && e["container"]["id"] == short_id(&id))
        .unwrap();
    assert!(start < stop_at);
    let cap = events
        .iter()
        .find(|e| {
            e["kind"] == "capability"
                && check(e)["name"] == "CAP_NET_RAW"
                && e["cgroup"]["id"] == cgroup_id
                && e["process"]["comm"] == "trigger"
        })
        .expect("the raw socket check is reported");
    assert_eq!(cap["container"]["id"], short_id(&id), "{cap:#}");
    assert_eq!(cap["k8s"]["pod"], TEST_POD, "{cap:#}");
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn two_containers_doing_the_same_thing_are_told_apart() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let spec = ContainerSpec {
        args: &["/bin/trigger", "raw-socket"],
        capabilities: &["CAP_NET_RAW"],
        ..Default::default()
    };
    let a = Container::create(&spec).unwrap();
    let b = Container::create(&spec).unwrap();
    a.start().unwrap();
    b.start().unwrap();
    a.wait_stopped().unwrap();
    b.wait_stopped().unwrap();
    for c in [&a, &b] {
        let ev = daemon
            .wait_for_event(|e| {
                e["kind"] == "capability"
                    && check(e)["name"] == "CAP_NET_RAW"
                    && e["process"]["pid"] == c.pid
                    && e["process"]["comm"] == "trigger"
            })
            .unwrap_or_else(|| panic!("no event from pid {}", c.pid));
        assert_attributed(&ev, c);
        assert_eq!(check(&ev)["name"], "CAP_NET_RAW");
    }
    assert_ne!(a.cgroup_id, b.cgroup_id);
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn events_carry_exec_details_and_ancestry_of_short_lived_processes() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let c = Container::create(&ContainerSpec {
        // The shell forks the trigger (the `; true` keeps it from exec-ing in place), and
        // both are gone before the test looks.
        args: &["/bin/sh", "-c", "/bin/trigger nice; true"],
        capabilities: &["CAP_SYS_NICE"],
        ..Default::default()
    })
    .unwrap();
    c.run_to_completion().unwrap();
    let ev = daemon
        .wait_for_event(|e| {
            e["kind"] == "capability"
                && e["cgroup"]["id"] == c.cgroup_id
                && e["process"]["comm"] == "trigger"
                && check(e)["name"] == "CAP_SYS_NICE"
        })
        .unwrap_or_else(|| panic!("no CAP_SYS_NICE event: {:#?}", daemon.events()));
    let p = &ev["process"];
    assert_eq!(p["exe"], "/bin/trigger", "{p:#}");
    assert_eq!(
        p["args"],
        serde_json::json!(["/bin/trigger", "nice"]),
        "{p:#}"
    );
    assert_eq!(p["ppid"], c.pid, "{p:#}");
    assert_eq!(p["ancestors"][0]["pid"], c.pid, "{p:#}");
    assert_eq!(p["ancestors"][0]["comm"], "sh", "{p:#}");
    assert_attributed(&ev, &c);
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn a_forked_child_that_never_execs_carries_its_parents_program() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let c = Container::create(&ContainerSpec {
        // The trigger forks; the child makes the check and exits at once, no exec.
        args: &["/bin/trigger", "fork-nice"],
        capabilities: &["CAP_SYS_NICE"],
        ..Default::default()
    })
    .unwrap();
    let out = c.run_to_completion().unwrap();
    assert!(out.contains("fork-nice rc=0"), "{out}");
    let ev = daemon
        .wait_for_event(|e| {
            e["kind"] == "capability"
                && e["cgroup"]["id"] == c.cgroup_id
                && check(e)["name"] == "CAP_SYS_NICE"
        })
        .unwrap_or_else(|| panic!("no CAP_SYS_NICE event: {:#?}", daemon.events()));
    let p = &ev["process"];
    assert_ne!(p["pid"], c.pid, "the child's check: {p:#}");
    assert_eq!(p["ppid"], c.pid, "{p:#}");
    assert_eq!(p["exe"], "/bin/trigger", "{p:#}");
    assert_eq!(
        p["args"],
        serde_json::json!(["/bin/trigger", "fork-nice"]),
        "{p:#}"
    );
    assert_eq!(p["ancestors"][0]["pid"], c.pid, "{p:#}");
}
