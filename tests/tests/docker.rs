//! Containers started by a real Docker engine (Debian's `docker.io`, 20.10): their
//! `container_start` carries the posture Docker's files describe, and the posture rules
//! fire on it.
//!
//! Docker writes `config.v2.json` (name, image) before runc writes the container's state
//! (init pid, bundle); privmon used to take the first for the whole answer and announce
//! every Docker container with a posture of nulls.
//!
//! What cannot be done on this machine, and how the test stands in for it: no registry,
//! so the image is imported from a busybox root filesystem; no overlay or iptables, so
//! the engine runs with `--storage-driver=vfs --iptables=false --bridge=none` and the
//! containers with `--network none`. An engine already running is used as it is.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail, ensure};
use privmon_tests::{Daemon, busybox_rootfs, require_root, unique};
use serde_json::Value;

const IMAGE: &str = "privmon.test/busybox:1";

fn docker(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running docker (cargo xtask setup installs docker.io)")?;
    ensure!(
        out.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The engine this test started (stopped when dropped), or none when one was running.
struct Engine {
    child: Option<Child>,
    containers: Vec<String>,
}

impl Engine {
    fn start() -> anyhow::Result<Engine> {
        let mut engine = Engine {
            child: None,
            containers: Vec::new(),
        };
        if docker(&["info"]).is_err() {
            let log = std::fs::File::create(std::env::temp_dir().join("privmon-dockerd.log"))?;
            engine.child = Some(
                Command::new("dockerd")
                    .args([
                        "--storage-driver=vfs",
                        "--iptables=false",
                        "--ip6tables=false",
                        "--bridge=none",
                    ])
                    .stdout(log.try_clone()?)
                    .stderr(log)
                    .spawn()
                    .context("starting dockerd (cargo xtask setup installs docker.io)")?,
            );
            let deadline = Instant::now() + Duration::from_secs(60);
            while docker(&["info"]).is_err() {
                if Instant::now() > deadline {
                    bail!("dockerd did not answer within 60 s (see /tmp/privmon-dockerd.log)");
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        }
        if docker(&["image", "inspect", IMAGE]).is_err() {
            let root = std::env::temp_dir().join(unique("privmon-docker-rootfs"));
            busybox_rootfs(&root, &["sh", "sleep"])?;
            let tar = root.with_extension("tar");
            let made = Command::new("tar")
                .arg("-C")
                .arg(&root)
                .arg("-cf")
                .arg(&tar)
                .arg(".")
                .status()?;
            ensure!(made.success(), "tar of the root filesystem failed");
            docker(&["import", &tar.to_string_lossy(), IMAGE])?;
            let _ = std::fs::remove_dir_all(&root);
            let _ = std::fs::remove_file(&tar);
        }
        Ok(engine)
    }

    /// `docker run -d` with `flags`, running `sleep 60`; removed when the engine drops.
    fn run(&mut self, flags: &[&str]) -> anyhow::Result<String> {
        self.run_sh(flags, "sleep 60")
    }

    /// `docker run -d` with `flags`, running `sh -c script`.
    fn run_sh(&mut self, flags: &[&str], script: &str) -> anyhow::Result<String> {
        let name = unique("privmon-docker");
        let mut args = vec!["run", "-d", "--name", &name, "--network", "none"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&[IMAGE, "sh", "-c", script]);
        let id = docker(&args)?;
        self.containers.push(id.clone());
        Ok(id)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        for id in &self.containers {
            let _ = docker(&["rm", "-f", id]);
        }
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(20);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn start_of(daemon: &Daemon, id: &str) -> Value {
    daemon
        .wait_for_event(|e| e["kind"] == "container_start" && e["container"]["id"] == id)
        .unwrap_or_else(|| panic!("no container_start for {id}: {:?}", daemon.logs()))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn alerted(daemon: &Daemon, rule: &str, id: &str) -> bool {
    daemon
        .wait_for_event(|e| e["kind"] == "alert" && e["rule"] == rule && e["container"]["id"] == id)
        .is_some()
}

#[test]
#[ignore = "needs root and a Docker engine: cargo xtask test"]
fn docker_containers_start_with_their_posture() {
    require_root();
    let mut engine = Engine::start().unwrap();
    let daemon = Daemon::start(&[]).unwrap();

    let added = engine
        .run(&["--cap-add", "SYS_ADMIN", "-v", "/:/host:ro", "--read-only"])
        .unwrap();
    let socket = engine
        .run(&[
            "--pid",
            "host",
            "-v",
            "/var/run/docker.sock:/var/run/docker.sock",
            "--security-opt",
            "seccomp=unconfined",
            "--user",
            "1000",
        ])
        .unwrap();

    let start = start_of(&daemon, &added);
    assert_eq!(start["container"]["runtime"], "docker", "{start:#}");
    assert_eq!(start["container"]["image"], IMAGE, "{start:#}");
    let p = &start["posture"];
    assert_eq!(
        strings(&p["capabilities"]["added_over_default"]),
        ["CAP_SYS_ADMIN"],
        "{p:#}"
    );
    // The host's root, and none of the files Docker mounts into every container
    // (hostname, hosts, resolv.conf from /var/lib/docker/containers/<id>/).
    assert_eq!(strings(&p["sensitive_mounts"]), ["/"], "{p:#}");
    assert_eq!(p["readonly_rootfs"], true, "{p:#}");
    assert_eq!(p["runs_as_root"], true, "{p:#}");
    assert_eq!(p["seccomp"], "filter", "{p:#}");
    assert_eq!(p["privileged"], false, "{p:#}");
    assert!(alerted(&daemon, "sensitive_host_mount", &added));

    let start = start_of(&daemon, &socket);
    let p = &start["posture"];
    assert_eq!(
        strings(&p["sensitive_mounts"]),
        ["/var/run/docker.sock"],
        "{p:#}"
    );
    assert!(
        strings(&p["host_namespaces"]).contains(&"pid".to_string()),
        "{p:#}"
    );
    assert_eq!(p["seccomp"], "disabled", "{p:#}");
    assert_eq!(p["runs_as_root"], false, "{p:#}");
    assert_eq!(p["readonly_rootfs"], false, "{p:#}");
    assert!(alerted(&daemon, "sensitive_host_mount", &socket));
    assert!(alerted(&daemon, "host_namespace_shared", &socket));

    // A mount by busybox's applet, forked from the shell without exec and named `mount`:
    // one line, with the applet's program, arguments and parent, and its capabilities
    // named against what Docker granted (its default set plus SYS_ADMIN: nothing added).
    let mounts = engine
        .run_sh(
            &[
                "--cap-add",
                "SYS_ADMIN",
                "--security-opt",
                "seccomp=unconfined",
                "--security-opt",
                "apparmor=unconfined",
            ],
            "mkdir /m && mount -t tmpfs none /m && sleep 60",
        )
        .unwrap();
    let start = start_of(&daemon, &mounts);
    let init = &start["process"];
    assert_eq!(
        strings(&init["cap_effective"]["added"]),
        [] as [&str; 0],
        "{init:#}"
    );
    let mount = daemon
        .wait_for_event(|e| {
            e["kind"] == "syscall"
                && e["syscall"]["name"] == "mount"
                && e["container"]["id"] == mounts.as_str()
        })
        .unwrap_or_else(|| panic!("no mount line: {:#?}", daemon.events()));
    let p = &mount["process"];
    assert_eq!(p["comm"], "mount", "{p:#}");
    // The shell ran it through /proc/self/exe: the shell's own program, as it was started.
    assert_eq!(p["exe"], "/bin/sh", "{p:#}");
    assert_eq!(p["args"][0], "mount", "{p:#}");
    assert!(p["ppid"].as_u64().is_some(), "{p:#}");
    assert_eq!(p["ancestors"][0]["comm"], "sh", "{p:#}");
    assert_eq!(
        strings(&p["cap_effective"]["added"]),
        [] as [&str; 0],
        "{p:#}"
    );
    assert_eq!(
        strings(&p["cap_effective"]["dropped"]),
        [] as [&str; 0],
        "{p:#}"
    );
    // T1611: docker run -v /:/mnt ... chroot /mnt: the host's root, through the bind mount.
    let escape = engine
        .run_sh(&["-v", "/:/mnt"], "chroot /mnt /bin/true; sleep 60")
        .unwrap();
    let alert = daemon
        .wait_for_event(|e| {
            e["kind"] == "alert"
                && e["rule"] == "chroot_into_host_root"
                && e["container"]["id"] == escape.as_str()
        })
        .unwrap_or_else(|| panic!("no chroot_into_host_root alert: {:#?}", daemon.events()));
    assert_eq!(
        alert["event"]["syscall"]["args"]["path"], "/mnt",
        "{alert:#}"
    );
    assert_eq!(alert["event"]["process"]["comm"], "chroot", "{alert:#}");

    // The user container's sleep ran as uid 1000: busybox's setuid(getuid()) and runc's
    // privilege drop are no acts of its own.
    let acts: Vec<Value> = daemon
        .events()
        .into_iter()
        .filter(|e| {
            e["container"]["id"] == socket.as_str()
                && !["container_start", "alert"].contains(&e["kind"].as_str().unwrap_or(""))
        })
        .collect();
    assert!(
        acts.is_empty(),
        "lines of the idle user container: {acts:#?}"
    );

    drop(engine);
    daemon.stop().unwrap();
}
