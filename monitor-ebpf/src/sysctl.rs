//! `cgroup/sysctl` on the cgroup v2 root: writes under `/proc/sys` from watched cgroups
//! (`kernel.core_pattern`, `kernel.modprobe`, ...), with the sysctl's name and the value
//! written. Zero tax: the kernel runs it only for `/proc/sys` reads and writes. It lets
//! the access through, unless enforcement denies the cgroup's sysctl writes
//! ([`enforce_flags::DENY_SYSCTL_WRITES`]): the write then fails with EPERM.

use aya_ebpf::{
    EbpfContext,
    helpers::{
        bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid,
        bpf_ktime_get_boot_ns,
        generated::{bpf_get_current_uid_gid, bpf_sysctl_get_name, bpf_sysctl_get_new_value},
    },
    macros::cgroup_sysctl,
    programs::SysctlContext,
};
use monitor_common::{
    COMM_LEN, RecordKind, SYSCTL_NAME_LEN, SYSCTL_VALUE_LEN, SysctlRecord, config_flags, drop_slot,
    enforce_flags, stat, sysctl_flags,
};

use crate::maps::{ENFORCE, EVENTS, HOST_CGROUPS, RINGBUF_DROPS, bump, runtime_comm, stat_inc};

/// Let the access through.
const ALLOW: i32 = 1;
/// Refuse it: the write fails with EPERM.
const REFUSE: i32 = 0;
/// `-E2BIG`: the value did not fit (the helper copied what did).
const E2BIG: i64 = -7;

#[cgroup_sysctl]
pub fn sysctl_write(ctx: SysctlContext) -> i32 {
    on_sysctl::<true>(&ctx)
}

/// The same without the writer's pid and comm, for kernels whose cgroup programs cannot
/// read them (`bpf_get_current_pid_tgid` and `bpf_get_current_comm` there are Linux 6.1):
/// the write is attributed to its cgroup only.
#[cgroup_sysctl]
pub fn sysctl_write_no_task(ctx: SysctlContext) -> i32 {
    on_sysctl::<false>(&ctx)
}

/// Records a write from a watched cgroup; returns whether to let it through.
#[inline(always)]
fn on_sysctl<const TASK: bool>(ctx: &SysctlContext) -> i32 {
    // SAFETY: the context the kernel passed; `write` and `file_pos` are readable fields.
    let (write, file_pos) = unsafe { ((*ctx.sysctl).write, (*ctx.sysctl).file_pos) };
    if write == 0 {
        return ALLOW;
    }
    let Some(cfg) = crate::config::config() else {
        return ALLOW;
    };
    // SAFETY: plain helper call.
    let cgroup_id = unsafe { bpf_get_current_cgroup_id() };
    // A direct lookup, not the tracing programs' per-CPU cache: this program runs
    // preemptibly, and sysctl writes are rare.
    // SAFETY (get): the value is only tested for presence.
    if cfg.flags & config_flags::CONTAINERS_ONLY != 0
        && unsafe { HOST_CGROUPS.get(cgroup_id) }.is_some()
    {
        return ALLOW;
    }
    let pid_tgid = if TASK { bpf_get_current_pid_tgid() } else { 0 };
    if TASK && (pid_tgid >> 32) as u32 == cfg.self_tgid {
        return ALLOW;
    }
    let comm = if TASK {
        bpf_get_current_comm().unwrap_or([0u8; COMM_LEN])
    } else {
        [0u8; COMM_LEN]
    };
    // Enforcement: never a runtime's process (before 6.1 the writer is not known; the
    // daemon arms a cgroup only once its entrypoint runs).
    let mut flags = 0;
    if cfg.flags & config_flags::ENFORCE != 0
        // SAFETY (get): copied out at once.
        && let Some(e) = unsafe { ENFORCE.get(cgroup_id) }.copied()
        && e.flags & enforce_flags::DENY_SYSCTL_WRITES != 0
        // SAFETY: 16 bytes as two words.
        && !runtime_comm(&unsafe { core::mem::transmute::<[u8; COMM_LEN], [u64; 2]>(comm) })
    {
        flags = if e.flags & enforce_flags::DRY_RUN != 0 {
            sysctl_flags::WOULD_DENY
        } else {
            stat_inc(stat::DENIED);
            sysctl_flags::DENIED
        };
    }
    let decision = if flags == sysctl_flags::DENIED {
        REFUSE
    } else {
        ALLOW
    };
    let Some(mut entry) = EVENTS.reserve::<SysctlRecord>(0) else {
        bump(&RINGBUF_DROPS, drop_slot::SYSCTL);
        return decision;
    };
    let rec = entry.as_mut_ptr();
    // SAFETY: `rec` points to reserved ring-buffer memory of the right size; every field is
    // written before submit.
    unsafe {
        (*rec).kind = RecordKind::Sysctl as u32;
        (*rec).pid = (pid_tgid >> 32) as u32;
        (*rec).tid = pid_tgid as u32;
        (*rec).uid = bpf_get_current_uid_gid() as u32;
        (*rec).file_pos = file_pos;
        (*rec).cgroup_id = cgroup_id;
        (*rec).boot_ns = bpf_ktime_get_boot_ns();
        (*rec).comm = comm;
        (*rec).flags = flags;
        // The full name (`kernel/core_pattern`), NUL-terminated; negative on error.
        let n = bpf_sysctl_get_name(
            ctx.as_ptr().cast(),
            (*rec).name.as_mut_ptr().cast(),
            SYSCTL_NAME_LEN as u64,
            0,
        );
        (*rec).name_len = if n >= 0 { n as u32 + 1 } else { 0 };
        let v = bpf_sysctl_get_new_value(
            ctx.as_ptr().cast(),
            (*rec).value.as_mut_ptr().cast(),
            SYSCTL_VALUE_LEN as u64,
        );
        (*rec).value_len = if v >= 0 {
            v as u32 + 1
        } else if v == E2BIG {
            (*rec).flags |= sysctl_flags::VALUE_TRUNCATED;
            SYSCTL_VALUE_LEN as u32
        } else {
            0
        };
    }
    entry.submit(0);
    decision
}
