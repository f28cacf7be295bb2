//! Sensitive operations made in containers are reported in full, with their arguments and
//! attribution. Root only: `cargo xtask test`.

use privmon_tests::{
    Container, ContainerSpec, Daemon, PATIENCE, TEST_POD, check, require_root, short_id,
};
use serde_json::Value;

/// Runs the trigger in a container with `caps`; returns the container, its output, and the
/// daemon's `kind` events from the trigger for syscall `name`, once `count` have arrived.
fn operations(
    daemon: &Daemon,
    args: &[&str],
    caps: &[&str],
    kind: &str,
    name: &str,
    count: usize,
) -> (Container, String, Vec<Value>) {
    let spec = ContainerSpec {
        args,
        capabilities: caps,
        ..Default::default()
    };
    operations_in(daemon, &spec, kind, name, count)
}

/// [`operations`] in a container made from `spec`.
fn operations_in(
    daemon: &Daemon,
    spec: &ContainerSpec,
    kind: &str,
    name: &str,
    count: usize,
) -> (Container, String, Vec<Value>) {
    let c = Container::create(spec).unwrap();
    let out = c.run_to_completion().unwrap();
    let matches = |e: &Value| {
        // runc's own set-up in the container (mounts, pivot_root) is reported too; these
        // tests look at the trigger's.
        e["kind"] == kind
            && e["cgroup"]["id"] == c.cgroup_id
            && e["process"]["comm"] == "trigger"
            && e["syscall"]["name"] == name
    };
    // Wait (bounded) until `count` of them are out.
    let deadline = std::time::Instant::now() + PATIENCE;
    while daemon_count(daemon, &matches) < count {
        assert!(
            std::time::Instant::now() < deadline,
            "{count} {kind} events for {name} expected; output {out:?}; events: {:#?}",
            daemon.events()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let events = daemon.events().into_iter().filter(|e| matches(e)).collect();
    (c, out, events)
}

/// Set by the kernel matrix (`cargo xtask vmtest`), whose kernels have BPF trampolines:
/// tests that follow the daemon's choice of source must then see fentry/fexit chosen.
fn expect_trampolines() -> bool {
    std::env::var_os("PRIVMON_EXPECT_TRAMPOLINES").is_some()
}

fn daemon_count(daemon: &Daemon, matches: &impl Fn(&Value) -> bool) -> usize {
    daemon.events().iter().filter(|e| matches(e)).count()
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn mount_is_reported_with_its_arguments() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let (c, out, evs) = operations(
        &daemon,
        &["/bin/trigger", "mount"],
        &["CAP_SYS_ADMIN"],
        "syscall",
        "mount",
        1,
    );
    assert!(out.contains("mount rc=0"), "{out}");
    let ev = &evs[0];
    assert_eq!(ev["group"], "mounts", "{ev:#}");
    assert_eq!(ev["syscall"]["args"]["source"], "none", "{ev:#}");
    assert_eq!(ev["syscall"]["args"]["target"], "/mnt", "{ev:#}");
    assert_eq!(ev["syscall"]["args"]["fstype"], "tmpfs", "{ev:#}");
    assert_eq!(ev["syscall"]["args"]["flags"], libc::MS_NOSUID, "{ev:#}");
    assert_eq!(check(ev)["name"], "CAP_SYS_ADMIN", "{ev:#}");
    assert_eq!(check(ev)["verdict"], "allowed", "{ev:#}");
    assert_eq!(ev["process"]["pid"], c.pid, "{ev:#}");
    assert_eq!(ev["container"]["id"], short_id(&c.id), "{ev:#}");
    assert_eq!(ev["k8s"]["pod"], TEST_POD, "{ev:#}");

    // One mount, one line: the kernel's checks of the call (CAP_SYS_ADMIN, twice for a
    // tmpfs on 6.x kernels) are listed in it, and no capability event stands beside it.
    let lines: Vec<Value> = daemon.trigger_calls_of(c, "mount");
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let checks = lines[0]["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), 1, "{checks:#?}");
    assert_eq!(checks[0]["name"], "CAP_SYS_ADMIN", "{checks:#?}");
    assert_eq!(checks[0]["verdict"], "allowed", "{checks:#?}");
    assert!(checks[0]["count"].as_u64() >= Some(1), "{checks:#?}");
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn refused_mount_is_reported_as_denied() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let (_c, out, evs) = operations(
        &daemon,
        &["/bin/trigger", "mount"],
        &["CAP_CHOWN"],
        "syscall",
        "mount",
        1,
    );
    assert!(
        out.contains(&format!("mount rc=-1 errno={}", libc::EPERM)),
        "{out}"
    );
    let ev = &evs[0];
    assert_eq!(check(ev)["verdict"], "denied", "{ev:#}");
    assert_eq!(ev["syscall"]["args"]["target"], "/mnt", "{ev:#}");
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn every_repeated_operation_is_reported() {
    require_root();
    // The first-seen filter applies to plain capability events, not to operations.
    let daemon = Daemon::start(&[]).unwrap();
    let (_c, out, mounts) = operations(
        &daemon,
        &["/bin/trigger", "mount", "3"],
        &["CAP_SYS_ADMIN"],
        "syscall",
        "mount",
        3,
    );
    assert!(out.contains("mount rc=0"), "{out}");
    // One event per call (a call's checks are one event: mount(2) of a tmpfs makes two);
    // the umount2 between them keeps the three identical mounts apart.
    assert!(mounts.len() >= 3, "{mounts:#?}");
    let umounts: Vec<Value> = daemon
        .events()
        .into_iter()
        .filter(|e| {
            e["kind"] == "syscall"
                && e["syscall"]["name"] == "umount2"
                && e["process"]["comm"] == "trigger"
        })
        .collect();
    assert!(!umounts.is_empty(), "umount2 is reported too");
    assert_eq!(umounts[0]["syscall"]["args"]["target"], "/mnt");
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn unshare_is_a_namespace_event() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let (c, out, evs) = operations(
        &daemon,
        &["/bin/trigger", "unshare-mount"],
        &["CAP_SYS_ADMIN"],
        "namespace",
        "unshare",
        1,
    );
    assert!(out.contains("unshare-mount rc=0"), "{out}");
    let ev = &evs[0];
    assert_eq!(ev["namespace"]["operation"], "unshare", "{ev:#}");
    assert_eq!(
        ev["namespace"]["types"],
        serde_json::json!(["mnt"]),
        "{ev:#}"
    );
    assert_eq!(ev["group"], "namespaces", "{ev:#}");
    assert_eq!(check(ev)["verdict"], "allowed", "{ev:#}");
    assert_eq!(ev["container"]["id"], short_id(&c.id), "{ev:#}");
}

/// clone(CLONE_NEWNS): one `namespace` line, its audited check; the kernel's own
/// accounting checks of the same call are not in it.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn clone_into_a_new_mount_namespace_is_one_namespace_event() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let (c, out, _) = operations(
        &daemon,
        &["/bin/trigger", "clone-newns"],
        &["CAP_SYS_ADMIN"],
        "namespace",
        "clone",
        1,
    );
    assert!(out.contains("clone-newns rc=0"), "{out}");
    let lines: Vec<Value> = daemon.trigger_calls_of(c, "clone");
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let ev = &lines[0];
    assert_eq!(ev["kind"], "namespace", "{ev:#}");
    assert_eq!(
        ev["namespace"]["types"],
        serde_json::json!(["mnt"]),
        "{ev:#}"
    );
    assert_eq!(check(ev)["name"], "CAP_SYS_ADMIN", "{ev:#}");
    assert_eq!(check(ev)["scope"], "host", "{ev:#}");
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn chroot_is_reported_with_its_path() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let (_c, out, evs) = operations(
        &daemon,
        &["/bin/trigger", "chroot"],
        &["CAP_SYS_CHROOT"],
        "syscall",
        "chroot",
        1,
    );
    assert!(out.contains("chroot rc=0"), "{out}");
    assert_eq!(evs[0]["syscall"]["args"]["path"], "/tmp", "{:#}", evs[0]);
    assert_eq!(check(&evs[0])["name"], "CAP_SYS_CHROOT");
}

/// A write to a cgroup v1 `release_agent` by a process that is gone at once: the file is
/// named in the kernel at the check, with its file system, device and mount.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn a_write_names_its_file_though_the_writer_is_gone() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let (_c, out, evs) = operations(
        &daemon,
        &["/bin/trigger", "release-agent"],
        &["CAP_SYS_ADMIN"],
        "syscall",
        "write",
        1,
    );
    assert!(out.contains("release-agent rc=3"), "{out}");
    let args = &evs[0]["syscall"]["args"];
    assert_eq!(args["path"], "/mnt/release_agent", "{:#}", evs[0]);
    assert_eq!(args["fs"], "cgroup", "{:#}", evs[0]);
    assert!(args["mount_id"].as_u64() > Some(0), "{:#}", evs[0]);
    let device = args["device"].as_str().unwrap_or_default();
    assert!(
        device.split_once(':').is_some_and(
            |(major, minor)| major.parse::<u32>().is_ok() && minor.parse::<u32>().is_ok()
        ),
        "{:#}",
        evs[0]
    );
    assert_eq!(check(&evs[0])["name"], "CAP_SYS_ADMIN");
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn sethostname_is_reported_with_the_name() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let (_c, out, evs) = operations(
        &daemon,
        &["/bin/trigger", "sethostname"],
        &["CAP_SYS_ADMIN"],
        "syscall",
        "sethostname",
        1,
    );
    assert!(out.contains("sethostname rc=0"), "{out}");
    assert_eq!(evs[0]["group"], "misc", "{:#}", evs[0]);
    assert_eq!(evs[0]["syscall"]["args"]["name"], "escaped", "{:#}", evs[0]);
    assert_eq!(evs[0]["syscall"]["args"]["len"], 7, "{:#}", evs[0]);
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn setns_is_a_namespace_event() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let (_c, out, evs) = operations(
        &daemon,
        &["/bin/trigger", "setns-uts"],
        &["CAP_SYS_ADMIN"],
        "namespace",
        "setns",
        1,
    );
    assert!(out.contains("setns-uts rc=0"), "{out}");
    let ev = &evs[0];
    assert_eq!(ev["namespace"]["operation"], "setns", "{ev:#}");
    assert_eq!(
        ev["namespace"]["types"],
        serde_json::json!(["uts"]),
        "{ev:#}"
    );
    assert_eq!(check(ev)["verdict"], "allowed", "{ev:#}");
    // The trigger holds the fd open for a second after setns, so the daemon can read it.
    assert_eq!(ev["namespace"]["target"]["type"], "uts", "{ev:#}");
    assert_eq!(ev["namespace"]["target"]["owner"], "container", "{ev:#}");
}

// Tests named `vm_only_*` need what this host's kernel lacks (loadable modules, kexec): the
// kernel matrix (`cargo xtask vmtest`) runs them on Debian's kernels; `cargo xtask test`
// skips them here.

/// The module file `cargo xtask vmtest` provides for the booted kernel, and its name.
fn vm_module() -> (String, String) {
    let path = std::env::var("PRIVMON_TEST_MODULE").expect(
        "PRIVMON_TEST_MODULE names a module file of the running kernel: run this test \
         through cargo xtask vmtest",
    );
    let file = path.rsplit('/').next().unwrap_or_default();
    let name = file.split('.').next().unwrap_or_default().replace('-', "_");
    (path, name)
}

#[test]
#[ignore = "needs root and loadable modules: runs in cargo xtask vmtest"]
fn vm_only_module_load_and_unload_are_reported() {
    require_root();
    let (module, name) = vm_module();
    let inside = format!("/{}", module.rsplit('/').next().unwrap());
    let args = ["/bin/trigger", "module", inside.as_str(), name.as_str()];
    let mounts = [(module.as_str(), inside.as_str())];
    let daemon = Daemon::start(&[]).unwrap();

    // Refused: the container lacks CAP_SYS_MODULE.
    let spec = ContainerSpec {
        args: &args,
        capabilities: &["CAP_CHOWN"],
        bind_mounts: &mounts,
        ..Default::default()
    };
    let (_c, out, evs) = operations_in(&daemon, &spec, "syscall", "finit_module", 1);
    assert!(
        out.contains(&format!("finit_module rc=-1 errno={}", libc::EPERM)),
        "{out}"
    );
    let ev = &evs[0];
    assert_eq!(ev["group"], "kernel", "{ev:#}");
    assert_eq!(check(ev)["name"], "CAP_SYS_MODULE", "{ev:#}");
    assert_eq!(check(ev)["verdict"], "denied", "{ev:#}");

    // Permitted: loaded, then unloaded by name.
    let spec = ContainerSpec {
        capabilities: &["CAP_SYS_MODULE"],
        ..spec
    };
    let (c, out, evs) = operations_in(&daemon, &spec, "syscall", "finit_module", 1);
    assert!(out.contains("finit_module rc=0"), "{out}");
    assert!(out.contains("delete_module rc=0"), "{out}");
    let ev = &evs[0];
    assert_eq!(check(ev)["verdict"], "allowed", "{ev:#}");
    assert_eq!(ev["container"]["id"], short_id(&c.id), "{ev:#}");
    let path = ev["syscall"]["args"]["path"].as_str().unwrap_or_default();
    assert!(path.ends_with(&inside), "the module file: {ev:#}");
    let unload = daemon
        .wait_for_event(|e| {
            e["kind"] == "syscall"
                && e["syscall"]["name"] == "delete_module"
                && e["cgroup"]["id"] == c.cgroup_id
        })
        .expect("a delete_module event");
    assert_eq!(
        unload["syscall"]["args"]["name"],
        name.as_str(),
        "{unload:#}"
    );
    assert_eq!(check(&unload)["verdict"], "allowed", "{unload:#}");
    let alert = daemon
        .wait_for_event(|e| {
            e["kind"] == "alert"
                && e["rule"] == "kernel_module_loaded"
                && e["event"]["cgroup"]["id"] == c.cgroup_id
        })
        .expect("the kernel_module_loaded alert");
    assert_eq!(alert["severity"], "critical", "{alert:#}");
}

#[test]
#[ignore = "needs root and kexec: runs in cargo xtask vmtest"]
fn vm_only_kexec_load_is_reported() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let (_c, out, evs) = operations(
        &daemon,
        &["/bin/trigger", "kexec-unload"],
        &["CAP_CHOWN"],
        "syscall",
        "kexec_load",
        1,
    );
    assert!(
        out.contains(&format!("kexec-unload rc=-1 errno={}", libc::EPERM)),
        "{out}"
    );
    assert_eq!(check(&evs[0])["verdict"], "denied", "{:#}", evs[0]);
    assert_eq!(check(&evs[0])["name"], "CAP_SYS_BOOT", "{:#}", evs[0]);

    let (c, out, evs) = operations(
        &daemon,
        &["/bin/trigger", "kexec-unload"],
        &["CAP_SYS_BOOT"],
        "syscall",
        "kexec_load",
        1,
    );
    assert!(out.contains("kexec-unload rc=0"), "{out}");
    let ev = &evs[0];
    assert_eq!(ev["group"], "kernel", "{ev:#}");
    assert_eq!(check(ev)["verdict"], "allowed", "{ev:#}");
    assert_eq!(ev["syscall"]["args"]["nr_segments"], 0, "{ev:#}");
    daemon
        .wait_for_event(|e| {
            e["kind"] == "alert"
                && e["rule"] == "kexec_or_reboot"
                && e["event"]["cgroup"]["id"] == c.cgroup_id
        })
        .expect("the kexec_or_reboot alert");
}

/// The `credentials` events of the trigger's user-id call in a container with `caps`,
/// waiting (bounded) for one; returns the container, its output and the events.
fn id_change(daemon: &Daemon, args: &[&str], caps: &[&str]) -> (Container, String, Vec<Value>) {
    let spec = ContainerSpec {
        args,
        capabilities: caps,
        ..Default::default()
    };
    id_change_in(daemon, &spec)
}

/// [`id_change`] in a container made from `spec`; events of the trigger under any of its
/// names (`trigger`, `sgid-trigger`, `fcap-trigger`).
fn id_change_in(daemon: &Daemon, spec: &ContainerSpec) -> (Container, String, Vec<Value>) {
    let args = spec.args;
    let c = Container::create(spec).unwrap();
    let out = c.run_to_completion().unwrap();
    let matches = |e: &Value| {
        e["kind"] == "credentials"
            && e["cgroup"]["id"] == c.cgroup_id
            && e["process"]["comm"]
                .as_str()
                .is_some_and(|c| c.ends_with("trigger"))
    };
    let deadline = std::time::Instant::now() + PATIENCE;
    while daemon_count(daemon, &matches) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no credentials event for {args:?}; output {out:?}; events: {:#?}",
            daemon.events()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let events = daemon.events().into_iter().filter(|e| matches(e)).collect();
    (c, out, events)
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn setuid_that_changes_the_uid_is_a_credentials_event() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let (c, out, events) = id_change(
        &daemon,
        &["/bin/trigger", "setuid-to", "1000"],
        &["CAP_SETUID"],
    );
    assert!(out.contains("setuid-to rc=0"), "{out}");
    assert_eq!(events.len(), 1, "{events:#?}");
    let ev = &events[0];
    assert_eq!(ev["cause"], "setuid", "{ev:#}");
    assert_eq!(ev["credentials"]["old"]["uid"], 0, "{ev:#}");
    assert_eq!(ev["credentials"]["old"]["euid"], 0, "{ev:#}");
    assert_eq!(ev["credentials"]["new"]["uid"], 1000, "{ev:#}");
    assert_eq!(ev["credentials"]["new"]["euid"], 1000, "{ev:#}");
    assert_eq!(check(ev)["name"], "CAP_SETUID", "{ev:#}");
    assert_eq!(check(ev)["verdict"], "allowed", "{ev:#}");
    assert_eq!(ev["exec"], Value::Null, "{ev:#}");
    assert_eq!(ev["container"]["id"], short_id(&c.id), "{ev:#}");
    assert_eq!(ev["k8s"]["pod"], TEST_POD, "{ev:#}");
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn refused_setuid_is_a_credentials_event_with_the_denied_check() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    // Root without CAP_SETUID asks for uid 1000: the check refuses, the call fails.
    let (_c, out, events) = id_change(&daemon, &["/bin/trigger", "setuid-to", "1000"], &[]);
    assert!(out.contains("setuid-to rc=-1 errno=1"), "{out}");
    let ev = &events[0];
    assert_eq!(ev["cause"], "setuid", "{ev:#}");
    assert_eq!(ev["credentials"]["new"]["uid"], 1000, "{ev:#}");
    assert_eq!(check(ev)["verdict"], "denied", "{ev:#}");
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn setresuid_keeps_what_minus_one_keeps_and_no_change_is_no_event() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    // setuid(0) by root changes nothing: a plain capability check, no credentials event.
    let same = Container::create(&ContainerSpec {
        args: &["/bin/trigger", "setuid-loop", "5"],
        capabilities: &["CAP_SETUID"],
        ..Default::default()
    })
    .unwrap();
    let out = same.run_to_completion().unwrap();
    assert!(out.contains("calls=5 ok=5"), "{out}");
    // Then an euid change; once its event is out, one from the first container would be.
    let (_c, out, events) = id_change(
        &daemon,
        &["/bin/trigger", "setresuid", "-1", "1000", "-1"],
        &["CAP_SETUID"],
    );
    assert!(out.contains("setresuid rc=0"), "{out}");
    let ev = &events[0];
    assert_eq!(ev["cause"], "setresuid", "{ev:#}");
    assert_eq!(ev["credentials"]["new"]["uid"], 0, "{ev:#}");
    assert_eq!(ev["credentials"]["new"]["euid"], 1000, "{ev:#}");
    let unchanged: Vec<Value> = daemon
        .events()
        .into_iter()
        // runc's init sets the container's capabilities (a capset event of its own).
        .filter(|e| {
            e["kind"] == "credentials"
                && e["cgroup"]["id"] == same.cgroup_id
                && e["process"]["comm"] == "trigger"
        })
        .collect();
    assert!(
        unchanged.is_empty(),
        "setuid(0) by root reported as a change: {unchanged:#?}"
    );
    assert!(
        daemon.events().iter().any(|e| e["kind"] == "capability"
            && e["cgroup"]["id"] == same.cgroup_id
            && e["process"]["comm"] == "trigger"
            && check(e)["name"] == "CAP_SETUID"),
        "the unchanged setuid(0) is still a capability event"
    );
}

#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn setgid_is_a_credentials_event_permitted_or_refused() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let (_c, out, events) = id_change(
        &daemon,
        &["/bin/trigger", "setgid-to", "50"],
        &["CAP_SETGID"],
    );
    assert!(out.contains("setgid-to rc=0"), "{out}");
    let ev = &events[0];
    assert_eq!(ev["cause"], "setgid", "{ev:#}");
    assert_eq!(ev["credentials"]["old"]["gid"], 0, "{ev:#}");
    assert_eq!(ev["credentials"]["new"]["gid"], 50, "{ev:#}");
    assert_eq!(ev["credentials"]["new"]["egid"], 50, "{ev:#}");
    assert_eq!(ev["credentials"]["new"]["uid"], 0, "uids kept: {ev:#}");
    assert_eq!(check(ev)["name"], "CAP_SETGID", "{ev:#}");
    assert_eq!(check(ev)["verdict"], "allowed", "{ev:#}");
    // Without CAP_SETGID the check refuses and the call fails.
    let (_c, out, events) = id_change(&daemon, &["/bin/trigger", "setgid-to", "50"], &[]);
    assert!(out.contains("setgid-to rc=-1 errno=1"), "{out}");
    assert_eq!(check(&events[0])["verdict"], "denied", "{:#}", events[0]);
    assert_eq!(events[0]["cause"], "setgid", "{:#}", events[0]);
}

/// The rest of the identity row: setgroups, setfsuid and capset at their checks (allowed
/// and refused), and execs of set-group-id files and of files with file capabilities.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn groups_fsuid_capset_and_privileged_execs_are_credentials_events() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("a list of capabilities: {v}"))
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect()
    };

    // setgroups: CAP_SETGID decides; the groups asked for are reported.
    let (c, out, events) = id_change(
        &daemon,
        &["/bin/trigger", "setgroups", "5", "7"],
        &["CAP_SETGID"],
    );
    assert!(out.contains("setgroups rc=0"), "{out}");
    let ev = &events[0];
    assert_eq!(ev["cause"], "setgroups", "{ev:#}");
    assert_eq!(
        ev["credentials"]["new"]["groups"],
        serde_json::json!([5, 7]),
        "{ev:#}"
    );
    assert_eq!(
        ev["credentials"]["old"]["groups"],
        serde_json::json!([]),
        "{ev:#}"
    );
    // runc's init sets the groups the process already has (none): no change, no event.
    let setgroups = daemon
        .events()
        .into_iter()
        .filter(|e| e["cgroup"]["id"] == c.cgroup_id && e["cause"] == "setgroups")
        .count();
    assert_eq!(setgroups, 1, "only the trigger's setgroups is a change");
    assert_eq!(check(ev)["name"], "CAP_SETGID", "{ev:#}");
    assert_eq!(check(ev)["verdict"], "allowed", "{ev:#}");
    let (_c, out, events) = id_change(&daemon, &["/bin/trigger", "setgroups", "5"], &[]);
    assert!(out.contains("setgroups rc=-1 errno=1"), "{out}");
    assert_eq!(events[0]["cause"], "setgroups", "{:#}", events[0]);
    assert_eq!(check(&events[0])["verdict"], "denied", "{:#}", events[0]);

    // setfsuid to an id the caller does not hold: CAP_SETUID decides.
    let (_c, out, events) = id_change(
        &daemon,
        &["/bin/trigger", "setfsuid", "1234"],
        &["CAP_SETUID"],
    );
    assert!(out.contains("setfsuid before=0 now=1234"), "{out}");
    let ev = &events[0];
    assert_eq!(ev["cause"], "setfsuid", "{ev:#}");
    assert_eq!(ev["credentials"]["new"]["fsuid"], 1234, "{ev:#}");
    assert_eq!(ev["credentials"]["new"]["uid"], 0, "{ev:#}");
    assert_eq!(check(ev)["verdict"], "allowed", "{ev:#}");
    let (_c, out, events) = id_change(&daemon, &["/bin/trigger", "setfsuid", "1234"], &[]);
    assert!(out.contains("setfsuid before=0 now=0"), "refused: {out}");
    assert_eq!(check(&events[0])["verdict"], "denied", "{:#}", events[0]);

    // capset dropping CAP_NET_RAW (13): the sets before and after. Seen either at the
    // CAP_SETPCAP check the kernel makes on every call (`capability`, no `result`: the
    // container lacks CAP_SETPCAP, yet the call succeeds, as the check only decides
    // whether the inheritable set may grow), or, where fexit/security_capset attaches, at
    // its return (`result`, no check).
    let (_c, out, events) = id_change(
        &daemon,
        &["/bin/trigger", "capset-drop", "13"],
        &["CAP_NET_RAW", "CAP_CHOWN"],
    );
    assert!(out.contains("capset-drop rc=0"), "{out}");
    let at_return = daemon.metrics().unwrap().value(
        "privmon_hook_info",
        &[("hook", "operations/capset"), ("attach", "fexit")],
    ) == Some(1.0);
    assert!(
        at_return || !expect_trampolines(),
        "the kernel matrix's kernels load fexit/security_capset"
    );
    let ev = &events[0];
    assert_eq!(ev["cause"], "capset", "{ev:#}");
    if at_return {
        assert_eq!(ev["result"], 0, "{ev:#}");
        assert_eq!(ev["capability"], Value::Null, "{ev:#}");
    } else {
        assert_eq!(check(ev)["name"], "CAP_SETPCAP", "{ev:#}");
        assert_eq!(check(ev)["verdict"], "denied", "{ev:#}");
        assert_eq!(ev["result"], Value::Null, "{ev:#}");
    }
    let (old, new) = (
        &ev["credentials"]["old"]["capabilities"],
        &ev["credentials"]["new"]["capabilities"],
    );
    assert_eq!(
        names(&old["permitted"]),
        ["CAP_CHOWN", "CAP_NET_RAW"],
        "{ev:#}"
    );
    assert_eq!(
        names(&old["effective"]),
        ["CAP_CHOWN", "CAP_NET_RAW"],
        "{ev:#}"
    );
    assert_eq!(names(&new["permitted"]), ["CAP_CHOWN"], "{ev:#}");
    assert_eq!(names(&new["effective"]), ["CAP_CHOWN"], "{ev:#}");
    assert_eq!(names(&new["inheritable"]), Vec::<String>::new(), "{ev:#}");
    // Refused: CAP_NET_RAW into the inheritable set, neither permitted nor allowed by
    // CAP_SETPCAP.
    let (_c, out, events) = id_change(
        &daemon,
        &["/bin/trigger", "capset-inherit", "13"],
        &["CAP_CHOWN"],
    );
    assert!(out.contains("capset-inherit rc=-1 errno=1"), "{out}");
    let ev = &events[0];
    assert_eq!(ev["cause"], "capset", "{ev:#}");
    assert_eq!(
        names(&ev["credentials"]["new"]["capabilities"]["inheritable"]),
        ["CAP_NET_RAW"],
        "{ev:#}"
    );
    if at_return {
        assert_eq!(ev["result"], -1, "{ev:#}");
    } else {
        assert_eq!(check(ev)["verdict"], "denied", "{ev:#}");
    }

    // uid 1000 runs a set-group-id file (group 42) from a shell.
    let (_c, out, events) = id_change_in(
        &daemon,
        &ContainerSpec {
            args: &["/bin/sh", "-c", "/bin/sgid-trigger ids"],
            uid: Some(1000),
            setgid_trigger: true,
            ..Default::default()
        },
    );
    assert!(
        out.contains("ids uid=1000 euid=1000 gid=1000 egid=42"),
        "{out}"
    );
    let ev = &events[0];
    assert_eq!(ev["cause"], "exec", "{ev:#}");
    assert_eq!(ev["credentials"]["new"]["gid"], 1000, "{ev:#}");
    assert_eq!(ev["credentials"]["new"]["egid"], 42, "{ev:#}");
    assert_eq!(ev["exec"]["filename"], "/bin/sgid-trigger", "{ev:#}");

    // uid 1000 runs a file with cap_net_raw,cap_sys_ptrace+ep (13, 19): it gains them.
    let (c, out, events) = id_change_in(
        &daemon,
        &ContainerSpec {
            args: &["/bin/sh", "-c", "/bin/fcap-trigger ids"],
            uid: Some(1000),
            capabilities: &["CAP_NET_RAW", "CAP_SYS_PTRACE"],
            file_caps: &[13, 19],
            ..Default::default()
        },
    );
    assert!(out.contains("ids uid=1000 euid=1000"), "{out}");
    let ev = &events[0];
    assert_eq!(ev["cause"], "exec", "{ev:#}");
    assert_eq!(ev["exec"]["filename"], "/bin/fcap-trigger", "{ev:#}");
    let (old, new) = (
        &ev["credentials"]["old"]["capabilities"],
        &ev["credentials"]["new"]["capabilities"],
    );
    assert_eq!(names(&old["permitted"]), Vec::<String>::new(), "{ev:#}");
    assert_eq!(
        names(&new["permitted"]),
        ["CAP_NET_RAW", "CAP_SYS_PTRACE"],
        "{ev:#}"
    );
    assert_eq!(
        names(&new["effective"]),
        ["CAP_NET_RAW", "CAP_SYS_PTRACE"],
        "{ev:#}"
    );
    daemon
        .wait_for_event(|e| {
            e["kind"] == "alert"
                && e["rule"] == "capabilities_through_file_capabilities"
                && e["event"]["cgroup"]["id"] == c.cgroup_id
        })
        .expect("the capabilities_through_file_capabilities alert");
}

/// Where BPF trampolines load (the QEMU kernels of the matrix; not this project's 6.18
/// VM, which refuses fentry), `auto` covers the processes group at zero tax: fentry on the
/// ptrace LSM hooks sees a same-user ptrace attach, which makes no capability check.
/// Elsewhere the group reports its gap and the log says why.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn ptrace_without_a_check_is_seen_at_its_lsm_hook_where_fentry_loads() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let m = daemon.metrics().unwrap();
    let attach = |a: &str| {
        m.value(
            "privmon_hook_info",
            &[("hook", "operations/processes"), ("attach", a)],
        ) == Some(1.0)
    };
    let uncovered = m.value("privmon_operations_uncovered", &[("group", "processes")]);
    if !attach("capability_check+lsm_hook") {
        assert!(
            !expect_trampolines(),
            "the kernel matrix's kernels load fentry: {:#?}",
            daemon.logs()
        );
        assert!(attach("capability_check"));
        assert_eq!(
            uncovered,
            Some(3.0),
            "ptrace, process_vm_readv, process_vm_writev"
        );
        assert!(
            daemon
                .logs()
                .iter()
                .any(|l| l.contains("LSM-hook source not attached") && l.contains("processes")),
            "the start-up log says why"
        );
        return;
    }
    assert_eq!(uncovered, Some(0.0));
    let (_c, out, evs) = operations(
        &daemon,
        &["/bin/trigger", "ptrace-child"],
        &[],
        "syscall",
        "ptrace",
        1,
    );
    assert!(out.contains("ptrace-child rc=0"), "{out}");
    assert_eq!(evs.len(), 1, "one attach, one event: {evs:#?}");
    let ev = &evs[0];
    assert_eq!(ev["source"], "lsm_hook", "{ev:#}");
    assert_eq!(ev["group"], "processes", "{ev:#}");
    assert_eq!(ev["capability"], Value::Null, "{ev:#}");
    assert_eq!(ev["syscall"]["result"], Value::Null, "{ev:#}");
    assert_eq!(
        ev["syscall"]["args"]["request"],
        libc::PTRACE_ATTACH,
        "{ev:#}"
    );
    assert_eq!(
        short_id(
            ev["syscall"]["args"]["target_container"]
                .as_str()
                .unwrap_or_default()
        ),
        ev["container"]["id"],
        "{ev:#}"
    );
}

/// Operations that make no capability check are seen only by their group's fallback
/// syscall tracepoints. On `auto` (the default) the daemon says which groups can miss
/// what; with a group `on` its operations are events with the syscall's result.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn groups_report_their_coverage_and_fallbacks_see_operations_without_checks() {
    require_root();
    let uncovered = |d: &Daemon, group: &str| {
        d.metrics()
            .unwrap()
            .value("privmon_operations_uncovered", &[("group", group)])
    };
    let attach = |d: &Daemon, group: &str| {
        let hook = format!("operations/{group}");
        let m = d.metrics().unwrap();
        [
            "capability_check",
            "capability_check+syscall_tracepoint",
            "off",
        ]
        .into_iter()
        .find(|a| m.value("privmon_hook_info", &[("hook", &hook), ("attach", a)]) == Some(1.0))
    };
    {
        let daemon = Daemon::start(&[]).unwrap();
        assert_eq!(uncovered(&daemon, "mounts"), Some(0.0));
        assert_eq!(
            uncovered(&daemon, "namespaces"),
            Some(3.0),
            "unshare, clone, clone3"
        );
        assert_eq!(
            uncovered(&daemon, "files"),
            Some(3.0),
            "open, openat, openat2"
        );
        assert_eq!(attach(&daemon, "files"), Some("capability_check"));
        assert!(
            daemon
                .logs()
                .iter()
                .any(|l| l.contains("operations group partly covered") && l.contains("namespaces")),
            "the start-up log names the gaps"
        );
    }

    let daemon = Daemon::start(&[
        "--operations",
        "namespaces=on,processes=on,files=on",
        "--operations",
        "mounts=off",
    ])
    .unwrap();
    for group in ["namespaces", "processes", "files"] {
        assert_eq!(uncovered(&daemon, group), Some(0.0), "{group}");
        assert_eq!(
            attach(&daemon, group),
            Some("capability_check+syscall_tracepoint"),
            "{group}"
        );
    }
    assert_eq!(attach(&daemon, "mounts"), Some("off"));
    assert_eq!(
        uncovered(&daemon, "mounts"),
        Some(8.0),
        "every mount syscall"
    );
    assert_eq!(uncovered(&daemon, "kernel"), Some(3.0), "kernel stays auto");

    // A user namespace alone: unshare(CLONE_NEWUSER) makes no check.
    let (_c, out, evs) = operations(
        &daemon,
        &["/bin/trigger", "userns-only"],
        &[],
        "namespace",
        "unshare",
        1,
    );
    assert!(out.contains("userns-only rc=0"), "{out}");
    let ev = &evs[0];
    assert_eq!(ev["source"], "syscall_tracepoint", "{ev:#}");
    assert_eq!(ev["capability"], Value::Null, "{ev:#}");
    assert_eq!(ev["syscall"]["result"], 0, "{ev:#}");
    assert_eq!(
        ev["namespace"]["types"],
        serde_json::json!(["user"]),
        "{ev:#}"
    );
    assert_eq!(ev["k8s"]["pod"], TEST_POD, "{ev:#}");

    // clone3: the flags are read from its clone_args in the kernel; the child's own return
    // from clone3 (0) is not a second event. Copying the memory of the new process makes the
    // memory accounting's CAP_SYS_ADMIN probe: when that check is seen, the event is the
    // check's.
    let (_c, out, evs) = operations(
        &daemon,
        &["/bin/trigger", "clone3-userns"],
        &[],
        "namespace",
        "clone3",
        1,
    );
    assert!(out.contains("clone3-userns rc=0"), "{out}");
    let ev = &evs[0];
    assert_eq!(ev["namespace"]["operation"], "clone", "{ev:#}");
    assert_eq!(
        ev["namespace"]["types"],
        serde_json::json!(["user"]),
        "{ev:#}"
    );
    if ev["source"] == "syscall_tracepoint" {
        assert!(
            ev["syscall"]["result"].as_i64().unwrap() > 0,
            "the child's pid: {ev:#}"
        );
    } else {
        assert_eq!(check(ev)["name"], "CAP_SYS_ADMIN", "{ev:#}");
    }

    // unshare(NEWUSER|NEWNS) makes a check (CAP_SYS_ADMIN over the new mount namespace):
    // reported once, from the check, although the fallback saw it return too.
    let (checked, out, evs) = operations(
        &daemon,
        &["/bin/trigger", "userns"],
        &[],
        "namespace",
        "unshare",
        1,
    );
    assert!(out.contains("userns rc=0"), "{out}");
    assert_eq!(evs[0]["source"], "capability_check", "{:#}", evs[0]);
    assert_eq!(check(&evs[0])["scope"], "user_namespace", "{:#}", evs[0]);

    // ptrace of a same-user child with the same capabilities: no check either.
    let (child_c, out, evs) = operations(
        &daemon,
        &["/bin/trigger", "ptrace-child"],
        &[],
        "syscall",
        "ptrace",
        1,
    );
    assert!(out.contains("ptrace-child rc=0"), "{out}");
    let ev = &evs[0];
    assert_eq!(ev["group"], "processes", "{ev:#}");
    assert_eq!(
        ev["syscall"]["args"]["request"],
        libc::PTRACE_ATTACH,
        "{ev:#}"
    );
    assert_eq!(ev["syscall"]["result"], 0, "{ev:#}");
    // The target (pid 2 in the container's pid namespace) is in the same container.
    let target = ev["syscall"]["args"]["pid"].as_i64().unwrap();
    assert!(
        target > 1,
        "the child, in the container's pid namespace: {ev:#}"
    );
    assert_eq!(
        short_id(
            ev["syscall"]["args"]["target_container"]
                .as_str()
                .unwrap_or_default()
        ),
        ev["container"]["id"],
        "{ev:#}"
    );
    assert_eq!(
        ev["syscall"]["args"]["target_cgroup"],
        child_c.cgroup_path.as_str(),
        "{ev:#}"
    );
    let alert = daemon
        .wait_for_event(|e| {
            e["kind"] == "alert"
                && e["rule"] == "ptrace_other_process"
                && e["event"]["process"]["pid"] == ev["process"]["pid"]
        })
        .expect("ptrace_other_process alert");
    assert!(
        alert["summary"]
            .as_str()
            .unwrap()
            .ends_with("(/bin/trigger as root, succeeded)"),
        "{alert:#}"
    );

    // Root opens the host's core_pattern for writing: no capability needed.
    let (_c, out, evs) = operations(
        &daemon,
        &["/bin/trigger", "core-pattern"],
        &[],
        "syscall",
        "openat",
        1,
    );
    let ev = &evs[0];
    let fd = ev["syscall"]["result"].as_i64().unwrap();
    assert!(fd >= 3, "{ev:#}");
    assert!(out.contains(&format!("core-pattern rc={fd} ")), "{out}");
    assert_eq!(ev["group"], "files", "{ev:#}");
    assert_eq!(
        ev["syscall"]["args"]["path"], "/proc/sys/kernel/core_pattern",
        "{ev:#}"
    );
    assert_eq!(
        ev["syscall"]["args"]["file"], "/proc/sys/kernel/core_pattern",
        "{ev:#}"
    );
    assert_eq!(ev["syscall"]["args"]["flags"], libc::O_WRONLY, "{ev:#}");
    let alert = daemon
        .wait_for_event(|e| {
            e["kind"] == "alert"
                && e["rule"] == "host_kernel_file_write"
                && e["event"]["process"]["pid"] == ev["process"]["pid"]
        })
        .expect("host_kernel_file_write alert");
    assert_eq!(alert["severity"], "critical", "{alert:#}");

    // Refused: a non-root user may not open it (EACCES), and that is reported too.
    let spec = ContainerSpec {
        args: &["/bin/trigger", "core-pattern"],
        uid: Some(1000),
        ..Default::default()
    };
    let (_c, out, evs) = operations_in(&daemon, &spec, "syscall", "openat", 1);
    assert!(
        out.contains(&format!("core-pattern rc=-1 errno={}", libc::EACCES)),
        "{out}"
    );
    assert_eq!(evs[0]["syscall"]["result"], -libc::EACCES, "{:#}", evs[0]);
    assert_eq!(
        evs[0]["syscall"]["args"]["file"],
        Value::Null,
        "{:#}",
        evs[0]
    );

    // mounts off: a mount is a plain capability check, no syscall event.
    let c = Container::create(&ContainerSpec {
        args: &["/bin/trigger", "mount"],
        capabilities: &["CAP_SYS_ADMIN"],
        ..Default::default()
    })
    .unwrap();
    let out = c.run_to_completion().unwrap();
    assert!(out.contains("mount rc=0"), "{out}");
    daemon
        .wait_for_event(|e| {
            e["kind"] == "capability"
                && e["cgroup"]["id"] == c.cgroup_id
                && e["syscall"]["name"] == "mount"
        })
        .expect("the mount's capability check");

    // Everything above has been handled by now: no second event for the checked unshare,
    // no mount event.
    let all = daemon.events();
    let from = |cg: u64, kind: &str| {
        all.iter()
            .filter(|e| {
                e["cgroup"]["id"] == cg && e["kind"] == kind && e["process"]["comm"] == "trigger"
            })
            .count()
    };
    assert_eq!(from(checked.cgroup_id, "namespace"), 1, "{all:#?}");
    assert_eq!(from(c.cgroup_id, "syscall"), 0, "{all:#?}");
}

/// A program run from a memfd (fileless execution) is seen at its exec, with no hook on any
/// syscall: a `misc` event and the `fileless_execution` alert.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn a_program_run_from_a_memfd_is_reported_at_its_exec() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let c = Container::create(&ContainerSpec {
        args: &["/bin/trigger", "memfd-exec"],
        ..Default::default()
    })
    .unwrap();
    let out = c.run_to_completion().unwrap();
    assert!(out.contains("ids uid=0 euid=0"), "the copy ran: {out}");
    let ev = daemon
        .wait_for_event(|e| {
            e["kind"] == "syscall"
                && e["cgroup"]["id"] == c.cgroup_id
                && e["syscall"]["args"]["memfd"] == true
                && e["process"]["args"] == serde_json::json!(["trigger", "ids"])
        })
        .unwrap_or_else(|| panic!("no memfd exec event: {:#?}", daemon.events()));
    assert_eq!(ev["group"], "misc", "{ev:#}");
    assert_eq!(ev["source"], "exec_tracepoint", "{ev:#}");
    // An exec by file descriptor takes the file's name, the memfd's, on the 6.x kernels
    // here; Linux 5.x (Debian's 5.10) names it after the descriptor, the last part of
    // /dev/fd/N.
    let fd_name = ev["syscall"]["args"]["filename"]
        .as_str()
        .and_then(|f| f.rsplit('/').next())
        .unwrap_or_default()
        .to_string();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let older = release.starts_with("5.");
    if older {
        assert_eq!(ev["process"]["comm"], fd_name.as_str(), "{ev:#}");
    } else {
        assert_eq!(ev["process"]["comm"], "memfd:payload", "{ev:#}");
    }
    assert_eq!(ev["capability"], Value::Null, "{ev:#}");
    assert_eq!(ev["syscall"]["result"], 0, "{ev:#}");
    // glibc's fexecve is execveat(fd, "", AT_EMPTY_PATH): the kernel names it /dev/fd/N.
    assert_eq!(ev["syscall"]["name"], "execveat", "{ev:#}");
    assert!(
        ev["syscall"]["args"]["filename"]
            .as_str()
            .is_some_and(|f| f.starts_with("/dev/fd/")),
        "{ev:#}"
    );
    assert_eq!(ev["container"]["id"], short_id(&c.id), "{ev:#}");
    let alert = daemon
        .wait_for_event(|e| {
            e["kind"] == "alert"
                && e["rule"] == "fileless_execution"
                && e["event"]["process"]["pid"] == ev["process"]["pid"]
        })
        .expect("fileless_execution alert");
    assert_eq!(alert["severity"], "high", "{alert:#}");
}
