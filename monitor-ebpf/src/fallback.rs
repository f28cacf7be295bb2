//! Fallback syscall tracepoints: operations that can happen without any capability check
//! (a user namespace created alone, ptrace of a same-user process, root writing
//! `core_pattern`, ...) are seen only here, at `syscalls:sys_exit_<name>`.
//!
//! Attached only for the groups the configuration turns `on`: any syscall tracepoint puts
//! every task of the node on the slow syscall path, so these cost something on every
//! syscall, watched or not.

use aya_ebpf::{
    helpers::{
        bpf_get_current_cgroup_id, bpf_get_current_pid_tgid, bpf_get_current_task,
        bpf_ktime_get_boot_ns, bpf_probe_read_user,
    },
    macros::tracepoint,
    programs::TracePointContext,
};
use monitor_common::{
    FNV_OFFSET, FNV_PRIME, Hook, NO_CHECK, OP_STRING_LEN, OperationRecord, VERDICT_ALLOWED, op,
};

use crate::{
    config::config,
    emit::{Check, Emit, Seen, emit_operation},
    maps::{SENSITIVE_SYS, WATCHED_FILES, watched},
    task::{Access as _, Probe, SyscallRegs, read_at},
};

/// Offsets in every `syscalls:sys_exit_*` record (stable since 2.6.33): the common header
/// (8 bytes), `int __syscall_nr`, `long ret`.
const EXIT_NR: usize = 8;
const EXIT_RET: usize = 16;

/// Attached to `syscalls:sys_exit_<name>` for every syscall of the groups whose fallback is
/// on; the daemon marks those syscalls [`op::FALLBACK`] in `SENSITIVE_SYS`.
#[tracepoint]
pub fn syscall_exit(ctx: TracePointContext) -> u32 {
    // SAFETY: offsets inside the tracepoint record, as above.
    let (Ok(nr), Ok(ret)) = (unsafe { ctx.read_at::<i32>(EXIT_NR) }, unsafe {
        ctx.read_at::<i64>(EXIT_RET)
    }) else {
        return 0;
    };
    on_exit(nr, ret);
    0
}

#[inline(always)]
fn on_exit(nr: i32, ret: i64) {
    let Some(spec) = u32::try_from(nr)
        .ok()
        .and_then(|nr| SENSITIVE_SYS.get(nr))
        .copied()
        .filter(|v| v & op::FALLBACK != 0)
    else {
        return;
    };
    // The new child returns 0 from clone() too: the parent's record is the one.
    if spec & op::FB_CHILD_RETURNS_ZERO != 0 && ret == 0 {
        return;
    }
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
    let check = Check {
        cred: read_at(task, layout.task_cred).unwrap_or(0),
        target_ns: 0,
        cap: NO_CHECK,
        ret: 0,
        opts: None,
    };
    let regs = SyscallRegs::current(Probe, task, layout);
    // Most calls fail the filter on a register (a fork, an open for reading): decided here,
    // before anything is reserved or read.
    if let Some(r) = regs.as_ref()
        && !worth_a_record(spec, r)
    {
        return;
    }
    let comm = Probe.comm(0, layout);
    let what = Emit {
        hook: Hook::Tracepoint,
        check: &check,
        cgroup_id,
        pid_tgid,
        syscall: nr as i64,
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
    emit_operation(&what, spec, Seen::Exit(ret), |s, r| keep(s, r));
}

/// The part of the filter that needs only the registers (and, for `clone3`, its flags).
#[inline(always)]
fn worth_a_record(spec: u32, regs: &SyscallRegs<Probe>) -> bool {
    match (spec >> op::FALLBACK_SHIFT) & op::FALLBACK_MASK {
        op::FB_NEW_USER_NS => {
            let flags = if spec & op::DEREF != 0 {
                let arg = ((spec >> op::DEREF_ARG_SHIFT) & op::ARG_MASK) as usize;
                // SAFETY: a user-space read; a fault is an error, not a crash.
                unsafe { bpf_probe_read_user(regs.arg(arg) as *const u64) }.unwrap_or(0)
            } else {
                regs.arg(0)
            };
            flags & op::CLONE_NEWUSER != 0
        }
        op::FB_OPEN_WATCHED if spec & op::FB_FLAGS_DEREF == 0 => {
            regs.arg(((spec >> op::FB_FLAGS_ARG_SHIFT) & op::ARG_MASK) as usize) & 3 != 0
        }
        _ => true,
    }
}

/// Whether a filled fallback record passes its syscall's filter.
#[inline(always)]
pub fn keep(spec: u32, rec: &OperationRecord) -> bool {
    let arg = |shift: u32| {
        rec.check
            .args
            .get(((spec >> shift) & op::ARG_MASK) as usize)
            .copied()
            .unwrap_or(0)
    };
    match (spec >> op::FALLBACK_SHIFT) & op::FALLBACK_MASK {
        op::FB_NEW_USER_NS => {
            let flags = if spec & op::DEREF != 0 {
                rec.deref
            } else {
                rec.check.args[0]
            };
            // The new child returns 0 from clone() too: the parent's record is the one.
            flags & op::CLONE_NEWUSER != 0
                && (spec & op::FB_CHILD_RETURNS_ZERO == 0 || rec.result != 0)
        }
        op::FB_OPEN_WATCHED => {
            let flags = if spec & op::FB_FLAGS_DEREF != 0 {
                rec.deref
            } else {
                arg(op::FB_FLAGS_ARG_SHIFT)
            };
            // O_WRONLY or O_RDWR.
            flags & 3 != 0 && rec.string_lens[0] > 1 && watched_name(&rec.strings[0])
        }
        _ => true,
    }
}

/// Whether the last component of a NUL-terminated path is a watched file name.
#[inline(always)]
fn watched_name(path: &[u8; OP_STRING_LEN]) -> bool {
    // SAFETY (get): the value is only tested for presence.
    unsafe { WATCHED_FILES.get(last_name_hash(path)) }.is_some()
}

/// [`monitor_common::name_hash`] of the last component of a NUL-terminated path.
#[inline(always)]
pub(crate) fn last_name_hash(path: &[u8; OP_STRING_LEN]) -> u32 {
    let mut h = FNV_OFFSET;
    for &c in path.iter() {
        if c == 0 {
            break;
        }
        h = if c == b'/' {
            FNV_OFFSET
        } else {
            (h ^ c as u32).wrapping_mul(FNV_PRIME)
        };
    }
    h
}
