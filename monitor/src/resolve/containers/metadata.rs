//! Container metadata from what the runtimes already wrote on the host: runc state, OCI
//! bundles (`config.json`) of runc, containerd and CRI-O, and Docker's container config.
//! No API server is needed; what cannot be found stays `None`.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::Deserialize;

use super::cgroup_path::Runtime;

/// What the runtime's files say about a container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    pub runtime: Option<Runtime>,
    pub name: Option<String>,
    pub image: Option<String>,
    pub pod_name: Option<String>,
    pub pod_namespace: Option<String>,
    pub pod_uid: Option<String>,
    /// Kubernetes container name (absent for pod sandboxes).
    pub k8s_container: Option<String>,
    /// Host pid of the container's init process, when the runtime records it.
    pub init_pid: Option<u32>,
    /// The OCI bundle directory.
    pub bundle: Option<PathBuf>,
    /// Made through the CRI (containerd's or CRI-O's Kubernetes annotations): the one kind
    /// of container the CRI socket is asked about.
    pub cri_annotated: bool,
}

/// The parts of runc's `state.json` privmon reads.
#[derive(Deserialize)]
struct RuncState {
    init_process_pid: Option<u32>,
    #[serde(default)]
    config: RuncConfig,
}

#[derive(Deserialize, Default)]
struct RuncConfig {
    /// `key=value` strings: the OCI annotations plus `bundle=<dir>`.
    #[serde(default)]
    labels: Vec<String>,
}

/// The parts of an OCI runtime `config.json` privmon reads here.
#[derive(Deserialize, Default)]
struct OciSpec {
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// The parts of Docker's `config.v2.json` privmon reads.
#[derive(Deserialize)]
struct DockerConfig {
    #[serde(rename = "Name")]
    name: Option<String>,
    #[serde(rename = "Config")]
    config: Option<DockerInnerConfig>,
}

#[derive(Deserialize)]
struct DockerInnerConfig {
    #[serde(rename = "Image")]
    image: Option<String>,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    let text = std::fs::read(path).ok()?;
    match serde_json::from_slice(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::debug!(path = %path.display(), error = %e, "unreadable runtime file");
            None
        }
    }
}

/// Sub-directories of `dir` (containerd namespaces), or none.
fn subdirs(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|it| {
            it.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default()
}

/// Looks up container `id` under `root` (`/` on the host; a mount of the host's root in a
/// DaemonSet). Returns `None` when no runtime file names it.
pub fn lookup(root: &Path, id: &str) -> Option<Metadata> {
    let at = |p: &str| root.join(p.trim_start_matches('/'));
    let mut meta = Metadata::default();
    let mut found = false;

    // 1. runc state: pid, bundle and annotations (as labels).
    let mut states: Vec<(PathBuf, Option<Runtime>)> = vec![
        (at("/run/runc").join(id), Some(Runtime::Runc)),
        (
            at("/run/docker/runtime-runc/moby").join(id),
            Some(Runtime::Docker),
        ),
    ];
    for ns in subdirs(&at("/run/containerd/runc")) {
        let runtime = if ns.ends_with("moby") {
            Runtime::Docker
        } else {
            Runtime::Containerd
        };
        states.push((ns.join(id), Some(runtime)));
    }
    let mut annotations = BTreeMap::new();
    for (dir, runtime) in states {
        if let Some(state) = read_json::<RuncState>(&dir.join("state.json")) {
            found = true;
            meta.runtime = runtime;
            meta.init_pid = state.init_process_pid;
            for label in state.config.labels {
                if let Some((k, v)) = label.split_once('=') {
                    if k == "bundle" {
                        meta.bundle = Some(PathBuf::from(v));
                    } else {
                        annotations.insert(k.to_string(), v.to_string());
                    }
                }
            }
            break;
        }
    }

    // 2. OCI bundles: the runc state's, containerd's task directory, CRI-O's userdata.
    let mut bundles: Vec<(PathBuf, Option<Runtime>)> = Vec::new();
    if let Some(b) = &meta.bundle {
        // The bundle path is the host's; under a different root it moves along.
        bundles.push((at(&b.to_string_lossy()), meta.runtime));
    }
    // Docker runs its own containerd (20.10: under /run/docker/containerd) or the host's.
    let tasks = subdirs(&at("/run/containerd/io.containerd.runtime.v2.task"))
        .into_iter()
        .chain(subdirs(&at(
            "/run/docker/containerd/daemon/io.containerd.runtime.v2.task",
        )));
    for ns in tasks {
        let runtime = if ns.ends_with("moby") {
            Runtime::Docker
        } else {
            Runtime::Containerd
        };
        bundles.push((ns.join(id), Some(runtime)));
    }
    for base in [
        "/run/containers/storage/overlay-containers",
        "/var/lib/containers/storage/overlay-containers",
    ] {
        bundles.push((at(base).join(id).join("userdata"), Some(Runtime::CriO)));
    }
    for (dir, runtime) in bundles {
        if let Some(spec) = read_json::<OciSpec>(&dir.join("config.json")) {
            found = true;
            if meta.runtime.is_none() || meta.runtime == Some(Runtime::Runc) {
                meta.runtime = runtime;
            }
            meta.bundle.get_or_insert(dir);
            // The bundle's own annotations are authoritative over runc's copy.
            annotations.extend(spec.annotations);
            break;
        }
    }
    apply_annotations(&mut meta, &annotations);

    // 3. Docker's own record: name and image.
    if let Some(docker) = read_json::<DockerConfig>(
        &at("/var/lib/docker/containers")
            .join(id)
            .join("config.v2.json"),
    ) {
        found = true;
        meta.runtime = Some(Runtime::Docker);
        if meta.name.is_none() {
            meta.name = docker.name.map(|n| n.trim_start_matches('/').to_string());
        }
        if meta.image.is_none() {
            meta.image = docker.config.and_then(|c| c.image);
        }
    }

    found.then_some(meta)
}

/// Kubernetes identity from the annotations of containerd's CRI plugin
/// (`io.kubernetes.cri.*`) or CRI-O (`io.kubernetes.*`, `io.kubernetes.cri-o.*`).
fn apply_annotations(meta: &mut Metadata, a: &BTreeMap<String, String>) {
    let get = |k: &str| a.get(k).filter(|v| !v.is_empty()).cloned();
    if a.keys().any(|k| k.starts_with("io.kubernetes.cri.")) {
        meta.cri_annotated = true;
        meta.pod_name = get("io.kubernetes.cri.sandbox-name");
        meta.pod_namespace = get("io.kubernetes.cri.sandbox-namespace");
        meta.pod_uid = get("io.kubernetes.cri.sandbox-uid");
        meta.k8s_container = get("io.kubernetes.cri.container-name");
        meta.image = get("io.kubernetes.cri.image-name");
        if meta.runtime.is_none() || meta.runtime == Some(Runtime::Runc) {
            meta.runtime = Some(Runtime::Containerd);
        }
    } else if a.keys().any(|k| k.starts_with("io.kubernetes.cri-o.")) {
        meta.cri_annotated = true;
        meta.pod_name = get("io.kubernetes.pod.name");
        meta.pod_namespace = get("io.kubernetes.pod.namespace");
        meta.pod_uid = get("io.kubernetes.pod.uid");
        meta.k8s_container = get("io.kubernetes.container.name");
        meta.image =
            get("io.kubernetes.cri-o.ImageName").or_else(|| get("io.kubernetes.cri-o.Image"));
        meta.runtime = Some(Runtime::CriO);
    } else if meta.runtime == Some(Runtime::CriO) && !a.is_empty() {
        // CRI-O's storage without Kubernetes annotations is Podman's.
        meta.runtime = Some(Runtime::Podman);
    }
    meta.name = meta.k8s_container.clone();
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    const ID: &str = "3f1c5e8b9a0d4c2e7f6b1a9d8c7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e";

    fn root(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("privmon-meta-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn write(path: PathBuf, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn containerd_cri_task_bundle() {
        let r = root("containerd");
        write(
            r.join("run/containerd/io.containerd.runtime.v2.task/k8s.io")
                .join(ID)
                .join("config.json"),
            r#"{"ociVersion":"1.0.2","annotations":{
                "io.kubernetes.cri.container-type":"container",
                "io.kubernetes.cri.container-name":"web",
                "io.kubernetes.cri.sandbox-name":"web-7d9f",
                "io.kubernetes.cri.sandbox-namespace":"shop",
                "io.kubernetes.cri.sandbox-uid":"5b1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                "io.kubernetes.cri.image-name":"registry.example/web:1.2"}}"#,
        );
        let m = lookup(&r, ID).unwrap();
        assert_eq!(m.runtime, Some(Runtime::Containerd));
        assert_eq!(m.name.as_deref(), Some("web"));
        assert_eq!(m.k8s_container.as_deref(), Some("web"));
        assert_eq!(m.pod_name.as_deref(), Some("web-7d9f"));
        assert_eq!(m.pod_namespace.as_deref(), Some("shop"));
        assert_eq!(
            m.pod_uid.as_deref(),
            Some("5b1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
        );
        assert_eq!(m.image.as_deref(), Some("registry.example/web:1.2"));
        fs::remove_dir_all(r).unwrap();
    }

    #[test]
    fn crio_userdata() {
        let r = root("crio");
        write(
            r.join("run/containers/storage/overlay-containers")
                .join(ID)
                .join("userdata/config.json"),
            r#"{"annotations":{"io.kubernetes.cri-o.ImageName":"quay.io/x/y:2",
                "io.kubernetes.container.name":"y","io.kubernetes.pod.name":"y-1",
                "io.kubernetes.pod.namespace":"ns","io.kubernetes.pod.uid":"u"}}"#,
        );
        let m = lookup(&r, ID).unwrap();
        assert_eq!(m.runtime, Some(Runtime::CriO));
        assert_eq!(
            (m.name.as_deref(), m.image.as_deref()),
            (Some("y"), Some("quay.io/x/y:2"))
        );
        assert_eq!(
            (m.pod_name.as_deref(), m.pod_namespace.as_deref()),
            (Some("y-1"), Some("ns"))
        );
        fs::remove_dir_all(r).unwrap();
    }

    #[test]
    fn docker_config() {
        let r = root("docker");
        write(
            r.join("var/lib/docker/containers")
                .join(ID)
                .join("config.v2.json"),
            r#"{"Name":"/db","Config":{"Image":"postgres:16"},"State":{"Pid":42}}"#,
        );
        let m = lookup(&r, ID).unwrap();
        assert_eq!(m.runtime, Some(Runtime::Docker));
        assert_eq!(
            (m.name.as_deref(), m.image.as_deref()),
            (Some("db"), Some("postgres:16"))
        );
        assert_eq!(m.pod_name, None);
        fs::remove_dir_all(r).unwrap();
    }

    #[test]
    fn runc_state_points_to_the_bundle() {
        let r = root("runc");
        let bundle = r.join("bundles/b1");
        write(
            r.join("run/runc").join(ID).join("state.json"),
            &format!(
                r#"{{"id":"{ID}","init_process_pid":1234,"config":{{"labels":["bundle={}"]}}}}"#,
                // The recorded bundle path is the host's; lookup re-roots it.
                "/bundles/b1"
            ),
        );
        write(
            bundle.join("config.json"),
            r#"{"annotations":{"io.kubernetes.cri.sandbox-name":"p","io.kubernetes.cri.container-name":"c"}}"#,
        );
        let m = lookup(&r, ID).unwrap();
        assert_eq!(m.init_pid, Some(1234));
        assert_eq!(m.runtime, Some(Runtime::Containerd));
        assert_eq!(
            (m.pod_name.as_deref(), m.name.as_deref()),
            (Some("p"), Some("c"))
        );
        assert_eq!(m.image, None);
        fs::remove_dir_all(r).unwrap();
    }

    #[test]
    fn unknown_or_malformed_is_none() {
        let r = root("none");
        assert_eq!(lookup(&r, ID), None);
        write(r.join("run/runc").join(ID).join("state.json"), "{ not json");
        assert_eq!(lookup(&r, ID), None);
        fs::remove_dir_all(r).unwrap();
    }
}
