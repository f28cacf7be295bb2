//! Attribution of cgroups to containers and pods.

pub mod cgroup_path;
pub mod lifecycle;
pub mod metadata;
pub mod posture;

use std::{collections::HashMap, path::PathBuf, sync::Arc};

use serde::Serialize;

use self::cgroup_path::Runtime;
use crate::event::boottime_ns;

/// The `container` field of an event: null for host processes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Container {
    /// Full container id.
    pub id: String,
    pub runtime: Option<&'static str>,
    pub name: Option<String>,
    pub image: Option<String>,
}

/// The `k8s` field of an event: null outside Kubernetes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Kubernetes {
    pub namespace: Option<String>,
    pub pod: Option<String>,
    pub pod_uid: Option<String>,
    pub container: Option<String>,
}

/// Everything known about one container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribution {
    pub container: Container,
    pub k8s: Option<Kubernetes>,
    /// Whether the runtime's files were found (else only the cgroup path spoke).
    pub resolved: bool,
    /// Runtime as a value (the `container.runtime` string is its name).
    pub runtime: Option<Runtime>,
    /// Host pid of the container's init process, if the runtime recorded it.
    pub init_pid: Option<u32>,
    /// OCI bundle directory (as seen under the daemon's host root).
    pub bundle: Option<PathBuf>,
}

/// Most containers remembered; beyond it the cache starts over.
const MAX_CACHED: usize = 16_384;

struct Entry {
    attribution: Arc<Attribution>,
    /// Boot-clock time of the last look at the runtime's files.
    looked_at: u64,
}

/// Cached container attribution by cgroup path.
pub struct Containers {
    root: PathBuf,
    cache: HashMap<String, Entry>,
    /// Containers whose metadata could not be found (counted once per container).
    pub metadata_missing: u64,
}

impl Containers {
    /// Where the host's filesystem is seen.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// `root` is where the host's filesystem is seen (`/`, or a host mount in a DaemonSet).
    pub fn new(root: PathBuf) -> Containers {
        Containers {
            root,
            cache: HashMap::new(),
            metadata_missing: 0,
        }
    }

    /// The container a cgroup path belongs to; `None` for host cgroups. `event_time` is the
    /// boot-clock time of the event: a container not found before it is looked up again
    /// (runc writes its state only after the container's first checks), one found is not.
    pub fn for_cgroup(&mut self, cgroup_path: &str, event_time: u64) -> Option<Arc<Attribution>> {
        let parsed = cgroup_path::parse(cgroup_path)?;
        if let Some(e) = self.cache.get(&parsed.id)
            && (e.attribution.resolved || event_time < e.looked_at)
        {
            return Some(e.attribution.clone());
        }
        let first_look = !self.cache.contains_key(&parsed.id);
        let looked_at = boottime_ns();
        let meta = metadata::lookup(&self.root, &parsed.id);
        if meta.is_none() && first_look {
            self.metadata_missing += 1;
            tracing::debug!(id = %parsed.id, path = cgroup_path, "container metadata not found");
        }
        let resolved = meta.is_some();
        let meta = meta.unwrap_or_default();
        let runtime: Option<Runtime> = meta.runtime.or(parsed.runtime);
        let pod_uid = meta.pod_uid.clone().or(parsed.pod_uid);
        let k8s = (pod_uid.is_some() || meta.pod_name.is_some()).then(|| Kubernetes {
            namespace: meta.pod_namespace.clone(),
            pod: meta.pod_name.clone(),
            pod_uid,
            container: meta.k8s_container.clone(),
        });
        let attribution = Arc::new(Attribution {
            container: Container {
                id: parsed.id.clone(),
                runtime: runtime.map(Runtime::name),
                name: meta.name.clone(),
                image: meta.image.clone(),
            },
            k8s,
            resolved,
            runtime,
            init_pid: meta.init_pid,
            bundle: meta.bundle.clone(),
        });
        if self.cache.len() >= MAX_CACHED {
            self.cache.clear();
        }
        self.cache.insert(
            parsed.id,
            Entry {
                attribution: attribution.clone(),
                looked_at,
            },
        );
        Some(attribution)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f1c5e8b9a0d4c2e7f6b1a9d8c7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e";
    const UID: &str = "5b1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

    #[test]
    fn host_cgroups_have_no_container() {
        let mut c = Containers::new(PathBuf::from("/nonexistent-root"));
        assert_eq!(c.for_cgroup("/system.slice/sshd.service", 0), None);
        assert_eq!(c.metadata_missing, 0);
    }

    #[test]
    fn unresolved_containers_keep_what_the_path_says_and_are_counted_once() {
        let mut c = Containers::new(PathBuf::from("/nonexistent-root"));
        let path = format!("/kubepods/besteffort/pod{UID}/{ID}");
        let a = c.for_cgroup(&path, boottime_ns()).unwrap();
        assert_eq!(a.container.id, ID);
        assert_eq!(a.container.runtime, None);
        assert_eq!(a.container.name, None);
        assert_eq!(a.k8s.as_ref().unwrap().pod_uid.as_deref(), Some(UID));
        assert_eq!(a.k8s.as_ref().unwrap().pod, None);
        assert!(!a.resolved);
        // Looked up again for a later event, but counted once.
        c.for_cgroup(&path, boottime_ns()).unwrap();
        assert_eq!(c.metadata_missing, 1);
    }
}
