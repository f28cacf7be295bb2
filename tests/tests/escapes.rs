//! Escape procedures of the public catalogues (Atomic Red Team T1611, Falco's
//! event-generator), each made in a real runc container and caught with privmon's
//! defaults. Root only: run with `cargo xtask test`.

use privmon_tests::*;
use serde_json::Value;

/// The `syscall` lines of container `c` that `cgroup/sysctl` saw, and their alerts.
fn sysctl_lines(daemon: &Daemon, c: Container) -> (Vec<Value>, Vec<Value>) {
    let lines = daemon.lines_of(c);
    let writes = lines
        .iter()
        .filter(|e| e["kind"] == "syscall" && e["source"] == "cgroup_sysctl")
        .cloned()
        .collect();
    let alerts = lines
        .iter()
        .filter(|e| e["kind"] == "alert" && e["event"]["source"] == "cgroup_sysctl")
        .cloned()
        .collect();
    (writes, alerts)
}

fn rewrite(name: &str, capabilities: &[&str]) -> Container {
    let c = Container::create(&ContainerSpec {
        args: &["/bin/trigger", "sysctl-rewrite", name],
        capabilities,
        ..Default::default()
    })
    .unwrap();
    let out = c.run_to_completion().unwrap();
    assert!(out.contains("sysctl-rewrite rc=0"), "{out}");
    c
}

/// T1611: a privileged container points `kernel.core_pattern` at a program of its own,
/// which the kernel then runs as root on the host at the next crash. The procedure's
/// write is what is caught, whatever it writes (the test writes the current value back).
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn a_core_pattern_write_is_one_line_with_its_value_and_a_critical_alert() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let m = daemon.metrics().unwrap();
    assert_eq!(
        m.value(
            "privmon_hook_info",
            &[("hook", "operations/sysctl"), ("attach", "cgroup_sysctl")]
        ),
        Some(1.0),
        "cgroup/sysctl is not attached: {:?}",
        daemon.logs()
    );
    let host = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let c = rewrite("kernel/core_pattern", &[]);
    let (writes, alerts) = sysctl_lines(&daemon, c);
    assert_eq!(writes.len(), 1, "{writes:#?}");
    let w = &writes[0];
    assert_eq!(w["group"], "files", "{w:#}");
    assert_eq!(w["syscall"]["name"], "write", "{w:#}");
    assert_eq!(
        w["syscall"]["args"]["path"], "/proc/sys/kernel/core_pattern",
        "{w:#}"
    );
    assert_eq!(
        w["syscall"]["args"]["sysctl"], "kernel.core_pattern",
        "{w:#}"
    );
    assert_eq!(w["syscall"]["args"]["value"], host.as_str(), "{w:#}");
    assert_eq!(w["process"]["comm"], "trigger", "{w:#}");
    assert_eq!(w["process"]["exe"], "/bin/trigger", "{w:#}");
    assert_eq!(w["process"]["euid"], 0, "{w:#}");
    let rules: Vec<&str> = alerts.iter().filter_map(|a| a["rule"].as_str()).collect();
    assert_eq!(rules, ["host_kernel_sysctl_write"], "{alerts:#?}");
    assert_eq!(alerts[0]["severity"], "critical", "{:#}", alerts[0]);
    assert!(
        alerts[0]["summary"]
            .as_str()
            .is_some_and(|s| s.contains("wrote kernel.core_pattern = ")),
        "{:#}",
        alerts[0]
    );
}

/// A host-wide setting (address-space randomisation) is a high alert; the container's
/// own network namespace's settings are written, not alerted on.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn host_settings_alert_and_the_containers_own_network_settings_do_not() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let c = rewrite("kernel/randomize_va_space", &[]);
    let (writes, alerts) = sysctl_lines(&daemon, c);
    assert_eq!(writes.len(), 1, "{writes:#?}");
    let rules: Vec<&str> = alerts.iter().filter_map(|a| a["rule"].as_str()).collect();
    assert_eq!(rules, ["host_sysctl_write"], "{alerts:#?}");
    assert_eq!(alerts[0]["severity"], "high", "{:#}", alerts[0]);

    // The test container has a network namespace of its own; its settings need
    // CAP_NET_ADMIN there.
    let c = rewrite("net/ipv4/ip_forward", &["CAP_NET_ADMIN"]);
    let (writes, alerts) = sysctl_lines(&daemon, c);
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert_eq!(
        writes[0]["syscall"]["args"]["sysctl"], "net.ipv4.ip_forward",
        "{:#}",
        writes[0]
    );
    assert!(alerts.is_empty(), "{alerts:#?}");
}

/// T1611 (Atomic Red Team "Mount host filesystem to escape privileged Docker container"):
/// with the host's root bind-mounted, `chroot` into it. The event names the host path the
/// new root is; a chroot elsewhere does not alert.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn chroot_into_a_bind_mount_of_the_hosts_root_is_a_critical_alert() {
    require_root();
    let daemon = Daemon::start(&[]).unwrap();
    let run = |path: &str| {
        let c = Container::create(&ContainerSpec {
            args: &["/bin/trigger", "chroot-to", path],
            capabilities: &["CAP_SYS_CHROOT"],
            bind_mounts: &[("/", "/host")],
            ..Default::default()
        })
        .unwrap();
        let out = c.run_to_completion().unwrap();
        assert!(out.contains("chroot-to rc=0"), "{out}");
        let lines = daemon.lines_of(c);
        let chroot = lines
            .iter()
            .find(|e| e["kind"] == "syscall" && e["syscall"]["name"] == "chroot")
            .unwrap_or_else(|| panic!("no chroot line: {lines:#?}"))
            .clone();
        let alerts: Vec<String> = lines
            .iter()
            .filter(|e| e["kind"] == "alert" && e["event"]["syscall"]["name"] == "chroot")
            .filter_map(|e| e["rule"].as_str().map(str::to_string))
            .collect();
        (chroot, alerts)
    };
    let (ev, alerts) = run("/host");
    assert_eq!(ev["syscall"]["args"]["path"], "/host", "{ev:#}");
    assert_eq!(ev["syscall"]["args"]["host_path"], "/", "{ev:#}");
    assert_eq!(alerts, ["chroot_into_host_root"]);
    // Into the host's /etc through the same mount: named, no escape alert.
    let (ev, alerts) = run("/host/etc");
    assert_eq!(ev["syscall"]["args"]["host_path"], "/etc", "{ev:#}");
    assert!(alerts.is_empty(), "{alerts:?}");
    // The container's own directory: no host path.
    let (ev, alerts) = run("/tmp");
    assert_eq!(ev["syscall"]["args"].get("host_path"), None, "{ev:#}");
    assert!(alerts.is_empty(), "{alerts:?}");
}

/// T1611/T1098.004: a container that bind-mounts the host's /etc writes its passwd (or
/// cron, sudoers, .ssh). A root write makes no capability check: with `host_files` set,
/// fanotify sees the host's inode written, whatever path the container used. The test
/// watches a directory of its own standing in for /etc (the host's files stay as they are).
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn a_write_to_a_watched_host_file_through_a_bind_mount_is_a_critical_alert() {
    require_root();
    let etc = std::env::temp_dir().join(unique("privmon-host-etc-"));
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    let daemon = Daemon::start(&["--host-file", etc.to_str().unwrap()]).unwrap();
    let m = daemon.metrics().unwrap();
    assert_eq!(
        m.value(
            "privmon_hook_info",
            &[("hook", "operations/host_files"), ("attach", "fanotify")]
        ),
        Some(1.0),
        "{:?}",
        daemon.logs()
    );
    // The host's own write comes first: not reported under watch: containers (handled
    // before the container's lines, which come after it in order).
    std::fs::write(etc.join("passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    let c = Container::create(&ContainerSpec {
        args: &[
            "/bin/trigger",
            "append",
            "/host-etc/passwd",
            "evil::0:0::/:/bin/sh\n",
        ],
        rw_bind_mounts: &[(etc.to_str().unwrap(), "/host-etc")],
        ..Default::default()
    })
    .unwrap();
    let out = c.run_to_completion().unwrap();
    assert!(out.contains("append rc=0"), "{out}");
    let lines = daemon.lines_of(c);
    let host_path = etc.join("passwd").to_string_lossy().into_owned();
    let writes: Vec<&Value> = lines
        .iter()
        .filter(|e| e["kind"] == "syscall" && e["source"] == "fanotify")
        .collect();
    assert_eq!(writes.len(), 1, "{lines:#?}");
    let w = writes[0];
    assert_eq!(
        w["syscall"]["args"]["host_path"],
        host_path.as_str(),
        "{w:#}"
    );
    assert_eq!(w["process"]["exe"], "/bin/trigger", "{w:#}");
    assert_eq!(w["process"]["euid"], 0, "{w:#}");
    let alert = lines
        .iter()
        .find(|e| e["kind"] == "alert" && e["rule"] == "host_file_write")
        .unwrap_or_else(|| panic!("no host_file_write alert: {lines:#?}"));
    assert_eq!(alert["severity"], "critical", "{alert:#}");
    let host_writes = daemon
        .events()
        .into_iter()
        .filter(|e| e["source"] == "fanotify" && e["container"].is_null())
        .count();
    assert_eq!(host_writes, 0);
    std::fs::remove_dir_all(&etc).unwrap();
}
