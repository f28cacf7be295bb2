//! Process lifecycle: fork, exec (with its file name and arguments) and exit, for the
//! daemon's process table. `sched_process_fork`/`exec`/`exit` fire only on those events.

use aya_ebpf::{
    helpers::{
        bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid,
        bpf_get_current_task, bpf_ktime_get_boot_ns, bpf_probe_read_kernel_str_bytes,
        generated::bpf_probe_read_user,
    },
    macros::btf_tracepoint,
    programs::BtfTracePointContext,
};
use monitor_common::{
    COMM_LEN, EXEC_ARGS_LEN, ExecRecord, ExitRecord, ForkRecord, RecordKind, drop_slot, exec_flags,
};

use crate::{
    maps::{EVENTS, RINGBUF_DROPS, bump, watched},
    task::read_at,
};

/// match-proto: v3.4: include/trace/events/sched.h: TP_PROTO(struct task_struct *p,
/// pid_t old_pid, struct linux_binprm *bprm)
#[btf_tracepoint(function = "sched_process_exec")]
pub fn sched_process_exec(ctx: BtfTracePointContext) -> i32 {
    let bprm: u64 = ctx.arg(2);
    on_exec(bprm);
    0
}

/// match-proto: v2.6.32: include/trace/events/sched.h: TP_PROTO(struct task_struct *parent,
/// struct task_struct *child); runs in the parent, whose cgroup the child starts in.
#[btf_tracepoint(function = "sched_process_fork")]
pub fn sched_process_fork(ctx: BtfTracePointContext) -> i32 {
    let child: u64 = ctx.arg(1);
    on_fork(child);
    0
}

/// match-proto: v3.4: include/trace/events/sched.h: TP_PROTO(struct task_struct *p, ...);
/// runs in the exiting task.
#[btf_tracepoint(function = "sched_process_exit")]
pub fn sched_process_exit(_ctx: BtfTracePointContext) -> i32 {
    on_exit();
    0
}

#[inline(always)]
fn on_exec(bprm: u64) {
    let Some(cfg) = crate::config::config() else {
        return;
    };
    let pid = (bpf_get_current_pid_tgid() >> 32) as u32;
    // SAFETY: plain helper call.
    let cgroup_id = unsafe { bpf_get_current_cgroup_id() };
    if pid == cfg.self_tgid || !watched(cfg, cgroup_id) {
        return;
    }
    let l = &cfg.layout;
    // SAFETY: the current task's address; only read through probe_read.
    let task = unsafe { bpf_get_current_task() };
    let Some(mut entry) = EVENTS.reserve::<ExecRecord>(0) else {
        bump(&RINGBUF_DROPS, drop_slot::EXEC);
        return;
    };
    let rec = entry.as_mut_ptr();
    let parent: u64 = read_at(task, l.task_real_parent).unwrap_or(0);
    let cred: u64 = read_at(task, l.task_cred).unwrap_or(0);
    let mm: u64 = read_at(task, l.task_mm).unwrap_or(0);
    let arg_start: u64 = read_at(mm, l.mm_arg_start).unwrap_or(0);
    let arg_end: u64 = read_at(mm, l.mm_arg_end).unwrap_or(0);
    let full = arg_end.saturating_sub(arg_start);
    // The executed file's name: a memfd's reads `memfd:<name>`.
    let file: u64 = read_at(bprm, l.bprm_file).unwrap_or(0);
    let dentry: u64 = read_at(file, l.file_dentry).unwrap_or(0);
    let file_name: u64 = read_at(dentry, l.dentry_name).unwrap_or(0);
    let memfd = read_at::<[u8; 6]>(file_name, 0).is_some_and(|n| &n == b"memfd:");
    // SAFETY: `rec` points to reserved ring-buffer memory of the right size; every field is
    // written before submit.
    unsafe {
        (*rec).kind = RecordKind::Exec as u32;
        (*rec).pid = pid;
        (*rec).ppid = read_at(parent, l.task_tgid).unwrap_or(0);
        (*rec).uid = read_at(cred, l.cred_uid).unwrap_or(u32::MAX);
        (*rec).euid = read_at(cred, l.cred_euid).unwrap_or(u32::MAX);
        (*rec).gid = read_at(cred, l.cred_gid).unwrap_or(u32::MAX);
        (*rec).egid = read_at(cred, l.cred_egid).unwrap_or(u32::MAX);
        (*rec).cap_permitted = read_at(cred, l.cred_cap_permitted).unwrap_or(0);
        (*rec).cap_effective = read_at(cred, l.cred_cap_effective).unwrap_or(0);
        (*rec).cgroup_id = cgroup_id;
        (*rec).boot_ns = bpf_ktime_get_boot_ns();
        (*rec).comm = bpf_get_current_comm().unwrap_or([0u8; COMM_LEN]);
        (*rec).filename_len = 0;
        let name: u64 = read_at(bprm, l.bprm_filename).unwrap_or(0);
        // read_at yields 0 when the offset is unknown.
        if name != 0
            && let Ok(s) = bpf_probe_read_kernel_str_bytes(name as *const u8, &mut (*rec).filename)
        {
            (*rec).filename_len = s.len() as u32 + 1;
        }
        // The mask keeps the length provably within the buffer for the verifier.
        let len = if full >= EXEC_ARGS_LEN as u64 {
            EXEC_ARGS_LEN as u64 - 1
        } else {
            full
        };
        let len = (len & (EXEC_ARGS_LEN as u64 - 1)) as u32;
        (*rec).flags = if full > len as u64 {
            exec_flags::ARGS_TRUNCATED
        } else {
            0
        } | if memfd { exec_flags::MEMFD } else { 0 };
        (*rec).args_len = 0;
        if len > 0
            && bpf_probe_read_user((*rec).args.as_mut_ptr().cast(), len, arg_start as *const _) == 0
        {
            (*rec).args_len = len;
        }
    }
    entry.submit(0);
}

#[inline(always)]
fn on_fork(child: u64) {
    let Some(cfg) = crate::config::config() else {
        return;
    };
    let ppid = (bpf_get_current_pid_tgid() >> 32) as u32;
    if ppid == cfg.self_tgid {
        return;
    }
    // SAFETY: plain helper call.
    if !watched(cfg, unsafe { bpf_get_current_cgroup_id() }) {
        return;
    }
    let l = &cfg.layout;
    let Some(tgid) = read_at::<u32>(child, l.task_tgid) else {
        return;
    };
    let Some(pid) = read_at::<u32>(child, l.task_pid) else {
        return;
    };
    // A new thread of an existing process is no new process.
    if tgid != pid {
        return;
    }
    let Some(mut entry) = EVENTS.reserve::<ForkRecord>(0) else {
        bump(&RINGBUF_DROPS, drop_slot::FORK);
        return;
    };
    entry.write(ForkRecord {
        kind: RecordKind::Fork as u32,
        pid,
        ppid,
        _pad: 0,
        // SAFETY: plain helper call.
        boot_ns: unsafe { bpf_ktime_get_boot_ns() },
    });
    entry.submit(0);
}

#[inline(always)]
fn on_exit() {
    let Some(cfg) = crate::config::config() else {
        return;
    };
    let pid_tgid = bpf_get_current_pid_tgid();
    let pid = (pid_tgid >> 32) as u32;
    // Threads other than the leader exiting do not end the process.
    if pid != pid_tgid as u32 || pid == cfg.self_tgid {
        return;
    }
    // SAFETY: plain helper call.
    if !watched(cfg, unsafe { bpf_get_current_cgroup_id() }) {
        return;
    }
    let Some(mut entry) = EVENTS.reserve::<ExitRecord>(0) else {
        bump(&RINGBUF_DROPS, drop_slot::EXIT);
        return;
    };
    entry.write(ExitRecord {
        kind: RecordKind::Exit as u32,
        pid,
        // SAFETY: plain helper call.
        boot_ns: unsafe { bpf_ktime_get_boot_ns() },
    });
    entry.submit(0);
}
