//! Records and map keys shared by the privmon eBPF programs and the daemon.
//!
//! Everything here is `#[repr(C)]` and has no implicit padding, so that the kernel side and
//! the user side agree on the bytes without any offset repeated in two places.
#![no_std]

/// Length of `task_struct::comm`.
pub const COMM_LEN: usize = 16;
/// Highest capability number the counters and arrays have room for (exclusive).
pub const MAX_CAPS: u32 = 64;

/// Names of the maps and globals, used by both sides.
pub mod names {
    pub const EVENTS: &str = "EVENTS";
    pub const CAP_COUNTS: &str = "CAP_COUNTS";
    pub const CAP_COUNTS_OVERFLOW: &str = "CAP_COUNTS_OVF";
    pub const CAP_SEEN: &str = "CAP_SEEN";
    pub const RINGBUF_DROPS: &str = "RINGBUF_DROPS";
    pub const PROBE_STATS: &str = "PROBE_STATS";
    pub const KPROBE_ARGS: &str = "KPROBE_ARGS";
    pub const HOST_CGROUPS: &str = "HOST_CGROUPS";
    pub const SENSITIVE_SYSCALLS: &str = "SENSITIVE_SYS";
    /// The probes' configuration ([`super::ProbeConfig`]): a read-only global set at load,
    /// which the verifier then knows as constants.
    pub const PROBE_CONFIG: &str = "PROBE_CONFIG";
    /// Values the daemon sets after loading, indexed by [`super::runtime`]: the self-test
    /// process, where the saved registers are on kernels without `bpf_task_pt_regs`.
    pub const RUNTIME: &str = "RUNTIME";
    /// The registers the self-test process's `setuid()` check saw ([`super::SelfTestRegs`]).
    pub const SELFTEST_REGS: &str = "SELFTEST_REGS";
    /// Bumped by the daemon after each change of [`HOST_CGROUPS`]: the probes' per-CPU
    /// filter cache is valid for one generation.
    pub const FILTER_GEN: &str = "FILTER_GEN";
    /// Hashes ([`super::name_hash`]) of the file names whose opens for writing the files
    /// fallback reports.
    pub const WATCHED_FILES: &str = "WATCHED_FILES";
    /// The kernel's functions around `cap_capable()` ([`super::CallSites`]), by which the
    /// tracepoint hooks tell the kernel's own no-audit checks.
    pub const CALL_SITES: &str = "CALL_SITES";
    /// Checks of the start-up self-test process, per (capability, [`super::AUDIT_UNKNOWN`]...).
    pub const SELFTEST: &str = "SELFTEST";
    /// Per watched cgroup, what to kill or deny: [`super::Enforcement`].
    pub const ENFORCE: &str = "ENFORCE";
    /// Hashes ([`super::name_hash`]) of the socket file names (`docker.sock`,
    /// `containerd.sock`, ...) whose `connect()` the `cgroup/connect_unix` program reports.
    pub const RUNTIME_SOCKETS: &str = "RUNTIME_SOCKETS";
    /// The host files and directories whose opens for writing are reported
    /// ([`super::HostFileKey`] to a [`super::host_file`] kind).
    pub const HOST_FILES: &str = "HOST_FILES";
}

/// Kind of a ring-buffer record: the first `u32` of every record. Ids are fixed forever.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    Capability = 1,
    CgroupMkdir = 2,
    CgroupRmdir = 3,
    Exec = 4,
    Exit = 5,
    /// A capability check made by a sensitive syscall: the check plus string arguments.
    Operation = 6,
    /// A sensitive syscall seen returning by a fallback syscall tracepoint (an
    /// [`OperationRecord`] whose check is [`NO_CHECK`] and whose `result` is set).
    SyscallExit = 7,
    /// A sensitive syscall seen at an LSM hook by an fentry program (an [`OperationRecord`]
    /// whose check is [`NO_CHECK`], before any result).
    LsmHook = 8,
    /// A new process (not a thread) was forked: see [`ForkRecord`].
    Fork = 9,
    /// A write under `/proc/sys` seen by the `cgroup/sysctl` program: see [`SysctlRecord`].
    Sysctl = 10,
    /// A `connect()` to a container runtime's socket seen by the `cgroup/connect_unix`
    /// program: see [`UnixConnectRecord`].
    UnixConnect = 11,
}

impl RecordKind {
    pub fn from_u32(v: u32) -> Option<Self> {
        match v {
            1 => Some(Self::Capability),
            2 => Some(Self::CgroupMkdir),
            3 => Some(Self::CgroupRmdir),
            4 => Some(Self::Exec),
            5 => Some(Self::Exit),
            6 => Some(Self::Operation),
            7 => Some(Self::SyscallExit),
            8 => Some(Self::LsmHook),
            9 => Some(Self::Fork),
            10 => Some(Self::Sysctl),
            11 => Some(Self::UnixConnect),
            _ => None,
        }
    }
}

/// Slots of [`names::RINGBUF_DROPS`]: the capability hooks (`Hook as u32`), then these.
pub mod drop_slot {
    pub const CGROUP_MKDIR: u32 = 4;
    pub const CGROUP_RMDIR: u32 = 5;
    pub const EXEC: u32 = 6;
    pub const EXIT: u32 = 7;
    pub const OPERATION: u32 = 8;
    /// The fallback syscall tracepoints.
    pub const SYSCALL_EXIT: u32 = 9;
    pub const FORK: u32 = 10;
    /// The `cgroup/sysctl` program.
    pub const SYSCTL: u32 = 11;
    /// The `cgroup/connect_unix` program.
    pub const UNIX_CONNECT: u32 = 12;
    pub const COUNT: u32 = 13;
}

/// Bytes of a cgroup path carried in a [`CgroupRecord`] (longer paths are truncated and
/// flagged).
pub const CGROUP_PATH_LEN: usize = 512;

/// Which attach strategy produced a record. Also the index into [`names::RINGBUF_DROPS`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    /// `tp_btf/cap_capable` (BTF-typed raw tracepoint, Linux >= 6.14).
    TpBtf = 0,
    /// `tracepoint/capability/cap_capable` (classic tracepoint, Linux >= 6.14).
    Tracepoint = 1,
    /// `fexit/cap_capable`.
    Fexit = 2,
    /// `kprobe/cap_capable` + `kretprobe/cap_capable`.
    Kprobe = 3,
}

/// Number of [`Hook`] variants (size of per-hook arrays).
pub const HOOK_COUNT: u32 = 4;

impl Hook {
    pub const ALL: [Hook; HOOK_COUNT as usize] =
        [Hook::TpBtf, Hook::Tracepoint, Hook::Fexit, Hook::Kprobe];

    pub fn from_u32(v: u32) -> Option<Self> {
        Self::ALL.get(v as usize).copied()
    }

    /// Stable name used in logs, config and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Hook::TpBtf => "tp_btf",
            Hook::Tracepoint => "tracepoint",
            Hook::Fexit => "fexit",
            Hook::Kprobe => "kprobe",
        }
    }
}

/// Verdict of a capability check.
pub const VERDICT_ALLOWED: u32 = 0;
pub const VERDICT_DENIED: u32 = 1;

/// Scope of a capability check: which user namespace it targets.
pub const SCOPE_HOST: u8 = 0;
pub const SCOPE_USER_NAMESPACE: u8 = 1;
pub const SCOPE_UNKNOWN: u8 = 2;

/// Whether the kernel audits a check: `cap_capable()`'s `opts` where the hook sees them,
/// else (the tracepoints) its caller ([`CallSites`]); unknown where neither says.
pub const AUDIT_UNKNOWN: u8 = 0;
pub const AUDIT_YES: u8 = 1;
/// `CAP_OPT_NOAUDIT`: `has_capability_noaudit()` and friends, checks that only probe
/// (memory accounting, seccomp without no_new_privs, ...): the kernel's own, never a record.
pub const AUDIT_NO: u8 = 2;
/// Cases of [`AUDIT_UNKNOWN`]... per capability in [`names::SELFTEST`].
pub const AUDIT_CASES: u32 = 3;

/// Flag in [`CapCountKey::verdict`]: a check the kernel makes for itself ([`AUDIT_NO`]),
/// counted apart from the workload's.
pub const COUNT_INTERNAL: u32 = 2;

/// Address ranges `[start, end)` of kernel functions, from `/proc/kallsyms`: the tracepoint
/// hooks have no `opts`, so a check's caller tells whether it is the kernel's own. Its
/// stack is walked up from `checker` past `through`; the first other frame is the caller.
/// All zero: unknown (every check is then [`AUDIT_UNKNOWN`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallSites {
    /// `cap_capable()`, where the tracepoint is.
    pub checker: [u64; 2],
    /// Functions between it and the caller that chose the options (`security_capable()`).
    pub through: [[u64; 2]; CallSites::THROUGH],
    /// Callers that pass `CAP_OPT_NOAUDIT` (`ns_capable_noaudit()`, `cap_vm_enough_memory()`, ...).
    pub internal: [[u64; 2]; CallSites::INTERNAL],
}

impl CallSites {
    pub const THROUGH: usize = 2;
    pub const INTERNAL: usize = 8;
    /// Frames read from a check's kernel stack.
    pub const DEPTH: usize = 12;
}
/// `CAP_OPT_NOAUDIT` in `cap_capable()`'s `opts` (include/linux/security.h).
pub const CAP_OPT_NOAUDIT: u32 = 1 << 1;

/// Indexes into the per-CPU [`names::PROBE_STATS`] array.
pub mod stat {
    /// Checks seen by the probe (after the own-process and host-cgroup filters).
    pub const CHECKS: u32 = 0;
    /// Checks skipped because they ran under overridden credentials (`cred != real_cred`).
    pub const OVERRIDDEN_CREDS: u32 = 1;
    /// Checks suppressed by the first-seen filter.
    pub const DEDUPLICATED: u32 = 2;
    /// Records written to the ring buffer.
    pub const EMITTED: u32 = 3;
    /// Kernel reads that failed (a field is then reported as unknown).
    pub const READ_ERRORS: u32 = 4;
    /// Counter updates that found the counters map full (counted in the overflow array).
    pub const COUNTS_OVERFLOWED: u32 = 5;
    /// kretprobe hits without a matching kprobe entry.
    pub const KPROBE_MISSED_ENTRY: u32 = 6;
    /// Sensitive syscalls seen returning by the fallback tracepoints (after the filters).
    pub const SYSCALL_EXITS: u32 = 7;
    /// Checks the kernel makes for itself ([`super::AUDIT_NO`]) that reached the record
    /// path: counted, never written.
    pub const INTERNAL: u32 = 8;
    /// Processes enforcement sent SIGKILL (a kill is counted here even when its record
    /// found the ring buffer full).
    pub const KILLED: u32 = 9;
    /// Calls enforcement refused with EPERM (the LSM `capable` and `cgroup/sysctl`
    /// programs).
    pub const DENIED: u32 = 10;
    pub const COUNT: u32 = 11;
}

/// Flags in [`ProbeConfig::flags`].
/// Indices of the [`names::RUNTIME`] array (`u32` values).
pub mod runtime {
    /// The start-up self-test process's tgid (0: none); its checks are classified and
    /// counted in `SELFTEST`, nothing else.
    pub const SELFTEST_TGID: u32 = 0;
    /// With [`super::config_flags::REGS_FROM_STACK`]: where a task's saved user registers
    /// are from the base of its kernel stack (`THREAD_SIZE - sizeof(struct pt_regs)`, as
    /// the kernel's `task_pt_regs()` computes them); 0 while unknown (no registers are read).
    pub const REGS_OFFSET: u32 = 1;
    /// The offset the start-up self-test tries: its own process's checks read registers
    /// there, every other check at [`REGS_OFFSET`], set once a trial matched.
    pub const TRIAL_REGS_OFFSET: u32 = 2;
    /// The union of every cgroup's [`super::Enforcement::deny`], low and high 32 bits:
    /// the LSM `capable` program looks a cgroup up only for a capability in it.
    pub const DENY_CAPS_LO: u32 = 3;
    pub const DENY_CAPS_HI: u32 = 4;
    pub const LEN: u32 = 5;
}

/// The capability the start-up self-test's `setuid()` checks (capability.h's number): its
/// registers, read at that check, validate where the probes read registers.
pub const SELFTEST_CAP: u32 = 7;

/// The registers of the self-test's `setuid()` check, as the probe found them: the daemon
/// compares them with what it called to validate where the probe reads registers.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SelfTestRegs {
    /// The syscall number the probe read (-1: none).
    pub nr: i64,
    pub arg0: u64,
    /// x86_64: the saved `cs` and `ss` (user segments: 0x33, 0x2b); 0 elsewhere.
    pub cs: u64,
    pub ss: u64,
}

impl SelfTestRegs {
    /// Nothing read yet.
    pub const NONE: SelfTestRegs = SelfTestRegs {
        nr: -1,
        arg0: 0,
        cs: 0,
        ss: 0,
    };
}

impl Default for SelfTestRegs {
    fn default() -> Self {
        Self::NONE
    }
}

pub mod config_flags {
    /// Denied checks bypass the first-seen filter.
    pub const ALWAYS_EMIT_DENIED: u32 = 1 << 0;
    /// Skip checks made in cgroups listed in [`super::names::HOST_CGROUPS`] (`watch:
    /// containers`). A cgroup the daemon has not classified yet is watched (fail open).
    pub const CONTAINERS_ONLY: u32 = 1 << 1;
    /// The kernel lacks `bpf_task_pt_regs` (before 5.15): the probes find the saved user
    /// registers at the top of the task's kernel stack (`task->stack` plus
    /// [`super::runtime::REGS_OFFSET`]) and read them with `bpf_probe_read_kernel`.
    pub const REGS_FROM_STACK: u32 = 1 << 2;
    /// Enforcement is configured: the probes look their cgroup up in
    /// [`super::names::ENFORCE`] (with the host filter's per-CPU cache). Without it, that
    /// code is not in the loaded programs.
    pub const ENFORCE: u32 = 1 << 3;
}

/// What the kernel does to the checks of one cgroup ([`names::ENFORCE`], filled by the
/// daemon once the container's entrypoint runs). Only the current task's own, audited,
/// allowed checks are acted on, never a process named as a container runtime's.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Enforcement {
    /// Capabilities (bit n: capability n) whose use kills the caller (SIGKILL at the check).
    pub kill: u64,
    /// Capabilities whose use fails with EPERM (the BPF LSM `capable` hook).
    pub deny: u64,
    /// [`enforce_flags`].
    pub flags: u32,
    pub _reserved: u32,
}

/// Flags of an [`Enforcement`].
pub mod enforce_flags {
    /// Record what would be done (`would_kill`, `would_deny`), do nothing.
    pub const DRY_RUN: u32 = 1 << 0;
    /// Writes under `/proc/sys` fail with EPERM (the `cgroup/sysctl` program).
    pub const DENY_SYSCTL_WRITES: u32 = 1 << 1;
}

/// [`CapabilityRecord::action`]: what the kernel did at the check.
pub mod action {
    pub const NONE: u8 = 0;
    pub const KILL: u8 = 1;
    pub const DENY: u8 = 2;
    pub const WOULD_KILL: u8 = 3;
    pub const WOULD_DENY: u8 = 4;
}

/// Steps of the capability probe's path for a repeated check that a bench run leaves out,
/// to measure what each costs (`PRIVMON_BENCH_SKIP`, docs/benchmarks.md), as bits of
/// [`ProbeConfig::flags`]. The configuration is constant to the verifier: with no bit set,
/// the code that tests them is not in the loaded program. Never set outside benchmarks:
/// a run with any of them set reports wrong things.
pub mod bench_skip {
    /// The cgroup filter (`watch: containers`): every cgroup counts as watched.
    pub const FILTER: u32 = 1 << 8;
    /// The self-test lookup.
    pub const SELFTEST: u32 = 1 << 9;
    /// The overridden-credentials test (the task's `cred` and `real_cred`).
    pub const CREDS: u32 = 1 << 10;
    /// The syscall's registers (the number is unknown, -1).
    pub const REGS: u32 = 1 << 11;
    /// The task's comm (read as empty).
    pub const COMM: u32 = 1 << 12;
    /// The window's clock (read as 0).
    pub const CLOCK: u32 = 1 << 13;
    /// The sensitive-syscall classification (no check is an operation).
    pub const CLASSIFY: u32 = 1 << 14;
    /// The statistics counters (checks, deduplicated).
    pub const STATS: u32 = 1 << 15;
    /// The first-seen cache lookup and its count: the program returns before it.
    pub const FIRST_SEEN: u32 = 1 << 16;
    /// Every step's name, for `PRIVMON_BENCH_SKIP`.
    pub const NAMES: [(&str, u32); 9] = [
        ("filter", FILTER),
        ("selftest", SELFTEST),
        ("creds", CREDS),
        ("regs", REGS),
        ("comm", COMM),
        ("clock", CLOCK),
        ("classify", CLASSIFY),
        ("stats", STATS),
        ("first_seen", FIRST_SEEN),
    ];
}

/// Offsets of the kernel struct fields the probes read, taken from the running kernel's
/// BTF by the daemon (Rust eBPF has no CO-RE relocations, so offsets come from user space).
/// An offset of [`KernelLayout::MISSING`] means the field was not found and is not read.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelLayout {
    pub task_flags: u32,
    /// `task_struct.comm`, read as two words where loads are plain.
    pub task_comm: u32,
    /// `task_struct.cgroups`, `css_set.dfl_cgrp`, `cgroup.kn` and `kernfs_node.id`: the
    /// cgroup v2 id as `bpf_get_current_cgroup_id` reads it, with plain loads.
    pub task_cgroups: u32,
    pub css_set_dfl_cgrp: u32,
    pub cgroup_kn: u32,
    pub kernfs_node_id: u32,
    /// `task_struct.thread_info.status` (x86_64): its `TS_COMPAT` bit marks a syscall made
    /// through the ia32 entry (`int 0x80`, a 32-bit binary), whose number is an ia32 one.
    pub task_ti_status: u32,
    /// `task_struct.stack`: the base of the task's kernel stack, at whose top the syscall's
    /// registers are saved ([`config_flags::REGS_FROM_STACK`]).
    pub task_stack: u32,
    /// `unix_sock.addr`: the address a listening unix socket is bound to (the
    /// `security_unix_stream_connect` fentry program's peer).
    pub unix_sock_addr: u32,
    pub task_cred: u32,
    pub task_real_cred: u32,
    pub cred_uid: u32,
    pub cred_euid: u32,
    pub cred_cap_effective: u32,
    pub user_ns_level: u32,
    /// Offsets of `cred`, `target_ns`, `cap`, `ret` in the classic tracepoint record.
    pub tp_cred: u32,
    pub tp_target_ns: u32,
    pub tp_cap: u32,
    pub tp_ret: u32,
    /// Offsets of `root`, `level`, `id` and `path` (a `__data_loc`) in the
    /// `cgroup:cgroup_mkdir`/`cgroup_rmdir` records.
    pub cg_root: u32,
    pub cg_level: u32,
    pub cg_id: u32,
    pub cg_path: u32,
    pub task_tgid: u32,
    pub task_real_parent: u32,
    pub task_mm: u32,
    pub mm_arg_start: u32,
    pub mm_arg_end: u32,
    pub bprm_filename: u32,
    pub cred_suid: u32,
    pub cred_gid: u32,
    pub cred_egid: u32,
    pub cred_sgid: u32,
    /// `linux_binprm.file`, `file.f_path.dentry`, `dentry.d_name.name`: the name of the
    /// file an exec runs (`memfd:...` for a memfd).
    pub bprm_file: u32,
    pub file_dentry: u32,
    pub dentry_name: u32,
    /// `cred.cap_permitted`, `cred.cap_inheritable` (`kernel_cap_t`: 64 bits, two `u32`s
    /// before 6.3).
    pub cred_cap_permitted: u32,
    pub cred_cap_inheritable: u32,
    /// `cred.group_info`, `group_info.ngroups`, `group_info.gid` (the array).
    pub cred_group_info: u32,
    pub group_info_ngroups: u32,
    pub group_info_gid: u32,
    /// `task_struct.pid` (the thread id; `tgid` is the process's).
    pub task_pid: u32,
    /// `task_struct.files`, `files_struct.fdt`, `fdtable.fd`, `fdtable.max_fds`: the
    /// `struct file` behind a descriptor.
    pub task_files: u32,
    pub files_fdt: u32,
    pub fdt_fd: u32,
    pub fdt_max_fds: u32,
    /// `file.f_path.mnt`, `dentry.d_parent`, `dentry.d_sb`, `super_block.s_dev`,
    /// `super_block.s_magic`, `vfsmount.mnt_root`, and in `struct mount`: `mnt` (the
    /// vfsmount inside it), `mnt_parent`, `mnt_mountpoint`, `mnt_id`: a file's path,
    /// across mounts, and which file system it is on.
    pub file_vfsmount: u32,
    pub dentry_parent: u32,
    pub dentry_sb: u32,
    pub sb_dev: u32,
    pub sb_magic: u32,
    pub vfsmount_root: u32,
    pub mount_mnt: u32,
    pub mount_parent: u32,
    pub mount_mountpoint: u32,
    pub mount_id: u32,
    /// `unix_address.len` and `unix_address.name` (a `sockaddr_un`; a `hash` before it
    /// until Linux 5.17).
    pub unix_address_len: u32,
    pub unix_address_name: u32,
    /// `inode.i_rdev`: a device file's device number (`blkdev_open`'s inode).
    pub inode_rdev: u32,
    /// `file.f_mode`, `dentry.d_inode`, `inode.i_ino`: whether an open writes, and which
    /// inode it opens (`security_file_open`'s host files).
    pub file_mode: u32,
    pub dentry_inode: u32,
    pub inode_ino: u32,
}

impl KernelLayout {
    pub const MISSING: u32 = u32::MAX;
    /// `PF_KTHREAD` in `task_struct::flags` (stable since 2.6).
    pub const PF_KTHREAD: u32 = 0x0020_0000;
    /// `PF_IO_WORKER` in `task_struct::flags` (5.12+): an io_uring worker thread, running
    /// submissions of its process; its saved registers are zeros, no syscall's.
    pub const PF_IO_WORKER: u32 = 0x0000_0010;
    /// x86's `TS_COMPAT` in `thread_info.status`.
    pub const TS_COMPAT: u32 = 0x0002;
    pub const EMPTY: KernelLayout = KernelLayout {
        task_flags: Self::MISSING,
        task_comm: Self::MISSING,
        task_cgroups: Self::MISSING,
        css_set_dfl_cgrp: Self::MISSING,
        cgroup_kn: Self::MISSING,
        kernfs_node_id: Self::MISSING,
        task_ti_status: Self::MISSING,
        task_stack: Self::MISSING,
        unix_sock_addr: Self::MISSING,
        task_cred: Self::MISSING,
        task_real_cred: Self::MISSING,
        cred_uid: Self::MISSING,
        cred_euid: Self::MISSING,
        cred_cap_effective: Self::MISSING,
        user_ns_level: Self::MISSING,
        tp_cred: Self::MISSING,
        tp_target_ns: Self::MISSING,
        tp_cap: Self::MISSING,
        tp_ret: Self::MISSING,
        cg_root: Self::MISSING,
        cg_level: Self::MISSING,
        cg_id: Self::MISSING,
        cg_path: Self::MISSING,
        task_tgid: Self::MISSING,
        task_real_parent: Self::MISSING,
        task_mm: Self::MISSING,
        mm_arg_start: Self::MISSING,
        mm_arg_end: Self::MISSING,
        bprm_filename: Self::MISSING,
        cred_suid: Self::MISSING,
        cred_gid: Self::MISSING,
        cred_egid: Self::MISSING,
        cred_sgid: Self::MISSING,
        bprm_file: Self::MISSING,
        file_dentry: Self::MISSING,
        dentry_name: Self::MISSING,
        cred_cap_permitted: Self::MISSING,
        cred_cap_inheritable: Self::MISSING,
        cred_group_info: Self::MISSING,
        group_info_ngroups: Self::MISSING,
        group_info_gid: Self::MISSING,
        task_pid: Self::MISSING,
        task_files: Self::MISSING,
        files_fdt: Self::MISSING,
        fdt_fd: Self::MISSING,
        fdt_max_fds: Self::MISSING,
        file_vfsmount: Self::MISSING,
        dentry_parent: Self::MISSING,
        dentry_sb: Self::MISSING,
        sb_dev: Self::MISSING,
        sb_magic: Self::MISSING,
        vfsmount_root: Self::MISSING,
        mount_mnt: Self::MISSING,
        mount_parent: Self::MISSING,
        mount_mountpoint: Self::MISSING,
        mount_id: Self::MISSING,
        unix_address_len: Self::MISSING,
        unix_address_name: Self::MISSING,
        inode_rdev: Self::MISSING,
        file_mode: Self::MISSING,
        dentry_inode: Self::MISSING,
        inode_ino: Self::MISSING,
    };
}

/// Configuration of the probes: the read-only global [`names::PROBE_CONFIG`], set by the
/// daemon when it loads the object. The verifier treats its fields as constants: offsets
/// allow plain loads from BTF-typed pointers, and branches on flags are pruned.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeConfig {
    /// The daemon's own process id (tgid): its checks are never reported.
    pub self_tgid: u32,
    pub flags: u32,
    /// A (cgroup, cap, verdict, syscall, comm) tuple is reported again only after this
    /// many jiffies (the kernel's timer ticks: `bpf_jiffies64`, a read of one variable where
    /// a clock read costs tens of nanoseconds). 0 reports every check (no first-seen filter).
    pub dedup_window_ticks: u64,
    pub layout: KernelLayout,
}

impl ProbeConfig {
    pub const EMPTY: ProbeConfig = ProbeConfig {
        self_tgid: 0,
        flags: 0,
        dedup_window_ticks: 0,
        layout: KernelLayout::EMPTY,
    };
}

/// A host file (or directory) watched for writes: its file system's device (the kernel's
/// `dev_t`, `super_block.s_dev`) and inode number. A container that bind-mounts the host's
/// `/etc` opens the host's inode, whatever path it used.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HostFileKey {
    pub ino: u64,
    pub dev: u32,
    pub _pad: u32,
}

/// What a [`HostFileKey`] names, and what an LSM-hook open record's `fd_mnt_id` says was
/// matched (its `fd_dev` and `deref` then hold the matched key's device and inode).
pub mod host_file {
    /// The file itself.
    pub const FILE: u32 = 1;
    /// A directory: a file in it (the open's path names which).
    pub const DIR: u32 = 2;
}

/// Key of the exact per-CPU counters: never deduplicated, never sampled.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CapCountKey {
    pub cgroup_id: u64,
    pub cap: u32,
    pub verdict: u32,
}

/// Key of the first-seen filter (LRU): one record per distinct tuple and window.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapSeenKey {
    pub cgroup_id: u64,
    pub cap: u32,
    pub verdict: u32,
    pub syscall: i64,
    /// The task's `comm`, as two words: the probe compares and hashes it a word at a time
    /// (as bytes, every step is 16 byte loads, shifts and stores).
    pub comm: [u64; 2],
}

/// Arguments of `cap_capable` saved by the kprobe for the kretprobe, keyed by pid_tgid.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KprobeArgs {
    pub cred: u64,
    pub target_ns: u64,
    pub cap: u32,
    pub opts: u32,
}

/// Set in a record's `syscall` when the call came through the ia32 entry (`int 0x80` or a
/// 32-bit binary on x86_64: `TS_COMPAT`); the low 32 bits are then its ia32 number, which
/// names another call than the same x86_64 number (ia32's 21 is mount, x86_64's access).
pub const SYSCALL_IA32: i64 = 1 << 32;

/// [`CapabilityRecord::syscall`] of a check an io_uring worker made (for a submission of
/// its process: no syscall names the operation).
pub const SYSCALL_IO_WORKER: i64 = -2;

/// One capability check, as written into the ring buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapabilityRecord {
    /// Always [`RecordKind::Capability`].
    pub kind: u32,
    pub cap: u32,
    /// `bpf_ktime_get_boot_ns()` at the check.
    pub boot_ns: u64,
    pub cgroup_id: u64,
    pub pid: u32,
    pub tid: u32,
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
    /// Syscall number behind the check (`orig_ax`), -1 when the check is not in a syscall,
    /// [`SYSCALL_IO_WORKER`] when an io_uring worker made it.
    pub syscall: i64,
    pub args: [u64; 6],
    /// Effective capability set of the checked credentials.
    pub cap_effective: u64,
    /// `cap_capable()` return value: 0 granted, negative errno denied.
    pub ret: i32,
    /// [`VERDICT_ALLOWED`] or [`VERDICT_DENIED`].
    pub verdict: u8,
    /// [`SCOPE_HOST`], [`SCOPE_USER_NAMESPACE`] or [`SCOPE_UNKNOWN`].
    pub scope: u8,
    /// [`Hook`] that produced the record.
    pub hook: u8,
    /// [`AUDIT_UNKNOWN`], [`AUDIT_YES`] or [`AUDIT_NO`].
    pub audit: u8,
    pub comm: [u8; COMM_LEN],
    /// [`action`]: what enforcement did at this check.
    pub action: u8,
    pub _reserved: [u8; 7],
}

impl CapabilityRecord {
    pub const SIZE: usize = core::mem::size_of::<CapabilityRecord>();
}

/// A cgroup created or removed (`cgroup:cgroup_mkdir` / `cgroup:cgroup_rmdir`), in any
/// hierarchy; the daemon keeps those of the v2 hierarchy.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CgroupRecord {
    /// [`RecordKind::CgroupMkdir`] or [`RecordKind::CgroupRmdir`].
    pub kind: u32,
    /// Hierarchy id (0 is the cgroup v2 hierarchy).
    pub hierarchy: i32,
    /// cgroup id (for v2: the inode number of its directory).
    pub id: u64,
    pub boot_ns: u64,
    pub level: i32,
    /// Bytes of `path` used, including the NUL; 0 if the path could not be read.
    pub path_len: u32,
    /// Path relative to the hierarchy root, NUL-terminated.
    pub path: [u8; CGROUP_PATH_LEN],
}

/// Value flags of [`names::SENSITIVE_SYSCALLS`], an array indexed by syscall number (an
/// array: its lookup is inlined, where a hash lookup costs as much as the rest of the
/// probe): [`op::SENSITIVE`] marks the sensitive ones; the low [`op::STRING_ARGS_MASK`] bits
/// say which arguments are user-space strings to capture (at most [`OP_STRINGS`], in
/// argument order).
pub mod op {
    pub const STRING_ARGS_MASK: u32 = 0x3f;
    pub const SENSITIVE: u32 = 1 << 31;
    /// A user-id syscall: sensitive only when it asks to change an id (a `setuid(0)` by
    /// root changes nothing and stays a plain, deduplicated capability check). The shape of
    /// its arguments is at [`ID_SHAPE_SHIFT`].
    pub const CREDENTIALS: u32 = 1 << 30;
    pub const ID_SHAPE_SHIFT: u32 = 8;
    pub const ID_SHAPE_MASK: u32 = 3;
    /// `setuid(uid)`: real, effective and saved uid.
    pub const ID_SETUID: u32 = 1;
    /// `setreuid(ruid, euid)`, -1 keeps one.
    pub const ID_SETREUID: u32 = 2;
    /// `setresuid(ruid, euid, suid)`, -1 keeps one.
    pub const ID_SETRESUID: u32 = 3;
    /// The group-id twin of a shape (`setgid`, `setregid`, `setresgid`): compared with the
    /// caller's gid, egid and saved gid.
    pub const ID_GID: u32 = 1 << 10;
    /// Raw bytes behind the pointer argument at [`DEREF_ARG_SHIFT`] go into the first
    /// string slot (`string_lens[0]` bytes; `string_args` stays 0); the shape is here.
    pub const RAW_SHIFT: u32 = 6;
    pub const RAW_MASK: u32 = 3;
    /// `capset(header, data)`: the two `__user_cap_data_struct`s (24 bytes: effective,
    /// permitted, inheritable, low then high words), then the caller's permitted and
    /// inheritable sets before the call (8 bytes each, read from the checked credentials).
    pub const RAW_CAPSET: u32 = 1;
    /// `setgroups(size, list)`: `4 * min(size, RAW_MAX_GROUPS)` bytes of gids; the second
    /// slot holds the caller's groups before the call (at most as many; `string_lens[1]`
    /// is their byte count with [`RAW_READ`] set, 0 if unreadable).
    pub const RAW_GROUPS: u32 = 2;
    pub const RAW_MAX_GROUPS: u64 = 32;
    /// In `string_lens[1]` of a [`RAW_GROUPS`] record: the groups before were read.
    pub const RAW_READ: u32 = 1 << 31;
    /// Bytes of the capset data in a [`RAW_CAPSET`] slot; the old sets follow.
    pub const RAW_CAPSET_DATA: usize = 24;
    /// Syscall numbers the table covers (x86_64 and aarch64 numbers are below 512).
    pub const TABLE_LEN: u32 = 512;

    /// The syscall's group has its fallback on: the `syscalls:sys_exit_*` program reports
    /// it, subject to the filter at [`FALLBACK_SHIFT`].
    pub const FALLBACK: u32 = 1 << 29;
    /// Read the `u64` a pointer argument points to (`clone3`'s `clone_args.flags`,
    /// `openat2`'s `open_how.flags`) into [`super::OperationRecord::deref`]; which argument
    /// is at [`DEREF_ARG_SHIFT`].
    pub const DEREF: u32 = 1 << 28;
    pub const DEREF_ARG_SHIFT: u32 = 24;
    pub const ARG_MASK: u32 = 7;
    /// Which fallback records are kept (bits 12..16), see the `FB_*` values.
    pub const FALLBACK_SHIFT: u32 = 12;
    pub const FALLBACK_MASK: u32 = 0xf;
    /// Every call.
    pub const FB_ALWAYS: u32 = 0;
    /// `CLONE_NEWUSER` in the flags (argument 0, or the dereferenced `clone_args`), in the
    /// caller only (a new child returns 0 from the same syscall).
    pub const FB_NEW_USER_NS: u32 = 1;
    /// An open for writing (flags in the argument at [`FB_FLAGS_ARG_SHIFT`], or the
    /// dereferenced `open_how`) of a path whose last component is one of
    /// [`super::names::WATCHED_FILES`]; the path is the first string argument.
    pub const FB_OPEN_WATCHED: u32 = 2;
    pub const FB_FLAGS_ARG_SHIFT: u32 = 16;
    /// The flags are read through [`DEREF`].
    pub const FB_FLAGS_DEREF: u32 = 1 << 19;
    /// `clone`/`clone3`: the new child returns 0 from the syscall too, and is skipped.
    pub const FB_CHILD_RETURNS_ZERO: u32 = 1 << 20;
    /// The syscall's group has an LSM-hook source attached (`auto`): the fentry programs on
    /// the LSM hooks report it (see the daemon's `operations::LSM_SOURCES`).
    pub const LSM: u32 = 1 << 22;
    /// An open syscall (`open`, `openat`, `openat2`) reported by fentry programs: at the
    /// ptrace access check `security_ptrace_access_check` makes for a process's `/proc`
    /// files, when the process is in another cgroup and the file is `mem` or `environ`
    /// (another container's or the host's memory and secrets); at `blkdev_open`, a block
    /// device's open (with its number in the record's `fd_dev`); at `security_file_open`,
    /// an open for writing of a host file ([`HostFileKey`], with [`host_file`] in the
    /// record's `fd_mnt_id`).
    pub const LSM_PROC: u32 = 1 << 11;
    /// `PTRACE_MODE_NOAUDIT`: a ptrace check made only to decide what to show (`ps`
    /// reading `/proc/<pid>/stat`), never reported.
    pub const PTRACE_MODE_NOAUDIT: u32 = 0x04;
    /// `CLONE_NEWUSER`.
    pub const CLONE_NEWUSER: u64 = 0x1000_0000;
    /// `clone`, `clone3`, `unshare`: sensitive at a check only when the flags (argument 0, or
    /// the dereferenced `clone_args`) ask for a new namespace. A plain fork makes checks too
    /// (the memory accounting's CAP_SYS_ADMIN probe), and is no namespace change.
    pub const NEW_NS: u32 = 1 << 27;
    /// With [`NEW_NS`]: `CLONE_NEWTIME` (0x80) counts; in `clone()`'s flags that bit is part
    /// of the exit signal.
    pub const NEW_NS_TIME: u32 = 1 << 21;
    /// `CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET`.
    pub const CLONE_NEW_MASK: u64 = 0x7e02_0000;
    pub const CLONE_NEWTIME: u64 = 0x80;
    /// The file behind argument 0 (a descriptor) is named in the kernel, at the check:
    /// its path components, leaf first, each NUL-terminated, in the second and third string
    /// slots ([`FD_PATH_BYTES`]); `string_lens[1]` is the bytes used with
    /// [`FD_PATH_READ`] (and [`FD_PATH_ROOT`] when the walk reached the root) set; the
    /// record's `fd_*` fields say which file system and mount.
    pub const FD_PATH: u32 = 1 << 23;
    pub const FD_PATH_READ: u32 = 1 << 29;
    pub const FD_PATH_ROOT: u32 = 1 << 28;
    /// Bytes of the two slots the path takes.
    pub const FD_PATH_BYTES: usize = 2 * super::OP_STRING_LEN;
    /// Steps of the walk: a component, or a mount crossed.
    pub const FD_PATH_STEPS: u32 = 24;
}

/// FNV-1a over the bytes of a file name: how the fallback matches the last component of a
/// path against [`names::WATCHED_FILES`] without string compares in the kernel.
pub const fn name_hash(name: &[u8]) -> u32 {
    let mut h = FNV_OFFSET;
    let mut i = 0;
    while i < name.len() {
        h = (h ^ name[i] as u32).wrapping_mul(FNV_PRIME);
        i += 1;
    }
    h
}
pub const FNV_OFFSET: u32 = 0x811c_9dc5;
pub const FNV_PRIME: u32 = 0x0100_0193;

/// The record's check when there was none (a [`RecordKind::SyscallExit`] record).
pub const NO_CHECK: u32 = u32::MAX;

/// String arguments carried by an [`OperationRecord`], and their size.
pub const OP_STRINGS: usize = 3;
pub const OP_STRING_LEN: usize = 128;

/// A capability check made by a syscall on the sensitive list: every one is reported (no
/// first-seen filter), with up to [`OP_STRINGS`] string arguments read from user memory.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperationRecord {
    /// Always [`RecordKind::Operation`].
    pub kind: u32,
    /// Which arguments the strings are (bit i: argument i), in order.
    pub string_args: u32,
    /// Bytes of each string used, including the NUL; 0 if unreadable.
    pub string_lens: [u32; OP_STRINGS],
    /// [`op::FD_PATH`]: the file's `super_block.s_magic` (its file system type), else 0.
    pub fd_fs_magic: u32,
    /// [`RecordKind::SyscallExit`]: the syscall's return value.
    pub result: i64,
    /// The `u64` at the pointer argument named by [`op::DEREF`], else 0.
    pub deref: u64,
    /// [`op::FD_PATH`]: the file's device (the kernel's `dev_t`: major << 20 | minor) and
    /// mount id (as in /proc/<pid>/mountinfo), else 0.
    pub fd_dev: u32,
    pub fd_mnt_id: u32,
    /// The check itself ([`NO_CHECK`] for [`RecordKind::SyscallExit`]).
    pub check: CapabilityRecord,
    pub strings: [[u8; OP_STRING_LEN]; OP_STRINGS],
}

/// Bytes of an executable path carried in an [`ExecRecord`].
pub const EXEC_FILENAME_LEN: usize = 256;
/// Bytes of the argument list carried in an [`ExecRecord`] (a power of two: the probe masks
/// the length with `EXEC_ARGS_LEN - 1` for the verifier).
pub const EXEC_ARGS_LEN: usize = 512;

/// Flags of an [`ExecRecord`].
pub mod exec_flags {
    /// The argument list was longer than `args`.
    pub const ARGS_TRUNCATED: u32 = 1 << 0;
    /// The executed file is a memfd (`memfd_create`): a program that never was on disk.
    pub const MEMFD: u32 = 1 << 1;
}

/// A successful execve (`sched_process_exec`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecRecord {
    /// Always [`RecordKind::Exec`].
    pub kind: u32,
    pub pid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub euid: u32,
    /// Bytes of `filename` used, including the NUL; 0 if unreadable.
    pub filename_len: u32,
    pub cgroup_id: u64,
    pub boot_ns: u64,
    /// Bytes of `args` used (NUL-separated arguments); may stop mid-argument.
    pub args_len: u32,
    /// [`exec_flags`].
    pub flags: u32,
    /// The credentials after the exec: set-group-id files change `egid`, file capabilities
    /// (and root's exec) the capability sets.
    pub gid: u32,
    pub egid: u32,
    pub cap_permitted: u64,
    pub cap_effective: u64,
    pub comm: [u8; COMM_LEN],
    pub filename: [u8; EXEC_FILENAME_LEN],
    pub args: [u8; EXEC_ARGS_LEN],
}

/// A process (thread group leader) exited (`sched_process_exit`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitRecord {
    /// Always [`RecordKind::Exit`].
    pub kind: u32,
    pub pid: u32,
    pub boot_ns: u64,
}

/// A process forked a new process (`sched_process_fork`; threads are not reported): the
/// child runs the parent's program until it execs.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForkRecord {
    /// Always [`RecordKind::Fork`].
    pub kind: u32,
    /// The child's pid (its thread group id).
    pub pid: u32,
    /// The parent's pid (thread group id).
    pub ppid: u32,
    pub _pad: u32,
    pub boot_ns: u64,
}

/// Bytes of a sysctl's name carried in a [`SysctlRecord`] (`kernel/core_pattern`).
pub const SYSCTL_NAME_LEN: usize = 64;
/// Bytes of a sysctl's new value carried in a [`SysctlRecord`] (longer values are cut and
/// flagged).
pub const SYSCTL_VALUE_LEN: usize = 128;

/// Flags of a [`SysctlRecord`].
pub mod sysctl_flags {
    /// The value was longer than `value` (it is cut).
    pub const VALUE_TRUNCATED: u32 = 1 << 0;
    /// The write was refused (EPERM): [`super::enforce_flags::DENY_SYSCTL_WRITES`].
    pub const DENIED: u32 = 1 << 1;
    /// The write would have been refused (dry run).
    pub const WOULD_DENY: u32 = 1 << 2;
}

/// A write under `/proc/sys` (`cgroup/sysctl`, on the cgroup v2 root): the kernel has
/// checked the file's permissions and is about to hand the value to the sysctl's handler.
/// A value written in pieces makes one record per piece (`file_pos`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SysctlRecord {
    /// Always [`RecordKind::Sysctl`].
    pub kind: u32,
    /// The writer's thread group and thread (0 where the kernel gives a sysctl program
    /// neither: before Linux 6.1).
    pub pid: u32,
    pub tid: u32,
    /// The writer's uid (`u32::MAX`: unknown).
    pub uid: u32,
    /// Bytes of `name` and `value` used, including the NUL; 0 if unreadable.
    pub name_len: u32,
    pub value_len: u32,
    /// [`sysctl_flags`].
    pub flags: u32,
    /// Where in the file the write starts.
    pub file_pos: u32,
    pub cgroup_id: u64,
    pub boot_ns: u64,
    pub comm: [u8; COMM_LEN],
    pub name: [u8; SYSCTL_NAME_LEN],
    pub value: [u8; SYSCTL_VALUE_LEN],
}

/// Bytes of a unix socket address's `sun_path` (the kernel's `UNIX_PATH_MAX`).
pub const UNIX_PATH_LEN: usize = 108;

/// Flags of a [`UnixConnectRecord`].
pub mod unix_flags {
    /// An abstract address (`sun_path` starts with a NUL; the name follows it).
    pub const ABSTRACT: u32 = 1 << 0;
    /// The address is the listener's, as it bound it (in its own mount namespace), seen by
    /// the `security_unix_stream_connect` fentry program; else the caller's, as written.
    pub const PEER: u32 = 1 << 1;
}

/// A `connect()` of a unix socket from a watched cgroup to an address whose last component
/// is a runtime socket's name ([`names::RUNTIME_SOCKETS`]), seen by `cgroup/connect_unix`
/// (Linux 6.7+) on the cgroup v2 root before the kernel looks the address up: the path is
/// the one the caller wrote, in its own mount namespace.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnixConnectRecord {
    /// Always [`RecordKind::UnixConnect`].
    pub kind: u32,
    pub pid: u32,
    pub tid: u32,
    pub uid: u32,
    pub cgroup_id: u64,
    pub boot_ns: u64,
    pub comm: [u8; COMM_LEN],
    /// Bytes of `path` given (the address length less the family's 2 bytes).
    pub path_len: u32,
    /// [`unix_flags`].
    pub flags: u32,
    /// `sun_path` as given; 4 bytes of padding after the kernel's 108.
    pub path: [u8; UNIX_PATH_LEN + 4],
}

#[cfg(feature = "user")]
mod user {
    use super::*;

    // SAFETY: plain #[repr(C)] integer structs without implicit padding.
    unsafe impl aya::Pod for ProbeConfig {}
    unsafe impl aya::Pod for CallSites {}
    unsafe impl aya::Pod for SelfTestRegs {}
    unsafe impl aya::Pod for CapCountKey {}
    unsafe impl aya::Pod for HostFileKey {}
    unsafe impl aya::Pod for CapSeenKey {}
    unsafe impl aya::Pod for CapabilityRecord {}
    unsafe impl aya::Pod for Enforcement {}
    unsafe impl aya::Pod for KprobeArgs {}
    unsafe impl aya::Pod for CgroupRecord {}
    unsafe impl aya::Pod for ExecRecord {}
    unsafe impl aya::Pod for ExitRecord {}
    unsafe impl aya::Pod for ForkRecord {}
    unsafe impl aya::Pod for OperationRecord {}
    unsafe impl aya::Pod for SysctlRecord {}
    unsafe impl aya::Pod for UnixConnectRecord {}
}

// Layout guards: a change that introduces padding breaks the contract between both sides.
const _: () = assert!(core::mem::size_of::<CapCountKey>() == 16);
const _: () = assert!(core::mem::size_of::<CapSeenKey>() == 40);
const _: () = assert!(core::mem::size_of::<KernelLayout>() == 248);
const _: () = assert!(core::mem::size_of::<ProbeConfig>() == 264);
const _: () = assert!(
    core::mem::size_of::<CallSites>() == 16 * (1 + CallSites::THROUGH + CallSites::INTERNAL)
);
const _: () = assert!(core::mem::size_of::<CapabilityRecord>() == 144);
const _: () = assert!(
    core::mem::size_of::<SysctlRecord>() == 48 + COMM_LEN + SYSCTL_NAME_LEN + SYSCTL_VALUE_LEN
);
const _: () = assert!(core::mem::size_of::<CgroupRecord>() == 32 + CGROUP_PATH_LEN);
const _: () = assert!(core::mem::size_of::<UnixConnectRecord>() == 168);
const _: () = assert!(core::mem::size_of::<ExecRecord>() == 88 + EXEC_FILENAME_LEN + EXEC_ARGS_LEN);
const _: () = assert!(core::mem::size_of::<ExitRecord>() == 16);
const _: () = assert!(core::mem::size_of::<ForkRecord>() == 24);
const _: () =
    assert!(core::mem::size_of::<OperationRecord>() == 48 + 144 + OP_STRINGS * OP_STRING_LEN);
const _: () = assert!(core::mem::size_of::<Enforcement>() == 24);
