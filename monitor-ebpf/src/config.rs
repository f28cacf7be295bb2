//! The probes' configuration: a read-only global the daemon sets when it loads the object
//! ([`names::PROBE_CONFIG`](monitor_common::names::PROBE_CONFIG)). The object's `.rodata`
//! is frozen before any program loads, so the verifier knows every field as a constant:
//! offsets taken from BTF allow plain loads through BTF-typed pointers (a variable offset
//! would need a `bpf_probe_read_kernel` call per field), and branches on flags that are
//! off are never walked and are removed from the program.

use aya_ebpf::{Global, macros::map, maps::Array};
use monitor_common::ProbeConfig;

#[unsafe(no_mangle)]
static PROBE_CONFIG: Global<ProbeConfig> = Global::new(ProbeConfig::EMPTY);

/// Single entry: the start-up self-test process (0: none); its checks are classified and
/// counted in `SELFTEST`, nothing else. A map, not part of the configuration: the daemon
/// starts the self-test after loading.
#[map]
pub static SELFTEST_TGID: Array<u32> = Array::with_max_entries(1, 0);

/// The configuration. The pointer goes through a volatile read: the compiler must not fold
/// reads of the static into its initializer (the value that counts is the one the loader
/// wrote), while the verifier still sees a read of the frozen map at a constant offset.
#[inline(always)]
pub(crate) fn config() -> Option<&'static ProbeConfig> {
    let p: *const ProbeConfig = (&raw const PROBE_CONFIG).cast();
    // SAFETY: a read of a local.
    let p = unsafe { core::ptr::read_volatile(&raw const p) };
    // SAFETY: the static lives as long as the program; `Global` is `repr(transparent)`.
    Some(unsafe { &*p })
}

/// The self-test process's tgid, 0 when none runs.
#[inline(always)]
pub(crate) fn selftest_tgid() -> u32 {
    SELFTEST_TGID.get(0).copied().unwrap_or(0)
}
