//! Loads the eBPF object, configures it, and attaches the capability-check probe through the
//! first strategy that works on this kernel.

use std::{fmt, path::PathBuf};

use anyhow::{Context as _, anyhow, bail, ensure};
use aya::{
    Btf, Ebpf, EbpfLoader, VerifierLogLevel,
    maps::{Array, HashMap, MapData, PerCpuArray, PerCpuHashMap},
    programs::{
        BtfTracePoint, CgroupAttachMode, CgroupSysctl, FEntry, FExit, KProbe, Lsm, TracePoint,
    },
};
use monitor_common::{
    CallSites, CapCountKey, Hook, HostFileKey, KernelLayout, ProbeConfig, bench_skip, config_flags,
    drop_slot, name_hash, names, op, runtime, stat,
};
use tracing::{info, warn};

use crate::{
    catalog::operations,
    catalog::syscalls::Arch,
    config::{Config, Coverage, EnforcementSwitch, HookChoice, OperationGroups, Watch},
    kernel::btf::KernelBtf,
    kernel::flush::CountFlush,
    kernel::host_files::HostFileIndex,
    kernel::sites::{self, Internal},
    kernel::tracefs,
};

/// The eBPF object built by build.rs (empty when built with AYA_BUILD_SKIP).
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/monitor"));

/// Programs in the object, by strategy.
const PROG_TP_BTF: &str = "cap_capable_btf";
const PROG_TRACEPOINT: &str = "cap_capable_tp";
const PROG_FEXIT: &str = "cap_capable_fexit";
/// The same with `bpf_probe_read_kernel`, where `bpf_get_current_task_btf` is missing.
const PROG_FEXIT_PROBE: &str = "cap_capable_fexit_probe";
const PROG_KPROBE: &str = "cap_capable_kprobe";
const PROG_KRETPROBE: &str = "cap_capable_kretprobe";
const PROG_CAPSET: &str = "security_capset_fexit";
const PROG_LSM_CAPABLE: &str = "lsm_capable";
const PROG_UNIX_STREAM_CONNECT: &str = "unix_stream_connect_fentry";
const PROG_BLKDEV_OPEN: &str = "blkdev_open_fentry";
const PROG_FILE_OPEN: &str = "file_open_fentry";
const KERNEL_FUNCTION: &str = "cap_capable";

/// Loaded and attached probes. Dropping this detaches everything.
pub struct Probes {
    pub ebpf: Ebpf,
    /// The strategy in use.
    pub hook: Hook,
    /// Strategies tried before it, with the reason each was skipped.
    pub skipped: Vec<(Hook, String)>,
    /// Whether the cgroup mkdir/rmdir tracepoints are attached (container lifecycle).
    pub lifecycle: bool,
    /// Whether the exec/exit tracepoints are attached (process table).
    pub processes: bool,
    /// Probe families that failed to attach, with the error (verifier log included).
    pub failures: Vec<(&'static str, String)>,
    /// How each sensitive-operation group is covered.
    pub coverage: Vec<GroupCoverage>,
    /// The syscall table loaded into the kernel (number -> how it is reported,
    /// [`operations::kernel_table_for`]), computed once here for both sides.
    pub syscalls: Vec<(i64, u32)>,
    /// Whether `capset()` is seen by `fexit/security_capset` (else at its CAP_SETPCAP
    /// check, which only the `cap_capable` tracepoints see on every kernel).
    pub capset_fexit: bool,
    /// How the kernel's own checks are told apart (and left unwritten).
    pub internal: Internal,
    /// Where the probes read a syscall's saved registers.
    pub registers: SyscallRegisters,
    /// Whether `cgroup/sysctl` is attached to the cgroup v2 root (writes under /proc/sys).
    pub sysctl: bool,
    /// What sees connects to runtime sockets: `cgroup/connect_unix` on the cgroup v2 root
    /// (6.7+), else the `security_unix_stream_connect` fentry program; else why neither.
    pub unix_connect: Result<UnixConnectHook, String>,
    /// Opens the LSM-hook sources report: of other cgroups' `/proc/<pid>/mem` and `environ`
    /// (the ptrace check's fentry program), of block devices (`fentry/blkdev_open`), of host
    /// files for writing (`fentry/security_file_open`).
    pub opens: OpenSources,
    /// What enforcement can do on this kernel (all false when it is off).
    pub enforcement: EnforcementSupport,
}

/// Which opens fentry programs report (see [`Probes::opens`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenSources {
    pub proc_memory: bool,
    pub block_devices: bool,
    /// The host files whose opens for writing `fentry/security_file_open` reports.
    pub host_files: Option<std::sync::Arc<super::host_files::HostFileIndex>>,
}

/// The program that sees connects to runtime sockets.
#[derive(Debug)]
pub enum UnixConnectHook {
    /// `cgroup/connect_unix` (Linux 6.7+): the address as the caller wrote it.
    Cgroup(super::unix_connect::UnixConnect),
    /// `fentry/security_unix_stream_connect`: the listener's bound address.
    Fentry,
}

impl UnixConnectHook {
    /// The `privmon_hook_info` attach value.
    pub fn name(&self) -> &'static str {
        match self {
            UnixConnectHook::Cgroup(_) => "cgroup_connect_unix",
            UnixConnectHook::Fentry => "lsm_hook",
        }
    }
}

/// The actions this kernel supports, with the configuration's `enforcement` not `off`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnforcementSupport {
    /// `bpf_send_signal` from the capability hook (Linux 5.3+).
    pub kill: bool,
    /// A capability's use refused with EPERM: the BPF LSM `capable` program attached (`bpf`
    /// in the kernel's `lsm=`); else why not.
    pub deny_capability: Result<(), String>,
    /// A sysctl write refused with EPERM: `cgroup/sysctl` attached.
    pub deny_sysctl: bool,
}

impl EnforcementSupport {
    /// Enforcement is off: nothing was tried.
    pub fn off() -> EnforcementSupport {
        EnforcementSupport {
            kill: false,
            deny_capability: Err("enforcement is off".to_string()),
            deny_sysctl: false,
        }
    }
}

/// How one sensitive-operation group is covered on this kernel with this configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupCoverage {
    pub group: &'static str,
    pub mode: Coverage,
    /// Syscalls whose fallback tracepoint is attached.
    pub hooked: Vec<&'static str>,
    /// Fallback tracepoints that could not be attached, with the error.
    pub failed: Vec<(&'static str, String)>,
    /// Gap syscalls an LSM-hook source reports (`auto`, where its programs attached).
    pub lsm: Vec<&'static str>,
    /// Syscalls of the group whose use can go unseen: the gap's not covered by an LSM-hook
    /// source (`auto`), those whose fallback failed (`on`), all of them (`off`).
    pub uncovered: Vec<&'static str>,
}

impl GroupCoverage {
    /// How the group is attached, for `privmon_hook_info` and `privmon probe`.
    pub fn attach(&self) -> &'static str {
        match (self.mode, self.hooked.is_empty()) {
            (Coverage::Off, _) => "off",
            (Coverage::On, false) => "capability_check+syscall_tracepoint",
            (Coverage::Auto, _) if !self.lsm.is_empty() => "capability_check+lsm_hook",
            _ => "capability_check",
        }
    }
}

/// Totals of the per-CPU probe statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProbeStats {
    pub checks: u64,
    pub overridden_creds: u64,
    pub deduplicated: u64,
    pub emitted: u64,
    pub read_errors: u64,
    pub counts_overflowed: u64,
    pub kprobe_missed_entry: u64,
    /// Sensitive syscalls reported by the fallback tracepoints.
    pub syscall_exits: u64,
    /// The kernel's own checks that reached the record path: counted, not written.
    pub internal: u64,
    /// Failed ring-buffer reservations, per program (index `Hook as usize`, then
    /// `drop_slot`).
    pub ringbuf_drops: [u64; drop_slot::COUNT as usize],
}

impl fmt::Display for ProbeStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "checks={} emitted={} deduplicated={} overridden_creds={} ringbuf_drops={} \
             read_errors={} counts_overflowed={} syscall_exits={} internal={}",
            self.checks,
            self.emitted,
            self.deduplicated,
            self.overridden_creds,
            self.ringbuf_drops.iter().sum::<u64>(),
            self.read_errors,
            self.counts_overflowed,
            self.syscall_exits,
            self.internal
        )
    }
}

impl Probes {
    /// The syscalls an LSM-hook source reports (their checks are paired with their
    /// reports like the fallbacks').
    pub fn lsm_syscalls(&self) -> Vec<i64> {
        let Some(arch) = Arch::host() else {
            return Vec::new();
        };
        self.coverage
            .iter()
            .flat_map(|c| c.lsm.iter().filter_map(|name| arch.number(name)))
            .collect()
    }

    /// Loads the object, writes the probe configuration and attaches the capability probe.
    pub fn load(config: &Config) -> anyhow::Result<Probes> {
        ensure!(
            !EBPF_OBJECT.is_empty(),
            "this privmon binary was built with AYA_BUILD_SKIP and holds no eBPF programs; \
             rebuild it without that variable (cargo xtask run)"
        );
        raise_memlock_limit();

        let kernel_btf = KernelBtf::from_sys_fs()?;
        let layout = kernel_layout(&kernel_btf);
        let helpers = Helpers::of(&kernel_btf);
        let btf = Btf::from_sys_fs().context("loading kernel BTF for program loading")?;
        let enforcing = config.enforcement != EnforcementSwitch::Off;
        ensure!(
            !enforcing || helpers.send_signal,
            "enforcement needs bpf_send_signal (Linux 5.3), which this kernel lacks: set \
             `enforcement: off`"
        );

        let mut probe_config = ProbeConfig {
            self_tgid: std::process::id(),
            flags: if config.always_emit_denied {
                config_flags::ALWAYS_EMIT_DENIED
            } else {
                0
            } | if config.watch == Watch::Containers {
                config_flags::CONTAINERS_ONLY
            } else {
                0
            } | if helpers.task_pt_regs {
                0
            } else {
                config_flags::REGS_FROM_STACK
            } | if enforcing { config_flags::ENFORCE } else { 0 }
                | bench_skip_steps()?,
            dedup_window_ticks: config.dedup_window_secs.saturating_mul(ticks_per_second()?),
            layout,
        };
        // The tracepoints' field offsets, from tracefs: the configuration is fixed at load.
        let tracepoint_fields = tracepoint_fields(&mut probe_config.layout);
        let cgroup_fields = cgroup_fields(&mut probe_config.layout);
        let mut loader = EbpfLoader::new();
        // For whoever debugs a program this kernel's verifier refuses: the whole log.
        if std::env::var_os("PRIVMON_VERIFIER_LOG").is_some() {
            loader.verifier_log_level(VerifierLogLevel::VERBOSE | VerifierLogLevel::STATS);
        }
        let mut ebpf = loader
            .btf(Some(&btf))
            .map_max_entries(names::EVENTS, config.ring_buffer_bytes)
            .override_global(names::PROBE_CONFIG, &probe_config, true)
            .load(EBPF_OBJECT)
            .context("loading the eBPF object")?;
        let syscalls = load_sensitive_syscalls(&mut ebpf, &config.operations)?;

        let order: &[Hook] = match config.hook {
            HookChoice::Auto => &Hook::ALL,
            HookChoice::TpBtf => &[Hook::TpBtf],
            HookChoice::Tracepoint => &[Hook::Tracepoint],
            HookChoice::Fexit => &[Hook::Fexit],
            HookChoice::Kprobe => &[Hook::Kprobe],
        };
        let mut skipped: Vec<(Hook, String)> = Vec::new();
        for &hook in order {
            let attempt = match hook {
                Hook::TpBtf => attach_tp_btf(&mut ebpf, &btf),
                Hook::Tracepoint => attach_tracepoint(&mut ebpf, &tracepoint_fields),
                Hook::Fexit => attach_fexit(&mut ebpf, &btf, &kernel_btf, helpers.task_btf),
                Hook::Kprobe => attach_kprobes(&mut ebpf),
            };
            match attempt {
                Ok(()) => {
                    for (h, why) in &skipped {
                        info!(hook = h.name(), reason = %why, "capability hook skipped");
                    }
                    info!(hook = hook.name(), "capability hook attached");
                    let mut failures = Vec::new();
                    let lifecycle = match attach_lifecycle(&mut ebpf, &cgroup_fields) {
                        Ok(()) => true,
                        Err(e) => {
                            warn!(error = %format!("{e:#}"), "cgroup tracepoints not attached: containers are found by rescanning cgroups instead");
                            failures.push(("cgroup", format!("{e:#}")));
                            false
                        }
                    };
                    let processes = match attach_processes(&mut ebpf, &btf) {
                        Ok(()) => true,
                        Err(e) => {
                            warn!(error = %format!("{e:#}"), "exec/exit tracepoints not attached: process details come from /proc only");
                            failures.push(("process", format!("{e:#}")));
                            false
                        }
                    };
                    let coverage = attach_fallbacks(&mut ebpf, &btf, &config.operations);
                    let opens = attach_open_sources(&mut ebpf, &btf, config, &coverage);
                    let capset_fexit = match attach_capset(&mut ebpf, &btf, &kernel_btf) {
                        Ok(()) => true,
                        Err(e) => {
                            let detail = format!("{e:#}");
                            if matches!(hook, Hook::Fexit | Hook::Kprobe) {
                                warn!(error = %detail, "fexit/security_capset not attached: capset() is reported only where the capability hook sees its check");
                                // Where trampolines load, a failure here is one.
                                failures.push(("capset", detail.clone()));
                            } else {
                                info!(reason = %detail, "fexit/security_capset not attached: capset() is reported at its capability check");
                            }
                            false
                        }
                    };
                    // Zero tax: the kernel runs it for /proc/sys accesses only.
                    let sysctl = (config.operations.files != Coverage::Off || enforcing)
                        && match attach_sysctl(&mut ebpf) {
                            Ok(()) => true,
                            Err(e) => {
                                warn!(error = %format!("{e:#}"), "cgroup/sysctl not attached: writes under /proc/sys (core_pattern, modprobe) are seen only by the files group's fallback (operations: {{files: on}})");
                                failures.push(("sysctl", format!("{e:#}")));
                                false
                            }
                        };
                    // Zero tax: the kernel runs it for unix-socket connects only.
                    let unix_connect = if config.operations.misc == Coverage::Off {
                        Err("the misc group is off".to_string())
                    } else {
                        attach_unix_connect(&mut ebpf, &btf, &kernel_btf, &layout)
                    };
                    let enforcement = if enforcing {
                        let deny_capability =
                            attach_lsm_capable(&mut ebpf, &btf).map_err(|e| format!("{e:#}"));
                        match &deny_capability {
                            Ok(()) => info!(
                                "enforcement: kill (bpf_send_signal) and deny (BPF LSM capable) available"
                            ),
                            Err(why) => {
                                info!(reason = %why, "enforcement: kill available; deny of capabilities is not (BPF LSM capable did not attach)")
                            }
                        }
                        EnforcementSupport {
                            kill: true,
                            deny_capability,
                            deny_sysctl: sysctl,
                        }
                    } else {
                        EnforcementSupport::off()
                    };
                    let (internal, registers) =
                        self_tests(&mut ebpf, hook, &kernel_btf, helpers.task_pt_regs);
                    match &registers {
                        SyscallRegisters::Unverified(why) if helpers.task_pt_regs => {
                            warn!(reason = %why, "the registers bpf_task_pt_regs gives did not pass the self-test: syscall numbers and arguments are reported as read, and may be wrong")
                        }
                        SyscallRegisters::Unverified(why) => {
                            warn!(reason = %why, "no place on the kernel stack held the self-test's registers: no registers are read, syscalls are reported unknown")
                        }
                        how => info!(from = %how, "syscall registers located, verified"),
                    }
                    match &internal {
                        Internal::Unverified(why) => {
                            warn!(reason = %why, "the kernel's own capability checks (memory accounting, ...) are not told apart in the kernel: they are written, with audit unknown")
                        }
                        how => info!(
                            by = how.name(),
                            "the kernel's own capability checks are told apart in the kernel, verified"
                        ),
                    }
                    return Ok(Probes {
                        internal,
                        registers,
                        ebpf,
                        hook,
                        skipped,
                        lifecycle,
                        processes,
                        failures,
                        coverage,
                        syscalls,
                        capset_fexit,
                        sysctl,
                        unix_connect,
                        opens,
                        enforcement,
                    });
                }
                Err(e) => skipped.push((hook, format!("{e:#}"))),
            }
        }
        let reasons: Vec<String> = skipped
            .iter()
            .map(|(h, why)| format!("{}: {why}", h.name()))
            .collect();
        bail!(
            "no capability-check hook could be attached ({})",
            reasons.join("; ")
        )
    }

    /// How each probe family is attached (`none` when it is not), and what each
    /// sensitive-operation group relies on: the `privmon_hook_info` metric and `privmon probe`.
    pub fn families(&self) -> Vec<(String, String)> {
        let process = if self.processes { "tp_btf" } else { "none" };
        let mut hooks = vec![
            ("capability".to_string(), self.hook.name().to_string()),
            ("process".to_string(), process.to_string()),
            (
                "cgroup".to_string(),
                if self.lifecycle { "tracepoint" } else { "none" }.to_string(),
            ),
        ];
        // Sensitive operations are seen at their capability checks, plus the fallback
        // syscall tracepoints of the groups turned on. Credential changes: at exec
        // (set-user-id files) through the exec probe (the family named here); set*id(),
        // setfs*id() and setgroups() at their capability check; capset() through
        // fexit/security_capset where it attaches, else at its check.
        for c in &self.coverage {
            hooks.push((format!("operations/{}", c.group), c.attach().to_string()));
        }
        hooks.push(("operations/credentials".to_string(), process.to_string()));
        hooks.push((
            "operations/sysctl".to_string(),
            if self.sysctl { "cgroup_sysctl" } else { "none" }.to_string(),
        ));
        for (family, on) in [
            ("operations/proc_memory", self.opens.proc_memory),
            ("operations/block_devices", self.opens.block_devices),
            // fanotify's, where the daemon uses it instead, is named by the daemon.
            ("operations/host_files", self.opens.host_files.is_some()),
        ] {
            hooks.push((
                family.to_string(),
                if on { "lsm_hook" } else { "none" }.to_string(),
            ));
        }
        hooks.push((
            "operations/runtime_socket".to_string(),
            self.unix_connect
                .as_ref()
                .map_or("none", UnixConnectHook::name)
                .to_string(),
        ));
        let e = &self.enforcement;
        hooks.push((
            "enforcement/kill".to_string(),
            if e.kill { "bpf_send_signal" } else { "none" }.to_string(),
        ));
        hooks.push((
            "enforcement/deny_capability".to_string(),
            if e.deny_capability.is_ok() {
                "lsm_capable"
            } else {
                "none"
            }
            .to_string(),
        ));
        hooks.push((
            "enforcement/deny_sysctl".to_string(),
            if e.deny_sysctl {
                "cgroup_sysctl"
            } else {
                "none"
            }
            .to_string(),
        ));
        hooks.push((
            "internal_checks".to_string(),
            self.internal.name().to_string(),
        ));
        hooks.push((
            "syscall_registers".to_string(),
            self.registers.name().to_string(),
        ));
        hooks.push((
            "operations/capset".to_string(),
            if self.capset_fexit {
                "fexit"
            } else {
                "capability_check"
            }
            .to_string(),
        ));
        hooks
    }

    /// Takes the counter maps out of the object: the metrics endpoint and the statistics log
    /// read them from another thread. The probes keep writing to them.
    pub fn take_counters(&mut self) -> anyhow::Result<KernelCounters> {
        let mut take = |name: &str| {
            self.ebpf
                .take_map(name)
                .with_context(|| format!("{name} map missing"))
        };
        Ok(KernelCounters {
            stats: PerCpuArray::try_from(take(names::PROBE_STATS)?)?,
            drops: PerCpuArray::try_from(take(names::RINGBUF_DROPS)?)?,
            counts: PerCpuHashMap::try_from(take(names::CAP_COUNTS)?)?,
            overflow: PerCpuArray::try_from(take(names::CAP_COUNTS_OVERFLOW)?)?,
            flush: CountFlush::load(&mut self.ebpf)?,
        })
    }
}

/// The probes' counter maps, read without touching the hot path: user space sums the
/// per-CPU slots when asked (a scrape, a statistics line).
pub struct KernelCounters {
    stats: PerCpuArray<MapData, u64>,
    drops: PerCpuArray<MapData, u64>,
    counts: PerCpuHashMap<MapData, CapCountKey, u64>,
    overflow: PerCpuArray<MapData, u64>,
    /// Moves the counts the probe holds per CPU into `counts` before a read.
    flush: CountFlush,
}

impl KernelCounters {
    /// Sums the per-CPU statistics maps.
    pub fn stats(&self) -> anyhow::Result<ProbeStats> {
        let sum = |i: u32| -> anyhow::Result<u64> {
            Ok(self
                .stats
                .get(&i, 0)?
                .iter()
                .copied()
                .fold(0u64, u64::wrapping_add))
        };
        let mut ringbuf_drops = [0u64; drop_slot::COUNT as usize];
        for (i, slot) in ringbuf_drops.iter_mut().enumerate() {
            *slot = self
                .drops
                .get(&(i as u32), 0)?
                .iter()
                .copied()
                .fold(0u64, u64::wrapping_add);
        }
        Ok(ProbeStats {
            checks: sum(stat::CHECKS)?,
            overridden_creds: sum(stat::OVERRIDDEN_CREDS)?,
            deduplicated: sum(stat::DEDUPLICATED)?,
            emitted: sum(stat::EMITTED)?,
            read_errors: sum(stat::READ_ERRORS)?,
            counts_overflowed: sum(stat::COUNTS_OVERFLOWED)?,
            kprobe_missed_entry: sum(stat::KPROBE_MISSED_ENTRY)?,
            syscall_exits: sum(stat::SYSCALL_EXITS)?,
            internal: sum(stat::INTERNAL)?,
            ringbuf_drops,
        })
    }

    /// Exact check counts per (cgroup, capability, verdict), summed over CPUs.
    pub fn capability_counts(&self) -> anyhow::Result<Vec<(CapCountKey, u64)>> {
        self.flush.run();
        let mut out = Vec::new();
        for item in self.counts.iter() {
            let (key, values) = item?;
            out.push((key, values.iter().copied().fold(0u64, u64::wrapping_add)));
        }
        Ok(out)
    }

    /// Counts that found the per-cgroup map full, per (capability, verdict with its
    /// `COUNT_INTERNAL` flag): their cgroup is unknown, the count is exact.
    pub fn overflow_counts(&self) -> anyhow::Result<Vec<(u32, u32, u64)>> {
        let mut out = Vec::new();
        for index in 0..self.overflow.len() {
            let n = self
                .overflow
                .get(&index, 0)?
                .iter()
                .copied()
                .fold(0u64, u64::wrapping_add);
            if n > 0 {
                out.push((index / 4, index % 4, n));
            }
        }
        Ok(out)
    }

    /// Forgets the counts of a cgroup that is gone (the caller has kept their totals).
    pub fn remove_counts(&mut self, key: &CapCountKey) {
        // Already absent is as good as removed.
        let _ = self.counts.remove(key);
    }
}

/// Tells the probes which syscalls are sensitive operations (reported in full, with
/// strings), which ones the fallbacks report, and the file names the files fallback watches.
/// Returns the table it loaded.
fn load_sensitive_syscalls(
    ebpf: &mut Ebpf,
    groups: &OperationGroups,
) -> anyhow::Result<Vec<(i64, u32)>> {
    let mut watched: HashMap<&mut MapData, u32, u8> = HashMap::try_from(
        ebpf.map_mut(names::WATCHED_FILES)
            .context("WATCHED_FILES map missing")?,
    )?;
    for name in operations::WATCHED_FILES {
        watched
            .insert(name_hash(name.as_bytes()), 1, 0)
            .with_context(|| format!("watching file name {name}"))?;
    }
    let Some(arch) = Arch::host() else {
        warn!("no syscall table for this architecture: sensitive operations are not reported");
        return Ok(Vec::new());
    };
    let mut map: Array<&mut MapData, u32> = Array::try_from(
        ebpf.map_mut(names::SENSITIVE_SYSCALLS)
            .context("SENSITIVE_SYS map missing")?,
    )?;
    let table = operations::kernel_table_for(arch, |g| groups.mode(g));
    for &(nr, spec) in &table {
        let index = u32::try_from(nr)
            .ok()
            .filter(|i| *i < op::TABLE_LEN)
            .with_context(|| format!("syscall number {nr} is beyond the table"))?;
        map.set(index, spec, 0)
            .with_context(|| format!("listing syscall {nr} as sensitive"))?;
    }
    Ok(table)
}

/// Program behind every fallback tracepoint.
const PROG_SYSCALL_EXIT: &str = "syscall_exit";

/// Attaches `syscalls:sys_exit_<name>` for each syscall of the groups turned `on`, and
/// says, per group, what is covered and what can go unseen (at start, in the log).
fn attach_fallbacks(ebpf: &mut Ebpf, btf: &Btf, groups: &OperationGroups) -> Vec<GroupCoverage> {
    // Zero-tax sources first, for the groups on `auto`.
    let mut lsm: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for source in operations::LSM_SOURCES
        .iter()
        .filter(|s| groups.mode(s.group) == Coverage::Auto)
    {
        match attach_lsm_source(ebpf, btf, source) {
            Ok(covered) => lsm.push((source.group, covered)),
            Err(e) => info!(
                group = source.group,
                reason = %format!("{e:#}"),
                "LSM-hook source not attached (kernel without BPF trampolines?)"
            ),
        }
    }
    let wanted = Arch::host()
        .map(|arch| operations::fallback_syscalls(arch, |g| groups.mode(g)))
        .unwrap_or_default();
    let mut hooked: Vec<(&str, &'static str)> = Vec::new();
    let mut failed: Vec<(&str, &'static str, String)> = Vec::new();
    if !wanted.is_empty() {
        match load_fallback_program(ebpf) {
            Ok(prog) => {
                for &(group, name) in &wanted {
                    let event = format!("sys_exit_{name}");
                    match prog.attach("syscalls", &event) {
                        Ok(_) => hooked.push((group, name)),
                        Err(e) => failed.push((
                            group,
                            name,
                            format!("attaching tracepoint/syscalls/{event}: {e}"),
                        )),
                    }
                }
            }
            Err(e) => {
                for &(group, name) in &wanted {
                    failed.push((group, name, format!("{e:#}")));
                }
            }
        }
    }
    let arch = Arch::host();
    let exists = |name: &&'static str| arch.is_some_and(|a| a.number(name).is_some());
    operations::GROUPS
        .iter()
        .map(|&group| {
            let mode = groups.mode(group);
            let gap: Vec<&'static str> = operations::gap(group)
                .map(|g| g.syscalls.iter().map(|(n, _)| *n).filter(exists).collect())
                .unwrap_or_default();
            let lsm_covered: Vec<&'static str> = lsm
                .iter()
                .filter(|(g, _)| *g == group)
                .flat_map(|(_, names)| names.iter().copied())
                .collect();
            let c = GroupCoverage {
                group,
                mode,
                hooked: hooked
                    .iter()
                    .filter(|(g, _)| *g == group)
                    .map(|(_, n)| *n)
                    .collect(),
                failed: failed
                    .iter()
                    .filter(|(g, _, _)| *g == group)
                    .map(|(_, n, e)| (*n, e.clone()))
                    .collect(),
                lsm: lsm_covered.clone(),
                uncovered: match mode {
                    Coverage::Auto => gap
                        .into_iter()
                        .filter(|n| !lsm_covered.contains(n))
                        .collect(),
                    Coverage::On => failed
                        .iter()
                        .filter(|(g, _, _)| *g == group)
                        .map(|(_, n, _)| *n)
                        .collect(),
                    Coverage::Off => operations::SENSITIVE
                        .iter()
                        .chain(operations::FALLBACK_ONLY)
                        .filter(|s| s.group == group && exists(&s.name))
                        .map(|s| s.name)
                        .collect(),
                },
            };
            report_coverage(&c);
            c
        })
        .collect()
}

fn load_fallback_program(ebpf: &mut Ebpf) -> anyhow::Result<&mut TracePoint> {
    let prog: &mut TracePoint = program(ebpf, PROG_SYSCALL_EXIT)?.try_into()?;
    prog.load()
        .context("loading the fallback syscall program")?;
    Ok(prog)
}

fn report_coverage(c: &GroupCoverage) {
    let unseen = operations::gap(c.group).map_or("", |g| g.unseen);
    match c.mode {
        Coverage::Off => info!(
            group = c.group,
            "operations group off: its operations are reported as plain capability checks"
        ),
        Coverage::Auto if !c.uncovered.is_empty() => warn!(
            group = c.group,
            unseen,
            syscalls = %c.uncovered.join(","),
            "operations group partly covered: these make no capability check and no \
             zero-tax hook sees them on this kernel; `operations: {{{}: on}}` adds syscall \
             tracepoints for them, which slow every syscall on the node (docs/benchmarks.md)",
            c.group
        ),
        Coverage::Auto => info!(
            group = c.group,
            "operations group covered by capability checks"
        ),
        Coverage::On => {
            for (name, error) in &c.failed {
                warn!(group = c.group, syscall = name, %error, "fallback tracepoint not attached");
            }
            info!(
                group = c.group,
                syscalls = %c.hooked.join(","),
                "operations group covered by capability checks and syscall tracepoints"
            );
        }
    }
}

/// Steps of the capability probe to leave out (`PRIVMON_BENCH_SKIP`, a comma-separated list
/// of [`bench_skip::NAMES`]): what privmon-bench measures each step's cost with. Never for
/// a real run: the probe then reports wrong things.
fn bench_skip_steps() -> anyhow::Result<u32> {
    let Some(list) = std::env::var_os("PRIVMON_BENCH_SKIP") else {
        return Ok(0);
    };
    let list = list.to_string_lossy();
    let mut bits = 0;
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let Some((_, bit)) = bench_skip::NAMES.iter().find(|(n, _)| *n == name) else {
            let known: Vec<&str> = bench_skip::NAMES.iter().map(|(n, _)| *n).collect();
            bail!(
                "PRIVMON_BENCH_SKIP: unknown step {name:?} (known: {})",
                known.join(", ")
            );
        };
        bits |= bit;
    }
    warn!(steps = %list, "PRIVMON_BENCH_SKIP: the capability probe leaves steps out, for a benchmark; what it reports is wrong");
    Ok(bits)
}

/// The kernel's timer frequency (`CONFIG_HZ`): the coarse clocks advance once a tick, and
/// their resolution is its length.
fn ticks_per_second() -> anyhow::Result<u64> {
    let mut res = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to write.
    if unsafe { libc::clock_getres(libc::CLOCK_MONOTONIC_COARSE, &mut res) } != 0 {
        return Err(std::io::Error::last_os_error())
            .context("reading the timer tick length (clock_getres)");
    }
    let tick_ns = res.tv_sec as u64 * 1_000_000_000 + res.tv_nsec as u64;
    ensure!(
        (1_000_000..=10_000_000).contains(&tick_ns),
        "unexpected timer tick length {tick_ns} ns (CLOCK_MONOTONIC_COARSE's resolution)"
    );
    Ok((1_000_000_000 + tick_ns / 2) / tick_ns)
}

/// Field offsets the probes read, from the kernel's BTF. A field that is not found is
/// reported as unknown by the probes rather than read at a wrong offset.
fn kernel_layout(btf: &KernelBtf) -> KernelLayout {
    // The offset of a nested member, unknown if either part is.
    let sum = |a: u32, b: u32| {
        if a == KernelLayout::MISSING || b == KernelLayout::MISSING {
            KernelLayout::MISSING
        } else {
            a + b
        }
    };
    let quiet = |ty: &str, member: &str| {
        btf.member_offset(ty, member)
            .unwrap_or(KernelLayout::MISSING)
    };
    let mut missing = Vec::new();
    let mut off = |ty: &str, member: &str| {
        btf.member_offset(ty, member).unwrap_or_else(|| {
            missing.push(format!("{ty}.{member}"));
            KernelLayout::MISSING
        })
    };
    let layout = KernelLayout {
        task_flags: off("task_struct", "flags"),
        task_comm: off("task_struct", "comm"),
        task_cgroups: off("task_struct", "cgroups"),
        css_set_dfl_cgrp: off("css_set", "dfl_cgrp"),
        cgroup_kn: off("cgroup", "kn"),
        kernfs_node_id: off("kernfs_node", "id"),
        task_stack: off("task_struct", "stack"),
        // x86 only: other architectures' thread_info has no status.
        task_ti_status: if cfg!(target_arch = "x86_64") {
            sum(
                off("task_struct", "thread_info"),
                off("thread_info", "status"),
            )
        } else {
            KernelLayout::MISSING
        },
        task_cred: off("task_struct", "cred"),
        task_real_cred: off("task_struct", "real_cred"),
        cred_uid: off("cred", "uid"),
        cred_euid: off("cred", "euid"),
        cred_cap_effective: off("cred", "cap_effective"),
        user_ns_level: off("user_namespace", "level"),
        task_tgid: off("task_struct", "tgid"),
        task_pid: off("task_struct", "pid"),
        task_real_parent: off("task_struct", "real_parent"),
        task_mm: off("task_struct", "mm"),
        mm_arg_start: off("mm_struct", "arg_start"),
        mm_arg_end: off("mm_struct", "arg_end"),
        bprm_filename: off("linux_binprm", "filename"),
        cred_suid: off("cred", "suid"),
        cred_gid: off("cred", "gid"),
        cred_egid: off("cred", "egid"),
        cred_sgid: off("cred", "sgid"),
        bprm_file: off("linux_binprm", "file"),
        file_dentry: sum(off("file", "f_path"), off("path", "dentry")),
        dentry_name: sum(off("dentry", "d_name"), off("qstr", "name")),
        cred_cap_permitted: off("cred", "cap_permitted"),
        cred_cap_inheritable: off("cred", "cap_inheritable"),
        cred_group_info: off("cred", "group_info"),
        group_info_ngroups: off("group_info", "ngroups"),
        group_info_gid: off("group_info", "gid"),
        task_files: off("task_struct", "files"),
        files_fdt: off("files_struct", "fdt"),
        fdt_fd: off("fdtable", "fd"),
        fdt_max_fds: off("fdtable", "max_fds"),
        file_vfsmount: sum(off("file", "f_path"), off("path", "mnt")),
        dentry_parent: off("dentry", "d_parent"),
        dentry_sb: off("dentry", "d_sb"),
        sb_dev: off("super_block", "s_dev"),
        sb_magic: off("super_block", "s_magic"),
        vfsmount_root: off("vfsmount", "mnt_root"),
        mount_mnt: off("mount", "mnt"),
        mount_parent: off("mount", "mnt_parent"),
        mount_mountpoint: off("mount", "mnt_mountpoint"),
        mount_id: off("mount", "mnt_id"),
        // Only the unix-connect fentry program reads these (where cgroup/connect_unix does
        // not load); af_unix may be a module whose types vmlinux's BTF lacks: not warned.
        unix_sock_addr: quiet("unix_sock", "addr"),
        unix_address_len: quiet("unix_address", "len"),
        unix_address_name: quiet("unix_address", "name"),
        inode_rdev: off("inode", "i_rdev"),
        file_mode: off("file", "f_mode"),
        dentry_inode: off("dentry", "d_inode"),
        inode_ino: off("inode", "i_ino"),
        ..KernelLayout::EMPTY
    };
    if !missing.is_empty() {
        warn!(fields = %missing.join(", "), "kernel BTF lacks fields; they will be reported as unknown");
    }
    layout
}

/// `cgroup/sysctl` on the cgroup v2 root (Linux 5.2+; the writer's pid and comm from 6.1),
/// beside any other agent's program there (a bpf_link, as `BPF_F_ALLOW_MULTI`). It sees every read and
/// write under /proc/sys, whatever cgroup the task is in below the root, and reports the
/// writes of watched cgroups.
fn attach_sysctl(ebpf: &mut Ebpf) -> anyhow::Result<()> {
    let root = crate::resolve::cgroup::v2_root()?;
    let cgroup = std::fs::File::open(&root)
        .with_context(|| format!("opening the cgroup v2 root {}", root.display()))?;
    // With the writer's pid and comm where the kernel lets cgroup programs read them (6.1+).
    let mut loaded = None;
    for name in ["sysctl_write", "sysctl_write_no_task"] {
        let prog: &mut CgroupSysctl = ebpf
            .program_mut(name)
            .with_context(|| format!("{name} program missing"))?
            .try_into()?;
        match prog.load() {
            Ok(()) => {
                loaded = Some(name);
                break;
            }
            Err(e) => {
                let detail = format!("{e:#}");
                // The verifier's reason (a helper it does not know here), not its whole walk.
                let missing_helper = detail
                    .lines()
                    .find(|l| l.contains("unknown func") || l.contains("invalid func"));
                match missing_helper {
                    Some(reason) if name == "sysctl_write" => info!(
                        reason,
                        "cgroup/sysctl loaded without the writer's pid and comm (a kernel before 6.1): writes under /proc/sys are attributed to their container, and to its process where it has only one"
                    ),
                    _ => {
                        return Err(anyhow!(e).context(format!("loading cgroup/sysctl ({name})")));
                    }
                }
            }
        }
    }
    let name = loaded.context("no cgroup/sysctl program loaded")?;
    let prog: &mut CgroupSysctl = ebpf
        .program_mut(name)
        .with_context(|| format!("{name} program missing"))?
        .try_into()?;
    // Through a bpf_link (5.7+), which the kernel attaches as BPF_F_ALLOW_MULTI would, beside
    // other agents' programs; aya passes the mode as the link's flags, which the kernel
    // refuses for links (EINVAL), so the mode given is `Single` (no flags).
    prog.attach(&cgroup, CgroupAttachMode::Single)
        .context("attaching cgroup/sysctl to the cgroup v2 root")?;
    Ok(())
}

/// `cgroup/connect_unix` (Linux 6.7+), else `fentry/security_unix_stream_connect` (BPF
/// trampolines): connects to a runtime's socket, with the names they report in
/// `RUNTIME_SOCKETS`. A kernel with neither is not a failure: the posture alert for the
/// socket's mount stands in (`privmon probe` says why).
fn attach_unix_connect(
    ebpf: &mut Ebpf,
    btf: &Btf,
    kernel_btf: &KernelBtf,
    layout: &KernelLayout,
) -> Result<UnixConnectHook, String> {
    let fill = |ebpf: &mut Ebpf| -> anyhow::Result<()> {
        let mut names: HashMap<_, u32, u8> = HashMap::try_from(
            ebpf.map_mut(names::RUNTIME_SOCKETS)
                .context("RUNTIME_SOCKETS map missing")?,
        )?;
        for (name, _) in operations::RUNTIME_SOCKETS {
            names.insert(name_hash(name.as_bytes()), 1, 0)?;
        }
        Ok(())
    };
    fill(ebpf).map_err(|e| format!("{e:#}"))?;
    let cgroup = match super::unix_connect::attach(ebpf, EBPF_OBJECT, kernel_btf) {
        Ok(hook) => {
            info!("cgroup/connect_unix attached: connects to runtime sockets are seen");
            return Ok(UnixConnectHook::Cgroup(hook));
        }
        Err(e) => format!("{e:#}"),
    };
    let fentry = (|| -> anyhow::Result<()> {
        ensure!(
            layout.unix_sock_addr != KernelLayout::MISSING
                && layout.unix_address_len != KernelLayout::MISSING
                && layout.unix_address_name != KernelLayout::MISSING,
            "the kernel's BTF lacks unix_sock.addr or unix_address (af_unix built as a module?)"
        );
        attach_fentry(
            ebpf,
            btf,
            PROG_UNIX_STREAM_CONNECT,
            "security_unix_stream_connect",
        )
    })();
    match fentry {
        Ok(()) => {
            info!(
                reason = %cgroup,
                "fentry/security_unix_stream_connect attached (cgroup/connect_unix did not): connects to runtime sockets are seen, named by the listener's address"
            );
            Ok(UnixConnectHook::Fentry)
        }
        Err(e) => {
            let why = format!(
                "cgroup/connect_unix: {cgroup}; fentry/security_unix_stream_connect: {e:#}"
            );
            info!(
                reason = %why,
                "no program sees connects to runtime sockets: a container's connect to one is not seen (the posture alert for the socket's mount stands in)"
            );
            Err(why)
        }
    }
}

/// The BPF LSM `capable` program: enforcement's deny of a capability (Linux 5.7+, with
/// `bpf` in the kernel's `lsm=`).
fn attach_lsm_capable(ebpf: &mut Ebpf, btf: &Btf) -> anyhow::Result<()> {
    let prog: &mut Lsm = program(ebpf, PROG_LSM_CAPABLE)?.try_into()?;
    prog.load("capable", btf)
        .context("loading lsm/capable (BPF LSM programs need Linux 5.7)")?;
    if let Err(e) = prog.attach() {
        let _ = prog.unload();
        let active = std::fs::read_to_string("/sys/kernel/security/lsm").unwrap_or_default();
        return Err(anyhow!(e).context(format!(
            "attaching lsm/capable (active LSMs: {}; BPF LSM needs `bpf` in the kernel's lsm= \
             boot parameter)",
            active.trim()
        )));
    }
    Ok(())
}

fn attach_tp_btf(ebpf: &mut Ebpf, btf: &Btf) -> anyhow::Result<()> {
    let prog: &mut BtfTracePoint = program(ebpf, PROG_TP_BTF)?.try_into()?;
    prog.load(KERNEL_FUNCTION, btf)
        .context("loading tp_btf/cap_capable (kernel without the cap_capable tracepoint?)")?;
    if let Err(e) = prog.attach() {
        let _ = prog.unload();
        return Err(anyhow!(e).context("attaching tp_btf/cap_capable"));
    }
    Ok(())
}

/// Offsets of four fields of a tracefs event, from its `format` file; an error (kept for
/// the attach that needs them) where tracefs lacks the event.
fn event_fields(category: &str, event: &str, names: [&str; 4]) -> Result<[u32; 4], String> {
    let read = || -> anyhow::Result<[u32; 4]> {
        let format = tracefs::event_format(category, event)?;
        let mut offsets = [0; 4];
        for (offset, name) in offsets.iter_mut().zip(names) {
            *offset = format.require(name)?;
        }
        Ok(offsets)
    };
    read().map_err(|e| format!("{e:#}"))
}

/// The `capability:cap_capable` tracepoint's field offsets, into `layout`.
fn tracepoint_fields(layout: &mut KernelLayout) -> Result<(), String> {
    let [cred, target_ns, cap, ret] = event_fields(
        "capability",
        "cap_capable",
        ["cred", "target_ns", "cap", "ret"],
    )?;
    (
        layout.tp_cred,
        layout.tp_target_ns,
        layout.tp_cap,
        layout.tp_ret,
    ) = (cred, target_ns, cap, ret);
    Ok(())
}

/// The `cgroup:cgroup_mkdir` tracepoint's field offsets (`cgroup_rmdir` has the same
/// format), into `layout`.
fn cgroup_fields(layout: &mut KernelLayout) -> Result<(), String> {
    let [root, level, id, path] =
        event_fields("cgroup", "cgroup_mkdir", ["root", "level", "id", "path"])?;
    (
        layout.cg_root,
        layout.cg_level,
        layout.cg_id,
        layout.cg_path,
    ) = (root, level, id, path);
    Ok(())
}

fn attach_tracepoint(ebpf: &mut Ebpf, fields: &Result<(), String>) -> anyhow::Result<()> {
    fields.clone().map_err(|e| anyhow!(e))?;

    let prog: &mut TracePoint = program(ebpf, PROG_TRACEPOINT)?.try_into()?;
    prog.load()
        .context("loading tracepoint/capability/cap_capable")?;
    if let Err(e) = prog.attach("capability", "cap_capable") {
        let _ = prog.unload();
        return Err(anyhow!(e).context("attaching tracepoint/capability/cap_capable"));
    }
    Ok(())
}

/// `tp_btf/sched_process_fork`, `sched_process_exec` and `sched_process_exit`, for the
/// process table. All or none: exec or fork records without exit records would grow the
/// table with stale entries.
fn attach_processes(ebpf: &mut Ebpf, btf: &Btf) -> anyhow::Result<()> {
    const NAMES: [&str; 3] = [
        "sched_process_fork",
        "sched_process_exec",
        "sched_process_exit",
    ];
    let attached = (|| -> anyhow::Result<()> {
        for name in NAMES {
            let prog: &mut BtfTracePoint = program(ebpf, name)?.try_into()?;
            prog.load(name, btf)
                .with_context(|| format!("loading tp_btf/{name}"))?;
            prog.attach()
                .with_context(|| format!("attaching tp_btf/{name}"))?;
        }
        Ok(())
    })();
    if attached.is_err() {
        for name in NAMES {
            let prog: Option<&mut BtfTracePoint> =
                program(ebpf, name).ok().and_then(|p| p.try_into().ok());
            // Unloading one that never loaded only fails.
            let _ = prog.map(BtfTracePoint::unload);
        }
    }
    attached
}

/// The `cgroup:cgroup_mkdir`/`cgroup_rmdir` tracepoints, for container start and stop.
fn attach_lifecycle(ebpf: &mut Ebpf, fields: &Result<(), String>) -> anyhow::Result<()> {
    fields.clone().map_err(|e| anyhow!(e))?;
    // All or none: a start without its stop would leave containers tracked forever.
    const EVENTS: [&str; 2] = ["cgroup_mkdir", "cgroup_rmdir"];
    let attached = (|| -> anyhow::Result<()> {
        for event in EVENTS {
            let prog: &mut TracePoint = program(ebpf, event)?.try_into()?;
            prog.load()
                .with_context(|| format!("loading tracepoint/cgroup/{event}"))?;
            prog.attach("cgroup", event)
                .with_context(|| format!("attaching tracepoint/cgroup/{event}"))?;
        }
        Ok(())
    })();
    if attached.is_err() {
        for event in EVENTS {
            let prog: Option<&mut TracePoint> =
                program(ebpf, event).ok().and_then(|p| p.try_into().ok());
            // Unloading one that never loaded only fails.
            let _ = prog.map(TracePoint::unload);
        }
    }
    attached
}

/// The program with plain loads where `bpf_get_current_task_btf` exists (5.11+), else its
/// twin with `bpf_probe_read_kernel`.
fn attach_fexit(
    ebpf: &mut Ebpf,
    btf: &Btf,
    kernel_btf: &KernelBtf,
    task_btf: bool,
) -> anyhow::Result<()> {
    let prog = if task_btf {
        PROG_FEXIT
    } else {
        PROG_FEXIT_PROBE
    };
    attach_fexit_to(ebpf, btf, kernel_btf, prog, KERNEL_FUNCTION, 4)
}

/// The BPF helpers the probes use where they exist, from the kernel's `enum bpf_func_id`.
#[derive(Clone, Copy, Debug)]
struct Helpers {
    /// `bpf_get_current_task_btf` (5.11+): the current task as a BTF pointer, which plain
    /// loads read.
    task_btf: bool,
    /// `bpf_task_pt_regs` (5.15+): a task's saved user registers.
    task_pt_regs: bool,
    /// `bpf_send_signal` (5.3+): enforcement's kill.
    send_signal: bool,
}

impl Helpers {
    fn of(btf: &KernelBtf) -> Helpers {
        let has = |name: &str| btf.has_enumerator("bpf_func_id", name);
        // For tests on kernels that have the helpers: the path older kernels take.
        let forced = std::env::var_os("PRIVMON_TEST_REGS_FROM_STACK").is_some();
        if forced {
            warn!(
                "PRIVMON_TEST_REGS_FROM_STACK: the probes find registers on the kernel stack, as where bpf_task_pt_regs is missing"
            );
        }
        let helpers = Helpers {
            task_btf: has("BPF_FUNC_get_current_task_btf") && !forced,
            task_pt_regs: has("BPF_FUNC_task_pt_regs") && !forced,
            send_signal: has("BPF_FUNC_send_signal"),
        };
        if forced {
            // Said above.
        } else if !helpers.task_pt_regs {
            info!(
                bpf_get_current_task_btf = helpers.task_btf,
                "this kernel has no bpf_task_pt_regs (Linux 5.15): the probes find a syscall's registers on the task's kernel stack"
            );
        }
        helpers
    }
}

/// Where the probes read a syscall's saved registers (its number and arguments).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyscallRegisters {
    /// `bpf_task_pt_regs`, checked by the self-test.
    Helper,
    /// The top of the task's kernel stack, `THREAD_SIZE` bytes above `task->stack` less
    /// the padding x86 keeps there with FRED, found by the self-test (kernels without
    /// `bpf_task_pt_regs`).
    KernelStack { thread_size: u32, padding: u32 },
    /// The self-test did not find the registers the probe read to be its call's: on the
    /// kernel stack, none are read; through the helper, they are read and not trusted.
    Unverified(String),
}

impl fmt::Display for SyscallRegisters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyscallRegisters::KernelStack {
                thread_size,
                padding,
            } => write!(
                f,
                "kernel_stack (THREAD_SIZE {thread_size}, padding {padding})"
            ),
            SyscallRegisters::Unverified(why) => write!(f, "unverified: {why}"),
            SyscallRegisters::Helper => f.write_str(self.name()),
        }
    }
}

impl SyscallRegisters {
    pub fn name(&self) -> &'static str {
        match self {
            SyscallRegisters::Helper => "task_pt_regs",
            SyscallRegisters::KernelStack { .. } => "kernel_stack",
            SyscallRegisters::Unverified(_) => "unverified",
        }
    }
}

/// `THREAD_SIZE` values the kernel stack may have: 16 KiB on x86_64 and arm64 (4 KiB
/// pages), twice that with KASAN, 64 KiB on arm64 with 64 KiB pages. Not in BTF: the
/// self-test tells which is right.
const THREAD_SIZES: [u32; 3] = [16 << 10, 32 << 10, 64 << 10];

/// `TOP_OF_KERNEL_STACK_PADDING`: 0, or on x86_64 kernels built with FRED (6.9+) 16.
const STACK_PADDINGS: [u32; 2] = [0, 16];

/// Runs the start-up self-test: it tells whether the kernel's own checks are told apart
/// right ([`Internal`]) and, where registers come from the kernel stack, finds at which
/// `THREAD_SIZE` they are (one self-test per candidate, until one matches).
fn self_tests(
    ebpf: &mut Ebpf,
    hook: Hook,
    kernel_btf: &KernelBtf,
    task_pt_regs: bool,
) -> (Internal, SyscallRegisters) {
    let by_caller = matches!(hook, Hook::TpBtf | Hook::Tracepoint);
    let mut sites_error = None;
    if by_caller {
        let written = std::fs::read_to_string("/proc/kallsyms")
            .context("reading /proc/kallsyms")
            .and_then(|text| sites::from_kallsyms(&text))
            .and_then(|s| sites::write(ebpf, &s));
        sites_error = written.err().map(|e| format!("{e:#}"));
    }
    // (offset to write, what it means): one pass with the helper.
    let candidates: Vec<(u32, SyscallRegisters)> = if task_pt_regs {
        vec![(0, SyscallRegisters::Helper)]
    } else {
        match kernel_btf.struct_size("pt_regs") {
            Some(size) => THREAD_SIZES
                .iter()
                .flat_map(|&thread_size| {
                    STACK_PADDINGS.iter().map(move |&padding| {
                        (
                            thread_size - padding - size,
                            SyscallRegisters::KernelStack {
                                thread_size,
                                padding,
                            },
                        )
                    })
                })
                .collect(),
            None => Vec::new(),
        }
    };
    let mut registers = SyscallRegisters::Unverified(if candidates.is_empty() {
        "the kernel's BTF does not describe struct pt_regs".to_string()
    } else {
        "the self-test did not run".to_string()
    });
    let mut test = None;
    let mut tried = Vec::new();
    for (offset, found) in candidates {
        if !task_pt_regs
            && let Err(e) = sites::write_runtime(ebpf, runtime::TRIAL_REGS_OFFSET, offset)
        {
            registers = SyscallRegisters::Unverified(format!("{e:#}"));
            break;
        }
        let t = match sites::self_test(ebpf) {
            Ok(t) => t,
            Err(e) => {
                test = Some(Err(format!("self-test: {e:#}")));
                break;
            }
        };
        let verdict = t.regs_verdict();
        test = Some(Ok(t));
        match verdict {
            // Every other check reads there from now on (until now: no registers).
            Ok(()) if !task_pt_regs => {
                registers = match sites::write_runtime(ebpf, runtime::REGS_OFFSET, offset) {
                    Ok(()) => found,
                    Err(e) => SyscallRegisters::Unverified(format!("{e:#}")),
                };
                break;
            }
            Ok(()) => {
                registers = found;
                break;
            }
            Err(why) => {
                tried.push(match found {
                    SyscallRegisters::KernelStack { .. } => format!("{found}: {why}"),
                    _ => why,
                });
                registers = SyscallRegisters::Unverified(tried.join("; "));
            }
        }
    }
    if !task_pt_regs && let Err(e) = sites::write_runtime(ebpf, runtime::TRIAL_REGS_OFFSET, 0) {
        warn!(error = %format!("{e:#}"), "clearing the self-test's registers offset");
    }
    let test = match test {
        Some(t) => t,
        // No registers to look for: the self-test still runs for the internal checks.
        None => sites::self_test(ebpf).map_err(|e| format!("self-test: {e:#}")),
    };
    let outcome = match sites_error {
        Some(e) => Err(e),
        None => test.and_then(|t| t.verdict(by_caller)),
    };
    let internal = match outcome {
        Ok(()) if by_caller => Internal::CallSite,
        Ok(()) => Internal::Opts,
        Err(why) => {
            if by_caller && let Err(e) = sites::write(ebpf, &CallSites::default()) {
                warn!(error = %format!("{e:#}"), "clearing the call sites");
            }
            Internal::Unverified(why)
        }
    };
    (internal, registers)
}

/// Loads program `prog_name` as fexit on `function` and attaches it. The program reads the
/// return value from the slot after the arguments: any prototype but one of `params`
/// parameters is refused.
fn attach_fexit_to(
    ebpf: &mut Ebpf,
    btf: &Btf,
    kernel_btf: &KernelBtf,
    prog_name: &str,
    function: &str,
    params: usize,
) -> anyhow::Result<()> {
    let found = kernel_btf
        .function_params(function)
        .ok_or_else(|| anyhow!("kernel BTF does not describe {function}()"))?;
    ensure!(
        found.len() == params,
        "{function}() has parameters ({}) where {params} were expected",
        found.join(", ")
    );
    let prog: &mut FExit = program(ebpf, prog_name)?.try_into()?;
    prog.load(function, btf)
        .with_context(|| format!("loading fexit/{function}"))?;
    if let Err(e) = prog.attach() {
        let _ = prog.unload();
        return Err(anyhow!(e).context(format!("attaching fexit/{function}")));
    }
    Ok(())
}

/// See monitor-ebpf/src/lsm.rs. Once attached, capset() is no longer reported at its
/// check (it would be twice where the capability hook sees that check too).
fn attach_capset(ebpf: &mut Ebpf, btf: &Btf, kernel_btf: &KernelBtf) -> anyhow::Result<()> {
    attach_fexit_to(ebpf, btf, kernel_btf, PROG_CAPSET, "security_capset", 5)?;
    update_table(ebpf, &["capset"], |spec| spec & !op::SENSITIVE)
        .context("leaving capset's check to the capability events")
}

/// Rewrites the sensitive-table entries of the syscalls `names` (those this architecture
/// has) with `f`.
fn update_table(ebpf: &mut Ebpf, names: &[&str], f: impl Fn(u32) -> u32) -> anyhow::Result<()> {
    let Some(arch) = Arch::host() else {
        return Ok(());
    };
    let entries = names
        .iter()
        .filter_map(|n| arch.number(n))
        .map(|nr| (nr, 0));
    rewrite_table(ebpf, entries, |spec, _| f(spec))
}

/// Rewrites the sensitive-table entry of each syscall number with `f(entry, bits)`.
fn rewrite_table(
    ebpf: &mut Ebpf,
    entries: impl IntoIterator<Item = (i64, u32)>,
    f: impl Fn(u32, u32) -> u32,
) -> anyhow::Result<()> {
    let mut map: Array<&mut MapData, u32> = Array::try_from(
        ebpf.map_mut(names::SENSITIVE_SYSCALLS)
            .context("SENSITIVE_SYS map missing")?,
    )?;
    for (nr, bits) in entries {
        let index = u32::try_from(nr).context("syscall number")?;
        let spec = map.get(&index, 0).unwrap_or(0);
        map.set(index, f(spec, bits), 0)
            .with_context(|| format!("updating syscall {nr}'s entry"))?;
    }
    Ok(())
}

/// Opens reported by fentry programs, unless the `files` group is off: of other cgroups'
/// processes' `/proc/<pid>/mem` and `environ` by the ptrace check's program (attached with
/// the `processes` group's LSM-hook source), of block devices by `fentry/blkdev_open`, of
/// host files for writing by `fentry/security_file_open`.
fn attach_open_sources(
    ebpf: &mut Ebpf,
    btf: &Btf,
    config: &Config,
    coverage: &[GroupCoverage],
) -> OpenSources {
    if config.operations.mode("files") == Coverage::Off {
        return OpenSources::default();
    }
    let proc_memory = coverage.iter().any(|c| c.lsm.contains(&"ptrace"));
    let block_devices = match attach_fentry(ebpf, btf, PROG_BLKDEV_OPEN, "blkdev_open") {
        Ok(()) => true,
        Err(e) => {
            info!(reason = %format!("{e:#}"), "fentry/blkdev_open not attached: a container's open of a block device is not seen (the posture's host_devices says which it was given)");
            false
        }
    };
    let attached = match config.host_files_fentry {
        true => attach_host_files(ebpf, btf, &config.host_files),
        false => Err(anyhow!("host_files_fentry is false")),
    };
    let host_files = match attached {
        Ok(index) => Some(std::sync::Arc::new(index)),
        Err(e) => {
            info!(reason = %format!("{e:#}"), "fentry/security_file_open not attached: a container's write of a host file through a bind mount is seen only with host_files (fanotify)");
            None
        }
    };
    let opens = OpenSources {
        proc_memory,
        block_devices,
        host_files,
    };
    if (proc_memory || block_devices || opens.host_files.is_some())
        && let Err(e) = mark_opens(ebpf)
    {
        warn!(error = %format!("{e:#}"), "opens of /proc/<pid>/mem, environ, block devices and host files will not be reported");
        return OpenSources::default();
    }
    opens
}

/// Fills `HOST_FILES` with the built-in host directories and `extra`, then attaches
/// `fentry/security_file_open`.
fn attach_host_files(
    ebpf: &mut Ebpf,
    btf: &Btf,
    extra: &[PathBuf],
) -> anyhow::Result<HostFileIndex> {
    let mut paths: Vec<PathBuf> = operations::HOST_FILES.iter().map(PathBuf::from).collect();
    paths.extend(extra.iter().cloned());
    let (index, keys, missing) = HostFileIndex::of(&paths);
    if !missing.is_empty() {
        info!(paths = ?missing, "host files absent here: not watched");
    }
    anyhow::ensure!(!index.is_empty(), "none of the host files exists");
    let mut map: HashMap<&mut MapData, HostFileKey, u32> = HashMap::try_from(
        ebpf.map_mut(names::HOST_FILES)
            .context("HOST_FILES map missing")?,
    )?;
    for (key, kind) in keys {
        map.insert(key, kind, 0)
            .context("filling the HOST_FILES map")?;
    }
    attach_fentry(ebpf, btf, PROG_FILE_OPEN, "security_file_open")?;
    info!(paths = ?index.paths(), "fentry/security_file_open attached: containers' writes of these host files are seen");
    Ok(index)
}

/// Marks the open syscalls [`op::LSM_PROC`], with their path read.
fn mark_opens(ebpf: &mut Ebpf) -> anyhow::Result<()> {
    let Some(arch) = Arch::host() else {
        return Ok(());
    };
    rewrite_table(ebpf, operations::proc_open_bits(arch), |spec, bits| {
        spec | bits
    })
}

/// Loads program `prog_name` as fentry on kernel function `function` and attaches it;
/// unloads it again if it does not attach.
fn attach_fentry(
    ebpf: &mut Ebpf,
    btf: &Btf,
    prog_name: &str,
    function: &str,
) -> anyhow::Result<()> {
    let prog: &mut FEntry = program(ebpf, prog_name)?.try_into()?;
    prog.load(function, btf)
        .with_context(|| format!("loading fentry/{function}"))?;
    if let Err(e) = prog.attach() {
        let _ = prog.unload();
        return Err(anyhow!(e).context(format!("attaching fentry/{function}")));
    }
    Ok(())
}

/// Loads and attaches an LSM-hook source's fentry programs; then marks the syscalls it
/// covers [`op::LSM`]. All or nothing: a program that fails unloads the others.
fn attach_lsm_source(
    ebpf: &mut Ebpf,
    btf: &Btf,
    source: &operations::LsmSource,
) -> anyhow::Result<Vec<&'static str>> {
    let mut result = Ok(());
    for (prog_name, function) in source.programs {
        result = attach_fentry(ebpf, btf, prog_name, function);
        if result.is_err() {
            break;
        }
    }
    if let Err(e) = result {
        for (prog_name, _) in source.programs {
            let prog: Option<&mut FEntry> = program(ebpf, prog_name)
                .ok()
                .and_then(|p| p.try_into().ok());
            // Unloading one that never loaded only fails.
            let _ = prog.map(FEntry::unload);
        }
        return Err(e);
    }
    update_table(ebpf, source.covers, |spec| spec | op::LSM)?;
    let arch = Arch::host();
    Ok(source
        .covers
        .iter()
        .copied()
        .filter(|n| arch.is_some_and(|a| a.number(n).is_some()))
        .collect())
}

fn attach_kprobes(ebpf: &mut Ebpf) -> anyhow::Result<()> {
    // The return probe goes first so that no entry is saved without a consumer.
    let mut attach = |name: &str| -> anyhow::Result<()> {
        let prog: &mut KProbe = program(ebpf, name)?.try_into()?;
        prog.load().with_context(|| format!("loading {name}"))?;
        if let Err(e) = prog.attach(KERNEL_FUNCTION, 0) {
            let _ = prog.unload();
            return Err(anyhow!(e).context(format!(
                "attaching {name} to {KERNEL_FUNCTION} (kernel without CONFIG_KPROBES?)"
            )));
        }
        Ok(())
    };
    attach(PROG_KRETPROBE)?;
    attach(PROG_KPROBE).inspect_err(|_| {
        let kretprobe: Option<&mut KProbe> = program(ebpf, PROG_KRETPROBE)
            .ok()
            .and_then(|p| p.try_into().ok());
        if let Some(p) = kretprobe {
            let _ = p.unload();
        }
    })
}

fn program<'a>(ebpf: &'a mut Ebpf, name: &str) -> anyhow::Result<&'a mut aya::programs::Program> {
    ebpf.program_mut(name)
        .ok_or_else(|| anyhow!("program {name} missing from the eBPF object"))
}

/// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK.
fn raise_memlock_limit() {
    let rlim = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit with a valid struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &rlim) } != 0 {
        let err = std::io::Error::last_os_error();
        tracing::debug!(%err, "could not raise RLIMIT_MEMLOCK (only matters before Linux 5.11)");
    }
}

/// What `privmon probe` reports: the kernel, and how each probe family attached on it.
pub struct ProbeReport {
    kernel: String,
    /// The active LSMs (`/sys/kernel/security/lsm`), when securityfs is mounted.
    lsm: Option<String>,
    outcome: Result<ProbeOutcome, String>,
}

struct ProbeOutcome {
    hook: Hook,
    skipped: Vec<(Hook, String)>,
    families: Vec<(String, String)>,
    failures: Vec<(&'static str, String)>,
    coverage: Vec<GroupCoverage>,
    /// What the start-up self-test could not verify, with why.
    unverified: Vec<(&'static str, String)>,
    /// Where registers are read, in full (the stack size found).
    registers: String,
    /// Enforcement actions this kernel cannot take, with why.
    unsupported: Vec<(&'static str, String)>,
}

impl ProbeReport {
    /// Summarises a load attempt; the probes are detached when this returns.
    pub fn new(loaded: anyhow::Result<Probes>) -> ProbeReport {
        let read = |path: &str| {
            std::fs::read_to_string(path)
                .ok()
                .map(|s| s.trim().to_string())
        };
        ProbeReport {
            kernel: read("/proc/sys/kernel/osrelease").unwrap_or_default(),
            lsm: read("/sys/kernel/security/lsm"),
            outcome: loaded
                .map(|p| ProbeOutcome {
                    hook: p.hook,
                    families: p.families(),
                    registers: p.registers.to_string(),
                    unsupported: p
                        .enforcement
                        .deny_capability
                        .as_ref()
                        .err()
                        .map(|why| ("enforcement/deny_capability", why.clone()))
                        .into_iter()
                        .collect(),
                    unverified: [
                        match &p.internal {
                            Internal::Unverified(why) => Some(("internal_checks", why.clone())),
                            _ => None,
                        },
                        match &p.registers {
                            SyscallRegisters::Unverified(why) => {
                                Some(("syscall_registers", why.clone()))
                            }
                            _ => None,
                        },
                    ]
                    .into_iter()
                    .flatten()
                    .collect(),
                    skipped: p.skipped,
                    failures: p.failures,
                    coverage: p.coverage,
                })
                .map_err(|e| format!("{e:#}")),
        }
    }

    /// Whether a capability hook attached.
    pub fn attached(&self) -> bool {
        self.outcome.is_ok()
    }

    pub fn to_json(&self) -> serde_json::Value {
        let mut doc = serde_json::json!({ "kernel": self.kernel, "lsm": self.lsm });
        match &self.outcome {
            Ok(o) => {
                doc["capability_hook"] = o.hook.name().into();
                doc["skipped"] = o
                    .skipped
                    .iter()
                    .map(|(h, why)| serde_json::json!({ "hook": h.name(), "reason": why }))
                    .collect();
                doc["families"] = o
                    .families
                    .iter()
                    .map(|(f, a)| (f.clone(), serde_json::Value::from(a.as_str())))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
                doc["failures"] = o
                    .failures
                    .iter()
                    .map(|(f, e)| serde_json::json!({ "family": f, "error": e }))
                    .collect();
                doc["registers"] = o.registers.as_str().into();
                doc["unsupported"] = o
                    .unsupported
                    .iter()
                    .map(|(f, why)| serde_json::json!({ "family": f, "reason": why }))
                    .collect();
                doc["unverified"] = o
                    .unverified
                    .iter()
                    .map(|(f, why)| serde_json::json!({ "family": f, "reason": why }))
                    .collect();
                doc["operations"] = o
                    .coverage
                    .iter()
                    .map(|c| {
                        let failed: serde_json::Map<String, serde_json::Value> = c
                            .failed
                            .iter()
                            .map(|(n, e)| (n.to_string(), e.as_str().into()))
                            .collect();
                        (
                            c.group.to_string(),
                            serde_json::json!({
                                "mode": c.mode.name(),
                                "attach": c.attach(),
                                "fallback_hooked": c.hooked,
                                "fallback_failed": failed,
                                "uncovered": c.uncovered,
                            }),
                        )
                    })
                    .collect::<serde_json::Map<_, _>>()
                    .into();
            }
            Err(e) => doc["error"] = e.as_str().into(),
        }
        doc
    }
}

impl fmt::Display for ProbeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "kernel      {}", self.kernel)?;
        writeln!(
            f,
            "lsm         {}",
            self.lsm.as_deref().unwrap_or("(securityfs not mounted)")
        )?;
        let o = match &self.outcome {
            Ok(o) => o,
            Err(e) => return writeln!(f, "error       {e}"),
        };
        for (hook, why) in &o.skipped {
            writeln!(f, "skipped     {}: {why}", hook.name())?;
        }
        let width = o.families.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        for (family, attach) in &o.families {
            writeln!(f, "{family:<width$}  {attach}")?;
        }
        for (family, error) in &o.failures {
            writeln!(f, "failed      {family}: {error}")?;
        }
        for (family, why) in &o.unverified {
            writeln!(f, "unverified  {family}: {why}")?;
        }
        for (family, why) in &o.unsupported {
            writeln!(f, "unsupported {family}: {why}")?;
        }
        if matches!(o.registers.split_whitespace().next(), Some("kernel_stack")) {
            writeln!(f, "registers   {}", o.registers)?;
        }
        for c in &o.coverage {
            if !c.hooked.is_empty() {
                writeln!(f, "fallback    {}: {}", c.group, c.hooked.join(", "))?;
            }
            for (name, error) in &c.failed {
                writeln!(f, "failed      fallback {}/{name}: {error}", c.group)?;
            }
            if !c.uncovered.is_empty() {
                writeln!(
                    f,
                    "uncovered   {} ({}): {}",
                    c.group,
                    c.mode.name(),
                    c.uncovered.join(", ")
                )?;
            }
        }
        Ok(())
    }
}
