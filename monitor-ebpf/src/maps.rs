//! Maps shared by all probes. Names are in `monitor_common::names`.

use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap, LruHashMap, PerCpuArray, PerCpuHashMap, RingBuf},
};
use monitor_common::{
    CapCountKey, CapSeenKey, KprobeArgs, MAX_CAPS, ProbeConfig, config_flags, drop_slot, op, stat,
};

/// Records for the daemon. Its size is set by the daemon at load time.
#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(256 * 1024, 0);

/// Single entry: the probes' configuration, written by the daemon before attaching.
#[map]
pub static CONFIG: Array<ProbeConfig> = Array::with_max_entries(1, 0);

/// Exact check counts per (cgroup, capability, verdict); per CPU so that no update is lost.
#[map]
pub static CAP_COUNTS: PerCpuHashMap<CapCountKey, u64> = PerCpuHashMap::with_max_entries(16384, 0);

/// Counts that found `CAP_COUNTS` full, per (capability, verdict): index `cap * 2 + verdict`.
/// Attribution to a cgroup is lost there, the count is not.
#[map]
pub static CAP_COUNTS_OVF: PerCpuArray<u64> = PerCpuArray::with_max_entries(MAX_CAPS * 2, 0);

/// First-seen filter: boot time of the last record per tuple.
#[map]
pub static CAP_SEEN: LruHashMap<CapSeenKey, u64> = LruHashMap::with_max_entries(65536, 0);

/// Failed ring-buffer reservations, per program (index: `Hook as u32`, then
/// `monitor_common::drop_slot`).
#[map]
pub static RINGBUF_DROPS: PerCpuArray<u64> = PerCpuArray::with_max_entries(drop_slot::COUNT, 0);

/// Probe statistics (index: `monitor_common::stat::*`).
#[map]
pub static PROBE_STATS: PerCpuArray<u64> = PerCpuArray::with_max_entries(stat::COUNT, 0);

/// cgroup v2 ids of host (non-container) cgroups, filled by the daemon; with
/// `config_flags::CONTAINERS_ONLY` their checks are skipped.
#[map]
pub static HOST_CGROUPS: HashMap<u64, u8> = HashMap::with_max_entries(65536, 0);

/// Syscalls whose capability checks are all reported, with string arguments, indexed by
/// syscall number (value: see `monitor_common::op`). Filled by the daemon.
#[map]
pub static SENSITIVE_SYS: Array<u32> = Array::with_max_entries(op::TABLE_LEN, 0);

/// kprobe -> kretprobe hand-over of `cap_capable` arguments, keyed by pid_tgid.
#[map]
pub static KPROBE_ARGS: HashMap<u64, KprobeArgs> = HashMap::with_max_entries(16384, 0);

/// Whether events of `cgroup_id` are wanted: always under `watch: all`, else unless the
/// daemon listed the cgroup as the host's.
#[inline(always)]
pub fn watched(cfg: &ProbeConfig, cgroup_id: u64) -> bool {
    // SAFETY (get): the value is only tested for presence.
    cfg.flags & config_flags::CONTAINERS_ONLY == 0
        || unsafe { HOST_CGROUPS.get(cgroup_id) }.is_none()
}

/// Adds one to a per-CPU counter.
#[inline(always)]
pub fn bump(array: &PerCpuArray<u64>, index: u32) {
    if let Some(p) = array.get_ptr_mut(index) {
        // SAFETY: per-CPU slot; BPF tracing programs do not nest on one CPU.
        unsafe { *p += 1 };
    }
}

/// Adds one to a probe statistic.
#[inline(always)]
pub fn stat_inc(index: u32) {
    bump(&PROBE_STATS, index);
}
