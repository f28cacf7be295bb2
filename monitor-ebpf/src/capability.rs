//! Capability checks: `cap_capable()`, through the first attach strategy that loads.
//!
//! All four entry points funnel into [`on_check`], which filters, counts, deduplicates and
//! emits a [`CapabilityRecord`] (or, for a syscall on the sensitive list, an
//! `OperationRecord` that is never deduplicated), through [`crate::emit`].

use aya_ebpf::{
    EbpfContext,
    cty::c_void,
    helpers::{
        bpf_get_current_pid_tgid, bpf_ktime_get_boot_ns, bpf_probe_read_user,
        generated::bpf_send_signal,
    },
    macros::{btf_tracepoint, fexit, kprobe, kretprobe, raw_tracepoint, tracepoint},
    programs::{
        BtfTracePointContext, FExitContext, ProbeContext, RawTracePointContext, RetProbeContext,
        TracePointContext,
    },
};
use monitor_common::{
    AUDIT_NO, COUNT_INTERNAL, CapSeenKey, CapabilityRecord, Hook, KernelLayout, KprobeArgs,
    MAX_CAPS, SELFTEST_CAP, VERDICT_ALLOWED, VERDICT_DENIED, action, bench_skip, config_flags,
    enforce_flags, op, stat,
};

use crate::{
    config::{config, selftest_tgid},
    emit::{Check, Emit, Seen, emit_operation, fill},
    maps::{
        CAP_SEEN, EVENTS, Filter, KPROBE_ARGS, RINGBUF_DROPS, SENSITIVE_SYS, bump, count,
        count_repeat, filter, flush_seen_cache, internal_flag, remember_seen, runtime_comm,
        stat_inc,
    },
    sites,
    task::{Access, Btf, Probe, SyscallRegs, read_at, window_clock},
};

/// The signal enforcement's `kill` sends.
const SIGKILL: u32 = 9;

/// match-proto: v6.14: include/trace/events/capability.h: TP_PROTO(const struct cred *cred,
/// struct user_namespace *target_ns, const struct user_namespace *capable_ns, int cap, int ret)
#[btf_tracepoint(function = "cap_capable")]
#[inline(always)]
pub fn cap_capable_btf(ctx: BtfTracePointContext) -> i32 {
    on_check(
        ctx.as_ptr(),
        Hook::TpBtf,
        Btf,
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
#[inline(always)]
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
        ctx.as_ptr(),
        Hook::Tracepoint,
        Probe,
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
#[inline(always)]
pub fn cap_capable_fexit(ctx: FExitContext) -> i32 {
    on_check(ctx.as_ptr(), Hook::Fexit, Btf, fexit_check(&ctx));
    0
}

/// `cap_capable(cred, targ_ns, cap, opts)`'s arguments and return value, at fexit.
#[inline(always)]
fn fexit_check(ctx: &FExitContext) -> Check {
    Check {
        cred: ctx.arg(0),
        target_ns: ctx.arg(1),
        cap: ctx.arg(2),
        ret: ctx.arg(4),
        opts: Some(ctx.arg(3)),
    }
}

/// The same, reading through `bpf_probe_read_kernel`: for kernels without
/// `bpf_get_current_task_btf` (before 5.11), where the current task is only a number.
#[fexit(function = "cap_capable")]
#[inline(always)]
pub fn cap_capable_fexit_probe(ctx: FExitContext) -> i32 {
    on_check(ctx.as_ptr(), Hook::Fexit, Probe, fexit_check(&ctx));
    0
}

/// Not attached anywhere: the daemon runs it on each CPU (`BPF_PROG_TEST_RUN` with
/// `BPF_F_TEST_RUN_ON_CPU`, Linux 5.10+) before it reads the counters, to move the counts
/// held in that CPU's first-seen cache into `CAP_COUNTS`. Returns the slots it had to leave
/// (a check was changing them); their counts wait for the next flush.
#[raw_tracepoint(tracepoint = "flush_counts")]
pub fn flush_counts(_ctx: RawTracePointContext) -> i32 {
    flush_seen_cache() as i32
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
#[inline(always)]
pub fn cap_capable_kretprobe(ctx: RetProbeContext) -> u32 {
    let id = bpf_get_current_pid_tgid();
    // SAFETY: the entry is only read here and removed right after, by the same thread.
    let Some(args) = (unsafe { KPROBE_ARGS.get(id) }).copied() else {
        stat_inc(stat::KPROBE_MISSED_ENTRY);
        return 0;
    };
    let _ = KPROBE_ARGS.remove(id);
    on_check(
        ctx.as_ptr(),
        Hook::Kprobe,
        Probe,
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
fn on_check<A: Access>(ctx: *mut c_void, hook: Hook, access: A, check: Check) {
    let Some(cfg) = config() else { return };
    let layout = &cfg.layout;
    let task = access.current_task();
    let pid_tgid = access.pid_tgid(task, layout);
    let tgid = (pid_tgid >> 32) as u32;
    if tgid == cfg.self_tgid {
        return;
    }
    let cap = if check.cap < MAX_CAPS {
        check.cap
    } else {
        MAX_CAPS - 1
    };
    let skip = |step: u32| cfg.flags & step != 0;
    let selftest = if skip(bench_skip::SELFTEST) {
        0
    } else {
        selftest_tgid()
    };
    if selftest != 0 && tgid == selftest {
        sites::selftest(cap, sites::audit(check.opts, ctx));
        if cap == SELFTEST_CAP
            && let Some(regs) = SyscallRegs::current_for_selftest(access, task, layout)
        {
            sites::selftest_regs(regs.for_selftest());
        }
        return;
    }
    let cgroup_id = access.cgroup_id(task, layout);
    let filter = if skip(bench_skip::FILTER) {
        Filter {
            watched: true,
            kill: 0,
            deny: 0,
            flags: 0,
        }
    } else {
        filter(cfg, cgroup_id)
    };
    if !filter.watched {
        return;
    }
    if !skip(bench_skip::STATS) {
        stat_inc(stat::CHECKS);
    }

    // Checks under overridden credentials (overlayfs copy-up, NFS, ...) are the kernel acting
    // on its own behalf, not the process using a privilege.
    let cred: Option<u64> = access.read(task, layout.task_cred);
    let real_cred: Option<u64> = access.read(task, layout.task_real_cred);
    if !skip(bench_skip::CREDS)
        && let (Some(c), Some(r)) = (cred, real_cred)
        && c != r
    {
        stat_inc(stat::OVERRIDDEN_CREDS);
        return;
    }

    let verdict = if check.ret == 0 {
        VERDICT_ALLOWED
    } else {
        VERDICT_DENIED
    };
    // Enforcement: only an allowed check (a refused one failed already) of the caller's
    // own credentials (not `has_capability()` of another task, nor a file's opener's).
    let bit = 1u64 << cap;
    let enforced = cfg.flags & config_flags::ENFORCE != 0
        && verdict == VERDICT_ALLOWED
        && (filter.kill | filter.deny) & bit != 0
        && cred == Some(check.cred);

    let regs = if skip(bench_skip::REGS) {
        None
    } else {
        SyscallRegs::current(access, task, layout)
    };
    let syscall = regs
        .as_ref()
        .map_or_else(|| SyscallRegs::none(access, task, layout), SyscallRegs::nr);
    let comm = if skip(bench_skip::COMM) {
        [0; 2]
    } else {
        access.comm(task, layout)
    };
    let now = if skip(bench_skip::CLOCK) {
        0
    } else {
        window_clock()
    };

    // Branches, not Option combinators: LLVM left those closures out of line, and a
    // BPF-to-BPF call costs a call and a return (tens of nanoseconds where returns are
    // mitigated).
    let mut sensitive = None;
    if !skip(bench_skip::CLASSIFY)
        && let Ok(nr) = u32::try_from(syscall)
        && let Some(&spec) = SENSITIVE_SYS.get(nr)
        && spec & op::SENSITIVE != 0
    {
        let changes = spec & op::CREDENTIALS == 0
            || match regs.as_ref() {
                None => true,
                Some(r) => changes_ids(
                    access,
                    spec,
                    &check,
                    layout,
                    [r.arg_at::<0>(), r.arg_at::<1>(), r.arg_at::<2>()],
                ),
            };
        if changes
            && (spec & op::NEW_NS == 0
                || match regs.as_ref() {
                    None => true,
                    Some(r) => new_namespaces(spec, r),
                })
        {
            sensitive = Some(spec);
        }
    }
    // Never a runtime's process (`runc:[2:INIT]` joining for `docker exec`); only a check
    // against the host's user namespace (what a container's own user namespace grants is
    // no privilege on the host, and the advisor's baselines leave it out too).
    let mut action = action::NONE;
    if enforced
        && !runtime_comm(&comm)
        && read_at::<i32>(check.target_ns, layout.user_ns_level) == Some(0)
    {
        let dry = filter.flags & enforce_flags::DRY_RUN != 0;
        action = match (filter.kill & bit != 0, dry) {
            (true, false) => action::KILL,
            (true, true) => action::WOULD_KILL,
            (false, false) => action::DENY,
            (false, true) => action::WOULD_DENY,
        };
    }
    let window = cfg.dedup_window_ticks;
    let bypass = sensitive.is_some()
        || action != action::NONE
        || (verdict == VERDICT_DENIED && cfg.flags & config_flags::ALWAYS_EMIT_DENIED != 0);
    let seen_key = CapSeenKey {
        cgroup_id,
        cap,
        verdict,
        syscall,
        comm,
    };
    if skip(bench_skip::FIRST_SEEN) {
        return;
    }
    if window != 0 && !bypass {
        // A repeat is counted as its tuple was last classified (the stamp's low bit).
        if count_repeat(&seen_key, now, window) {
            if !skip(bench_skip::STATS) {
                stat_inc(stat::DEDUPLICATED);
            }
            return;
        }
        // SAFETY (get): a racing update can only make the filter emit one record too many.
        if let Some(last) = unsafe { CAP_SEEN.get(seen_key) }.copied()
            && now.wrapping_sub(last >> 1) < window
        {
            remember_seen(&seen_key, last);
            count(cgroup_id, cap, verdict | internal_flag(last), 1);
            stat_inc(stat::DEDUPLICATED);
            return;
        }
    }

    // On the record path only: reading the caller costs a stack walk on the tracepoints.
    let audit = sites::audit(check.opts, ctx);
    // A refused check of an id call that asks only for ids the caller may take without
    // it: setuid() checks first and succeeds anyway (busybox's setuid(getuid()) as a user).
    let needless = verdict == VERDICT_DENIED
        && sensitive.is_none()
        && regs.as_ref().is_some_and(|r| {
            u32::try_from(syscall)
                .ok()
                .and_then(|nr| SENSITIVE_SYS.get(nr))
                .is_some_and(|v| {
                    v & op::CREDENTIALS != 0
                        && !needs_privilege(
                            access,
                            *v,
                            &check,
                            layout,
                            [r.arg_at::<0>(), r.arg_at::<1>(), r.arg_at::<2>()],
                        )
                })
        });
    let internal = audit == AUDIT_NO || needless;
    count(
        cgroup_id,
        cap,
        verdict | if internal { COUNT_INTERNAL } else { 0 },
        1,
    );
    if internal {
        // The kernel's own check: counted apart, never written, never acted on (the LSM
        // program, which denies, spares it too: its `opts` say no-audit).
        stat_inc(stat::INTERNAL);
        if window != 0 && !bypass {
            let _ = CAP_SEEN.insert(seen_key, now << 1 | 1, 0);
            remember_seen(&seen_key, now << 1 | 1);
        }
        return;
    }

    if action == action::KILL {
        // SIGKILL to the caller's process, delivered on its way back to user space: the
        // call completes, the process runs no further instruction of its own.
        // SAFETY: plain helper call; it fails only for kernel threads and exiting tasks.
        unsafe { bpf_send_signal(SIGKILL) };
        stat_inc(stat::KILLED);
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
        // SAFETY: plain helper call.
        now: unsafe { bpf_ktime_get_boot_ns() },
        verdict,
        comm: &comm,
        layout,
        audit,
        action,
    };
    if let Some(spec) = sensitive {
        // A check is never a fallback record: nothing to filter.
        emit_operation(&what, spec, Seen::Check, |_, _| true);
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
        let _ = CAP_SEEN.insert(seen_key, now << 1, 0);
        remember_seen(&seen_key, now << 1);
    }
}

/// Whether a user-id syscall asks to change one of the caller's ids (its arguments against
/// the checked credentials; -1 keeps an id). Unknown ids count as a change; so does a
/// check whose registers are unknown (the caller's `is_none_or`).
#[inline(always)]
fn changes_ids<A: Access>(
    access: A,
    spec: u32,
    check: &Check,
    layout: &KernelLayout,
    args: [u64; 3],
) -> bool {
    let [r, e, s] = caller_ids(access, spec, check, layout);
    let arg = |i: usize| args[i] as u32;
    // -1 keeps an id.
    let sets = |v: u32, held: u32| v != u32::MAX && v != held;
    match (spec >> op::ID_SHAPE_SHIFT) & op::ID_SHAPE_MASK {
        op::ID_SETUID => {
            let v = arg(0);
            v != r || v != e || v != s
        }
        op::ID_SETREUID => sets(arg(0), r) || sets(arg(1), e),
        op::ID_SETRESUID => sets(arg(0), r) || sets(arg(1), e) || sets(arg(2), s),
        _ => true,
    }
}

/// The checked credentials' real, effective and saved ids: user ones, or (`op::ID_GID`)
/// group ones; an unreadable one reads `u32::MAX - 1`, which no argument asks for.
#[inline(always)]
fn caller_ids<A: Access>(access: A, spec: u32, check: &Check, layout: &KernelLayout) -> [u32; 3] {
    let id = |offset: u32| {
        access
            .read::<u32>(check.cred, offset)
            .unwrap_or(u32::MAX - 1)
    };
    if spec & op::ID_GID != 0 {
        [
            id(layout.cred_gid),
            id(layout.cred_egid),
            id(layout.cred_sgid),
        ]
    } else {
        [
            id(layout.cred_uid),
            id(layout.cred_euid),
            id(layout.cred_suid),
        ]
    }
}

/// Whether a user-id syscall needs the privilege it was checked for: an id it asks for is
/// not one the caller may take without it (kernel/sys.c: `setuid` its real or saved id;
/// `setreuid` its real or effective id as real, and those or its saved one as effective;
/// `setresuid` any of its three ids). Unknown ids and other calls need it.
#[inline(always)]
fn needs_privilege<A: Access>(
    access: A,
    spec: u32,
    check: &Check,
    layout: &KernelLayout,
    args: [u64; 3],
) -> bool {
    let [r, e, s] = caller_ids(access, spec, check, layout);
    let arg = |i: usize| args[i] as u32;
    // -1 keeps an id; an id the caller holds as one of `held` needs nothing.
    let foreign = |v: u32, held: &[u32]| v != u32::MAX && !held.contains(&v);
    match (spec >> op::ID_SHAPE_SHIFT) & op::ID_SHAPE_MASK {
        op::ID_SETUID => arg(0) != r && arg(0) != s,
        op::ID_SETREUID => foreign(arg(0), &[r, e]) || foreign(arg(1), &[r, e, s]),
        op::ID_SETRESUID => {
            foreign(arg(0), &[r, e, s])
                || foreign(arg(1), &[r, e, s])
                || foreign(arg(2), &[r, e, s])
        }
        _ => true,
    }
}

/// Whether a `clone`/`clone3`/`unshare` asks for a new namespace (see [`op::NEW_NS`]).
#[inline(always)]
fn new_namespaces<A: Access>(spec: u32, regs: &SyscallRegs<A>) -> bool {
    let flags = if spec & op::DEREF != 0 {
        let arg = ((spec >> op::DEREF_ARG_SHIFT) & op::ARG_MASK) as usize;
        // SAFETY: a user-space read; a fault is an error, not a crash.
        unsafe { bpf_probe_read_user(regs.arg(arg) as *const u64) }.unwrap_or(u64::MAX)
    } else {
        regs.arg_at::<0>()
    };
    let mask = if spec & op::NEW_NS_TIME != 0 {
        op::CLONE_NEW_MASK | op::CLONE_NEWTIME
    } else {
        op::CLONE_NEW_MASK
    };
    flags & mask != 0
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
