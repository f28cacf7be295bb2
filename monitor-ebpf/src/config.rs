//! The probes' configuration: a read-only global the daemon sets when it loads the object
//! ([`names::PROBE_CONFIG`](monitor_common::names::PROBE_CONFIG)). The object's `.rodata`
//! is frozen before any program loads, so the verifier knows every field as a constant:
//! offsets taken from BTF allow plain loads through BTF-typed pointers (a variable offset
//! would need a `bpf_probe_read_kernel` call per field), and branches on flags that are
//! off are never walked and are removed from the program.

use aya_ebpf::{Global, macros::map, maps::Array};
use monitor_common::{ProbeConfig, config_flags, runtime};

#[unsafe(no_mangle)]
static PROBE_CONFIG: Global<ProbeConfig> = Global::new(ProbeConfig::EMPTY);

/// Values the daemon sets after loading ([`monitor_common::runtime`]): a map, not part of
/// the configuration, which is frozen at load.
#[map]
pub static RUNTIME: Array<u32> = Array::with_max_entries(runtime::LEN, 0);

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
    RUNTIME.get(runtime::SELFTEST_TGID).copied().unwrap_or(0)
}

/// Whether the saved registers are found from the task's stack
/// ([`config_flags::REGS_FROM_STACK`]): a constant to the verifier.
#[inline(always)]
pub(crate) fn regs_from_stack() -> bool {
    config().is_some_and(|c| c.flags & config_flags::REGS_FROM_STACK != 0)
}

/// [`runtime::REGS_OFFSET`], or for the self-test's process
/// [`runtime::TRIAL_REGS_OFFSET`]: 0 while unknown.
#[inline(always)]
pub(crate) fn regs_offset(selftest: bool) -> u32 {
    let index = if selftest {
        runtime::TRIAL_REGS_OFFSET
    } else {
        runtime::REGS_OFFSET
    };
    RUNTIME.get(index).copied().unwrap_or(0)
}
