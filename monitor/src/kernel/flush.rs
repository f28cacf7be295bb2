//! Moving the counts the capability probe keeps in its per-CPU first-seen cache into the
//! counters map, before the daemon reads it.
//!
//! A check the first-seen filter drops is counted in its cache slot (a store, where the
//! counters' hash map costs a lookup per check); the slot's count reaches `CAP_COUNTS`
//! when the slot changes tuple, and when the `flush_counts` program runs on its CPU. That
//! program is attached nowhere: the daemon runs it on every online CPU with
//! `BPF_PROG_TEST_RUN` and `BPF_F_TEST_RUN_ON_CPU` (Linux 5.10+) before each read, so a
//! read sees every check made before it, and the counters only ever grow.

use std::{
    io,
    os::fd::{AsFd as _, AsRawFd as _},
    sync::atomic::{AtomicBool, Ordering::Relaxed},
};

use anyhow::Context as _;
use aya::{
    Ebpf,
    programs::{ProgramFd, RawTracePoint},
};
use tracing::warn;

/// The program's name in the object.
const PROGRAM: &str = "flush_counts";
/// `BPF_PROG_TEST_RUN` (include/uapi/linux/bpf.h).
const BPF_PROG_TEST_RUN: libc::c_long = 10;
/// `BPF_F_TEST_RUN_ON_CPU`.
const BPF_F_TEST_RUN_ON_CPU: u32 = 1 << 0;
/// Runs per CPU while a check holds a slot (it holds it for a few instructions).
const ATTEMPTS: usize = 5;

/// The `test` member of `union bpf_attr`, up to `cpu` (the kernel takes a shorter
/// attribute when the rest would be zero).
#[repr(C)]
#[derive(Default)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
}

/// The loaded `flush_counts` program.
pub struct CountFlush {
    fd: ProgramFd,
    warned: AtomicBool,
}

impl CountFlush {
    /// Loads the program (it is never attached).
    pub fn load(ebpf: &mut Ebpf) -> anyhow::Result<CountFlush> {
        let prog: &mut RawTracePoint = ebpf
            .program_mut(PROGRAM)
            .with_context(|| format!("{PROGRAM} program missing"))?
            .try_into()?;
        prog.load()
            .with_context(|| format!("loading raw_tracepoint/{PROGRAM}"))?;
        let fd = prog.fd()?.try_clone().context("duplicating its fd")?;
        Ok(CountFlush::from_fd(fd))
    }

    /// The program by its fd (the tests take the daemon's by id).
    pub fn from_fd(fd: ProgramFd) -> CountFlush {
        CountFlush {
            fd,
            warned: AtomicBool::new(false),
        }
    }

    /// Runs the program on every online CPU. A failure is logged once and the read goes on:
    /// the counts a cache still holds are then read later, never lost.
    pub fn run(&self) {
        if let Err(e) = self.run_checked()
            && !self.warned.swap(true, Relaxed)
        {
            warn!(error = %format!("{e:#}"), "flushing the probes' per-CPU counts failed: the capability counters may lag the checks made");
        }
    }

    /// Runs the program on every online CPU, or says why it could not.
    pub fn run_checked(&self) -> anyhow::Result<()> {
        let online = std::fs::read_to_string("/sys/devices/system/cpu/online")
            .context("reading /sys/devices/system/cpu/online")?;
        for cpu in cpu_list(&online)? {
            for attempt in 1..=ATTEMPTS {
                match self.run_on(cpu) {
                    Ok(0) => break,
                    // A check was changing a slot; its count is taken on a later run.
                    Ok(_) if attempt < ATTEMPTS => continue,
                    Ok(_) => break,
                    // Gone offline since the list was read: its counts wait for it.
                    Err(e) if e.raw_os_error() == Some(libc::ENXIO) => break,
                    Err(e) => {
                        return Err(e).with_context(|| format!("BPF_PROG_TEST_RUN on CPU {cpu}"));
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs the program on `cpu`; its return value: the slots it had to leave.
    fn run_on(&self, cpu: u32) -> io::Result<u32> {
        let mut attr = TestRunAttr {
            prog_fd: self.fd.as_fd().as_raw_fd() as u32,
            flags: BPF_F_TEST_RUN_ON_CPU,
            cpu,
            ..TestRunAttr::default()
        };
        // SAFETY: bpf(2) with a valid attribute of the size passed.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_PROG_TEST_RUN,
                &raw mut attr,
                std::mem::size_of::<TestRunAttr>(),
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(attr.retval)
    }
}

/// The CPUs of a kernel CPU list ("0-3,5").
fn cpu_list(text: &str) -> anyhow::Result<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let parse = |s: &str| {
            s.parse::<u32>()
                .with_context(|| format!("bad CPU list {text:?}"))
        };
        cpus.extend(parse(lo)?..=parse(hi)?);
    }
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse() {
        assert_eq!(cpu_list("0-1\n").unwrap(), vec![0, 1]);
        assert_eq!(cpu_list("0,2-4,7").unwrap(), vec![0, 2, 3, 4, 7]);
        assert_eq!(cpu_list("5").unwrap(), vec![5]);
        assert!(cpu_list("0-x").is_err());
    }

    #[test]
    fn the_attribute_ends_at_cpu() {
        // The UAPI's offsets: ctx_out at 56, flags at 64, cpu at 68.
        assert_eq!(std::mem::offset_of!(TestRunAttr, ctx_out), 56);
        assert_eq!(std::mem::offset_of!(TestRunAttr, flags), 64);
        assert_eq!(std::mem::size_of::<TestRunAttr>(), 72);
    }
}
