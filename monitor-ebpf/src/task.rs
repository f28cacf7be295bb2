//! Reads from the current task and its credentials, at offsets the daemon took from BTF.

use aya_ebpf::helpers::{bpf_probe_read_kernel, generated::bpf_task_pt_regs};
use monitor_common::{KernelLayout, SYSCALL_IO_WORKER, stat};

use crate::maps::stat_inc;

/// Reads a `T` at `base + offset` in kernel memory; `None` if the offset is unknown or the
/// read faults (counted as a read error).
#[inline(always)]
pub fn read_at<T>(base: u64, offset: u32) -> Option<T> {
    if offset == KernelLayout::MISSING || base == 0 {
        return None;
    }
    // SAFETY: bpf_probe_read_kernel copes with any address; a fault returns an error.
    match unsafe { bpf_probe_read_kernel((base + offset as u64) as *const T) } {
        Ok(v) => Some(v),
        Err(_) => {
            stat_inc(stat::READ_ERRORS);
            None
        }
    }
}

/// The user registers of the current syscall, from `bpf_task_pt_regs`.
pub struct SyscallRegs {
    regs: u64,
}

// Offsets in the architecture's `struct pt_regs` (UAPI-stable layouts).
#[cfg(bpf_target_arch = "x86_64")]
mod arch {
    /// `orig_ax`: the syscall number.
    pub const NR: u32 = 15 * 8;
    /// di, si, dx, r10, r8, r9.
    pub const ARGS: [u32; 6] = [14 * 8, 13 * 8, 12 * 8, 7 * 8, 9 * 8, 8 * 8];
    pub type Nr = i64;
}
#[cfg(bpf_target_arch = "aarch64")]
mod arch {
    /// `syscallno` (an s32 after regs[31], sp, pc, pstate, orig_x0).
    pub const NR: u32 = 35 * 8;
    /// orig_x0 (x0 is overwritten by the return value), x1..x5.
    pub const ARGS: [u32; 6] = [34 * 8, 8, 2 * 8, 3 * 8, 4 * 8, 5 * 8];
    pub type Nr = i32;
}
#[cfg(not(any(bpf_target_arch = "x86_64", bpf_target_arch = "aarch64")))]
mod arch {
    pub const NR: u32 = u32::MAX;
    pub const ARGS: [u32; 6] = [u32::MAX; 6];
    pub type Nr = i64;
}

impl SyscallRegs {
    /// Registers of the current task, if it is a user task (kernel threads have none).
    #[inline(always)]
    pub fn current(task: u64, layout: &KernelLayout) -> Option<Self> {
        let flags: u32 = read_at(task, layout.task_flags).unwrap_or(0);
        // One way out, from a value defined on every path: an early `return None` lets LLVM
        // spill the undefined payload, which the verifier refuses ("R2 !read_ok", seen on
        // 6.1 in fexit/security_capset).
        let regs = if flags & (KernelLayout::PF_KTHREAD | KernelLayout::PF_IO_WORKER) != 0 {
            0
        } else {
            // SAFETY: the helper takes the BTF task pointer and returns its saved user
            // registers.
            let btf_task = unsafe { aya_ebpf::helpers::generated::bpf_get_current_task_btf() };
            (unsafe { bpf_task_pt_regs(btf_task) }) as u64
        };
        (regs != 0).then_some(Self { regs })
    }

    /// The syscall number of a check without registers ([`Self::current`] gave none): -1,
    /// or [`SYSCALL_IO_WORKER`] for an io_uring worker's.
    #[inline(always)]
    pub fn none(task: u64, layout: &KernelLayout) -> i64 {
        let flags: u32 = read_at(task, layout.task_flags).unwrap_or(0);
        if flags & KernelLayout::PF_IO_WORKER != 0 {
            SYSCALL_IO_WORKER
        } else {
            -1
        }
    }

    /// The syscall number, or -1 when unknown.
    #[inline(always)]
    #[allow(clippy::unnecessary_cast, reason = "Nr is i32 on aarch64")]
    pub fn nr(&self) -> i64 {
        read_at::<arch::Nr>(self.regs, arch::NR).map_or(-1, |n| n as i64)
    }

    /// Argument register `i` (0..6; zero where unreadable).
    #[inline(always)]
    pub fn arg(&self, i: usize) -> u64 {
        arch::ARGS
            .get(i)
            .and_then(|off| read_at::<u64>(self.regs, *off))
            .unwrap_or(0)
    }
}
