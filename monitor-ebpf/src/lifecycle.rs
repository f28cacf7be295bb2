//! Container lifecycle: cgroups created and removed. These tracepoints fire only on
//! mkdir/rmdir in a cgroup filesystem, so they cost nothing elsewhere.

use aya_ebpf::{
    EbpfContext,
    helpers::{bpf_ktime_get_boot_ns, bpf_probe_read_kernel_str_bytes},
    macros::tracepoint,
    programs::TracePointContext,
};
use monitor_common::{CgroupRecord, RecordKind, drop_slot};

use crate::{
    maps::{EVENTS, RINGBUF_DROPS, bump},
    task::read_at,
};

/// match-proto: v5.5: include/trace/events/cgroup.h: DECLARE_EVENT_CLASS(cgroup,
/// TP_PROTO(struct cgroup *cgrp, const char *path)); fields root, level, id, __string(path)
#[tracepoint(category = "cgroup", name = "cgroup_mkdir")]
pub fn cgroup_mkdir(ctx: TracePointContext) -> u32 {
    on_cgroup(&ctx, RecordKind::CgroupMkdir, drop_slot::CGROUP_MKDIR);
    0
}

#[tracepoint(category = "cgroup", name = "cgroup_rmdir")]
pub fn cgroup_rmdir(ctx: TracePointContext) -> u32 {
    on_cgroup(&ctx, RecordKind::CgroupRmdir, drop_slot::CGROUP_RMDIR);
    0
}

#[inline(always)]
fn on_cgroup(ctx: &TracePointContext, kind: RecordKind, drop_slot: u32) {
    let Some(cfg) = crate::config::config() else {
        return;
    };
    let l = &cfg.layout;
    let base = ctx.as_ptr() as u64;
    let Some(mut entry) = EVENTS.reserve::<CgroupRecord>(0) else {
        bump(&RINGBUF_DROPS, drop_slot);
        return;
    };
    let rec = entry.as_mut_ptr();
    // SAFETY: `rec` points to reserved ring-buffer memory of the right size; every field
    // is written before submit.
    unsafe {
        (*rec).kind = kind as u32;
        (*rec).hierarchy = read_at::<i32>(base, l.cg_root).unwrap_or(-1);
        (*rec).level = read_at::<i32>(base, l.cg_level).unwrap_or(-1);
        (*rec).id = read_at::<u64>(base, l.cg_id).unwrap_or(0);
        (*rec).boot_ns = bpf_ktime_get_boot_ns();
        (*rec).path_len = 0;
        // __data_loc: low 16 bits the offset of the string in the record, high 16 its length.
        if let Some(loc) = read_at::<u32>(base, l.cg_path) {
            let src = (base + (loc & 0xffff) as u64) as *const u8;
            if let Ok(s) = bpf_probe_read_kernel_str_bytes(src, &mut (*rec).path) {
                (*rec).path_len = s.len() as u32 + 1;
            }
        }
    }
    entry.submit(0);
}
