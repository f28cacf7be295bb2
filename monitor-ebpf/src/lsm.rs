//! `capset()` where the capability-check hook cannot see it: the kernel makes its
//! CAP_SETPCAP check by a direct call to `cap_capable()` (`cap_inh_is_capped`), which the
//! fexit and kprobe hooks miss where the compiler inlined or cloned it (Debian's 6.1 and
//! 6.12). `fexit/security_capset` sees every call with its outcome and costs nothing on
//! other syscalls; where it attaches, the daemon stops reporting capset at its check.

use aya_ebpf::{
    helpers::{
        bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid,
        bpf_get_current_task, bpf_ktime_get_boot_ns,
    },
    macros::fexit,
    programs::FExitContext,
};
use monitor_common::{COMM_LEN, Hook, NO_CHECK, VERDICT_ALLOWED};

use crate::{
    capability::{Check, Emit, config, emit_operation},
    maps::{SENSITIVE_SYS, watched},
    task::SyscallRegs,
};

/// match-proto: v2.6.29: include/linux/security.h: int security_capset(struct cred *new,
/// const struct cred *old, const kernel_cap_t *effective, const kernel_cap_t *inheritable,
/// const kernel_cap_t *permitted)
/// The daemon attaches this only after checking in BTF that the function has five
/// parameters, so the return value is the sixth argument slot.
#[fexit(function = "security_capset")]
pub fn security_capset_fexit(ctx: FExitContext) -> i32 {
    let old: u64 = ctx.arg(1);
    let ret: i64 = ctx.arg::<i64>(5) as i32 as i64;
    on_capset(old, ret);
    0
}

#[inline(always)]
fn on_capset(old: u64, ret: i64) {
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
    let regs = SyscallRegs::current(task, layout);
    let syscall = regs.as_ref().map_or(-1, SyscallRegs::nr);
    // capset's entry: which bytes to read (its data, the old sets from `old`).
    let spec = u32::try_from(syscall)
        .ok()
        .and_then(|nr| SENSITIVE_SYS.get(nr))
        .copied()
        .unwrap_or(0);
    // The caller's credentials before the call; no capability check of its own.
    let check = Check {
        cred: old,
        target_ns: 0,
        cap: NO_CHECK,
        ret: 0,
        opts: None,
    };
    let comm = bpf_get_current_comm().unwrap_or([0u8; COMM_LEN]);
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
    };
    emit_operation(&what, spec, Some(ret));
}
