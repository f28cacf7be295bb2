//! Sensitive operations: the syscalls that container escapes and privilege escalations are
//! made of. Each one that makes a capability check is reported in full (never deduplicated),
//! with its arguments decoded, as a `syscall` event (or `namespace` for namespace changes).
//!
//! The syscall behind a check and its registers come from the check itself
//! (`bpf_task_pt_regs`), so no syscall hook is needed and unrelated syscalls pay nothing.

use std::collections::BTreeMap;

use monitor_common::{OP_STRINGS, op};
use serde_json::Value;

use crate::{
    event::{CapabilitySets, Ids},
    syscalls::Arch,
};

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
        unseen: "root's writes to core_pattern, sysrq-trigger, uevent_helper, modprobe and notify_on_release (plain file permissions, no capability check)",
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize)]
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

/// The change an [`OTHER_CREDENTIALS`] call asks for: (cause, before, after), from its
/// arguments, the raw bytes the kernel read (`raw`; `raw_before`: setgroups' groups
/// before) and the caller's ids and effective set `cap_effective`. `None` for other
/// syscalls, and for a `capset` or `setgroups` that changes nothing.
pub fn other_credentials(
    name: &str,
    args: &[u64; 6],
    raw: &[u8],
    raw_before: Option<&[u8]>,
    old: IdSet,
    cap_effective: u64,
) -> Option<(&'static str, Ids, Ids)> {
    let (name, _) = OTHER_CREDENTIALS.iter().find(|(n, _)| *n == name)?;
    let mut before = Ids::from(old);
    let mut after = before.clone();
    let words = |raw: &[u8]| -> Vec<u32> {
        raw.chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    };
    let data = words(raw);
    let word = |i: usize| data.get(i).copied();
    match *name {
        "setfsuid" => after.fsuid = Some(args[0] as u32),
        "setfsgid" => after.fsgid = Some(args[0] as u32),
        "setgroups" => {
            let asked = data;
            before.groups = raw_before.map(words);
            let sorted = |mut v: Vec<u32>| {
                v.sort_unstable();
                v
            };
            // At most 32 groups are read on each side: longer lists always count as a change.
            if (args[0] as usize) == asked.len()
                && before.groups.clone().map(sorted) == Some(sorted(asked.clone()))
            {
                return None;
            }
            after.groups = Some(asked);
        }
        _ => {
            // capset: effective, permitted, inheritable low words, then the high words;
            // then the caller's permitted and inheritable before (8 bytes each).
            let set = |i: usize| Some(u64::from(word(i)?) | u64::from(word(i + 3)?) << 32);
            let old_set = |at: usize| {
                raw.get(at..at + 8)
                    .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
            };
            let data = op::RAW_CAPSET_DATA;
            let (old_p, old_i) = (old_set(data), old_set(data + 8));
            let new = (set(0), set(1), set(2));
            if let (Some(e), Some(p), Some(i)) = new
                && Some(p) == old_p
                && Some(i) == old_i
                && e == cap_effective
            {
                return None;
            }
            // Unreadable data: neither side is known.
            before.capabilities =
                old_p.map(|p| CapabilitySets::from_masks(cap_effective, p, old_i));
            if let (Some(e), Some(p), Some(i)) = new {
                after.capabilities = Some(CapabilitySets::from_masks(e, p, Some(i)));
            }
            return Some((name, before, after));
        }
    }
    Some((name, before, after))
}

/// A caller's ids (null where unknown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IdSet {
    pub uid: Option<u32>,
    pub euid: Option<u32>,
    pub gid: Option<u32>,
    pub egid: Option<u32>,
}

impl From<IdSet> for Ids {
    fn from(i: IdSet) -> Ids {
        Ids::of(i.uid, i.euid, i.gid, i.egid)
    }
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

/// Pairs a fallback's record of a syscall's return with the capability check the same
/// syscall made before: that check was reported already (with its verdict), so the return
/// is not reported again. Records of one thread arrive in order, so the check of a
/// syscall is the thread's last one when its return arrives.
#[derive(Debug, Default)]
pub struct ExitMerge {
    /// Syscall numbers both reported at their checks and hooked by a fallback.
    hooked: std::collections::HashSet<i64>,
    /// By thread: the last checked syscall with a fallback, and its arguments.
    pending: std::collections::HashMap<u32, (i64, [u64; 6])>,
    /// Checks whose return never came (a thread killed in the syscall, a lost record).
    pub forgotten: u64,
}

impl ExitMerge {
    /// Threads in the middle of a checked syscall kept at most: beyond, all are forgotten.
    const MAX_PENDING: usize = 16_384;

    /// For the kernel table `table` (`kernel_table_for`).
    pub fn new(table: &[(i64, u32)]) -> ExitMerge {
        ExitMerge {
            hooked: table
                .iter()
                .filter(|(_, v)| v & op::FALLBACK != 0 && v & op::SENSITIVE != 0)
                .map(|(nr, _)| *nr)
                .collect(),
            ..ExitMerge::default()
        }
    }

    /// A capability check of syscall `nr` by thread `tid`, reported.
    pub fn checked(&mut self, tid: u32, nr: i64, args: [u64; 6]) {
        if !self.hooked.contains(&nr) {
            return;
        }
        if self.pending.len() >= Self::MAX_PENDING {
            self.forgotten += self.pending.len() as u64;
            self.pending.clear();
        }
        self.pending.insert(tid, (nr, args));
    }

    /// Also pairs syscall `nr` (one with an LSM-hook source, seen after its checks).
    pub fn track(&mut self, nr: i64) {
        self.hooked.insert(nr);
    }

    /// Syscall `nr` of thread `tid` returned: true if its check was reported already.
    pub fn returned(&mut self, tid: u32, nr: i64, args: [u64; 6]) -> bool {
        match self.pending.remove(&tid) {
            Some(p) if p == (nr, args) => true,
            Some(_) => {
                self.forgotten += 1;
                false
            }
            None => false,
        }
    }
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

pub use crate::event::{NamespaceChange, NamespaceTarget};

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

/// The host pid of process `pid` as process `caller` numbers it (its pid namespace's).
pub fn host_pid(proc_root: &std::path::Path, caller: u32, pid: u32) -> Option<u32> {
    let ns = |p: &str| std::fs::read_link(proc_root.join(p).join("ns/pid")).ok();
    let caller_ns = ns(&caller.to_string())?;
    if ns("1").as_ref() == Some(&caller_ns) {
        return Some(pid);
    }
    // A pid namespace of its own (a container's): the process whose innermost pid is `pid`.
    std::fs::read_dir(proc_root)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .find(|p| {
            ns(&p.to_string()).as_ref() == Some(&caller_ns)
                && std::fs::read_to_string(proc_root.join(p.to_string()).join("status"))
                    .ok()
                    .and_then(|s| {
                        s.lines()
                            .find_map(|l| l.strip_prefix("NSpid:"))?
                            .split_whitespace()
                            .last()?
                            .parse::<u32>()
                            .ok()
                    })
                    == Some(pid)
        })
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

/// The namespace change a `namespaces`-group syscall makes; `deref` is the first `u64` of
/// `clone3`'s `clone_args` (its flags), as the kernel read it.
pub fn namespace_change(s: &Sensitive, regs: &[u64; 6], deref: u64) -> Option<NamespaceChange> {
    (s.group == "namespaces").then(|| NamespaceChange {
        operation: match s.name {
            "clone3" => "clone",
            other => other,
        },
        types: match s.name {
            "unshare" | "clone" => Some(namespace_types(regs[0])),
            "clone3" if deref != 0 => Some(namespace_types(deref)),
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
    fn a_checked_syscall_is_reported_once() {
        let mode = |g: &str| {
            if g == "namespaces" {
                Coverage::On
            } else {
                Coverage::Auto
            }
        };
        let mut m = ExitMerge::new(&kernel_table_for(Arch::X86_64, mode));
        let args = [0x1002_0000, 0, 0, 0, 0, 0];
        // unshare(NEWUSER|NEWNS): the mount namespace's check, then the return.
        m.checked(7, 272, args);
        assert!(m.returned(7, 272, args));
        // The same call again with no check: its return is the only record.
        assert!(!m.returned(7, 272, args));
        // Another thread's return does not consume this thread's check.
        m.checked(7, 272, args);
        assert!(!m.returned(8, 272, args));
        assert!(m.returned(7, 272, args));
        // Syscalls without a fallback are not remembered.
        m.checked(9, 165, args);
        assert!(!m.returned(9, 165, args));
        assert_eq!(m.forgotten, 0);
    }

    #[test]
    fn a_pid_in_the_callers_namespace_is_found_on_the_host() {
        let me = std::process::id();
        let proc_root = std::path::Path::new("/proc");
        // In the host's pid namespace (these tests do not run in a container of their own
        // pid namespace, or pid 1 is theirs too): the pid is the host's.
        assert_eq!(host_pid(proc_root, me, me), Some(me));
        assert!(crate::cgroup::proc_cgroup(proc_root, me).is_some_and(|p| p.starts_with('/')));
        assert_eq!(host_pid(proc_root, u32::MAX, 1), None, "no such caller");
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

    #[test]
    fn namespace_flags_decode() {
        assert_eq!(namespace_types(0x0002_0000), ["mnt"]);
        assert_eq!(namespace_types(0x5000_0000), ["user", "net"]);
        assert!(namespace_types(0x11).is_empty());
        let unshare = lookup("unshare").unwrap();
        let change = namespace_change(unshare, &[0x0002_0000, 0, 0, 0, 0, 0], 0).unwrap();
        assert_eq!(change.operation, "unshare");
        assert_eq!(change.types, Some(vec!["mnt"]));
        let setns = lookup("setns").unwrap();
        assert_eq!(
            namespace_change(setns, &[3, 0, 0, 0, 0, 0], 0)
                .unwrap()
                .types,
            None
        );
        assert_eq!(namespace_change(lookup("mount").unwrap(), &[0; 6], 0), None);
        let clone3 = lookup("clone3").unwrap();
        assert_eq!(
            namespace_change(clone3, &[0x7ff0, 88, 0, 0, 0, 0], 0x1000_0000)
                .unwrap()
                .types,
            Some(vec!["user"])
        );
    }

    #[test]
    fn capset_and_setgroups_decode_what_the_kernel_read() {
        let root = IdSet {
            uid: Some(0),
            euid: Some(0),
            gid: Some(0),
            egid: Some(0),
        };
        let (raw_net, chown) = (1u32 << 13, 1u32 << 0);
        // New sets (effective, permitted, inheritable; low words then high words), then
        // the permitted and inheritable sets before.
        let capset = |e: u32, p: u32, i: u32, old_p: u64| -> Vec<u8> {
            [e, p, i, 0, 0, 0]
                .iter()
                .flat_map(|w| w.to_le_bytes())
                .chain(old_p.to_le_bytes())
                .chain(0u64.to_le_bytes())
                .collect()
        };
        let both = u64::from(raw_net | chown);
        let raw = capset(chown, chown, 0, both);
        let (cause, old, new) =
            other_credentials("capset", &[0; 6], &raw, None, root, both).unwrap();
        assert_eq!(cause, "capset");
        let old = old.capabilities.unwrap();
        assert_eq!(old.permitted, ["CAP_CHOWN", "CAP_NET_RAW"]);
        assert_eq!(old.inheritable, Some(vec![]));
        let new = new.capabilities.unwrap();
        assert_eq!(
            (new.effective, new.permitted),
            (vec!["CAP_CHOWN".to_string()], vec!["CAP_CHOWN".to_string()])
        );
        // The same sets again: no change, no event.
        let same = capset(raw_net | chown, raw_net | chown, 0, both);
        assert_eq!(
            other_credentials("capset", &[0; 6], &same, None, root, both),
            None
        );
        // Unreadable data: reported, with neither side's sets.
        let (_, old, new) = other_credentials("capset", &[0; 6], &[], None, root, both).unwrap();
        assert_eq!((old.capabilities, new.capabilities), (None, None));
        // setgroups: whole gids only; setfsuid: the id asked for, the rest unchanged.
        let groups = [5u32, 7]
            .iter()
            .flat_map(|g| g.to_le_bytes())
            .chain([1, 2])
            .collect::<Vec<u8>>();
        let (_, _, new) =
            other_credentials("setgroups", &[2, 0, 0, 0, 0, 0], &groups, None, root, 0).unwrap();
        assert_eq!(new.groups, Some(vec![5, 7]));
        // The same groups as before (in any order) are no change; unread ones count as one.
        let before: Vec<u8> = [7u32, 5].iter().flat_map(|g| g.to_le_bytes()).collect();
        let args = [2, 0, 0, 0, 0, 0];
        assert_eq!(
            other_credentials("setgroups", &args, &groups[..8], Some(&before), root, 0),
            None
        );
        let (_, old, _) = other_credentials(
            "setgroups",
            &args,
            &groups[..8],
            Some(&before[..4]),
            root,
            0,
        )
        .unwrap();
        assert_eq!(old.groups, Some(vec![7]));
        assert_eq!(
            other_credentials("setgroups", &[0; 6], &[], Some(&[]), root, 0),
            None,
            "setgroups(0, NULL) with no groups"
        );
        let (_, _, new) =
            other_credentials("setfsuid", &[1234, 0, 0, 0, 0, 0], &[], None, root, 0).unwrap();
        assert_eq!((new.fsuid, new.uid, new.fsgid), (Some(1234), Some(0), None));
        assert_eq!(
            other_credentials("setuid", &[0; 6], &[], None, root, 0),
            None
        );
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
