//! `privmon-bench`: the measurements behind `cargo xtask bench` (see docs/benchmarks.md).
//! Needs root: it runs the daemon, bpftrace and runc containers.
//!
//! 1. Kernel overhead: getppid, setuid(0) and mount/umount loops in a runc container, with
//!    no monitor, privmon (defaults), privmon with every fallback on (`--operations all=on`)
//!    and the bpftrace peer, interleaved round by round; ratios are taken within a round.
//! 2. User-space throughput: the criterion benchmark's result (read from its output), a
//!    burst of setuid(0) checks from one container as fast as it makes them, and a
//!    fork-and-check storm from several containers, every check reported into a file sink
//!    (what reaches the file counts, end to end).
//! 3. Memory: RSS idle, with N tracked containers (cgroups with a process each), and under
//!    the storm.
//! 4. Start-up: launch to `/readyz` answering 200.
//! 5. Event size: mean JSON bytes per event and per alert on a mix of triggers.

use std::{
    collections::BTreeMap,
    fs,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail, ensure};
use privmon_tests::{
    Container, ContainerSpec, Daemon, cgroup_v2_root, http_get, privmon_bin, require_root, short_id,
};
use serde_json::{Value, json};

const CAP_SETUID: u32 = 7;
const VERDICT_ALLOWED: u32 = 0;
const BPFTRACE_PEER: &str =
    "tracepoint:capability:cap_capable { @[cgroup, args->cap, args->ret] = count(); }";
/// The floor: an empty program on the same tracepoint (what attaching alone costs).
const BPFTRACE_EMPTY: &str = "tracepoint:capability:cap_capable { }";

/// How much of everything to do.
struct Plan {
    rounds: usize,
    loops: [(&'static str, u64); 3],
    storm_secs: u64,
    /// Checks per second over all storm containers.
    storm_rate: u64,
    storm_containers: usize,
    /// Checks of the burst.
    burst_checks: u64,
    tracked_containers: usize,
    startups: usize,
    /// Short-lived containers of the churn, and the seconds they are spread over.
    churn_containers: usize,
    churn_secs: u64,
}

const FULL: Plan = Plan {
    rounds: 5,
    loops: [
        ("getppid", 10_000_000),
        ("setuid", 500_000),
        ("mount", 5_000),
    ],
    storm_secs: 60,
    storm_rate: 100_000,
    storm_containers: 4,
    burst_checks: 300_000,
    tracked_containers: 500,
    startups: 5,
    churn_containers: 1000,
    churn_secs: 300,
};

const SMOKE: Plan = Plan {
    rounds: 1,
    loops: [("getppid", 100_000), ("setuid", 20_000), ("mount", 200)],
    storm_secs: 3,
    storm_rate: 10_000,
    storm_containers: 2,
    burst_checks: 5_000,
    tracked_containers: 20,
    startups: 1,
    churn_containers: 5,
    churn_secs: 5,
};

fn main() {
    if let Err(e) = run() {
        eprintln!("privmon-bench: {e:#}");
        std::process::exit(1);
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: privmon-bench [--smoke] [--rounds N] [--criterion DIR] [--only PART,...] --out DIR\n\
         parts: overhead, cost, startup, size, memory, churn, burst, storm (--only prints the JSON of\n\
         those parts and writes nothing; PRIVMON_BENCH_DAEMON_ARGS adds daemon flags to the\n\
         burst and the storm;\n         PRIVMON_BENCH_SIZE_LINES=FILE keeps the size run's lines;\n         PRIVMON_BENCH_COST_CONFIGS=privmon,skip-regs,... runs only those configurations of cost)"
    );
    std::process::exit(2);
}

fn run() -> anyhow::Result<()> {
    require_root();
    let mut smoke = false;
    let mut rounds = None;
    let mut out_dir = None;
    let mut criterion = None;
    let mut only: Option<Vec<String>> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--smoke" => smoke = true,
            "--rounds" => rounds = args.next().and_then(|v| v.parse().ok()),
            "--out" => out_dir = args.next().map(PathBuf::from),
            "--criterion" => criterion = args.next().map(PathBuf::from),
            "--only" => {
                only = args
                    .next()
                    .map(|v| v.split(',').map(str::to_string).collect())
            }
            _ => usage(),
        }
    }
    let Some(out_dir) = out_dir else { usage() };
    let mut plan = if smoke { SMOKE } else { FULL };
    if let Some(r) = rounds {
        plan.rounds = r;
    }
    if let Some(parts) = only {
        let mut out = serde_json::Map::new();
        for part in parts {
            let v = match part.as_str() {
                "overhead" => overhead(&plan)?,
                "cost" => program_cost(&plan)?,
                "startup" => startup(&plan)?,
                "size" => event_sizes()?,
                "memory" => memory(&plan)?,
                "churn" => churn(&plan)?,
                "burst" => burst(&plan)?,
                "storm" => storm(&plan)?,
                _ => usage(),
            };
            out.insert(part, v);
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    fs::create_dir_all(&out_dir)?;

    let machine = machine()?;
    eprintln!("== kernel overhead ({} rounds)", plan.rounds);
    let overhead = overhead(&plan)?;
    eprintln!("== program cost per check");
    let per_check = program_cost(&plan)?;
    eprintln!("== start-up");
    let startup = startup(&plan)?;
    eprintln!("== event size");
    let sizes = event_sizes()?;
    eprintln!("== memory with tracked containers");
    let memory = memory(&plan)?;
    eprintln!(
        "== churn ({} containers over {} s)",
        plan.churn_containers, plan.churn_secs
    );
    let churn = churn(&plan)?;
    eprintln!("== burst");
    let burst = burst(&plan)?;
    eprintln!("== storm");
    let storm = storm(&plan)?;
    let pipeline = criterion.as_deref().map(pipeline).transpose()?;

    let result = json!({
        "machine": machine,
        "smoke": smoke,
        "overhead": overhead,
        "program_ns_per_check": per_check,
        "pipeline": pipeline,
        "burst": burst,
        "storm": storm,
        "memory": memory,
        "churn": churn,
        "startup": startup,
        "event_size": sizes,
    });
    let table = markdown(&result);
    fs::write(
        out_dir.join("benchmarks.json"),
        serde_json::to_string_pretty(&result)? + "\n",
    )?;
    fs::write(out_dir.join("benchmarks.md"), &table)?;
    println!("{table}");
    Ok(())
}

/// What the figures were measured on.
fn machine() -> anyhow::Result<Value> {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo")?;
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown")
        .trim()
        .to_string();
    let cpus = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let mem_kib: u64 = fs::read_to_string("/proc/meminfo")?
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")?
        .trim()
        .to_string();
    let bin = privmon_bin();
    let version = command_output(Command::new(&bin).arg("--version"))?;
    let date = command_output(Command::new("date").args(["-u", "+%Y-%m-%dT%H:%M:%SZ"]))?;
    Ok(json!({
        "cpu": cpu, "cpus": cpus, "memory_gib": mem_kib as f64 / 1048576.0,
        "kernel": kernel, "privmon": version.trim(), "binary": bin.display().to_string(),
        "date": date.trim(),
    }))
}

fn command_output(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    ensure!(out.status.success(), "{cmd:?}: {}", out.status);
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A monitor running during a measurement.
enum Monitor {
    None,
    Privmon(Daemon),
    Bpftrace(Child),
}

impl Monitor {
    fn start(config: &str) -> anyhow::Result<Monitor> {
        Ok(match config {
            "none" => Monitor::None,
            "privmon" => Monitor::Privmon(Daemon::start(&[])?),
            "privmon-fallbacks" => Monitor::Privmon(Daemon::start(&["--operations", "all=on"])?),
            // The read paths of other kernels, on this one (docs/install.md's per-kernel
            // costs): bpf_probe_read_kernel for every field (the tracefs tracepoint reads
            // as kprobes and 5.10's fexit do), and the registers found on the kernel stack
            // (before 5.15).
            "privmon-probe-reads" => Monitor::Privmon(Daemon::start(&["--hook", "tracepoint"])?),
            "privmon-stack-regs" => Monitor::Privmon(Daemon::start_with_env(
                &[("PRIVMON_TEST_REGS_FROM_STACK", "1")],
                &[],
            )?),
            "privmon-probe-reads-stack-regs" => Monitor::Privmon(Daemon::start_with_env(
                &[("PRIVMON_TEST_REGS_FROM_STACK", "1")],
                &["--hook", "tracepoint"],
            )?),
            // Enforcement on, nothing armed: the lookup every check pays (the filter
            // cache's enforcement fields).
            "privmon-enforce" => Monitor::Privmon(Daemon::start(&["--enforcement", "on"])?),
            // Armed in every container for a capability the loop does not use: the lookup
            // and the test of the check's capability against the armed set.
            "privmon-enforce-armed" => {
                let rules = std::env::temp_dir().join("privmon-bench-enforce.yaml");
                fs::write(
                    &rules,
                    "rules:\n  - id: bench_no_reboot\n    description: bench\n    severity: high\n    \
                     condition: {field: capability.name, eq: CAP_SYS_BOOT}\n    summary: bench\n    \
                     action: kill\n",
                )?;
                Monitor::Privmon(Daemon::start(&[
                    "--enforcement",
                    "on",
                    "--rules",
                    rules.to_str().context("temp dir path")?,
                ])?)
            }
            "bpftrace" | "bpftrace-empty" => {
                let program = if config == "bpftrace" {
                    BPFTRACE_PEER
                } else {
                    BPFTRACE_EMPTY
                };
                let mut child = Command::new("bpftrace")
                    .args(["-e", program])
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .context("starting bpftrace (Debian's bpftrace)")?;
                let (tx, rx) = mpsc::channel();
                let stdout = child.stdout.take().expect("stdout is piped");
                std::thread::spawn(move || {
                    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                });
                // "Attaching 1 probe..." comes once the program is loaded and attached.
                let attached = rx
                    .recv_timeout(Duration::from_secs(60))
                    .context("bpftrace printed nothing")?;
                ensure!(attached.contains("Attaching"), "bpftrace: {attached}");
                Monitor::Bpftrace(child)
            }
            other => bail!("unknown configuration {other}"),
        })
    }

    fn stop(self) -> anyhow::Result<()> {
        match self {
            Monitor::None => {}
            Monitor::Privmon(d) => {
                let status = d.stop()?;
                ensure!(status.success(), "privmon exited with {status}");
            }
            Monitor::Bpftrace(mut child) => {
                // bpftrace 0.17 can miss a SIGINT that comes right after it said
                // "Attaching" (seen once in CI: it ran on with the signal handled and never
                // exited). Ask again every 2 s; after 10 s, kill it.
                for _ in 0..5 {
                    // SAFETY: signalling our own child.
                    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
                    for _ in 0..20 {
                        if child.try_wait()?.is_some() {
                            return Ok(());
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
                // Its counts are not used (bpf_stats measures it): killing it loses nothing.
                eprintln!("bpftrace did not stop on SIGINT within 10 s: killed");
                child.kill()?;
                child.wait()?;
            }
        }
        Ok(())
    }
}

const CONFIGS: [&str; 5] = [
    "none",
    "privmon",
    "privmon-fallbacks",
    "bpftrace",
    "bpftrace-empty",
];

/// Runs `trigger bench OP N` in a fresh container; returns nanoseconds per call (of the
/// fastest of its five repetitions).
fn loop_in_container(op: &str, n: u64) -> anyhow::Result<f64> {
    let n = n.to_string();
    let c = Container::create(&ContainerSpec {
        args: &["/bin/trigger", "bench", op, &n],
        capabilities: &["CAP_SETUID", "CAP_SYS_ADMIN"],
        ..Default::default()
    })?;
    let out = c.run_to_completion()?;
    let line = out
        .lines()
        .find(|l| l.starts_with("bench "))
        .with_context(|| format!("no result from the loop: {out}"))?;
    ensure!(
        line.contains(&format!("calls={n} ok={n} ")),
        "calls failed: {line}"
    );
    line.split(" ns=")
        .nth(1)
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("unexpected loop output {line:?}"))
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn spread(v: &[f64]) -> (f64, f64) {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

/// Loop costs per configuration, interleaved: each round runs every configuration once.
fn overhead(plan: &Plan) -> anyhow::Result<Value> {
    // (config, op) -> ns per call, one per round; ratios are to the same round's baseline.
    let mut ns: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
    for round in 1..=plan.rounds {
        for config in CONFIGS {
            let monitor = Monitor::start(config)?;
            for (op, n) in plan.loops {
                let v = loop_in_container(op, n)?;
                eprintln!("round {round} {config:12} {op:8} {v:10.1} ns/call");
                ns.entry((config, op)).or_default().push(v);
            }
            monitor.stop()?;
        }
    }
    let mut out = serde_json::Map::new();
    for (op, n) in plan.loops {
        let base = &ns[&("none", op)];
        let mut per_config = serde_json::Map::new();
        for config in CONFIGS {
            let v = &ns[&(config, op)];
            let ratios: Vec<f64> = v.iter().zip(base).map(|(x, b)| x / b).collect();
            let (lo, hi) = spread(&ratios);
            per_config.insert(
                config.into(),
                json!({
                    "ns_per_call_median": median(v),
                    "ns_per_call": v,
                    "ratio_median": median(&ratios),
                    "ratio_min": lo,
                    "ratio_max": hi,
                }),
            );
        }
        out.insert(op.into(), json!({"calls": n, "configs": per_config}));
    }
    Ok(Value::Object(out))
}

/// Total (run time, runs) of the loaded BPF programs on `cap_capable` (privmon's and
/// bpftrace's are both named after it).
fn cap_capable_runs() -> (u128, u64) {
    aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .filter(|p| {
            p.name_as_str()
                .is_some_and(|n| n.starts_with("cap_capable"))
        })
        .fold((0, 0), |(t, n), p| {
            (t + p.run_time().as_nanos(), n + p.run_count())
        })
}

/// What each step of the capability probe's path for a repeated check does, for the
/// steps table (`PRIVMON_BENCH_SKIP` leaves them out; monitor_common::bench_skip).
const STEPS: [(&str, &str); 9] = [
    (
        "filter",
        "cgroup filter: is the cgroup a container's (per-CPU cache, host-cgroup map on a miss)",
    ),
    (
        "selftest",
        "is this the start-up self-test's process (array lookup)",
    ),
    (
        "creds",
        "overridden credentials: the task's cred and real_cred (two loads)",
    ),
    (
        "regs",
        "the syscall's number and arguments (bpf_task_pt_regs, loads)",
    ),
    ("comm", "the task's comm (two loads)"),
    ("clock", "the window's clock (bpf_jiffies64)"),
    (
        "classify",
        "is the syscall a sensitive operation (table lookup; set*id: ids against arguments)",
    ),
    (
        "stats",
        "the checks and deduplicated statistics (two per-CPU increments)",
    ),
    (
        "first_seen",
        "first-seen cache: hash, compare the tuple, count in the slot",
    ),
];

/// privmon's read paths for other kernels, measured on this one: (configuration, which
/// kernels take it).
const READ_PATHS: [(&str, &str); 3] = [
    (
        "privmon-probe-reads",
        "`bpf_probe_read_kernel` for each field (kprobe hooks: kernels without trampolines)",
    ),
    (
        "privmon-stack-regs",
        "plain loads, registers found on the kernel stack (5.11 to 5.14 with trampolines)",
    ),
    (
        "privmon-probe-reads-stack-regs",
        "both (Linux 5.10: `fexit` without `bpf_get_current_task_btf`)",
    ),
];

/// Enforcement's cost on a workload it does not act on: (configuration, what is armed).
const ENFORCE_PATHS: [(&str, &str); 2] = [
    ("privmon-enforce", "`enforcement: on`, nothing armed"),
    (
        "privmon-enforce-armed",
        "`enforcement: on`, a kill rule on CAP_SYS_BOOT armed in the loop's container",
    ),
];

/// The kernel's own accounting of each monitor's program (`kernel.bpf_stats_enabled`):
/// nanoseconds per run, on the setuid(0) loop in a container, `plan.rounds` rounds of every
/// configuration: the monitors, privmon with each step of its probe left out (the steps
/// table: a step's cost is the paired difference with the same round's full run), and
/// privmon with all of them left out (what is left: the program's entry, the self and
/// cgroup id helpers). Separate from the loop timings because the accounting itself costs
/// a little.
fn program_cost(plan: &Plan) -> anyhow::Result<Value> {
    const STATS: &str = "/proc/sys/kernel/bpf_stats_enabled";
    let before = fs::read_to_string(STATS)?;
    fs::write(STATS, "1")?;
    let all_steps: Vec<&str> = STEPS.iter().map(|(n, _)| *n).collect();
    let all_steps = all_steps.join(",");
    let mut configs: Vec<(String, Option<String>)> =
        ["privmon", "privmon-fallbacks", "bpftrace", "bpftrace-empty"]
            .iter()
            .chain(READ_PATHS.iter().map(|(c, _)| c))
            .chain(ENFORCE_PATHS.iter().map(|(c, _)| c))
            .map(|c| (c.to_string(), None))
            .collect();
    for (step, _) in STEPS {
        configs.push((format!("skip-{step}"), Some(step.to_string())));
    }
    configs.push(("skip-all".to_string(), Some(all_steps)));
    // A developer's quicker run: only the configurations named.
    if let Ok(only) = std::env::var("PRIVMON_BENCH_COST_CONFIGS") {
        let only: Vec<&str> = only.split(',').collect();
        configs.retain(|(c, _)| only.contains(&c.as_str()));
        ensure!(
            !configs.is_empty(),
            "PRIVMON_BENCH_COST_CONFIGS names no configuration"
        );
    }
    let result = (|| -> anyhow::Result<Value> {
        let mut ns: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        let mut runs = BTreeMap::new();
        for round in 0..plan.rounds {
            for (config, skip) in &configs {
                let monitor = match skip {
                    None => Monitor::start(config)?,
                    Some(steps) => Monitor::Privmon(Daemon::start_wrapped(
                        &["env", &format!("PRIVMON_BENCH_SKIP={steps}")],
                        &[],
                    )?),
                };
                let (t0, n0) = cap_capable_runs();
                loop_in_container("setuid", plan.loops[1].1)?;
                let (t1, n1) = cap_capable_runs();
                monitor.stop()?;
                let n = n1 - n0;
                ensure!(n > 0, "{config}: no program ran on cap_capable");
                let per_run = (t1 - t0) as f64 / n as f64;
                eprintln!("round {round} {config:18} {per_run:6.0} ns per run ({n} runs)");
                ns.entry(config.clone()).or_default().push(per_run);
                runs.insert(config.clone(), n);
            }
        }
        let mut out = serde_json::Map::new();
        for (config, v) in &ns {
            let (lo, hi) = spread(v);
            out.insert(
                config.clone(),
                json!({"ns_per_run": median(v), "ns_min": lo, "ns_max": hi, "ns_per_round": v, "runs": runs[config]}),
            );
        }
        let mut steps = Vec::new();
        for (step, what) in STEPS {
            let (Some(full), Some(without)) = (ns.get("privmon"), ns.get(&format!("skip-{step}")))
            else {
                continue;
            };
            let saved: Vec<f64> = full.iter().zip(without).map(|(f, w)| f - w).collect();
            let (lo, hi) = spread(&saved);
            steps.push(json!({
                "step": step,
                "what": what,
                "ns_without": median(without),
                "saved_median": median(&saved),
                "saved_min": lo,
                "saved_max": hi,
            }));
        }
        out.insert("steps".into(), Value::Array(steps));
        Ok(Value::Object(out))
    })();
    fs::write(STATS, before.trim())?;
    result
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .context("no VmRSS")
}

/// Resident kB of the daemon's BPF map mappings: the ring buffer's pages, which the kernel
/// allocates whole and maps twice (its data area follows itself, for records that wrap),
/// so that VmRSS shows twice the ring's size however little of it is used.
fn ring_kib(pid: u32) -> anyhow::Result<u64> {
    let smaps = fs::read_to_string(format!("/proc/{pid}/smaps"))?;
    let mut in_map = false;
    let mut kib = 0;
    for line in smaps.lines() {
        if line
            .split_whitespace()
            .next()
            .is_some_and(|f| f.contains('-') && !f.ends_with(':'))
        {
            in_map = line.ends_with("anon_inode:bpf-map");
        } else if in_map && let Some(rss) = line.strip_prefix("Rss:") {
            kib += rss
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Ok(kib)
}

fn metric_sum(daemon: &Daemon, name: &str, labels: &[(&str, &str)]) -> anyhow::Result<f64> {
    Ok(daemon.metrics()?.values(name, labels).iter().sum())
}

/// Launch to `/readyz` 200, with the defaults (stdout off: nothing to read it here).
fn startup(plan: &Plan) -> anyhow::Result<Value> {
    let mut ms = Vec::new();
    for _ in 0..plan.startups {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let listen = format!("127.0.0.1:{port}");
        let t0 = Instant::now();
        let mut child = Command::new(privmon_bin())
            .args([
                "run",
                "--no-state",
                "--stdout",
                "false",
                "--listen",
                &listen,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let url = format!("http://{listen}/readyz");
        let ready = loop {
            if let Ok((200, _)) = http_get(&url) {
                break t0.elapsed();
            }
            if let Some(status) = child.try_wait()? {
                bail!("privmon exited during start-up: {status}");
            }
            ensure!(t0.elapsed() < Duration::from_secs(60), "not ready in 60 s");
            std::thread::sleep(Duration::from_millis(2));
        };
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        child.wait()?;
        ms.push(ready.as_secs_f64() * 1000.0);
        eprintln!("ready after {:.0} ms", ready.as_secs_f64() * 1000.0);
    }
    let (lo, hi) = spread(&ms);
    Ok(json!({"ms_median": median(&ms), "ms_min": lo, "ms_max": hi, "runs": ms}))
}

/// Mean JSON line size of events and alerts, on a mix of triggers (allowed and refused).
fn event_sizes() -> anyhow::Result<Value> {
    let daemon = Daemon::start(&[])?;
    let runs: [(&[&str], &[&str]); 8] = [
        (&["/bin/trigger", "nice"], &["CAP_SYS_NICE"]),
        (&["/bin/trigger", "nice"], &[]),
        (&["/bin/trigger", "mount"], &["CAP_SYS_ADMIN"]),
        (&["/bin/trigger", "mount"], &[]),
        (&["/bin/trigger", "raw-socket"], &["CAP_NET_RAW"]),
        (&["/bin/trigger", "sethostname"], &["CAP_SYS_ADMIN"]),
        (&["/bin/trigger", "chroot"], &["CAP_SYS_CHROOT"]),
        (&["/bin/trigger", "setuid-loop", "10"], &["CAP_SETUID"]),
    ];
    let mut ids = Vec::new();
    for (args, caps) in runs {
        let c = Container::create(&ContainerSpec {
            args,
            capabilities: caps,
            ..Default::default()
        })?;
        c.run_to_completion()?;
        ids.push(c.id.clone());
    }
    // Every container's stop event is the last thing written about it.
    for id in &ids {
        daemon
            .wait_for_event(|e| {
                e["kind"] == "container_stop" && e["container"]["id"] == short_id(id)
            })
            .with_context(|| format!("no container_stop for {id}"))?;
    }
    let events = daemon.events();
    daemon.stop()?;
    // To see where the bytes are: the lines themselves.
    if let Some(path) = std::env::var_os("PRIVMON_BENCH_SIZE_LINES") {
        let lines: Vec<String> = events.iter().map(|e| e.to_string()).collect();
        std::fs::write(&path, lines.join("\n") + "\n")
            .with_context(|| format!("writing {}", Path::new(&path).display()))?;
    }
    // (alert, made by the container runtime's own setup) -> line sizes.
    let mut sizes: BTreeMap<(bool, bool), Vec<usize>> = BTreeMap::new();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut kind_bytes: BTreeMap<String, usize> = BTreeMap::new();
    // Where the bytes go: serialized size of each top-level field, summed over events.
    let mut fields: BTreeMap<String, usize> = BTreeMap::new();
    for e in &events {
        for (k, v) in e.as_object().into_iter().flatten() {
            *fields.entry(k.clone()).or_default() += k.len() + 4 + serde_json::to_string(v)?.len();
        }
        let alert = e["kind"] == "alert";
        let runtime = e["process"]["comm"]
            .as_str()
            .is_some_and(|c| c.starts_with("runc"));
        // The line as written: compact JSON plus the newline.
        sizes
            .entry((alert, runtime))
            .or_default()
            .push(serde_json::to_string(e)?.len() + 1);
        let kind = e["kind"].as_str().unwrap_or("?").to_string();
        *kind_bytes.entry(kind.clone()).or_default() += serde_json::to_string(e)?.len() + 1;
        *kinds.entry(kind).or_default() += 1;
    }
    let stats = |alert: bool, runtime: &[bool]| {
        let v: Vec<usize> = runtime
            .iter()
            .flat_map(|r| sizes.get(&(alert, *r)).cloned().unwrap_or_default())
            .collect();
        let mean = v.iter().sum::<usize>() as f64 / v.len().max(1) as f64;
        json!({"count": v.len(), "mean_bytes": mean, "max_bytes": v.iter().max()})
    };
    Ok(json!({
        "events": stats(false, &[false, true]),
        // Without runc's own container setup (its processes hold every capability).
        "workload_events": stats(false, &[false]),
        "alerts": stats(true, &[false, true]),
        "mean_bytes_by_kind": kind_bytes
            .iter()
            .map(|(k, n)| (k.clone(), json!(*n as f64 / kinds[k].max(1) as f64)))
            .collect::<serde_json::Map<_, _>>(),
        "kinds": kinds,
        "mean_bytes_by_field": fields
            .iter()
            .map(|(k, n)| (k.clone(), json!(*n as f64 / events.len().max(1) as f64)))
            .collect::<serde_json::Map<_, _>>(),
    }))
}

/// Cgroups shaped like Kubernetes containers, each with a sleeping process.
struct FakeContainers {
    dirs: Vec<PathBuf>,
    pods: Vec<PathBuf>,
    children: Vec<Child>,
}

impl FakeContainers {
    fn create(n: usize) -> anyhow::Result<FakeContainers> {
        let root = cgroup_v2_root();
        let mut this = FakeContainers {
            dirs: Vec::new(),
            pods: Vec::new(),
            children: Vec::new(),
        };
        let run = std::process::id();
        for i in 0..n {
            let pod = root.join(format!(
                "kubepods/besteffort/pod{run:08x}-0000-4000-8000-{i:012x}"
            ));
            let dir = pod.join(format!("{run:08x}{i:056x}"));
            fs::create_dir_all(&dir).with_context(|| format!("mkdir {}", dir.display()))?;
            this.pods.push(pod);
            this.dirs.push(dir.clone());
            let child = Command::new("sleep")
                .arg("3600")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?;
            fs::write(dir.join("cgroup.procs"), child.id().to_string())?;
            this.children.push(child);
        }
        Ok(this)
    }
}

impl Drop for FakeContainers {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        // A cgroup can be removed once its processes are gone (reaped above).
        for d in self.dirs.iter().chain(&self.pods) {
            for _ in 0..50 {
                if fs::remove_dir(d).is_ok() || !d.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let root = cgroup_v2_root();
        let _ = fs::remove_dir(root.join("kubepods/besteffort"));
        let _ = fs::remove_dir(root.join("kubepods"));
    }
}

/// RSS idle, then with `tracked_containers` containers tracked (steady: sampled twice).
fn memory(plan: &Plan) -> anyhow::Result<Value> {
    let daemon = Daemon::start(&["--stdout", "false"])?;
    std::thread::sleep(Duration::from_secs(2));
    let idle = rss_kib(daemon.pid())?;
    let tracked_before = metric_sum(&daemon, "privmon_containers_tracked", &[])?;
    let fake = FakeContainers::create(plan.tracked_containers)?;
    let want = tracked_before + plan.tracked_containers as f64;
    let t0 = Instant::now();
    while metric_sum(&daemon, "privmon_containers_tracked", &[])? < want {
        ensure!(
            t0.elapsed() < Duration::from_secs(120),
            "the daemon did not track the {} containers",
            plan.tracked_containers
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Announced (start events, metadata given up on) and labelled: let it settle.
    std::thread::sleep(Duration::from_secs(5));
    let tracked = rss_kib(daemon.pid())?;
    std::thread::sleep(Duration::from_secs(5));
    let tracked_later = rss_kib(daemon.pid())?;
    let ring = ring_kib(daemon.pid())?;
    let count = metric_sum(&daemon, "privmon_containers_tracked", &[])?;
    drop(fake);
    daemon.stop()?;
    Ok(json!({
        "ring_buffer_mapping_kib": ring,
        "idle_kib": idle,
        "tracked_containers": count,
        "tracked_kib": tracked,
        "tracked_kib_5s_later": tracked_later,
    }))
}

/// What the daemon holds for containers and processes: the gauges of tracked containers
/// and processes, the entries of the kernel's per-(cgroup, capability, verdict) counters
/// and of its first-seen filter, and VmRSS.
fn holdings(d: &Daemon) -> anyhow::Result<Value> {
    let m = d.metrics()?;
    let sum = |name: &str| m.values(name, &[]).iter().sum::<f64>();
    Ok(json!({
        "containers_tracked": sum("privmon_containers_tracked"),
        "processes_tracked": sum("privmon_processes_tracked"),
        "cap_counts_entries": d.cap_counts_len()?,
        "cap_seen_entries": d.cap_seen_len()?,
        "rss_kib": rss_kib(d.pid())?,
    }))
}

/// Churn: short-lived containers one after another, each a shell that forks and execs two
/// triggers (a refused and an allowed check). Afterwards what the daemon tracks must come
/// back to where it was idle: containers, processes, and the kernel counters' entries
/// (dropped once a removed container's series have had their grace, 30 s here); the
/// first-seen filter is an LRU map, bounded by its size, and is reported only.
fn churn(plan: &Plan) -> anyhow::Result<Value> {
    let daemon = Daemon::start(&["--stdout", "false", "--metrics-grace-secs", "30"])?;
    std::thread::sleep(Duration::from_secs(2));
    let idle = holdings(&daemon)?;
    let pace = Duration::from_secs_f64(plan.churn_secs as f64 / plan.churn_containers as f64);
    let t0 = Instant::now();
    let mut peak_rss = f(&idle["rss_kib"]);
    let mut peak_containers = 0.0f64;
    for i in 0..plan.churn_containers {
        let c = Container::create(&ContainerSpec {
            args: &[
                "/bin/sh",
                "-c",
                "/bin/trigger nice; /bin/trigger raw-socket; true",
            ],
            capabilities: &["CAP_NET_RAW"],
            ..Default::default()
        })?;
        c.run_to_completion()?;
        c.delete();
        if i % 25 == 24 {
            let h = holdings(&daemon)?;
            peak_rss = peak_rss.max(f(&h["rss_kib"]));
            peak_containers = peak_containers.max(f(&h["containers_tracked"]));
        }
        if let Some(wait) = (pace * (i as u32 + 1)).checked_sub(t0.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    let end = holdings(&daemon)?;
    let at_idle = |h: &Value| {
        [
            "containers_tracked",
            "processes_tracked",
            "cap_counts_entries",
        ]
        .iter()
        .all(|k| f(&h[*k]) <= f(&idle[*k]))
    };
    let t1 = Instant::now();
    let mut back_after = None;
    let mut after = end.clone();
    while t1.elapsed() < Duration::from_secs(90) {
        after = holdings(&daemon)?;
        if at_idle(&after) {
            back_after = Some(t1.elapsed().as_secs_f64());
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    daemon.stop()?;
    Ok(json!({
        "containers": plan.churn_containers,
        "seconds": seconds,
        "idle": idle,
        "end_of_churn": end,
        "after": after,
        "back_to_idle_secs": back_after,
        "peak_rss_kib": peak_rss,
        "peak_containers_tracked": peak_containers,
    }))
}

/// Lost events by stage, from `privmon_events_lost_total{stage}`.
fn lost_by_stage(d: &Daemon) -> anyhow::Result<BTreeMap<String, f64>> {
    let m = d.metrics()?;
    let mut out = BTreeMap::new();
    for stage in [
        "ring_buffer",
        "decode",
        "queue",
        "encode",
        "sink_stdout",
        "sink_file",
        "sink_stream",
    ] {
        let v: f64 = m
            .values("privmon_events_lost_total", &[("stage", stage)])
            .iter()
            .sum();
        out.insert(stage.to_string(), v);
    }
    Ok(out)
}

/// Waits until the daemon has written everything the kernel passed (its counts of events
/// made and of events its sinks delivered stay still for a second).
fn drain(d: &Daemon) -> anyhow::Result<()> {
    let mut last = (-1.0, -1.0);
    loop {
        std::thread::sleep(Duration::from_millis(1000));
        let now = (
            metric_sum(d, "privmon_events_total", &[])?,
            metric_sum(d, "privmon_sink_events_total", &[])?,
        );
        if now == last {
            return Ok(());
        }
        last = now;
    }
}

/// A daemon writing every check (`--dedup-window-secs 0`) into a file sink under a fresh
/// directory (default rotation), stdout off.
struct FileSinkDaemon {
    daemon: Daemon,
    dir: PathBuf,
}

impl FileSinkDaemon {
    fn start(name: &str) -> anyhow::Result<FileSinkDaemon> {
        let dir = std::env::temp_dir().join(privmon_tests::unique(name));
        fs::create_dir_all(&dir)?;
        let file = dir.join("events.jsonl");
        let mut args = vec![
            "--dedup-window-secs",
            "0",
            "--stdout",
            "false",
            "--file-path",
            file.to_str().context("temp dir is not UTF-8")?,
        ];
        // Settings to try beside the defaults (the measured runs use none).
        let extra = std::env::var("PRIVMON_BENCH_DAEMON_ARGS").unwrap_or_default();
        args.extend(extra.split_whitespace());
        let daemon = Daemon::start(&args)?;
        Ok(FileSinkDaemon { daemon, dir })
    }

    /// Lines in the file and its rotated generations (those rotation has not deleted), and
    /// those of the capability checks of `cap` made by the trigger in `cgroups` (runc's own
    /// checks, before it runs the trigger, are not the trigger's).
    fn lines(&self, cgroups: &[u64], cap: u32) -> anyhow::Result<(u64, u64)> {
        let (mut all, mut matching) = (0, 0);
        for entry in fs::read_dir(&self.dir)? {
            let f = BufReader::new(fs::File::open(entry?.path())?);
            for line in f.lines() {
                let line = line?;
                all += 1;
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                matching += u64::from(
                    v["kind"] == "capability"
                        && v["capability"]["number"] == cap
                        && v["process"]["comm"] == "trigger"
                        && v["cgroup"]["id"]
                            .as_u64()
                            .is_some_and(|c| cgroups.contains(&c)),
                );
            }
        }
        Ok((all, matching))
    }
}

impl Drop for FileSinkDaemon {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A burst: one container makes `burst_checks` setuid(0) checks as fast as it can, every
/// check reported into a file sink (default ring buffer and queues): how many reach the
/// file, and where the others were lost.
fn burst(plan: &Plan) -> anyhow::Result<Value> {
    let sink = FileSinkDaemon::start("privmon-burst")?;
    let daemon = &sink.daemon;
    let n = plan.burst_checks.to_string();
    let c = Container::create(&ContainerSpec {
        args: &["/bin/trigger", "setuid-loop", &n],
        capabilities: &["CAP_SETUID"],
        ..Default::default()
    })?;
    let before = daemon.cap_count(c.cgroup_id, CAP_SETUID, VERDICT_ALLOWED)?;
    let (written0, lost0) = (
        metric_sum(daemon, "privmon_events_total", &[])?,
        lost_by_stage(daemon)?,
    );
    let t0 = Instant::now();
    c.start()?;
    // The trigger's own line says when it is done: asking runc (a process each time)
    // would take CPU from the daemon while it keeps up.
    while !c.output().contains("calls=") && t0.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let made_in = t0.elapsed().as_secs_f64();
    let out = c.wait_stopped()?;
    let calls: u64 = out
        .split("calls=")
        .nth(1)
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("setuid-loop output: {out}"))?;
    drain(daemon)?;
    let counted = daemon.cap_count(c.cgroup_id, CAP_SETUID, VERDICT_ALLOWED)? - before;
    let written = metric_sum(daemon, "privmon_events_total", &[])? - written0;
    let lost1 = lost_by_stage(daemon)?;
    let lost: BTreeMap<&String, f64> = lost1.iter().map(|(k, v)| (k, v - lost0[k])).collect();
    let file_delivered = metric_sum(daemon, "privmon_sink_events_total", &[("sink", "file")])?;
    let (lines, checks_in_file) = sink.lines(&[c.cgroup_id], CAP_SETUID)?;
    drop(sink);
    Ok(json!({
        "checks_made": calls,
        "checks_per_s": calls as f64 / made_in,
        "kernel_count": counted,
        "events_written": written,
        "file_delivered": file_delivered,
        "lines_in_file": lines,
        "checks_in_file": checks_in_file,
        "lost": lost,
    }))
}

/// A fork-and-check storm from several containers, every check reported
/// (`--dedup-window-secs 0`) into a file sink: throughput, loss, memory, exact in-kernel
/// counts, and what reached the file.
fn storm(plan: &Plan) -> anyhow::Result<Value> {
    let sink = FileSinkDaemon::start("privmon-storm")?;
    let daemon = &sink.daemon;
    let rate = (plan.storm_rate / plan.storm_containers as u64).to_string();
    let secs = plan.storm_secs.to_string();
    let containers = (0..plan.storm_containers)
        .map(|_| {
            Container::create(&ContainerSpec {
                args: &["/bin/trigger", "storm", &secs, &rate],
                capabilities: &["CAP_SETUID"],
                ..Default::default()
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let before: Vec<u64> = containers
        .iter()
        .map(|c| daemon.cap_count(c.cgroup_id, CAP_SETUID, VERDICT_ALLOWED))
        .collect::<anyhow::Result<_>>()?;
    let records = |d: &Daemon| metric_sum(d, "privmon_ring_buffer_records_total", &[]);
    let written = |d: &Daemon| metric_sum(d, "privmon_events_total", &[]);
    let (records0, written0, lost0) = (records(daemon)?, written(daemon)?, lost_by_stage(daemon)?);
    let rss0 = rss_kib(daemon.pid())?;
    let t0 = Instant::now();
    for c in &containers {
        c.start()?;
    }
    let mut rss_max = rss0;
    let mut rss_samples = Vec::new();
    while t0.elapsed() < Duration::from_secs(plan.storm_secs) {
        std::thread::sleep(Duration::from_secs(1));
        let r = rss_kib(daemon.pid())?;
        rss_max = rss_max.max(r);
        rss_samples.push(r);
    }
    let mut checks = Vec::new();
    for c in &containers {
        let out = c.wait_stopped()?;
        let n: u64 = out
            .split("checks=")
            .nth(1)
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .with_context(|| format!("storm output: {out}"))?;
        checks.push(n);
    }
    let elapsed = t0.elapsed().as_secs_f64();
    // Let the pipeline drain what the kernel wrote.
    drain(daemon)?;
    let drained = t0.elapsed().as_secs_f64();
    let mut exact = true;
    let mut counted = Vec::new();
    for ((c, b), made) in containers.iter().zip(&before).zip(&checks) {
        let n = daemon.cap_count(c.cgroup_id, CAP_SETUID, VERDICT_ALLOWED)? - b;
        exact &= n == *made;
        counted.push(n);
    }
    let (records1, written1, lost1) = (records(daemon)?, written(daemon)?, lost_by_stage(daemon)?);
    let alive = daemon
        .get("/healthz")
        .map(|(s, _)| s == 200)
        .unwrap_or(false);
    let rss_end = rss_kib(daemon.pid())?;
    // Rotation (100 MiB, 5 kept) deletes most of a storm's lines: the file sink's count
    // of lines written is the measure.
    let file_delivered = metric_sum(daemon, "privmon_sink_events_total", &[("sink", "file")])?;
    drop(sink);
    let made: u64 = checks.iter().sum();
    let lost: BTreeMap<&String, f64> = lost1.iter().map(|(k, v)| (k, v - lost0[k])).collect();
    Ok(json!({
        "containers": plan.storm_containers,
        "seconds": plan.storm_secs,
        "target_checks_per_s": plan.storm_rate,
        "checks_made": made,
        "checks_per_s": made as f64 / elapsed,
        "kernel_counts": counted,
        "trigger_counts": checks,
        "kernel_counts_exact": exact,
        "records_read": records1 - records0,
        "events_written": written1 - written0,
        "events_per_s": (written1 - written0) / drained,
        "file_delivered": file_delivered,
        "lost": lost,
        "healthy_after": alive,
        "rss_kib_before": rss0,
        "rss_kib_max": rss_max,
        "rss_kib_end": rss_end,
        "rss_kib_samples": rss_samples,
    }))
}

/// Events per second on one thread, from the criterion benchmarks' estimates: without JSON,
/// with it (and its MB/s), with 500 more rules.
fn pipeline(dir: &Path) -> anyhow::Result<Value> {
    let mut out = serde_json::Map::new();
    for name in [
        "decode_resolve_rules",
        "decode_resolve_rules_json",
        "decode_resolve_rules_json_500_rules",
    ] {
        out.insert(name.to_string(), criterion_estimate(dir, name)?);
    }
    let line: Value = serde_json::from_slice(
        &fs::read(dir.join("pipeline/line_bytes.json")).context("reading line_bytes.json")?,
    )?;
    let bytes = f(&line["mean_line_bytes"]);
    let json_rate = f(&out["decode_resolve_rules_json"]["events_per_s_median"]);
    out.insert("mean_line_bytes".into(), json!(bytes));
    out.insert("json_mb_per_s".into(), json!(json_rate * bytes / 1e6));
    Ok(Value::Object(out))
}

/// One criterion benchmark's median, in events per second.
fn criterion_estimate(dir: &Path, name: &str) -> anyhow::Result<Value> {
    let bench = dir.join("pipeline").join(name).join("new");
    let read = |f: &str| -> anyhow::Result<Value> {
        let p = bench.join(f);
        Ok(serde_json::from_slice(
            &fs::read(&p).with_context(|| format!("reading {}", p.display()))?,
        )?)
    };
    let estimates = read("estimates.json")?;
    let meta = read("benchmark.json")?;
    let per_iter = meta["throughput"]["Elements"]
        .as_f64()
        .context("no throughput in benchmark.json")?;
    let ns = |k: &str| estimates[k]["point_estimate"].as_f64().unwrap_or(f64::NAN);
    let lo = estimates["median"]["confidence_interval"]["lower_bound"]
        .as_f64()
        .unwrap_or(f64::NAN);
    let hi = estimates["median"]["confidence_interval"]["upper_bound"]
        .as_f64()
        .unwrap_or(f64::NAN);
    Ok(json!({
        "records_per_iteration": per_iter,
        "ns_per_event_median": ns("median") / per_iter,
        "events_per_s_median": per_iter / ns("median") * 1e9,
        "events_per_s_ci95": [per_iter / hi * 1e9, per_iter / lo * 1e9],
    }))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**not met**" }
}

/// The table of docs/benchmarks.md.
fn markdown(r: &Value) -> String {
    let m = &r["machine"];
    let mut s = String::from(
        "# Benchmarks\n\n\
         Written by `cargo xtask bench` (privmon-bench, tests/src/bin/privmon-bench.rs, and the \
         criterion benchmark monitor/benches/pipeline.rs); the raw figures are in \
         [benchmarks.json](benchmarks.json). Analysis: the README's Cost section.\n\n\
         - Loops run in a runc container (a Kubernetes-shaped cgroup, so privmon watches \
         them) as `trigger bench OP N` (five repetitions of N/5 calls; the fastest counts, \
         the least disturbed by the rest of this shared 2-CPU VM); each round runs every \
         configuration once, in order, and a ratio is taken to the same round's run without \
         a monitor.\n\
         - `privmon` is `privmon run` with its defaults (release build). `--operations \
         all=on` forces every group's syscall-tracepoint fallback on (docs/events.md): what \
         covering the operations that make no capability check costs.\n\
         - The peer is the bpftrace one-liner `tracepoint:capability:cap_capable \
         { @[cgroup, args->cap, args->ret] = count(); }`; the floor is an empty bpftrace \
         program on the same tracepoint: what enabling the tracepoint costs by itself.\n\
         - ns per run: the kernel's own accounting of each program (`kernel.bpf_stats_enabled`) \
         over the setuid loop (every check after the first a repeat the first-seen filter drops), \
         in a separate pass (the accounting costs a little), a daemon started per configuration \
         and round; the median over the rounds. The steps table runs privmon with each step of its \
         probe left out (`PRIVMON_BENCH_SKIP=step,...`, bits of the probe's constant \
         configuration, so a left-out step's code is not in the loaded program). On this VM (AMD EPYC, \
         the kernel's Safe RET mitigation for SRSO and retpolines) each helper call costs tens \
         of nanoseconds; single runs of the same program spread by 30 ns.\n\
         - Pipeline: the criterion benchmarks of monitor/benches/pipeline.rs (one thread, \
         a resolved container's checks and mounts): without JSON, with it, and with 500 \
         generated rules beside the defaults.\n\
         - Burst: one container makes setuid(0) checks as fast as it can, with \
         `--dedup-window-secs 0 --stdout false --file-path F` and otherwise the defaults; \
         the file's lines are counted.\n\
         - Storm: containers fork children that each make 100 setuid(0) checks, paced to the \
         target rate, with `--dedup-window-secs 0 --stdout false --file-path F` (every check \
         is a record; rotation keeps the last 600 MB, so the file sink's delivered count is \
         the measure); loss is read from `privmon_events_lost_total{stage}`, exactness from \
         the in-kernel counters against the checks the trigger counted.\n\
         - Memory: VmRSS idle (after 2 s), with N Kubernetes-shaped cgroups each holding a \
         `sleep` (tracked as containers; their metadata is not found), sampled twice 5 s \
         apart, and every second of the storm.\n\
         - Churn: short-lived runc containers one after another (each a shell that forks \
         and execs two triggers), `--metrics-grace-secs 30`; the tracked-container and \
         -process gauges, the entries of the kernel's counter and first-seen maps and VmRSS, \
         idle, at the end, and until back at the idle level (checked every second, 90 s \
         at most).\n\
         - Start-up: from spawning `privmon run` to `/readyz` answering 200.\n\
         - Event size: a default daemon, eight triggers (allowed and refused) in containers, \
         every line it wrote.\n\n",
    );
    s += &format!(
        "Measured {} on {} ({} CPUs, {:.0} GiB), Linux {}, {}{}.\n\n",
        m["date"].as_str().unwrap_or(""),
        m["cpu"].as_str().unwrap_or(""),
        m["cpus"],
        f(&m["memory_gib"]),
        m["kernel"].as_str().unwrap_or(""),
        m["privmon"].as_str().unwrap_or(""),
        if r["smoke"] == true {
            " (SMOKE RUN: too short to mean anything)"
        } else {
            ""
        }
    );
    s += "### Kernel overhead (loop in a runc container; ratio to no monitor, same round)\n\n";
    s += "| loop | no monitor ns/call | privmon (defaults) | privmon, every fallback on (`--operations all=on`) | bpftrace peer | empty program (floor) |\n";
    s += "|---|---|---|---|---|---|\n";
    for op in ["getppid", "setuid", "mount"] {
        let o = &r["overhead"][op]["configs"];
        let cell = |c: &str| {
            let c = &o[c];
            format!(
                "{:.3} ({:.3}–{:.3})",
                f(&c["ratio_median"]),
                f(&c["ratio_min"]),
                f(&c["ratio_max"])
            )
        };
        s += &format!(
            "| {op} ×{} | {:.1} | {} | {} | {} | {} |\n",
            r["overhead"][op]["calls"],
            f(&o["none"]["ns_per_call_median"]),
            cell("privmon"),
            cell("privmon-fallbacks"),
            cell("bpftrace"),
            cell("bpftrace-empty")
        );
    }
    let pc = &r["program_ns_per_check"];
    s += &format!(
        "| ns per run of the program on `cap_capable` (kernel accounting, setuid loop) | | {:.0} | {:.0} | {:.0} | {:.0} |\n",
        f(&pc["privmon"]["ns_per_run"]),
        f(&pc["privmon-fallbacks"]["ns_per_run"]),
        f(&pc["bpftrace"]["ns_per_run"]),
        f(&pc["bpftrace-empty"]["ns_per_run"])
    );
    s += "\nRatios: median over rounds (min–max); ns per run: median over rounds.\n\n";
    s += "### Where the nanoseconds go (privmon's program on `cap_capable`, setuid loop, kernel accounting)\n\n\
           Each step left out in turn (`PRIVMON_BENCH_SKIP`: the configuration is constant to the verifier, so a left-out step is not in the loaded program); saved: the difference with the same round's full run, median over rounds (min–max).\n\n\
           | step | what it does | ns per run without it | saved |\n|---|---|---|---|\n";
    for st in pc["steps"].as_array().into_iter().flatten() {
        s += &format!(
            "| {} | {} | {:.0} | {:.0} ({:.0}–{:.0}) |\n",
            st["step"].as_str().unwrap_or("?"),
            st["what"].as_str().unwrap_or("?"),
            f(&st["ns_without"]),
            f(&st["saved_median"]),
            f(&st["saved_min"]),
            f(&st["saved_max"])
        );
    }
    s += &format!(
        "| (all of them) | left: the program's entry, the task (a helper), its pid and cgroup id (loads), the window test | {:.0} | {:.0} |\n\
         | (full program) | | {:.0} | |\n\
         | (empty program, bpftrace) | what the tracepoint costs with any program | {:.0} | |\n",
        f(&pc["skip-all"]["ns_per_run"]),
        f(&pc["privmon"]["ns_per_run"]) - f(&pc["skip-all"]["ns_per_run"]),
        f(&pc["privmon"]["ns_per_run"]),
        f(&pc["bpftrace-empty"]["ns_per_run"]),
    );
    s += "\n### The read paths of older kernels, on this one\n\n\
           The same program as other kernels run it, here (tp_btf, or the tracefs tracepoint for the probe-read paths; setuid loop, kernel accounting; what the hook itself costs on those kernels is not in it): docs/install.md's costs per kernel.\n\n\
           | path | taken on | ns per run, median (min–max) |\n|---|---|---|\n";
    s += &format!(
        "| plain loads, `bpf_task_pt_regs` (privmon, defaults) | 5.15 and later | {:.0} ({:.0}–{:.0}) |\n",
        f(&pc["privmon"]["ns_per_run"]),
        f(&pc["privmon"]["ns_min"]),
        f(&pc["privmon"]["ns_max"])
    );
    for (config, what) in READ_PATHS {
        let c = &pc[config];
        s += &format!(
            "| {config} | {what} | {:.0} ({:.0}–{:.0}) |\n",
            f(&c["ns_per_run"]),
            f(&c["ns_min"]),
            f(&c["ns_max"])
        );
    }
    s += "\n### Enforcement's lookup\n\n\
           What a check of a workload enforcement does not act on pays for the per-cgroup lookup (setuid loop, kernel accounting; with `enforcement: off`, the default, the code is not in the program).\n\n\
           | configuration | ns per run, median (min–max) | added to privmon's |\n|---|---|---|\n";
    for (config, what) in ENFORCE_PATHS {
        let c = &pc[config];
        s += &format!(
            "| {what} | {:.0} ({:.0}–{:.0}) | {:.0} |\n",
            f(&c["ns_per_run"]),
            f(&c["ns_min"]),
            f(&c["ns_max"]),
            f(&c["ns_per_run"]) - f(&pc["privmon"]["ns_per_run"])
        );
    }
    s += "\n### Targets\n\n| measure | target | measured | |\n|---|---|---|---|\n";
    let ratio = |op: &str| f(&r["overhead"][op]["configs"]["privmon"]["ratio_median"]);
    let mut row = |name: &str, target: &str, measured: String, ok: bool| {
        s += &format!("| {name} | {target} | {measured} | {} |\n", verdict(ok));
    };
    let ns_run = f(&pc["privmon"]["ns_per_run"]);
    row(
        "ns per run of privmon's program on `cap_capable`, setuid loop (repeated checks), default config",
        "<= 150",
        format!(
            "{ns_run:.0} (bpftrace peer {:.0}, empty program {:.0})",
            f(&pc["bpftrace"]["ns_per_run"]),
            f(&pc["bpftrace-empty"]["ns_per_run"])
        ),
        ns_run <= 150.0,
    );
    let added = ENFORCE_PATHS
        .iter()
        .map(|(c, _)| f(&pc[*c]["ns_per_run"]) - ns_run)
        .fold(f64::MIN, f64::max);
    row(
        "ns per run enforcement adds to that program for a workload it does not act on",
        "<= 20",
        format!("{added:.0} (the larger of its two configurations)"),
        added <= 20.0,
    );
    let peer = f(&r["overhead"]["setuid"]["configs"]["bpftrace"]["ratio_median"]);
    row(
        "`setuid(0)` loop ratio, default config, against the bpftrace peer's (same rounds)",
        "<= the peer's",
        format!("{:.3} (peer {peer:.3})", ratio("setuid")),
        ratio("setuid") <= peer,
    );
    row(
        "`getppid` loop ratio, default config",
        "<= 1.01",
        format!("{:.3}", ratio("getppid")),
        ratio("getppid") <= 1.01,
    );
    row(
        "`setuid(0)` loop ratio, default config",
        "<= 1.05",
        format!(
            "{:.3} (bpftrace peer {:.3})",
            ratio("setuid"),
            f(&r["overhead"]["setuid"]["configs"]["bpftrace"]["ratio_median"])
        ),
        ratio("setuid") <= 1.05,
    );
    let pl = &r["pipeline"];
    let rate = |name: &str| f(&pl[name]["events_per_s_median"]);
    let shown = |v: f64, unit: &str| {
        if v.is_nan() {
            "not run".to_string()
        } else {
            format!("{v:.0} {unit}")
        }
    };
    row(
        "decode -> resolve (warm) -> default rules, one core, no serialization",
        ">= 1,000,000 records/s",
        shown(rate("decode_resolve_rules"), "records/s"),
        rate("decode_resolve_rules") >= 1e6,
    );
    row(
        "the same plus JSON into the shared buffer, one core",
        ">= 500,000 events/s",
        format!(
            "{} ({:.0} MB/s of JSON, {:.0} B a line)",
            shown(rate("decode_resolve_rules_json"), "events/s"),
            f(&pl["json_mb_per_s"]),
            f(&pl["mean_line_bytes"])
        ),
        rate("decode_resolve_rules_json") >= 5e5,
    );
    let ratio500 = rate("decode_resolve_rules_json_500_rules") / rate("decode_resolve_rules_json");
    row(
        "500 rules loaded, most not matching, against the default set",
        ">= 0.8x the default set's throughput",
        format!(
            "{ratio500:.2}x ({})",
            shown(rate("decode_resolve_rules_json_500_rules"), "events/s")
        ),
        ratio500 >= 0.8,
    );
    let b = &r["burst"];
    let lost_total = |v: &Value| -> f64 {
        v.as_object()
            .map(|m| m.values().map(f).sum())
            .unwrap_or(f64::NAN)
    };
    let burst_lost = lost_total(&b["lost"]);
    row(
        "burst of checks as fast as one container makes them, dedup off, file sink, default config",
        "100% written, 0 lost",
        format!(
            "{:.0} of {} checks in the file ({:.1}%), {burst_lost:.0} lost, at {:.0} checks/s",
            f(&b["checks_in_file"]),
            b["checks_made"],
            100.0 * f(&b["checks_in_file"]) / f(&b["checks_made"]).max(1.0),
            f(&b["checks_per_s"])
        ),
        b["checks_in_file"] == b["checks_made"] && burst_lost == 0.0,
    );
    let st = &r["storm"];
    let storm_lost = lost_total(&st["lost"]);
    row(
        "storm, dedup off, file sink",
        "0 lost anywhere, every event written, at 100,000 checks/s for 60 s",
        format!(
            "{storm_lost:.0} lost; {:.0} events made, {:.0} delivered to the file; {:.0} \
             checks/s for {} s, {:.0} events/s written",
            f(&st["events_written"]),
            f(&st["file_delivered"]),
            f(&st["checks_per_s"]),
            st["seconds"],
            f(&st["events_per_s"]),
        ),
        storm_lost == 0.0
            && f(&st["file_delivered"]) >= f(&st["events_written"])
            && f(&st["checks_per_s"]) >= 100_000.0 * 0.95,
    );
    let mem = &r["memory"];
    let tracked_mib = f(&mem["tracked_kib_5s_later"]) / 1024.0;
    let ring_mib = f(&mem["ring_buffer_mapping_kib"]) / 1024.0;
    row(
        "RSS with containers tracked",
        "<= 32 MiB with 500",
        format!(
            "{tracked_mib:.1} MiB VmRSS with {}, of which {ring_mib:.1} MiB is the ring \
             buffer's mapping (its pages, mapped twice): {:.1} MiB without it (idle {:.1} \
             MiB VmRSS, storm max {:.1} MiB)",
            mem["tracked_containers"],
            tracked_mib - ring_mib,
            f(&mem["idle_kib"]) / 1024.0,
            f(&st["rss_kib_max"]) / 1024.0
        ),
        tracked_mib <= 32.0 && f(&mem["tracked_containers"]) >= 500.0,
    );
    let ch = &r["churn"];
    let back = ch["back_to_idle_secs"].as_f64();
    let held = |k: &str| {
        format!(
            "{} {:.0} -> {:.0} -> {:.0}",
            k.replace('_', " "),
            f(&ch["idle"][k]),
            f(&ch["end_of_churn"][k]),
            f(&ch["after"][k])
        )
    };
    row(
        &format!(
            "churn: {} short-lived containers over {:.0} s (a shell forking two triggers in each)",
            ch["containers"],
            f(&ch["seconds"])
        ),
        "containers, processes and kernel-map entries back to idle within a minute; RSS bounded",
        format!(
            "{}; idle -> end of churn -> after: {}, {}, {}, {} (LRU, bounded); VmRSS {:.1} -> peak {:.1} -> {:.1} MiB",
            back.map_or("not back to idle in 90 s".to_string(), |s| format!(
                "back to idle {s:.0} s after the last container"
            )),
            held("containers_tracked"),
            held("processes_tracked"),
            held("cap_counts_entries"),
            held("cap_seen_entries"),
            f(&ch["idle"]["rss_kib"]) / 1024.0,
            f(&ch["peak_rss_kib"]) / 1024.0,
            f(&ch["after"]["rss_kib"]) / 1024.0,
        ),
        back.is_some_and(|s| s <= 60.0),
    );
    let su = f(&r["startup"]["ms_median"]);
    row(
        "start-up to ready",
        "<= 1 s",
        format!("{su:.0} ms (median)"),
        su <= 1000.0,
    );
    let ev = f(&r["event_size"]["events"]["mean_bytes"]);
    row(
        "mean event size",
        "<= 700 B",
        format!(
            "{ev:.0} B per event ({:.0} B without runc's setup events), {:.0} B per alert",
            f(&r["event_size"]["workload_events"]["mean_bytes"]),
            f(&r["event_size"]["alerts"]["mean_bytes"])
        ),
        ev <= 700.0,
    );
    s += &format!(
        "\nStorm: in-kernel counts exact: {}; daemon healthy after: {}.\n",
        st["kernel_counts_exact"], st["healthy_after"]
    );
    s
}
