//! CRI enrichment against a real containerd (Debian's `containerd` package, its CRI plugin
//! and runc shim), started by the test with its own configuration, socket and state, and a
//! real pod with a real container made through the CRI.
//!
//! What cannot be done on this machine, and how the test stands in for it:
//! - no kubelet: the test makes the CRI calls a kubelet would (RunPodSandbox,
//!   CreateContainer, StartContainer, and their Stop/Remove), with the cgroupfs-driver
//!   cgroup layout (`/kubepods/besteffort/pod<uid>/<id>`);
//! - no CNI plugins: the pod uses the node's network (`hostNetwork`), so containerd sets up
//!   no network namespace;
//! - no registry: the image is an OCI archive the test builds (busybox and the trigger),
//!   imported with `ctr`; a pull records the image's repository digest, an import does not,
//!   so the test tags the digest reference a pull would have made;
//! - no CRI-O (not packaged for Debian 12): only containerd is tested.

use std::{
    collections::HashMap,
    fs,
    os::unix::net::UnixListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail, ensure};
use privmon::resolve::cri::{
    Client,
    api::{ContainerMetadata, ImageSpec, PodSandboxMetadata},
    runtime_method,
};
use privmon_tests::{
    Daemon, busybox_rootfs, check, remove_pod_cgroups, require_root, short_id, trigger_binary,
    unique,
};
use serde_json::{Value, json};

const IMAGE: &str = "privmon.test/trigger:1";
const POD: &str = "payments-api-7d9f";
const NAMESPACE: &str = "shop";
const CONTAINER: &str = "api";

// CRI messages only the test sends (field numbers from k8s.io/cri-api runtime/v1 api.proto).

#[derive(Clone, PartialEq, prost::Message)]
struct NamespaceOption {
    /// NamespaceMode: POD = 0, CONTAINER = 1, NODE = 2.
    #[prost(int32, tag = "1")]
    network: i32,
    #[prost(int32, tag = "2")]
    pid: i32,
    #[prost(int32, tag = "3")]
    ipc: i32,
}

const NODE: i32 = 2;

#[derive(Clone, PartialEq, prost::Message)]
struct LinuxSandboxSecurityContext {
    #[prost(message, optional, tag = "1")]
    namespace_options: Option<NamespaceOption>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct LinuxPodSandboxConfig {
    #[prost(string, tag = "1")]
    cgroup_parent: String,
    #[prost(message, optional, tag = "2")]
    security_context: Option<LinuxSandboxSecurityContext>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct PodSandboxConfig {
    #[prost(message, optional, tag = "1")]
    metadata: Option<PodSandboxMetadata>,
    #[prost(string, tag = "2")]
    hostname: String,
    #[prost(string, tag = "3")]
    log_directory: String,
    #[prost(map = "string, string", tag = "6")]
    labels: HashMap<String, String>,
    #[prost(message, optional, tag = "8")]
    linux: Option<LinuxPodSandboxConfig>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RunPodSandboxRequest {
    #[prost(message, optional, tag = "1")]
    config: Option<PodSandboxConfig>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RunPodSandboxResponse {
    #[prost(string, tag = "1")]
    pod_sandbox_id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct LinuxContainerSecurityContext {
    #[prost(message, optional, tag = "3")]
    namespace_options: Option<NamespaceOption>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct LinuxContainerConfig {
    #[prost(message, optional, tag = "2")]
    security_context: Option<LinuxContainerSecurityContext>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ContainerConfig {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ContainerMetadata>,
    #[prost(message, optional, tag = "2")]
    image: Option<ImageSpec>,
    #[prost(string, repeated, tag = "3")]
    command: Vec<String>,
    #[prost(string, tag = "11")]
    log_path: String,
    #[prost(message, optional, tag = "15")]
    linux: Option<LinuxContainerConfig>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct CreateContainerRequest {
    #[prost(string, tag = "1")]
    pod_sandbox_id: String,
    #[prost(message, optional, tag = "2")]
    config: Option<ContainerConfig>,
    #[prost(message, optional, tag = "3")]
    sandbox_config: Option<PodSandboxConfig>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct CreateContainerResponse {
    #[prost(string, tag = "1")]
    container_id: String,
}

/// StartContainer, RemoveContainer (container_id = 1); Stop/RemovePodSandbox
/// (pod_sandbox_id = 1).
#[derive(Clone, PartialEq, prost::Message)]
struct ById {
    #[prost(string, tag = "1")]
    id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct StopContainerRequest {
    #[prost(string, tag = "1")]
    container_id: String,
    #[prost(int64, tag = "2")]
    timeout: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Empty {}

fn sha256(path: &Path) -> anyhow::Result<String> {
    let out = Command::new("sha256sum").arg(path).output()?;
    ensure!(out.status.success(), "sha256sum {}", path.display());
    let text = String::from_utf8(out.stdout)?;
    Ok(text
        .split_whitespace()
        .next()
        .context("sha256sum output")?
        .to_string())
}

/// Writes a blob into an OCI layout; returns (digest hex, size).
fn blob(layout: &Path, bytes: &[u8]) -> anyhow::Result<(String, usize)> {
    let tmp = layout.join("blob.tmp");
    fs::write(&tmp, bytes)?;
    let hex = sha256(&tmp)?;
    fs::rename(&tmp, layout.join("blobs/sha256").join(&hex))?;
    Ok((hex, bytes.len()))
}

/// An OCI image archive of busybox and the trigger, named [`IMAGE`]. Returns the archive
/// and its manifest digest.
fn build_image(dir: &Path) -> anyhow::Result<(PathBuf, String)> {
    let rootfs = dir.join("rootfs");
    busybox_rootfs(&rootfs, &["sh", "sleep"])?;
    fs::copy(trigger_binary(), rootfs.join("bin/trigger"))?;
    let layout = dir.join("layout");
    fs::create_dir_all(layout.join("blobs/sha256"))?;
    let layer_tar = dir.join("layer.tar");
    let status = Command::new("tar")
        .args(["--numeric-owner", "--owner=0", "--group=0", "-C"])
        .arg(&rootfs)
        .arg("-cf")
        .arg(&layer_tar)
        .arg(".")
        .status()?;
    ensure!(status.success(), "tar of the image layer");
    let (layer, layer_size) = blob(&layout, &fs::read(&layer_tar)?)?;
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sleep", "3600"]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{layer}")]},
    });
    let (config, config_size) = blob(&layout, &serde_json::to_vec(&config)?)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": format!("sha256:{config}"),
            "size": config_size,
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": format!("sha256:{layer}"),
            "size": layer_size,
        }],
    });
    let (manifest, manifest_size) = blob(&layout, &serde_json::to_vec(&manifest)?)?;
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{manifest}"),
            "size": manifest_size,
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"io.containerd.image.name": IMAGE},
        }],
    });
    fs::write(layout.join("index.json"), serde_json::to_vec(&index)?)?;
    fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    let archive = dir.join("image.tar");
    let status = Command::new("tar")
        .arg("-C")
        .arg(&layout)
        .arg("-cf")
        .arg(&archive)
        .args(["index.json", "oci-layout", "blobs"])
        .status()?;
    ensure!(status.success(), "tar of the OCI layout");
    Ok((archive, manifest))
}

/// A containerd of the test's own: configuration, socket and state under `dir`.
struct Containerd {
    child: Child,
    dir: PathBuf,
    socket: PathBuf,
    /// Whether /run/containerd existed before (the runc shim keeps its sockets and runc
    /// state there whatever containerd's state directory is).
    had_run_dir: bool,
}

impl Containerd {
    fn start(dir: &Path) -> anyhow::Result<Containerd> {
        let socket = dir.join("c.sock");
        let config = format!(
            r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{IMAGE}"
  disable_apparmor = true
  # The sandbox asks for oom_score_adj -998; lowering it takes CAP_SYS_RESOURCE, which
  # root on the project's machines does not have.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni}"
    conf_dir = "{cni}"
"#,
            root = dir.join("root").display(),
            state = dir.join("state").display(),
            socket = socket.display(),
            cni = dir.join("cni").display(),
        );
        fs::create_dir_all(dir.join("cni"))?;
        fs::write(dir.join("config.toml"), config)?;
        let had_run_dir = Path::new("/run/containerd").exists();
        let log = fs::File::create(dir.join("containerd.log"))?;
        let child = Command::new("containerd")
            .arg("--config")
            .arg(dir.join("config.toml"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting containerd (Debian package `containerd`; `cargo xtask setup`)")?;
        Ok(Containerd {
            child,
            dir: dir.to_path_buf(),
            socket,
            had_run_dir,
        })
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default()
    }

    fn ctr(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new("ctr")
            .arg("--address")
            .arg(&self.socket)
            .args(["--namespace", "k8s.io"])
            .args(args)
            .output()?;
        ensure!(
            out.status.success(),
            "ctr {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Tasks the CRI could not remove (a failed test) are killed and deleted first:
        // their shims would outlive containerd and keep the rootfs mounts busy.
        if let Ok(tasks) = self.ctr(&["tasks", "ls", "--quiet"]) {
            for id in tasks.split_whitespace() {
                let _ = self.ctr(&["tasks", "kill", "--signal", "SIGKILL", id]);
            }
            for id in tasks.split_whitespace() {
                let deadline = Instant::now() + Duration::from_secs(5);
                while self.ctr(&["tasks", "delete", id]).is_err() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(100));
                }
                let _ = self.ctr(&["containers", "delete", id]);
            }
        }
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Snapshots still mounted (if the pod could not be removed) would keep the files.
        if let Ok(mounts) = fs::read_to_string("/proc/self/mounts") {
            let root = self.dir.to_string_lossy().to_string();
            let mut ours: Vec<&str> = mounts
                .lines()
                .filter_map(|l| l.split_whitespace().nth(1))
                .filter(|m| m.starts_with(&root))
                .collect();
            ours.reverse();
            for m in ours {
                let _ = Command::new("umount").args(["-l", m]).status();
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
        if !self.had_run_dir {
            for d in [
                "/run/containerd/runc/k8s.io",
                "/run/containerd/runc",
                "/run/containerd/s",
                "/run/containerd",
            ] {
                let _ = fs::remove_dir(d);
            }
        }
    }
}

/// The pod and its container, removed (through the CRI) when dropped.
struct Pod {
    runtime: tokio::runtime::Runtime,
    client: Client,
    sandbox: String,
    container: Option<String>,
    pod_uid: String,
}

impl Pod {
    fn call<Req, Resp>(&mut self, method: &str, req: Req) -> anyhow::Result<Resp>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let client = &mut self.client;
        self.runtime
            .block_on(client.call(&runtime_method(method), req))
            .map_err(|s| anyhow::anyhow!("{method}: {:?}: {}", s.code(), s.message()))
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        if let Some(id) = self.container.take() {
            let _ = self.call::<_, Empty>(
                "StopContainer",
                StopContainerRequest {
                    container_id: id.clone(),
                    timeout: 0,
                },
            );
            let _ = self.call::<_, Empty>("RemoveContainer", ById { id });
        }
        let id = self.sandbox.clone();
        let _ = self.call::<_, Empty>("StopPodSandbox", ById { id: id.clone() });
        let _ = self.call::<_, Empty>("RemovePodSandbox", ById { id });
        remove_pod_cgroups(&self.pod_uid);
    }
}

fn uid() -> String {
    let u = unique("");
    let hex: String = u.chars().filter(char::is_ascii_hexdigit).collect();
    let hex = format!("{hex:0>12}");
    format!("c0ffee00-0000-4000-8000-{}", &hex[hex.len() - 12..])
}

/// Runs the pod (sandbox, then the container) through the CRI, as a kubelet would.
fn run_pod(containerd: &Containerd, dir: &Path) -> anyhow::Result<Pod> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = {
        let _in_runtime = runtime.enter();
        Client::new(&containerd.socket, Duration::from_secs(60))?
    };
    let pod_uid = uid();
    let mut pod = Pod {
        runtime,
        client,
        sandbox: String::new(),
        container: None,
        pod_uid: pod_uid.clone(),
    };
    // containerd needs a moment before its CRI plugin answers.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let client = &mut pod.client;
        match pod.runtime.block_on(client.version()) {
            Ok(_) => break,
            Err(e) if Instant::now() > deadline => {
                bail!(
                    "containerd's CRI does not answer: {e}\n{}",
                    containerd.log()
                )
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
    let node = Some(NamespaceOption {
        network: NODE,
        pid: 0,
        ipc: 0,
    });
    let sandbox_config = PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: POD.into(),
            uid: pod_uid.clone(),
            namespace: NAMESPACE.into(),
            attempt: 0,
        }),
        // A host-network pod has the node's UTS namespace: no hostname of its own.
        hostname: String::new(),
        log_directory: dir.join("logs").display().to_string(),
        labels: HashMap::from([
            ("app".to_string(), "payments-api".to_string()),
            ("tier".to_string(), "backend".to_string()),
            // A kubelet adds these; privmon leaves them out of `k8s.labels`.
            ("io.kubernetes.pod.name".to_string(), POD.to_string()),
        ]),
        linux: Some(LinuxPodSandboxConfig {
            cgroup_parent: format!("/kubepods/besteffort/pod{pod_uid}"),
            security_context: Some(LinuxSandboxSecurityContext {
                namespace_options: node.clone(),
            }),
        }),
    };
    let sandbox: RunPodSandboxResponse = pod.call(
        "RunPodSandbox",
        RunPodSandboxRequest {
            config: Some(sandbox_config.clone()),
        },
    )?;
    pod.sandbox = sandbox.pod_sandbox_id;
    let created: CreateContainerResponse = pod.call(
        "CreateContainer",
        CreateContainerRequest {
            pod_sandbox_id: pod.sandbox.clone(),
            config: Some(ContainerConfig {
                metadata: Some(ContainerMetadata {
                    name: CONTAINER.into(),
                    attempt: 0,
                }),
                image: Some(ImageSpec {
                    image: IMAGE.into(),
                }),
                // The raw socket comes after the container's start has been announced.
                command: [
                    "/bin/sh",
                    "-c",
                    "sleep 2; /bin/trigger raw-socket; sleep 3600",
                ]
                .map(String::from)
                .to_vec(),
                log_path: "api.log".into(),
                linux: Some(LinuxContainerConfig {
                    security_context: Some(LinuxContainerSecurityContext {
                        namespace_options: node,
                    }),
                }),
            }),
            sandbox_config: Some(sandbox_config),
        },
    )?;
    pod.container = Some(created.container_id.clone());
    pod.call::<_, Empty>(
        "StartContainer",
        ById {
            id: created.container_id,
        },
    )?;
    Ok(pod)
}

fn labels(ev: &Value) -> &Value {
    &ev["k8s"]["labels"]
}

#[test]
#[ignore = "needs root and containerd: run with cargo xtask test"]
fn cri_adds_pod_labels_and_image_digest_and_its_absence_leaves_the_oci_metadata() {
    require_root();
    let dir = std::env::temp_dir().join(unique("privmon-cri-"));
    let containerd = fs::create_dir_all(dir.join("logs"))
        .map_err(anyhow::Error::from)
        .and_then(|()| Containerd::start(&dir.join("containerd")));
    let containerd = match containerd {
        Ok(c) => c,
        Err(e) => {
            let _ = fs::remove_dir_all(&dir);
            panic!("{e:#}");
        }
    };

    let mut pod = None;
    let result = (|| -> anyhow::Result<()> {
        let (archive, manifest) = build_image(&dir)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while containerd.ctr(&["version"]).is_err() {
            ensure!(
                Instant::now() < deadline,
                "containerd did not start:\n{}",
                containerd.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        containerd.ctr(&["images", "import", &archive.display().to_string()])?;
        let digest_ref = format!("privmon.test/trigger@sha256:{manifest}");
        containerd.ctr(&["images", "tag", IMAGE, &digest_ref])?;
        // The daemon before the pod, so that it sees the pod start.
        let socket = containerd.socket.display().to_string();
        let daemon = Daemon::start(&["--cri-socket", &socket])?;
        let p = run_pod(&containerd, &dir)?;
        let (sandbox, container) = (p.sandbox.clone(), p.container.clone().unwrap());
        let pod_uid = p.pod_uid.clone();
        pod = Some(p);

        let want_labels = json!({"app": "payments-api", "tier": "backend"});
        let start = daemon
            .wait_for_event(|e| e["kind"] == "container_start" && e["container"]["id"] == container)
            .with_context(|| {
                format!(
                    "no container_start for the CRI container; daemon log:\n{}\ncontainerd log:\n{}",
                    daemon.logs().join("\n"),
                    containerd.log()
                )
            })?;
        ensure!(labels(&start) == &want_labels, "labels: {start:#}");
        ensure!(
            start["container"]["image_id"] == json!(digest_ref),
            "image_id: {start:#}"
        );
        ensure!(start["container"]["image"] == IMAGE, "image: {start:#}");
        ensure!(start["container"]["name"] == CONTAINER, "name: {start:#}");
        ensure!(
            start["container"]["runtime"] == "containerd",
            "runtime: {start:#}"
        );
        ensure!(
            start["k8s"]["pod"] == POD && start["k8s"]["namespace"] == NAMESPACE,
            "{start:#}"
        );
        ensure!(
            start["k8s"]["pod_uid"] == json!(pod_uid),
            "pod uid: {start:#}"
        );

        // The sandbox (pause) container: the pod, its labels, no container name.
        let paused = daemon
            .wait_for_event(|e| e["kind"] == "container_start" && e["container"]["id"] == sandbox)
            .context("no container_start for the pod sandbox")?;
        ensure!(
            labels(&paused) == &want_labels,
            "sandbox labels: {paused:#}"
        );
        ensure!(paused["k8s"]["pod"] == POD, "sandbox pod: {paused:#}");

        // A capability use inside the pod names it; container_start above said the labels
        // and the image (the rules read them whole: docs/events.md).
        let raw = daemon
            .wait_for_event(|e| {
                e["kind"] == "capability"
                    && check(e)["name"] == "CAP_NET_RAW"
                    && e["container"]["id"] == short_id(&container)
            })
            .context("no CAP_NET_RAW event from the CRI container")?;
        ensure!(raw["k8s"]["pod"] == POD, "pod: {raw:#}");
        privmon_tests::assert_brief(&raw);

        let m = daemon.metrics()?;
        let found = m.value("privmon_cri_lookups_total", &[("result", "found")]);
        ensure!(found.is_some_and(|n| n >= 2.0), "found lookups: {found:?}");
        ensure!(
            daemon
                .logs()
                .iter()
                .any(|l| l.contains("CRI: pod labels") && l.contains("runtime=containerd")),
            "the daemon did not log the runtime it talks to"
        );
        drop(daemon);

        // A CRI socket that accepts and never answers: every lookup times out, and the
        // containers keep what their OCI state says (containerd's annotations in the
        // bundle that runc's state points to).
        let silent = dir.join("silent.sock");
        let _listener = UnixListener::bind(&silent)?;
        let silent = silent.display().to_string();
        let daemon = Daemon::start(&["--cri-socket", &silent, "--cri-timeout-ms", "300"])?;
        let start = daemon
            .wait_for_event(|e| e["kind"] == "container_start" && e["container"]["id"] == container)
            .context("no container_start with a silent CRI socket")?;
        ensure!(
            start["k8s"]["pod"] == POD,
            "pod from the OCI annotations: {start:#}"
        );
        ensure!(start["container"]["name"] == CONTAINER, "{start:#}");
        ensure!(start["container"]["image"] == IMAGE, "{start:#}");
        ensure!(
            start["k8s"].get("labels").is_none(),
            "labels without CRI: {start:#}"
        );
        ensure!(start["container"]["image_id"].is_null(), "{start:#}");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let m = daemon.metrics()?;
            let timeouts = m.value("privmon_cri_lookups_total", &[("result", "timeout")]);
            if timeouts.is_some_and(|n| n >= 1.0) {
                break;
            }
            let all = m.values("privmon_cri_lookups_total", &[]);
            ensure!(
                Instant::now() < deadline,
                "timeouts: {timeouts:?} (all: {all:?}); daemon log:\n{}",
                daemon.logs().join("\n")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        ensure!(
            daemon.logs().iter().any(|l| l.contains("does not answer")),
            "no warning about the silent runtime"
        );
        Ok(())
    })();
    drop(pod);
    let log = containerd.log();
    drop(containerd);
    let _ = fs::remove_dir_all(&dir);
    if let Err(e) = result {
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!("{e:#}\ncontainerd's log (end):\n{}", tail.join("\n"));
    }
}
