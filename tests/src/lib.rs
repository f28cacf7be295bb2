//! Harness for privmon's root-only behavioural tests: the real daemon, real eBPF, real runc
//! containers. Every test runs a trigger, then expects an event (the Pulsar pattern).
//!
//! Everything a test creates (containers, bundles, cgroups, the daemon) is removed on drop.

use std::{
    fs,
    io::{BufRead, BufReader},
    os::unix::fs::{MetadataExt, symlink},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{
        Arc, Condvar, Mutex, OnceLock,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context as _, anyhow, bail, ensure};
use aya::maps::{Map, MapData, MapInfo, PerCpuHashMap};
use monitor_common::{CapCountKey, names};
use serde_json::Value;

/// How long to wait for something that normally takes milliseconds (a failure bound, not a
/// performance goal).
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Fails the test unless it runs as root.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test needs root (real eBPF and runc): run it through `cargo xtask test`"
    );
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_path_buf()
}

/// The daemon binary: `$PRIVMON_BIN`, else the workspace's debug build.
pub fn privmon_bin() -> PathBuf {
    std::env::var_os("PRIVMON_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/debug/privmon"))
}

/// A unique suffix for names made by this test process.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Where cgroup v2 is mounted: `/sys/fs/cgroup` on pure v2 hosts, `/sys/fs/cgroup/unified`
/// on hybrid ones.
pub fn cgroup_v2_root() -> PathBuf {
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        PathBuf::from("/sys/fs/cgroup")
    } else {
        PathBuf::from("/sys/fs/cgroup/unified")
    }
}

/// Whether the running kernel is at least `major.minor` (what a hook needs, where a test
/// proves what the kernel matrix's older kernels do instead).
pub fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let version: Vec<u32> = release
        .split(|c: char| !c.is_ascii_digit())
        .take(2)
        .map(|n| n.parse().unwrap_or(0))
        .collect();
    version.as_slice() >= [major, minor].as_slice()
}

/// The statically linked trigger program (tests/triggers/trigger.c), built once per test
/// run into the target directory; `$PRIVMON_TRIGGER` names a prebuilt one (the kernel
/// matrix VM has no compiler).
pub fn trigger_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(prebuilt) = std::env::var_os("PRIVMON_TRIGGER") {
            return PathBuf::from(prebuilt);
        }
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("triggers/trigger.c");
        let dir = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target"))
            .join("test-triggers");
        fs::create_dir_all(&dir).expect("creating the trigger build directory");
        let out = dir.join("trigger");
        let tmp = dir.join(unique("trigger.tmp"));
        let status = Command::new("gcc")
            .args(["-static", "-O2", "-o"])
            .arg(&tmp)
            .arg(&src)
            .status()
            .expect("running gcc");
        assert!(status.success(), "building {} failed", src.display());
        fs::rename(&tmp, &out).expect("moving the trigger into place");
        out
    })
}

/// Output lines of a child, collected by a reader thread.
#[derive(Default)]
struct Lines {
    /// The lines, and whether the stream has ended.
    lines: Mutex<(Vec<String>, bool)>,
    changed: Condvar,
}

impl Lines {
    fn follow(self: &Arc<Self>, stream: impl std::io::Read + Send + 'static) {
        let this = self.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                this.lines.lock().unwrap().0.push(line);
                this.changed.notify_all();
            }
            this.lines.lock().unwrap().1 = true;
            this.changed.notify_all();
        });
    }

    /// Waits until a line satisfies `pred`, returning it; `None` on timeout or end of stream.
    fn wait_for(&self, timeout: Duration, mut pred: impl FnMut(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let mut guard = self.lines.lock().unwrap();
        let mut seen = 0;
        loop {
            if let Some(l) = guard.0[seen..].iter().find(|l| pred(l)) {
                return Some(l.clone());
            }
            seen = guard.0.len();
            if guard.1 {
                return None;
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            guard = self.changed.wait_timeout(guard, left).unwrap().0;
        }
    }

    /// Waits for the end of the stream (the process closed it or exited).
    fn wait_closed(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut guard = self.lines.lock().unwrap();
        while !guard.1 {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            guard = self.changed.wait_timeout(guard, left).unwrap().0;
        }
        true
    }

    fn snapshot(&self) -> Vec<String> {
        self.since(0)
    }

    /// The lines from the `start`th on.
    fn since(&self, start: usize) -> Vec<String> {
        let guard = self.lines.lock().unwrap();
        guard.0.get(start..).unwrap_or_default().to_vec()
    }
}

/// Collects a child's piped stdout and stderr lines.
fn follow_output(child: &mut Child) -> (Arc<Lines>, Arc<Lines>) {
    let stdout = Arc::new(Lines::default());
    let stderr = Arc::new(Lines::default());
    stdout.follow(child.stdout.take().expect("stdout is piped"));
    stderr.follow(child.stderr.take().expect("stderr is piped"));
    (stdout, stderr)
}

/// A running `privmon run`.
pub struct Daemon {
    child: Child,
    stdout: Arc<Lines>,
    stderr: Arc<Lines>,
    /// Events already parsed and checked against the schema, in order: [`Daemon::events`]
    /// checks each line once (a flood test asks for tens of thousands, many times).
    checked: Mutex<Vec<Value>>,
    /// Where its HTTP endpoints listen.
    pub address: String,
}

impl Daemon {
    /// Starts the daemon with extra `privmon run` arguments and waits until it is ready.
    /// Its endpoints listen on a free loopback port unless `args` has `--listen`.
    pub fn start(args: &[&str]) -> anyhow::Result<Daemon> {
        Daemon::start_wrapped(&[], args)
    }

    /// [`Daemon::start`] through a wrapper command that execs its last argument (e.g.
    /// `setpriv --bounding-set ...`): the daemon keeps the wrapper's pid.
    pub fn start_wrapped(wrapper: &[&str], args: &[&str]) -> anyhow::Result<Daemon> {
        Daemon::spawn(wrapper, &[], args)
    }

    /// [`Daemon::start`] with extra environment variables (test knobs of the daemon).
    pub fn start_with_env(env: &[(&str, &str)], args: &[&str]) -> anyhow::Result<Daemon> {
        Daemon::spawn(&[], env, args)
    }

    fn spawn(wrapper: &[&str], env: &[(&str, &str)], args: &[&str]) -> anyhow::Result<Daemon> {
        let bin = privmon_bin();
        let listen: &[&str] = if args.contains(&"--listen") {
            &[]
        } else {
            &["--listen", "127.0.0.1:0"]
        };
        // The advisor keeps its state in memory unless a test gives it a directory: tests
        // must not write the host's /var/lib/privmon.
        let state: &[&str] = if args.contains(&"--state-dir") {
            &[]
        } else {
            &["--no-state"]
        };
        // The kernel matrix runs the same tests once per capability hook.
        let hook = std::env::var("PRIVMON_TEST_HOOK").ok();
        let hook: Vec<&str> = match &hook {
            Some(h) if !args.contains(&"--hook") => vec!["--hook", h],
            _ => vec![],
        };
        let mut command = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(&bin);
                c
            }
            None => Command::new(&bin),
        };
        let mut child = command
            .arg("run")
            .args(["--stats-interval-secs", "0"])
            .args(listen)
            .args(&hook)
            .args(state)
            .args(args)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let (stdout, stderr) = follow_output(&mut child);
        let mut daemon = Daemon {
            child,
            stdout,
            stderr,
            checked: Mutex::default(),
            address: String::new(),
        };
        if daemon
            .stderr
            .wait_for(PATIENCE, |l| l.contains("privmon ready"))
            .is_none()
        {
            bail!(
                "privmon did not become ready; stderr:\n{}",
                daemon.stderr.snapshot().join("\n")
            );
        }
        // Logged before the probes load: "serving /metrics, ... address=127.0.0.1:41234".
        daemon.address = daemon
            .stderr
            .snapshot()
            .iter()
            .find_map(|l| {
                l.contains("serving /metrics")
                    .then(|| {
                        l.split("address=")
                            .nth(1)?
                            .split_whitespace()
                            .next()
                            .map(str::to_string)
                    })
                    .flatten()
            })
            .context("the daemon did not log its listening address")?;
        Ok(daemon)
    }

    /// GETs a path of the daemon's HTTP server: (status, body).
    pub fn get(&self, path: &str) -> anyhow::Result<(u16, String)> {
        http_get(&format!("http://{}{path}", self.address))
    }

    /// The daemon's `/metrics`, parsed.
    pub fn metrics(&self) -> anyhow::Result<Metrics> {
        let (status, body) = self.get("/metrics")?;
        ensure!(status == 200, "/metrics answered {status}: {body}");
        Ok(Metrics::parse(&body))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The daemon's log lines so far.
    pub fn logs(&self) -> Vec<String> {
        self.stderr.snapshot()
    }

    /// Every event written so far, parsed and checked against the event schema (a line
    /// that is not a valid event fails the test).
    pub fn events(&self) -> Vec<Value> {
        let mut checked = self.checked.lock().unwrap();
        let new = self.stdout.since(checked.len());
        checked.extend(new.iter().map(|l| checked_event(l)));
        checked.clone()
    }

    /// Every line written about container `c`, once it is deleted: its processes' exits,
    /// which write what their threads held, come before its `container_stop`.
    pub fn lines_of(&self, c: Container) -> Vec<Value> {
        let (id, cgroup_id) = (c.id.clone(), c.cgroup_id);
        c.delete();
        self.wait_for_event(|e| {
            e["kind"] == "container_stop" && e["container"]["id"] == short_id(&id)
        })
        .unwrap_or_else(|| panic!("no container_stop for {id}"));
        self.events()
            .into_iter()
            .filter(|e| in_container(e, &id) || e["cgroup"]["id"] == cgroup_id)
            .collect()
    }

    /// The lines of container `c` (as [`Daemon::lines_of`]) about the trigger's calls of
    /// `syscall`.
    pub fn trigger_calls_of(&self, c: Container, syscall: &str) -> Vec<Value> {
        self.lines_of(c)
            .into_iter()
            .filter(|e| e["process"]["comm"] == "trigger" && e["syscall"]["name"] == syscall)
            .collect()
    }

    /// Waits for an event matching `pred`; every line read on the way is checked against
    /// the event schema.
    pub fn wait_for_event(&self, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        self.stdout
            .wait_for(PATIENCE, |l| pred(&checked_event(l)))
            .map(|l| checked_event(&l))
    }

    /// Returns once every record the kernel produced before this call has been written:
    /// makes a uniquely named host process do a capability check and waits for its event
    /// (the ring buffer and the queue are both first in, first out).
    /// Needs `--watch all` (the marker is a host process).
    pub fn sync(&self) -> anyhow::Result<()> {
        let name = host_check()?;
        self.wait_for_event(|e| e["process"]["comm"] == name.as_str())
            .map(|_| ())
            .ok_or_else(|| anyhow!("marker event for {name} never arrived"))
    }

    /// Entries of the daemon's in-kernel counter map (one per cgroup, capability and
    /// verdict seen).
    pub fn cap_counts_len(&self) -> anyhow::Result<usize> {
        let map = daemon_map(self.pid(), names::CAP_COUNTS)?;
        let counts: PerCpuHashMap<MapData, CapCountKey, u64> =
            PerCpuHashMap::try_from(Map::from_map_data(map)?)?;
        Ok(counts.keys().filter(Result::is_ok).count())
    }

    /// Entries of the daemon's first-seen filter (an LRU map).
    pub fn cap_seen_len(&self) -> anyhow::Result<usize> {
        let map = daemon_map(self.pid(), names::CAP_SEEN)?;
        let seen: aya::maps::HashMap<MapData, monitor_common::CapSeenKey, u64> =
            aya::maps::HashMap::try_from(Map::from_map_data(map)?)?;
        Ok(seen.keys().filter(Result::is_ok).count())
    }

    /// Sum over CPUs of the daemon's in-kernel counter for (cgroup, cap, verdict), read
    /// straight from its `CAP_COUNTS` map after running its `flush_counts` program on
    /// every CPU, as the daemon does before it reads (the probe counts repeats per CPU).
    pub fn cap_count(&self, cgroup_id: u64, cap: u32, verdict: u32) -> anyhow::Result<u64> {
        self.flush_counts()?;
        let map = daemon_map(self.pid(), names::CAP_COUNTS)?;
        let counts: PerCpuHashMap<MapData, CapCountKey, u64> =
            PerCpuHashMap::try_from(Map::from_map_data(map)?)?;
        let key = CapCountKey {
            cgroup_id,
            cap,
            verdict,
        };
        match counts.get(&key, 0) {
            Ok(values) => Ok(values.iter().sum()),
            Err(aya::maps::MapError::KeyNotFound) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    /// Runs the daemon's `flush_counts` program on every online CPU.
    pub fn flush_counts(&self) -> anyhow::Result<()> {
        let ids = self.program_ids()?;
        for info in aya::programs::loaded_programs().filter_map(Result::ok) {
            if ids.contains(&info.id()) && info.name_as_str() == Some("flush_counts") {
                return privmon::kernel::flush::CountFlush::from_fd(info.fd()?).run_checked();
            }
        }
        bail!("privmon (pid {}) holds no flush_counts program", self.pid())
    }

    /// Ids of the BPF programs the daemon holds.
    pub fn program_ids(&self) -> anyhow::Result<Vec<u32>> {
        bpf_object_ids(self.pid(), "prog_id")
    }

    /// Stops the daemon with SIGTERM and returns how it exited.
    pub fn stop(mut self) -> anyhow::Result<ExitStatus> {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            ensure!(
                Instant::now() < deadline,
                "privmon did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A real HTTP GET (ureq): (status, body), whatever the status.
pub fn http_get(url: &str) -> anyhow::Result<(u16, String)> {
    http("GET", url)
}

/// A real HTTP POST with an empty body (ureq): (status, body), whatever the status.
pub fn http_post(url: &str) -> anyhow::Result<(u16, String)> {
    http("POST", url)
}

fn http(method: &str, url: &str) -> anyhow::Result<(u16, String)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut resp = match method {
        "POST" => agent.post(url).send_empty(),
        _ => agent.get(url).call(),
    }
    .with_context(|| format!("{method} {url}"))?;
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_string()?;
    Ok((status, body))
}

/// Prometheus text exposition, parsed into samples.
pub struct Metrics {
    pub text: String,
    /// (name, labels, value)
    pub samples: Vec<(String, std::collections::BTreeMap<String, String>, f64)>,
}

impl Metrics {
    pub fn parse(text: &str) -> Metrics {
        let mut samples = Vec::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (series, value) = line.rsplit_once(' ').expect("sample line has a value");
            let value: f64 = value.parse().expect("sample value is a number");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, parse_labels(rest.trim_end_matches('}'))),
                None => (series, Default::default()),
            };
            samples.push((name.to_string(), labels, value));
        }
        Metrics {
            text: text.to_string(),
            samples,
        }
    }

    /// Families named by a `# TYPE` line (present even before their first sample).
    pub fn families(&self) -> Vec<String> {
        self.text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_string)
            .collect()
    }

    /// Values of the samples of `name` whose labels include all of `labels`.
    pub fn values(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        self.samples
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, _, v)| *v)
            .collect()
    }

    /// The one sample of `name` with these labels; `None` if absent.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let v = self.values(name, labels);
        assert!(v.len() <= 1, "{name}{labels:?} matches {} series", v.len());
        v.first().copied()
    }
}

fn parse_labels(s: &str) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    let mut rest = s;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        value.push(if n == 'n' { '\n' } else { n });
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        out.insert(key.trim_start_matches(',').to_string(), value);
        rest = &after[end..];
    }
    out
}

/// Runs a host process with a unique name that makes one capability check (CAP_SYS_NICE);
/// returns its name (`comm`).
pub fn host_check() -> anyhow::Result<String> {
    host_check_in(None)
}

/// [`host_check`] in a cgroup of the v2 hierarchy (a directory under [`cgroup_v2_root`]).
pub fn host_check_in(cgroup: Option<&Path>) -> anyhow::Result<String> {
    let dir = std::env::temp_dir().join(unique("privmon-mark-"));
    fs::create_dir_all(&dir)?;
    // comm is the executable's name (15 bytes at most): unique, so never deduplicated.
    let name: String = format!("mk{}", unique("")).chars().take(15).collect();
    let link = dir.join(&name);
    symlink(trigger_binary(), &link)?;
    let out = match cgroup {
        None => Command::new(&link).arg("nice").output()?,
        // The shell moves itself into the cgroup, then becomes the marker.
        Some(cg) => Command::new("sh")
            .arg("-c")
            .arg(r#"echo $$ > "$1/cgroup.procs" && exec "$0" nice"#)
            .arg(&link)
            .arg(cg)
            .output()?,
    };
    fs::remove_dir_all(&dir)?;
    ensure!(out.status.success(), "marker process failed: {out:?}");
    Ok(name)
}

/// Parses one output line and checks it against docs/event.schema.json; panics otherwise.
pub fn checked_event(line: &str) -> Value {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    let schema = SCHEMA.get_or_init(|| {
        // Compiled in: the kernel matrix (cargo xtask vmtest) runs these tests in a VM
        // without the source tree.
        let text = include_str!("../../docs/event.schema.json");
        let schema: Value = serde_json::from_str(text).expect("the event schema is JSON");
        jsonschema::validator_for(&schema).expect("the event schema is a valid JSON Schema")
    });
    let event: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("output line is not JSON ({e}): {line}"));
    let errors: Vec<String> = schema.iter_errors(&event).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "event breaks docs/event.schema.json: {errors:?}\n{line}"
    );
    event
}

/// Ids of the BPF objects of one type (`map_id` or `prog_id`) a process holds open.
fn bpf_object_ids(pid: u32, field: &str) -> anyhow::Result<Vec<u32>> {
    let mut ids = Vec::new();
    for entry in fs::read_dir(format!("/proc/{pid}/fdinfo"))? {
        let Ok(info) = fs::read_to_string(entry?.path()) else {
            continue;
        };
        if let Some(id) = info
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse::<u32>().ok())
        {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// The kernel's run count and total run time (ns) of process `pid`'s BPF program whose
/// name starts with `name` (names are cut at 15 bytes), read from its descriptor's fdinfo:
/// counted while `kernel.bpf_stats_enabled` is 1 (see [`BpfStats`]).
pub fn program_stats(pid: u32, name: &str) -> anyhow::Result<(u64, u64)> {
    let ids: Vec<u32> = loaded_programs()
        .into_iter()
        .filter(|(_, n)| name.starts_with(n.as_str()) && !n.is_empty())
        .map(|(id, _)| id)
        .collect();
    for entry in fs::read_dir(format!("/proc/{pid}/fdinfo"))? {
        let Ok(info) = fs::read_to_string(entry?.path()) else {
            continue;
        };
        let field = |f: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(f)?.strip_prefix(':'))
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        if field("prog_id").is_some_and(|id| ids.contains(&(id as u32))) {
            return Ok((
                field("run_cnt").unwrap_or(0),
                field("run_time_ns").unwrap_or(0),
            ));
        }
    }
    bail!("process {pid} holds no program named {name}")
}

/// `kernel.bpf_stats_enabled` on for as long as this lives (the kernel then times every
/// BPF program's runs), back to what it was after.
pub struct BpfStats(String);

impl BpfStats {
    pub fn on() -> anyhow::Result<BpfStats> {
        const PATH: &str = "/proc/sys/kernel/bpf_stats_enabled";
        let before = fs::read_to_string(PATH)?.trim().to_string();
        fs::write(PATH, "1")?;
        Ok(BpfStats(before))
    }
}

impl Drop for BpfStats {
    fn drop(&mut self) {
        let _ = fs::write("/proc/sys/kernel/bpf_stats_enabled", &self.0);
    }
}

/// Finds one of a process's BPF maps by name, through its file descriptors.
fn daemon_map(pid: u32, name: &str) -> anyhow::Result<MapData> {
    for id in bpf_object_ids(pid, "map_id")? {
        if MapInfo::from_id(id)?.name_as_str() == Some(name) {
            return Ok(MapData::from_id(id)?);
        }
    }
    bail!("process {pid} holds no map named {name}")
}

/// Ids and names of the BPF programs currently loaded in the kernel.
pub fn loaded_programs() -> Vec<(u32, String)> {
    aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .map(|p| (p.id(), p.name_as_str().unwrap_or_default().to_string()))
        .collect()
}

/// Image name the test containers carry in their CRI annotations.
pub const TEST_IMAGE: &str = "registry.example/privmon/trigger:test";
/// Pod name and namespace of the test containers' CRI annotations.
/// Every capability the host's init may hold: "all capabilities" on this node.
pub fn host_capabilities() -> Vec<String> {
    let status = fs::read_to_string("/proc/1/status").expect("reading /proc/1/status");
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .expect("CapBnd in /proc/1/status")
        .trim();
    let mask = u64::from_str_radix(hex, 16).expect("CapBnd is hexadecimal");
    privmon::catalog::capabilities::Capability::from_mask(mask)
        .map(privmon::catalog::capabilities::Capability::name)
        .collect()
}

pub const TEST_POD: &str = "privmon-test-pod";
pub const TEST_NAMESPACE: &str = "privmon-tests";

/// What to run in a test container.
#[derive(Default)]
pub struct ContainerSpec<'a> {
    /// Process arguments (the trigger is at /bin/trigger, busybox at /bin/busybox).
    pub args: &'a [&'a str],
    /// Capabilities of the process (bounding, effective, permitted).
    pub capabilities: &'a [&'a str],
    /// Run in a user namespace of its own (ids mapped one to one onto the host's).
    pub user_namespace: bool,
    /// Share the host's pid namespace.
    pub host_pid: bool,
    pub no_new_privs: bool,
    pub readonly_root: bool,
    /// A seccomp filter (allow all but ptrace).
    pub seccomp: bool,
    /// Read-only bind mounts (host source, container destination).
    pub bind_mounts: &'a [(&'a str, &'a str)],
    /// Writable bind mounts (host source, container destination).
    pub rw_bind_mounts: &'a [(&'a str, &'a str)],
    /// Pod name annotation (default [`TEST_POD`]).
    pub pod: Option<&'a str>,
    /// Run the process as this uid (and gid); default root.
    pub uid: Option<u32>,
    /// Also install the trigger as /bin/suid-trigger, set-user-id root.
    pub setuid_trigger: bool,
    /// Also install the trigger as /bin/sgid-trigger, set-group-id to group 42.
    pub setgid_trigger: bool,
    /// Also install the trigger as /bin/fcap-trigger with file capabilities: these
    /// capability numbers permitted and effective (`setcap cap_...+ep`).
    pub file_caps: &'a [u32],
    /// Also make `capabilities` inheritable and ambient: a non-root `uid` then holds them.
    pub ambient: bool,
    /// The device cgroup lets it read and write every block device (as `--device` or a
    /// privileged container would); runc's default refuses their open.
    pub block_devices: bool,
}

/// The group of /bin/sgid-trigger ([`ContainerSpec::setgid_trigger`]).
pub const SETGID_GROUP: u32 = 42;

/// Writes `security.capability` (VFS_CAP_REVISION_2, effective bit set): what
/// `setcap cap_...+ep` does, without needing libcap's tools.
pub fn set_file_capabilities(path: &Path, caps: &[u32]) -> anyhow::Result<()> {
    const VFS_CAP_REVISION_2: u32 = 0x0200_0000;
    const VFS_CAP_FLAGS_EFFECTIVE: u32 = 1;
    let mut permitted = [0u32; 2];
    for c in caps {
        permitted[(*c / 32) as usize] |= 1 << (c % 32);
    }
    // magic_etc, then (permitted, inheritable) for the low and the high 32 bits.
    let words = [
        VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE,
        permitted[0],
        0,
        permitted[1],
        0,
    ];
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())?;
    // SAFETY: valid NUL-terminated strings and a buffer of the given length.
    let rc = unsafe {
        libc::setxattr(
            c_path.as_ptr(),
            c"security.capability".as_ptr(),
            bytes.as_ptr().cast(),
            bytes.len(),
            0,
        )
    };
    anyhow::ensure!(
        rc == 0,
        "setting security.capability on {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
    Ok(())
}

/// Lays out a root filesystem of busybox (`busybox-static`) in `rootfs`: the usual mount
/// points and `/bin/busybox` with `applets` linked to it.
pub fn busybox_rootfs(rootfs: &Path, applets: &[&str]) -> anyhow::Result<()> {
    for d in ["bin", "proc", "dev", "sys", "tmp", "etc"] {
        fs::create_dir_all(rootfs.join(d))?;
    }
    fs::copy("/bin/busybox", rootfs.join("bin/busybox"))
        .context("copying busybox (busybox-static)")?;
    for applet in applets {
        symlink("busybox", rootfs.join("bin").join(applet))?;
    }
    Ok(())
}

/// A runc container with a busybox root filesystem and a Kubernetes-style cgroup path,
/// created (not yet started) so that its cgroup and pid are known before it runs.
pub struct Container {
    pub id: String,
    pub pod_uid: String,
    /// Host pid of the container's process.
    pub pid: u32,
    /// cgroup v2 id (inode of the cgroup directory).
    pub cgroup_id: u64,
    /// cgroup path relative to the v2 root.
    pub cgroup_path: String,
    bundle: PathBuf,
    stdout: PathBuf,
}

impl Container {
    pub fn create(spec: &ContainerSpec) -> anyhow::Result<Container> {
        let pod_uid = format!(
            "{:08x}-0000-4000-8000-{:012x}",
            std::process::id(),
            rand_u64() & 0xffff_ffff_ffff
        );
        let id = format!(
            "{:016x}{:016x}{:016x}{:016x}",
            rand_u64(),
            rand_u64(),
            rand_u64(),
            rand_u64()
        );
        let cgroup_path = format!("/kubepods/besteffort/pod{pod_uid}/{id}");
        let bundle = std::env::temp_dir().join(unique("privmon-bundle-"));
        let rootfs = bundle.join("rootfs");
        busybox_rootfs(
            &rootfs,
            &[
                "sh", "true", "unshare", "nice", "mkdir", "cat", "cp", "rm", "tar", "echo", "seq",
                "ls", "chmod", "chown", "gzip", "sleep", "date",
            ],
        )?;
        fs::create_dir_all(rootfs.join("mnt"))?;
        fs::copy(trigger_binary(), rootfs.join("bin/trigger"))?;
        if spec.setuid_trigger {
            use std::os::unix::fs::PermissionsExt;
            let suid = rootfs.join("bin/suid-trigger");
            fs::copy(trigger_binary(), &suid)?;
            fs::set_permissions(&suid, fs::Permissions::from_mode(0o4755))?;
        }
        if spec.setgid_trigger {
            use std::os::unix::fs::PermissionsExt;
            let sgid = rootfs.join("bin/sgid-trigger");
            fs::copy(trigger_binary(), &sgid)?;
            std::os::unix::fs::chown(&sgid, Some(0), Some(SETGID_GROUP))?;
            // After the chown: a chown clears the set-group-id bit.
            fs::set_permissions(&sgid, fs::Permissions::from_mode(0o2755))?;
        }
        if !spec.file_caps.is_empty() {
            let fcap = rootfs.join("bin/fcap-trigger");
            fs::copy(trigger_binary(), &fcap)?;
            set_file_capabilities(&fcap, spec.file_caps)?;
        }
        let caps: Vec<String> = spec.capabilities.iter().map(|c| c.to_string()).collect();
        let ambient: Vec<String> = if spec.ambient {
            caps.clone()
        } else {
            Vec::new()
        };
        let mut config = serde_json::json!({
            "ociVersion": "1.0.2",
            "process": {
                "terminal": false,
                "user": {"uid": spec.uid.unwrap_or(0), "gid": spec.uid.unwrap_or(0)},
                "args": spec.args,
                "env": ["PATH=/bin"],
                "cwd": "/",
                "capabilities": {
                    "bounding": caps, "effective": caps, "permitted": caps,
                    "inheritable": ambient, "ambient": ambient
                },
                "noNewPrivileges": spec.no_new_privs
            },
            "root": {"path": "rootfs", "readonly": spec.readonly_root},
            "hostname": "privmon-test",
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/sys", "type": "sysfs", "source": "sysfs",
                 "options": ["nosuid", "noexec", "nodev", "ro"]}
            ],
            "annotations": {
                "io.kubernetes.cri.container-type": "container",
                "io.kubernetes.cri.sandbox-uid": pod_uid,
                "io.kubernetes.cri.sandbox-name": spec.pod.unwrap_or(TEST_POD),
                "io.kubernetes.cri.sandbox-namespace": TEST_NAMESPACE,
                "io.kubernetes.cri.container-name": "trigger",
                "io.kubernetes.cri.image-name": TEST_IMAGE
            },
            "linux": {
                "cgroupsPath": cgroup_path,
                "namespaces": [
                    {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                    {"type": "uts"}, {"type": "mount"}
                ]
            }
        });
        let mounts = spec
            .bind_mounts
            .iter()
            .map(|m| (m, "ro"))
            .chain(spec.rw_bind_mounts.iter().map(|m| (m, "rw")));
        for ((source, destination), mode) in mounts {
            // The mount point is a directory or a file, like its source.
            let point = rootfs.join(destination.trim_start_matches('/'));
            if Path::new(source).is_dir() {
                fs::create_dir_all(&point)?;
            } else {
                fs::create_dir_all(point.parent().unwrap_or(&rootfs))?;
                fs::File::create(&point)?;
            }
            config["mounts"]
                .as_array_mut()
                .expect("mounts is an array")
                .push(serde_json::json!({
                    "destination": destination, "type": "bind", "source": source,
                    "options": ["rbind", mode]
                }));
        }
        if spec.host_pid {
            config["linux"]["namespaces"]
                .as_array_mut()
                .expect("namespaces is an array")
                .retain(|n| n["type"] != "pid");
        }
        if spec.block_devices {
            config["linux"]["resources"] = serde_json::json!({
                "devices": [{"allow": true, "type": "b", "access": "rwm"}]
            });
        }
        if spec.seccomp {
            config["linux"]["seccomp"] = serde_json::json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
                "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ERRNO"}]
            });
        }
        if spec.user_namespace {
            let map = serde_json::json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
            let linux = &mut config["linux"];
            linux["namespaces"]
                .as_array_mut()
                .expect("namespaces is an array")
                .push(serde_json::json!({"type": "user"}));
            linux["uidMappings"] = map.clone();
            linux["gidMappings"] = map;
        }
        fs::write(
            bundle.join("config.json"),
            serde_json::to_vec_pretty(&config)?,
        )?;
        let stdout = bundle.join("stdout");
        let mut container = Container {
            id,
            pod_uid,
            pid: 0,
            cgroup_id: 0,
            cgroup_path,
            bundle,
            stdout,
        };
        let out = fs::File::create(&container.stdout)?;
        let status = Command::new("runc")
            .args(["create", "--bundle"])
            .arg(&container.bundle)
            .arg(&container.id)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .status()
            .context("running runc create")?;
        ensure!(
            status.success(),
            "runc create failed: {}",
            container.output()
        );
        let state = container.state()?;
        container.pid = state["pid"].as_u64().context("runc state has no pid")? as u32;
        let dir = cgroup_v2_root().join(container.cgroup_path.trim_start_matches('/'));
        if spec.user_namespace {
            let uid_map = fs::read_to_string(format!("/proc/{}/uid_map", container.pid))?;
            ensure!(
                !uid_map.contains("4294967295"),
                "container {} is not in a user namespace of its own: uid_map {uid_map:?}",
                container.id
            );
        }
        container.cgroup_id = fs::metadata(&dir)
            .with_context(|| format!("container cgroup {} missing", dir.display()))?
            .ino();
        Ok(container)
    }

    fn state(&self) -> anyhow::Result<Value> {
        let out = Command::new("runc").args(["state", &self.id]).output()?;
        ensure!(
            out.status.success(),
            "runc state: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(serde_json::from_slice(&out.stdout)?)
    }

    /// What the container printed so far.
    pub fn output(&self) -> String {
        fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// Starts the container's process.
    pub fn start(&self) -> anyhow::Result<()> {
        let status = Command::new("runc").args(["start", &self.id]).status()?;
        ensure!(status.success(), "runc start failed: {}", self.output());
        Ok(())
    }

    /// Starts the container and waits for its process to exit; returns its output.
    pub fn run_to_completion(&self) -> anyhow::Result<String> {
        self.start()?;
        self.wait_stopped()
    }

    /// Waits for the container's process to exit; returns its output.
    pub fn wait_stopped(&self) -> anyhow::Result<String> {
        let deadline = Instant::now() + PATIENCE;
        while self.state()?["status"] != "stopped" {
            ensure!(
                Instant::now() < deadline,
                "container still running: {}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(self.output())
    }
}

impl Container {
    /// Deletes the container (its cgroup goes with it).
    pub fn delete(self) {}
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("runc")
            .args(["delete", "--force", &self.id])
            .stderr(Stdio::null())
            .status();
        let _ = fs::remove_dir_all(&self.bundle);
        // runc removes the container's cgroup; the pod-level parents are ours.
        remove_pod_cgroups(&self.pod_uid);
    }
}

/// Removes a test pod's cgroup directories (`kubepods/besteffort/pod<uid>` and, when
/// empty, its parents), in the v2 hierarchy and in every v1 controller (hybrid layout).
/// The runtime removes the containers' own cgroups, not these.
pub fn remove_pod_cgroups(pod_uid: &str) {
    let pod = format!("kubepods/besteffort/pod{pod_uid}");
    let mut roots = vec![PathBuf::from("/sys/fs/cgroup")];
    if let Ok(entries) = fs::read_dir("/sys/fs/cgroup") {
        roots.extend(entries.flatten().map(|e| e.path()));
    }
    for root in roots {
        for rel in [pod.as_str(), "kubepods/besteffort", "kubepods"] {
            let _ = fs::remove_dir(root.join(rel));
        }
    }
}

fn rand_u64() -> u64 {
    let mut buf = [0u8; 8];
    // SAFETY: getrandom writes at most buf.len() bytes into buf.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    assert_eq!(n, 8, "getrandom failed");
    u64::from_ne_bytes(buf)
}

/// Runs `bpftrace` counting `capability:cap_capable` hits for one (cgroup, cap, ret == 0):
/// an independent count of the kernel tracepoint, to check privmon's counters against.
pub struct TracepointCounter {
    child: Child,
    stdout: Arc<Lines>,
    /// tracefs was mounted for this counter, and is unmounted after it.
    mounted_tracefs: bool,
}

const TRACEFS: &str = "/sys/kernel/tracing";

/// Mounts tracefs if it is not; returns whether it did.
fn ensure_tracefs() -> anyhow::Result<bool> {
    if Path::new(TRACEFS).join("events").is_dir() {
        return Ok(false);
    }
    let status = Command::new("mount")
        .args(["-t", "tracefs", "tracefs", TRACEFS])
        .status()?;
    ensure!(status.success(), "mounting tracefs at {TRACEFS} failed");
    Ok(true)
}

impl TracepointCounter {
    pub fn start(cgroup_id: u64, cap: u32) -> anyhow::Result<TracepointCounter> {
        let mounted_tracefs = ensure_tracefs()?;
        let script = format!(
            "tracepoint:capability:cap_capable /cgroup == {cgroup_id} && args->cap == {cap} && args->ret == 0/ {{ @n = count(); }}"
        );
        let mut child = Command::new("bpftrace")
            .arg("-e")
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting bpftrace")?;
        let (stdout, stderr) = follow_output(&mut child);
        let counter = TracepointCounter {
            child,
            stdout,
            mounted_tracefs,
        };
        if counter
            .stdout
            .wait_for(PATIENCE, |l| l.starts_with("Attaching"))
            .is_none()
        {
            bail!("bpftrace did not attach: {}", stderr.snapshot().join("\n"));
        }
        Ok(counter)
    }

    /// Stops bpftrace and returns its count (bpftrace prints `@n: N` at exit, nothing for 0).
    pub fn finish(mut self) -> anyhow::Result<u64> {
        // bpftrace 0.17 sometimes misses a SIGINT (seen in CI: it ran on with the signal
        // handled); its count is printed only when it exits on one, so ask again every
        // 2 s, within the usual patience.
        let deadline = Instant::now() + PATIENCE;
        let mut exited = false;
        while !exited && Instant::now() < deadline {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
            exited = self.stdout.wait_closed(Duration::from_secs(2));
        }
        ensure!(
            exited,
            "bpftrace did not exit on SIGINT within {PATIENCE:?}"
        );
        let _ = self.child.wait();
        match self
            .stdout
            .snapshot()
            .iter()
            .find_map(|l| l.strip_prefix("@n: "))
        {
            Some(n) => Ok(n.trim().parse()?),
            None => Ok(0),
        }
    }
}

impl Drop for TracepointCounter {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if self.mounted_tracefs {
            let _ = Command::new("umount").arg(TRACEFS).status();
        }
    }
}

/// A real Prometheus server (Debian's `prometheus`) scraping `targets` every second, with
/// its data in a temporary directory that is removed on drop.
pub struct Prometheus {
    child: Child,
    dir: PathBuf,
    pub address: String,
}

impl Prometheus {
    pub fn start(targets: &[&str]) -> anyhow::Result<Prometheus> {
        Prometheus::start_with_rules(targets, None)
    }

    /// Also evaluates the rule file `rules` every second.
    pub fn start_with_rules(targets: &[&str], rules: Option<&Path>) -> anyhow::Result<Prometheus> {
        let dir = std::env::temp_dir().join(unique("privmon-prometheus-"));
        fs::create_dir_all(dir.join("data"))?;
        let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        fs::write(
            dir.join("prometheus.yml"),
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  \
                 evaluation_interval: 1s\n{}\
                 scrape_configs:\n  - job_name: privmon\n    honor_labels: true\n    \
                 static_configs:\n      - targets: [{}]\n",
                rules
                    .map(|r| format!("rule_files: ['{}']\n", r.display()))
                    .unwrap_or_default(),
                targets.join(", ")
            ),
        )?;
        // A free port: bind one, release it, hand it to Prometheus.
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let address = format!("127.0.0.1:{port}");
        let log = fs::File::create(dir.join("prometheus.log"))?;
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={address}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting prometheus (Debian package `prometheus`)")?;
        let prometheus = Prometheus {
            child,
            dir,
            address,
        };
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok((200, _)) = http_get(&format!("http://{}/-/ready", prometheus.address)) {
                return Ok(prometheus);
            }
            if Instant::now() > deadline {
                bail!("prometheus did not become ready:\n{}", prometheus.log());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// An instant query through the HTTP API: (labels, value) per series.
    pub fn query(&self, expr: &str) -> anyhow::Result<Vec<(Value, f64)>> {
        let url = format!(
            "http://{}/api/v1/query?query={}",
            self.address,
            privmon::cli::client::encode(expr)
        );
        let (status, body) = http_get(&url)?;
        ensure!(status == 200, "query {expr} answered {status}: {body}");
        let v: Value = serde_json::from_str(&body)?;
        ensure!(v["status"] == "success", "query {expr}: {body}");
        let result = v["data"]["result"].as_array().cloned().unwrap_or_default();
        Ok(result
            .into_iter()
            .map(|r| {
                let value = r["value"][1]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(f64::NAN);
                (r["metric"].clone(), value)
            })
            .collect())
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A real HTTP server on loopback that accepts POSTs (HTTP/1.1, keep-alive) and keeps
/// their bodies, parsed as JSON: the far end of the webhook and OTLP sinks.
pub struct WebhookReceiver {
    pub port: u16,
    requests: Arc<Mutex<Vec<Posted>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

/// One POST a [`WebhookReceiver`] got.
#[derive(Clone, Debug)]
pub struct Posted {
    pub path: String,
    pub content_type: Option<String>,
    /// Every header, names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Value,
    /// The status it answered: 503 for the first ones of a failing receiver, else 200.
    pub status: u16,
}

impl WebhookReceiver {
    /// Listens on `port` (0: any free one).
    pub fn start(port: u16) -> anyhow::Result<WebhookReceiver> {
        WebhookReceiver::start_failing(port, 0)
    }

    /// Listens on `port`, and answers its first `failures` requests with 503.
    pub fn start_failing(port: u16, failures: usize) -> anyhow::Result<WebhookReceiver> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let requests: Arc<Mutex<Vec<Posted>>> = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (r, s) = (requests.clone(), stop.clone());
        let failures = Arc::new(std::sync::atomic::AtomicUsize::new(failures));
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (r, f) = (r.clone(), failures.clone());
                        std::thread::spawn(move || serve_posts(conn, &r, &f));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Ok(WebhookReceiver {
            port,
            requests,
            stop,
        })
    }

    /// Bodies of the requests it accepted (answered 200).
    pub fn bodies(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r.status == 200)
            .map(|r| r.body)
            .collect()
    }

    /// Every request, refused ones too, in order.
    pub fn requests(&self) -> Vec<Posted> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits for a body matching `pred`.
    pub fn wait_for(&self, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if let Some(b) = self.bodies().into_iter().find(|b| pred(b)) {
                return Some(b);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve_posts(
    conn: std::net::TcpStream,
    requests: &Mutex<Vec<Posted>>,
    failures: &std::sync::atomic::AtomicUsize,
) {
    use std::io::{Read, Write};
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(conn.try_clone().expect("cloning the connection"));
    let mut writer = conn;
    loop {
        let mut length = 0usize;
        let mut content_type = None;
        let mut headers = Vec::new();
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                } else if k.eq_ignore_ascii_case("content-type") {
                    content_type = Some(v.trim().to_string());
                }
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let fail = failures
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok();
        let status = if fail { 503 } else { 200 };
        requests.lock().unwrap().push(Posted {
            path: request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string(),
            content_type,
            headers,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            status,
        });
        let answer: &[u8] = if fail {
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
        } else {
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        };
        if writer.write_all(answer).is_err() {
            return;
        }
    }
}

/// One run of the `privmon` command: its exit status (-1: killed by a signal), stdout and
/// stderr.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the `privmon` command with `args` to completion.
pub fn privmon(args: &[&str]) -> anyhow::Result<Ran> {
    let out = Command::new(privmon_bin()).args(args).output()?;
    Ok(Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Runs `privmon advise --address <daemon> ARGS` to completion, whatever its exit status.
pub fn advise_run(daemon: &Daemon, args: &[&str]) -> anyhow::Result<Ran> {
    let mut all = vec!["advise", "--address", &daemon.address];
    all.extend_from_slice(args);
    privmon(&all)
}

/// Runs `privmon advise` against `daemon` with `args`; returns stdout, or the error with
/// stderr.
pub fn advise(daemon: &Daemon, args: &[&str]) -> anyhow::Result<String> {
    let ran = advise_run(daemon, args)?;
    ensure!(
        ran.code == 0,
        "privmon advise {args:?} failed ({}): {}",
        ran.code,
        ran.stderr
    );
    Ok(ran.stdout)
}

/// A running `privmon tail` whose output lines are collected.
pub struct Tail {
    child: Child,
    stdout: Arc<Lines>,
    stderr: Arc<Lines>,
}

impl Tail {
    pub fn start(daemon: &Daemon, args: &[&str]) -> anyhow::Result<Tail> {
        let mut child = Command::new(privmon_bin())
            .arg("tail")
            .args(["--address", &daemon.address])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let (stdout, stderr) = follow_output(&mut child);
        Ok(Tail {
            child,
            stdout,
            stderr,
        })
    }

    pub fn lines(&self) -> Vec<String> {
        self.stdout.snapshot()
    }

    pub fn errors(&self) -> Vec<String> {
        self.stderr.snapshot()
    }

    pub fn wait_for(&self, pred: impl FnMut(&str) -> bool) -> Option<String> {
        self.stdout.wait_for(PATIENCE, pred)
    }

    /// Waits for the tail to exit by itself (the daemon closed the stream, or refused it).
    pub fn wait(mut self) -> anyhow::Result<ExitStatus> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(s) = self.child.try_wait()? {
                return Ok(s);
            }
            ensure!(Instant::now() < deadline, "privmon tail did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An act's line (`capability`, `syscall`, `namespace`, `credentials`) of a process in a
/// known container names it briefly: `container_start` said the rest (docs/events.md).
pub fn assert_brief(ev: &serde_json::Value) {
    fn keys(v: &serde_json::Value) -> Option<Vec<&str>> {
        v.as_object()
            .map(|o| o.keys().map(String::as_str).collect())
    }
    assert_eq!(keys(&ev["container"]), Some(vec!["id", "name"]), "{ev:#}");
    if !ev["k8s"].is_null() {
        assert_eq!(keys(&ev["k8s"]), Some(vec!["namespace", "pod"]), "{ev:#}");
    }
    assert_eq!(keys(&ev["cgroup"]), Some(vec!["id"]), "{ev:#}");
}

/// A container id as an act's line and `container_stop` write it: the first 12 hex digits
/// of a 64-digit id, any other id whole (docs/events.md). `container_start` and alerts
/// carry the full id.
pub fn short_id(id: &str) -> &str {
    match id.get(..12) {
        Some(short) if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) => short,
        _ => id,
    }
}

/// Whether a line names container `id` (full at start and in alerts, short elsewhere).
pub fn in_container(ev: &Value, id: &str) -> bool {
    ev["container"]["id"] == id || ev["container"]["id"] == short_id(id)
}

/// The check an event is about: a `capability` event's own, an operation's first (its
/// line lists them in `checks`; `capability` is left to the rules and the alerts).
pub fn check(ev: &Value) -> &Value {
    match &ev["capability"] {
        Value::Null => &ev["checks"][0],
        cap => cap,
    }
}

/// A real rsyslog (Debian's `rsyslogd`) listening on loopback UDP, TCP and TLS ports
/// (`rsyslog-gnutls`, with a certificate for 127.0.0.1 from a CA made for the test with
/// the `openssl` command) and on a unix datagram socket, writing every message it parses
/// to a file, one line each:
/// `facility|severity|hostname|app-name|procid|msgid|input|structured-data|msg`. Its
/// directory is removed on drop.
pub struct Rsyslog {
    child: Child,
    dir: PathBuf,
    pub udp_port: u16,
    pub tcp_port: u16,
    pub tls_port: u16,
    /// The CA that signed the TLS listener's certificate (PEM).
    pub ca: PathBuf,
    pub socket: PathBuf,
}

/// One message as [`Rsyslog`] parsed it.
#[derive(Clone, Debug)]
pub struct SyslogMessage {
    pub facility: String,
    pub severity: String,
    pub hostname: String,
    pub app_name: String,
    pub procid: String,
    pub msgid: String,
    /// `imudp`, `imtcp` or `imuxsock`.
    pub input: String,
    pub structured_data: String,
    pub msg: String,
}

impl Rsyslog {
    pub fn start() -> anyhow::Result<Rsyslog> {
        let dir = std::env::temp_dir().join(unique("privmon-rsyslog-"));
        fs::create_dir_all(&dir)?;
        let free = || -> anyhow::Result<u16> {
            Ok(std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port())
        };
        let (udp_port, tcp_port, tls_port) = (free()?, free()?, free()?);
        let socket = dir.join("log.sock");
        let ca = dir.join("ca.pem");
        let openssl = |args: &[&str]| -> anyhow::Result<()> {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .output()
                .context("running openssl (Debian's openssl: cargo xtask setup installs it)")?;
            ensure!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Ok(())
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=privmon test CA",
        ])?;
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ])?;
        fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )?;
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ])?;
        let out = dir.join("messages.log");
        let conf = format!(
            r#"global(workDirectory="{dir}" maxMessageSize="64k"
       DefaultNetstreamDriverCAFile="{dir}/ca.pem"
       DefaultNetstreamDriverCertFile="{dir}/server.pem"
       DefaultNetstreamDriverKeyFile="{dir}/server.key")
module(load="imudp")
module(load="imtcp")
module(load="imuxsock" SysSock.Use="off")
input(type="imudp" address="127.0.0.1" port="{udp_port}")
input(type="imtcp" address="127.0.0.1" port="{tcp_port}" name="imtcp")
input(type="imtcp" address="127.0.0.1" port="{tls_port}" name="imtcp-tls"
      StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
input(type="imuxsock" Socket="{socket}" UseSpecialParser="off" ParseHostname="on")
template(name="fields" type="list") {{
  property(name="syslogfacility-text") constant(value="|")
  property(name="syslogseverity-text") constant(value="|")
  property(name="hostname") constant(value="|")
  property(name="app-name") constant(value="|")
  property(name="procid") constant(value="|")
  property(name="msgid") constant(value="|")
  property(name="inputname") constant(value="|")
  property(name="structured-data") constant(value="|")
  property(name="msg" droplastlf="on") constant(value="\n")
}}
action(type="omfile" file="{out}" template="fields")
"#,
            dir = dir.display(),
            socket = socket.display(),
            out = out.display(),
        );
        let conf_path = dir.join("rsyslog.conf");
        fs::write(&conf_path, conf)?;
        let child = Command::new("rsyslogd")
            .arg("-n")
            .arg("-f")
            .arg(&conf_path)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.join("rsyslogd.stderr"))?)
            .spawn()
            .context("starting rsyslogd (Debian's rsyslog: cargo xtask setup installs it)")?;
        let r = Rsyslog {
            child,
            dir,
            udp_port,
            tcp_port,
            tls_port,
            ca,
            socket,
        };
        let deadline = Instant::now() + PATIENCE;
        while !(r.socket.exists()
            && std::net::TcpStream::connect(("127.0.0.1", r.tcp_port)).is_ok()
            && std::net::TcpStream::connect(("127.0.0.1", r.tls_port)).is_ok())
        {
            ensure!(
                Instant::now() < deadline,
                "rsyslogd did not come up: {}",
                fs::read_to_string(r.dir.join("rsyslogd.stderr")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(r)
    }

    /// Every message written so far.
    pub fn messages(&self) -> Vec<SyslogMessage> {
        let text = fs::read_to_string(self.dir.join("messages.log")).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.splitn(9, '|').collect();
                let [
                    facility,
                    severity,
                    hostname,
                    app_name,
                    procid,
                    msgid,
                    input,
                    sd,
                    msg,
                ] = f.as_slice()
                else {
                    return None;
                };
                Some(SyslogMessage {
                    facility: facility.to_string(),
                    severity: severity.to_string(),
                    hostname: hostname.to_string(),
                    app_name: app_name.to_string(),
                    procid: procid.to_string(),
                    msgid: msgid.to_string(),
                    input: input.to_string(),
                    structured_data: sd.to_string(),
                    msg: msg.trim_start().to_string(),
                })
            })
            .collect()
    }

    /// Waits for a message matching `pred`.
    pub fn wait_for(&self, pred: impl Fn(&SyslogMessage) -> bool) -> Option<SyslogMessage> {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if let Some(m) = self.messages().into_iter().find(|m| pred(m)) {
                return Some(m);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}
