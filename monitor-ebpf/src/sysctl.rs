//! `cgroup/sysctl` on the cgroup v2 root: writes under `/proc/sys` from watched cgroups
//! (`kernel.core_pattern`, `kernel.modprobe`, ...), with the sysctl's name and the value
//! written. Zero tax: the kernel runs it only for `/proc/sys` reads and writes. It always
//! lets the access through.

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
    sysctl_flags,
};

use crate::maps::{EVENTS, HOST_CGROUPS, RINGBUF_DROPS, bump};

/// Allow: the program observes, it does not decide.
const ALLOW: i32 = 1;
/// `-E2BIG`: the value did not fit (the helper copied what did).
const E2BIG: i64 = -7;

#[cgroup_sysctl]
pub fn sysctl_write(ctx: SysctlContext) -> i32 {
    on_sysctl::<true>(&ctx);
    ALLOW
}

/// The same without the writer's pid and comm, for kernels whose cgroup programs cannot
/// read them (`bpf_get_current_pid_tgid` and `bpf_get_current_comm` there are Linux 6.1):
/// the write is attributed to its cgroup only.
#[cgroup_sysctl]
pub fn sysctl_write_no_task(ctx: SysctlContext) -> i32 {
    on_sysctl::<false>(&ctx);
    ALLOW
}

#[inline(always)]
fn on_sysctl<const TASK: bool>(ctx: &SysctlContext) {
    // SAFETY: the context the kernel passed; `write` and `file_pos` are readable fields.
    let (write, file_pos) = unsafe { ((*ctx.sysctl).write, (*ctx.sysctl).file_pos) };
    if write == 0 {
        return;
    }
    let Some(cfg) = crate::config::config() else {
        return;
    };
    // SAFETY: plain helper call.
    let cgroup_id = unsafe { bpf_get_current_cgroup_id() };
    // A direct lookup, not the tracing programs' per-CPU cache: this program runs
    // preemptibly, and sysctl writes are rare.
    // SAFETY (get): the value is only tested for presence.
    if cfg.flags & config_flags::CONTAINERS_ONLY != 0
        && unsafe { HOST_CGROUPS.get(cgroup_id) }.is_some()
    {
        return;
    }
    let pid_tgid = if TASK { bpf_get_current_pid_tgid() } else { 0 };
    if TASK && (pid_tgid >> 32) as u32 == cfg.self_tgid {
        return;
    }
    let Some(mut entry) = EVENTS.reserve::<SysctlRecord>(0) else {
        bump(&RINGBUF_DROPS, drop_slot::SYSCTL);
        return;
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
        (*rec).comm = if TASK {
            bpf_get_current_comm().unwrap_or([0u8; COMM_LEN])
        } else {
            [0u8; COMM_LEN]
        };
        (*rec).flags = 0;
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
            (*rec).flags = sysctl_flags::VALUE_TRUNCATED;
            SYSCTL_VALUE_LEN as u32
        } else {
            0
        };
    }
    entry.submit(0);
}
