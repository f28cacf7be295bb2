//! Which checks are the kernel's own: `cap_capable()`'s `opts` carry `CAP_OPT_NOAUDIT` for
//! the checks the kernel makes for itself (memory accounting, seccomp without
//! no_new_privs, `/proc` and kallsyms reads, ...). The fexit and kprobe hooks see `opts`;
//! the tracepoints do not, so there the check's caller decides: its kernel stack is read
//! (on the record path only, never for a check the first-seen filter drops) and walked up
//! from `cap_capable()` past `security_capable()` to the function that chose the options,
//! which is looked up among the no-audit callers the daemon found in `/proc/kallsyms`
//! ([`CallSites`]). The daemon verifies the answer at start with a process of its own
//! ([`selftest`]) and clears the call sites if it is wrong.

use aya_ebpf::{
    cty::c_void,
    helpers::generated::bpf_get_stack,
    macros::map,
    maps::{Array, PerCpuArray},
};
use monitor_common::{
    AUDIT_CASES, AUDIT_NO, AUDIT_UNKNOWN, AUDIT_YES, CAP_OPT_NOAUDIT, CallSites, SelfTestRegs,
};

use crate::maps::bump;

/// Single entry, written by the daemon before attaching a tracepoint hook.
#[map]
pub static CALL_SITES: Array<CallSites> = Array::with_max_entries(1, 0);

/// The self-test process's checks, per (capability, audit case): index
/// `cap * AUDIT_CASES + audit`.
#[map]
pub static SELFTEST: PerCpuArray<u64> =
    PerCpuArray::with_max_entries(monitor_common::MAX_CAPS * AUDIT_CASES, 0);

type Frames = [u64; CallSites::DEPTH];

/// Scratch space for a stack (too big for the BPF stack next to a record's fields).
#[map]
static STACK: PerCpuArray<Frames> = PerCpuArray::with_max_entries(1, 0);

#[inline(always)]
fn within(ip: u64, range: &[u64; 2]) -> bool {
    ip >= range[0] && ip < range[1]
}

/// [`AUDIT_YES`], [`AUDIT_NO`] or [`AUDIT_UNKNOWN`]: from `opts` where the hook has them,
/// else from the caller on the stack of the program run `ctx`.
#[inline(always)]
pub fn audit(opts: Option<u32>, ctx: *mut c_void) -> u8 {
    match opts {
        Some(o) if o & CAP_OPT_NOAUDIT != 0 => AUDIT_NO,
        Some(_) => AUDIT_YES,
        None => by_caller(ctx),
    }
}

#[inline(always)]
fn by_caller(ctx: *mut c_void) -> u8 {
    let Some(sites) = CALL_SITES.get(0) else {
        return AUDIT_UNKNOWN;
    };
    if sites.checker[0] == 0 {
        return AUDIT_UNKNOWN;
    }
    let Some(buf) = STACK.get_ptr_mut(0) else {
        return AUDIT_UNKNOWN;
    };
    let size = core::mem::size_of::<Frames>() as u32;
    // SAFETY: `buf` is this CPU's scratch slot of `size` bytes; flags 0: the kernel stack.
    let n = unsafe { bpf_get_stack(ctx, buf.cast(), size, 0) };
    if n <= 0 {
        return AUDIT_UNKNOWN;
    }
    let frames = (n as usize) / 8;
    let mut past_checker = false;
    for i in 0..CallSites::DEPTH {
        if i >= frames {
            break;
        }
        // SAFETY: within the slot; written by bpf_get_stack above.
        let ip = unsafe { (*buf)[i] };
        if !past_checker {
            past_checker = within(ip, &sites.checker);
            continue;
        }
        if sites.through.iter().any(|r| within(ip, r)) {
            continue;
        }
        if sites.internal.iter().any(|r| within(ip, r)) {
            return AUDIT_NO;
        }
        return AUDIT_YES;
    }
    AUDIT_UNKNOWN
}

/// Single entry: the registers of the self-test's `setuid()` check.
#[map]
pub static SELFTEST_REGS: Array<SelfTestRegs> = Array::with_max_entries(1, 0);

/// Keeps the registers of the self-test's `setuid()` check.
#[inline(always)]
pub fn selftest_regs(regs: SelfTestRegs) {
    if let Some(slot) = SELFTEST_REGS.get_ptr_mut(0) {
        // SAFETY: the map's only slot; the self-test process writes it alone.
        unsafe { *slot = regs };
    }
}

/// Counts a check of the self-test process by how it was classified.
#[inline(always)]
pub fn selftest(cap: u32, audit: u8) {
    bump(&SELFTEST, cap * AUDIT_CASES + audit as u32);
}
