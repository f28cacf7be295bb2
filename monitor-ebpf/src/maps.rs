//! Maps shared by all probes. Names are in `monitor_common::names`.

use core::ptr::{read_volatile, write_volatile};

use aya_ebpf::{
    bindings::BPF_NOEXIST,
    macros::map,
    maps::{Array, HashMap, LruHashMap, PerCpuArray, PerCpuHashMap, RingBuf},
};
use monitor_common::{
    COUNT_INTERNAL, CapCountKey, CapSeenKey, Enforcement, HostFileKey, KprobeArgs, MAX_CAPS,
    ProbeConfig, config_flags, drop_slot, op, stat,
};

/// Records for the daemon. Its size is set by the daemon at load time.
#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(256 * 1024, 0);

/// Exact check counts per (cgroup, capability, verdict); per CPU so that no update is lost.
#[map]
pub static CAP_COUNTS: PerCpuHashMap<CapCountKey, u64> = PerCpuHashMap::with_max_entries(16384, 0);

/// Counts that found `CAP_COUNTS` full, per (capability, verdict with its
/// `COUNT_INTERNAL` flag): index `cap * 4 + verdict`. Attribution to a cgroup is lost
/// there, the count is not.
#[map]
pub static CAP_COUNTS_OVF: PerCpuArray<u64> = PerCpuArray::with_max_entries(MAX_CAPS * 4, 0);

/// First-seen filter: the time of the last record per tuple, as a stamp `jiffies << 1 |
/// internal`: the low bit set when the tuple was the kernel's own check (`AUDIT_NO`), which
/// repeats are then counted as.
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

/// Hashes of the file names whose opens for writing the files fallback reports
/// (`monitor_common::name_hash`), filled by the daemon.
#[map]
pub static WATCHED_FILES: HashMap<u32, u8> = HashMap::with_max_entries(64, 0);

/// Host files and directories whose opens for writing `fentry/security_file_open` reports
/// (value: `monitor_common::host_file`), filled by the daemon.
#[map]
pub static HOST_FILES: HashMap<HostFileKey, u32> = HashMap::with_max_entries(256, 0);

/// Hashes of the socket file names whose `connect()` `cgroup/connect_unix` reports
/// (`monitor_common::name_hash`), filled by the daemon.
#[map]
pub static RUNTIME_SOCKETS: HashMap<u32, u8> = HashMap::with_max_entries(64, 0);

/// kprobe -> kretprobe hand-over of `cap_capable` arguments, keyed by pid_tgid.
#[map]
pub static KPROBE_ARGS: HashMap<u64, KprobeArgs> = HashMap::with_max_entries(16384, 0);

/// Generation of `HOST_CGROUPS`, bumped by the daemon after every change of it.
#[map]
pub static FILTER_GEN: Array<u64> = Array::with_max_entries(1, 0);

/// What to kill or deny, per watched cgroup, filled by the daemon (see
/// [`Enforcement`]); read only with `config_flags::ENFORCE`.
#[map]
pub static ENFORCE: HashMap<u64, Enforcement> = HashMap::with_max_entries(16384, 0);

/// The last filter verdict on this CPU: checks come in runs from one cgroup, and an array
/// lookup is inlined by the verifier where a hash lookup costs ~150 ns. With enforcement
/// configured it holds the cgroup's [`Enforcement`] too.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct FilterCache {
    cgroup_id: u64,
    generation: u64,
    watched: u64,
    kill: u64,
    deny: u64,
    flags: u64,
}

#[map]
static FILTER_CACHE: PerCpuArray<FilterCache> = PerCpuArray::with_max_entries(1, 0);

/// What the filter says of a cgroup: whether its events are wanted, and what enforcement
/// does to its checks (all zero without `config_flags::ENFORCE`).
pub struct Filter {
    pub watched: bool,
    pub kill: u64,
    pub deny: u64,
    pub flags: u32,
}

/// Whether events of `cgroup_id` are wanted: always under `watch: all`, else unless the
/// daemon listed the cgroup as the host's.
#[inline(always)]
pub fn watched(cfg: &ProbeConfig, cgroup_id: u64) -> bool {
    filter(cfg, cgroup_id).watched
}

/// The filter's verdict on `cgroup_id`, from this CPU's cache when it holds the cgroup for
/// the current generation.
#[inline(always)]
pub fn filter(cfg: &ProbeConfig, cgroup_id: u64) -> Filter {
    let host = cfg.flags & config_flags::CONTAINERS_ONLY != 0;
    let enforce = cfg.flags & config_flags::ENFORCE != 0;
    if !host && !enforce {
        return Filter {
            watched: true,
            kill: 0,
            deny: 0,
            flags: 0,
        };
    }
    // Read before the lookup: the daemon bumps it after changing HOST_CGROUPS or ENFORCE,
    // so a verdict cached from a lookup that raced with a change carries the old
    // generation.
    let generation = FILTER_GEN.get(0).copied().unwrap_or(0);
    let cache = FILTER_CACHE.get_ptr_mut(0);
    if let Some(c) = cache {
        // SAFETY: per-CPU slot; tracing programs do not nest on one CPU.
        let c = unsafe { &*c };
        if c.cgroup_id == cgroup_id && c.generation == generation {
            return Filter {
                watched: c.watched != 0,
                kill: if enforce { c.kill } else { 0 },
                deny: if enforce { c.deny } else { 0 },
                flags: if enforce { c.flags as u32 } else { 0 },
            };
        }
    }
    // SAFETY (get): the value is only tested for presence.
    let watched = !host || unsafe { HOST_CGROUPS.get(cgroup_id) }.is_none();
    let (mut kill, mut deny, mut flags) = (0, 0, 0);
    if enforce {
        // SAFETY (get): copied out at once; the daemon replaces whole entries.
        if let Some(e) = unsafe { ENFORCE.get(cgroup_id) } {
            (kill, deny, flags) = (e.kill, e.deny, e.flags);
        }
    }
    if let Some(c) = cache {
        // SAFETY: as above. Field by field: no temporary on the stack, which 6.1's verifier
        // counts against the 512 bytes of the whole call chain.
        unsafe {
            (*c).cgroup_id = cgroup_id;
            (*c).generation = generation;
            (*c).watched = watched as u64;
            if enforce {
                (*c).kill = kill;
                (*c).deny = deny;
                (*c).flags = flags as u64;
            }
        }
    }
    Filter {
        watched,
        kill,
        deny,
        flags,
    }
}

/// Whether a command name is one a container runtime's processes take (`runc:[2:INIT]`,
/// `runc`, `crun`): enforcement never acts on those. A process can take such a name with
/// `prctl(PR_SET_NAME)`: the blind spot docs/enforcement.md names.
#[inline(always)]
pub fn runtime_comm(comm: &[u64; 2]) -> bool {
    const RUNC_INIT: u64 = u64::from_le_bytes(*b"runc:[\0\0");
    const RUNC: u64 = u64::from_le_bytes(*b"runc\0\0\0\0");
    const CRUN: u64 = u64::from_le_bytes(*b"crun\0\0\0\0");
    let w = comm[0];
    w & 0xffff_ffff_ffff == RUNC_INIT || w == RUNC || w == CRUN
}

/// Slots of the per-CPU first-seen cache (a power of two).
const SEEN_SLOTS: u32 = 256;

/// A tuple the first-seen filter let through, and when: a per-CPU, direct-mapped cache in
/// front of `CAP_SEEN`. A hit within the window is a repeat for sure (the tuple was emitted
/// or found in `CAP_SEEN` at that time); a miss asks `CAP_SEEN`.
///
/// A repeat is counted in its slot (`pending`, a store where the counters' hash map costs a
/// lookup), for the count key of the slot's tuple: (cgroup, cap, verdict and the stamp's
/// internal flag). The slot's count moves into `CAP_COUNTS` when the slot takes another
/// tuple or stamp, and when the daemon runs [`flush_counts`](crate::capability) on the CPU
/// before it reads the counters. `busy` is set while either side changes the slot: a flush
/// that interrupts a check's update leaves the slot alone, a check that interrupts a flush
/// counts in `CAP_COUNTS` directly. Both run on the slot's CPU only, so the flag needs no
/// atomics.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct SeenSlot {
    key: CapSeenKey,
    last: u64,
    pending: u64,
    busy: u64,
}

#[map]
static SEEN_CACHE: PerCpuArray<SeenSlot> = PerCpuArray::with_max_entries(SEEN_SLOTS, 0);

#[inline(always)]
fn seen_slot(k: &CapSeenKey) -> u32 {
    let [c0, c1] = k.comm;
    let mut h = k.cgroup_id
        ^ ((k.cap as u64) << 32 | k.verdict as u64)
        ^ (k.syscall as u64).rotate_left(17)
        ^ c0.rotate_left(29)
        ^ c1.rotate_left(43);
    h = h.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h >> 56) as u32 & (SEEN_SLOTS - 1)
}

#[inline(always)]
fn same_key(a: &CapSeenKey, b: &CapSeenKey) -> bool {
    a.cgroup_id == b.cgroup_id
        && a.cap == b.cap
        && a.verdict == b.verdict
        && a.syscall == b.syscall
        && a.comm[0] == b.comm[0]
        && a.comm[1] == b.comm[1]
}

/// [`COUNT_INTERNAL`] when a first-seen stamp (jiffies << 1 | internal) says its tuple was
/// the kernel's own check.
#[inline(always)]
pub fn internal_flag(stamp: u64) -> u32 {
    if stamp & 1 != 0 { COUNT_INTERNAL } else { 0 }
}

/// Counts a repeat of `key` if this CPU's cache holds it with a stamp within `window` of
/// `now`: true when it did (in the slot, or in `CAP_COUNTS` if a flush holds the slot).
#[inline(always)]
pub fn count_repeat(key: &CapSeenKey, now: u64, window: u64) -> bool {
    let Some(p) = SEEN_CACHE.get_ptr_mut(seen_slot(key)) else {
        return false;
    };
    // SAFETY: per-CPU slot; checks do not nest on one CPU, and the flush program sets
    // `busy` around its changes (volatile: the order of the stores is the protocol).
    unsafe {
        let last = (*p).last;
        if !same_key(&(*p).key, key) || now.wrapping_sub(last >> 1) >= window {
            return false;
        }
        if read_volatile(&raw const (*p).busy) != 0 {
            count(key.cgroup_id, key.cap, key.verdict | internal_flag(last), 1);
            return true;
        }
        write_volatile(&raw mut (*p).busy, 1);
        write_volatile(
            &raw mut (*p).pending,
            read_volatile(&raw const (*p).pending) + 1,
        );
        write_volatile(&raw mut (*p).busy, 0);
    }
    true
}

/// Moves the count a slot holds into `CAP_COUNTS`; the caller has set `busy`.
///
/// # Safety
/// `p` is a slot of this CPU's `SEEN_CACHE`.
#[inline(always)]
unsafe fn flush_slot(p: *mut SeenSlot) {
    // SAFETY: the caller's promise.
    unsafe {
        let n = read_volatile(&raw const (*p).pending);
        if n != 0 {
            write_volatile(&raw mut (*p).pending, 0);
            let k = &(*p).key;
            count(k.cgroup_id, k.cap, k.verdict | internal_flag((*p).last), n);
        }
    }
}

/// Remembers on this CPU that `key` was let through (or found in `CAP_SEEN`) with `stamp`.
/// The count the slot held moves into `CAP_COUNTS` first.
#[inline(always)]
pub fn remember_seen(key: &CapSeenKey, stamp: u64) {
    if let Some(p) = SEEN_CACHE.get_ptr_mut(seen_slot(key)) {
        // SAFETY: per-CPU slot, as in `count_repeat`. Field by field: no temporary on the
        // stack, which 6.1's verifier counts against the 512 bytes of the whole call chain.
        unsafe {
            if read_volatile(&raw const (*p).busy) != 0 {
                // A flush runs under this check: the slot is its own until it returns.
                return;
            }
            write_volatile(&raw mut (*p).busy, 1);
            flush_slot(p);
            (*p).key.cgroup_id = key.cgroup_id;
            (*p).key.cap = key.cap;
            (*p).key.verdict = key.verdict;
            (*p).key.syscall = key.syscall;
            (*p).key.comm = key.comm;
            (*p).last = stamp;
            write_volatile(&raw mut (*p).busy, 0);
        }
    }
}

/// Moves every count this CPU's cache holds into `CAP_COUNTS`; returns how many slots a
/// check was changing (their counts stay for the next flush). Unrolled: before 6.18 (6.1,
/// 6.12), the verifier refuses the loop LLVM makes of this, whose back edge is a plain
/// fall-through ("back-edge from insn"), and `bpf_loop` needs 5.17.
#[inline(always)]
pub fn flush_seen_cache() -> u32 {
    let mut busy = 0;
    let mut flush = |i: u32| {
        if let Some(p) = SEEN_CACHE.get_ptr_mut(i) {
            // SAFETY: per-CPU slot; see `SeenSlot`.
            unsafe {
                if read_volatile(&raw const (*p).busy) != 0 {
                    busy += 1;
                    return;
                }
                write_volatile(&raw mut (*p).busy, 1);
                flush_slot(p);
                write_volatile(&raw mut (*p).busy, 0);
            }
        }
    };
    macro_rules! x4 {
        ($b:expr) => {
            flush($b);
            flush($b + 1);
            flush($b + 2);
            flush($b + 3);
        };
    }
    macro_rules! x16 {
        ($b:expr) => {
            x4!($b);
            x4!($b + 4);
            x4!($b + 8);
            x4!($b + 12);
        };
    }
    macro_rules! x64 {
        ($b:expr) => {
            x16!($b);
            x16!($b + 16);
            x16!($b + 32);
            x16!($b + 48);
        };
    }
    x64!(0);
    x64!(64);
    x64!(128);
    x64!(192);
    const _: () = assert!(SEEN_SLOTS == 256, "flush_seen_cache unrolls 256 slots");
    busy
}

/// Adds `n` to the exact counter of (cgroup, cap, verdict and [`COUNT_INTERNAL`]).
#[inline(always)]
pub fn count(cgroup_id: u64, cap: u32, verdict: u32, n: u64) {
    let key = CapCountKey {
        cgroup_id,
        cap,
        verdict,
    };
    for _ in 0..2 {
        if let Some(p) = CAP_COUNTS.get_ptr_mut(key) {
            // SAFETY: per-CPU value; tracing programs do not nest on one CPU.
            unsafe { *p += n };
            return;
        }
        // NOEXIST: if another CPU created the entry meanwhile, the second lookup finds it.
        if CAP_COUNTS.insert(key, n, BPF_NOEXIST as u64).is_ok() {
            return;
        }
    }
    stat_inc(stat::COUNTS_OVERFLOWED);
    if let Some(p) = CAP_COUNTS_OVF.get_ptr_mut(cap * 4 + verdict) {
        // SAFETY: per-CPU slot.
        unsafe { *p += n };
    }
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
