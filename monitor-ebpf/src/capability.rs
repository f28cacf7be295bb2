//! Capability checks: `cap_capable()`, through the first attach strategy that loads.
//!
//! All four entry points funnel into [`on_check`], which filters, counts, deduplicates and
//! emits a [`CapabilityRecord`] (or, for a syscall on the sensitive list, an
//! [`OperationRecord`] that is never deduplicated).

use aya_ebpf::{
    bindings::BPF_NOEXIST,
    helpers::{
        bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid,
        bpf_get_current_task, bpf_ktime_get_boot_ns, bpf_probe_read_user,
        bpf_probe_read_user_str_bytes,
        generated::{
            bpf_probe_read_kernel as raw_read_kernel, bpf_probe_read_user as raw_read_user,
        },
    },
    macros::{btf_tracepoint, fexit, kprobe, kretprobe, tracepoint},
    programs::{
        BtfTracePointContext, FExitContext, ProbeContext, RetProbeContext, TracePointContext,
    },
};
use monitor_common::{
    AUDIT_NO, AUDIT_UNKNOWN, AUDIT_YES, CAP_OPT_NOAUDIT, COMM_LEN, CapCountKey, CapSeenKey,
    CapabilityRecord, Hook, KernelLayout, KprobeArgs, MAX_CAPS, OP_STRING_LEN, OP_STRINGS,
    OperationRecord, ProbeConfig, RecordKind, SCOPE_HOST, SCOPE_UNKNOWN, SCOPE_USER_NAMESPACE,
    VERDICT_ALLOWED, VERDICT_DENIED, config_flags, drop_slot, op, stat,
};

use crate::{
    maps::{
        CAP_COUNTS, CAP_COUNTS_OVF, CAP_SEEN, CONFIG, EVENTS, KPROBE_ARGS, RINGBUF_DROPS,
        SENSITIVE_SYS, bump, remember_seen, seen_cached, stat_inc, watched,
    },
    task::{SyscallRegs, read_at},
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

/// match-proto: v6.14: include/trace/events/capability.h: TP_PROTO(const struct cred *cred,
/// struct user_namespace *target_ns, const struct user_namespace *capable_ns, int cap, int ret)
#[btf_tracepoint(function = "cap_capable")]
pub fn cap_capable_btf(ctx: BtfTracePointContext) -> i32 {
    on_check(
        Hook::TpBtf,
        Check {
            cred: ctx.arg(0),
            target_ns: ctx.arg(1),
            cap: ctx.arg(3),
            ret: ctx.arg(4),
            opts: None,
        },
    );
    0
}

/// The same tracepoint through tracefs; field offsets come from its `format` file.
#[tracepoint(category = "capability", name = "cap_capable")]
pub fn cap_capable_tp(ctx: TracePointContext) -> u32 {
    let Some(cfg) = config() else { return 0 };
    let base = ctx.as_ptr_u64();
    let l = &cfg.layout;
    let (Some(cred), Some(target_ns), Some(cap), Some(ret)) = (
        read_at::<u64>(base, l.tp_cred),
        read_at::<u64>(base, l.tp_target_ns),
        read_at::<i32>(base, l.tp_cap),
        read_at::<i32>(base, l.tp_ret),
    ) else {
        return 0;
    };
    on_check(
        Hook::Tracepoint,
        Check {
            cred,
            target_ns,
            cap: cap as u32,
            ret,
            opts: None,
        },
    );
    0
}

/// match-proto: v5.1: security/commoncap.c: int cap_capable(const struct cred *cred,
/// struct user_namespace *targ_ns, int cap, unsigned int opts)
/// The daemon attaches this only after checking in BTF that the function has four
/// parameters, so the return value is the fifth argument slot.
#[fexit(function = "cap_capable")]
pub fn cap_capable_fexit(ctx: FExitContext) -> i32 {
    on_check(
        Hook::Fexit,
        Check {
            cred: ctx.arg(0),
            target_ns: ctx.arg(1),
            cap: ctx.arg(2),
            ret: ctx.arg(4),
            opts: Some(ctx.arg(3)),
        },
    );
    0
}

/// Entry half of the kprobe strategy: saves the arguments for [`cap_capable_kretprobe`].
#[kprobe(function = "cap_capable")]
pub fn cap_capable_kprobe(ctx: ProbeContext) -> u32 {
    let (Some(cred), Some(target_ns), Some(cap), Some(opts)) = (
        ctx.arg::<u64>(0),
        ctx.arg::<u64>(1),
        ctx.arg::<u32>(2),
        ctx.arg::<u32>(3),
    ) else {
        return 0;
    };
    let args = KprobeArgs {
        cred,
        target_ns,
        cap,
        opts,
    };
    // A full map means this check goes unseen; the kretprobe counts the miss.
    let _ = KPROBE_ARGS.insert(bpf_get_current_pid_tgid(), args, 0);
    0
}

/// Return half of the kprobe strategy.
#[kretprobe(function = "cap_capable")]
pub fn cap_capable_kretprobe(ctx: RetProbeContext) -> u32 {
    let id = bpf_get_current_pid_tgid();
    // SAFETY: the entry is only read here and removed right after, by the same thread.
    let Some(args) = (unsafe { KPROBE_ARGS.get(id) }).copied() else {
        stat_inc(stat::KPROBE_MISSED_ENTRY);
        return 0;
    };
    let _ = KPROBE_ARGS.remove(id);
    on_check(
        Hook::Kprobe,
        Check {
            cred: args.cred,
            target_ns: args.target_ns,
            cap: args.cap,
            ret: ctx.ret::<i64>() as i32,
            opts: Some(args.opts),
        },
    );
    0
}

#[inline(always)]
pub(crate) fn config() -> Option<&'static ProbeConfig> {
    CONFIG.get(0)
}

#[inline(always)]
fn on_check(hook: Hook, check: Check) {
    let Some(cfg) = config() else { return };
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    if tgid == cfg.self_tgid {
        return;
    }
    // SAFETY: plain helper call.
    let cgroup_id = unsafe { bpf_get_current_cgroup_id() };
    if !watched(cfg, cgroup_id) {
        return;
    }
    stat_inc(stat::CHECKS);
    let layout = &cfg.layout;

    // SAFETY: returns the current task_struct address; only read through probe_read.
    let task = unsafe { bpf_get_current_task() };
    // Checks under overridden credentials (overlayfs copy-up, NFS, ...) are the kernel acting
    // on its own behalf, not the process using a privilege.
    let cred: Option<u64> = read_at(task, layout.task_cred);
    let real_cred: Option<u64> = read_at(task, layout.task_real_cred);
    if let (Some(c), Some(r)) = (cred, real_cred)
        && c != r
    {
        stat_inc(stat::OVERRIDDEN_CREDS);
        return;
    }

    let cap = if check.cap < MAX_CAPS {
        check.cap
    } else {
        MAX_CAPS - 1
    };
    let verdict = if check.ret == 0 {
        VERDICT_ALLOWED
    } else {
        VERDICT_DENIED
    };
    count(cgroup_id, cap, verdict);

    let regs = SyscallRegs::current(task, layout);
    let syscall = regs.as_ref().map_or(-1, SyscallRegs::nr);
    let comm = bpf_get_current_comm().unwrap_or([0u8; COMM_LEN]);
    // SAFETY: plain helper call.
    let now = unsafe { bpf_ktime_get_boot_ns() };

    let sensitive = u32::try_from(syscall)
        .ok()
        .and_then(|nr| SENSITIVE_SYS.get(nr))
        .copied()
        .filter(|v| v & op::SENSITIVE != 0)
        .filter(|v| {
            v & op::CREDENTIALS == 0
                || regs
                    .as_ref()
                    .is_none_or(|r| changes_ids(*v, &check, layout, [r.arg(0), r.arg(1), r.arg(2)]))
        })
        .filter(|v| v & op::NEW_NS == 0 || regs.as_ref().is_none_or(|r| new_namespaces(*v, r)));
    let window = cfg.dedup_window_ns;
    let bypass = sensitive.is_some()
        || (verdict == VERDICT_DENIED && cfg.flags & config_flags::ALWAYS_EMIT_DENIED != 0);
    let seen_key = CapSeenKey {
        cgroup_id,
        cap,
        verdict,
        syscall,
        comm,
    };
    if window != 0 && !bypass {
        if let Some(last) = seen_cached(&seen_key)
            && now.wrapping_sub(last) < window
        {
            stat_inc(stat::DEDUPLICATED);
            return;
        }
        // SAFETY (get): a racing update can only make the filter emit one record too many.
        if let Some(last) = unsafe { CAP_SEEN.get(seen_key) }.copied()
            && now.wrapping_sub(last) < window
        {
            remember_seen(&seen_key, last);
            stat_inc(stat::DEDUPLICATED);
            return;
        }
    }

    // The record is written in place in the ring buffer: a copy on the stack would take
    // 136 of the 512 bytes the verifier allows the whole call chain (6.1 counts them all).
    let what = Emit {
        hook,
        check: &check,
        cgroup_id,
        pid_tgid,
        syscall,
        regs: regs.as_ref(),
        now,
        verdict,
        comm: &comm,
        layout,
    };
    if let Some(spec) = sensitive {
        emit_operation(&what, spec, Seen::Check);
        return;
    }
    let Some(mut entry) = EVENTS.reserve::<CapabilityRecord>(0) else {
        bump(&RINGBUF_DROPS, hook as u32);
        return;
    };
    // SAFETY: reserved ring-buffer memory of the right size; `fill` writes every field.
    unsafe { fill(entry.as_mut_ptr(), &what) };
    entry.submit(0);
    stat_inc(stat::EMITTED);
    if window != 0 && !bypass {
        // A full LRU evicts the oldest tuple; the worst case is a repeated record.
        let _ = CAP_SEEN.insert(seen_key, now, 0);
        remember_seen(&seen_key, now);
    }
}

/// Whether a user-id syscall asks to change one of the caller's ids (its arguments against
/// the checked credentials; -1 keeps an id). Unknown ids count as a change; so does a
/// check whose registers are unknown (the caller's `is_none_or`).
#[inline(always)]
fn changes_ids(spec: u32, check: &Check, layout: &KernelLayout, args: [u64; 3]) -> bool {
    let id = |offset: u32| read_at::<u32>(check.cred, offset).unwrap_or(u32::MAX - 1);
    // The caller's real, effective and saved ids: user ones, or group ones.
    let (real, effective, saved) = if spec & op::ID_GID != 0 {
        (layout.cred_gid, layout.cred_egid, layout.cred_sgid)
    } else {
        (layout.cred_uid, layout.cred_euid, layout.cred_suid)
    };
    let arg = |i: usize| args[i] as u32;
    let sets = |v: u32, offset: u32| v != u32::MAX && v != id(offset);
    match (spec >> op::ID_SHAPE_SHIFT) & op::ID_SHAPE_MASK {
        op::ID_SETUID => {
            let v = arg(0);
            v != id(real) || v != id(effective) || v != id(saved)
        }
        op::ID_SETREUID => sets(arg(0), real) || sets(arg(1), effective),
        op::ID_SETRESUID => sets(arg(0), real) || sets(arg(1), effective) || sets(arg(2), saved),
        _ => true,
    }
}

/// Whether a `clone`/`clone3`/`unshare` asks for a new namespace (see [`op::NEW_NS`]).
#[inline(always)]
fn new_namespaces(spec: u32, regs: &SyscallRegs) -> bool {
    let flags = if spec & op::DEREF != 0 {
        let arg = ((spec >> op::DEREF_ARG_SHIFT) & op::ARG_MASK) as usize;
        // SAFETY: a user-space read; a fault is an error, not a crash.
        unsafe { bpf_probe_read_user(regs.arg(arg) as *const u64) }.unwrap_or(u64::MAX)
    } else {
        regs.arg(0)
    };
    let mask = if spec & op::NEW_NS_TIME != 0 {
        op::CLONE_NEW_MASK | op::CLONE_NEWTIME
    } else {
        op::CLONE_NEW_MASK
    };
    flags & mask != 0
}

/// What a record is made of.
pub(crate) struct Emit<'a> {
    pub hook: Hook,
    pub check: &'a Check,
    pub cgroup_id: u64,
    pub pid_tgid: u64,
    pub syscall: i64,
    pub regs: Option<&'a SyscallRegs>,
    pub now: u64,
    pub verdict: u32,
    pub comm: &'a [u8; COMM_LEN],
    pub layout: &'a KernelLayout,
}

/// Writes every field of a [`CapabilityRecord`] at `r`.
///
/// # Safety
/// `r` points to writable memory of a `CapabilityRecord`'s size.
#[inline(always)]
unsafe fn fill(r: *mut CapabilityRecord, e: &Emit) {
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
        (*r).audit = match check.opts {
            None => AUDIT_UNKNOWN,
            Some(o) if o & CAP_OPT_NOAUDIT != 0 => AUDIT_NO,
            Some(_) => AUDIT_YES,
        };
        (*r).comm = *e.comm;
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
/// A fallback record that its filter (`spec`'s `FB_*` shape) rejects is discarded.
#[inline(always)]
pub(crate) fn emit_operation(what: &Emit, spec: u32, seen: Seen) {
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
        (*rec)._pad = 0;
        (*rec).result = exit.unwrap_or(0);
        (*rec).deref = 0;
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
        if exit.is_some() && !crate::fallback::keep(spec, &*rec) {
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
fn read_raw(rec: &mut OperationRecord, raw: u32, spec: u32, what: &Emit) {
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

/// Adds one to the exact counter of (cgroup, cap, verdict).
#[inline(always)]
fn count(cgroup_id: u64, cap: u32, verdict: u32) {
    let key = CapCountKey {
        cgroup_id,
        cap,
        verdict,
    };
    for _ in 0..2 {
        if let Some(p) = CAP_COUNTS.get_ptr_mut(key) {
            // SAFETY: per-CPU value; tracing programs do not nest on one CPU.
            unsafe { *p += 1 };
            return;
        }
        // NOEXIST: if another CPU created the entry meanwhile, the second lookup finds it.
        if CAP_COUNTS.insert(key, 1u64, BPF_NOEXIST as u64).is_ok() {
            return;
        }
    }
    stat_inc(stat::COUNTS_OVERFLOWED);
    bump(&CAP_COUNTS_OVF, cap * 2 + verdict);
}

trait CtxAddr {
    fn as_ptr_u64(&self) -> u64;
}

impl CtxAddr for TracePointContext {
    fn as_ptr_u64(&self) -> u64 {
        use aya_ebpf::EbpfContext;
        self.as_ptr() as u64
    }
}
