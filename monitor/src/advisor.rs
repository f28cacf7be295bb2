//! The least-privilege advisor: which capabilities each workload really uses, what it could
//! drop, and capability baselines.
//!
//! It reads the events the pipeline writes. A *workload* adds up its replicas and restarts:
//! Kubernetes namespace + pod-name stem (the owner's name: `web-7d9f8b6c5-x2x4z` -> `web`)
//! + container name; outside Kubernetes, image + container name.
//!
//! **Use** is an allowed capability check in the initial user namespace, made by the
//! workload's own processes (not by the runtime setting the container up: `runc:[N:NAME]`),
//! that is not a *probing* check. Probing checks are those whose failure changes nothing:
//! the kernel asks `has_capability_noaudit()` to decide something else. The fexit and
//! kprobe hooks see `cap_capable()`'s `opts` and so the kernel's own `CAP_OPT_NOAUDIT`;
//! the capability tracepoints carry no opts, so there privmon decides by capability and
//! syscall (see [`is_probing`]).

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    io::Write as _,
    path::{Path, PathBuf},
};

use crate::event::access::{Fields, Key, paths};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The alert raised for a use outside a learned baseline.
pub const BASELINE_RULE: &str = "capability_outside_baseline";
/// Version of the state file's format.
pub const STATE_VERSION: u32 = 1;
/// The state file in `state_dir`.
pub const STATE_FILE: &str = "advisor.json";
/// Workloads kept; beyond it the one seen least recently is forgotten.
pub const MAX_WORKLOADS: usize = 4096;
/// Operations remembered per capability (evidence, not a log).
const MAX_OPERATIONS: usize = 16;

/// Refused capabilities remembered per workload.
const MAX_DENIED: usize = 41;
/// Container ids remembered per workload, so that a restart of the daemon (which announces
/// running containers again) does not count them twice.
const MAX_RECENT_CONTAINERS: usize = 64;

/// Syscalls that make the kernel's overcommit accounting ask for CAP_SYS_ADMIN
/// (`cap_vm_enough_memory()`, a no-audit check that only sizes a reserve).
const MEMORY_SYSCALLS: &[&str] = &[
    "brk", "mmap", "mremap", "mprotect", "execve", "execveat", "clone", "clone3", "fork", "vfork",
    "shmget", "shmat",
];
/// Syscalls that read other processes' `/proc` entries, where `ptrace_may_access()` asks
/// for CAP_SYS_PTRACE without needing it for the read to go on (the entry is then shown
/// with less detail).
const PROC_READ_SYSCALLS: &[&str] = &[
    "openat",
    "open",
    "readlink",
    "readlinkat",
    "newfstatat",
    "statx",
    "stat",
    "lstat",
    "getdents64",
    "read",
    "pread64",
];

/// Now in unix seconds, the advisor's clock (the pipeline and the API both use it).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether a capability check only probes: the workload would work the same without the
/// capability. The kernel's own answer (`audit`, from `cap_capable()`'s `opts` on the
/// fexit and kprobe hooks) decides where there is one; else the capability and syscall.
pub fn is_probing(audit: Option<bool>, cap: &str, syscall: Option<&str>) -> bool {
    if let Some(audited) = audit {
        return !audited;
    }
    let Some(sc) = syscall else { return false };
    match cap {
        "CAP_SYS_ADMIN" => MEMORY_SYSCALLS.contains(&sc),
        "CAP_SYS_PTRACE" => PROC_READ_SYSCALLS.contains(&sc),
        _ => false,
    }
}

/// Whether an exec's `credentials` change raised privileges: an effective id other than
/// the real one, or permitted capabilities the process did not have before (all of them
/// when "before" is unknown).
fn gained_at_exec(c: &Value) -> bool {
    let (old, new) = (&c["old"], &c["new"]);
    let had = |cap: &Value| {
        old["capabilities"]["permitted"]
            .as_array()
            .is_some_and(|o| o.contains(cap))
    };
    new["euid"] != new["uid"]
        || new["egid"] != new["gid"]
        || new["capabilities"]["permitted"]
            .as_array()
            .is_some_and(|n| n.iter().any(|cap| !had(cap)))
}

/// Processes of the container runtime setting the container up (runc's init stages).
fn is_runtime_setup(comm: &str) -> bool {
    comm.strip_prefix("runc:[")
        .and_then(|r| r.strip_suffix(']'))
        .is_some_and(|r| {
            let mut parts = r.splitn(2, ':');
            parts
                .next()
                .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
                && parts
                    .next()
                    .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_uppercase()))
        })
}

/// The characters Kubernetes uses for generated name suffixes (no vowels).
const GENERATED: &str = "bcdfghjklmnpqrstvwxz2456789";

/// The owner's name from a pod name: drops a generated suffix (5 characters), then a
/// ReplicaSet hash (6 to 10) or a StatefulSet ordinal / CronJob schedule (digits).
pub fn pod_stem(pod: &str) -> String {
    let generated = |s: &str, lens: std::ops::RangeInclusive<usize>| {
        lens.contains(&s.len()) && s.chars().all(|c| GENERATED.contains(c))
    };
    let mut parts: Vec<&str> = pod.split('-').collect();
    if parts.len() > 1 && generated(parts[parts.len() - 1], 5..=5) {
        parts.pop();
        if parts.len() > 1 && generated(parts[parts.len() - 1], 6..=10) {
            parts.pop();
        }
    }
    if parts.len() > 1 && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit()) {
        parts.pop();
    }
    parts.join("-")
}

/// What identifies a workload across replicas and restarts.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WorkloadId {
    /// Kubernetes namespace; null outside Kubernetes.
    pub namespace: Option<String>,
    /// Pod-name stem in Kubernetes; the image outside.
    pub owner: String,
    pub container: String,
}

paths!(fn paths_of -> Paths {
    kind = "kind",
    k8s_pod = "k8s.pod",
    k8s_namespace = "k8s.namespace",
    k8s_container = "k8s.container",
    container_id = "container.id",
    container_name = "container.name",
    container_image = "container.image",
    container_image_id = "container.image_id",
    posture = "posture",
    cause = "cause",
    credentials = "credentials",
    capability_name = "capability.name",
    capability_verdict = "capability.verdict",
    capability_scope = "capability.scope",
    capability_audit = "capability.audit",
    syscall_name = "syscall.name",
    process_comm = "process.comm",
});

/// What a workload's identity is made of, as an event names it.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Names<'a> {
    id: &'a str,
    k8s_container: Option<&'a str>,
    name: Option<&'a str>,
    pod: Option<&'a str>,
    namespace: Option<&'a str>,
    image: Option<&'a str>,
}

impl<'a> Names<'a> {
    fn of(event: &'a (impl Fields + ?Sized)) -> Option<Names<'a>> {
        let p = paths_of();
        let s = |path: &[Key]| event.field(path).as_str();
        Some(Names {
            id: s(&p.container_id)?,
            k8s_container: s(&p.k8s_container),
            name: s(&p.container_name),
            pod: s(&p.k8s_pod),
            namespace: s(&p.k8s_namespace),
            image: s(&p.container_image),
        })
    }

    fn workload(&self) -> WorkloadId {
        let name = self
            .k8s_container
            .or(self.name)
            .map(str::to_string)
            .unwrap_or_else(|| self.id.chars().take(12).collect());
        match self.pod {
            Some(pod) => WorkloadId {
                namespace: self.namespace.map(str::to_string),
                owner: pod_stem(pod),
                container: name,
            },
            None => WorkloadId {
                namespace: None,
                owner: self.image.unwrap_or("unknown-image").to_string(),
                container: name,
            },
        }
    }
}

/// [`Names`] but the id, owned: what a cached workload id was made from.
#[derive(Clone, PartialEq, Eq)]
struct OwnedNames([Option<String>; 5]);

impl OwnedNames {
    fn of(n: &Names<'_>) -> OwnedNames {
        let o = |s: Option<&str>| s.map(str::to_string);
        OwnedNames([
            o(n.k8s_container),
            o(n.name),
            o(n.pod),
            o(n.namespace),
            o(n.image),
        ])
    }

    fn names(&self, n: &Names<'_>) -> bool {
        let [a, b, c, d, e] = &self.0;
        let eq = |x: &Option<String>, y: Option<&str>| x.as_deref() == y;
        eq(a, n.k8s_container)
            && eq(b, n.name)
            && eq(c, n.pod)
            && eq(d, n.namespace)
            && eq(e, n.image)
    }
}

/// Most containers whose workload id is kept.
const IDS_KEPT: usize = 4096;

impl WorkloadId {
    /// The workload of an event's container; None for host processes.
    pub fn of(event: &(impl Fields + ?Sized)) -> Option<WorkloadId> {
        Names::of(event).map(|n| n.workload())
    }
}

impl std::fmt::Display for WorkloadId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns}/{}/{}", self.owner, self.container),
            None => write!(f, "{}/{}", self.owner, self.container),
        }
    }
}

/// The container's grants, from the posture of its last `container_start`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Granted {
    /// Effective capabilities (`CAP_*`); null when unknown.
    pub capabilities: Option<Vec<String>>,
    pub privileged: Option<bool>,
    pub runs_as_root: Option<bool>,
    pub no_new_privs: Option<bool>,
    pub readonly_rootfs: Option<bool>,
    pub seccomp: Option<String>,
    pub host_namespaces: Option<Vec<String>>,
}

/// How a workload used one capability.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CapabilityUse {
    /// Unix seconds.
    pub first_seen: u64,
    pub last_seen: u64,
    /// Checks reported (the kernel's first-seen filter passes one per capability, syscall
    /// and command per window: this counts distinct uses, not every check).
    pub checks: u64,
    /// Syscalls that used it, at most 16.
    pub operations: BTreeSet<String>,
}

/// What privmon learned about one workload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    pub id: WorkloadId,
    pub first_seen: u64,
    pub last_seen: u64,
    /// Containers seen (replicas and restarts).
    pub instances: u64,
    #[serde(default)]
    recent_containers: Vec<String>,
    pub granted: Granted,
    pub used: BTreeMap<String, CapabilityUse>,
    /// When a capability was last used for the first time.
    pub last_new_capability: Option<u64>,
    /// A process gained privileges at an exec (set-user-id file, euid change).
    pub privilege_gain_seen: bool,
    /// Start of the learning period (first seen, or the last reset).
    pub learning_since: u64,
    /// The capabilities learned, once the learning period is over.
    pub baseline: Option<BTreeSet<String>>,
    /// Capabilities already alerted on as outside the baseline.
    #[serde(default)]
    pub alerted: BTreeSet<String>,
    /// Capabilities it tried and was refused (a broken feature or an attack: never a grant
    /// to add).
    #[serde(default)]
    pub denied: BTreeSet<String>,
    /// The image its last container started from: the image digest where the CRI told it
    /// (`container.image_id`), else the reference.
    #[serde(default)]
    pub image: Option<String>,
    /// The image when its baseline was fixed: a later use outside the baseline by another
    /// image is a rollout's doing as much as an intruder's, and its alert says so.
    #[serde(default)]
    pub baseline_image: Option<String>,
    /// The previous image's baseline while a new image's is learned (a rollout): uses
    /// outside it are alerted meanwhile, and it is part of the new baseline.
    #[serde(default)]
    pub prior: Option<BTreeSet<String>>,
}

impl Workload {
    /// Ends the learning period: what it used (and a rollout's prior) is the baseline, of
    /// the image it runs now.
    fn fix_baseline(&mut self) {
        let mut baseline: BTreeSet<String> = self.used.keys().cloned().collect();
        baseline.extend(self.prior.take().into_iter().flatten());
        self.baseline = Some(baseline);
        self.baseline_image = self.image.clone();
    }

    fn new(id: WorkloadId, now: u64) -> Workload {
        Workload {
            id,
            first_seen: now,
            last_seen: now,
            instances: 0,
            recent_containers: Vec::new(),
            granted: Granted::default(),
            used: BTreeMap::new(),
            last_new_capability: None,
            privilege_gain_seen: false,
            learning_since: now,
            baseline: None,
            alerted: BTreeSet::new(),
            denied: BTreeSet::new(),
            image: None,
            baseline_image: None,
            prior: None,
        }
    }

    /// Granted capabilities never used.
    pub fn unused(&self) -> Option<Vec<String>> {
        let granted = self.granted.capabilities.as_ref()?;
        Some(
            granted
                .iter()
                .filter(|c| !self.used.contains_key(*c))
                .cloned()
                .collect(),
        )
    }

    /// Whether the learning period is over.
    pub fn learned(&self) -> bool {
        self.baseline.is_some()
    }
}

/// A use of a capability outside a workload's learned baseline.
#[derive(Clone, Debug, PartialEq)]
pub struct OutsideBaseline {
    pub workload: WorkloadId,
    pub capability: String,
    pub operation: Option<String>,
    /// The image now, when it is not the one the baseline was learned from.
    pub new_image: Option<String>,
}

/// The on-disk form.
#[derive(Serialize, Deserialize)]
struct StateFile {
    version: u32,
    workloads: Vec<Workload>,
}

/// Observed use per workload, baselines, and their state file.
pub struct Advisor {
    workloads: BTreeMap<WorkloadId, Workload>,
    /// The workload id of each container, with the names it was made from (an event
    /// naming the container otherwise makes it again): not made per event.
    ids: crate::FastMap<String, (OwnedNames, std::sync::Arc<WorkloadId>)>,
    /// Learning period, seconds.
    learning_secs: u64,
    state_path: Option<PathBuf>,
    dirty: bool,
    /// Reads or writes of the state file that failed, and whether the last one did.
    state_errors: u64,
    state_ok: bool,
}

impl Advisor {
    pub fn new(learning_secs: u64, state_path: Option<PathBuf>) -> Advisor {
        Advisor {
            workloads: BTreeMap::new(),
            ids: crate::FastMap::default(),
            learning_secs,
            state_path,
            dirty: false,
            state_errors: 0,
            state_ok: true,
        }
    }

    /// Loads the state file, if any. A file that cannot be read as state is moved aside
    /// (`advisor.json.corrupt-<unix seconds>`) and reported; the advisor starts empty.
    pub fn load(learning_secs: u64, state_dir: &Path, now: u64) -> (Advisor, Option<String>) {
        let path = state_dir.join(STATE_FILE);
        let mut advisor = Advisor::new(learning_secs, Some(path.clone()));
        let text = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (advisor, None),
            Err(e) => {
                advisor.state_failed();
                return (advisor, Some(format!("reading {}: {e}", path.display())));
            }
        };
        let parsed = serde_json::from_slice::<StateFile>(&text)
            .map_err(|e| e.to_string())
            .and_then(|s| {
                if s.version == STATE_VERSION {
                    Ok(s)
                } else {
                    Err(format!(
                        "format version {} (expected {STATE_VERSION})",
                        s.version
                    ))
                }
            });
        match parsed {
            Ok(state) => {
                for w in state.workloads.into_iter().take(MAX_WORKLOADS) {
                    advisor.workloads.insert(w.id.clone(), w);
                }
                (advisor, None)
            }
            Err(why) => {
                advisor.state_failed();
                let aside = state_dir.join(format!("{STATE_FILE}.corrupt-{now}"));
                let moved = fs::rename(&path, &aside)
                    .map(|()| format!("moved to {}", aside.display()))
                    .unwrap_or_else(|e| format!("could not be moved aside: {e}"));
                (
                    advisor,
                    Some(format!(
                        "{} is not a valid state file ({why}); {moved}; starting empty",
                        path.display()
                    )),
                )
            }
        }
    }

    fn state_failed(&mut self) {
        self.state_errors += 1;
        self.state_ok = false;
    }

    /// Writes the state file if anything changed (see [`Advisor::write_state`]); the
    /// outcome is exported (`privmon_advisor_state_ok`).
    pub fn save(&mut self) -> anyhow::Result<()> {
        let saved = self.write_state();
        match saved {
            Ok(()) => self.state_ok = true,
            Err(_) => self.state_failed(),
        }
        saved
    }

    /// Writes the state file if anything changed: to a temporary file, synced, then renamed
    /// over the old one, so a crash leaves the old state or the new, never half of one.
    fn write_state(&mut self) -> anyhow::Result<()> {
        use anyhow::Context as _;
        let Some(path) = &self.state_path else {
            return Ok(());
        };
        if !self.dirty {
            return Ok(());
        }
        let state = StateFile {
            version: STATE_VERSION,
            workloads: self.workloads.values().cloned().collect(),
        };
        let text = serde_json::to_vec(&state)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let tmp = path.with_extension("json.tmp");
        let mut file =
            fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        file.write_all(&text)?;
        file.sync_all()?;
        fs::rename(&tmp, path).with_context(|| format!("renaming onto {}", path.display()))?;
        self.dirty = false;
        Ok(())
    }

    pub fn workloads(&self) -> impl Iterator<Item = &Workload> {
        self.workloads.values()
    }

    fn workload_of(&mut self, names: &Names<'_>) -> std::sync::Arc<WorkloadId> {
        if let Some((owned, id)) = self.ids.get(names.id)
            && owned.names(names)
        {
            return id.clone();
        }
        let id = std::sync::Arc::new(names.workload());
        if self.ids.len() >= IDS_KEPT {
            self.ids.clear();
        }
        self.ids
            .insert(names.id.to_string(), (OwnedNames::of(names), id.clone()));
        id
    }

    fn entry(&mut self, id: &WorkloadId, now: u64) -> &mut Workload {
        if !self.workloads.contains_key(id) && self.workloads.len() >= MAX_WORKLOADS {
            let oldest = self
                .workloads
                .values()
                .min_by_key(|w| w.last_seen)
                .map(|w| w.id.clone());
            if let Some(oldest) = oldest {
                self.workloads.remove(&oldest);
            }
        }
        // Looked up before it is inserted: most events are of workloads already known.
        if !self.workloads.contains_key(id) {
            self.workloads
                .insert(id.clone(), Workload::new(id.clone(), now));
        }
        let w = self.workloads.get_mut(id).expect("inserted above");
        w.last_seen = w.last_seen.max(now);
        w
    }

    /// Learns from one event (`now` in unix seconds); returns a use outside a baseline.
    pub fn observe(&mut self, event: &(impl Fields + ?Sized), now: u64) -> Option<OutsideBaseline> {
        let p = paths_of();
        let s = |path: &[Key]| event.field(path).as_str();
        let kind = s(&p.kind)?;
        if !matches!(kind, "container_start" | "capability" | "credentials") {
            return None;
        }
        // A check it learns nothing from (the runtime's set-up, a probe, a check in a user
        // namespace) makes no workload: the container may not even be known yet.
        let verdict = s(&p.capability_verdict);
        if kind == "capability" {
            let name = s(&p.capability_name)?;
            if !matches!(verdict, Some("allowed" | "denied"))
                || s(&p.capability_scope) != Some("host")
                || is_runtime_setup(s(&p.process_comm).unwrap_or(""))
                || is_probing(
                    event.field(&p.capability_audit).as_bool(),
                    name,
                    s(&p.syscall_name),
                )
            {
                return None;
            }
        }
        let id = self.workload_of(&Names::of(event)?);
        self.dirty = true;
        let learning_secs = self.learning_secs;
        let w = self.entry(&id, now);
        match kind {
            "container_start" => {
                let cid = s(&p.container_id).unwrap_or_default();
                if !w.recent_containers.iter().any(|c| c == cid) {
                    w.instances += 1;
                    w.recent_containers.push(cid.to_string());
                    if w.recent_containers.len() > MAX_RECENT_CONTAINERS {
                        w.recent_containers.remove(0);
                    }
                }
                w.granted = granted(&event.field(&p.posture).to_json().unwrap_or_default());
                if let Some(image) = s(&p.container_image_id).or(s(&p.container_image)) {
                    // A rollout: the new image learns a baseline of its own, with the
                    // previous one as a prior.
                    if w.baseline.is_some()
                        && w.baseline_image.as_deref().is_some_and(|b| b != image)
                    {
                        w.prior = w.baseline.take();
                        w.learning_since = now;
                    }
                    w.image = Some(image.to_string());
                }
                None
            }
            "credentials" => {
                // An exec that raised the privileges (a set-user-id or set-group-id file,
                // file capabilities) is what no_new_privs would forbid; a set*id() call, or
                // an exec that only dropped them, is not.
                if s(&p.cause) == Some("exec")
                    && gained_at_exec(&event.field(&p.credentials).to_json().unwrap_or_default())
                {
                    w.privilege_gain_seen = true;
                }
                None
            }
            _ => {
                // Checked above: a host-scope check of the workload's own, allowed or
                // denied.
                let name = s(&p.capability_name)?;
                let syscall = s(&p.syscall_name);
                if verdict == Some("denied") {
                    if w.denied.len() < MAX_DENIED {
                        w.denied.insert(name.to_string());
                    }
                    return None;
                }
                if w.baseline.is_none() && now.saturating_sub(w.learning_since) >= learning_secs {
                    w.fix_baseline();
                }
                let new = !w.used.contains_key(name);
                if new {
                    w.used.insert(
                        name.to_string(),
                        CapabilityUse {
                            first_seen: now,
                            ..CapabilityUse::default()
                        },
                    );
                }
                let u = w.used.get_mut(name).expect("inserted above");
                u.last_seen = now;
                u.checks += 1;
                let op = syscall.unwrap_or("(no syscall)");
                if u.operations.len() < MAX_OPERATIONS && !u.operations.contains(op) {
                    u.operations.insert(op.to_string());
                }
                if new {
                    w.last_new_capability = Some(now);
                }
                let outside = w
                    .baseline
                    .as_ref()
                    .or(w.prior.as_ref())
                    .is_some_and(|b| !b.contains(name));
                if outside && w.alerted.insert(name.to_string()) {
                    return Some(OutsideBaseline {
                        workload: w.id.clone(),
                        capability: name.to_string(),
                        operation: syscall.map(str::to_string),
                        new_image: w
                            .image
                            .clone()
                            .filter(|i| w.baseline_image.as_ref().is_some_and(|b| b != i)),
                    });
                }
                None
            }
        }
    }

    /// The workload's learned capabilities, once its learning period is over.
    pub fn baseline(&self, id: &WorkloadId) -> Option<&BTreeSet<String>> {
        self.workloads.get(id)?.baseline.as_ref()
    }

    /// Ends learning periods that are over (called periodically, so that the baseline state
    /// changes without events).
    pub fn tick(&mut self, now: u64) {
        for w in self.workloads.values_mut() {
            if w.baseline.is_none() && now.saturating_sub(w.learning_since) >= self.learning_secs {
                w.fix_baseline();
                self.dirty = true;
            }
        }
    }

    /// Forgets what the matching workloads used and restarts their learning; returns how
    /// many were reset.
    pub fn reset(&mut self, filter: &Filter, now: u64) -> usize {
        let mut n = 0;
        for w in self
            .workloads
            .values_mut()
            .filter(|w| filter.matches(&w.id))
        {
            w.used.clear();
            w.baseline = None;
            w.prior = None;
            w.alerted.clear();
            w.last_new_capability = None;
            w.privilege_gain_seen = false;
            w.learning_since = now;
            n += 1;
        }
        self.dirty |= n > 0;
        n
    }

    /// Advice for the matching workloads.
    pub fn advise(&self, filter: &Filter, now: u64) -> Vec<Advice> {
        self.workloads
            .values()
            .filter(|w| filter.matches(&w.id))
            .map(|w| Advice::new(w, now.max(w.last_seen).saturating_sub(w.first_seen)))
            .collect()
    }

    /// Every workload's observations, for `privmon baseline export` (`GET /baseline`).
    pub fn export(&self, node: &str, now: u64) -> Export {
        let mut workloads: Vec<Workload> = self.workloads.values().cloned().collect();
        workloads.sort_by(|a, b| a.id.cmp(&b.id));
        Export::new(node, now, workloads)
    }
}

/// What one daemon learned, as `privmon baseline export` writes it and `privmon advise
/// --merge` reads it (docs/advisor.md): versioned, with a digest of its workloads.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Export {
    /// `privmon-baseline`.
    pub format: String,
    pub version: u32,
    /// The node it was learned on.
    pub node: String,
    /// Unix seconds.
    pub exported_at: u64,
    pub workloads: Vec<Workload>,
    /// FNV-1a (128 bits, hex) of `workloads` as JSON: a file edited or cut since is refused.
    pub digest: String,
}

/// The export format's name and version (a newer version is refused, not guessed at).
pub const EXPORT_FORMAT: &str = "privmon-baseline";
pub const EXPORT_VERSION: u32 = 1;

impl Export {
    fn new(node: &str, now: u64, workloads: Vec<Workload>) -> Export {
        let digest = workloads_digest(&workloads);
        Export {
            format: EXPORT_FORMAT.to_string(),
            version: EXPORT_VERSION,
            node: node.to_string(),
            exported_at: now,
            workloads,
            digest,
        }
    }

    /// Reads an export, refusing (with the reason) one of another format, a newer
    /// version, or whose digest does not match its workloads.
    pub fn parse(text: &str) -> Result<Export, String> {
        let head: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        if head["format"] != EXPORT_FORMAT {
            return Err(format!(
                "not a {EXPORT_FORMAT} file (format: {})",
                head["format"]
            ));
        }
        match head["version"].as_u64() {
            Some(v) if v == u64::from(EXPORT_VERSION) => {}
            Some(v) if v > u64::from(EXPORT_VERSION) => {
                return Err(format!(
                    "version {v} is newer than this privmon reads ({EXPORT_VERSION}): upgrade privmon"
                ));
            }
            other => return Err(format!("unknown version {other:?}")),
        }
        // The digest of the file's own workloads, as written: fields a later privmon adds
        // to a workload do not make an older file's digest wrong.
        let digest = value_digest(&head["workloads"]);
        let export: Export =
            serde_json::from_value(head).map_err(|e| format!("not a valid export: {e}"))?;
        if digest != export.digest {
            return Err(format!(
                "its workloads do not match its digest ({} != {digest}): edited or cut",
                export.digest
            ));
        }
        Ok(export)
    }
}

fn workloads_digest(workloads: &[Workload]) -> String {
    value_digest(&serde_json::to_value(workloads).unwrap_or_default())
}

/// FNV-1a of a JSON value in compact form (keys sorted: serde_json's maps are ordered).
fn value_digest(v: &Value) -> String {
    let json = serde_json::to_vec(v).unwrap_or_default();
    format!("{:032x}", crate::digest::fnv1a_128(&json))
}

/// The workloads of several nodes' exports, each workload merged across them: the union of
/// what was used (earliest first use, latest last use, checks summed), instances summed
/// (a container seen by two exports counted once), privileges gained on any node, a
/// baseline learned where any node learned one; and the observation time summed over
/// nodes (each node's last sight less its first).
pub fn merge(exports: &[Export]) -> Vec<(Workload, u64)> {
    let mut by_id: BTreeMap<WorkloadId, (Workload, u64)> = BTreeMap::new();
    for e in exports {
        for w in &e.workloads {
            let observed = w.last_seen.saturating_sub(w.first_seen);
            match by_id.get_mut(&w.id) {
                None => {
                    by_id.insert(w.id.clone(), (w.clone(), observed));
                }
                Some((m, total)) => {
                    m.absorb(w);
                    *total += observed;
                }
            }
        }
    }
    by_id.into_values().collect()
}

/// Advice for merged workloads (see [`merge`]), filtered.
pub fn advise_merged(merged: &[(Workload, u64)], filter: &Filter) -> Vec<Advice> {
    merged
        .iter()
        .filter(|(w, _)| filter.matches(&w.id))
        .map(|(w, observed)| Advice::new(w, *observed))
        .collect()
}

impl Workload {
    /// Adds another node's observations of the same workload.
    fn absorb(&mut self, o: &Workload) {
        let shared = o
            .recent_containers
            .iter()
            .filter(|c| self.recent_containers.contains(c))
            .count() as u64;
        self.instances = (self.instances + o.instances).saturating_sub(shared);
        for c in &o.recent_containers {
            if !self.recent_containers.contains(c) {
                self.recent_containers.push(c.clone());
            }
        }
        let excess = self
            .recent_containers
            .len()
            .saturating_sub(MAX_RECENT_CONTAINERS);
        self.recent_containers.drain(..excess);
        if o.last_seen > self.last_seen {
            self.granted = o.granted.clone();
            self.image = o.image.clone().or(self.image.take());
        }
        if self.baseline_image.is_none() {
            self.baseline_image = o.baseline_image.clone();
        }
        self.first_seen = self.first_seen.min(o.first_seen);
        self.last_seen = self.last_seen.max(o.last_seen);
        for (cap, u) in &o.used {
            let m = self
                .used
                .entry(cap.clone())
                .or_insert_with(|| CapabilityUse {
                    first_seen: u.first_seen,
                    ..CapabilityUse::default()
                });
            m.first_seen = m.first_seen.min(u.first_seen);
            m.last_seen = m.last_seen.max(u.last_seen);
            m.checks = m.checks.saturating_add(u.checks);
            for op in &u.operations {
                if m.operations.len() < MAX_OPERATIONS {
                    m.operations.insert(op.clone());
                }
            }
        }
        self.last_new_capability = self.used.values().map(|u| u.first_seen).max();
        self.privilege_gain_seen |= o.privilege_gain_seen;
        self.learning_since = self.learning_since.min(o.learning_since);
        self.baseline = union(self.baseline.take(), &o.baseline);
        self.prior = union(self.prior.take(), &o.prior);
        self.alerted.extend(o.alerted.iter().cloned());
        for d in &o.denied {
            if self.denied.len() < MAX_DENIED {
                self.denied.insert(d.clone());
            }
        }
    }
}

/// Two nodes' sets merged: their union, unknown only if both are.
fn union(a: Option<BTreeSet<String>>, b: &Option<BTreeSet<String>>) -> Option<BTreeSet<String>> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(
            a.into_iter()
                .flatten()
                .chain(b.iter().flatten().cloned())
                .collect(),
        ),
    }
}

fn granted(posture: &Value) -> Granted {
    let strings = |v: &Value| {
        v.as_array().map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
    };
    Granted {
        capabilities: strings(&posture["capabilities"]["effective"]),
        privileged: posture["privileged"].as_bool(),
        runs_as_root: posture["runs_as_root"].as_bool(),
        no_new_privs: posture["no_new_privs"].as_bool(),
        readonly_rootfs: posture["readonly_rootfs"].as_bool(),
        seccomp: posture["seccomp"].as_str().map(str::to_string),
        host_namespaces: strings(&posture["host_namespaces"]),
    }
}

/// Selects workloads: each given field must match.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Filter {
    pub namespace: Option<String>,
    /// A pod name (matched by its stem) or the owner name itself.
    pub pod: Option<String>,
    pub container: Option<String>,
}

impl Filter {
    pub fn matches(&self, id: &WorkloadId) -> bool {
        self.namespace
            .as_ref()
            .is_none_or(|n| id.namespace.as_deref() == Some(n.as_str()))
            && self
                .pod
                .as_ref()
                .is_none_or(|p| id.owner == *p || id.owner == pod_stem(p))
            && self.container.as_ref().is_none_or(|c| id.container == *c)
    }
}

/// The recommendation for one workload, with its evidence.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Advice {
    pub workload: WorkloadId,
    /// Seconds between first and last sight.
    pub observed_secs: u64,
    pub instances: u64,
    pub last_new_capability: Option<u64>,
    pub granted: Granted,
    /// Capabilities to keep, with the operations that used them.
    pub used: BTreeMap<String, CapabilityUse>,
    /// Granted but never used.
    pub unused: Option<Vec<String>>,
    /// Tried and refused.
    #[serde(default)]
    pub denied: BTreeSet<String>,
    pub privilege_gain_seen: bool,
    pub baseline: BaselineState,
    /// The `securityContext` to apply.
    pub security_context: Value,
    /// The same for `docker run` / `podman run`.
    pub docker_flags: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BaselineState {
    Learning { since: u64 },
    Learned { capabilities: BTreeSet<String> },
}

fn short(cap: &str) -> &str {
    cap.strip_prefix("CAP_").unwrap_or(cap)
}

impl Advice {
    fn new(w: &Workload, observed_secs: u64) -> Advice {
        let add: Vec<&str> = w.used.keys().map(|c| short(c)).collect();
        let mut sc = serde_json::json!({
            "privileged": false,
            "capabilities": { "drop": ["ALL"], "add": add },
        });
        if !w.privilege_gain_seen {
            sc["allowPrivilegeEscalation"] = false.into();
        }
        if w.granted.runs_as_root == Some(false) {
            sc["runAsNonRoot"] = true.into();
        }
        if w.granted.readonly_rootfs == Some(true) {
            sc["readOnlyRootFilesystem"] = true.into();
        }
        if w.granted.seccomp.as_deref() == Some("filter") {
            // Keep a filter it already runs with; (privileged containers run without).
            sc["seccompProfile"] = serde_json::json!({ "type": "RuntimeDefault" });
        }
        let mut docker = vec!["--cap-drop=ALL".to_string()];
        docker.extend(add.iter().map(|c| format!("--cap-add={c}")));
        if !w.privilege_gain_seen {
            docker.push("--security-opt=no-new-privileges".to_string());
        }
        if w.granted.readonly_rootfs == Some(true) {
            docker.push("--read-only".to_string());
        }
        Advice {
            workload: w.id.clone(),
            observed_secs,
            instances: w.instances,
            last_new_capability: w.last_new_capability,
            granted: w.granted.clone(),
            used: w.used.clone(),
            unused: w.unused(),
            denied: w.denied.clone(),
            privilege_gain_seen: w.privilege_gain_seen,
            baseline: match &w.baseline {
                Some(b) => BaselineState::Learned {
                    capabilities: b.clone(),
                },
                None => BaselineState::Learning {
                    since: w.learning_since,
                },
            },
            security_context: sc,
            docker_flags: docker,
        }
    }

    /// A YAML document: the evidence as comments, then the `securityContext` to put in the
    /// container's spec.
    pub fn to_yaml(&self) -> String {
        let mut out = format!(
            "# privmon advice for {}\n# apply: set this securityContext on container \"{}\" \
             of the workload's pod template\n",
            self.workload, self.workload.container
        );
        out.push_str(&format!(
            "# observed {} over {} instance(s); last new capability: {}\n",
            duration(self.observed_secs),
            self.instances,
            self.last_new_capability.map_or("none".to_string(), rfc3339)
        ));
        for (cap, u) in &self.used {
            let ops: Vec<&str> = u.operations.iter().map(String::as_str).collect();
            out.push_str(&format!(
                "# keep {}: used by {} (last {})\n",
                short(cap),
                ops.join(", "),
                rfc3339(u.last_seen)
            ));
        }
        if let Some(unused) = &self.unused
            && !unused.is_empty()
        {
            let names: Vec<&str> = unused.iter().map(|c| short(c)).collect();
            out.push_str(&format!("# granted, never used: {}\n", names.join(", ")));
        }
        if self.granted.privileged == Some(true) {
            out.push_str("# runs privileged now: nothing it did needed it\n");
        }
        if self.privilege_gain_seen {
            out.push_str(
                "# a process gained privileges at an exec (set-user-id file): \
                 allowPrivilegeEscalation is left as it is\n",
            );
        }
        let doc = serde_json::json!({ "securityContext": self.security_context });
        out.push_str(&serde_yaml_ng::to_string(&doc).unwrap_or_default());
        out
    }
}

fn duration(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

fn rfc3339(unix: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix))
        .to_string()
}

pub mod check;
pub mod report;

#[cfg(test)]
mod tests;

/// The advisor's metrics: its state file's health, and per workload the capabilities it
/// is granted and never used and whether its baseline is fixed.
impl crate::scrape::Source for std::sync::Mutex<Advisor> {
    fn collect(&self, scrape: &mut crate::scrape::Scrape) -> anyhow::Result<()> {
        let advisor = self.lock().unwrap_or_else(|e| e.into_inner());
        scrape.counter(
            "privmon_advisor_state_errors_total",
            "Advisor state files that could not be read (set aside) or written.",
            advisor.state_errors,
        )?;
        scrape.gauge(
            "privmon_advisor_state_ok",
            "0 when the last read or write of the advisor's state file failed.",
            i64::from(advisor.state_ok),
        )?;
        for w in advisor.workloads() {
            let labels = [
                ("namespace", w.id.namespace.as_deref().unwrap_or("")),
                ("workload", w.id.owner.as_str()),
                ("container", w.id.container.as_str()),
            ];
            if let Some(u) = w.unused() {
                scrape.gauge_series(
                    "privmon_workload_capabilities_unused",
                    "Capabilities the workload's containers are granted and have never used \
                     (privmon advise shows which).",
                    &labels,
                    u.len() as i64,
                )?;
            }
            scrape.gauge_series(
                "privmon_workload_baseline_learned",
                "1 once the workload's capability baseline is fixed (uses outside it raise \
                 capability_outside_baseline); 0 while learning.",
                &labels,
                i64::from(w.learned()),
            )?;
        }
        Ok(())
    }
}
