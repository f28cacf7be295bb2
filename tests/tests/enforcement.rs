//! Enforcement (docs/enforcement.md) in real runc containers: a rule's `kill` at the
//! capability check, a `deny` of a sysctl write, a dry run, protect mode from a learned
//! baseline, the kill-loop guard and the API's off switch. Root only: run with
//! `cargo xtask test`. Deny of a capability's use needs BPF LSM, which this machine's
//! kernel refuses: the kernel matrix proves it (`vm_only_` tests), and here the daemon must
//! refuse such a rule at start-up.

use std::{os::unix::fs::MetadataExt, path::PathBuf, time::Duration};

use privmon_tests::*;
use serde_json::Value;

/// A root-owned file in a fresh host directory, which containers get at /data (rw).
struct Shared {
    dir: PathBuf,
}

impl Shared {
    fn new() -> Shared {
        let dir = std::env::temp_dir().join(unique("privmon-enforce-"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("f"), "x").unwrap();
        std::os::unix::fs::chown(dir.join("f"), Some(0), Some(0)).unwrap();
        Shared { dir }
    }

    fn owner(&self) -> u32 {
        std::fs::metadata(self.dir.join("f")).unwrap().uid()
    }

    fn reset(&self) {
        std::os::unix::fs::chown(self.dir.join("f"), Some(0), Some(0)).unwrap();
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A rules file: one rule `id` with `action`, on `test` (a condition leaf) in pods named
/// `pod`.
fn action_rule(id: &str, test: &str, pod: &str, action: &str) -> tempfile_path::Path {
    tempfile_path::write(&format!(
        "rules:
  - id: {id}
    description: Test rule.
    severity: high
    condition:
      all:
        - {test}
        - {{field: k8s.pod, eq: {pod}}}
    summary: \"{{workload}} did it\"
    action: {action}
"
    ))
}

/// A rules file: one rule with `action`, on CAP_CHOWN in pods named `pod`.
fn chown_rule(action: &str, pod: &str) -> tempfile_path::Path {
    let id = format!("no_chown_in_{}", pod.replace('-', "_"));
    action_rule(&id, "{field: capability.name, eq: CAP_CHOWN}", pod, action)
}

/// A file under the temporary directory, removed when dropped.
mod tempfile_path {
    pub struct Path(pub std::path::PathBuf);

    impl Drop for Path {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    pub fn write(text: &str) -> Path {
        let p = std::env::temp_dir()
            .join(super::unique("privmon-rules-"))
            .with_extension("yaml");
        std::fs::write(&p, text).unwrap();
        Path(p)
    }
}

/// A container in pod `pod` that waits (so that it is armed once its entrypoint runs),
/// then chowns /data/f to 1234 with the trigger, then says the trigger's exit status.
fn chowner(shared: &Shared, pod: &str) -> Container {
    let source = shared.dir.to_str().unwrap().to_string();
    let mounts = [(source.as_str(), "/data")];
    Container::create(&ContainerSpec {
        args: &[
            "/bin/sh",
            "-c",
            "sleep 1; /bin/trigger chown /data/f 1234; echo status=$?",
        ],
        capabilities: &["CAP_CHOWN"],
        rw_bind_mounts: &mounts,
        pod: Some(pod),
        ..Default::default()
    })
    .unwrap()
}

/// The capability events of CAP_CHOWN of container `c`, once it is gone, and all its
/// lines.
fn chown_checks(daemon: &Daemon, c: Container) -> (Vec<Value>, Vec<Value>) {
    let lines = daemon.lines_of(c);
    let checks = lines
        .iter()
        .filter(|e| e["kind"] == "capability" && e["capability"]["name"] == "CAP_CHOWN")
        .cloned()
        .collect();
    (checks, lines)
}

/// The trigger is killed at its CAP_CHOWN check: it never prints the line it writes after
/// the call, its shell sees SIGKILL's status (128 + 9), and the call's effect happened (the
/// kernel completes the call; the signal is delivered on its way back to user space).
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn a_kill_rule_kills_at_the_check_and_the_event_says_so() {
    require_root();
    let pod = &unique("kill-pod");
    let rules = chown_rule("kill", pod);
    let daemon =
        Daemon::start(&["--enforcement", "on", "--rules", rules.0.to_str().unwrap()]).unwrap();
    let m = daemon.metrics().unwrap();
    assert_eq!(
        m.value(
            "privmon_hook_info",
            &[("hook", "enforcement/kill"), ("attach", "bpf_send_signal")]
        ),
        Some(1.0),
        "{:?}",
        daemon.logs()
    );
    let shared = Shared::new();
    let c = chowner(&shared, pod);
    let out = c.run_to_completion().unwrap();
    assert!(
        !out.contains("chown rc="),
        "the killed trigger printed: {out}"
    );
    assert!(out.contains("status=137"), "not killed by SIGKILL: {out}");
    assert_eq!(shared.owner(), 1234, "the call's effect did not happen");

    let (checks, lines) = chown_checks(&daemon, c);
    assert_eq!(checks.len(), 1, "{checks:#?}");
    let e = &checks[0];
    assert_eq!(e["enforcement"]["action"], "kill", "{e:#}");
    let policy = format!("rule:no_chown_in_{}", pod.replace('-', "_"));
    assert_eq!(e["enforcement"]["policy"], policy.as_str(), "{e:#}");
    assert_eq!(e["process"]["comm"], "trigger", "{e:#}");
    let call = e["syscall"]["name"].as_str().unwrap_or_default();
    assert!(["chown", "fchownat"].contains(&call), "{e:#}");
    let alert = daemon
        .wait_for_event(|a| a["kind"] == "alert" && a["rule"] == policy[5..])
        .expect("the rule's alert");
    assert_eq!(alert["event"]["enforcement"]["action"], "kill", "{alert:#}");
    let m = daemon.metrics().unwrap();
    assert_eq!(
        m.value(
            "privmon_enforcement_actions_total",
            &[("action", "kill"), ("capability", "CAP_CHOWN")]
        ),
        Some(1.0)
    );
    // The shell, outside the rule's capability, ran on: one kill, nothing else acted on.
    let acted: Vec<&Value> = lines
        .iter()
        .filter(|e| e["kind"] != "alert" && !e["enforcement"].is_null())
        .collect();
    assert_eq!(acted.len(), 1, "{acted:#?}");
    daemon.stop().unwrap();
}

/// `enforcement: dry-run`: the same rule writes `would_kill` and the call goes on.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn a_dry_run_writes_would_kill_and_acts_on_nothing() {
    require_root();
    let pod = &unique("dry-pod");
    let rules = chown_rule("kill", pod);
    let daemon = Daemon::start(&[
        "--enforcement",
        "dry-run",
        "--rules",
        rules.0.to_str().unwrap(),
    ])
    .unwrap();
    let shared = Shared::new();
    let c = chowner(&shared, pod);
    let out = c.run_to_completion().unwrap();
    assert!(out.contains("chown rc=0"), "{out}");
    assert!(out.contains("status=0"), "{out}");
    assert_eq!(shared.owner(), 1234);
    let (checks, _) = chown_checks(&daemon, c);
    assert_eq!(checks.len(), 1, "{checks:#?}");
    assert_eq!(
        checks[0]["enforcement"]["action"], "would_kill",
        "{:#}",
        checks[0]
    );
    daemon.stop().unwrap();
}

/// A deny rule on sysctl writes: the write fails with EPERM (cgroup/sysctl refuses it),
/// on this machine as on every kernel the program loads on.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn a_deny_rule_refuses_a_sysctl_write_with_eperm() {
    require_root();
    let pod = &unique("sysctl-pod");
    let rules = action_rule(
        "no_sysctl_writes",
        "{field: syscall.args.sysctl, exists: true}",
        pod,
        "deny",
    );
    let daemon =
        Daemon::start(&["--enforcement", "on", "--rules", rules.0.to_str().unwrap()]).unwrap();
    let c = Container::create(&ContainerSpec {
        args: &[
            "/bin/sh",
            "-c",
            "sleep 1; /bin/trigger sysctl-rewrite kernel/core_pattern",
        ],
        pod: Some(pod),
        ..Default::default()
    })
    .unwrap();
    let out = c.run_to_completion().unwrap();
    assert!(out.contains("sysctl-rewrite rc=-1 errno=1"), "{out}");
    let writes: Vec<Value> = daemon
        .lines_of(c)
        .into_iter()
        .filter(|e| e["kind"] == "syscall" && e["source"] == "cgroup_sysctl")
        .collect();
    assert_eq!(writes.len(), 1, "{writes:#?}");
    let w = &writes[0];
    assert_eq!(w["enforcement"]["action"], "deny", "{w:#}");
    assert_eq!(w["enforcement"]["policy"], "rule:no_sysctl_writes", "{w:#}");
    assert_eq!(w["syscall"]["result"], -1, "{w:#}");
    assert_eq!(
        w["syscall"]["args"]["sysctl"], "kernel.core_pattern",
        "{w:#}"
    );
    daemon.stop().unwrap();
}

/// A rule that denies a capability's use needs BPF LSM: on a kernel where it does not
/// attach, the daemon refuses to start and says why; it never turns the deny into a kill.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn a_capability_deny_without_bpf_lsm_is_refused_at_start() {
    require_root();
    let lsm = std::fs::read_to_string("/sys/kernel/security/lsm").unwrap_or_default();
    let rules = chown_rule("deny", "any-pod");
    let out = std::process::Command::new(privmon_bin())
        .args([
            "run",
            "--no-state",
            "--listen",
            "127.0.0.1:0",
            "--enforcement",
            "on",
        ])
        .args(["--rules", rules.0.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if lsm.split(',').any(|l| l.trim() == "bpf") {
        panic!("this kernel has BPF LSM ({lsm}): the test is for kernels without it");
    }
    assert!(!out.status.success(), "started: {stderr}");
    assert!(
        stderr.contains("rule `no_chown_in_any_pod` (action: deny)")
            && stderr.contains("BPF LSM `capable`"),
        "{stderr}"
    );
}

/// Protect mode: a workload learns (CAP_CHOWN unused), then a container of it that uses
/// A daemon enforcing, with the pod in protect mode after 2 s of learning.
fn protect_daemon(pod: &str, extra: &[&str]) -> Daemon {
    let mode = format!("protect:pod={pod}");
    let mut args = vec![
        "--enforcement",
        "on",
        "--workload-mode",
        &mode,
        "--baseline-learning-secs",
        "2",
    ];
    args.extend_from_slice(extra);
    Daemon::start(&args).unwrap()
}

/// CAP_CHOWN is killed at the check, by `protect`; the kill-loop guard then stops acting
/// on the workload after `enforcement_max_kills_per_minute` kills, and `POST
/// /enforcement/pause` disarms everything.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn protect_mode_kills_outside_the_learned_baseline_until_the_guard_steps_in() {
    require_root();
    let pod = &unique("protect-pod");
    let daemon = protect_daemon(pod, &["--enforcement-max-kills-per-minute", "1"]);
    // Learning: the workload's first container uses nothing but the shell.
    let learner = Container::create(&ContainerSpec {
        args: &["/bin/sh", "-c", "sleep 3"],
        capabilities: &["CAP_CHOWN"],
        pod: Some(pod),
        ..Default::default()
    })
    .unwrap();
    learner.run_to_completion().unwrap();
    drop(learner);
    std::thread::sleep(Duration::from_secs(1));
    let advice = daemon.get("/advice").unwrap();
    let shared = Shared::new();

    // Outside the baseline: killed, by protect.
    let c = chowner(&shared, pod);
    let out = c.run_to_completion().unwrap();
    assert!(
        out.contains("status=137"),
        "not killed: {out}\nadvice: {advice:?}\n{:?}",
        daemon.logs()
    );
    let (checks, _) = chown_checks(&daemon, c);
    assert_eq!(checks.len(), 1, "{checks:#?}");
    assert_eq!(
        checks[0]["enforcement"]["action"], "kill",
        "{:#}",
        checks[0]
    );
    assert_eq!(
        checks[0]["enforcement"]["policy"], "protect",
        "{:#}",
        checks[0]
    );

    // The second kill within a minute passes the guard's limit of 1: killed, and the
    // workload is suspended.
    shared.reset();
    let c = chowner(&shared, pod);
    let out = c.run_to_completion().unwrap();
    assert!(out.contains("status=137"), "{out}");
    chown_checks(&daemon, c);
    let (_, status) = daemon.get("/enforcement").unwrap();
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(
        status["suspended"].as_array().map(Vec::len),
        Some(1),
        "{status:#}"
    );
    let m = daemon.metrics().unwrap();
    assert_eq!(
        m.value("privmon_enforcement_suspended_workloads", &[]),
        Some(1.0)
    );

    // Suspended: the next one runs untouched.
    shared.reset();
    let c = chowner(&shared, pod);
    let out = c.run_to_completion().unwrap();
    assert!(
        out.contains("chown rc=0") && out.contains("status=0"),
        "{out}"
    );
    let (checks, _) = chown_checks(&daemon, c);
    assert!(
        checks.iter().all(|e| e["enforcement"].is_null()),
        "acted on while suspended: {checks:#?}"
    );

    // Resumed (the suspension lifted), then paused: nothing is armed, nothing is acted on.
    let post = |path: &str| {
        let (code, body) = http_post(&format!("http://{}{path}", daemon.address)).unwrap();
        assert_eq!(code, 200, "POST {path}: {body}");
    };
    post("/enforcement/resume");
    post("/enforcement/pause");
    std::thread::sleep(Duration::from_millis(500));
    shared.reset();
    let c = chowner(&shared, pod);
    let out = c.run_to_completion().unwrap();
    assert!(
        out.contains("chown rc=0") && out.contains("status=0"),
        "{out}"
    );
    let (_, status) = daemon.get("/enforcement").unwrap();
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["paused"], true, "{status:#}");
    assert_eq!(
        status["suspended"].as_array().map(Vec::len),
        Some(0),
        "{status:#}"
    );
    daemon.stop().unwrap();
}

/// A benign workload within its learned profile, in protect mode, runs untouched for a
/// minute: armed (everything it did not use is to be killed), yet no act of it is acted on
/// and no alert of medium or higher is raised.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn a_workload_within_its_profile_runs_untouched_through_a_minute_in_protect_mode() {
    require_root();
    let pod = &unique("soak-pod");
    let daemon = protect_daemon(pod, &[]);
    let shared = Shared::new();
    let source = shared.dir.to_str().unwrap().to_string();
    let mounts = [(source.as_str(), "/data")];
    // What the workload does: gives a file away and takes it back, opens a raw socket.
    let work = "/bin/trigger chown /data/f 1234 && /bin/trigger chown /data/f 0 && /bin/trigger raw-socket";
    let spec = |args: &'_ [&'_ str]| -> Container {
        Container::create(&ContainerSpec {
            args,
            capabilities: &["CAP_CHOWN", "CAP_NET_RAW"],
            rw_bind_mounts: &mounts,
            pod: Some(pod),
            ..Default::default()
        })
        .unwrap()
    };
    let learn = format!("{work} && sleep 3");
    let learner = spec(&["/bin/sh", "-c", &learn]);
    learner.run_to_completion().unwrap();
    daemon.lines_of(learner);
    std::thread::sleep(Duration::from_secs(2));

    let soak = format!(
        "sleep 1; end=$(($(date +%s) + 60)); n=0; while [ $(date +%s) -lt $end ]; do \
         {work} || exit 9; n=$((n+1)); sleep 0.2; done; echo soaked n=$n"
    );
    let c = spec(&["/bin/sh", "-c", &soak]);
    c.start().unwrap();
    std::thread::sleep(Duration::from_secs(5));
    let (_, status) = daemon.get("/enforcement").unwrap();
    let status: Value = serde_json::from_str(&status).unwrap();
    let armed = status["armed"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        armed.len(),
        1,
        "the soak container is not armed: {status:#}"
    );
    let kill: Vec<&str> = armed[0]["kill"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        kill.contains(&"CAP_SYS_ADMIN") && !kill.contains(&"CAP_CHOWN"),
        "{status:#}"
    );
    // Longer than `wait_stopped`'s patience.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while !c.output().contains("soaked n=") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(1));
    }
    let out = c.wait_stopped().unwrap();
    assert!(
        out.contains("soaked n="),
        "the workload did not run through: {out}"
    );
    let lines = daemon.lines_of(c);
    let acted: Vec<&Value> = lines
        .iter()
        .filter(|e| !e["enforcement"].is_null())
        .collect();
    assert!(acted.is_empty(), "{acted:#?}");
    let loud: Vec<&Value> = lines
        .iter()
        .filter(|e| {
            e["kind"] == "alert"
                && ["medium", "high", "critical"].contains(&e["severity"].as_str().unwrap_or(""))
        })
        .collect();
    assert!(loud.is_empty(), "{loud:#?}");
    daemon.stop().unwrap();
}

/// BPF LSM (the kernel matrix's `lsm=...,bpf` boots): a rule that denies CAP_SYS_ADMIN
/// makes a container's mount fail with EPERM, and its event says `deny`; the same workload
/// under `enforcement: dry-run` mounts, and its event says `would_deny`.
#[test]
#[ignore = "needs BPF LSM (lsm=...,bpf): run by cargo xtask vmtest"]
fn vm_only_a_deny_rule_refuses_a_mount_and_a_dry_run_lets_it_through() {
    require_root();
    for (switch, rc, action) in [
        ("on", "mount rc=-1 errno=1", "deny"),
        ("dry-run", "mount rc=0", "would_deny"),
    ] {
        let pod = &unique("deny-pod");
        let rules = action_rule(
            "no_sys_admin",
            "{field: capability.name, eq: CAP_SYS_ADMIN}",
            pod,
            "deny",
        );
        let daemon = Daemon::start(&[
            "--enforcement",
            switch,
            "--rules",
            rules.0.to_str().unwrap(),
        ])
        .unwrap();
        let m = daemon.metrics().unwrap();
        assert_eq!(
            m.value(
                "privmon_hook_info",
                &[
                    ("hook", "enforcement/deny_capability"),
                    ("attach", "lsm_capable")
                ]
            ),
            Some(1.0),
            "{:?}",
            daemon.logs()
        );
        let c = Container::create(&ContainerSpec {
            args: &["/bin/sh", "-c", "sleep 1; /bin/trigger mount"],
            capabilities: &["CAP_SYS_ADMIN"],
            pod: Some(pod),
            ..Default::default()
        })
        .unwrap();
        let out = c.run_to_completion().unwrap();
        assert!(out.contains(rc), "{switch}: {out}");
        let mounts: Vec<Value> = daemon
            .lines_of(c)
            .into_iter()
            .filter(|e| e["kind"] == "syscall" && e["syscall"]["name"] == "mount")
            .collect();
        assert_eq!(mounts.len(), 1, "{switch}: {mounts:#?}");
        assert_eq!(
            mounts[0]["enforcement"]["action"], action,
            "{:#}",
            mounts[0]
        );
        assert_eq!(mounts[0]["enforcement"]["policy"], "rule:no_sys_admin");
        daemon.stop().unwrap();
    }
}

/// The configuration's switch, reread on SIGHUP: `enforcement: off` disarms every
/// container of a running daemon, and the next act is not acted on.
#[test]
#[ignore = "needs root: run with cargo xtask test"]
fn sighup_rereads_the_switch_and_off_disarms() {
    require_root();
    let pod = &unique("reload-pod");
    let rules = chown_rule("kill", pod);
    let config = tempfile_path::write(&format!(
        "enforcement: on\nrules_files: [{}]\n",
        rules.0.display()
    ));
    let daemon = Daemon::start(&["--config", config.0.to_str().unwrap()]).unwrap();
    let shared = Shared::new();
    let source = shared.dir.to_str().unwrap().to_string();
    let mounts = [(source.as_str(), "/data")];
    // It waits for the test's go before its chown.
    let c = Container::create(&ContainerSpec {
        args: &[
            "/bin/sh",
            "-c",
            "while [ ! -e /data/go ]; do sleep 0.1; done; /bin/trigger chown /data/f 1234; echo status=$?",
        ],
        capabilities: &["CAP_CHOWN"],
        rw_bind_mounts: &mounts,
        pod: Some(pod),
        ..Default::default()
    })
    .unwrap();
    c.start().unwrap();
    let status = |daemon: &Daemon| -> Value {
        let (_, status) = daemon.get("/enforcement").unwrap();
        serde_json::from_str(&status).unwrap()
    };
    let until = |what: &str, done: &dyn Fn(&Value) -> bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let s = status(&daemon);
            if done(&s) {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "{what}: {s:#}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    until("armed", &|s| s["armed"].as_array().map(Vec::len) == Some(1));
    std::fs::write(
        &config.0,
        format!("enforcement: off\nrules_files: [{}]\n", rules.0.display()),
    )
    .unwrap();
    // SAFETY: a signal to the daemon's pid.
    assert_eq!(unsafe { libc::kill(daemon.pid() as i32, libc::SIGHUP) }, 0);
    until("switched off and disarmed", &|s| {
        s["switch"] == "off" && s["armed"].as_array().map(Vec::len) == Some(0)
    });
    std::fs::write(shared.dir.join("go"), "").unwrap();
    let out = c.wait_stopped().unwrap();
    assert!(
        out.contains("chown rc=0") && out.contains("status=0"),
        "{out}"
    );
    assert_eq!(shared.owner(), 1234);
    daemon.stop().unwrap();
}
