//! Attribution of cgroups to containers and pods.

pub mod cgroup_path;
pub mod lifecycle;
pub mod metadata;
pub mod posture;

use std::{
    collections::{BTreeMap, HashMap},
    path::PathBuf,
    sync::Arc,
};

use self::cgroup_path::Runtime;
pub use crate::event::{Container, Kubernetes};
use crate::{
    event::boottime_ns,
    resolve::cri::{Cri, Lookup},
};

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
    /// The CRI has been asked about the container and has not answered yet.
    pub cri_pending: bool,
    /// Final: the runtime's files, its state among them, were found and the CRI's answer
    /// will not change, so
    /// `for_cgroup` gives this same attribution until the container is forgotten.
    pub settled: bool,
}

/// Most containers remembered; beyond it the cache starts over.
const MAX_CACHED: usize = 16_384;

struct Entry {
    attribution: Arc<Attribution>,
    /// Boot-clock time of the last look at the runtime's files.
    looked_at: u64,
    /// What the CRI had said when the attribution was made.
    cri: CriState,
}

/// The CRI's answer an attribution was made with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CriState {
    /// No CRI (or an answer that will not change: found, or not a CRI container).
    Settled,
    Pending,
    Failed,
}

impl CriState {
    fn of(lookup: &Lookup) -> CriState {
        match lookup {
            Lookup::Pending => CriState::Pending,
            Lookup::Failed => CriState::Failed,
            Lookup::Found(_) | Lookup::Unknown => CriState::Settled,
        }
    }
}

/// Least time between two lookups of a container found without its runtime state
/// (boot-clock nanoseconds).
const RELOOK_INTERVAL: u64 = 50_000_000;

/// Cached container attribution by cgroup path.
pub struct Containers {
    root: PathBuf,
    cache: HashMap<String, Entry>,
    /// Containers whose metadata could not be found (counted once per container).
    pub metadata_missing: u64,
    /// Pod labels and image digests from the container runtime, when its socket is there.
    cri: Option<Cri>,
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
            cri: None,
        }
    }

    /// Drops the CRI's answer about a container that is gone (its cgroup was removed); its
    /// attribution stays cached for records still queued.
    pub fn forget(&mut self, id: &str) {
        if let Some(cri) = self.cri.as_mut() {
            cri.forget(id);
        }
    }

    /// Adds what the container runtime's CRI says to every container's attribution.
    pub fn set_cri(&mut self, cri: Cri) {
        self.cri = Some(cri);
    }

    /// The container a cgroup path belongs to; `None` for host cgroups. `event_time` is the
    /// boot-clock time of the event: a container not found before it is looked up again
    /// (runc writes its state only after the container's first checks), one found is not.
    pub fn for_cgroup(&mut self, cgroup_path: &str, event_time: u64) -> Option<Arc<Attribution>> {
        let parsed = cgroup_path::parse(cgroup_path)?;
        // Found but without its runtime state (Docker writes config.v2.json before runc
        // writes state.json): the name is known, the init process and the bundle not yet,
        // so it is looked up again, at most every RELOOK_INTERVAL.
        let complete = |e: &Entry| {
            e.attribution.resolved
                && (e.attribution.init_pid.is_some()
                    || boottime_ns() < e.looked_at.saturating_add(RELOOK_INTERVAL))
        };
        if let Some(e) = self.cache.get(&parsed.id)
            && (event_time < e.looked_at || complete(e))
        {
            // Made again only when the CRI's answer changed (it came in, or failed).
            let unchanged = e.cri == CriState::Settled
                || self
                    .cri
                    .as_mut()
                    .is_none_or(|c| CriState::of(&c.answer(&parsed.id)) == e.cri);
            if unchanged {
                return Some(e.attribution.clone());
            }
        }
        let first_look = !self.cache.contains_key(&parsed.id);
        let looked_at = boottime_ns();
        let meta = metadata::lookup(&self.root, &parsed.id);
        if meta.is_none() && first_look {
            self.metadata_missing += 1;
            tracing::debug!(id = %parsed.id, path = cgroup_path, "container metadata not found");
        }
        // The CRI knows only what was made through it: a container whose runtime files
        // say otherwise (plain runc, Docker, Podman) is not asked about.
        let lookup = match self.cri.as_mut() {
            Some(c) if meta.as_ref().is_none_or(|m| m.cri_annotated) => c.answer(&parsed.id),
            _ => Lookup::Unknown,
        };
        let cri = match &lookup {
            Lookup::Found(info) => Some(info.clone()),
            _ => None,
        };
        // Resolved: the runtime's files were found (the CRI's answer alone does not say
        // where the bundle and the init process are: the files are looked up again).
        let resolved = meta.is_some();
        let mut meta = meta.unwrap_or_default();
        // The OCI state's annotations come first; the CRI fills what they lack.
        let mut labels: Arc<BTreeMap<String, String>> = Arc::default();
        let mut image_id = None;
        if let Some(info) = &cri {
            let fill = |m: &mut Option<String>, c: &Option<String>| {
                if m.is_none() {
                    m.clone_from(c);
                }
            };
            fill(&mut meta.pod_name, &info.pod_name);
            fill(&mut meta.pod_namespace, &info.pod_namespace);
            fill(&mut meta.pod_uid, &info.pod_uid);
            fill(&mut meta.k8s_container, &info.container_name);
            fill(&mut meta.name, &info.container_name);
            fill(&mut meta.image, &info.image);
            labels.clone_from(&info.pod_labels);
            image_id.clone_from(&info.image_id);
        }
        let runtime: Option<Runtime> = meta.runtime.or(parsed.runtime);
        let pod_uid = meta.pod_uid.clone().or(parsed.pod_uid);
        let k8s = (pod_uid.is_some() || meta.pod_name.is_some()).then(|| Kubernetes {
            namespace: meta.pod_namespace.clone(),
            pod: meta.pod_name.clone(),
            pod_uid,
            container: meta.k8s_container.clone(),
            labels,
        });
        let attribution = Arc::new(Attribution {
            container: Container {
                id: parsed.id.clone(),
                runtime: runtime.map(Runtime::name),
                name: meta.name.clone(),
                image: meta.image.clone(),
                image_id,
            },
            k8s,
            resolved,
            runtime,
            init_pid: meta.init_pid,
            bundle: meta.bundle.clone(),
            cri_pending: lookup == Lookup::Pending,
            // Not before the runtime's state is read (Docker's config.v2.json comes first):
            // the bundle, and so the grant, is not known until then.
            settled: resolved
                && meta.init_pid.is_some()
                && CriState::of(&lookup) == CriState::Settled,
        });
        if self.cache.len() >= MAX_CACHED {
            self.cache.clear();
        }
        self.cache.insert(
            parsed.id,
            Entry {
                attribution: attribution.clone(),
                looked_at,
                cri: CriState::of(&lookup),
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
