//! Writing records into the ring buffer: what a hook saw ([`Check`], [`Emit`]) becomes a
//! [`CapabilityRecord`] or an [`OperationRecord`], the one place records are filled. Every
//! probe family calls this; it calls none of them.

use aya_ebpf::helpers::{
    bpf_get_current_task, bpf_probe_read_user, bpf_probe_read_user_str_bytes,
    generated::{
        bpf_probe_read_kernel as raw_read_kernel, bpf_probe_read_kernel_str as raw_read_kernel_str,
        bpf_probe_read_user as raw_read_user,
    },
};
use monitor_common::{
    COMM_LEN, CapabilityRecord, Hook, KernelLayout, OP_STRING_LEN, OP_STRINGS, OperationRecord,
    RecordKind, SCOPE_HOST, SCOPE_UNKNOWN, SCOPE_USER_NAMESPACE, drop_slot, op, stat,
};

use core::ptr::{read_volatile, write_volatile};

use aya_ebpf::{macros::map, maps::PerCpuArray};

use crate::{
    maps::{EVENTS, RINGBUF_DROPS, bump, stat_inc},
    task::{Access, SyscallRegs, read_at},
};

/// One capability check, whatever hook saw it.
pub(crate) struct Check {
    pub cred: u64,
    pub target_ns: u64,
    pub cap: u32,
    pub ret: i32,
    /// `cap_capable()`'s `opts`, where the hook has them.
    pub opts: Option<u32>,
}

/// What a record is made of.
pub(crate) struct Emit<'a, A: Access> {
    pub hook: Hook,
    pub check: &'a Check,
    pub cgroup_id: u64,
    pub pid_tgid: u64,
    pub syscall: i64,
    pub regs: Option<&'a SyscallRegs<A>>,
    pub now: u64,
    pub verdict: u32,
    /// The task's `comm`, as [`crate::task::Access::comm`] reads it.
    pub comm: &'a [u64; 2],
    pub layout: &'a KernelLayout,
    /// `AUDIT_*`: whether the check is audited ([`crate::sites::audit`]).
    pub audit: u8,
    /// `monitor_common::action`: what enforcement did at the check.
    pub action: u8,
}

/// Writes every field of a [`CapabilityRecord`] at `r`.
///
/// # Safety
/// `r` points to writable memory of a `CapabilityRecord`'s size.
#[inline(always)]
pub(crate) unsafe fn fill<A: Access>(r: *mut CapabilityRecord, e: &Emit<A>) {
    let (check, layout) = (e.check, e.layout);
    // SAFETY: the caller's promise; each field is written once, through the pointer.
    unsafe {
        (*r).kind = RecordKind::Capability as u32;
        (*r).cap = check.cap;
        (*r).boot_ns = e.now;
        (*r).cgroup_id = e.cgroup_id;
        (*r).pid = (e.pid_tgid >> 32) as u32;
        (*r).tid = e.pid_tgid as u32;
        (*r).uid = read_at(check.cred, layout.cred_uid).unwrap_or(u32::MAX);
        (*r).euid = read_at(check.cred, layout.cred_euid).unwrap_or(u32::MAX);
        (*r).gid = read_at(check.cred, layout.cred_gid).unwrap_or(u32::MAX);
        (*r).egid = read_at(check.cred, layout.cred_egid).unwrap_or(u32::MAX);
        (*r).syscall = e.syscall;
        for i in 0..6 {
            (*r).args[i] = e.regs.map_or(0, |regs| regs.arg(i));
        }
        (*r).cap_effective = read_at(check.cred, layout.cred_cap_effective).unwrap_or(0);
        (*r).ret = check.ret;
        (*r).verdict = e.verdict as u8;
        (*r).scope = match read_at::<i32>(check.target_ns, layout.user_ns_level) {
            Some(0) => SCOPE_HOST,
            Some(_) => SCOPE_USER_NAMESPACE,
            None => SCOPE_UNKNOWN,
        };
        (*r).hook = e.hook as u8;
        (*r).audit = e.audit;
        (*r).comm = core::mem::transmute::<[u64; 2], [u8; COMM_LEN]>(*e.comm);
        (*r).action = e.action;
        (*r)._reserved = [0; 7];
    }
}

/// Where a sensitive syscall was seen.
#[derive(Clone, Copy)]
pub(crate) enum Seen {
    /// At a capability check it made.
    Check,
    /// Returning this value (a fallback tracepoint, `fexit/security_capset`).
    Exit(i64),
    /// At an LSM hook, before any result (an fentry program).
    Lsm,
}

/// Emits a sensitive syscall seen as `seen` says, with the string arguments `spec` names.
/// A record that `keep` rejects (a fallback's filter, by `spec`'s `FB_*` shape; an LSM-hook
/// source's) is discarded; `keep` may fill in what only its caller knows. `keep` is a closure, not a function pointer: inlined, it is a direct
/// call (BPF has no indirect ones).
#[inline(always)]
pub(crate) fn emit_operation<A: Access>(
    what: &Emit<A>,
    spec: u32,
    seen: Seen,
    keep: impl Fn(u32, &mut OperationRecord) -> bool,
) {
    let string_args = spec & op::STRING_ARGS_MASK;
    let exit = match seen {
        Seen::Exit(ret) => Some(ret),
        _ => None,
    };
    let Some(mut entry) = EVENTS.reserve::<OperationRecord>(0) else {
        let slot = if exit.is_some() {
            drop_slot::SYSCALL_EXIT
        } else {
            drop_slot::OPERATION
        };
        bump(&RINGBUF_DROPS, slot);
        return;
    };
    let rec = entry.as_mut_ptr();
    // SAFETY: `rec` points to reserved ring-buffer memory of the right size; every field is
    // written before submit.
    unsafe {
        (*rec).kind = match seen {
            Seen::Exit(_) => RecordKind::SyscallExit as u32,
            Seen::Check => RecordKind::Operation as u32,
            Seen::Lsm => RecordKind::LsmHook as u32,
        };
        fill(&raw mut (*rec).check, what);
        (*rec).string_args = 0;
        (*rec).string_lens = [0; OP_STRINGS];
        (*rec).fd_fs_magic = 0;
        (*rec).result = exit.unwrap_or(0);
        (*rec).deref = 0;
        (*rec).fd_dev = 0;
        (*rec).fd_mnt_id = 0;
        if spec & op::DEREF != 0 {
            let arg = ((spec >> op::DEREF_ARG_SHIFT) & op::ARG_MASK) as usize;
            if let Some(&ptr) = (*rec).check.args.get(arg) {
                (*rec).deref = bpf_probe_read_user(ptr as *const u64).unwrap_or(0);
            }
        }
        let raw = (spec >> op::RAW_SHIFT) & op::RAW_MASK;
        if raw != 0 {
            read_raw(&mut *rec, raw, spec, what);
        }
        let mut slot = 0usize;
        for i in 0..6 {
            if string_args & (1 << i) == 0 {
                continue;
            }
            let (Some(dst), Some(len)) = (
                (*rec).strings.get_mut(slot),
                (*rec).string_lens.get_mut(slot),
            ) else {
                break;
            };
            (*rec).string_args |= 1 << i;
            let src = (*rec).check.args[i] as *const u8;
            *len = match bpf_probe_read_user_str_bytes(src, dst) {
                Ok(s) => s.len() as u32 + 1,
                Err(_) => 0,
            };
            slot += 1;
        }
        if spec & op::FD_PATH != 0 {
            fd_path(&mut *rec, what.layout);
        }
        if !keep(spec, &mut *rec) {
            entry.discard(0);
            return;
        }
    }
    entry.submit(0);
    stat_inc(if exit.is_some() {
        stat::SYSCALL_EXITS
    } else {
        stat::EMITTED
    });
}

/// Fills the first string slot with the raw bytes an [`op::RAW_SHIFT`] shape names.
#[inline(always)]
fn read_raw<A: Access>(rec: &mut OperationRecord, raw: u32, spec: u32, what: &Emit<A>) {
    let arg = ((spec >> op::DEREF_ARG_SHIFT) & op::ARG_MASK) as usize;
    let Some(&ptr) = rec.check.args.get(arg) else {
        return;
    };
    let (Some(dst), Some(len)) = (rec.strings.get_mut(0), rec.string_lens.get_mut(0)) else {
        return;
    };
    if raw == op::RAW_CAPSET {
        let data = op::RAW_CAPSET_DATA;
        // SAFETY: user-space reads; a fault is an error, not a crash.
        let read = unsafe { bpf_probe_read_user(ptr as *const [u8; op::RAW_CAPSET_DATA]) };
        if let Ok(bytes) = read {
            dst[..data].copy_from_slice(&bytes);
            let cred = what.check.cred;
            let permitted: u64 = read_at(cred, what.layout.cred_cap_permitted).unwrap_or(0);
            let inheritable: u64 = read_at(cred, what.layout.cred_cap_inheritable).unwrap_or(0);
            dst[data..data + 8].copy_from_slice(&permitted.to_ne_bytes());
            dst[data + 8..data + 16].copy_from_slice(&inheritable.to_ne_bytes());
            *len = (data + 16) as u32;
        }
    } else if raw == op::RAW_GROUPS {
        let n = gid_bytes(rec.check.args[0].min(op::RAW_MAX_GROUPS) as u32);
        // SAFETY: a user-space read into the slot (n <= its size); a fault is an error.
        if n > 0 && unsafe { raw_read_user(dst.as_mut_ptr().cast(), n, ptr as *const _) } == 0 {
            *len = n;
        }
        // The caller's groups before, in the second slot: a call that sets the same groups
        // (the container runtime's, at every start) is no change.
        let layout = what.layout;
        let info: u64 = read_at(what.check.cred, layout.cred_group_info).unwrap_or(0);
        let count: i32 = read_at(info, layout.group_info_ngroups).unwrap_or(-1);
        let (Some(old), Some(old_len)) = (rec.strings.get_mut(1), rec.string_lens.get_mut(1))
        else {
            return;
        };
        if count < 0 || layout.group_info_gid == KernelLayout::MISSING {
            return;
        }
        let m = gid_bytes(count as u32);
        let src = info + layout.group_info_gid as u64;
        // SAFETY: a kernel read into the slot (m <= its size); a fault is an error.
        if m == 0 || unsafe { raw_read_kernel(old.as_mut_ptr().cast(), m, src as *const _) } == 0 {
            *old_len = m | op::RAW_READ;
        }
    }
}

/// Names the file behind the record's argument 0 (a descriptor of the current task), as
/// [`op::FD_PATH`] says: while the writer holds it, whether or not it is still alive when
/// user space reads the record. Up the dentries to the mount's root, then to the mount
/// point in the parent mount, until the root of the task's mount tree; leaf first.
#[inline(always)]
fn fd_path(rec: &mut OperationRecord, l: &KernelLayout) {
    // SAFETY: the current task's address; only read through probe_read.
    let task = unsafe { bpf_get_current_task() };
    let fd = rec.check.args[0];
    let Some(fdt) = read_at::<u64>(task, l.task_files).and_then(|f| read_at::<u64>(f, l.files_fdt))
    else {
        return;
    };
    let max: u32 = read_at(fdt, l.fdt_max_fds).unwrap_or(0);
    if fd >= max as u64 || l.mount_mnt == KernelLayout::MISSING {
        return;
    }
    let Some(file) = read_at::<u64>(fdt, l.fdt_fd).and_then(|fds| read_at::<u64>(fds + fd * 8, 0))
    else {
        return;
    };
    let (Some(dentry), Some(vfsmnt)) = (
        read_at::<u64>(file, l.file_dentry),
        read_at::<u64>(file, l.file_vfsmount),
    ) else {
        return;
    };
    let mnt = vfsmnt - l.mount_mnt as u64;
    let sb: u64 = read_at(dentry, l.dentry_sb).unwrap_or(0);
    rec.fd_dev = read_at(sb, l.sb_dev).unwrap_or(0);
    rec.fd_fs_magic = read_at::<u64>(sb, l.sb_magic).unwrap_or(0) as u32;
    rec.fd_mnt_id = read_at(mnt, l.mount_id).unwrap_or(0);
    let walked = [
        l.vfsmount_root,
        l.dentry_parent,
        l.dentry_name,
        l.mount_parent,
        l.mount_mountpoint,
    ];
    if walked.contains(&KernelLayout::MISSING) {
        return;
    }
    let Some(w) = PATH_WALK.get_ptr_mut(0) else {
        return;
    };
    // The second and third slots, as one area; a name starts in its first half and is read
    // whole (at most a slot), so every read stays within the record.
    let area = rec.strings[1].as_mut_ptr();
    let half = (op::FD_PATH_BYTES / 2) as u64;
    // SAFETY (all accesses to `w`): this CPU's slot; tracing programs do not nest on one
    // CPU. The walk's state lives there, read back volatile each step: to the verifier it
    // is then unknown, so the steps' many paths look alike and are verified once each (6.1
    // gave up on the walk kept in registers, after a million instructions).
    unsafe {
        write_volatile(&raw mut (*w).dentry, dentry);
        write_volatile(&raw mut (*w).mnt, mnt);
        write_volatile(&raw mut (*w).used, 0);
        write_volatile(&raw mut (*w).root, 0);
    }
    let (root_off, parent_off, name_off) = (
        (l.mount_mnt + l.vfsmount_root) as u64,
        l.dentry_parent as u64,
        l.dentry_name as u64,
    );
    let (up_off, point_off) = (l.mount_parent as u64, l.mount_mountpoint as u64);
    for _ in 0..op::FD_PATH_STEPS {
        let (dentry, mnt, used) = unsafe {
            (
                read_volatile(&raw const (*w).dentry),
                read_volatile(&raw const (*w).mnt),
                read_volatile(&raw const (*w).used),
            )
        };
        let parent = peek(dentry + parent_off);
        if dentry == peek(mnt + root_off) || dentry == parent || parent == 0 {
            // The root of this mount: on from its mount point in the parent mount.
            let up = peek(mnt + up_off);
            if up == mnt || up == 0 {
                unsafe { write_volatile(&raw mut (*w).root, 1) };
                break;
            }
            unsafe {
                write_volatile(&raw mut (*w).dentry, peek(mnt + point_off));
                write_volatile(&raw mut (*w).mnt, up);
            }
            continue;
        }
        if used >= half {
            break;
        }
        // Masked where LLVM cannot drop the mask (it knows `used < half`; the verifier must
        // see the bound on the register that reaches the pointer).
        let at = unsafe { read_volatile(&used) } & (half - 1);
        // SAFETY: `at < half`, so `half` bytes from there are within the two slots; a
        // faulting read is an error.
        let n = unsafe {
            raw_read_kernel_str(
                area.add(at as usize).cast(),
                half as u32,
                peek(dentry + name_off) as *const _,
            )
        };
        if n <= 0 {
            break;
        }
        unsafe {
            write_volatile(&raw mut (*w).used, used + n as u64);
            write_volatile(&raw mut (*w).dentry, parent);
        }
    }
    let (used, root) = unsafe {
        (
            read_volatile(&raw const (*w).used),
            read_volatile(&raw const (*w).root),
        )
    };
    rec.string_lens[1] =
        (used as u32 & 0x3ff) | op::FD_PATH_READ | if root != 0 { op::FD_PATH_ROOT } else { 0 };
}

/// A walk's state between its steps (see [`fd_path`]).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct PathWalk {
    dentry: u64,
    mnt: u64,
    used: u64,
    root: u64,
}

#[map]
static PATH_WALK: PerCpuArray<PathWalk> = PerCpuArray::with_max_entries(1, 0);

/// The `u64` at kernel address `addr`, 0 where it cannot be read (the helper zeroes its
/// destination on a fault): no branch, for the walk's steps.
#[inline(always)]
fn peek(addr: u64) -> u64 {
    let mut v: u64 = 0;
    // SAFETY: the helper copes with any address.
    unsafe { raw_read_kernel((&raw mut v).cast(), 8, addr as *const _) };
    v
}

/// The bytes of `count` gids, at most [`op::RAW_MAX_GROUPS`], provably within a string slot
/// for the verifier.
#[inline(always)]
fn gid_bytes(count: u32) -> u32 {
    let n = (count.min(op::RAW_MAX_GROUPS as u32) * 4) & 0xff;
    if n > OP_STRING_LEN as u32 {
        OP_STRING_LEN as u32
    } else {
        n
    }
}
