//! Sensitive operations: the syscalls that container escapes and privilege escalations are
//! made of. Each one that makes a capability check is reported in full (never deduplicated),
//! with its arguments decoded, as a `syscall` event (or `namespace` for namespace changes).
//!
//! The syscall behind a check and its registers come from the check itself
//! (`bpf_task_pt_regs`), so no syscall hook is needed and unrelated syscalls pay nothing.

use std::collections::BTreeMap;

use monitor_common::{OP_STRINGS, op};
use serde::Serialize;
use serde_json::Value;

use crate::syscalls::Arch;

/// How an argument register is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// A user-space string, read in the kernel at the check.
    Str(&'static str),
    /// An integer (flags, numbers, pids, file descriptors).
    Int(&'static str),
    /// `CLONE_NEW*` flags: reported as namespace types.
    Namespaces(&'static str),
    /// A pointer, not followed.
    Ptr(&'static str),
}

/// One sensitive syscall.
#[derive(Debug)]
pub struct Sensitive {
    pub name: &'static str,
    /// `mounts`, `namespaces`, `kernel`, `processes`, `files`, `misc`.
    pub group: &'static str,
    pub args: &'static [Arg],
}

use Arg::{Int, Namespaces, Ptr, Str};

/// The sensitive list (names as in the syscall tables; missing ones are skipped per arch).
pub const SENSITIVE: &[Sensitive] = &[
    // mounts
    Sensitive {
        name: "mount",
        group: "mounts",
        args: &[
            Str("source"),
            Str("target"),
            Str("fstype"),
            Int("flags"),
            Ptr("data"),
        ],
    },
    Sensitive {
        name: "umount2",
        group: "mounts",
        args: &[Str("target"), Int("flags")],
    },
    Sensitive {
        name: "move_mount",
        group: "mounts",
        args: &[
            Int("from_dfd"),
            Str("from_path"),
            Int("to_dfd"),
            Str("to_path"),
            Int("flags"),
        ],
    },
    Sensitive {
        name: "fsopen",
        group: "mounts",
        args: &[Str("fsname"), Int("flags")],
    },
    Sensitive {
        name: "fsmount",
        group: "mounts",
        args: &[Int("fs_fd"), Int("flags"), Int("attr_flags")],
    },
    Sensitive {
        name: "open_tree",
        group: "mounts",
        args: &[Int("dfd"), Str("path"), Int("flags")],
    },
    Sensitive {
        name: "pivot_root",
        group: "mounts",
        args: &[Str("new_root"), Str("put_old")],
    },
    Sensitive {
        name: "chroot",
        group: "mounts",
        args: &[Str("path")],
    },
    // namespaces
    Sensitive {
        name: "unshare",
        group: "namespaces",
        args: &[Namespaces("flags")],
    },
    Sensitive {
        name: "setns",
        group: "namespaces",
        args: &[Int("fd"), Namespaces("nstype")],
    },
    Sensitive {
        name: "clone",
        group: "namespaces",
        args: &[Namespaces("flags")],
    },
    Sensitive {
        name: "clone3",
        group: "namespaces",
        args: &[Ptr("args"), Int("size")],
    },
    // kernel
    Sensitive {
        name: "init_module",
        group: "kernel",
        args: &[Ptr("image"), Int("len"), Str("params")],
    },
    Sensitive {
        name: "finit_module",
        group: "kernel",
        args: &[Int("fd"), Str("params"), Int("flags")],
    },
    Sensitive {
        name: "delete_module",
        group: "kernel",
        args: &[Str("name"), Int("flags")],
    },
    Sensitive {
        name: "kexec_load",
        group: "kernel",
        args: &[
            Int("entry"),
            Int("nr_segments"),
            Ptr("segments"),
            Int("flags"),
        ],
    },
    Sensitive {
        name: "kexec_file_load",
        group: "kernel",
        args: &[
            Int("kernel_fd"),
            Int("initrd_fd"),
            Int("cmdline_len"),
            Str("cmdline"),
            Int("flags"),
        ],
    },
    Sensitive {
        name: "reboot",
        group: "kernel",
        args: &[Int("magic"), Int("magic2"), Int("cmd"), Ptr("arg")],
    },
    Sensitive {
        name: "bpf",
        group: "kernel",
        args: &[Int("cmd"), Ptr("attr"), Int("size")],
    },
    Sensitive {
        name: "perf_event_open",
        group: "kernel",
        args: &[
            Ptr("attr"),
            Int("pid"),
            Int("cpu"),
            Int("group_fd"),
            Int("flags"),
        ],
    },
    Sensitive {
        name: "iopl",
        group: "kernel",
        args: &[Int("level")],
    },
    Sensitive {
        name: "ioperm",
        group: "kernel",
        args: &[Int("from"), Int("num"), Int("turn_on")],
    },
    Sensitive {
        name: "syslog",
        group: "kernel",
        args: &[Int("type"), Ptr("buf"), Int("len")],
    },
    Sensitive {
        name: "swapon",
        group: "kernel",
        args: &[Str("path"), Int("flags")],
    },
    // other processes
    Sensitive {
        name: "ptrace",
        group: "processes",
        args: &[Int("request"), Int("pid"), Ptr("addr"), Ptr("data")],
    },
    Sensitive {
        name: "process_vm_readv",
        group: "processes",
        args: &[Int("pid")],
    },
    Sensitive {
        name: "process_vm_writev",
        group: "processes",
        args: &[Int("pid")],
    },
    // files
    // Writes are reported only at the rare capability checks they make (a cgroup
    // `release_agent` needs CAP_SYS_ADMIN); the file is named from /proc/<pid>/fd.
    Sensitive {
        name: "write",
        group: "files",
        args: &[Int("fd"), Ptr("buf"), Int("count")],
    },
    Sensitive {
        name: "pwrite64",
        group: "files",
        args: &[Int("fd"), Ptr("buf"), Int("count"), Int("offset")],
    },
    Sensitive {
        name: "writev",
        group: "files",
        args: &[Int("fd"), Ptr("iov"), Int("iovcnt")],
    },
    Sensitive {
        name: "open_by_handle_at",
        group: "files",
        args: &[Int("mount_fd"), Ptr("handle"), Int("flags")],
    },
    Sensitive {
        name: "mknod",
        group: "files",
        args: &[Str("path"), Int("mode"), Int("dev")],
    },
    Sensitive {
        name: "mknodat",
        group: "files",
        args: &[Int("dfd"), Str("path"), Int("mode"), Int("dev")],
    },
    // misc
    Sensitive {
        name: "keyctl",
        group: "misc",
        args: &[Int("operation")],
    },
    Sensitive {
        name: "add_key",
        group: "misc",
        args: &[Str("type"), Str("description")],
    },
    Sensitive {
        name: "request_key",
        group: "misc",
        args: &[Str("type"), Str("description"), Str("callout_info")],
    },
    Sensitive {
        name: "userfaultfd",
        group: "misc",
        args: &[Int("flags")],
    },
    Sensitive {
        name: "sethostname",
        group: "misc",
        args: &[Str("name"), Int("len")],
    },
    Sensitive {
        name: "setdomainname",
        group: "misc",
        args: &[Str("name"), Int("len")],
    },
    Sensitive {
        name: "settimeofday",
        group: "misc",
        args: &[Ptr("tv"), Ptr("tz")],
    },
    Sensitive {
        name: "clock_settime",
        group: "misc",
        args: &[Int("clockid"), Ptr("tp")],
    },
    Sensitive {
        name: "clock_adjtime",
        group: "misc",
        args: &[Int("clockid"), Ptr("tx")],
    },
    Sensitive {
        name: "adjtimex",
        group: "misc",
        args: &[Ptr("tx")],
    },
];

/// The kernel map's contents for `arch`: syscall number -> which arguments are strings.
pub fn kernel_table(arch: Arch) -> Vec<(i64, u32)> {
    SENSITIVE
        .iter()
        .filter_map(|s| {
            let nr = arch.number(s.name)?;
            let mut mask = 0u32;
            for (i, a) in s.args.iter().enumerate() {
                if matches!(a, Str(_)) && mask.count_ones() < OP_STRINGS as u32 {
                    mask |= 1 << i;
                }
            }
            Some((nr, mask & op::STRING_ARGS_MASK))
        })
        .chain(ID_CHANGES.iter().filter_map(|(name, spec)| {
            Some((
                arch.number(name)?,
                op::CREDENTIALS
                    | (spec & op::ID_SHAPE_MASK) << op::ID_SHAPE_SHIFT
                    | (spec & op::ID_GID),
            ))
        }))
        .collect()
}

/// User-id syscalls, with the shape of their arguments: reported as `credentials` events
/// when they ask to change an id (the probes compare the arguments with the caller's ids;
/// a `setuid(0)` by root stays a plain capability check).
pub const ID_CHANGES: &[(&str, u32)] = &[
    ("setuid", op::ID_SETUID),
    ("setreuid", op::ID_SETREUID),
    ("setresuid", op::ID_SETRESUID),
    ("setgid", op::ID_SETUID | op::ID_GID),
    ("setregid", op::ID_SETREUID | op::ID_GID),
    ("setresgid", op::ID_SETRESUID | op::ID_GID),
];

/// A caller's ids (null where unknown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IdSet {
    pub uid: Option<u32>,
    pub euid: Option<u32>,
    pub gid: Option<u32>,
    pub egid: Option<u32>,
}

/// The ids a user- or group-id syscall asks for, from its arguments and the caller's ids
/// `old`: (syscall name, the ids after); -1 keeps an id. `None` for other syscalls.
pub fn requested_ids(name: &str, args: &[u64; 6], old: IdSet) -> Option<(&'static str, IdSet)> {
    let (name, spec) = ID_CHANGES.iter().find(|(n, _)| *n == name)?;
    let group = spec & op::ID_GID != 0;
    let keep = |v: u64, current: Option<u32>| match v as u32 {
        u32::MAX => current,
        v => Some(v),
    };
    let (real, effective) = if group {
        (old.gid, old.egid)
    } else {
        (old.uid, old.euid)
    };
    let (real, effective) = match spec & op::ID_SHAPE_MASK {
        op::ID_SETUID => (Some(args[0] as u32), Some(args[0] as u32)),
        _ => (keep(args[0], real), keep(args[1], effective)),
    };
    let new = if group {
        IdSet {
            gid: real,
            egid: effective,
            ..old
        }
    } else {
        IdSet {
            uid: real,
            euid: effective,
            ..old
        }
    };
    Some((*name, new))
}

/// The entry for a syscall name.
pub fn lookup(name: &str) -> Option<&'static Sensitive> {
    SENSITIVE.iter().find(|s| s.name == name)
}

/// Namespace types in `CLONE_NEW*` flags, in a fixed order.
pub fn namespace_types(flags: u64) -> Vec<&'static str> {
    const TYPES: [(u64, &str); 8] = [
        (0x0002_0000, "mnt"),
        (0x0200_0000, "cgroup"),
        (0x0400_0000, "uts"),
        (0x0800_0000, "ipc"),
        (0x1000_0000, "user"),
        (0x2000_0000, "pid"),
        (0x4000_0000, "net"),
        (0x0000_0080, "time"),
    ];
    TYPES
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, name)| *name)
        .collect()
}

/// The `namespace` block of a `namespace` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NamespaceChange {
    /// `unshare`, `setns` or `clone`.
    pub operation: &'static str,
    /// Namespace types created or joined; null where the registers do not tell (clone3).
    pub types: Option<Vec<&'static str>>,
    /// `setns`: the namespace joined, from the process's file descriptor while it is open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<NamespaceTarget>,
}

/// The namespace a `setns` joins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NamespaceTarget {
    /// `mnt`, `net`, `uts`, ... as in `/proc/<pid>/ns`.
    #[serde(rename = "type")]
    pub kind: String,
    pub inode: u64,
    /// `host` when it is one of the host's namespaces (pid 1's), else `container`.
    pub owner: &'static str,
}

/// Resolves the namespace behind `fd` of process `pid` (`/proc/<pid>/fd/<fd>` reads as
/// `uts:[4026531838]`).
/// What file descriptor `fd` of `pid` refers to, while the process still has it open.
pub fn fd_target(proc_root: &std::path::Path, pid: u32, fd: u64) -> Option<String> {
    let link = std::fs::read_link(
        proc_root
            .join(pid.to_string())
            .join("fd")
            .join(fd.to_string()),
    )
    .ok()?;
    link.to_str().map(str::to_string)
}

/// Syscalls whose first argument is a file descriptor reported with its path.
pub const FD_PATH_SYSCALLS: &[&str] = &["write", "pwrite64", "writev", "finit_module"];

pub fn setns_target(proc_root: &std::path::Path, pid: u32, fd: u64) -> Option<NamespaceTarget> {
    let link = fd_target(proc_root, pid, fd)?;
    let link = link.as_str();
    let (kind, rest) = link.split_once(":[")?;
    let inode: u64 = rest.strip_suffix(']')?.parse().ok()?;
    let index = crate::containers::posture::NAMESPACES
        .iter()
        .position(|(k, _)| *k == kind)?;
    let host = crate::containers::posture::host_namespace_inodes(proc_root)?;
    Some(NamespaceTarget {
        kind: kind.to_string(),
        inode,
        owner: if host.get(index) == Some(&inode) {
            "host"
        } else {
            "container"
        },
    })
}

/// Decodes the arguments of a sensitive syscall: registers, plus the strings the kernel
/// read (`strings[i]` is argument `i`'s, if captured).
pub fn decode_args(
    s: &Sensitive,
    regs: &[u64; 6],
    strings: &BTreeMap<usize, Option<String>>,
) -> BTreeMap<&'static str, Value> {
    let mut out = BTreeMap::new();
    for (i, arg) in s.args.iter().enumerate() {
        let raw = regs[i];
        let (name, value) = match *arg {
            Str(name) => (
                name,
                strings
                    .get(&i)
                    .cloned()
                    .flatten()
                    .map_or(Value::Null, Value::String),
            ),
            Int(name) => (name, Value::from(raw as i64)),
            Namespaces(name) => (name, Value::from(raw)),
            Ptr(name) => (name, Value::String(format!("{raw:#x}"))),
        };
        out.insert(name, value);
    }
    out
}

/// The namespace change a `namespaces`-group syscall makes.
pub fn namespace_change(s: &Sensitive, regs: &[u64; 6]) -> Option<NamespaceChange> {
    (s.group == "namespaces").then(|| NamespaceChange {
        operation: match s.name {
            "clone3" => "clone",
            other => other,
        },
        types: match s.name {
            "unshare" | "clone" => Some(namespace_types(regs[0])),
            // setns(fd, 0) joins whatever namespace the fd is: the types are resolved from
            // the fd by the caller when it can.
            "setns" => Some(namespace_types(regs[1])).filter(|t| !t.is_empty()),
            _ => None,
        },
        target: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sensitive_syscall_exists_on_x86_64() {
        for s in SENSITIVE {
            assert!(Arch::X86_64.number(s.name).is_some(), "{}", s.name);
            assert!(s.args.len() <= 6, "{}", s.name);
        }
    }

    #[test]
    fn user_id_syscalls_are_listed_with_their_shape() {
        let table: BTreeMap<i64, u32> = kernel_table(Arch::X86_64).into_iter().collect();
        let shape = |v: u32| (v >> op::ID_SHAPE_SHIFT) & op::ID_SHAPE_MASK;
        assert_eq!(table[&105] & op::CREDENTIALS, op::CREDENTIALS, "setuid");
        assert_eq!(shape(table[&105]), op::ID_SETUID);
        assert_eq!(shape(table[&113]), op::ID_SETREUID, "setreuid");
        assert_eq!(shape(table[&117]), op::ID_SETRESUID, "setresuid");
        assert_eq!(table[&106] & op::ID_GID, op::ID_GID, "setgid");
        assert_eq!(table[&105] & op::ID_GID, 0, "setuid");
        assert_eq!(shape(table[&119]), op::ID_SETRESUID, "setresgid");
        assert_eq!(table[&165] & op::CREDENTIALS, 0, "mount is not one");
        let arm: BTreeMap<i64, u32> = kernel_table(Arch::Aarch64).into_iter().collect();
        assert_eq!(shape(arm[&146]), op::ID_SETUID);
    }

    #[test]
    fn requested_ids_keep_what_minus_one_keeps() {
        let args = |a: u64, b: u64| [a, b, u64::from(u32::MAX), 0, 0, 0];
        let ids = |uid, euid, gid, egid| IdSet {
            uid: Some(uid),
            euid: Some(euid),
            gid: Some(gid),
            egid: Some(egid),
        };
        let minus_one = u64::from(u32::MAX);
        assert_eq!(
            requested_ids("setuid", &args(1000, 0), ids(0, 0, 0, 0)),
            Some(("setuid", ids(1000, 1000, 0, 0)))
        );
        assert_eq!(
            requested_ids("setresuid", &args(minus_one, 0), ids(1000, 1000, 5, 5)),
            Some(("setresuid", ids(1000, 0, 5, 5)))
        );
        // A 32-bit -1 in a 64-bit register (the C library passes uid_t).
        assert_eq!(
            requested_ids("setreuid", &args(0xffff_ffff, 5), ids(7, 7, 7, 7)),
            Some(("setreuid", ids(7, 5, 7, 7)))
        );
        // Group ids change the gids and keep the uids.
        assert_eq!(
            requested_ids("setgid", &args(50, 0), ids(0, 0, 0, 0)),
            Some(("setgid", ids(0, 0, 50, 50)))
        );
        assert_eq!(
            requested_ids("setregid", &args(minus_one, 60), ids(1, 1, 2, 2)),
            Some(("setregid", ids(1, 1, 2, 60)))
        );
        assert_eq!(requested_ids("mount", &args(0, 0), IdSet::default()), None);
    }

    #[test]
    fn kernel_table_marks_string_arguments() {
        let table: BTreeMap<i64, u32> = kernel_table(Arch::X86_64).into_iter().collect();
        assert_eq!(table[&165], 0b111, "mount: source, target, fstype");
        assert_eq!(table[&272], 0, "unshare has no strings");
        assert_eq!(table[&155], 0b11, "pivot_root");
        // aarch64 has no mount(2) number of the same value, and no iopl at all.
        let arm: BTreeMap<i64, u32> = kernel_table(Arch::Aarch64).into_iter().collect();
        assert_eq!(arm[&40], 0b111);
        assert!(Arch::Aarch64.number("iopl").is_none());
    }

    #[test]
    fn namespace_flags_decode() {
        assert_eq!(namespace_types(0x0002_0000), ["mnt"]);
        assert_eq!(namespace_types(0x5000_0000), ["user", "net"]);
        assert!(namespace_types(0x11).is_empty());
        let unshare = lookup("unshare").unwrap();
        let change = namespace_change(unshare, &[0x0002_0000, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(change.operation, "unshare");
        assert_eq!(change.types, Some(vec!["mnt"]));
        let setns = lookup("setns").unwrap();
        assert_eq!(
            namespace_change(setns, &[3, 0, 0, 0, 0, 0]).unwrap().types,
            None
        );
        assert_eq!(namespace_change(lookup("mount").unwrap(), &[0; 6]), None);
    }

    #[test]
    fn arguments_decode_with_strings_from_the_kernel() {
        let mount = lookup("mount").unwrap();
        let strings = BTreeMap::from([
            (0, Some("none".to_string())),
            (1, Some("/mnt".to_string())),
            (2, None),
        ]);
        let args = decode_args(mount, &[0x1000, 0x2000, 0x3000, 4096, 0, 0], &strings);
        assert_eq!(args["source"], "none");
        assert_eq!(args["target"], "/mnt");
        assert_eq!(args["fstype"], Value::Null);
        assert_eq!(args["flags"], 4096);
        assert_eq!(args["data"], "0x0");
    }
}
