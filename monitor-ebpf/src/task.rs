//! Reads from the current task and its credentials, at offsets the daemon took from BTF.

use aya_ebpf::helpers::{
    bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid,
    bpf_get_current_task, bpf_probe_read_kernel,
    generated::{bpf_get_current_task_btf, bpf_task_pt_regs},
};
use monitor_common::{COMM_LEN, KernelLayout, SYSCALL_IA32, SYSCALL_IO_WORKER, SelfTestRegs, stat};

use crate::{
    config::{regs_from_stack, regs_offset},
    maps::stat_inc,
};

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

/// How a program reads kernel memory: a type, so that every choice is made at compile time
/// (an enum value kept in a struct was reloaded from the stack, where the verifier no longer
/// knew it, and it then walked the plain loads with numbers for pointers).
pub trait Access: Copy {
    /// Plain loads ([`Btf`]) or `bpf_probe_read_kernel` calls ([`Probe`]).
    const BTF: bool;

    /// Reads a `T` at `base + offset`; `None` if the offset is unknown or (probe reads)
    /// `base` is null or the read faults. A plain load through a null pointer reads zero.
    #[inline(always)]
    fn read<T: Copy>(self, base: u64, offset: u32) -> Option<T> {
        if !Self::BTF {
            return read_at(base, offset);
        }
        // No null test: a plain load through a null BTF-typed pointer reads zero (the JIT
        // makes it a load that cannot fault), and a test of a pointer against zero leaves
        // older verifiers (6.12) walking the impossible path where it is null and the value
        // unread ("!read_ok").
        if offset == KernelLayout::MISSING {
            return None;
        }
        // SAFETY: a BTF-typed pointer and a constant offset: the verifier checks the load
        // against the type and turns it into one that cannot fault.
        Some(unsafe { core::ptr::read_volatile((base + offset as u64) as *const T) })
    }

    /// The current task, as a pointer this access can read.
    #[inline(always)]
    fn current_task(self) -> u64 {
        if Self::BTF {
            // SAFETY: plain helper call.
            unsafe { bpf_get_current_task_btf() as u64 }
        } else {
            // SAFETY: plain helper call.
            unsafe { bpf_get_current_task() }
        }
    }

    /// The current task's `bpf_get_current_pid_tgid()`: two plain loads where they are
    /// allowed (a helper call costs tens of nanoseconds on machines with return-stack
    /// mitigations).
    #[inline(always)]
    fn pid_tgid(self, task: u64, layout: &KernelLayout) -> u64 {
        if !Self::BTF {
            return bpf_get_current_pid_tgid();
        }
        let tgid: u32 = self.read(task, layout.task_tgid).unwrap_or(0);
        let pid: u32 = self.read(task, layout.task_pid).unwrap_or(0);
        (tgid as u64) << 32 | pid as u64
    }

    /// The current task's cgroup v2 id, as `bpf_get_current_cgroup_id()` reads it
    /// (`task->cgroups->dfl_cgrp->kn->id`): four plain loads where they are allowed.
    #[inline(always)]
    fn cgroup_id(self, task: u64, layout: &KernelLayout) -> u64 {
        if !Self::BTF {
            // SAFETY: plain helper call.
            return unsafe { bpf_get_current_cgroup_id() };
        }
        let set: u64 = self.read(task, layout.task_cgroups).unwrap_or(0);
        let cgroup: u64 = self.read(set, layout.css_set_dfl_cgrp).unwrap_or(0);
        let kn: u64 = self.read(cgroup, layout.cgroup_kn).unwrap_or(0);
        self.read(kn, layout.kernfs_node_id).unwrap_or(0)
    }

    /// The current task's name (`comm`) as two words: two plain loads where they are
    /// allowed.
    #[inline(always)]
    fn comm(self, task: u64, layout: &KernelLayout) -> [u64; 2] {
        if !Self::BTF {
            let bytes = bpf_get_current_comm().unwrap_or([0u8; COMM_LEN]);
            // SAFETY: same size, any bit pattern is valid.
            return unsafe { core::mem::transmute::<[u8; COMM_LEN], [u64; 2]>(bytes) };
        }
        let word = |at: u32| {
            let off = if layout.task_comm == KernelLayout::MISSING {
                KernelLayout::MISSING
            } else {
                layout.task_comm + at
            };
            self.read::<u64>(task, off).unwrap_or(0)
        };
        [word(0), word(8)]
    }
}

/// Plain loads: the program's pointers are BTF-typed (tp_btf and fexit arguments, the task
/// from `bpf_get_current_task_btf`); the verifier checks each load against the type at its
/// offset (a constant: the configuration is read-only) and makes it one that cannot fault.
/// A load is an instruction where a `bpf_probe_read_kernel` call costs tens of nanoseconds.
#[derive(Clone, Copy)]
pub struct Btf;

impl Access for Btf {
    const BTF: bool = true;
}

/// `bpf_probe_read_kernel`: for addresses the verifier sees as numbers (kprobe and tracefs
/// tracepoint arguments, the task from `bpf_get_current_task`).
#[derive(Clone, Copy)]
pub struct Probe;

impl Access for Probe {
    const BTF: bool = false;
}

/// The user registers of the current syscall, from `bpf_task_pt_regs`, or where the kernel
/// lacks it (before 5.15) from the top of the task's kernel stack, as the kernel's own
/// `task_pt_regs()` computes them ([`monitor_common::config_flags::REGS_FROM_STACK`]).
pub struct SyscallRegs<A: Access> {
    regs: u64,
    access: A,
    /// Made through the ia32 entry: the number is an ia32 one ([`SYSCALL_IA32`]).
    ia32: bool,
}

// Offsets in the architecture's `struct pt_regs` (UAPI-stable layouts).
#[cfg(bpf_target_arch = "x86_64")]
mod arch {
    /// `orig_ax`: the syscall number.
    pub const NR: u32 = 15 * 8;
    /// di, si, dx, r10, r8, r9.
    pub const ARGS: [u32; 6] = [14 * 8, 13 * 8, 12 * 8, 7 * 8, 9 * 8, 8 * 8];
    pub type Nr = i64;
    /// The saved `cs` and `ss`, for the self-test.
    pub const CS: u32 = 17 * 8;
    pub const SS: u32 = 20 * 8;
}
#[cfg(bpf_target_arch = "aarch64")]
mod arch {
    /// `syscallno` (an s32 after regs[31], sp, pc, pstate, orig_x0).
    pub const NR: u32 = 35 * 8;
    /// orig_x0 (x0 is overwritten by the return value), x1..x5.
    pub const ARGS: [u32; 6] = [34 * 8, 8, 2 * 8, 3 * 8, 4 * 8, 5 * 8];
    pub type Nr = i32;
    pub const CS: u32 = u32::MAX;
    pub const SS: u32 = u32::MAX;
}
#[cfg(not(any(bpf_target_arch = "x86_64", bpf_target_arch = "aarch64")))]
mod arch {
    pub const NR: u32 = u32::MAX;
    pub const ARGS: [u32; 6] = [u32::MAX; 6];
    pub type Nr = i64;
    pub const CS: u32 = u32::MAX;
    pub const SS: u32 = u32::MAX;
}

impl<A: Access> SyscallRegs<A> {
    /// Registers of the current task, if it is a user task (kernel threads have none).
    #[inline(always)]
    pub fn current(access: A, task: u64, layout: &KernelLayout) -> Option<Self> {
        Self::current_of(access, task, layout, false)
    }

    /// [`Self::current`] for the start-up self-test's process, which reads registers on
    /// the kernel stack at the offset being tried.
    #[inline(always)]
    pub fn current_for_selftest(access: A, task: u64, layout: &KernelLayout) -> Option<Self> {
        Self::current_of(access, task, layout, true)
    }

    #[inline(always)]
    fn current_of(access: A, task: u64, layout: &KernelLayout, selftest: bool) -> Option<Self> {
        let flags: u32 = access.read(task, layout.task_flags).unwrap_or(0);
        // One way out, from a value defined on every path: an early `return None` lets LLVM
        // spill the undefined payload, which the verifier refuses ("R2 !read_ok", seen on
        // 6.1 in fexit/security_capset).
        let regs = if flags & (KernelLayout::PF_KTHREAD | KernelLayout::PF_IO_WORKER) != 0 {
            0
        } else if regs_from_stack() {
            // No bpf_task_pt_regs (nor, before 5.11, bpf_get_current_task_btf): the top of
            // the kernel stack, at the offset the daemon validated (0 until then: none).
            let stack: u64 = access.read(task, layout.task_stack).unwrap_or(0);
            let offset = regs_offset(selftest);
            if stack == 0 || offset == 0 {
                0
            } else {
                stack + offset as u64
            }
        } else {
            // The helper takes a BTF task pointer: the one this access reads, or a new one.
            let btf_task = if A::BTF {
                task as *mut _
            } else {
                // SAFETY: plain helper call.
                unsafe { bpf_get_current_task_btf() }
            };
            // SAFETY: returns the task's saved user registers (a BTF-typed pointer: plain
            // loads read them).
            (unsafe { bpf_task_pt_regs(btf_task) }) as u64
        };
        // x86's TS_COMPAT (the offset is known on x86_64 only).
        let ia32 = match access.read::<u32>(task, layout.task_ti_status) {
            Some(status) => status & KernelLayout::TS_COMPAT != 0,
            None => false,
        };
        (regs != 0).then_some(Self { regs, access, ia32 })
    }

    /// The syscall number of a check without registers ([`Self::current`] gave none): -1,
    /// or [`SYSCALL_IO_WORKER`] for an io_uring worker's.
    #[inline(always)]
    pub fn none(access: A, task: u64, layout: &KernelLayout) -> i64 {
        let flags: u32 = access.read(task, layout.task_flags).unwrap_or(0);
        if flags & KernelLayout::PF_IO_WORKER != 0 {
            SYSCALL_IO_WORKER
        } else {
            -1
        }
    }

    /// The syscall number ([`SYSCALL_IA32`] set for an ia32 call), or -1 when unknown.
    #[inline(always)]
    #[allow(clippy::unnecessary_cast, reason = "Nr is i32 on aarch64")]
    pub fn nr(&self) -> i64 {
        let nr = match self.read::<arch::Nr>(arch::NR) {
            Some(n) => n as i64,
            None => -1,
        };
        if self.ia32 && nr >= 0 {
            // orig_ax holds the ia32 number sign-extended from eax.
            SYSCALL_IA32 | (nr as u32 as i64)
        } else {
            nr
        }
    }

    /// Argument register `I` (0..6; zero where unreadable), read as the access says: a
    /// constant index, so that the offset is one (the verifier refuses a plain load at a
    /// variable offset).
    #[inline(always)]
    pub fn arg_at<const I: usize>(&self) -> u64 {
        self.read::<u64>(arch::ARGS[I]).unwrap_or(0)
    }

    /// The registers the self-test checks: the number, the first argument and (x86_64)
    /// the saved segments.
    #[inline(always)]
    pub fn for_selftest(&self) -> SelfTestRegs {
        SelfTestRegs {
            nr: self.nr(),
            arg0: self.arg_at::<0>(),
            cs: self.read::<u64>(arch::CS).unwrap_or(0),
            ss: self.read::<u64>(arch::SS).unwrap_or(0),
        }
    }

    /// The registers' address, read where it is used. A plain read lets LLVM hoist it above
    /// the test of the `Option` that holds these registers, to a path where that stack slot
    /// was never written: Linux 5.10's verifier refuses the read ("invalid read from
    /// stack"; later kernels allow it to privileged loaders). A volatile read stays put.
    #[inline(always)]
    fn base(&self) -> u64 {
        // SAFETY: a read of a field of `self`.
        unsafe { core::ptr::read_volatile(&raw const self.regs) }
    }

    /// A register at `offset`: a plain load from the BTF-typed pointer `bpf_task_pt_regs`
    /// gives, a probe read of an address computed from the stack.
    #[inline(always)]
    fn read<T: Copy>(&self, offset: u32) -> Option<T> {
        if regs_from_stack() {
            read_at(self.base(), offset)
        } else {
            self.access.read(self.base(), offset)
        }
    }

    /// Argument register `i` (0..6; zero where unreadable), read with
    /// `bpf_probe_read_kernel` whatever the access: `i` may vary.
    #[inline(always)]
    pub fn arg(&self, i: usize) -> u64 {
        arch::ARGS
            .get(i)
            .and_then(|off| read_at::<u64>(self.base(), *off))
            .unwrap_or(0)
    }
}

/// The time for the first-seen window, in jiffies: one variable read, where a clock read
/// costs tens of nanoseconds (the window is seconds long). Records take their time from the
/// boot clock.
#[inline(always)]
pub fn window_clock() -> u64 {
    // SAFETY: plain helper call.
    unsafe { aya_ebpf::helpers::generated::bpf_jiffies64() }
}
