//! Developer tasks: `cargo xtask setup | run | test | lint`.

use std::{
    env,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, bail, ensure};
use clap::{Parser, Subcommand};

mod cycles;
mod vmtest;

/// bpf-linker must link against the LLVM of the nightly rustc that builds the eBPF crate.
const BPF_LINKER_VERSION: &str = "0.13.0";
const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// Validates the Kubernetes manifests offline in the tests.
const KUBERNETES_VALIDATE_VERSION: &str = "1.37.0";
/// How long `cargo xtask test` fuzzes each target.
const FUZZ_SECONDS: u64 = 20;

/// The fuzz targets (fuzz/fuzz_targets/<name>.rs, seeds in fuzz/corpus/<name>/).
/// Every parser of outside input, one target each (fuzz/fuzz_targets/).
const FUZZ_TARGETS: &[&str] = &[
    "rules_parser",
    "record_decoder",
    "config_file",
    "runtime_files",
    "proc_files",
    "cri_responses",
];
const LLVM_MAJOR: &str = "22";

/// Debian packages only the build needs (`setup --build-only`, the image's build stage);
/// the first entries of [`PACKAGES`].
const BUILD_PACKAGES: usize = 5;

/// Debian packages the build and the tests need.
const PACKAGES: &[(&str, &str)] = &[
    (
        "llvm-22-dev",
        "bpf-linker links against LLVM 22 (rustc nightly's LLVM)",
    ),
    ("libpolly-22-dev", "LLVM 22's link line names Polly"),
    ("libzstd-dev", "LLVM 22's link line names zstd"),
    (
        "gcc",
        "linker for Rust, and the static test trigger program",
    ),
    ("libc6-dev", "static libc for the test trigger program"),
    ("g++", "libFuzzer (cargo fuzz) is C++"),
    ("runc", "real containers in the integration tests"),
    (
        "containerd",
        "a real containerd (its CRI plugin, ctr) for the CRI enrichment test",
    ),
    ("busybox-static", "root filesystem of the test containers"),
    (
        "docker.io",
        "a real Docker engine (dockerd) for the Docker posture test",
    ),
    (
        "bpftrace",
        "independent count of the cap_capable tracepoint in tests",
    ),
    (
        "systemd",
        "systemd-analyze verifies and rates the systemd unit in the tests",
    ),
    (
        "qemu-system-x86",
        "the kernel matrix boots Debian's 5.10, 6.1 and 6.12 kernels (cargo xtask vmtest)",
    ),
    (
        "prometheus",
        "a real Prometheus server scrapes the daemon in tests; promtool checks the alert rules",
    ),
    (
        "rsyslog",
        "a real syslog receiver (UDP, TCP, unix socket) for the syslog sink's tests",
    ),
    (
        "rsyslog-gnutls",
        "rsyslog's TLS listener for the syslog sink's TLS test",
    ),
    (
        "openssl",
        "makes the CA and certificate of the syslog sink's TLS test",
    ),
];

#[derive(Parser)]
#[command(name = "xtask", about = "privmon developer tasks")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install what the build and tests need (idempotent): Debian packages, rust-src for
    /// nightly, bpf-linker built against LLVM 22, cargo-fuzz, kubernetes-validate.
    Setup {
        /// Only what building needs (deploy/Containerfile's build stage).
        #[arg(long)]
        build_only: bool,
    },
    /// Set up if needed, build, and run the daemon in the foreground with default settings.
    /// Arguments after `--` go to `privmon run`.
    Run {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Set up if needed, build, run lints and unit tests, then the root-only integration tests,
    /// then the kernel matrix (`vmtest`).
    /// (The workspace's default members: the eBPF crate only builds for the bpf target.)
    Test {
        /// Skip rustfmt and clippy.
        #[arg(long)]
        no_lint: bool,
        /// Skip the kernel matrix (QEMU, about 10 minutes).
        #[arg(long)]
        no_vm: bool,
    },
    /// rustfmt check, clippy (-D warnings) on the user-space crates and the eBPF crate, and
    /// the import-cycle check (`cycles`).
    Lint,
    /// No import cycle between the top-level modules of the daemon and of the eBPF crate.
    Cycles,
    /// Fuzz every parser target (cargo-fuzz, nightly: the rule parser, the ring-buffer
    /// record decoder) for a bounded time each; `test` runs it too.
    Fuzz {
        /// Seconds of fuzzing per target.
        #[arg(long, default_value_t = FUZZ_SECONDS)]
        seconds: u64,
    },
    /// Kernel matrix: boot Debian's 5.10, 6.1 and 6.12 kernels in QEMU, with BPF LSM on and off,
    /// and run the capability and sensitive-operation tests inside, once per capability
    /// hook; prints which attach method each probe family chose per kernel.
    Vmtest {
        /// Only this kernel of the matrix (5.10, 6.1 or 6.12).
        #[arg(long)]
        kernel: Option<String>,
        /// Only boot and probe (does every program load and verify?); no test suite.
        #[arg(long)]
        probe_only: bool,
    },
    /// Every measurement of docs/benchmarks.md in one run (about 15 minutes): syscall-loop
    /// overhead in a container (no monitor, privmon, privmon watching everything, the
    /// bpftrace peer, interleaved), pipeline throughput (criterion), a 60 s check storm,
    /// memory with 500 tracked containers, start-up time, event sizes. Writes
    /// docs/benchmarks.json and docs/benchmarks.md and prints the table.
    Bench {
        /// Rounds of the overhead loops (default 5; 1 with --smoke).
        #[arg(long)]
        rounds: Option<usize>,
        /// A few seconds of everything, to check that the benchmark runs (CI); the figures
        /// mean nothing. Writes target/bench/ instead of docs/.
        #[arg(long)]
        smoke: bool,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Task::Setup { build_only } => setup_for(build_only),
        Task::Run { args } => {
            // Only what building and running need: the test tools come with `test`.
            setup_for(true)?;
            ensure_root("privmon run")?;
            {
                let _t = Timed::start("building privmon (and its eBPF programs)");
                cargo(&["build", "--package", "monitor"])?;
            }
            let bin = target_dir()?.join("debug/privmon");
            // Become the daemon: Ctrl-C and SIGTERM reach it directly, and its exit status
            // is ours.
            let err = Command::new(&bin).arg("run").args(&args).exec();
            Err(anyhow::Error::from(err).context(format!("starting {}", bin.display())))
        }
        Task::Test { no_lint, no_vm } => {
            setup()?;
            if !no_lint {
                lint()?;
            }
            {
                let _t = Timed::start("building (user space and eBPF)");
                cargo(&["build"])?;
            }
            {
                let _t = Timed::start("unit tests");
                cargo(&["test"])?;
            }
            ensure_root("the integration tests (real eBPF and runc containers)")?;
            let fuzzing = BackgroundFuzz::start(FUZZ_SECONDS)?;
            let integration = Timed::start("root integration tests");
            let bin = target_dir()?.join("debug/privmon");
            let status = Command::new("cargo")
                .args([
                    "test",
                    "--package",
                    "privmon-tests",
                    "--test",
                    "capabilities",
                    "--test",
                    "containers",
                    "--test",
                    "operations",
                    "--test",
                    "metrics",
                    "--test",
                    "rules",
                    "--test",
                    "outputs",
                    "--test",
                    "least_privilege",
                    "--test",
                    "advisor",
                    "--test",
                    "cri",
                    "--test",
                    "docker",
                    "--test",
                    "signal",
                    "--test",
                    "escapes",
                    "--test",
                    "enforcement",
                ])
                // `vm_only_*` tests need loadable modules and kexec: `vmtest` runs them.
                .args(["--", "--ignored", "--skip", "vm_only_"])
                // One daemon and one set of containers at a time: they share the kernel.
                .arg("--test-threads=1")
                .env("PRIVMON_BIN", &bin)
                .current_dir(workspace_root())
                .status()
                .context("running cargo test")?;
            ensure!(status.success(), "integration tests failed");
            drop(integration);
            fuzzing.finish()?;
            {
                let _t = Timed::start("benchmark smoke run (no assertions on speed)");
                bench(None, true)?;
            }
            if !no_vm {
                let _t = Timed::start("kernel matrix (QEMU)");
                vmtest::vmtest(None, false)?;
            }
            Ok(())
        }
        Task::Fuzz { seconds } => {
            setup()?;
            fuzz(seconds)
        }
        Task::Vmtest { kernel, probe_only } => {
            setup()?;
            ensure_root("the kernel matrix (its tests run as root in the VMs)")?;
            vmtest::vmtest(kernel.as_deref(), probe_only)
        }
        Task::Lint => {
            setup()?;
            lint()
        }
        Task::Cycles => check_cycles(),
        Task::Bench { rounds, smoke } => {
            setup()?;
            ensure_root("the benchmark (it runs the daemon, bpftrace and containers)")?;
            bench(rounds, smoke)
        }
    }
}

/// The daemon's release build: the command deploy/Containerfile's build stage runs (a test
/// compares them).
const RELEASE_BUILD: [&str; 5] = ["cargo", "build", "--release", "--package", "monitor"];

/// See [`Task::Bench`]. The full run uses the release build, runs the criterion pipeline
/// benchmark and writes docs/benchmarks.{json,md}; the smoke run (CI: it checks that the
/// benchmark works, not how fast anything is) uses the debug build the tests built, runs
/// the criterion benchmark once as a test, and writes to target/bench.
fn bench(rounds: Option<usize>, smoke: bool) -> anyhow::Result<()> {
    let target = target_dir()?;
    let out = if smoke {
        target.join("bench")
    } else {
        workspace_root().join("docs")
    };
    let daemon = if smoke {
        cargo(&["build"])?;
        target.join("debug/privmon")
    } else {
        // The release build, as deploy/Containerfile's build stage runs it.
        cargo(&RELEASE_BUILD[1..])?;
        target.join("release/privmon")
    };
    cargo(&[
        "build",
        "--package",
        "privmon-tests",
        "--bin",
        "privmon-bench",
    ])?;
    if smoke {
        step("pipeline benchmark (criterion, once, as a test)");
        cargo(&["test", "--package", "monitor", "--bench", "pipeline"])?;
    } else {
        step("pipeline benchmark (criterion)");
        cargo(&["bench", "--package", "monitor", "--bench", "pipeline"])?;
    }
    step("system benchmark (privmon-bench)");
    let mut cmd = Command::new(target.join("debug/privmon-bench"));
    cmd.env("PRIVMON_BIN", &daemon).arg("--out").arg(&out);
    if smoke {
        cmd.arg("--smoke");
    } else {
        cmd.arg("--criterion").arg(target.join("criterion"));
    }
    if let Some(r) = rounds {
        cmd.args(["--rounds", &r.to_string()]);
    }
    run(&mut cmd)?;
    eprintln!("results: {}", out.join("benchmarks.md").display());
    Ok(())
}

fn step(name: &str) {
    eprintln!("==> {name}");
}

/// A step that says what it does, and how long it took once done.
struct Timed {
    name: String,
    start: std::time::Instant,
}

impl Timed {
    fn start(name: impl Into<String>) -> Timed {
        let name = name.into();
        step(&name);
        Timed {
            name,
            start: std::time::Instant::now(),
        }
    }
}

impl Drop for Timed {
    fn drop(&mut self) {
        let took = self.start.elapsed().as_secs_f64();
        let how = if std::thread::panicking() {
            "stopped"
        } else {
            "done"
        };
        eprintln!("    {how}: {} ({took:.1} s)", self.name);
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn target_dir() -> anyhow::Result<PathBuf> {
    Ok(env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target")))
}

fn cargo(args: &[&str]) -> anyhow::Result<()> {
    run(Command::new("cargo")
        .args(args)
        .current_dir(workspace_root()))
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    ensure!(status.success(), "{cmd:?} failed: {status}");
    Ok(())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc_geteuid() == 0 }
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

fn ensure_root(what: &str) -> anyhow::Result<()> {
    ensure!(
        is_root(),
        "{what} need(s) root: run this command as root (CI runs as root)"
    );
    Ok(())
}

fn check_cycles() -> anyhow::Result<()> {
    let root = workspace_root();
    cycles::check(&[&root.join("monitor/src"), &root.join("monitor-ebpf/src")])
}

fn lint() -> anyhow::Result<()> {
    step("import cycles");
    check_cycles()?;
    step("rustfmt");
    cargo(&["fmt", "--all", "--check"])?;
    step("clippy (user space)");
    cargo(&["clippy", "--all-targets", "--", "-D", "warnings"])?;
    step("clippy (eBPF)");
    run(Command::new("cargo")
        .args([
            "+nightly",
            "clippy",
            "--package",
            "monitor-ebpf",
            "--release",
        ])
        .args(["--target", "bpfel-unknown-none", "-Z", "build-std=core"])
        .args(["--", "-D", "warnings"])
        .env("RUSTFLAGS", "--cfg bpf_target_arch=\"x86_64\"")
        .env("CARGO_TARGET_DIR", target_dir()?.join("ebpf-clippy"))
        .current_dir(workspace_root()))
}

/// Installs what is missing, and nothing else.
fn setup() -> anyhow::Result<()> {
    setup_for(false)
}

/// See [`Task::Setup`]. Each step that installs something says what and how long it took;
/// a set-up with nothing to do says so (in well under a second).
fn setup_for(build_only: bool) -> anyhow::Result<()> {
    let began = std::time::Instant::now();
    let what = if build_only {
        "what building and running privmon need"
    } else {
        "what building and testing privmon need"
    };
    let mut did = 0;
    let packages = if build_only {
        &PACKAGES[..BUILD_PACKAGES]
    } else {
        PACKAGES
    };
    let missing = missing_packages(packages)?;
    if !missing.is_empty() {
        did += 1;
        let _t = Timed::start(format!("installing Debian packages: {}", missing.join(" ")));
        ensure!(
            is_root(),
            "missing Debian packages ({}); install them as root or rerun as root",
            missing.join(" ")
        );
        run(Command::new("apt-get").args(["update", "-q"]))?;
        run(Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }

    let components = Command::new("rustup")
        .args(["component", "list", "--installed", "--toolchain", "nightly"])
        .output()
        .context("running rustup (is the nightly toolchain installed?)")?;
    ensure!(
        components.status.success(),
        "the nightly Rust toolchain is missing; it builds the eBPF programs"
    );
    if !String::from_utf8_lossy(&components.stdout).contains("rust-src") {
        did += 1;
        let _t = Timed::start("adding rust-src to the nightly toolchain");
        run(Command::new("rustup").args([
            "component",
            "add",
            "rust-src",
            "--toolchain",
            "nightly",
        ]))?;
    }

    if !bpf_linker_ok() {
        did += 1;
        let _t = Timed::start(format!(
            "building bpf-linker {BPF_LINKER_VERSION} against LLVM {LLVM_MAJOR} (cargo install: a few minutes)"
        ));
        let prefix = format!("/usr/lib/llvm-{LLVM_MAJOR}");
        ensure!(
            Path::new(&prefix).is_dir(),
            "{prefix} missing: llvm-{LLVM_MAJOR}-dev is not installed"
        );
        run(Command::new("cargo")
            .args(["install", "--locked", "--force", "--no-default-features"])
            .args(["--features", &format!("llvm-{LLVM_MAJOR}")])
            .arg(format!("bpf-linker@{BPF_LINKER_VERSION}"))
            // llvm-sys finds LLVM through the first; bpf-linker's build script the second.
            .env(format!("LLVM_SYS_{LLVM_MAJOR}1_PREFIX"), &prefix)
            .env("LLVM_PREFIX", &prefix))?;
        if !bpf_linker_ok() {
            bail!("bpf-linker was installed but does not run; is ~/.cargo/bin on PATH?");
        }
    }

    if !build_only {
        if !Command::new("python3")
            .args(["-m", "kubernetes_validate", "--version"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(KUBERNETES_VALIDATE_VERSION))
        {
            did += 1;
            let _t = Timed::start(format!(
                "installing kubernetes-validate {KUBERNETES_VALIDATE_VERSION} (PyPI)"
            ));
            run(Command::new("python3").args([
                "-m",
                "pip",
                "install",
                "--quiet",
                &format!("kubernetes-validate=={KUBERNETES_VALIDATE_VERSION}"),
            ]))?;
        }

        if !cargo_fuzz_ok() {
            did += 1;
            let _t = Timed::start(format!(
                "building cargo-fuzz {CARGO_FUZZ_VERSION} (cargo install: a few minutes)"
            ));
            run(Command::new("cargo")
                .args(["install", "--locked", "--force"])
                .arg(format!("cargo-fuzz@{CARGO_FUZZ_VERSION}")))?;
        }
    }
    let took = began.elapsed().as_secs_f64();
    if did == 0 {
        step(&format!(
            "set-up: {what} is in place, nothing to do ({took:.1} s)"
        ));
    } else {
        step(&format!(
            "set-up: {what} is in place ({did} step(s), {took:.0} s)"
        ));
    }
    Ok(())
}

/// The packages of `packages` not installed, from one `dpkg-query` call.
fn missing_packages(packages: &[(&str, &str)]) -> anyhow::Result<Vec<&'static str>> {
    let names: Vec<&str> = packages.iter().map(|(p, _)| *p).collect();
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Package} ${Status}\n"])
        .args(&names)
        .output()
        .context("running dpkg-query (is this a Debian system?)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let installed: Vec<&str> = text
        .lines()
        .filter(|l| l.ends_with("install ok installed"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    Ok(PACKAGES
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| names.contains(p) && !installed.contains(p))
        .collect())
}

/// Runs every fuzz target for `seconds` each; a crash fails (its input is kept in
/// fuzz/artifacts/). New inputs go to a scratch corpus under fuzz/target, the checked-in
/// seeds in fuzz/corpus/ are only read.
fn fuzz(seconds: u64) -> anyhow::Result<()> {
    step(&format!(
        "fuzzing {} for {seconds} s each",
        FUZZ_TARGETS.join(", ")
    ));
    run(&mut fuzz_command(seconds)?)
}

/// One command that runs `cargo fuzz run` of each target for `seconds`, one after the
/// other (each builds what it needs; the first builds the shared dependencies), and stops
/// at the first failure.
fn fuzz_command(seconds: u64) -> anyhow::Result<Command> {
    let root = workspace_root();
    let mut script = String::from("set -e\n");
    for target in FUZZ_TARGETS {
        let work = root.join("fuzz/target/work-corpus").join(target);
        std::fs::create_dir_all(&work)?;
        script += &format!(
            "echo '==> fuzzing {target} for {seconds} s'\n\
             cargo +nightly fuzz run --fuzz-dir fuzz {target} '{}' '{}' -- \
             -max_total_time={seconds} -rss_limit_mb=2048\n",
            work.display(),
            root.join("fuzz/corpus").join(target).display()
        );
    }
    let mut cmd = Command::new("sh");
    // The targets link the daemon's library; its eBPF object is not needed there.
    cmd.arg("-c")
        .arg(script)
        .current_dir(&root)
        .env("AYA_BUILD_SKIP", "1");
    Ok(cmd)
}

/// The fuzzing run of `cargo xtask test`, beside the root integration tests: its build
/// and its run are CPU work, the tests mostly wait on containers and the kernel, so
/// together they take about as long as the tests alone. Its output goes to a file, shown
/// when it ends. Killed if dropped before [`BackgroundFuzz::finish`].
struct BackgroundFuzz {
    child: std::process::Child,
    log: PathBuf,
}

impl BackgroundFuzz {
    fn start(seconds: u64) -> anyhow::Result<BackgroundFuzz> {
        step(&format!(
            "fuzzing {} for {seconds} s each, beside the integration tests",
            FUZZ_TARGETS.join(", ")
        ));
        let log = target_dir()?.join("fuzz.log");
        let out = std::fs::File::create(&log)?;
        let child = fuzz_command(seconds)?
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("starting cargo fuzz")?;
        Ok(BackgroundFuzz { child, log })
    }

    fn finish(mut self) -> anyhow::Result<()> {
        let status = self.child.wait().context("waiting for cargo fuzz")?;
        step("fuzzing (ran beside the integration tests): its output");
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        // libFuzzer's progress lines are many; the end says how it went.
        let lines: Vec<&str> = text.lines().collect();
        for line in &lines[lines
            .len()
            .saturating_sub(if status.success() { 15 } else { 200 })..]
        {
            eprintln!("{line}");
        }
        ensure!(
            status.success(),
            "fuzzing failed: {status} (log: {})",
            self.log.display()
        );
        Ok(())
    }
}

impl Drop for BackgroundFuzz {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn cargo_fuzz_ok() -> bool {
    Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| {
            o.status.success() && String::from_utf8_lossy(&o.stdout).contains(CARGO_FUZZ_VERSION)
        })
}

fn bpf_linker_ok() -> bool {
    Command::new("bpf-linker")
        .arg("--version")
        .output()
        .is_ok_and(|o| {
            o.status.success() && String::from_utf8_lossy(&o.stdout).contains(BPF_LINKER_VERSION)
        })
}
