//! LSM hooks, through BPF trampolines (fentry/fexit): zero tax on other syscalls, and they
//! load wherever the kernel has trampolines (not where fexit/fentry are refused, as on
//! Firecracker's 6.18 here: there the daemon falls back as described below).
//!
//! - `capset()`: the kernel makes its CAP_SETPCAP check by a direct call to `cap_capable()`
//!   (`cap_inh_is_capped`), which the fexit and kprobe capability hooks miss where the
//!   compiler inlined or cloned it (Debian's 6.1 and 6.12). `fexit/security_capset` sees
//!   every call with its outcome; where it attaches, the daemon stops reporting capset at
//!   its check.
//! - Operations that make no capability check (a group's gap, see the daemon's
//!   `operations::LSM_SOURCES`): fentry on the LSM hook they pass, for the syscalls the
//!   daemon marks [`op::LSM`] once the group's programs attached (`auto`).

use aya_ebpf::{
    helpers::{
        bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid,
        bpf_get_current_task, bpf_ktime_get_boot_ns,
    },
    macros::{fentry, fexit, lsm},
    programs::{FEntryContext, FExitContext, LsmContext},
};
use monitor_common::{
    CAP_OPT_NOAUDIT, COMM_LEN, Hook, HostFileKey, KernelLayout, MAX_CAPS, NO_CHECK,
    VERDICT_ALLOWED, config_flags, enforce_flags, host_file, name_hash, op, runtime, stat,
};

use crate::{
    config::{RUNTIME, config},
    emit::{Check, Emit, Seen, emit_operation},
    maps::{ENFORCE, HOST_FILES, SENSITIVE_SYS, runtime_comm, stat_inc, watched},
    task::{Access as _, Btf, Probe, SyscallRegs, read_at},
};

/// `-EPERM`.
const EPERM: i32 = -1;

/// match-proto: v5.7: include/linux/lsm_hook_defs.h: LSM_HOOK(int, 0, capable, const struct
/// cred *cred, struct user_namespace *ns, int cap, unsigned int opts)
/// BPF LSM (`bpf` in `lsm=`): enforcement's `deny`. The capability module has allowed the
/// check when this runs (a refusal ends the LSM chain). Loaded only when a deny is
/// configured; the capability hook writes the check's record (with `action: deny`), this
/// program only refuses it, on the same conditions.
#[lsm(hook = "capable")]
pub fn lsm_capable(ctx: LsmContext) -> i32 {
    let previous: i32 = ctx.arg(4);
    if previous != 0 {
        return previous;
    }
    deny_capable(ctx.arg(0), ctx.arg(1), ctx.arg(2), ctx.arg(3))
}

#[inline(always)]
fn deny_capable(cred: u64, ns: u64, cap: u32, opts: u32) -> i32 {
    let Some(cfg) = config() else { return 0 };
    // The kernel's own checks (`opts` no-audit) are never refused.
    if cfg.flags & config_flags::ENFORCE == 0 || cap >= MAX_CAPS || opts & CAP_OPT_NOAUDIT != 0 {
        return 0;
    }
    // The union of every cgroup's deny set first: an array read, where the per-cgroup
    // lookup is a hash lookup.
    let (index, bit) = if cap < 32 {
        (runtime::DENY_CAPS_LO, cap)
    } else {
        (runtime::DENY_CAPS_HI, cap - 32)
    };
    if RUNTIME.get(index).copied().unwrap_or(0) & (1 << bit) == 0 {
        return 0;
    }
    let pid_tgid = bpf_get_current_pid_tgid();
    if (pid_tgid >> 32) as u32 == cfg.self_tgid {
        return 0;
    }
    // SAFETY: plain helper call.
    let cgroup_id = unsafe { bpf_get_current_cgroup_id() };
    // SAFETY (get): copied out at once.
    let Some(e) = (unsafe { ENFORCE.get(cgroup_id) }).copied() else {
        return 0;
    };
    let mask = 1u64 << cap;
    // A kill takes precedence (the capability hook kills); a dry run refuses nothing.
    if e.deny & mask == 0 || e.kill & mask != 0 || e.flags & enforce_flags::DRY_RUN != 0 {
        return 0;
    }
    // The caller's own credentials, not overridden ones (as the capability hook decides).
    let layout = &cfg.layout;
    // SAFETY: returns the current task_struct address; only read through probe_read.
    let task = unsafe { bpf_get_current_task() };
    let own = read_at::<u64>(task, layout.task_cred);
    if own != Some(cred) || read_at::<u64>(task, layout.task_real_cred) != own {
        return 0;
    }
    // Against the host's user namespace only, as the capability hook decides.
    if read_at::<i32>(ns, layout.user_ns_level) != Some(0) {
        return 0;
    }
    let comm = bpf_get_current_comm().unwrap_or([0u8; COMM_LEN]);
    // SAFETY: 16 bytes as two words.
    if runtime_comm(&unsafe { core::mem::transmute::<[u8; COMM_LEN], [u64; 2]>(comm) }) {
        return 0;
    }
    stat_inc(stat::DENIED);
    EPERM
}

/// match-proto: v2.6.29: include/linux/security.h: int security_capset(struct cred *new,
/// const struct cred *old, const kernel_cap_t *effective, const kernel_cap_t *inheritable,
/// const kernel_cap_t *permitted)
/// The daemon attaches this only after checking in BTF that the function has five
/// parameters, so the return value is the sixth argument slot.
#[fexit(function = "security_capset")]
pub fn security_capset_fexit(ctx: FExitContext) -> i32 {
    let old: u64 = ctx.arg(1);
    let ret: i64 = ctx.arg::<i64>(5) as i32 as i64;
    // The caller's credentials before the call: the record's old sets.
    emit_unchecked(Some(old), Seen::Exit(ret), 0);
    0
}

/// match-proto: v2.6.27: include/linux/security.h: int security_ptrace_access_check(
/// struct task_struct *child, unsigned int mode). Also reached from /proc reads of other
/// processes: only ptrace and process_vm_readv/writev (marked [`op::LSM`]) are reported.
/// The same check made for an open of another process's `/proc/<pid>/mem` or `environ`
/// (`mm_access()`): reported when that process is in another cgroup ([`op::LSM_PROC`]).
#[fentry(function = "security_ptrace_access_check")]
pub fn lsm_ptrace_access_check(ctx: FEntryContext) -> i32 {
    let child: u64 = ctx.arg(0);
    let mode = ctx.arg::<u64>(1) as u32;
    emit_unchecked_for(None, Seen::Lsm, op::LSM, Open::Ptrace { child, mode });
    0
}

/// match-proto: v2.6.28: fs/block_dev.c (block/fops.c since 5.15): static int
/// blkdev_open(struct inode *inode, struct file *filp)
/// An open of a block device (a raw read of a host disk: `debugfs /dev/sda1`), which makes
/// no capability check: reported from watched cgroups with the device's number
/// ([`op::LSM_PROC`] marks the open syscalls).
#[fentry(function = "blkdev_open")]
pub fn blkdev_open_fentry(ctx: FEntryContext) -> i32 {
    let inode: u64 = ctx.arg(0);
    emit_unchecked_for(None, Seen::Lsm, op::LSM, Open::Block { inode });
    0
}

/// `FMODE_WRITE`.
const FMODE_WRITE: u32 = 0x2;

/// match-proto: v3.5: include/linux/security.h: int security_file_open(struct file *file)
/// Every open on the node passes here: one that does not write leaves after one load of
/// `f_mode` (a plain load: `file` is BTF-typed and the offset a constant), one of an
/// unwatched cgroup after the filter; a watched one that writes is looked up by its inode
/// (and its directory's) in [`HOST_FILES`]: a container writing the host's `/etc/passwd`
/// through a bind mount opens the host's inode.
#[fentry(function = "security_file_open")]
pub fn file_open_fentry(ctx: FEntryContext) -> i32 {
    let file: u64 = ctx.arg(0);
    let Some(cfg) = config() else { return 0 };
    let layout = &cfg.layout;
    if Btf.read::<u32>(file, layout.file_mode).unwrap_or(0) & FMODE_WRITE == 0 {
        return 0;
    }
    // SAFETY: plain helper call.
    if !watched(cfg, unsafe { bpf_get_current_cgroup_id() }) {
        return 0;
    }
    if let Some((key, kind)) = watched_host_file(file, layout) {
        emit_unchecked_for(None, Seen::Lsm, op::LSM, Open::HostFile { key, kind });
    }
    0
}

/// The [`HOST_FILES`] entry `file` is (a watched file) or is in (a watched directory).
/// Plain loads along BTF-typed pointers (`file`, its dentry, inode, super block, parent).
#[inline(always)]
fn watched_host_file(file: u64, l: &KernelLayout) -> Option<(HostFileKey, u32)> {
    let dentry: u64 = Btf.read(file, l.file_dentry)?;
    let sb: u64 = Btf.read(dentry, l.dentry_sb)?;
    let inode: u64 = Btf.read(dentry, l.dentry_inode)?;
    let mut key = HostFileKey {
        ino: Btf.read(inode, l.inode_ino)?,
        dev: Btf.read(sb, l.sb_dev)?,
        _pad: 0,
    };
    // SAFETY (get): copied out at once.
    if unsafe { HOST_FILES.get(key) }.copied() == Some(host_file::FILE) {
        return Some((key, host_file::FILE));
    }
    let parent: u64 = Btf.read(dentry, l.dentry_parent)?;
    let dir: u64 = Btf.read(parent, l.dentry_inode)?;
    key.ino = Btf.read(dir, l.inode_ino)?;
    // SAFETY (get): copied out at once.
    match unsafe { HOST_FILES.get(key) }.copied() {
        Some(host_file::DIR) => Some((key, host_file::DIR)),
        _ => None,
    }
}

/// An open seen at an LSM-hook source, besides the syscalls marked [`op::LSM`].
#[derive(Clone, Copy)]
enum Open {
    None,
    /// At the ptrace access check of `child`, with the check's mode.
    Ptrace {
        child: u64,
        mode: u32,
    },
    /// Of the block device whose inode is `inode`.
    Block {
        inode: u64,
    },
    /// For writing, of a watched host file (`kind` [`host_file::FILE`]) or of a file in a
    /// watched host directory ([`host_file::DIR`]).
    HostFile {
        key: HostFileKey,
        kind: u32,
    },
}

/// match-proto: v2.6.27: include/linux/security.h: int security_ptrace_traceme(
/// struct task_struct *parent)
#[fentry(function = "security_ptrace_traceme")]
pub fn lsm_ptrace_traceme(_ctx: FEntryContext) -> i32 {
    emit_unchecked(None, Seen::Lsm, op::LSM);
    0
}

/// Emits the current syscall, which made no capability check of its own, as `seen`, if its
/// entry in the sensitive table has the bits `required`. `cred`: the credentials to
/// report (default: the task's).
#[inline(always)]
fn emit_unchecked(cred: Option<u64>, seen: Seen, required: u32) {
    emit_unchecked_for(cred, seen, required, Open::None);
}

/// [`emit_unchecked`], and the open `open` names when the current syscall is an open marked
/// [`op::LSM_PROC`]: at a ptrace access check, of another cgroup's process's `/proc` files;
/// of a block device.
#[inline(always)]
fn emit_unchecked_for(cred: Option<u64>, seen: Seen, required: u32, open: Open) {
    let Some(cfg) = config() else { return };
    let pid_tgid = bpf_get_current_pid_tgid();
    if (pid_tgid >> 32) as u32 == cfg.self_tgid {
        return;
    }
    // SAFETY: plain helper call.
    let cgroup_id = unsafe { bpf_get_current_cgroup_id() };
    if !watched(cfg, cgroup_id) {
        return;
    }
    let layout = &cfg.layout;
    // SAFETY: returns the current task_struct address; only read through probe_read.
    let task = unsafe { bpf_get_current_task() };
    let regs = SyscallRegs::current(Probe, task, layout);
    let syscall = regs.as_ref().map_or(-1, SyscallRegs::nr);
    // The syscall's entry: what to read (strings, capset's data), whether it is wanted.
    let spec = u32::try_from(syscall)
        .ok()
        .and_then(|nr| SENSITIVE_SYS.get(nr))
        .copied()
        .unwrap_or(0);
    // The device number of a block device opened (0: another open, or none).
    let mut device = 0u32;
    let mut host = None;
    let as_open = match open {
        // A block device's open is its own hook: whatever the syscall's other marks.
        Open::Block { inode } => {
            if spec & op::LSM_PROC == 0 {
                return;
            }
            device = read_at(inode, layout.inode_rdev).unwrap_or(0);
            if device == 0 {
                return;
            }
            true
        }
        Open::HostFile { key, kind } => {
            if spec & op::LSM_PROC == 0 {
                return;
            }
            host = Some((key, kind));
            true
        }
        _ if spec & required == required => false,
        Open::Ptrace { child, mode } => {
            if spec & op::LSM_PROC == 0
                || mode & op::PTRACE_MODE_NOAUDIT != 0
                || task_cgroup_id(child, layout).is_none_or(|id| id == cgroup_id)
            {
                return;
            }
            true
        }
        Open::None => return,
    };
    let check = Check {
        cred: cred.unwrap_or_else(|| read_at(task, layout.task_cred).unwrap_or(0)),
        target_ns: 0,
        cap: NO_CHECK,
        ret: 0,
        opts: None,
    };
    let comm = Probe.comm(0, layout);
    let what = Emit {
        hook: Hook::Fexit,
        check: &check,
        cgroup_id,
        pid_tgid,
        syscall,
        regs: regs.as_ref(),
        // SAFETY: plain helper call.
        now: unsafe { bpf_ktime_get_boot_ns() },
        verdict: VERDICT_ALLOWED,
        comm: &comm,
        layout,
        // No capability check behind the record.
        audit: monitor_common::AUDIT_UNKNOWN,
        action: monitor_common::action::NONE,
    };
    if let Some((key, kind)) = host {
        emit_operation(&what, spec, seen, |_, rec| {
            // The watched file (or directory) matched, where a fd's file goes.
            rec.fd_dev = key.dev;
            rec.deref = key.ino;
            rec.fd_mnt_id = kind;
            true
        });
    } else if as_open && device != 0 {
        emit_operation(&what, spec, seen, |_, rec| {
            // The opened device, where a fd's file device goes (no fd path on an open).
            rec.fd_dev = device;
            true
        });
    } else if as_open {
        emit_operation(&what, spec, seen, |_, rec| proc_secret(rec));
    } else {
        // fexit/security_capset is seen returning: the fallbacks' filter applies as to theirs.
        emit_operation(&what, spec, seen, |s, r| crate::fallback::keep(s, r));
    }
}

/// The cgroup v2 id of `task`, as `bpf_get_current_cgroup_id` reads the current task's.
#[inline(always)]
fn task_cgroup_id(task: u64, l: &monitor_common::KernelLayout) -> Option<u64> {
    let css_set: u64 = read_at(task, l.task_cgroups)?;
    let cgroup: u64 = read_at(css_set, l.css_set_dfl_cgrp)?;
    let kn: u64 = read_at(cgroup, l.cgroup_kn)?;
    read_at(kn, l.kernfs_node_id)
}

/// Whether the open's path (its first string) ends in `/mem` or `/environ`.
#[inline(always)]
fn proc_secret(rec: &monitor_common::OperationRecord) -> bool {
    const MEM: u32 = name_hash(b"mem");
    const ENVIRON: u32 = name_hash(b"environ");
    if rec.string_lens[0] <= 1 {
        return false;
    }
    let h = crate::fallback::last_name_hash(&rec.strings[0]);
    h == MEM || h == ENVIRON
}
