//! Sensitive operations: the syscalls that container escapes and privilege escalations are
//! made of. Each one that makes a capability check is reported in full (never deduplicated),
//! with its arguments decoded, as a `syscall` event (or `namespace` for namespace changes).
//!
//! The syscall behind a check and its registers come from the check itself
//! (`bpf_task_pt_regs`), so no syscall hook is needed and unrelated syscalls pay nothing.

use monitor_common::{OP_STRINGS, op};

use crate::catalog::syscalls::Arch;

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

/// Syscalls reported only by a group's fallback: they are not sensitive at their
/// capability checks (an `openat` that needs CAP_DAC_OVERRIDE is an ordinary check), only
/// when their filter picks them (an open for writing of a watched file).
pub const FALLBACK_ONLY: &[Sensitive] = &[
    Sensitive {
        name: "open",
        group: "files",
        args: &[Str("path"), Int("flags"), Int("mode")],
    },
    Sensitive {
        name: "openat",
        group: "files",
        args: &[Int("dfd"), Str("path"), Int("flags"), Int("mode")],
    },
    Sensitive {
        name: "openat2",
        group: "files",
        args: &[Int("dfd"), Str("path"), Ptr("how"), Int("size")],
    },
];

/// The operation groups, in the order they are reported.
pub const GROUPS: &[&str] = &[
    "mounts",
    "namespaces",
    "kernel",
    "processes",
    "files",
    "misc",
];

/// What a group's operations can do without any capability check (so no zero-tax source
/// sees them on kernels without BPF LSM), and the syscalls its fallback hooks at
/// `syscalls:sys_exit_<name>`, each with its in-kernel filter (`op::FB_*` bits).
pub struct Gap {
    pub group: &'static str,
    pub unseen: &'static str,
    pub syscalls: &'static [(&'static str, u32)],
}

const NEW_USER_NS: u32 = op::FB_NEW_USER_NS << op::FALLBACK_SHIFT;
const OPEN_WATCHED: u32 = op::FB_OPEN_WATCHED << op::FALLBACK_SHIFT;
const fn flags_arg(i: u32) -> u32 {
    i << op::FB_FLAGS_ARG_SHIFT
}

pub const GAPS: &[Gap] = &[
    Gap {
        group: "namespaces",
        unseen: "user namespaces created alone (unshare, clone or clone3 with CLONE_NEWUSER and no other new namespace)",
        syscalls: &[
            ("unshare", NEW_USER_NS),
            ("clone", NEW_USER_NS | op::FB_CHILD_RETURNS_ZERO),
            ("clone3", NEW_USER_NS | op::FB_CHILD_RETURNS_ZERO),
        ],
    },
    Gap {
        group: "kernel",
        unseen: "bpf, perf_event_open and syslog where sysctls let them run unprivileged",
        syscalls: &[("bpf", 0), ("perf_event_open", 0), ("syslog", 0)],
    },
    Gap {
        group: "processes",
        unseen: "ptrace and process_vm_readv/writev of processes of the same user with no more capabilities",
        syscalls: &[
            ("ptrace", 0),
            ("process_vm_readv", 0),
            ("process_vm_writev", 0),
        ],
    },
    Gap {
        group: "files",
        unseen: "root's writes to sysrq-trigger, uevent_helper and notify_on_release, and to core_pattern and modprobe where cgroup/sysctl is not attached (plain file permissions, no capability check)",
        syscalls: &[
            ("open", OPEN_WATCHED | flags_arg(1)),
            ("openat", OPEN_WATCHED | flags_arg(2)),
            ("openat2", OPEN_WATCHED | op::FB_FLAGS_DEREF),
        ],
    },
    Gap {
        group: "misc",
        unseen: "keyctl, add_key, request_key and userfaultfd, which need no capability",
        syscalls: &[
            ("keyctl", 0),
            ("add_key", 0),
            ("request_key", 0),
            ("userfaultfd", 0),
        ],
    },
];

/// A zero-tax source for part of a group's gap: fentry programs on the LSM hooks those
/// operations pass (monitor-ebpf/src/lsm.rs), which run only when the kernel makes that
/// security decision. `auto` uses it where all its programs attach (kernels with BPF
/// trampolines); `on` uses the group's fallback tracepoints instead.
pub struct LsmSource {
    pub group: &'static str,
    /// (program, kernel function).
    pub programs: &'static [(&'static str, &'static str)],
    /// The gap syscalls it covers.
    pub covers: &'static [&'static str],
}

/// The hooks run after any capability check of the same call (`__ptrace_may_access` ends
/// with the LSM hook), so [`ExitMerge`] pairs a checked call with its hook record. Not
/// here, because the LSM hook comes before the call's capability checks and would report
/// it twice: `security_bpf` (bpf's CAP_BPF checks follow it), `security_perf_event_open`
/// (so do perf_event_open's perfmon_capable() checks) and `security_create_user_ns`
/// (a user namespace made with other namespaces is checked in the new one after it).
pub const LSM_SOURCES: &[LsmSource] = &[LsmSource {
    group: "processes",
    programs: &[
        ("lsm_ptrace_access_check", "security_ptrace_access_check"),
        ("lsm_ptrace_traceme", "security_ptrace_traceme"),
    ],
    covers: &["ptrace", "process_vm_readv", "process_vm_writev"],
}];

/// File names whose opens for writing the `files` fallback reports: the kernel runs what
/// they hold as root on the host (core_pattern, uevent_helper, modprobe, a cgroup v1
/// release_agent) or acts on the whole host at once (sysrq-trigger).
pub const WATCHED_FILES: &[&str] = &[
    "core_pattern",
    "sysrq-trigger",
    "uevent_helper",
    "modprobe",
    "release_agent",
    "notify_on_release",
];

/// Host directories (the files in them, not deeper) whose opens for writing by containers
/// `fentry/security_file_open` reports where BPF trampolines load, besides `host_files`:
/// what a container that bind-mounts them writes to own the node (passwd, shadow, group,
/// sudoers, crontab and ld.so.preload are in `/etc`; cron and sudo drop-ins; systemd units;
/// root's authorized_keys).
pub const HOST_FILES: &[&str] = &[
    "/etc",
    "/etc/cron.d",
    "/etc/sudoers.d",
    "/etc/systemd/system",
    "/root/.ssh",
];

/// Socket file names whose `connect()` from a container `cgroup/connect_unix` reports, with
/// the runtime that listens there: whoever talks to one can start a privileged sibling
/// container, i.e. owns the node. Matched on the last component of the address, so that a
/// socket mounted at another directory (`-v /var/run:/hostrun`) is seen too; an abstract
/// name's last component likewise (`@/containerd-shim/<ns>/<id>/shim.sock`, the shim API
/// a host-network container could reach before containerd 1.4.3, CVE-2020-15257).
pub const RUNTIME_SOCKETS: &[(&str, &str)] = &[
    ("docker.sock", "docker"),
    ("containerd.sock", "containerd"),
    ("containerd.sock.ttrpc", "containerd"),
    ("shim.sock", "containerd-shim"),
    ("crio.sock", "cri-o"),
    ("podman.sock", "podman"),
    ("cri-dockerd.sock", "cri-dockerd"),
    ("dockershim.sock", "dockershim"),
    ("buildkitd.sock", "buildkit"),
];

/// The runtime that listens at a unix address ([`RUNTIME_SOCKETS`], by its last component).
pub fn runtime_of_socket(path: &str) -> Option<&'static str> {
    let name = path.rsplit('/').next()?;
    RUNTIME_SOCKETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, r)| *r)
}

/// A pointer argument whose first `u64` the kernel reads (`clone3`'s flags, `openat2`'s).
fn deref_arg(name: &str) -> Option<u32> {
    match name {
        "clone3" => Some(0),
        "openat2" => Some(2),
        _ => None,
    }
}

/// How one group is covered: `auto` (zero-tax sources only), `on` (plus the fallback
/// syscall tracepoints) or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    #[default]
    Auto,
    On,
    Off,
}

impl Coverage {
    pub fn name(self) -> &'static str {
        match self {
            Coverage::Auto => "auto",
            Coverage::On => "on",
            Coverage::Off => "off",
        }
    }
}

/// The gap of `group`, if it has one.
pub fn gap(group: &str) -> Option<&'static Gap> {
    GAPS.iter().find(|g| g.group == group)
}

/// Bits of the string arguments of `s` (at most [`OP_STRINGS`]).
/// The table bits that have the `security_ptrace_access_check` fentry program report an open
/// of another cgroup's process's `/proc/<pid>/mem` or `environ` ([`op::LSM_PROC`]), with the
/// path read: for `open`, `openat`, `openat2` on `arch`.
pub fn proc_open_bits(arch: Arch) -> Vec<(i64, u32)> {
    FALLBACK_ONLY
        .iter()
        .filter_map(|s| Some((arch.number(s.name)?, op::LSM_PROC | string_mask(s))))
        .collect()
}

fn string_mask(s: &Sensitive) -> u32 {
    let mut mask = 0u32;
    for (i, a) in s.args.iter().enumerate() {
        if matches!(a, Str(_)) && mask.count_ones() < OP_STRINGS as u32 {
            mask |= 1 << i;
        }
    }
    mask & op::STRING_ARGS_MASK
}

/// The kernel map's contents for `arch` with every group on `auto`.
pub fn kernel_table(arch: Arch) -> Vec<(i64, u32)> {
    kernel_table_for(arch, |_| Coverage::Auto)
}

/// The kernel map's contents for `arch`: syscall number -> how it is reported
/// (`op::SENSITIVE` at its checks, `op::FALLBACK` with a filter, which arguments are strings,
/// which pointer to follow). A group `off` is left out; a group `on` has its fallback bits.
pub fn kernel_table_for(arch: Arch, mode: impl Fn(&str) -> Coverage) -> Vec<(i64, u32)> {
    let fallback_bits = |s: &Sensitive| -> u32 {
        if mode(s.group) != Coverage::On {
            return 0;
        }
        gap(s.group)
            .and_then(|g| g.syscalls.iter().find(|(n, _)| *n == s.name))
            .map_or(0, |(_, filter)| op::FALLBACK | filter)
    };
    let deref_bits =
        |s: &Sensitive| deref_arg(s.name).map_or(0, |a| op::DEREF | a << op::DEREF_ARG_SHIFT);
    // Named in the kernel at the check: the writer may be gone when user space reads it.
    let fd_path_bits = |s: &Sensitive| {
        if FD_PATH_SYSCALLS.contains(&s.name) {
            op::FD_PATH
        } else {
            0
        }
    };
    let namespace_bits = |s: &Sensitive| match s.name {
        "clone" => op::NEW_NS,
        "clone3" | "unshare" => op::NEW_NS | op::NEW_NS_TIME,
        _ => 0,
    };
    let at_checks = SENSITIVE
        .iter()
        .filter(|s| mode(s.group) != Coverage::Off)
        .filter_map(|s| {
            let nr = arch.number(s.name)?;
            Some((
                nr,
                op::SENSITIVE
                    | string_mask(s)
                    | deref_bits(s)
                    | namespace_bits(s)
                    | fd_path_bits(s)
                    | fallback_bits(s),
            ))
        });
    let fallback_only = FALLBACK_ONLY.iter().filter_map(|s| {
        let bits = fallback_bits(s);
        (bits != 0).then_some(())?;
        Some((arch.number(s.name)?, bits | string_mask(s) | deref_bits(s)))
    });
    at_checks
        .chain(fallback_only)
        .chain(
            OTHER_CREDENTIALS
                .iter()
                .filter_map(|(name, spec)| Some((arch.number(name)?, op::SENSITIVE | spec))),
        )
        .chain(ID_CHANGES.iter().filter_map(|(name, spec)| {
            Some((
                arch.number(name)?,
                op::SENSITIVE
                    | op::CREDENTIALS
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

/// The other credential syscalls, reported at their checks as `credentials` events: the
/// kernel makes the check only when the call asks for something the caller does not hold
/// (`setfsuid`/`setfsgid` to an id that is none of the caller's, `setgroups` always,
/// `capset` always: its CAP_SETPCAP check decides only whether the inheritable set may grow
/// beyond the permitted one). `setgroups` and `capset` have their data read at the check.
pub const OTHER_CREDENTIALS: &[(&str, u32)] = &[
    ("setfsuid", 0),
    ("setfsgid", 0),
    (
        "setgroups",
        op::RAW_GROUPS << op::RAW_SHIFT | 1 << op::DEREF_ARG_SHIFT,
    ),
    (
        "capset",
        op::RAW_CAPSET << op::RAW_SHIFT | 1 << op::DEREF_ARG_SHIFT,
    ),
];

/// The entry for a syscall name.
pub fn lookup(name: &str) -> Option<&'static Sensitive> {
    SENSITIVE
        .iter()
        .chain(FALLBACK_ONLY)
        .find(|s| s.name == name)
}

/// The syscalls whose `sys_exit` tracepoints the fallbacks need, on `arch`, per group `on`.
pub fn fallback_syscalls(
    arch: Arch,
    mode: impl Fn(&str) -> Coverage,
) -> Vec<(&'static str, &'static str)> {
    GAPS.iter()
        .filter(|g| mode(g.group) == Coverage::On)
        .flat_map(|g| g.syscalls.iter().map(move |(name, _)| (g.group, *name)))
        .filter(|(_, name)| arch.number(name).is_some())
        .collect()
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

/// Syscalls whose first argument is a file descriptor reported with its path (read in the
/// kernel, [`op::FD_PATH`]: they have at most one string argument, in the first slot).
pub const FD_PATH_SYSCALLS: &[&str] = &["write", "pwrite64", "writev", "finit_module"];
#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn fd_paths_are_named_in_the_kernel_beside_at_most_one_string() {
        let table: BTreeMap<i64, u32> = kernel_table(Arch::X86_64).into_iter().collect();
        for name in FD_PATH_SYSCALLS {
            let nr = Arch::X86_64.number(name).unwrap();
            let spec = table[&nr];
            assert_eq!(spec & op::FD_PATH, op::FD_PATH, "{name}");
            assert!((spec & op::STRING_ARGS_MASK).count_ones() <= 1, "{name}");
            assert_eq!(spec >> op::RAW_SHIFT & op::RAW_MASK, 0, "{name}");
        }
        let mount = table[&Arch::X86_64.number("mount").unwrap()];
        assert_eq!(mount & op::FD_PATH, 0);
    }

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
    fn kernel_table_marks_string_arguments() {
        let table: BTreeMap<i64, u32> = kernel_table(Arch::X86_64).into_iter().collect();
        let strings = |v: u32| v & op::STRING_ARGS_MASK;
        assert_eq!(strings(table[&165]), 0b111, "mount: source, target, fstype");
        assert_eq!(strings(table[&272]), 0, "unshare has no strings");
        assert_eq!(strings(table[&155]), 0b11, "pivot_root");
        assert_eq!(table[&165] & op::SENSITIVE, op::SENSITIVE);
        // aarch64 has no mount(2) number of the same value, and no iopl at all.
        let arm: BTreeMap<i64, u32> = kernel_table(Arch::Aarch64).into_iter().collect();
        assert_eq!(arm[&40] & op::STRING_ARGS_MASK, 0b111);
        assert!(Arch::Aarch64.number("iopl").is_none());
    }

    #[test]
    fn group_modes_shape_the_kernel_table() {
        let auto: BTreeMap<i64, u32> = kernel_table(Arch::X86_64).into_iter().collect();
        assert!(
            auto.values().all(|v| v & op::FALLBACK == 0),
            "auto: no fallback"
        );
        assert!(!auto.contains_key(&257), "openat is no operation on auto");
        assert_eq!(auto[&435] & op::DEREF, op::DEREF, "clone3's flags are read");
        assert_eq!(
            auto[&56] & (op::NEW_NS | op::NEW_NS_TIME),
            op::NEW_NS,
            "clone"
        );
        assert_eq!(auto[&435] & op::NEW_NS_TIME, op::NEW_NS_TIME, "clone3");
        assert_eq!(auto[&165] & op::NEW_NS, 0, "mount");
        let mode = |g: &str| match g {
            "files" | "namespaces" => Coverage::On,
            "mounts" => Coverage::Off,
            _ => Coverage::Auto,
        };
        let table: BTreeMap<i64, u32> = kernel_table_for(Arch::X86_64, mode).into_iter().collect();
        assert!(!table.contains_key(&165), "mounts off: mount is not listed");
        let openat = table[&257];
        assert_eq!(openat & (op::FALLBACK | op::SENSITIVE), op::FALLBACK);
        assert_eq!(
            (openat >> op::FALLBACK_SHIFT) & op::FALLBACK_MASK,
            op::FB_OPEN_WATCHED
        );
        assert_eq!((openat >> op::FB_FLAGS_ARG_SHIFT) & op::ARG_MASK, 2);
        assert_eq!(openat & op::STRING_ARGS_MASK, 0b10, "openat's path");
        let openat2 = table[&437];
        assert_eq!(openat2 & op::FB_FLAGS_DEREF, op::FB_FLAGS_DEREF);
        assert_eq!((openat2 >> op::DEREF_ARG_SHIFT) & op::ARG_MASK, 2);
        let clone = table[&56];
        assert_eq!(
            clone & op::SENSITIVE,
            op::SENSITIVE,
            "still reported at its checks"
        );
        assert_eq!(clone & op::FB_CHILD_RETURNS_ZERO, op::FB_CHILD_RETURNS_ZERO);
        assert_eq!(
            table[&272] & op::FB_CHILD_RETURNS_ZERO,
            0,
            "unshare returns 0 on success"
        );
        assert_eq!(table[&101] & op::FALLBACK, 0, "processes stay auto");
        let hooked = fallback_syscalls(Arch::X86_64, mode);
        assert!(hooked.contains(&("files", "openat")));
        assert!(hooked.contains(&("namespaces", "clone3")));
        assert!(!hooked.iter().any(|(g, _)| *g == "processes"));
        // aarch64 has no open(2): the fallback hooks what exists.
        assert!(!fallback_syscalls(Arch::Aarch64, mode).contains(&("files", "open")));
    }

    #[test]
    fn every_gap_is_a_group_and_its_syscalls_are_known() {
        for g in GAPS {
            assert!(GROUPS.contains(&g.group), "{}", g.group);
            for (name, _) in g.syscalls {
                assert!(lookup(name).is_some_and(|s| s.group == g.group), "{name}");
                assert!(Arch::X86_64.number(name).is_some(), "{name}");
            }
        }
        for s in SENSITIVE.iter().chain(FALLBACK_ONLY) {
            assert!(GROUPS.contains(&s.group), "{}", s.name);
        }
        assert!(
            gap("mounts").is_none(),
            "every mount operation makes a check"
        );
    }
}
