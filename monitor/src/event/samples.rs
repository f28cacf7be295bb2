//! Events of every kind, filled and sparse, for the golden files (the JSON users see,
//! byte for byte) and the differential tests of the typed rule engine against the JSON one.
//!
//! Struct literals only (the golden files were written by v1's emit path from this file as
//! it was then, with `Vec`s where blocks are shared now).

use std::{collections::BTreeMap, sync::Arc};

use serde_json::{Value, json};

use super::*;

/// One sample event, typed.
pub enum Sample {
    Capability(CapabilityEvent),
    Operation(OperationEvent),
    Credentials(CredentialsEvent),
    Container(ContainerEvent),
}

impl Sample {
    /// Its JSON line, as the daemon writes it.
    pub fn line(&self) -> String {
        match self {
            Sample::Capability(e) => serde_json::to_string(e),
            Sample::Operation(e) => serde_json::to_string(e),
            Sample::Credentials(e) => serde_json::to_string(e),
            Sample::Container(e) => serde_json::to_string(e),
        }
        .expect("events serialize")
    }

    /// Its JSON as a `serde_json::Value` (v1's path: every event went through one), with
    /// the container, pod and cgroup blocks whole, as the rules read them (the line names
    /// them briefly).
    pub fn value(&self) -> Value {
        let mut v = match self {
            Sample::Capability(e) => serde_json::to_value(e),
            Sample::Operation(e) => serde_json::to_value(e),
            Sample::Credentials(e) => serde_json::to_value(e),
            Sample::Container(e) => e.whole_value(),
        }
        .expect("events serialize");
        crate::event::Whole::of(self).fill(&mut v);
        v
    }
}

impl Serialize for Sample {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Sample::Capability(e) => e.serialize(s),
            Sample::Operation(e) => e.serialize(s),
            Sample::Credentials(e) => e.serialize(s),
            Sample::Container(e) => e.serialize(s),
        }
    }
}

impl Fields for Sample {
    fn field(&self, path: &[Key]) -> Val<'_> {
        match self {
            Sample::Capability(e) => e.field(path),
            Sample::Operation(e) => e.field(path),
            Sample::Credentials(e) => e.field(path),
            Sample::Container(e) => e.field(path),
        }
    }
}

impl Event for Sample {
    fn kind(&self) -> &str {
        match self {
            Sample::Capability(e) => e.kind(),
            Sample::Operation(e) => e.kind(),
            Sample::Credentials(e) => e.kind(),
            Sample::Container(e) => e.kind(),
        }
    }
}

fn process(full: bool) -> Process {
    Process {
        pid: 4242,
        tid: 4243,
        ppid: full.then_some(4200),
        comm: "mount".into(),
        exe: full.then(|| "/bin/busybox".into()),
        io_worker: crate::event::Flag(false),
        uid: Some(0),
        euid: full.then_some(0),
        args: full.then(|| vec!["mount".into(), "-t".into(), "tmpfs".into(), "x".into()].into()),
        // CAP_CHOWN and CAP_SYS_ADMIN.
        cap_effective: crate::catalog::capabilities::CapEffective::new(
            if full { 1 | 1 << 21 } else { 0 },
            full.then_some(1),
        ),
        ancestors: if full {
            vec![
                Ancestor {
                    pid: 4200,
                    comm: "sh".into(),
                    exe: Some("/bin/sh".into()),
                },
                Ancestor {
                    pid: 1,
                    comm: "runc:[2:INIT]".into(),
                    exe: None,
                },
            ]
            .into()
        } else {
            Vec::new().into()
        },
    }
}

fn container(full: bool) -> Container {
    Container {
        id: "3f1c".repeat(16),
        runtime: Some("containerd"),
        name: full.then(|| "api".into()),
        image: Some("registry.example/app:1.2".into()),
        image_id: full.then(|| "registry.example/app@sha256:00ff".into()),
    }
}

fn k8s(labels: bool) -> Kubernetes {
    let mut l = BTreeMap::new();
    if labels {
        l.insert("app".to_string(), "api".to_string());
        l.insert("tier".to_string(), "backend".to_string());
    }
    Kubernetes {
        namespace: Some("payments".into()),
        pod: Some("api-7d9f8c6b5-x2x4z".into()),
        pod_uid: labels.then(|| "7e570000-0000-4000-8000-000000000001".into()),
        container: Some("api".into()),
        labels: Arc::new(l),
    }
}

/// `in_pod`: the container and pod are known; else a host process.
pub fn header(kind: &'static str, in_pod: bool, full: bool) -> Header {
    Header {
        time: "2026-12-03T19:00:00.123456789Z".into(),
        kind,
        node: "node-1".into(),
        process: process(full),
        container: in_pod.then(|| container(full).into()),
        k8s: in_pod.then(|| k8s(full).into()),
        cgroup: Cgroup {
            id: 5123,
            path: in_pod.then(|| "/kubepods/besteffort/pod7e57/3f1c".into()),
        },
        enforcement: None,
    }
}

fn check(verdict: &'static str, audit: Option<bool>) -> CapabilityUse {
    CapabilityUse {
        name: "CAP_SYS_ADMIN".into(),
        number: 21,
        verdict,
        scope: "host",
        audit,
    }
}

fn ids(uid: u32, extra: bool) -> Ids {
    Ids {
        uid: Some(uid),
        euid: Some(uid),
        gid: Some(0),
        egid: None,
        fsuid: extra.then_some(uid),
        fsgid: None,
        groups: extra.then(|| vec![0, 10]),
        capabilities: extra.then(|| CapabilitySets {
            effective: vec!["CAP_SETUID".into()],
            permitted: vec!["CAP_SETUID".into(), "CAP_SETGID".into()],
            inheritable: Some(Vec::new()),
        }),
    }
}

/// Every kind, with fields filled and left empty, null or absent.
pub fn samples() -> Vec<(&'static str, Sample)> {
    let mut args = BTreeMap::new();
    args.insert("source", json!("tmpfs"));
    args.insert("target", json!("/host/mnt"));
    args.insert("flags", json!(0));
    args.insert("data", Value::Null);
    vec![
        (
            "capability",
            Sample::Capability(CapabilityEvent {
                header: header("capability", true, true),
                capability: check("allowed", Some(true)),
                syscall: Some(Syscall {
                    name: Some("mount"),
                    number: 165,
                    args: [1, 2, 3, 0, u64::MAX, 0],
                    ia32: Flag(false),
                }),
            }),
        ),
        (
            "capability_killed",
            Sample::Capability(CapabilityEvent {
                header: Header {
                    enforcement: Some(crate::event::EnforcementAct {
                        action: "kill",
                        policy: Some("rule:no_module_loads".into()),
                    }),
                    ..header("capability", true, true)
                },
                capability: check("allowed", Some(true)),
                syscall: Some(Syscall {
                    name: Some("finit_module"),
                    number: 313,
                    args: [3, 0, 0, 0, 0, 0],
                    ia32: Flag(false),
                }),
            }),
        ),
        (
            "capability_host_sparse",
            Sample::Capability(CapabilityEvent {
                header: header("capability", false, false),
                capability: check("denied", None),
                syscall: None,
            }),
        ),
        (
            "syscall_mount",
            Sample::Operation(OperationEvent {
                header: header("syscall", true, true),
                group: "mounts",
                syscall: SyscallDetail {
                    name: "mount",
                    number: 165,
                    args,
                    result: None,
                },
                capability: Some(check("allowed", None)),
                // The kernel checks CAP_SYS_ADMIN twice for a mount.
                checks: vec![Check {
                    count: 2,
                    ..Check::of(&check("allowed", None))
                }],
                source: "capability_check",
                namespace: None,
            }),
        ),
        (
            "syscall_fallback",
            Sample::Operation(OperationEvent {
                header: header("syscall", true, false),
                group: "files",
                syscall: SyscallDetail {
                    name: "openat",
                    number: 257,
                    args: BTreeMap::new(),
                    result: Some(-13),
                },
                capability: None,
                checks: Vec::new(),
                source: "syscall_tracepoint",
                namespace: None,
            }),
        ),
        (
            "namespace_setns",
            Sample::Operation(OperationEvent {
                header: header("namespace", true, true),
                group: "namespaces",
                syscall: SyscallDetail {
                    name: "setns",
                    number: 308,
                    args: BTreeMap::new(),
                    result: None,
                },
                capability: Some(check("allowed", None)),
                checks: vec![Check::of(&check("allowed", None))],
                source: "capability_check",
                namespace: Some(NamespaceChange {
                    operation: "setns",
                    types: Some(vec!["mnt"]),
                    target: Some(NamespaceTarget {
                        kind: "mnt".into(),
                        inode: 4026531841,
                        owner: "host",
                    }),
                }),
            }),
        ),
        (
            "namespace_clone3",
            Sample::Operation(OperationEvent {
                header: header("namespace", false, false),
                group: "namespaces",
                syscall: SyscallDetail {
                    name: "clone3",
                    number: 435,
                    args: BTreeMap::new(),
                    result: None,
                },
                capability: None,
                checks: Vec::new(),
                source: "lsm_hook",
                namespace: Some(NamespaceChange {
                    operation: "clone",
                    types: None,
                    target: None,
                }),
            }),
        ),
        (
            "credentials_setuid",
            Sample::Credentials(CredentialsEvent {
                header: header("credentials", true, true),
                credentials: CredentialsChange {
                    old: Some(ids(1000, false)),
                    new: ids(0, true),
                },
                cause: "setuid",
                exec: None,
                capability: Some(check("allowed", None)),
                checks: vec![Check::of(&check("allowed", None))],
                result: None,
            }),
        ),
        (
            "credentials_exec",
            Sample::Credentials(CredentialsEvent {
                header: header("credentials", false, false),
                credentials: CredentialsChange {
                    old: None,
                    new: ids(0, false),
                },
                cause: "exec",
                exec: Some(ExecDetail {
                    filename: Some("/usr/bin/su".into()),
                }),
                capability: None,
                checks: Vec::new(),
                result: None,
            }),
        ),
        (
            "container_start",
            Sample::Container(ContainerEvent {
                time: "2026-12-03T19:00:00Z".into(),
                kind: "container_start",
                node: "node-1".into(),
                process: Some(Init(process(true))),
                container: Some(container(true)),
                k8s: Some(k8s(true)),
                cgroup: Cgroup {
                    id: 9,
                    path: Some("/docker/3f1c".into()),
                },
                posture: Posture {
                    privileged: Some(true),
                    capabilities: PostureCapabilities {
                        effective: Some(vec!["CAP_SYS_ADMIN".into()]),
                        bounding: Some(Vec::new()),
                        added_over_default: Some(vec!["CAP_SYS_ADMIN".into()]),
                    },
                    host_devices: Some(vec!["/dev/sda".into()]),
                    host_namespaces: Some(vec!["pid", "net"]),
                    sensitive_mounts: Some(vec!["/var/run/docker.sock".into()]),
                    shared_propagation: Some(Vec::new()),
                    writable_sensitive_mounts: Some(vec!["/var/run/docker.sock".into()]),
                    runs_as_root: Some(true),
                    no_new_privs: Some(false),
                    seccomp: Some("disabled"),
                    readonly_rootfs: Some(false),
                    image_pinned: None,
                    image_trusted: None,
                },
                runtime_setup: Some(RuntimeSetup {
                    capabilities: [("CAP_SYS_ADMIN".into(), 22), ("CAP_MKNOD".into(), 6)].into(),
                    denied: [("CAP_SYS_ADMIN".into(), 1)].into(),
                    operations: [("mount", 11), ("mknodat", 6), ("pivot_root", 1)].into(),
                }),
            }),
        ),
        (
            "container_stop",
            Sample::Container(ContainerEvent {
                time: "2026-12-03T19:00:01Z".into(),
                kind: "container_stop",
                node: "node-1".into(),
                process: None,
                container: None,
                k8s: None,
                cgroup: Cgroup { id: 9, path: None },
                posture: Posture::default(),
                runtime_setup: None,
            }),
        ),
    ]
}
