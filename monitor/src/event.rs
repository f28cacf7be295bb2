//! The JSON event contract (docs/events.md) as types: every kind of event, built from the
//! decoded kernel records of [`record`].
//!
//! The contract's blocks declare their fields in byte order of their names, and the events
//! that carry a header write their keys in that order too: the JSON has sorted keys, as it
//! had when v1 serialized every event through `serde_json::Value` (a `BTreeMap`), and
//! `tests::serialized_directly_as_through_json_values` holds every kind to it.

pub mod access;
pub mod container;
pub mod record;
#[cfg(test)]
pub mod samples;
pub mod shared;

use std::{collections::BTreeMap, sync::Arc, time::SystemTime};

use monitor_common::{
    AUDIT_NO, AUDIT_YES, CapabilityRecord, SCOPE_HOST, SCOPE_USER_NAMESPACE, SYSCALL_IA32,
    SYSCALL_IO_WORKER, VERDICT_ALLOWED,
};
use serde::{Serialize, ser::SerializeMap};

use self::access::{Event, Fields, Key, Name, Val, block};
pub use self::{
    container::{Container, Kubernetes, Posture, PostureCapabilities},
    shared::Shared,
};
pub use crate::event::record::{DecodeError, Exec, Operation, Record, c_string, decode};
use crate::{
    catalog::capabilities::{CapEffective, CapSet, Capability, HexMask},
    catalog::syscalls::Arch,
};

/// Converts `bpf_ktime_get_boot_ns()` stamps to wall-clock time.
#[derive(Clone, Debug)]
pub struct Clock {
    /// Wall-clock nanoseconds since the epoch at boot.
    boot_epoch_ns: i128,
    /// The last second written, and its text up to the fraction (`2026-12-03T19:00:00.`):
    /// events come many to a second.
    second: std::cell::Cell<(u64, [u8; 20])>,
}

/// Now, on the clock of `bpf_ktime_get_boot_ns()` (CLOCK_BOOTTIME).
pub fn boottime_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid pointer to a timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

impl Clock {
    pub fn new() -> Clock {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        Clock {
            boot_epoch_ns: now - boottime_ns() as i128,
            second: std::cell::Cell::new((u64::MAX, [0; 20])),
        }
    }

    /// RFC 3339 UTC time of a boot-clock stamp, to the nanosecond
    /// (`2026-12-03T19:00:00.123456789Z`, as `humantime::format_rfc3339_nanos` writes it).
    pub fn rfc3339(&self, boot_ns: u64) -> String {
        let ns = (self.boot_epoch_ns + boot_ns as i128).max(0) as u64;
        let (secs, nanos) = (ns / 1_000_000_000, ns % 1_000_000_000);
        let (cached, mut prefix) = self.second.get();
        if cached != secs {
            let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs);
            let whole = humantime::format_rfc3339_seconds(t).to_string();
            match whole.as_bytes().get(..19) {
                Some(date) if whole.len() == 20 => {
                    prefix[..19].copy_from_slice(date);
                    prefix[19] = b'.';
                    self.second.set((secs, prefix));
                }
                // Beyond year 9999: no shortcut.
                _ => {
                    let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_nanos(ns);
                    return humantime::format_rfc3339_nanos(t).to_string();
                }
            }
        }
        let mut out = String::with_capacity(30);
        out.push_str(std::str::from_utf8(&prefix).unwrap_or_default());
        // Writing to a String cannot fail.
        let _ = std::fmt::Write::write_fmt(&mut out, format_args!("{nanos:09}Z"));
        out
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// The process that made the check.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Process {
    /// Parent, grandparent, ... (at most [`crate::resolve::processes::MAX_ANCESTORS`]); shared by
    /// the process's events while its ancestry stays the same.
    pub ancestors: Shared<Vec<Ancestor>>,
    /// Shared by the process's events.
    pub args: Option<Shared<Vec<String>>>,
    /// Effective capability set of the credentials that were checked, against the
    /// container's grant.
    pub cap_effective: CapEffective,
    pub comm: String,
    pub euid: Option<u32>,
    pub exe: Option<Arc<str>>,
    /// The thread is an io_uring worker running a submission of the process (`iou-wrk-*`):
    /// no syscall names the operation. Written only when true.
    #[serde(skip_serializing_if = "Flag::is_off")]
    pub io_worker: Flag,
    pub pid: u32,
    pub ppid: Option<u32>,
    pub tid: u32,
    pub uid: Option<u32>,
}

/// A capability set, as the list of its names.
impl access::List for CapSet {
    fn len(&self) -> usize {
        self.0.count_ones() as usize
    }

    fn item(&self, i: usize, rest: &[Key]) -> Val<'_> {
        match (self.names().nth(i), rest) {
            (Some(name), []) => Val::Str(name),
            _ => Val::Missing,
        }
    }
}

impl Fields for CapSet {
    fn field(&self, path: &[Key]) -> Val<'_> {
        access::list(self, path)
    }
}

block!(CapEffective {
    Added: added,
    Dropped: dropped,
    Mask: mask,
});

/// A field written only when true (absent, not false, otherwise: rules read it so too).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Flag(pub bool);

impl Flag {
    pub fn is_off(&self) -> bool {
        !self.0
    }
}

impl Fields for Flag {
    fn field(&self, path: &[Key]) -> Val<'_> {
        match (self.0, path) {
            (true, []) => Val::Bool(true),
            _ => Val::Missing,
        }
    }
}

impl Fields for HexMask {
    fn field(&self, path: &[Key]) -> Val<'_> {
        match path {
            [] => Val::Str(self.as_str()),
            _ => Val::Missing,
        }
    }
}

/// An event as the sinks take it: with the pod and container blocks it shares with the
/// container's other events, where it has them (the stream's filters read them).
pub trait Published: Event {
    #[allow(clippy::type_complexity)]
    fn blocks(&self) -> Option<(Option<&Shared<Kubernetes>>, Option<&Shared<Container>>)> {
        None
    }

    /// The cgroup whose process did the act (none: an alert, a container's lifecycle).
    fn cgroup_id(&self) -> Option<u64> {
        None
    }
}

/// Alerts, read back from their JSON.
impl Published for serde_json::Value {}

impl Process {
    /// A process nothing is known of (pid 0).
    pub fn unknown() -> Process {
        Process {
            ancestors: Process::no_ancestors(),
            args: None,
            cap_effective: CapEffective::new(0, None),
            comm: String::new(),
            euid: None,
            exe: None,
            io_worker: Flag(false),
            pid: 0,
            ppid: None,
            tid: 0,
            uid: None,
        }
    }

    /// The ancestry of a process whose parent is unknown (shared: no allocation).
    pub fn no_ancestors() -> Shared<Vec<Ancestor>> {
        static NONE: std::sync::LazyLock<Shared<Vec<Ancestor>>> =
            std::sync::LazyLock::new(|| Shared::new(Vec::new()));
        NONE.clone()
    }
}

block!(Process {
    Ancestors: ancestors,
    Args: args,
    CapEffective: cap_effective,
    Comm: comm,
    Euid: euid,
    Exe: exe,
    IoWorker: io_worker,
    Pid: pid,
    Ppid: ppid,
    Tid: tid,
    Uid: uid,
});

/// One ancestor of a process.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Ancestor {
    pub comm: String,
    pub exe: Option<Arc<str>>,
    pub pid: u32,
}

block!(Ancestor {
    Comm: comm,
    Exe: exe,
    Pid: pid,
});

/// The cgroup of the process (cgroup v2 id and path relative to the v2 root).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Cgroup {
    pub id: u64,
    /// Shared by the cgroup's events.
    pub path: Option<Shared<Arc<str>>>,
}

block!(Cgroup { Id: id, Path: path });

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CapabilityUse {
    /// Whether the kernel audits the check: false for probing checks
    /// (`has_capability_noaudit()`); None where the hook cannot tell (the tracepoints).
    pub audit: Option<bool>,
    pub name: std::borrow::Cow<'static, str>,
    pub number: u32,
    /// `host` (initial user namespace), `user_namespace` (a child one) or `unknown`.
    pub scope: &'static str,
    /// `allowed` or `denied`.
    pub verdict: &'static str,
}

block!(CapabilityUse {
    Audit: audit,
    Name: name,
    Number: number,
    Scope: scope,
    Verdict: verdict,
});

/// One capability check of an operation (`checks` of `syscall`, `namespace` and
/// `credentials` events): the kernel may check several capabilities, or one several
/// times, in one call. Identical checks are counted, not repeated.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Check {
    pub count: u32,
    pub name: std::borrow::Cow<'static, str>,
    /// As [`CapabilityUse::scope`].
    pub scope: &'static str,
    /// `allowed` or `denied`.
    pub verdict: &'static str,
}

block!(Check {
    Count: count,
    Name: name,
    Scope: scope,
    Verdict: verdict,
});

impl Check {
    /// The first check of an operation.
    pub fn of(cap: &CapabilityUse) -> Check {
        Check {
            count: 1,
            name: cap.name.clone(),
            scope: cap.scope,
            verdict: cap.verdict,
        }
    }
}

/// Adds a later check of the same call to an operation's checks. The operation's
/// `capability` stays its first check: which check decided the call cannot be told from the
/// checks alone (bpf() map creation with CAP_BPF succeeds after refused CAP_PERFMON and
/// CAP_SYS_ADMIN probes).
pub fn add_check(checks: &mut Vec<Check>, cap: &CapabilityUse) {
    match checks
        .iter_mut()
        .find(|c| c.name == cap.name && c.verdict == cap.verdict && c.scope == cap.scope)
    {
        Some(c) => c.count = c.count.saturating_add(1),
        None => checks.push(Check::of(cap)),
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Syscall {
    pub args: [u64; 6],
    /// Made through the ia32 entry (`int 0x80`, a 32-bit binary): `number` and `name` are
    /// ia32's, and `args` the x86_64 argument registers, which such a call does not use.
    /// Written only when true.
    #[serde(skip_serializing_if = "Flag::is_off")]
    pub ia32: Flag,
    pub name: Option<&'static str>,
    pub number: i64,
}

impl Syscall {
    /// The syscall of a record's number (with [`SYSCALL_IA32`] for an ia32 call); none for
    /// a negative one (unknown, an io_uring worker's).
    pub fn of(nr: i64, args: [u64; 6]) -> Option<Syscall> {
        if nr < 0 {
            return None;
        }
        let ia32 = nr & SYSCALL_IA32 != 0;
        let (arch, number) = if ia32 {
            (Some(Arch::I386), nr & 0xffff_ffff)
        } else {
            (Arch::host(), nr)
        };
        Some(Syscall {
            args,
            ia32: Flag(ia32),
            name: arch.and_then(|a| a.name(number)),
            number,
        })
    }
}

block!(Syscall {
    Args: args,
    Ia32: ia32,
    Name: name,
    Number: number,
});

/// What every event made by a process carries: when, what kind, where and who. The
/// events that carry it write its keys among their own, in sorted order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub time: String,
    pub kind: &'static str,
    pub node: Arc<str>,
    pub process: Process,
    /// null for host processes (and for a process whose cgroup vanished before it could be
    /// resolved). Shared by the container's events.
    pub container: Option<Shared<Container>>,
    /// null outside Kubernetes.
    pub k8s: Option<Shared<Kubernetes>>,
    pub cgroup: Cgroup,
    /// What enforcement did at the act (`capability`, `syscall`, `namespace`,
    /// `credentials` events); written only when it acted.
    pub enforcement: Option<EnforcementAct>,
}

/// The `enforcement` block: what privmon's enforcement did at an act (docs/enforcement.md).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EnforcementAct {
    /// `kill`, `deny`, `would_kill` or `would_deny` (a dry run).
    pub action: &'static str,
    /// What armed the container: `rule:<id>` or `protect`; null when no longer known.
    pub policy: Option<Arc<str>>,
}

block!(EnforcementAct {
    Action: action,
    Policy: policy,
});

impl EnforcementAct {
    /// The action a record's `action` byte names (None: no action).
    pub fn action_name(action: u8) -> Option<&'static str> {
        use monitor_common::action as a;
        match action {
            a::KILL => Some("kill"),
            a::DENY => Some("deny"),
            a::WOULD_KILL => Some("would_kill"),
            a::WOULD_DENY => Some("would_deny"),
            _ => None,
        }
    }
}

/// How an act's line (`capability`, `syscall`, `namespace`, `credentials`) names where it
/// happened: `container_start` said the rest once (image, runtime, pod uid and labels, the
/// cgroup's path), so the line carries the container's id and name, the pod's namespace and
/// name, and the cgroup's id (its path too, for a process in no known container). The rules
/// read the whole blocks, and an alert carries them whole.
struct Brief<'a> {
    cgroup: &'a Cgroup,
    container: Option<&'a Container>,
    k8s: Option<&'a Kubernetes>,
}

impl<'a> Brief<'a> {
    fn of(h: &'a Header) -> Brief<'a> {
        Brief {
            cgroup: &h.cgroup,
            container: h.container.as_deref(),
            k8s: h.k8s.as_deref(),
        }
    }

    fn cgroup(&self) -> impl Serialize + 'a {
        BriefCgroup {
            id: self.cgroup.id,
            path: self.container.is_none().then_some(&self.cgroup.path),
        }
    }

    fn container(&self) -> Option<impl Serialize + 'a> {
        let k8s_name = self.k8s.and_then(|k| k.container.as_ref());
        self.container.map(|c| BriefContainer {
            id: short_id(&c.id),
            // Kubernetes' name where the runtime's files had none.
            name: c.name.as_ref().or(k8s_name),
        })
    }

    fn k8s(&self) -> Option<impl Serialize + 'a> {
        self.k8s.map(|k| BriefK8s {
            namespace: &k.namespace,
            pod: &k.pod,
        })
    }
}

/// The container, pod and cgroup blocks of an event, whole: an act's line names them
/// briefly (docs/events.md), its alert carries them as `container_start` did. An
/// operation's alert carries its `capability` too (the call's first check, which the rules
/// read: the line lists it among its `checks`).
#[derive(Clone, Debug, Default)]
pub struct Whole(Option<([serde_json::Value; 3], Option<serde_json::Value>)>);

impl Whole {
    pub fn of(event: &(impl Fields + ?Sized)) -> Whole {
        let p = block_paths();
        let get = |path: &[Key]| {
            event
                .field(path)
                .to_json()
                .unwrap_or(serde_json::Value::Null)
        };
        Whole(Some((
            [get(&p.container), get(&p.k8s), get(&p.cgroup)],
            event.field(&p.capability).to_json(),
        )))
    }

    /// Puts the blocks into the event's parsed line.
    pub fn fill(&self, event: &mut serde_json::Value) {
        if let (Some(([container, k8s, cgroup], capability)), Some(obj)) =
            (&self.0, event.as_object_mut())
        {
            obj.insert("container".into(), container.clone());
            obj.insert("k8s".into(), k8s.clone());
            obj.insert("cgroup".into(), cgroup.clone());
            if let Some(capability) = capability {
                obj.insert("capability".into(), capability.clone());
            }
        }
    }
}

crate::event::access::paths!(fn block_paths -> BlockPaths {
    container = "container",
    k8s = "k8s",
    cgroup = "cgroup",
    capability = "capability",
});

/// A container id as `docker ps`, `crictl ps` and Falco show it: the first 12 hex digits of
/// a 64-digit id (an id of another form, such as a runc container's name, whole).
pub fn short_id(id: &str) -> &str {
    match id.get(..12) {
        Some(short) if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) => short,
        _ => id,
    }
}

#[derive(Serialize)]
struct BriefCgroup<'a> {
    id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a Option<Shared<Arc<str>>>>,
}

#[derive(Serialize)]
struct BriefContainer<'a> {
    id: &'a str,
    name: Option<&'a String>,
}

#[derive(Serialize)]
struct BriefK8s<'a> {
    namespace: &'a Option<String>,
    pod: &'a Option<String>,
}

impl Header {
    pub fn field(&self, name: Name, rest: &[Key]) -> Val<'_> {
        match name {
            Name::Cgroup => self.cgroup.field(rest),
            Name::Container => self.container.field(rest),
            Name::Enforcement => match &self.enforcement {
                Some(e) => e.field(rest),
                None => Val::Missing,
            },
            Name::K8s => self.k8s.field(rest),
            Name::Kind => self.kind.field(rest),
            Name::Node => self.node.field(rest),
            Name::Process => self.process.field(rest),
            Name::Time => self.time.field(rest),
            _ => Val::Missing,
        }
    }
}

/// A `capability` event: one line of the JSON output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilityEvent {
    pub header: Header,
    pub capability: CapabilityUse,
    /// The syscall behind the check; null for checks outside a syscall (kernel threads).
    pub syscall: Option<Syscall>,
}

impl Serialize for CapabilityEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let h = &self.header;
        let mut m = s.serialize_map(Some(9))?;
        m.serialize_entry("capability", &self.capability)?;
        let brief = Brief::of(h);
        m.serialize_entry("cgroup", &brief.cgroup())?;
        m.serialize_entry("container", &brief.container())?;
        if let Some(e) = &h.enforcement {
            m.serialize_entry("enforcement", e)?;
        }
        m.serialize_entry("k8s", &brief.k8s())?;
        m.serialize_entry("kind", h.kind)?;
        m.serialize_entry("node", &h.node)?;
        m.serialize_entry("process", &h.process)?;
        m.serialize_entry("syscall", &self.syscall)?;
        m.serialize_entry("time", &h.time)?;
        m.end()
    }
}

impl Fields for CapabilityEvent {
    fn field(&self, path: &[Key]) -> Val<'_> {
        match path {
            [] => Val::Object {
                empty: false,
                block: self,
            },
            [k, rest @ ..] => match k.name {
                Name::Capability => self.capability.field(rest),
                Name::Syscall => self.syscall.field(rest),
                n => self.header.field(n, rest),
            },
        }
    }
}

impl Published for CapabilityEvent {
    fn blocks(&self) -> Option<(Option<&Shared<Kubernetes>>, Option<&Shared<Container>>)> {
        Some((self.header.k8s.as_ref(), self.header.container.as_ref()))
    }

    fn cgroup_id(&self) -> Option<u64> {
        Some(self.header.cgroup.id)
    }
}

impl Event for CapabilityEvent {
    fn kind(&self) -> &str {
        self.header.kind
    }

    fn static_kind(&self) -> Option<&'static str> {
        Some(self.header.kind)
    }
}

/// The `syscall` block of a `syscall` or `namespace` event.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SyscallDetail {
    /// Decoded arguments by name.
    pub args: BTreeMap<&'static str, serde_json::Value>,
    pub name: &'static str,
    pub number: i64,
    /// The syscall's return value where a fallback tracepoint saw it return; null when it
    /// is seen at its capability check, before it returns.
    pub result: Option<i64>,
}

block!(SyscallDetail {
    Args: args,
    Name: name,
    Number: number,
    Result: result,
});

/// A `syscall` (sensitive operation) or `namespace` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationEvent {
    /// Its `kind` is `syscall` or `namespace`.
    pub header: Header,
    /// `mounts`, `namespaces`, `kernel`, `processes`, `files`, `misc`.
    pub group: &'static str,
    pub syscall: SyscallDetail,
    /// The operation's first capability check (its verdict is usually the call's: later
    /// checks may be probes); null when a fallback tracepoint saw an operation that made
    /// none.
    pub capability: Option<CapabilityUse>,
    /// Every capability check the call made (empty: none was seen).
    pub checks: Vec<Check>,
    /// What saw it: `capability_check`, `syscall_tracepoint` (a group's fallback) or
    /// `exec_tracepoint` (an exec from a memfd).
    pub source: &'static str,
    /// For `namespace` events (left out of the JSON of the others).
    pub namespace: Option<NamespaceChange>,
}

impl Serialize for OperationEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let h = &self.header;
        let mut m = s.serialize_map(None)?;
        let brief = Brief::of(h);
        m.serialize_entry("cgroup", &brief.cgroup())?;
        m.serialize_entry("checks", &self.checks)?;
        m.serialize_entry("container", &brief.container())?;
        if let Some(e) = &h.enforcement {
            m.serialize_entry("enforcement", e)?;
        }
        m.serialize_entry("group", self.group)?;
        m.serialize_entry("k8s", &brief.k8s())?;
        m.serialize_entry("kind", h.kind)?;
        if let Some(ns) = &self.namespace {
            m.serialize_entry("namespace", ns)?;
        }
        m.serialize_entry("node", &h.node)?;
        m.serialize_entry("process", &h.process)?;
        m.serialize_entry("source", self.source)?;
        m.serialize_entry("syscall", &self.syscall)?;
        m.serialize_entry("time", &h.time)?;
        m.end()
    }
}

impl Fields for OperationEvent {
    fn field(&self, path: &[Key]) -> Val<'_> {
        match path {
            [] => Val::Object {
                empty: false,
                block: self,
            },
            [k, rest @ ..] => match k.name {
                Name::Capability => self.capability.field(rest),
                Name::Checks => self.checks.field(rest),
                Name::Group => self.group.field(rest),
                Name::Namespace => match &self.namespace {
                    Some(ns) => ns.field(rest),
                    None => Val::Missing,
                },
                Name::Source => self.source.field(rest),
                Name::Syscall => self.syscall.field(rest),
                n => self.header.field(n, rest),
            },
        }
    }
}

impl Published for OperationEvent {
    fn blocks(&self) -> Option<(Option<&Shared<Kubernetes>>, Option<&Shared<Container>>)> {
        Some((self.header.k8s.as_ref(), self.header.container.as_ref()))
    }

    fn cgroup_id(&self) -> Option<u64> {
        Some(self.header.cgroup.id)
    }
}

impl Event for OperationEvent {
    fn kind(&self) -> &str {
        self.header.kind
    }

    fn static_kind(&self) -> Option<&'static str> {
        Some(self.header.kind)
    }
}

/// The `namespace` block of a `namespace` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NamespaceChange {
    /// `unshare`, `setns` or `clone`.
    pub operation: &'static str,
    /// `setns`: the namespace joined, from the process's file descriptor while it is open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<NamespaceTarget>,
    /// Namespace types created or joined; null where the registers do not tell (clone3).
    pub types: Option<Vec<&'static str>>,
}

block!(NamespaceChange {
    Operation: operation,
    Target?_: target,
    Types: types,
});

/// The namespace a `setns` joins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NamespaceTarget {
    pub inode: u64,
    /// `host` when it is one of the host's namespaces (pid 1's), else `container`.
    pub owner: &'static str,
    /// `mnt`, `net`, `uts`, ... as in `/proc/<pid>/ns`.
    #[serde(rename = "type")]
    pub kind: String,
}

block!(NamespaceTarget {
    Inode: inode,
    Owner: owner,
    Type: kind,
});

/// User ids of a process.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Ids {
    /// Capability sets: `capset` (before, and asked for) and `exec` (absent where unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<CapabilitySets>,
    pub egid: Option<u32>,
    pub euid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fsgid: Option<u32>,
    /// `setfsuid`/`setfsgid`: the filesystem id asked for (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fsuid: Option<u32>,
    pub gid: Option<u32>,
    /// `setgroups`: the supplementary groups asked for (at most the first 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<u32>>,
    pub uid: Option<u32>,
}

block!(Ids {
    Capabilities?_: capabilities,
    Egid: egid,
    Euid: euid,
    Fsgid?_: fsgid,
    Fsuid?_: fsuid,
    Gid: gid,
    Groups?_: groups,
    Uid: uid,
});

impl Ids {
    /// Just the user and group ids.
    pub fn of(uid: Option<u32>, euid: Option<u32>, gid: Option<u32>, egid: Option<u32>) -> Ids {
        Ids {
            uid,
            euid,
            gid,
            egid,
            fsuid: None,
            fsgid: None,
            groups: None,
            capabilities: None,
        }
    }
}

/// Capability sets by name.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CapabilitySets {
    pub effective: Vec<String>,
    /// Absent where not read (exec).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inheritable: Option<Vec<String>>,
    pub permitted: Vec<String>,
}

block!(CapabilitySets {
    Effective: effective,
    Inheritable?_: inheritable,
    Permitted: permitted,
});

impl CapabilitySets {
    pub fn from_masks(effective: u64, permitted: u64, inheritable: Option<u64>) -> CapabilitySets {
        let names = |m: u64| Capability::from_mask(m).map(Capability::name).collect();
        CapabilitySets {
            effective: names(effective),
            permitted: names(permitted),
            inheritable: inheritable.map(names),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CredentialsChange {
    pub new: Ids,
    /// Before the change; null when privmon did not know the process (nor its parent).
    pub old: Option<Ids>,
}

block!(CredentialsChange { New: new, Old: old });

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ExecDetail {
    /// The file executed, as the process named it.
    pub filename: Option<String>,
}

block!(ExecDetail { Filename: filename });

/// A `credentials` event: a process's user ids changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialsEvent {
    pub header: Header,
    pub credentials: CredentialsChange,
    /// `exec`: the exec of a set-user-id file (or of any file by a process whose effective
    /// uid differed from the one before); `setuid`, `setreuid`, `setresuid`: the call, at
    /// its capability check (`new` holds the ids it asked for).
    pub cause: &'static str,
    /// The file executed (cause `exec`), else null.
    pub exec: Option<ExecDetail>,
    /// The check that decided the call (set*id causes), else null.
    pub capability: Option<CapabilityUse>,
    /// Every capability check the call made (empty for `exec` and calls seen returning).
    pub checks: Vec<Check>,
    /// The call's return value where it was seen returning (`capset` through
    /// `fexit/security_capset`); null at a check and for `exec`.
    pub result: Option<i64>,
}

impl Serialize for CredentialsEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let h = &self.header;
        let mut m = s.serialize_map(Some(13))?;
        m.serialize_entry("cause", self.cause)?;
        let brief = Brief::of(h);
        m.serialize_entry("cgroup", &brief.cgroup())?;
        m.serialize_entry("checks", &self.checks)?;
        m.serialize_entry("container", &brief.container())?;
        m.serialize_entry("credentials", &self.credentials)?;
        if let Some(e) = &h.enforcement {
            m.serialize_entry("enforcement", e)?;
        }
        m.serialize_entry("exec", &self.exec)?;
        m.serialize_entry("k8s", &brief.k8s())?;
        m.serialize_entry("kind", h.kind)?;
        m.serialize_entry("node", &h.node)?;
        m.serialize_entry("process", &h.process)?;
        m.serialize_entry("result", &self.result)?;
        m.serialize_entry("time", &h.time)?;
        m.end()
    }
}

impl Fields for CredentialsEvent {
    fn field(&self, path: &[Key]) -> Val<'_> {
        match path {
            [] => Val::Object {
                empty: false,
                block: self,
            },
            [k, rest @ ..] => match k.name {
                Name::Capability => self.capability.field(rest),
                Name::Cause => self.cause.field(rest),
                Name::Checks => self.checks.field(rest),
                Name::Credentials => self.credentials.field(rest),
                Name::Exec => self.exec.field(rest),
                Name::Result => self.result.field(rest),
                n => self.header.field(n, rest),
            },
        }
    }
}

impl Published for CredentialsEvent {
    fn blocks(&self) -> Option<(Option<&Shared<Kubernetes>>, Option<&Shared<Container>>)> {
        Some((self.header.k8s.as_ref(), self.header.container.as_ref()))
    }

    fn cgroup_id(&self) -> Option<u64> {
        Some(self.header.cgroup.id)
    }
}

impl Event for CredentialsEvent {
    fn kind(&self) -> &str {
        self.header.kind
    }

    fn static_kind(&self) -> Option<&'static str> {
        Some(self.header.kind)
    }
}

/// A `container_start` or `container_stop` event. The stop names its container as an act
/// does (its start said the rest: image, posture, set-up); the rules read it whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEvent {
    pub cgroup: Cgroup,
    pub container: Option<Container>,
    pub k8s: Option<Kubernetes>,
    pub kind: &'static str,
    pub node: String,
    pub posture: Posture,
    /// The container's init process at start (null if it is gone; absent at stop).
    pub process: Option<Init>,
    /// What the container runtime did in the container before its entrypoint ran
    /// (`container_start` of a container that started while privmon ran; else null).
    pub runtime_setup: Option<RuntimeSetup>,
    pub time: String,
}

/// The whole `container_start` line.
#[derive(Serialize)]
struct StartLine<'a> {
    cgroup: &'a Cgroup,
    container: &'a Option<Container>,
    k8s: &'a Option<Kubernetes>,
    kind: &'static str,
    node: &'a str,
    posture: &'a Posture,
    process: &'a Option<Init>,
    runtime_setup: &'a Option<RuntimeSetup>,
    time: &'a str,
}

/// The init process of a `container_start`: its capability sets are the posture's, so the
/// line and the rules leave `cap_effective` out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Init(pub Process);

/// [`Init`]'s line.
#[derive(Serialize)]
struct InitLine<'a> {
    ancestors: &'a Shared<Vec<Ancestor>>,
    args: &'a Option<Shared<Vec<String>>>,
    comm: &'a str,
    euid: Option<u32>,
    exe: &'a Option<Arc<str>>,
    pid: u32,
    ppid: Option<u32>,
    tid: u32,
    uid: Option<u32>,
}

impl Serialize for Init {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = &self.0;
        InitLine {
            ancestors: &p.ancestors,
            args: &p.args,
            comm: &p.comm,
            euid: p.euid,
            exe: &p.exe,
            pid: p.pid,
            ppid: p.ppid,
            tid: p.tid,
            uid: p.uid,
        }
        .serialize(s)
    }
}

impl Fields for Init {
    fn field(&self, path: &[Key]) -> Val<'_> {
        match path {
            [] => Val::Object {
                empty: false,
                block: self,
            },
            [k, ..] if matches!(k.name, Name::CapEffective | Name::IoWorker) => Val::Missing,
            _ => self.0.field(path),
        }
    }
}

impl ContainerEvent {
    fn whole(&self) -> StartLine<'_> {
        StartLine {
            cgroup: &self.cgroup,
            container: &self.container,
            k8s: &self.k8s,
            kind: self.kind,
            node: &self.node,
            posture: &self.posture,
            process: &self.process,
            runtime_setup: &self.runtime_setup,
            time: &self.time,
        }
    }

    /// Every field, as the rules read them (a `container_stop` line names the container
    /// only).
    pub fn whole_value(&self) -> serde_json::Result<serde_json::Value> {
        serde_json::to_value(self.whole())
    }
}

impl Serialize for ContainerEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.kind != "container_stop" {
            return self.whole().serialize(s);
        }
        let brief = Brief {
            cgroup: &self.cgroup,
            container: self.container.as_ref(),
            k8s: self.k8s.as_ref(),
        };
        let mut m = s.serialize_map(Some(6))?;
        m.serialize_entry("cgroup", &brief.cgroup())?;
        m.serialize_entry("container", &brief.container())?;
        m.serialize_entry("k8s", &brief.k8s())?;
        m.serialize_entry("kind", self.kind)?;
        m.serialize_entry("node", &self.node)?;
        m.serialize_entry("time", &self.time)?;
        m.end()
    }
}

block!(ContainerEvent {
    Cgroup: cgroup,
    Container: container,
    K8s: k8s,
    Kind: kind,
    Node: node,
    Posture: posture,
    Process: process,
    RuntimeSetup: runtime_setup,
    Time: time,
});

/// The container runtime's set-up of a container (runc's mounts, device nodes,
/// pivot_root, ...): its checks and operations, counted instead of written one by one.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct RuntimeSetup {
    /// Allowed capability checks, by capability.
    pub capabilities: BTreeMap<std::borrow::Cow<'static, str>, u32>,
    /// Refused checks the kernel makes only to ask (memory accounting) and those a
    /// runtime meets as it drops privileges, by capability; other refusals are written
    /// as events.
    pub denied: BTreeMap<std::borrow::Cow<'static, str>, u32>,
    /// Operations (calls), by syscall.
    pub operations: BTreeMap<&'static str, u32>,
}

block!(RuntimeSetup {
    Capabilities: capabilities,
    Denied: denied,
    Operations: operations,
});

impl RuntimeSetup {
    /// Counts one check.
    pub fn check(&mut self, name: std::borrow::Cow<'static, str>, verdict: &str, count: u32) {
        let by = if verdict == "allowed" {
            &mut self.capabilities
        } else {
            &mut self.denied
        };
        let n = by.entry(name).or_default();
        *n = n.saturating_add(count);
    }

    /// Counts one call.
    pub fn operation(&mut self, name: &'static str) {
        let n = self.operations.entry(name).or_default();
        *n = n.saturating_add(1);
    }
}

impl Published for ContainerEvent {}

impl Event for ContainerEvent {
    fn kind(&self) -> &str {
        self.kind
    }

    fn static_kind(&self) -> Option<&'static str> {
        Some(self.kind)
    }
}

impl CapabilityEvent {
    /// The event for a record, before process and cgroup enrichment.
    pub fn from_record(rec: &CapabilityRecord, clock: &Clock, node: &Arc<str>) -> CapabilityEvent {
        let known = |v: u32| (v != u32::MAX).then_some(v);
        CapabilityEvent {
            header: Header {
                time: clock.rfc3339(rec.boot_ns),
                kind: "capability",
                node: node.clone(),
                process: Process {
                    pid: rec.pid,
                    tid: rec.tid,
                    ppid: None,
                    comm: c_string(&rec.comm),
                    exe: None,
                    uid: known(rec.uid),
                    euid: known(rec.euid),
                    args: None,
                    // Against the container's grant once attributed.
                    cap_effective: CapEffective::new(rec.cap_effective, None),
                    ancestors: Process::no_ancestors(),
                    io_worker: Flag(rec.syscall == SYSCALL_IO_WORKER),
                },
                container: None,
                k8s: None,
                cgroup: Cgroup {
                    id: rec.cgroup_id,
                    path: None,
                },
                // The policy is the daemon's to name (`Output::attribute`).
                enforcement: EnforcementAct::action_name(rec.action).map(|action| EnforcementAct {
                    action,
                    policy: None,
                }),
            },
            capability: CapabilityUse {
                name: match rec.cap {
                    // Within a mask's 64 bits: the name without an allocation.
                    0..64 => Capability(rec.cap).static_name().into(),
                    _ => Capability(rec.cap).name().into(),
                },
                number: rec.cap,
                verdict: if u32::from(rec.verdict) == VERDICT_ALLOWED {
                    "allowed"
                } else {
                    "denied"
                },
                scope: match rec.scope {
                    SCOPE_HOST => "host",
                    SCOPE_USER_NAMESPACE => "user_namespace",
                    _ => "unknown",
                },
                audit: match rec.audit {
                    AUDIT_YES => Some(true),
                    AUDIT_NO => Some(false),
                    _ => None,
                },
            },
            syscall: Syscall::of(rec.syscall, rec.args),
        }
    }
}

#[cfg(test)]
mod golden {
    //! The JSON users see, byte for byte: `monitor/tests/golden/events/<sample>.json` were
    //! written by v1 (cf4d1ef), whose every event went through a `serde_json::Value`.
    //! `PRIVMON_BLESS_GOLDEN=1 cargo test -p monitor --lib golden` rewrites them, for a
    //! change of the contract that is meant.

    use std::path::PathBuf;

    use super::samples::samples;

    fn dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/events")
    }

    #[test]
    fn every_kind_is_written_as_the_golden_file_says() {
        let bless = std::env::var_os("PRIVMON_BLESS_GOLDEN").is_some();
        for (name, sample) in samples() {
            let path = dir().join(format!("{name}.json"));
            let line = sample.line();
            if bless {
                std::fs::create_dir_all(dir()).unwrap();
                std::fs::write(&path, format!("{line}\n")).unwrap();
            }
            let golden = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(line, golden.trim_end_matches('\n'), "{name}");
        }
    }

    #[test]
    fn serialized_directly_as_through_json_values() {
        for (name, sample) in samples() {
            let line = sample.line();
            let value: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert_eq!(line, serde_json::to_string(&value).unwrap(), "{name}");
        }
    }
}

#[cfg(test)]
mod tests {
    use monitor_common::{COMM_LEN, OperationRecord, RecordKind, VERDICT_DENIED};

    use super::*;

    fn record() -> CapabilityRecord {
        let mut comm = [0u8; COMM_LEN];
        comm[..7].copy_from_slice(b"trigger");
        CapabilityRecord {
            kind: RecordKind::Capability as u32,
            cap: 21,
            boot_ns: 1_000,
            cgroup_id: 4242,
            pid: 10,
            tid: 11,
            uid: 0,
            euid: 0,
            gid: 0,
            egid: 0,
            syscall: 272,
            args: [0x20000, 0, 0, 0, 0, 0],
            cap_effective: (1 << 21) | (1 << 7),
            ret: -1,
            verdict: VERDICT_DENIED as u8,
            scope: SCOPE_HOST,
            hook: 0,
            audit: 0,
            comm,
            action: 0,
            _reserved: [0; 7],
        }
    }

    fn bytes(rec: &CapabilityRecord) -> Vec<u8> {
        // SAFETY: reading the bytes of a plain-old-data struct.
        unsafe {
            std::slice::from_raw_parts(
                (rec as *const CapabilityRecord).cast::<u8>(),
                size_of::<CapabilityRecord>(),
            )
        }
        .to_vec()
    }

    #[test]
    fn decodes_a_capability_record() {
        let rec = record();
        assert_eq!(decode(&bytes(&rec)), Ok(Record::Capability(rec)));
    }

    #[test]
    fn decodes_unix_connect_records_of_paths_abstract_names_and_listeners() {
        use monitor_common::{UnixConnectRecord, unix_flags};
        let rec = |path: &[u8], len: u32, flags: u32| {
            let mut r = UnixConnectRecord {
                kind: RecordKind::UnixConnect as u32,
                pid: 7,
                tid: 8,
                uid: u32::MAX,
                cgroup_id: 9,
                boot_ns: 10,
                comm: *b"trigger\0\0\0\0\0\0\0\0\0",
                path_len: len,
                flags,
                path: [0; monitor_common::UNIX_PATH_LEN + 4],
            };
            r.path[..path.len()].copy_from_slice(path);
            // SAFETY: reading the bytes of a plain-old-data struct.
            let raw = unsafe {
                std::slice::from_raw_parts(
                    (&r as *const UnixConnectRecord).cast::<u8>(),
                    size_of::<UnixConnectRecord>(),
                )
            }
            .to_vec();
            match decode(&raw) {
                Ok(Record::UnixConnect(u)) => u,
                other => panic!("{other:?}"),
            }
        };
        let u = rec(b"/var/run/docker.sock\0", 21, 0);
        assert_eq!(u.path, "/var/run/docker.sock");
        assert_eq!((u.pid, u.tid, u.uid, u.peer), (7, 8, None, false));
        assert_eq!(u.comm, "trigger");
        // An abstract name runs to the address's length, NULs and all.
        let u = rec(b"\0/shim\0x/shim.sock", 18, unix_flags::ABSTRACT);
        assert_eq!(u.path, "@/shim\\0x/shim.sock");
        assert!(rec(b"/run/docker.sock\0", 17, unix_flags::PEER).peer);
        // A length past the buffer is cut to it, never a panic.
        assert_eq!(rec(b"/x\0", u32::MAX, 0).path, "/x");
        assert_eq!(rec(b"", 0, unix_flags::ABSTRACT).path, "@");
    }

    #[test]
    fn decodes_fallback_and_check_operation_records() {
        let mut strings = [[0u8; monitor_common::OP_STRING_LEN]; monitor_common::OP_STRINGS];
        strings[0][..28].copy_from_slice(b"/proc/sys/kernel/core_patter");
        let op = OperationRecord {
            kind: RecordKind::SyscallExit as u32,
            string_args: 0b10,
            string_lens: [29, 0, 0],
            fd_fs_magic: 0,
            result: -13,
            deref: 7,
            fd_dev: 0,
            fd_mnt_id: 0,
            check: record(),
            strings,
        };
        // SAFETY: reading the bytes of a plain-old-data struct.
        let raw = unsafe {
            std::slice::from_raw_parts(
                (&op as *const OperationRecord).cast::<u8>(),
                size_of::<OperationRecord>(),
            )
        }
        .to_vec();
        let Ok(Record::Operation(got)) = decode(&raw) else {
            panic!("not an operation")
        };
        assert_eq!(got.exit, Some(-13));
        assert_eq!(got.deref, 7);
        assert_eq!(
            got.strings.get(&1),
            Some(&Some("/proc/sys/kernel/core_patter".to_string()))
        );
        let mut raw = raw;
        raw[..4].copy_from_slice(&(RecordKind::Operation as u32).to_ne_bytes());
        let Ok(Record::Operation(got)) = decode(&raw) else {
            panic!("not an operation")
        };
        assert_eq!(got.exit, None, "a check's record has no result");
        assert_eq!(
            decode(&raw[..raw.len() - 1]),
            Err(DecodeError::Truncated { len: raw.len() - 1 })
        );
    }

    #[test]
    fn a_descriptors_file_named_in_the_kernel_reads_root_first() {
        use monitor_common::{OP_STRING_LEN, OP_STRINGS, op};
        let mut strings = [[0u8; OP_STRING_LEN]; OP_STRINGS];
        // Leaf first, across the two slots: release_agent, in a mount at /mnt.
        let parts = b"release_agent\0mnt\0";
        strings[1][..parts.len()].copy_from_slice(parts);
        let mut op = OperationRecord {
            kind: RecordKind::Operation as u32,
            string_args: 0,
            string_lens: [
                0,
                parts.len() as u32 | op::FD_PATH_READ | op::FD_PATH_ROOT,
                0,
            ],
            fd_fs_magic: 0x0027_e0eb,
            result: 0,
            deref: 0,
            fd_dev: 46,
            fd_mnt_id: 812,
            check: record(),
            strings,
        };
        let decoded = |op: &OperationRecord| {
            // SAFETY: reading the bytes of a plain-old-data struct.
            let raw = unsafe {
                std::slice::from_raw_parts(
                    (op as *const OperationRecord).cast::<u8>(),
                    size_of::<OperationRecord>(),
                )
            };
            match decode(raw) {
                Ok(Record::Operation(got)) => got.fd_file,
                other => panic!("{other:?}"),
            }
        };
        let f = decoded(&op).expect("named");
        assert_eq!(f.path, "/mnt/release_agent");
        assert_eq!(f.fs, Some("cgroup"));
        assert_eq!((f.device.as_str(), f.mount_id), ("0:46", 812));
        // A long name spills into the third slot; a walk cut short says so.
        let long = [b'x'; OP_STRING_LEN + 20];
        let mut area = [0u8; 2 * OP_STRING_LEN];
        area[..long.len()].copy_from_slice(&long);
        area[long.len() + 1..long.len() + 4].copy_from_slice(b"etc");
        op.strings[1].copy_from_slice(&area[..OP_STRING_LEN]);
        op.strings[2].copy_from_slice(&area[OP_STRING_LEN..]);
        op.string_lens[1] = (long.len() + 5) as u32 | op::FD_PATH_READ;
        op.fd_fs_magic = 7;
        let f = decoded(&op).expect("named");
        assert_eq!(f.path, format!("…/etc/{}", "x".repeat(long.len())));
        assert_eq!(f.fs, None);
        // Nothing named: none.
        op.string_lens[1] = 0;
        assert_eq!(decoded(&op), None);
    }

    #[test]
    fn times_are_written_as_humantime_writes_them() {
        let clock = Clock::new();
        let mut stamp = 1u64;
        for i in 0..5000u64 {
            // Steps from nanoseconds to days, so that seconds repeat and change.
            stamp = stamp.wrapping_add(i * i * 7_919 + 1) % (400 * 86_400 * 1_000_000_000);
            let ns = (clock.boot_epoch_ns + stamp as i128).max(0) as u64;
            let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_nanos(ns);
            assert_eq!(
                clock.rfc3339(stamp),
                humantime::format_rfc3339_nanos(t).to_string()
            );
        }
    }

    #[test]
    fn truncated_records_are_errors() {
        let b = bytes(&record());
        for len in [0, 3, 4, 64, b.len() - 1] {
            assert_eq!(
                decode(&b[..len]),
                Err(DecodeError::Truncated { len }),
                "len {len}"
            );
        }
    }

    #[test]
    fn unknown_kinds_are_errors() {
        let mut b = bytes(&record());
        b[..4].copy_from_slice(&999u32.to_ne_bytes());
        assert_eq!(decode(&b), Err(DecodeError::UnknownKind { kind: 999 }));
    }

    #[test]
    fn event_follows_the_contract() {
        let ev = CapabilityEvent::from_record(
            &record(),
            &Clock {
                boot_epoch_ns: 1_700_000_000_000_000_000,
                ..Clock::new()
            },
            &"node-1".into(),
        );
        let v = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["kind"], "capability");
        assert_eq!(v["node"], "node-1");
        assert_eq!(v["time"], "2023-11-14T22:13:20.000001000Z");
        assert_eq!(v["capability"]["name"], "CAP_SYS_ADMIN");
        assert_eq!(v["capability"]["number"], 21);
        assert_eq!(v["capability"]["verdict"], "denied");
        assert_eq!(v["capability"]["scope"], "host");
        assert_eq!(v["process"]["pid"], 10);
        assert_eq!(v["process"]["tid"], 11);
        assert_eq!(v["process"]["comm"], "trigger");
        // Not attributed yet: no grant, so the whole set is `added`.
        assert_eq!(
            v["process"]["cap_effective"],
            serde_json::json!({"added": ["CAP_SETUID", "CAP_SYS_ADMIN"], "dropped": [], "mask": "0x200080"})
        );
        assert_eq!(v["cgroup"]["id"], 4242);
        if cfg!(target_arch = "x86_64") {
            assert_eq!(v["syscall"]["name"], "unshare");
        }
        assert_eq!(v["syscall"]["number"], 272);
        assert_eq!(v["syscall"]["args"][0], 0x20000);
    }

    #[test]
    fn checks_outside_syscalls_have_null_syscall() {
        let mut rec = record();
        rec.syscall = -1;
        rec.uid = u32::MAX;
        let ev = CapabilityEvent::from_record(&rec, &Clock::new(), &"n".into());
        assert_eq!(ev.syscall, None);
        assert_eq!(ev.header.process.uid, None);
        let v = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["process"].get("io_worker"), None);
    }

    #[test]
    fn an_io_uring_workers_check_is_marked_with_no_syscall() {
        let mut rec = record();
        rec.syscall = SYSCALL_IO_WORKER;
        let ev = CapabilityEvent::from_record(&rec, &Clock::new(), &"n".into());
        assert_eq!(ev.syscall, None);
        let v = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["process"]["io_worker"], true);
        assert_eq!(v["syscall"], serde_json::Value::Null);
    }

    #[test]
    fn an_ia32_number_is_named_by_the_ia32_table_and_marked() {
        let ia32 = Syscall::of(SYSCALL_IA32 | 21, [0; 6]).unwrap();
        assert_eq!(
            (ia32.name, ia32.number, ia32.ia32),
            (Some("mount"), 21, Flag(true))
        );
        let v = serde_json::to_value(&ia32).unwrap();
        assert_eq!(v["ia32"], true);
        if Arch::host() == Some(Arch::X86_64) {
            let native = Syscall::of(21, [0; 6]).unwrap();
            assert_eq!((native.name, native.ia32), (Some("access"), Flag(false)));
            assert_eq!(serde_json::to_value(&native).unwrap().get("ia32"), None);
        }
        assert!(Syscall::of(-1, [0; 6]).is_none());
    }
}
