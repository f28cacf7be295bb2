//! The events of a sensitive operation's record: a `credentials` event for a user- or
//! group-id call that asked for a change, else a `syscall` or `namespace` event; and the
//! built-in `capability_outside_baseline` alert.

use crate::{
    advisor::{self, OutsideBaseline},
    catalog::operations,
    event::{
        CapabilityEvent, Check, CredentialsChange, CredentialsEvent, Header, Ids, Operation,
        OperationEvent, SyscallDetail,
        record::{HostFileWrite, Sysctl, UnixConnect},
    },
    rules::{Alert, Severity, Technique},
};
use serde_json::Value;

use super::operation;

/// The `capability_outside_baseline` alert: built in, not a rule (baselines are learned per
/// workload, not written).
pub(super) fn baseline_alert(event: &Value, o: &OutsideBaseline) -> Alert {
    let p = &event["process"];
    let process = p["exe"]
        .as_str()
        .or(p["comm"].as_str())
        .unwrap_or("?")
        .to_string();
    Alert {
        time: event["time"].clone(),
        kind: "alert",
        node: event["node"].clone(),
        process: p.clone(),
        container: event["container"].clone(),
        k8s: event["k8s"].clone(),
        cgroup: event["cgroup"].clone(),
        rule: advisor::BASELINE_RULE.to_string(),
        severity: Severity::High,
        mitre: vec![Technique("T1068".to_string())],
        tags: match &o.new_image {
            Some(_) => vec![
                "baseline".to_string(),
                "capability".to_string(),
                "new-image".to_string(),
            ],
            None => vec!["baseline".to_string(), "capability".to_string()],
        },
        summary: format!(
            "{} used {} outside its learned baseline ({} through {}){}",
            crate::rules::workload(event),
            o.capability,
            process,
            o.operation.as_deref().unwrap_or("no syscall"),
            match &o.new_image {
                Some(image) => format!(
                    "; new image {image} since the baseline was learned: a rollout may need it"
                ),
                None => String::new(),
            }
        ),
        count: 1,
        window_secs: 0,
        event: event.clone(),
    }
}

/// The `syscall`/`namespace` event of a check made by a sensitive syscall.
/// The `credentials` event of a user- or group-id syscall that asked to change an id (the
/// probes report those in full): the caller's ids before, the ids it asked for, and the
/// check.
pub(super) fn id_change_event(ev: &CapabilityEvent, op: &Operation) -> Option<CredentialsEvent> {
    let rec = &op.check;
    let sc = ev.syscall.as_ref()?;
    let known = |v: u32| (v != u32::MAX).then_some(v);
    let old = operation::IdSet {
        uid: known(rec.uid),
        euid: known(rec.euid),
        gid: known(rec.gid),
        egid: known(rec.egid),
    };
    let (cause, before, after) = match operation::requested_ids(sc.name?, &sc.args, old) {
        Some((cause, new)) => (cause, Ids::from(old), Ids::from(new)),
        None => operation::other_credentials(
            sc.name?,
            &sc.args,
            &op.raw,
            op.raw_before.as_deref(),
            old,
            rec.cap_effective,
        )?,
    };
    let mut header = ev.header.clone();
    header.kind = "credentials";
    Some(CredentialsEvent {
        credentials: CredentialsChange {
            old: Some(before),
            new: after,
        },
        header,
        cause,
        exec: None,
        // A call seen at its return made no check of its own.
        capability: op.exit.is_none().then(|| ev.capability.clone()),
        checks: match op.exit {
            None => vec![Check::of(&ev.capability)],
            Some(_) => Vec::new(),
        },
        result: op.exit,
    })
}

/// The `syscall` or `namespace` event of an operation record (`ev` is its check's event;
/// for a fallback record, the capability in it is no check and is left out).
pub(super) fn operation_event(ev: CapabilityEvent, op: &Operation) -> Option<OperationEvent> {
    let sc = ev.syscall?;
    let sensitive = operations::lookup(sc.name?)?;
    let mut namespace = operation::namespace_change(sensitive, &sc.args, op.deref);
    if let Some(ns) = namespace.as_mut()
        && ns.operation == "setns"
    {
        ns.target = operation::setns_target(
            std::path::Path::new("/proc"),
            ev.header.process.pid,
            sc.args[0],
        );
        if ns.types.is_none() {
            ns.types = ns.target.as_ref().and_then(|t| {
                crate::resolve::containers::posture::NAMESPACES
                    .iter()
                    .find(|(k, _)| *k == t.kind)
                    .map(|(k, _)| vec![*k])
            });
        }
    }
    // A clone or unshare that creates no namespace (a fork whose memory accounting made a
    // check) is no namespace change: the kernel side passes none, this is the safety net.
    if namespace
        .as_ref()
        .is_some_and(|ns| ns.operation != "setns" && ns.types.as_ref().is_some_and(Vec::is_empty))
    {
        return None;
    }
    let mut args = operation::decode_args(sensitive, &sc.args, &op.strings);
    if operations::FD_PATH_SYSCALLS.contains(&sensitive.name) {
        // Named by the kernel at the check; else (a kernel without the fields, a walk cut
        // short) from /proc now, while the writer most likely still has it open.
        let kernel = op.fd_file.as_ref();
        let path = kernel
            .filter(|f| f.path.starts_with('/'))
            .map(|f| f.path.clone())
            .or_else(|| {
                operation::fd_target(
                    std::path::Path::new("/proc"),
                    ev.header.process.pid,
                    sc.args[0],
                )
            })
            .or_else(|| kernel.map(|f| f.path.clone()));
        args.insert("path", path.map_or(serde_json::Value::Null, Into::into));
        if let Some(f) = kernel {
            args.insert("fs", f.fs.map_or(serde_json::Value::Null, Into::into));
            args.insert("device", f.device.clone().into());
            args.insert("mount_id", f.mount_id.into());
        }
    }
    if let Some(device) = &op.opened_device {
        // Seen at blkdev_open: a block device opened.
        args.insert("device", device.clone().into());
    }
    if let Some(fd) = op.exit.filter(|r| *r >= 0)
        && sensitive.group == "files"
        && operations::FALLBACK_ONLY
            .iter()
            .any(|s| s.name == sensitive.name)
    {
        // The file an open made, named while the opener most likely still has it.
        let file = operation::fd_target(
            std::path::Path::new("/proc"),
            ev.header.process.pid,
            fd as u64,
        );
        args.insert("file", file.map_or(serde_json::Value::Null, Into::into));
    }
    let mut header = ev.header;
    header.kind = if namespace.is_some() {
        "namespace"
    } else {
        "syscall"
    };
    let checked = op.exit.is_none() && !op.lsm;
    Some(OperationEvent {
        header,
        group: sensitive.group,
        syscall: SyscallDetail {
            name: sensitive.name,
            number: sc.number,
            args,
            result: op.exit,
        },
        checks: match checked {
            true => vec![Check::of(&ev.capability)],
            false => Vec::new(),
        },
        capability: checked.then_some(ev.capability),
        source: if op.lsm {
            "lsm_hook"
        } else if op.exit.is_some() {
            "syscall_tracepoint"
        } else {
            "capability_check"
        },
        namespace,
    })
}

/// The `syscall` event of a write under `/proc/sys` seen by the `cgroup/sysctl` program: a
/// `write` of `/proc/sys/<name>` (the call itself may be `pwrite64`, `writev`, ...), with
/// the sysctl's name and the value written. The kernel has checked the file's permissions
/// already; the sysctl's handler may still refuse the value (`result` stays null).
pub(super) fn sysctl_event(header: Header, s: &Sysctl) -> OperationEvent {
    let mut args = std::collections::BTreeMap::new();
    let name = s.name.as_deref();
    args.insert(
        "path",
        name.map_or(Value::Null, |n| Value::String(format!("/proc/sys/{n}"))),
    );
    args.insert(
        "sysctl",
        name.map_or(Value::Null, |n| Value::String(n.replace('/', "."))),
    );
    args.insert(
        "value",
        s.value
            .as_deref()
            .map_or(Value::Null, |v| Value::String(v.to_string())),
    );
    if s.value_truncated {
        args.insert("value_truncated", Value::Bool(true));
    }
    if s.file_pos != 0 {
        args.insert("offset", Value::from(s.file_pos));
    }
    let mut ev = file_write_event(header, args, "cgroup_sysctl");
    if s.action == monitor_common::action::DENY {
        // Refused by enforcement, before the handler saw it.
        ev.syscall.result = Some(-i64::from(libc::EPERM));
    }
    ev
}

/// The `syscall` event of a `connect()` to a runtime's socket (`result` stays null: the
/// connect may still fail): `args.runtime` (`docker`, `containerd`, ...); seen by
/// `cgroup/connect_unix` before the kernel looked the address up, `args.path` as the caller
/// wrote it and `args.host_path` where one of the container's bind mounts holds it; seen by
/// `fentry/security_unix_stream_connect` once the kernel found the listener, `args.host_path`
/// as the listener bound it (the host's path of the runtime's socket) and no `path`.
pub(super) fn unix_connect_event(
    header: Header,
    u: &UnixConnect,
    host_path: Option<String>,
) -> OperationEvent {
    let mut args = std::collections::BTreeMap::new();
    if !u.peer {
        args.insert("path", Value::String(u.path.clone()));
    }
    args.insert(
        "runtime",
        crate::catalog::operations::runtime_of_socket(&u.path)
            .map_or(Value::Null, |r| Value::String(r.to_string())),
    );
    if let Some(host) = host_path {
        args.insert("host_path", Value::String(host));
    }
    OperationEvent {
        header,
        group: "misc",
        syscall: SyscallDetail {
            name: "connect",
            number: crate::catalog::syscalls::Arch::host()
                .and_then(|a| a.number("connect"))
                .unwrap_or(-1),
            args,
            result: None,
        },
        capability: None,
        checks: Vec::new(),
        source: if u.peer {
            "lsm_hook"
        } else {
            "cgroup_connect_unix"
        },
        namespace: None,
    }
}

/// The `syscall` event of a write to a watched host file (fanotify): a `write` of the file
/// as the host names it (`args.host_path`; the path the container used is not known),
/// seen when written or closed after writing.
pub(super) fn host_file_event(header: Header, w: &HostFileWrite) -> OperationEvent {
    let mut args = std::collections::BTreeMap::new();
    args.insert("host_path", Value::String(w.path.clone()));
    file_write_event(header, args, "fanotify")
}

/// A `write` of the `files` group seen by a hook other than a capability check (`source`):
/// no check, no result (the call may be `pwrite64`, `writev`, ...).
fn file_write_event(
    header: Header,
    args: std::collections::BTreeMap<&'static str, Value>,
    source: &'static str,
) -> OperationEvent {
    OperationEvent {
        header,
        group: "files",
        syscall: SyscallDetail {
            name: "write",
            number: crate::catalog::syscalls::Arch::host()
                .and_then(|a| a.number("write"))
                .unwrap_or(-1),
            args,
            result: None,
        },
        capability: None,
        checks: Vec::new(),
        source,
        namespace: None,
    }
}
