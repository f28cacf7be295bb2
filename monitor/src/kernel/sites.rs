//! The kernel's own capability checks (`CAP_OPT_NOAUDIT`: memory accounting, seccomp
//! without no_new_privs, `/proc` and kallsyms reads, ...) are told apart in the kernel:
//! by `opts` on the fexit and kprobe hooks, by their caller on the tracepoints (which have
//! no `opts`). This finds those callers in `/proc/kallsyms` and, whatever the hook, checks
//! the kernel's answer at start with a process of its own that makes one audited and two
//! no-audit checks.

use std::{fmt, io};

use anyhow::Context as _;
use aya::{
    Ebpf,
    maps::{Array, MapData, PerCpuArray, PerCpuValues},
    util::nr_cpus,
};
use monitor_common::{
    AUDIT_CASES, AUDIT_NO, AUDIT_UNKNOWN, AUDIT_YES, CallSites, SelfTestRegs, names, runtime,
};

/// capability.h numbers of the self-test's capabilities.
const CAP_SETUID: u32 = monitor_common::SELFTEST_CAP;
const CAP_SYS_ADMIN: u32 = 21;

/// `cap_capable()`: the function the tracepoint is in.
const CHECKER: &str = "cap_capable";
/// Between it and the caller that chose the options.
const THROUGH: [&str; CallSites::THROUGH] = ["security_capable", "ns_capable_common"];
/// The kernel's callers that pass `CAP_OPT_NOAUDIT` (`git grep CAP_OPT_NOAUDIT`, 5.1 to
/// 6.18): kernel/capability.c, security/commoncap.c, kernel/ksyms_common.c (kernel/kallsyms.c
/// before 6.4); `security_vm_enough_memory_mm()` where `cap_vm_enough_memory()` is inlined
/// into it (6.18 here: it makes no other check). A missing one is left out; the self-test
/// decides whether what is found answers right.
const INTERNAL: [&str; 6] = [
    "ns_capable_noaudit",
    "has_ns_capability_noaudit",
    "has_capability_noaudit",
    "cap_vm_enough_memory",
    "security_vm_enough_memory_mm",
    "kallsyms_show_value",
];

/// Finds the call sites in the text of `/proc/kallsyms` (sorted by address for the kernel
/// image; a function ends where the next symbol starts). Symbols with a compiler suffix
/// (`ns_capable_common.constprop.0`) count as the function.
pub fn from_kallsyms(text: &str) -> anyhow::Result<CallSites> {
    let wanted = |name: &str| {
        let base = name.split('.').next().unwrap_or(name);
        base == CHECKER || THROUGH.contains(&base) || INTERNAL.contains(&base)
    };
    // (name, start), then the end: the next greater address.
    let mut found: Vec<(String, u64, u64)> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        let (Some(addr), Some(kind), Some(name)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        // Module symbols (a fourth field) are not the kernel image's.
        if fields.next().is_some() {
            break;
        }
        let Ok(addr) = u64::from_str_radix(addr, 16) else {
            continue;
        };
        open.retain(|&i| {
            if addr > found[i].1 {
                found[i].2 = addr;
                false
            } else {
                true
            }
        });
        if matches!(kind, "T" | "t") && wanted(name) {
            anyhow::ensure!(
                addr != 0,
                "/proc/kallsyms shows no addresses (kernel.kptr_restrict, or no CAP_SYSLOG)"
            );
            open.push(found.len());
            found.push((name.split('.').next().unwrap_or(name).to_string(), addr, 0));
        }
    }
    let range = |name: &str| -> Vec<[u64; 2]> {
        found
            .iter()
            .filter(|(n, start, end)| n == name && *end > *start)
            .map(|(_, start, end)| [*start, *end])
            .collect()
    };
    let mut sites = CallSites {
        checker: *range(CHECKER)
            .first()
            .with_context(|| format!("{CHECKER} not in /proc/kallsyms"))?,
        ..CallSites::default()
    };
    let through: Vec<[u64; 2]> = THROUGH.iter().flat_map(|n| range(n)).collect();
    anyhow::ensure!(
        !through.is_empty(),
        "security_capable not in /proc/kallsyms"
    );
    let internal: Vec<[u64; 2]> = INTERNAL.iter().flat_map(|n| range(n)).collect();
    anyhow::ensure!(
        !internal.is_empty(),
        "none of {} in /proc/kallsyms",
        INTERNAL.join(", ")
    );
    for (slot, r) in sites.through.iter_mut().zip(through) {
        *slot = r;
    }
    for (slot, r) in sites.internal.iter_mut().zip(internal) {
        *slot = r;
    }
    Ok(sites)
}

/// Writes the call sites (all zero: the tracepoints then classify no check).
pub fn write(ebpf: &mut Ebpf, sites: &CallSites) -> anyhow::Result<()> {
    let mut map: Array<_, CallSites> = Array::try_from(
        ebpf.map_mut(names::CALL_SITES)
            .context("CALL_SITES map missing")?,
    )?;
    map.set(0, sites, 0).context("writing CALL_SITES")?;
    Ok(())
}

/// How the kernel tells its own checks from the workload's, on this kernel and hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Internal {
    /// By `cap_capable()`'s `opts` (fexit, kprobe), verified at start.
    Opts,
    /// By the caller on the stack (tracepoints), verified at start.
    CallSite,
    /// Not told apart in the kernel (why): such checks are written, with `audit` unknown,
    /// and only user space's guess by syscall keeps them out of advice.
    Unverified(String),
}

impl Internal {
    /// For `privmon_hook_info` and `privmon probe`.
    pub fn name(&self) -> &'static str {
        match self {
            Internal::Opts => "opts",
            Internal::CallSite => "call_site",
            Internal::Unverified(_) => "unverified",
        }
    }
}

impl fmt::Display for Internal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Internal::Unverified(why) => write!(f, "unverified: {why}"),
            other => f.write_str(other.name()),
        }
    }
}

/// What the self-test process's checks were classified as, per audit case, for the two
/// capabilities it uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SelfTest {
    /// `setuid()` to its own uid: one audited `CAP_SETUID` check.
    pub setuid: [u64; AUDIT_CASES as usize],
    /// An anonymous writable mapping (`cap_vm_enough_memory()`) and a seccomp filter without
    /// no_new_privs (`ns_capable_noaudit()`): two no-audit `CAP_SYS_ADMIN` checks.
    pub sys_admin: [u64; AUDIT_CASES as usize],
    /// The registers the probe read at the `setuid()` check.
    pub regs: SelfTestRegs,
    /// The uid the self-test passed to `setuid()`.
    pub uid: u32,
}

impl SelfTest {
    /// Why the registers the probe read at the `setuid()` check are not that call's, if
    /// they are not: its number and argument, and on x86_64 the user segments saved with
    /// them (a wrong place on the stack matching all four is not plausible).
    pub fn regs_verdict(&self) -> Result<(), String> {
        let r = &self.regs;
        let segments_ok = !cfg!(target_arch = "x86_64") || (r.cs == USER_CS && r.ss == USER_DS);
        if r.nr == libc::SYS_setuid && r.arg0 == u64::from(self.uid) && segments_ok {
            Ok(())
        } else {
            Err(format!(
                "setuid({}) was read as syscall {} with argument {:#x}, cs {:#x}, ss {:#x}",
                self.uid, r.nr, r.arg0, r.cs, r.ss
            ))
        }
    }

    /// Why the classification is wrong, if it is. `by_caller`: the tracepoint hooks tell
    /// the kernel's own checks by their caller, and both no-audit callers must be told
    /// right; where `opts` tell (fexit, kprobe), one check seen is enough: a kernel that
    /// inlines `cap_capable()` into `cap_vm_enough_memory()` (Debian's 5.10) makes that
    /// check unseen by a hook on the function, which is no check to tell apart.
    pub fn verdict(&self, by_caller: bool) -> Result<(), String> {
        let least = if by_caller { 2 } else { 1 };
        let (yes, no, unknown) = (
            AUDIT_YES as usize,
            AUDIT_NO as usize,
            AUDIT_UNKNOWN as usize,
        );
        if self.setuid.iter().sum::<u64>() == 0 || self.sys_admin.iter().sum::<u64>() == 0 {
            return Err(format!(
                "the self-test's checks were not seen (setuid {:?}, sys_admin {:?})",
                self.setuid, self.sys_admin
            ));
        }
        if self.setuid[yes] == 0 || self.setuid[no] + self.setuid[unknown] > 0 {
            return Err(format!(
                "an audited CAP_SETUID check was classified {:?} (unknown, audited, no-audit)",
                self.setuid
            ));
        }
        if self.sys_admin[no] < least || self.sys_admin[yes] + self.sys_admin[unknown] > 0 {
            return Err(format!(
                "two no-audit CAP_SYS_ADMIN checks (at least {least} seen) were classified \
                 {:?} (unknown, audited, no-audit)",
                self.sys_admin
            ));
        }
        Ok(())
    }
}

/// x86_64's user code and stack segments (`__USER_CS`, `__USER_DS`), saved with a 64-bit
/// syscall's registers.
const USER_CS: u64 = 0x33;
const USER_DS: u64 = 0x2b;

/// Sets value `index` of the probes' [`names::RUNTIME`] array.
pub fn write_runtime(ebpf: &mut Ebpf, index: u32, value: u32) -> anyhow::Result<()> {
    let mut map: Array<&mut MapData, u32> = Array::try_from(
        ebpf.map_mut(names::RUNTIME)
            .context("RUNTIME map missing")?,
    )?;
    map.set(index, value, 0)
        .with_context(|| format!("setting the probes' runtime value {index}"))?;
    Ok(())
}

/// Names the self-test process to the probes (0: none).
fn write_selftest_tgid(ebpf: &mut Ebpf, tgid: u32) -> anyhow::Result<()> {
    write_runtime(ebpf, runtime::SELFTEST_TGID, tgid)
        .context("naming the self-test process to the probes")
}

/// Zeroes the self-test's counts: each run is judged on its own checks.
fn clear_counts(ebpf: &mut Ebpf) -> anyhow::Result<()> {
    let mut map: PerCpuArray<&mut MapData, u64> = PerCpuArray::try_from(
        ebpf.map_mut(names::SELFTEST)
            .context("SELFTEST map missing")?,
    )?;
    let cpus = nr_cpus().map_err(|(_, e)| e)?;
    for index in 0..map.len() {
        map.set(index, PerCpuValues::try_from(vec![0u64; cpus])?, 0)?;
    }
    Ok(())
}

fn selftest_regs(ebpf: &mut Ebpf) -> anyhow::Result<Array<&mut MapData, SelfTestRegs>> {
    Ok(Array::try_from(
        ebpf.map_mut(names::SELFTEST_REGS)
            .context("SELFTEST_REGS map missing")?,
    )?)
}

/// Runs the self-test: a child of this process makes its checks while the probes classify
/// them into `SELFTEST` instead of reporting them.
pub fn self_test(ebpf: &mut Ebpf) -> anyhow::Result<SelfTest> {
    let mut fds = [0i32; 2];
    // SAFETY: a valid array of two fds.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error()).context("pipe for the self-test");
    }
    let (read_end, write_end) = (fds[0], fds[1]);
    selftest_regs(ebpf)?.set(0, SelfTestRegs::NONE, 0)?;
    clear_counts(ebpf)?;
    // SAFETY: no arguments, cannot fail.
    let uid = unsafe { libc::getuid() };
    // SAFETY: the child makes only system calls (no allocation, no lock: the parent has
    // other threads) and ends with _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: the child's own fds and memory; see `checks`.
        unsafe {
            libc::close(write_end);
            let mut go = 0u8;
            libc::read(read_end, (&raw mut go).cast(), 1);
            checks();
            libc::_exit(0);
        }
    }
    // SAFETY: fds of this process.
    unsafe { libc::close(read_end) };
    if pid < 0 {
        // SAFETY: as above.
        unsafe { libc::close(write_end) };
        return Err(io::Error::last_os_error()).context("fork for the self-test");
    }
    let result = (|| {
        write_selftest_tgid(ebpf, pid as u32)?;
        let go = 1u8;
        // SAFETY: one byte from a valid buffer.
        if unsafe { libc::write(write_end, (&raw const go).cast(), 1) } != 1 {
            return Err(io::Error::last_os_error()).context("starting the self-test");
        }
        Ok(())
    })();
    // SAFETY: our fd; the child then reads end-of-file if it was not told to go.
    unsafe { libc::close(write_end) };
    let mut status = 0;
    // SAFETY: our child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    write_selftest_tgid(ebpf, 0)?;
    result?;
    let regs = selftest_regs(ebpf)?.get(&0, 0)?;
    let map: PerCpuArray<_, u64> =
        PerCpuArray::try_from(ebpf.map(names::SELFTEST).context("SELFTEST map missing")?)?;
    let sum = |cap: u32, audit: u8| -> anyhow::Result<u64> {
        let values = map.get(&(cap * AUDIT_CASES + audit as u32), 0)?;
        Ok(values.iter().sum())
    };
    let mut t = SelfTest {
        regs,
        uid,
        ..SelfTest::default()
    };
    for audit in [AUDIT_UNKNOWN, AUDIT_YES, AUDIT_NO] {
        t.setuid[audit as usize] = sum(CAP_SETUID, audit)?;
        t.sys_admin[audit as usize] = sum(CAP_SYS_ADMIN, audit)?;
    }
    Ok(t)
}

/// The self-test's checks (in the forked child: system calls only).
///
/// # Safety
/// Installs a seccomp filter on the calling thread and leaks a page: only for a child that
/// exits right after.
unsafe fn checks() {
    // SAFETY: plain system calls on the child's own state; the filter allows everything.
    unsafe {
        libc::setuid(libc::getuid());
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        let mut allow = libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ALLOW,
        };
        let prog = libc::sock_fprog {
            len: 1,
            filter: &raw mut allow,
        };
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
            &raw const prog,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KALLSYMS: &str = "\
ffffffff8136feb0 T file_ns_capable
ffffffff8136ff00 T has_capability_noaudit
ffffffff8136ff50 T __pfx_ns_capable_setid
ffffffff813700b0 T ns_capable_noaudit
ffffffff813700b0 T ns_capable_noaudit_alias
ffffffff81370110 T __pfx___x64_sys_capget
ffffffff81ac1cb0 T cap_capable
ffffffff81ac1dc0 T __pfx_cap_capset
ffffffff81ac1ec0 T cap_vm_enough_memory
ffffffff81ac1ef0 T __pfx_cap_mmap_addr
ffffffff81ac7270 T security_capable
ffffffff81ac7350 T __pfx_security_quotactl
ffffffff81ac7400 t ns_capable_common.constprop.0
ffffffff81ac7480 t other
ffffffffc0000000 t has_capability_noaudit\t[some_module]
";

    #[test]
    fn functions_end_where_the_next_symbol_starts() {
        let s = from_kallsyms(KALLSYMS).unwrap();
        assert_eq!(s.checker, [0xffffffff81ac1cb0, 0xffffffff81ac1dc0]);
        assert_eq!(s.through[0], [0xffffffff81ac7270, 0xffffffff81ac7350]);
        // A compiler suffix names the same function.
        assert_eq!(s.through[1], [0xffffffff81ac7400, 0xffffffff81ac7480]);
        // An alias at the same address ends at the next greater one; a module's symbol
        // of the same name is not the kernel's.
        assert_eq!(
            &s.internal[..3],
            &[
                [0xffffffff813700b0, 0xffffffff81370110],
                [0xffffffff8136ff00, 0xffffffff8136ff50],
                [0xffffffff81ac1ec0, 0xffffffff81ac1ef0],
            ]
        );
        assert_eq!(s.internal[3], [0, 0]);
    }

    #[test]
    fn hidden_addresses_and_missing_functions_are_errors() {
        let hidden = KALLSYMS.replace(
            "ffffffff81ac1cb0 T cap_capable",
            "0000000000000000 T cap_capable",
        );
        let err = from_kallsyms(&hidden).unwrap_err().to_string();
        assert!(err.contains("kptr_restrict"), "{err}");
        let err = from_kallsyms("ffffffff81ac1cb0 T other\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cap_capable not in"), "{err}");
    }

    #[test]
    fn the_self_test_wants_each_check_where_it_belongs() {
        let (u, y, n) = (
            AUDIT_UNKNOWN as usize,
            AUDIT_YES as usize,
            AUDIT_NO as usize,
        );
        let mut t = SelfTest::default();
        assert!(t.verdict(true).unwrap_err().contains("not seen"));
        t.setuid[y] = 1;
        t.sys_admin[n] = 2;
        assert_eq!(t.verdict(true), Ok(()));
        // One no-audit check seen (the other's cap_capable() inlined, where only a
        // tracepoint inside it would see it): enough where `opts` tell, not by caller.
        t.sys_admin[n] = 1;
        assert_eq!(t.verdict(false), Ok(()));
        assert!(t.verdict(true).unwrap_err().contains("CAP_SYS_ADMIN"));
        t.sys_admin[n] = 2;
        t.sys_admin[u] = 1;
        assert!(t.verdict(false).unwrap_err().contains("CAP_SYS_ADMIN"));
        t.sys_admin[u] = 0;
        t.setuid[n] = 1;
        assert!(t.verdict(true).unwrap_err().contains("CAP_SETUID"));
    }

    #[test]
    fn the_self_test_wants_the_registers_of_its_own_call() {
        let mut t = SelfTest {
            uid: 0,
            regs: SelfTestRegs {
                nr: libc::SYS_setuid,
                arg0: 0,
                cs: USER_CS,
                ss: USER_DS,
            },
            ..SelfTest::default()
        };
        if cfg!(target_arch = "x86_64") {
            assert_eq!(t.regs_verdict(), Ok(()));
            t.regs.ss = 0;
            assert!(t.regs_verdict().unwrap_err().contains("ss 0x0"));
            t.regs.ss = USER_DS;
        }
        t.regs.nr = -1;
        assert!(t.regs_verdict().unwrap_err().contains("syscall -1"));
        t.regs.nr = libc::SYS_setuid;
        t.uid = 1000;
        assert!(t.regs_verdict().is_err());
    }
}
