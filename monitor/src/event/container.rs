//! The container, pod and posture blocks of the event contract (the types; the container
//! resolver fills them, `containers::posture` judges the posture).

use std::{collections::BTreeMap, sync::Arc};

use serde::Serialize;

use super::access::{Fields, Key, Name, Val, block};

/// The `container` field of an event: null for host processes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Container {
    /// Full container id.
    pub id: String,
    pub image: Option<String>,
    /// Kubernetes' `imageID`, from the CRI: `name@sha256:…` where the runtime knows a
    /// repository digest, else the image id (`sha256:…`).
    pub image_id: Option<String>,
    pub name: Option<String>,
    pub runtime: Option<&'static str>,
}

block!(Container {
    Id: id,
    Image: image,
    ImageId: image_id,
    Name: name,
    Runtime: runtime,
});

/// The `k8s` field of an event: null outside Kubernetes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Kubernetes {
    pub container: Option<String>,
    /// The pod's labels, from the CRI (absent when unknown; shared by the pod's events).
    #[serde(skip_serializing_if = "no_labels")]
    pub labels: Arc<BTreeMap<String, String>>,
    pub namespace: Option<String>,
    pub pod: Option<String>,
    pub pod_uid: Option<String>,
}

impl Fields for Kubernetes {
    fn field(&self, path: &[Key]) -> Val<'_> {
        match path {
            [] => Val::Object {
                empty: false,
                block: self,
            },
            [k, rest @ ..] => match k.name {
                Name::Container => self.container.field(rest),
                Name::Labels if no_labels(&self.labels) => Val::Missing,
                Name::Labels => self.labels.field(rest),
                Name::Namespace => self.namespace.field(rest),
                Name::Pod => self.pod.field(rest),
                Name::PodUid => self.pod_uid.field(rest),
                _ => Val::Missing,
            },
        }
    }
}

fn no_labels(labels: &Arc<BTreeMap<String, String>>) -> bool {
    labels.is_empty()
}

/// The `posture` block of `container_start` / `container_stop` events. `None` (null) where
/// the source to judge from was not found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Posture {
    pub capabilities: PostureCapabilities,
    /// Devices the runtime puts in the container (`--device`; every host device for a
    /// privileged one), as the container names them: at most [`Posture::DEVICES_LISTED`],
    /// then `"(N more)"`.
    pub host_devices: Option<Vec<String>>,
    /// Namespaces shared with the host: `pid`, `net`, `ipc`, `uts`, `user`, `cgroup`, `mnt`.
    pub host_namespaces: Option<Vec<&'static str>>,
    /// Whether the image is named by its digest (`name@sha256:...`), not a tag alone, which
    /// can move; null when the image is unknown.
    pub image_pinned: Option<bool>,
    /// Whether the image comes from a trusted source; null until a trust policy is configured.
    pub image_trusted: Option<bool>,
    pub no_new_privs: Option<bool>,
    /// All capabilities the host allows, and no seccomp filter.
    pub privileged: Option<bool>,
    pub readonly_rootfs: Option<bool>,
    /// The process runs as uid 0 (in the container's view).
    pub runs_as_root: Option<bool>,
    /// `disabled` (unconfined), `filter`.
    pub seccomp: Option<&'static str>,
    /// Host paths on the sensitive list that are bind-mounted into the container.
    pub sensitive_mounts: Option<Vec<String>>,
    /// Mounts (as the container names them; `/` for its root) whose propagation is shared
    /// with the host (`shared`, `rshared`): mounts made on either side appear on the other.
    pub shared_propagation: Option<Vec<String>>,
    /// Host paths on the sensitive list, or the CIS Docker Benchmark's (`/lib`, `/usr` too),
    /// bind-mounted read-write (CIS 5.6 flags these).
    pub writable_sensitive_mounts: Option<Vec<String>>,
}

impl Posture {
    /// Most devices `host_devices` lists (a privileged container gets every host device).
    pub const DEVICES_LISTED: usize = 32;
}

block!(Posture {
    Capabilities: capabilities,
    HostDevices: host_devices,
    HostNamespaces: host_namespaces,
    ImagePinned: image_pinned,
    ImageTrusted: image_trusted,
    NoNewPrivs: no_new_privs,
    Privileged: privileged,
    ReadonlyRootfs: readonly_rootfs,
    RunsAsRoot: runs_as_root,
    Seccomp: seccomp,
    SensitiveMounts: sensitive_mounts,
    SharedPropagation: shared_propagation,
    WritableSensitiveMounts: writable_sensitive_mounts,
});

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PostureCapabilities {
    /// Capabilities beyond the runtime's default set, effective or bounding (a non-root
    /// process has the runtime's added ones in its bounding set only: CIS Docker 5.4).
    pub added_over_default: Option<Vec<String>>,
    pub bounding: Option<Vec<String>>,
    pub effective: Option<Vec<String>>,
}

block!(PostureCapabilities {
    AddedOverDefault: added_over_default,
    Bounding: bounding,
    Effective: effective,
});
