//! `cargo xtask vmtest`: the kernel matrix. Boots Debian's own kernels in QEMU (TCG) with an
//! initramfs holding privmon, the integration-test binaries, runc and busybox, runs the
//! capability and sensitive-operation tests inside the VM once per capability hook, and
//! reports per kernel which attach method each probe family chose and which tests passed.
//!
//! The VM talks back over its serial console: lines starting with `@@vmtest` carry results;
//! everything else is the tests' own output, kept in `target/vmtest/<boot>.log`.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    fs,
    io::{BufRead, BufReader, BufWriter, Write},
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail, ensure};
use serde_json::Value;

use crate::{cargo, run, step, target_dir, workspace_root};

/// A kernel of the matrix: Debian package-name prefix and suffix; the newest such package
/// in the apt lists is used.
struct KernelSpec {
    name: &'static str,
    prefix: &'static str,
    suffix: &'static str,
    /// A Debian suite the host's apt sources lack, read through apt lists of the matrix's
    /// own (`target/vmtest/apt-<suite>`): the host's apt never sees it.
    suite: Option<&'static str>,
}

const KERNELS: &[KernelSpec] = &[
    KernelSpec {
        name: "5.10",
        prefix: "linux-image-5.10.0-",
        suffix: "-amd64-unsigned",
        suite: Some("bullseye"),
    },
    KernelSpec {
        name: "6.1",
        prefix: "linux-image-6.1.0-",
        suffix: "-amd64-unsigned",
        suite: None,
    },
    KernelSpec {
        name: "6.12",
        prefix: "linux-image-6.12.",
        suffix: "+deb12-amd64-unsigned",
        suite: None,
    },
];

/// The LSMs of a boot, BPF LSM on or off: named on every boot, as Debian 12's built-in list
/// has `bpf` and Debian 11's has not (a name a kernel lacks, landlock on 5.10, is ignored).
const LSM_WITHOUT_BPF: &str = "lockdown,capability,landlock,yama,apparmor";
const LSM_WITH_BPF: &str = "lockdown,capability,landlock,yama,apparmor,bpf";

/// Test binaries run in the VM, and the tests each one skips there (with the reason).
const SUITES: &[(&str, &[(&str, &str)])] = &[
    (
        "capabilities",
        &[
            (
                "hot_loop_yields_one_record_and_exact_counts",
                "its independent count is a bpftrace program on capability:cap_capable, \
                 which these kernels lack",
            ),
            (
                "classic_tracepoint_fallback_reports_the_same_check",
                "capability:cap_capable does not exist before Linux 6.14",
            ),
        ],
    ),
    ("operations", &[]),
    ("signal", &[]),
    ("containers", &[]),
    ("escapes", &[]),
    (
        "enforcement",
        &[(
            "a_capability_deny_without_bpf_lsm_is_refused_at_start",
            "the matrix runs enforcement on its BPF LSM boots, where the deny loads",
        )],
    ),
];

/// One boot of the matrix.
#[derive(Clone, Copy)]
struct Boot {
    kernel: &'static str,
    bpf_lsm: bool,
    /// Test suites to run, each with the capability hook it runs with.
    plan: &'static [(&'static str, &'static str)],
}

/// Every boot probes every hook. Each kernel runs each suite, one with its automatic
/// choice (fexit) and one with kprobes, swapped between the kernels, so that each (suite,
/// hook) pair runs on some kernel within the time budget. capabilities, operations and
/// enforcement run with BPF LSM on, Debian's default (enforcement's deny of a capability is
/// a BPF LSM program: its tests need it, on 5.10 as on 6.12); the LSM-off boots run the
/// shorter suites (one line per act: signal; attribution and the process table:
/// containers; escape procedures: escapes), beside the long boots.
const BOOTS: &[Boot] = &[
    Boot {
        kernel: "5.10",
        bpf_lsm: true,
        plan: &[
            ("capabilities", "auto"),
            ("operations", "kprobe"),
            ("enforcement", "auto"),
        ],
    },
    Boot {
        kernel: "5.10",
        bpf_lsm: false,
        plan: &[
            ("signal", "kprobe"),
            ("containers", "auto"),
            ("escapes", "auto"),
        ],
    },
    Boot {
        kernel: "6.1",
        bpf_lsm: true,
        plan: &[("capabilities", "auto"), ("operations", "kprobe")],
    },
    Boot {
        kernel: "6.1",
        bpf_lsm: false,
        plan: &[
            ("signal", "auto"),
            ("containers", "kprobe"),
            ("escapes", "auto"),
        ],
    },
    Boot {
        kernel: "6.12",
        bpf_lsm: true,
        plan: &[
            ("capabilities", "kprobe"),
            ("operations", "auto"),
            ("enforcement", "auto"),
        ],
    },
    Boot {
        kernel: "6.12",
        bpf_lsm: false,
        plan: &[
            ("signal", "kprobe"),
            ("containers", "auto"),
            ("escapes", "kprobe"),
        ],
    },
];

/// `auto` also reports why tp_btf and tracepoint were skipped.
const PROBED_HOOKS: &[&str] = &["auto", "fexit", "kprobe"];

/// A module without dependencies that every kernel of the matrix ships, for the module
/// load test.
const TEST_MODULE: &str = "kernel/lib/crc-itu-t.ko";

/// Boots run again after a guest kernel crash (a TCG fault, not privmon's).
const CRASH_RETRIES: u32 = 2;

/// A guest CPU reported stuck this long (the kernel's soft-lockup watchdog) counts as a
/// guest kernel fault: the boot is stopped and run again like a crashed one.
const LOCKUP_GIVE_UP_SECS: u64 = 120;

/// Seconds in a "watchdog: BUG: soft lockup - CPU#1 stuck for 249s!" line.
fn lockup_secs(line: &str) -> Option<u64> {
    let rest = line.split("soft lockup").nth(1)?;
    let n = rest.split("stuck for ").nth(1)?.split('s').next()?;
    n.trim().parse().ok()
}

/// How long one boot may take before it is killed and counted as failed.
const BOOT_TIMEOUT: Duration = Duration::from_secs(1500);

/// `probe_only`: boot every kernel of the matrix but run no suite (a minute, to see whether
/// the probes load and verify).
pub fn vmtest(only: Option<&str>, probe_only: bool) -> anyhow::Result<()> {
    let dir = target_dir()?.join("vmtest");
    fs::create_dir_all(&dir)?;
    let kernels: Vec<(&KernelSpec, PathBuf)> = KERNELS
        .iter()
        .filter(|k| only.is_none_or(|o| o == k.name))
        .map(|k| Ok((k, fetch_kernel(k, &dir)?)))
        .collect::<anyhow::Result<_>>()?;
    ensure!(
        !kernels.is_empty(),
        "no kernel of the matrix is named {only:?}"
    );

    step("building privmon and the test binaries");
    // The workspace's build, as `cargo xtask test` made it (a build of one package alone
    // unifies features differently and rebuilds).
    cargo(&["build"])?;
    let tests = test_binaries()?;
    let initramfs = dir.join("initramfs.cpio");
    let roots: Vec<&Path> = kernels.iter().map(|(_, r)| r.as_path()).collect();
    build_initramfs(&initramfs, &dir, &tests, &roots)?;

    // Workers (one per host CPU, at most one per kernel) taking boots from one queue, the boots that run suites first
    // and the short probe-only ones last, so that those fill in beside the longest boot:
    // two VMs run side by side, one host CPU each (single-threaded TCG). Multi-threaded TCG
    // used both CPUs for one VM, but its guests crashed in their own code patching (int3
    // Oops while static keys or probes were patched, a QEMU 7.2 cross-modifying-code fault)
    // in about one boot of 15, and the guests' tests rarely keep two CPUs busy: measured on
    // 6.1, single-threaded took 1.3x as long per VM, so two side by side finish in about
    // two thirds of the time of one after the other.
    let mut queue: Vec<(&Path, Boot)> = BOOTS
        .iter()
        .filter_map(|boot| {
            let (_, kernel) = kernels.iter().find(|(k, _)| k.name == boot.kernel)?;
            let boot = if probe_only {
                Boot { plan: &[], ..*boot }
            } else {
                *boot
            };
            Some((kernel.as_path(), boot))
        })
        .collect();
    // Longest first (stable: the matrix's order among equals); popped from the end.
    queue.sort_by_key(|(_, b)| std::cmp::Reverse(b.plan.len()));
    queue.reverse();
    let queue = std::sync::Mutex::new(queue);
    let mut results = std::thread::scope(|scope| {
        // One VM per host CPU (single-threaded TCG).
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers: Vec<_> = (0..kernels.len().min(cpus))
            .map(|_| {
                let (queue, initramfs, dir) = (&queue, &initramfs, &dir);
                scope.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        let next = queue.lock().expect("boot queue").pop();
                        let Some((kernel, boot)) = next else {
                            break done;
                        };
                        done.push(run_boot(kernel, initramfs, dir, boot));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a boot thread panicked"))
            .collect::<Vec<_>>()
    });
    // In the matrix's order, whatever order they finished in.
    results.sort_by_key(|(label, ..)| {
        BOOTS
            .iter()
            .position(|b| boot_label(b) == *label)
            .unwrap_or(usize::MAX)
    });

    let report = report(&results);
    fs::write(dir.join("report.md"), &report)?;
    println!("{report}");
    let failed: Vec<&str> = results
        .iter()
        .filter(|(_, _, _, o)| !o.as_ref().is_ok_and(BootResult::passed))
        .map(|(l, ..)| l.as_str())
        .collect();
    ensure!(
        failed.is_empty(),
        "kernel matrix failed on {} (logs: {})",
        failed.join(", "),
        dir.display()
    );
    Ok(())
}

fn boot_label(boot: &Boot) -> String {
    format!(
        "{}-lsm-{}",
        boot.kernel,
        if boot.bpf_lsm { "bpf" } else { "nobpf" }
    )
}

/// Boots one VM of the matrix, again after a guest kernel crash (at most
/// [`CRASH_RETRIES`] times; the report says so).
fn run_boot(
    kernel: &Path,
    initramfs: &Path,
    dir: &Path,
    boot: Boot,
) -> (String, Boot, Duration, anyhow::Result<BootResult>) {
    let label = boot_label(&boot);
    step(&format!("booting Linux {label}"));
    let started = Instant::now();
    let log = dir.join(format!("{label}.log"));
    let mut outcome = boot_vm(kernel, initramfs, &boot, &log, &label);
    for retry in 1..=CRASH_RETRIES {
        if !outcome.as_ref().is_ok_and(|r| r.kernel_crashed) {
            break;
        }
        let kept = log.with_extension(format!("crashed-{retry}.log"));
        eprintln!(
            "    {label}: the guest kernel crashed (log: {}); booting again",
            kept.display()
        );
        let _ = fs::rename(&log, &kept);
        outcome = boot_vm(kernel, initramfs, &boot, &log, &label).map(|mut r| {
            r.retried = retry;
            r
        });
    }
    (label, boot, started.elapsed(), outcome)
}

/// The newest package of the spec in the apt lists, downloaded and unpacked once; returns
/// its unpacked root.
fn fetch_kernel(spec: &KernelSpec, dir: &Path) -> anyhow::Result<PathBuf> {
    let apt_options = match spec.suite {
        Some(suite) => private_apt_lists(suite, dir)?,
        None => Vec::new(),
    };
    let out = Command::new("apt-cache")
        .args(&apt_options)
        .args(["pkgnames", spec.prefix])
        .output()
        .context("running apt-cache")?;
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|n| {
            n.strip_suffix(spec.suffix)
                .and_then(|n| n.strip_prefix(spec.prefix))
                .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit()))
        })
        .map(str::to_string)
        .collect();
    names.sort_by_key(|n| version_key(n));
    let Some(package) = names.pop() else {
        bail!(
            "no {}*{} package in the apt lists ({})",
            spec.prefix,
            spec.suffix,
            match spec.suite {
                Some(suite) => format!(
                    "remove {} to read them again",
                    dir.join(format!("apt-{suite}")).display()
                ),
                None => "run apt-get update".to_string(),
            }
        )
    };
    let root = dir.join("kernels").join(&package);
    if !root.join("boot").is_dir() {
        step(&format!("downloading {package}"));
        let debs = dir.join("debs");
        fs::create_dir_all(&debs)?;
        run(Command::new("apt-get")
            .args(&apt_options)
            .args(["download", "-q", "-o", "APT::Sandbox::User=root", &package])
            .current_dir(&debs))?;
        let deb = fs::read_dir(&debs)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{package}_")))
            })
            .with_context(|| format!("apt-get download left no {package}_*.deb"))?;
        let unpacking = dir.join("kernels").join(format!("{package}.tmp"));
        let _ = fs::remove_dir_all(&unpacking);
        fs::create_dir_all(&unpacking)?;
        run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&unpacking))?;
        fs::rename(&unpacking, &root)?;
        fs::remove_file(&deb)?;
    }
    Ok(root)
}

/// apt options that read Debian's `suite` (from the host's own Debian mirror and keyring)
/// through lists of their own under `dir`, updated here: the host's apt sources and
/// lists stay as they are, so no package of that suite is ever installed on the host.
fn private_apt_lists(suite: &str, dir: &Path) -> anyhow::Result<Vec<String>> {
    let root = dir.join(format!("apt-{suite}"));
    let lists = root.join("lists");
    fs::create_dir_all(lists.join("partial"))?;
    fs::create_dir_all(root.join("cache/archives/partial"))?;
    let sources = root.join("sources.list");
    fs::write(
        &sources,
        format!(
            "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] \
             {DEBIAN_MIRROR} {suite} main\n"
        ),
    )?;
    let options: Vec<String> = [
        format!("Dir::Etc::SourceList={}", sources.display()),
        "Dir::Etc::SourceParts=/nonexistent".to_string(),
        format!("Dir::State::Lists={}", lists.display()),
        format!("Dir::Cache={}", root.join("cache").display()),
    ]
    .into_iter()
    .flat_map(|o| ["-o".to_string(), o])
    .collect();
    // Once: the kernel, once downloaded, stays under `dir` (to look for a newer one,
    // remove the lists).
    let fetched = fs::read_dir(&lists)?
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().ends_with("_Packages"));
    if !fetched {
        step(&format!("reading Debian {suite}'s package lists"));
        run(Command::new("apt-get").args(&options).args([
            "update",
            "-q",
            "-o",
            "APT::Sandbox::User=root",
        ]))?;
    }
    Ok(options)
}

/// The Debian mirror the host's apt sources name (these machines reach no other).
const DEBIAN_MIRROR: &str = "http://deb.debian.org/debian";

/// Numbers in a package name, for ordering versions (6.1.0-9 before 6.1.0-56).
fn version_key(name: &str) -> Vec<u64> {
    name.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// The integration-test executables of [`SUITES`], built without running them.
fn test_binaries() -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut cmd = Command::new("cargo");
    cmd.args(["test", "--package", "privmon-tests", "--no-run"])
        .args(["--message-format", "json"])
        .current_dir(workspace_root())
        .stderr(Stdio::inherit());
    for (suite, _) in SUITES {
        cmd.args(["--test", suite]);
    }
    let out = cmd.output().context("running cargo test --no-run")?;
    ensure!(out.status.success(), "building the test binaries failed");
    let mut found = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let (Some(exe), Some(name)) = (msg["executable"].as_str(), msg["target"]["name"].as_str())
        else {
            continue;
        };
        if SUITES.iter().any(|(s, _)| *s == name) {
            found.push((name.to_string(), PathBuf::from(exe)));
        }
    }
    ensure!(
        found.len() == SUITES.len(),
        "cargo test --no-run named {} of {} test binaries",
        found.len(),
        SUITES.len()
    );
    Ok(found)
}

/// Writes the initramfs: busybox, runc, privmon, the trigger, the test binaries, their
/// shared libraries, and the init scripts.
fn build_initramfs(
    path: &Path,
    dir: &Path,
    tests: &[(String, PathBuf)],
    kernels: &[&Path],
) -> anyhow::Result<()> {
    step("building the initramfs");
    let staging = dir.join("staging");
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging)?;
    let mut archive = Archive::default();

    archive.file("bin/busybox", Path::new("/bin/busybox"), 0o755);
    let runc = which("runc")?;
    archive.file("usr/sbin/runc", &runc, 0o755);
    let mut dynamic = vec![runc];

    let privmon = target_dir()?.join("debug/privmon");
    let stripped = staging.join("privmon");
    strip(&privmon, &stripped)?;
    archive.file("vmtest/privmon", &stripped, 0o755);
    dynamic.push(privmon);

    let trigger = staging.join("trigger");
    run(Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(&trigger)
        .arg(workspace_root().join("tests/triggers/trigger.c")))?;
    archive.file("vmtest/trigger", &trigger, 0o755);

    for (name, exe) in tests {
        let stripped = staging.join(name);
        strip(exe, &stripped)?;
        archive.file(&format!("vmtest/{name}"), &stripped, 0o755);
        dynamic.push(exe.clone());
    }
    for root in kernels {
        for entry in fs::read_dir(root.join("lib/modules"))? {
            let release = entry?.path();
            let release_name = release.file_name().unwrap_or_default().to_string_lossy();
            let module = [TEST_MODULE.to_string(), format!("{TEST_MODULE}.xz")]
                .into_iter()
                .map(|m| release.join(m))
                .find(|m| m.exists())
                .with_context(|| format!("{} has no {TEST_MODULE}", release.display()))?;
            let file = module.file_name().unwrap_or_default().to_string_lossy();
            archive.file(
                &format!("vmtest/modules/{release_name}/{file}"),
                &module,
                0o644,
            );
        }
    }
    for lib in shared_libraries(&dynamic)? {
        let inside = lib.to_string_lossy().trim_start_matches('/').to_string();
        archive.file(&inside, &lib, 0o755);
    }
    archive.data("init", STAGE1.as_bytes(), 0o755);
    archive.data("vmtest/run.sh", run_script().as_bytes(), 0o755);
    archive.write(path)
}

/// PID 1 in the initramfs. runc's pivot_root cannot leave the initramfs (rootfs is the root
/// of the mount tree), so stage 1 copies itself into a tmpfs and switches to it.
const STAGE1: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/usr/sbin
mount -t proc proc /proc 2>/dev/null || { mkdir -p /proc && mount -t proc proc /proc; }
mkdir -p /newroot
mount -t tmpfs -o size=90% tmpfs /newroot
for d in bin lib lib64 usr vmtest; do [ -e /$d ] && cp -a /$d /newroot/; done
mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/tmp /newroot/run /newroot/etc /newroot/root
umount /proc
exec switch_root /newroot /vmtest/run.sh
"#;

/// Stage 2: mounts what the daemon and runc need, probes every hook, runs the suites.
fn run_script() -> String {
    let mut s = String::from(
        r#"#!/bin/sh
export PATH=/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t bpf bpf /sys/fs/bpf
mount -t securityfs securityfs /sys/kernel/security
mount -t tracefs tracefs /sys/kernel/tracing
ip link set lo up
hostname vmtest
echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd
echo "@@vmtest kernel $(uname -r) lsm=$(cat /sys/kernel/security/lsm)"
for hook in HOOKS_PROBED; do
    echo "@@vmtest probe $hook $(/vmtest/privmon probe --json --hook $hook --operations all=on 2>/dev/null)"
done
export PRIVMON_BIN=/vmtest/privmon PRIVMON_TRIGGER=/vmtest/trigger RUST_BACKTRACE=1
export PRIVMON_TEST_MODULE=$(ls /vmtest/modules/$(uname -r)/* | head -n 1)
# Every kernel of the matrix has BPF trampolines: tests that follow the daemon's choice
# between fentry/fexit sources and their fallbacks must see the trampoline sources here.
export PRIVMON_EXPECT_TRAMPOLINES=1
for run in $(tr ' ' '\n' < /proc/cmdline | sed -n 's/^vmtest.plan=//p' | tr , ' '); do
    suite=${run%@*} hook=${run#*@}
    echo "@@vmtest begin $suite $hook"
    case $suite in
"#,
    )
    .replace("HOOKS_PROBED", &PROBED_HOOKS.join(" "));
    // Each test's time goes into the boot's log (libtest's --report-time, unstable: hence
    // RUSTC_BOOTSTRAP), and what a passing test printed (--show-output: the measurements
    // some print for the docs).
    for (suite, skips) in SUITES {
        let skip: String = skips.iter().map(|(t, _)| format!(" --skip {t}")).collect();
        let _ = writeln!(
            s,
            "    {suite}) PRIVMON_TEST_HOOK=$hook RUSTC_BOOTSTRAP=1 /vmtest/{suite} --ignored \
             --test-threads=1 --show-output -Zunstable-options --report-time{skip} ;;"
        );
    }
    s.push_str(
        "    *) false ;;\n    esac\n    echo \"@@vmtest result $suite $hook $?\"\n\
         done\necho '@@vmtest done'\npoweroff -f\n",
    );
    s
}

fn which(program: &str) -> anyhow::Result<PathBuf> {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    ensure!(!path.is_empty(), "{program} is not installed");
    Ok(PathBuf::from(path))
}

fn strip(from: &Path, to: &Path) -> anyhow::Result<()> {
    run(Command::new("objcopy")
        .arg("--strip-debug")
        .arg(from)
        .arg(to))
}

/// Shared libraries the executables load, from ldd.
fn shared_libraries(executables: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut libs = Vec::new();
    for exe in executables {
        let out = Command::new("ldd").arg(exe).output()?;
        ensure!(out.status.success(), "ldd {} failed", exe.display());
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
            // "/lib64/ld-linux-x86-64.so.2 (0x...)"
            let path = line
                .split("=>")
                .last()
                .and_then(|s| s.split_whitespace().next())
                .filter(|p| p.starts_with('/'));
            if let Some(p) = path {
                libs.push(PathBuf::from(p));
            }
        }
    }
    libs.sort();
    libs.dedup();
    Ok(libs)
}

/// A cpio archive in the kernel's initramfs format ("newc"), built in memory order.
#[derive(Default)]
struct Archive {
    entries: BTreeMap<String, Entry>,
}

enum Entry {
    Dir,
    File(PathBuf, u32),
    Data(Vec<u8>, u32),
}

impl Archive {
    fn parents(&mut self, path: &str) {
        let mut at = String::new();
        for part in path
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map_or(&[][..], |(_, p)| p)
        {
            if !at.is_empty() {
                at.push('/');
            }
            at.push_str(part);
            self.entries.entry(at.clone()).or_insert(Entry::Dir);
        }
    }

    fn file(&mut self, path: &str, from: &Path, mode: u32) {
        self.parents(path);
        self.entries
            .insert(path.to_string(), Entry::File(from.to_path_buf(), mode));
    }

    fn data(&mut self, path: &str, data: &[u8], mode: u32) {
        self.parents(path);
        self.entries
            .insert(path.to_string(), Entry::Data(data.to_vec(), mode));
    }

    fn write(&self, path: &Path) -> anyhow::Result<()> {
        let mut out = BufWriter::new(fs::File::create(path)?);
        let mut ino = 1;
        for (name, entry) in &self.entries {
            ino += 1;
            match entry {
                Entry::Dir => header(&mut out, ino, 0o040755, 0, name)?,
                Entry::Data(data, mode) => {
                    header(&mut out, ino, 0o100000 | mode, data.len() as u64, name)?;
                    out.write_all(data)?;
                    pad(&mut out, data.len() as u64)?;
                }
                Entry::File(from, mode) => {
                    // Follow symlinks (ld-linux is one): the archive holds the contents.
                    let meta = fs::metadata(from)
                        .with_context(|| format!("reading {}", from.display()))?;
                    let mode = mode | (meta.permissions().mode() & 0o7000);
                    header(&mut out, ino, 0o100000 | mode, meta.size(), name)?;
                    let copied = std::io::copy(&mut fs::File::open(from)?, &mut out)?;
                    ensure!(
                        copied == meta.size(),
                        "{} changed while archived",
                        from.display()
                    );
                    pad(&mut out, copied)?;
                }
            }
        }
        header(&mut out, 0, 0, 0, "TRAILER!!!")?;
        out.flush()?;
        Ok(())
    }
}

fn header(out: &mut impl Write, ino: u32, mode: u32, size: u64, name: &str) -> anyhow::Result<()> {
    let size = u32::try_from(size).context("a file over 4 GiB in the initramfs")?;
    let namesize = name.len() + 1;
    write!(
        out,
        "070701{ino:08X}{mode:08X}{:08X}{:08X}{:08X}{:08X}{size:08X}{:08X}{:08X}{:08X}{:08X}{namesize:08X}{:08X}",
        0, 0, 1, 0, 0, 0, 0, 0, 0
    )?;
    out.write_all(name.as_bytes())?;
    out.write_all(&[0])?;
    pad(out, 110 + namesize as u64)
}

fn pad(out: &mut impl Write, len: u64) -> anyhow::Result<()> {
    let n = (4 - len % 4) % 4;
    out.write_all(&[0u8; 3][..n as usize])?;
    Ok(())
}

/// What one boot reported.
#[derive(Default)]
struct BootResult {
    kernel: String,
    /// Per probed hook, `privmon probe --json`.
    probes: Vec<(String, Value)>,
    /// (suite, hook, exit code).
    tests: Vec<(String, String, i32)>,
    /// Tests that failed, with their output.
    failures: Vec<String>,
    done: bool,
    /// The guest kernel panicked or oopsed.
    kernel_crashed: bool,
    /// Boots that crashed before this one.
    retried: u32,
}

impl BootResult {
    fn passed(&self) -> bool {
        self.done && self.tests.iter().all(|(.., rc)| *rc == 0)
    }
}

fn boot_vm(
    kernel_root: &Path,
    initramfs: &Path,
    boot: &Boot,
    log: &Path,
    label: &str,
) -> anyhow::Result<BootResult> {
    let vmlinuz = fs::read_dir(kernel_root.join("boot"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
        .context("the kernel package has no boot/vmlinuz-*")?;
    let plan: Vec<String> = boot.plan.iter().map(|(s, h)| format!("{s}@{h}")).collect();
    let mut cmdline = format!(
        "console=ttyS0 panic=-1 loglevel=3 vmtest.plan={}",
        plan.join(",")
    );
    let lsm = if boot.bpf_lsm {
        LSM_WITH_BPF
    } else {
        LSM_WITHOUT_BPF
    };
    cmdline.push_str(&format!(" lsm={lsm}"));
    let mut child = Command::new("qemu-system-x86_64")
        .args([
            "-accel",
            "tcg,thread=single",
            "-cpu",
            "max",
            "-smp",
            "2",
            "-m",
            "4096",
        ])
        .args(["-nographic", "-no-reboot"])
        .arg("-kernel")
        .arg(&vmlinuz)
        .arg("-initrd")
        .arg(initramfs)
        .args(["-append", &cmdline])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting qemu-system-x86_64")?;
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = BufWriter::new(fs::File::create(log)?);
    let mut result = BootResult::default();
    let deadline = Instant::now() + BOOT_TIMEOUT;
    let mut section: Vec<String> = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match rx.recv_timeout(left) {
            Ok(l) => l,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                eprintln!("    {label}: timed out after {BOOT_TIMEOUT:?}");
                break;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let line = line.trim_end_matches('\r').to_string();
        writeln!(log, "{line}")?;
        if line.contains("Kernel panic") || line.contains("Oops:") {
            result.kernel_crashed = true;
        }
        if let Some(secs) = lockup_secs(&line)
            && secs >= LOCKUP_GIVE_UP_SECS
        {
            // Seen once under multi-threaded TCG: both vCPUs stuck in the guest kernel,
            // which then never recovers; waiting for the boot timeout only loses time.
            result.kernel_crashed = true;
            let _ = child.kill();
            eprintln!("    {label}: guest CPUs locked up for {secs} s; stopping the VM");
            break;
        }
        let Some(marker) = line.find("@@vmtest ").map(|i| &line[i + 9..]) else {
            section.push(line);
            continue;
        };
        let mut words = marker.splitn(3, ' ');
        match (words.next(), words.next(), words.next()) {
            (Some("kernel"), Some(release), rest) => {
                result.kernel = format!("{release} {}", rest.unwrap_or(""));
                eprintln!("    {label}: {}", result.kernel);
            }
            (Some("probe"), Some(hook), json) => {
                let doc = serde_json::from_str(json.unwrap_or(""))
                    .unwrap_or_else(|_| Value::String(json.unwrap_or("").to_string()));
                result.probes.push((hook.to_string(), doc));
            }
            (Some("begin"), ..) => section.clear(),
            (Some("result"), Some(suite), Some(rest)) => {
                let (hook, rc) = rest.split_once(' ').unwrap_or((rest, "-1"));
                let summary = section
                    .iter()
                    .rev()
                    .find(|l| l.starts_with("test result:"))
                    .cloned()
                    .unwrap_or_default();
                // A suite that ran nothing (a filter gone wrong) fails too.
                let passed: u32 = summary
                    .split_once(". ")
                    .and_then(|(_, r)| r.split_whitespace().next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let rc: i32 = match rc.trim().parse().unwrap_or(-1) {
                    0 if passed == 0 => -1,
                    rc => rc,
                };
                eprintln!("    {label}: {suite} (hook {hook}): exit {rc} {summary}");
                if rc != 0 {
                    result
                        .failures
                        .push(format!("{suite} (hook {hook}):\n{}", section.join("\n")));
                }
                result.tests.push((suite.to_string(), hook.to_string(), rc));
            }
            (Some("done"), ..) => result.done = true,
            _ => {}
        }
    }
    log.flush()?;
    let _ = child.wait();
    for failure in &result.failures {
        eprintln!("---- {failure}");
    }
    Ok(result)
}

/// The Markdown report: per boot, the capability hook each choice attached, the other
/// families, and the test outcomes.
fn report(results: &[(String, Boot, Duration, anyhow::Result<BootResult>)]) -> String {
    let mut s = String::from(
        "| boot | kernel | capability hook (auto) | hooks that attach | other families | tests | time |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for (label, _, took, outcome) in results {
        let r = match outcome {
            Ok(r) => r,
            Err(e) => {
                let _ = writeln!(s, "| {label} | | | | | error: {e:#} | |");
                continue;
            }
        };
        let probe = |hook: &str| r.probes.iter().find(|(h, _)| h == hook).map(|(_, v)| v);
        let auto = probe("auto")
            .and_then(|v| v["capability_hook"].as_str())
            .unwrap_or("none");
        let attaching: Vec<&str> = PROBED_HOOKS[1..]
            .iter()
            .copied()
            .filter(|h| probe(h).is_some_and(|v| v["capability_hook"].is_string()))
            .collect();
        let families = probe("auto")
            .and_then(|v| v["families"].as_object())
            .map(|f| {
                [
                    "process",
                    "cgroup",
                    "operations/credentials",
                    "operations/capset",
                    "operations/processes",
                ]
                .iter()
                .map(|k| format!("{k}: {}", f.get(*k).and_then(Value::as_str).unwrap_or("?")))
                .collect::<Vec<_>>()
                .join(", ")
            })
            .unwrap_or_default();
        // Every group's fallback syscall tracepoints, forced on in the probe.
        let (hooked, failed) = probe("auto")
            .and_then(|v| v["operations"].as_object())
            .map(|groups| {
                groups.values().fold((0, 0), |(h, f), g| {
                    (
                        h + g["fallback_hooked"].as_array().map_or(0, Vec::len),
                        f + g["fallback_failed"].as_object().map_or(0, |m| m.len()),
                    )
                })
            })
            .unwrap_or((0, 0));
        let families = format!("{families}, syscall fallbacks: {hooked} attached, {failed} failed");
        let tests: Vec<String> = r
            .tests
            .iter()
            .map(|(suite, hook, rc)| {
                format!("{suite}/{hook}: {}", if *rc == 0 { "pass" } else { "FAIL" })
            })
            .collect();
        let mut tests = if r.done {
            tests.join(", ")
        } else {
            format!("{} (did not finish)", tests.join(", "))
        };
        if r.retried > 0 {
            let _ = write!(tests, " (after {} boot(s) crashed under TCG)", r.retried);
        }
        let _ = writeln!(
            s,
            "| {label} | {} | {auto} | {} | {families} | {tests} | {:.0} s |",
            r.kernel.split_whitespace().next().unwrap_or(""),
            attaching.join(", "),
            took.as_secs_f64()
        );
    }
    // Why hooks were passed over, and any family that failed to load (verifier logs).
    s.push_str("\nPer boot, hooks passed over and load failures:\n\n");
    for (label, _, _, outcome) in results {
        let Ok(r) = outcome else { continue };
        for (hook, doc) in &r.probes {
            let mut notes: Vec<String> = doc["skipped"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|k| format!("{} skipped: {}", k["hook"], k["reason"]))
                .collect();
            notes.extend(
                doc["failures"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|f| format!("{} failed: {}", f["family"], f["error"])),
            );
            if let Some(e) = doc["error"].as_str() {
                notes.push(format!("error: {e}"));
            }
            for (group, g) in doc["operations"].as_object().into_iter().flatten() {
                for (name, e) in g["fallback_failed"].as_object().into_iter().flatten() {
                    notes.push(format!("fallback {group}/{name} failed: {e}"));
                }
            }
            if !notes.is_empty() {
                let _ = writeln!(s, "- {label}, --hook {hook}: {}", notes.join("; "));
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::lockup_secs;

    #[test]
    fn soft_lockup_lines_give_their_seconds() {
        assert_eq!(
            lockup_secs(
                "[  289.576875] watchdog: BUG: soft lockup - CPU#1 stuck for 249s! [exe:145]"
            ),
            Some(249)
        );
        assert_eq!(lockup_secs("test result: ok. 10 passed"), None);
    }
}
