//! The output thread: each record the ring-buffer reader hands over is decoded into its
//! typed event, attributed (cgroup, container, pod, process), judged (rules, the advisor's
//! baselines) and serialized once for every sink and the stream. `build` makes the events
//! of sensitive operations and credential changes; `Replay` runs this stage from memory
//! for the throughput benchmark.

mod build;
pub mod enforce;
pub mod operation;
mod setup;
pub mod stats;
#[cfg(test)]
mod tests;

use std::{
    collections::{HashMap as StdHashMap, HashSet},
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::Ordering::{Acquire, Relaxed},
        mpsc::RecvTimeoutError,
    },
    time::{Duration, Instant},
};

use anyhow::Context as _;
use aya::maps::{HashMap, MapData};
use monitor_common::{CapabilityRecord, names};
use serde::Serialize;
use tracing::{error, info, warn};

use crate::{
    advisor::{self, Advisor},
    catalog::capabilities::CapEffective,
    catalog::operations,
    config::{Config, Coverage},
    event::{
        CapabilityEvent, CapabilitySets, Check, Clock, ContainerEvent, CredentialsChange,
        CredentialsEvent, DecodeError, Exec, ExecDetail, Header, Ids, Operation, OperationEvent,
        Process, Published, Record, Shared, SyscallDetail, boottime_ns, decode,
    },
    kernel::loader::Probes,
    outputs::metrics::{Health, Metrics, SeriesLabels},
    outputs::sinks::{self, Queued, stream::Hub},
    queue,
    resolve::cgroup::{CgroupResolver, v2_root},
    resolve::containers::{
        Containers, cgroup_path,
        lifecycle::Lifecycle,
        posture::{OciConfig, read_oci_config},
    },
    resolve::processes::{CredentialChange, Creds, ProcessTable},
    rules::{Alert, Engine, RuleSet},
};
use serde_json::Value;

use self::{
    build::{
        baseline_alert, host_file_event, id_change_event, operation_event, sysctl_event,
        unix_connect_event,
    },
    enforce::{Enforcer, FilterGeneration},
    operation::ExitMerge,
};

/// Events a live-stream client may fall behind before it skips some (counted).
pub(crate) const STREAM_LAG: usize = 4096;

/// Checks of one thread and syscall with the same arguments this close together are one
/// call (the kernel checks CAP_SYS_ADMIN twice for a mount); without a syscall-entry hook
/// there is no call id, so identical calls closer than this merge too (their checks are
/// counted). A call's checks are microseconds apart on a real machine; an emulated one
/// (the QEMU matrix, two guests on two host CPUs) put 45 ms between a mount's two. An
/// operation is written once a check this much later has been read, or the reader has
/// found the ring buffer empty two windows after its first check (or at the thread's next
/// call, exec or exit): never on the clock alone, since the reader may lag the kernel.
const MERGE_WINDOW_NS: u64 = 250_000_000;

/// An operation's event, held until its call's other checks have joined it.
struct PendingOp {
    syscall: i64,
    args: [u64; 6],
    /// Boot-clock time of its first check.
    first_ns: u64,
    event: Reported,
    /// Part of the container runtime's set-up: counted in `container_start`, not written.
    setup: bool,
}

/// The event an operation is reported as.
enum Reported {
    Operation(OperationEvent),
    Credentials(CredentialsEvent),
}

impl Reported {
    fn checks(&mut self) -> &mut Vec<crate::event::Check> {
        match self {
            Reported::Operation(e) => &mut e.checks,
            Reported::Credentials(e) => &mut e.checks,
        }
    }

    fn header(&self) -> &Header {
        match self {
            Reported::Operation(e) => &e.header,
            Reported::Credentials(e) => &e.header,
        }
    }

    fn header_mut(&mut self) -> &mut Header {
        match self {
            Reported::Operation(e) => &mut e.header,
            Reported::Credentials(e) => &mut e.header,
        }
    }

    /// The syscall (a credentials event's cause is its syscall, or `exec`).
    fn name(&self) -> &'static str {
        match self {
            Reported::Operation(e) => e.syscall.name,
            Reported::Credentials(e) => e.cause,
        }
    }
}

/// How often the output thread looks for containers whose start is pending.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// A cgroup counted by the kernel whose path cannot be found for this long (it vanished
/// before it was resolved) is counted with the host's empty labels.
const UNRESOLVED_PATIENCE: Duration = Duration::from_secs(10);

pub use crate::pipeline::stats::PipelineStats;

/// Most cgroups whose attribution the output thread keeps; beyond it, it starts over.
const MAX_ATTRIBUTED: usize = 16_384;

/// The attribution of one cgroup's events, with the blocks they share.
#[derive(Clone)]
struct Attributed {
    path: Shared<Arc<str>>,
    /// What the container resolver said (compared by identity: it makes a new one when
    /// what it knows changes).
    from: Option<Arc<crate::resolve::containers::Attribution>>,
    container: Option<Shared<crate::resolve::containers::Container>>,
    k8s: Option<Shared<crate::resolve::containers::Kubernetes>>,
    /// Final: reused without asking the resolver again.
    settled: bool,
    /// The metrics have the cgroup's labels.
    labelled: bool,
    /// The container's effective set as its OCI bundle grants it (`process.cap_effective`
    /// is written against it).
    grant: Option<u64>,
    /// The container's OCI config (its bind mounts name the host paths a chroot reaches).
    config: Option<Arc<OciConfig>>,
}

impl Attributed {
    fn fill(&self, h: &mut Header) {
        h.cgroup.path = Some(self.path.clone());
        h.container.clone_from(&self.container);
        h.k8s.clone_from(&self.k8s);
        let p = &mut h.process;
        p.cap_effective = CapEffective::new(p.cap_effective.bits(), self.grant);
    }
}

/// A container's OCI config, read once per attribution (null: no bundle known).
fn oci_config(attribution: &crate::resolve::containers::Attribution) -> Option<Arc<OciConfig>> {
    read_oci_config(attribution.bundle.as_deref()?).map(Arc::new)
}

/// What the output thread hands events to: the rules, then the sinks and the stream, and
/// the least-privilege advisor.
pub(crate) struct Outlets {
    pub(crate) rules: Engine,
    pub(crate) advisor: Arc<Mutex<Advisor>>,
    /// A reloaded rule set, handed over by the main loop.
    pub(crate) new_rules: Arc<Mutex<Option<RuleSet>>>,
    pub(crate) sinks: Vec<Queued>,
    pub(crate) hub: Arc<Hub>,
    /// The pipeline's counters (the reader thread counts into them too), exported through
    /// the metrics.
    pub(crate) stats: Arc<PipelineStats>,
    /// What the kernel kills or denies, per container.
    pub(crate) enforcer: Enforcer,
}

/// The kernel's list of host cgroups (whose checks are dropped in the kernel under
/// `watch: containers`): the probes cache their last verdict per CPU for one generation,
/// so every change is followed by a bump.
pub(crate) struct HostFilter {
    cgroups: HashMap<MapData, u64, u8>,
    generation: Arc<FilterGeneration>,
}

impl HostFilter {
    pub(crate) fn new(
        probes: &mut Probes,
        generation: Arc<FilterGeneration>,
    ) -> anyhow::Result<HostFilter> {
        let map = probes
            .ebpf
            .take_map(names::HOST_CGROUPS)
            .context("HOST_CGROUPS map missing")?;
        Ok(HostFilter {
            cgroups: HashMap::try_from(map)?,
            generation,
        })
    }

    /// Lists a host cgroup; false if the kernel map refused it (full).
    fn insert(&mut self, id: u64) -> bool {
        let ok = self.cgroups.insert(id, 1, 0).is_ok();
        self.generation.bump();
        ok
    }

    fn remove(&mut self, id: u64) {
        // Absent for containers' cgroups; nothing to remove then.
        if self.cgroups.remove(&id).is_ok() {
            self.generation.bump();
        }
    }
}

/// The output thread's state: enrichment caches, container lifecycle, rules, and the
/// sinks it offers events to (never waiting for them).
pub(crate) struct Output {
    node: Arc<str>,
    /// Who each cgroup's events belong to, and its blocks made once (see `attribute`).
    attributed: crate::FastMap<u64, Attributed>,
    /// Capacity for the next event's JSON.
    line_hint: usize,
    /// Events are serialized (off only in the benchmark that measures what comes before).
    serialize: bool,
    /// Bytes of JSON written, newlines included.
    bytes: u64,
    /// `privmon_events_total` by kind.
    event_counters: crate::FastMap<&'static str, prometheus::IntCounter>,
    clock: Clock,
    cgroups: CgroupResolver,
    pub(crate) containers: Containers,
    lifecycle: Lifecycle,
    processes: ProcessTable,
    /// The kernel's list of host cgroups (`watch: containers`).
    host_cgroups: Option<HostFilter>,
    stats: Arc<PipelineStats>,
    metrics: Arc<Metrics>,
    /// Containers announced with `container_start`, by id.
    started: HashSet<String>,
    /// The host files `fentry/security_file_open` watches, by device and inode.
    pub(crate) host_files: Option<Arc<crate::kernel::host_files::HostFileIndex>>,
    /// Cgroups of containers in `ignore` mode: the kernel filter drops their records (under
    /// `watch: containers`); the ones already on their way are dropped here.
    ignored: HashSet<u64>,
    /// Cgroups the metrics need labels for, with when they were first asked for.
    unlabelled: StdHashMap<u64, Instant>,
    rules: Engine,
    /// A reloaded rule set, handed over by the main loop.
    new_rules: Arc<Mutex<Option<RuleSet>>>,
    sinks: Vec<Queued>,
    hub: Arc<Hub>,
    advisor: Arc<Mutex<Advisor>>,
    advisor_saved: Instant,
    /// Fallback records matched with the checks already reported.
    pub(crate) merge: ExitMerge,
    /// Execs from a memfd are `syscall` events (the `misc` group is not `off`).
    pub(crate) report_fileless: bool,
    /// Operations seen at a capability check, by thread, held for [`MERGE_WINDOW_NS`] so
    /// that the other checks of the same call join them (one operation, one line).
    pending: crate::FastMap<u32, PendingOp>,
    /// Boot-clock time of the latest check handled: a held operation is complete once a
    /// check [`MERGE_WINDOW_NS`] after its first has been read.
    last_check_ns: u64,
    /// Containers whose runtime is setting them up: their set-up is counted, not written.
    setups: setup::Setups,
    /// The time of the batch being handled, read once per batch rather than per event:
    /// the rules' windows and the advisor's last-seen need no finer clock.
    now: Instant,
    /// The same, in unix seconds (the advisor's clock).
    now_unix: u64,
    enforcer: Enforcer,
}

impl Output {
    pub(crate) fn new(
        node: String,
        cgroup_root: PathBuf,
        tracepoints: bool,
        host_cgroups: Option<HostFilter>,
        trusted_registries: Vec<String>,
        metrics: Arc<Metrics>,
        outlets: Outlets,
    ) -> Output {
        let Outlets {
            rules,
            advisor,
            new_rules,
            sinks,
            hub,
            stats,
            enforcer,
        } = outlets;
        metrics.register(stats.clone());
        let mut cgroups = CgroupResolver::new(cgroup_root);
        if tracepoints {
            cgroups.tracepoints_keep_current();
        }
        Output {
            node: node.into(),
            attributed: crate::FastMap::default(),
            line_hint: 2048,
            serialize: true,
            bytes: 0,
            event_counters: crate::FastMap::default(),
            clock: Clock::new(),
            cgroups,
            containers: Containers::new(PathBuf::from("/")),
            lifecycle: Lifecycle::new(trusted_registries),
            processes: ProcessTable::default(),
            host_cgroups,
            stats,
            metrics,
            started: HashSet::new(),
            ignored: HashSet::new(),
            host_files: None,
            unlabelled: StdHashMap::new(),
            rules,
            new_rules,
            sinks,
            hub,
            advisor,
            advisor_saved: Instant::now(),
            merge: ExitMerge::default(),
            report_fileless: true,
            pending: crate::FastMap::default(),
            last_check_ns: 0,
            setups: setup::Setups::default(),
            now: Instant::now(),
            now_unix: advisor::unix_now(),
            enforcer,
        }
    }

    /// Reads the clock for the batch about to be handled.
    fn refresh_now(&mut self) {
        self.now = Instant::now();
        self.now_unix = advisor::unix_now();
    }

    /// Classifies the cgroups that exist already: containers are registered (and announced
    /// once ready), host cgroups are handed to the kernel filter.
    pub(crate) fn discover(&mut self) {
        let now = boottime_ns();
        for (id, path) in self.cgroups.all() {
            self.classify(id, &path, now, false);
        }
        self.poll_lifecycle();
    }

    /// A cgroup that exists: a container's (tracked) or the host's (filtered in the kernel).
    /// A container's seen appearing (`new`) is being set up by its runtime.
    fn classify(&mut self, id: u64, path: &str, boot_ns: u64, new: bool) {
        if cgroup_path::parse(path).is_some() {
            if self.lifecycle.on_mkdir(id, path, boot_ns) && new {
                self.setups.begin(id, boot_ns);
            }
        } else if let Some(filter) = &mut self.host_cgroups
            && !filter.insert(id)
        {
            self.stats.host_cgroups_unfiltered.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn run(mut self, rx: queue::Receiver<Record>) {
        let mut last_poll = Instant::now();
        loop {
            // Read before waiting: when the wait finds nothing, every record the reader
            // had handed over by this time has been handled.
            let read_to = self.stats.read_to_ns.load(Acquire);
            // The reader had nothing for a whole poll interval.
            let mut drained = false;
            match rx.recv_timeout(POLL_INTERVAL) {
                Ok(batch) => {
                    self.refresh_now();
                    batch.into_iter().for_each(|rec| self.handle(rec));
                    // Write everything queued, then hand it to the sinks at once.
                    while let Ok(batch) = rx.try_recv() {
                        self.refresh_now();
                        batch.into_iter().for_each(|rec| self.handle(rec));
                        if last_poll.elapsed() >= POLL_INTERVAL {
                            break;
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => drained = true,
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if last_poll.elapsed() >= POLL_INTERVAL {
                // Container events come from here, perhaps long after the last batch.
                self.refresh_now();
                self.flush_pending(false, if drained { read_to } else { 0 });
                self.poll_lifecycle();
                self.label_pending();
                self.poll_rules();
                self.poll_advisor(false);
                self.poll_enforcement();
                last_poll = Instant::now();
            }
            self.flush_sinks();
            self.metrics.health.output_alive();
        }
        self.flush_pending(true, u64::MAX);
        self.poll_advisor(true);
        self.flush_sinks();
    }

    /// Hands each sink what was gathered for it.
    fn flush_sinks(&mut self) {
        for sink in &mut self.sinks {
            sink.flush();
        }
    }

    /// Follows enforcement's switch and the baselines learned since the last look.
    fn poll_enforcement(&mut self) {
        let advisor = self.advisor.lock().unwrap_or_else(|e| e.into_inner());
        self.enforcer.tick(&advisor);
    }

    /// Ends learning periods that are over, and saves the advisor's state now and then (and
    /// at exit).
    fn poll_advisor(&mut self, exiting: bool) {
        let mut advisor = self.advisor.lock().unwrap_or_else(|e| e.into_inner());
        advisor.tick(advisor::unix_now());
        if exiting || self.advisor_saved.elapsed() >= ADVISOR_SAVE_INTERVAL {
            self.advisor_saved = Instant::now();
            if let Err(e) = advisor.save() {
                warn!(error = %format!("{e:#}"), "saving the advisor's state failed");
            }
        }
    }

    /// Lets the advisor learn from an event; a use outside a baseline is an alert.
    fn advise<T: Published + Serialize>(&mut self, ev: &T) {
        if self.is_ignored(ev) {
            return;
        }
        let outside = self
            .advisor
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .observe(ev, self.now_unix);
        if let Some(o) = outside
            && self.enforcer.mode_of(ev) != crate::config::WorkloadMode::Learn
        {
            // Rare: the alert quotes the event's JSON.
            match serde_json::to_value(ev) {
                Ok(mut value) => {
                    crate::event::Whole::of(ev).fill(&mut value);
                    self.alert(&baseline_alert(&value, &o))
                }
                Err(_) => {
                    self.stats.output_errors.fetch_add(1, Relaxed);
                }
            }
        }
    }

    /// The `credentials` event of a credential syscall, else the `syscall`/`namespace`
    /// event of a sensitive one (`ev`: the record's check, or its stand-in); None when the
    /// record is no operation after all (a fork's memory-accounting check, setuid() to the
    /// ids a process has).
    fn operation_of(&mut self, ev: &CapabilityEvent, op: &Operation) -> Option<Reported> {
        if let Some(change) = id_change_event(ev, op) {
            return Some(Reported::Credentials(change));
        }
        let mut ev = operation_event(ev.clone(), op)?;
        self.name_target(&mut ev);
        self.name_host_path(&mut ev);
        if let Some(f) = &op.host_file {
            self.name_host_file(&mut ev, f);
        }
        Some(Reported::Operation(ev))
    }

    /// An open for writing seen at `security_file_open`: `args.host_path`, the host file
    /// the kernel matched (null if the index no longer names it).
    fn name_host_file(&self, ev: &mut OperationEvent, f: &crate::event::record::HostFileOpen) {
        let opened = ev.syscall.args.get("path").and_then(Value::as_str);
        let host = self
            .host_files
            .as_ref()
            .and_then(|index| index.host_path(f.dev, f.ino, f.kind, opened));
        ev.syscall
            .args
            .insert("host_path", host.map_or(Value::Null, Value::String));
    }

    /// A check that belongs to the call `held` for its thread: it joins that event.
    fn join_pending(&mut self, c: &CapabilityRecord, ev: &CapabilityEvent) -> bool {
        let cap = &ev.capability;
        let Some(p) = self.pending.get_mut(&c.tid) else {
            return false;
        };
        if p.syscall != c.syscall
            || p.args != c.args
            || c.boot_ns.saturating_sub(p.first_ns) >= MERGE_WINDOW_NS
        {
            return false;
        }
        crate::event::add_check(p.event.checks(), cap);
        // A later check of the call that enforcement acted on: the call's line says so.
        if let Some(e) = &ev.header.enforcement {
            let held = p.event.header_mut();
            if held.enforcement.is_none() {
                held.enforcement = Some(e.clone());
            }
        }
        self.stats.checks_merged.fetch_add(1, Relaxed);
        true
    }

    /// Writes the operation held for thread `tid`, if any (or counts it in its
    /// container's set-up).
    fn flush_thread(&mut self, tid: u32) {
        let Some(mut p) = self.pending.remove(&tid) else {
            return;
        };
        let cgroup_id = p.event.header().cgroup.id;
        let name = p.event.name();
        if p.setup
            && self
                .setups
                .operation(cgroup_id, p.first_ns, name, p.event.checks())
        {
            self.stats.setup_folded.fetch_add(1, Relaxed);
            return;
        }
        self.emit_reported(p.event);
    }

    /// Writes (or counts) the held operations that `due` picks, in the order they were
    /// seen.
    fn flush_if(&mut self, due: impl Fn(&PendingOp) -> bool) {
        if self.pending.is_empty() {
            return;
        }
        let mut picked: Vec<(u64, u32)> = self
            .pending
            .iter()
            .filter(|(_, p)| due(p))
            .map(|(tid, p)| (p.first_ns, *tid))
            .collect();
        picked.sort_unstable();
        for (_, tid) in picked {
            self.flush_thread(tid);
        }
    }

    /// Writes the held operations whose window has passed: a check that much later has
    /// been read, or the reader found the ring buffer empty (everything up to `read_to`
    /// handled) well after the window (its second [`MERGE_WINDOW_NS`] leaves a check made
    /// in the window the time to be written); all of them with `all`. Never on the clock
    /// alone: a reader that is slow to be scheduled (an emulated machine) must not split
    /// a call's checks.
    fn flush_pending(&mut self, all: bool, read_to: u64) {
        let read = self.last_check_ns;
        self.flush_if(|p| {
            all || read.saturating_sub(p.first_ns) >= MERGE_WINDOW_NS
                || read_to.saturating_sub(p.first_ns) >= 2 * MERGE_WINDOW_NS
        });
    }

    /// Writes what the threads of process `pid` held (at its exec or exit).
    fn flush_process(&mut self, pid: u32) {
        self.flush_if(|p| p.event.header().process.pid == pid);
    }

    /// Counts what the runtime's threads in cgroup `cgroup_id` held in its set-up. The
    /// workload's own calls stay held: the first call of a container that starts at once
    /// may have a check still to come (a mount's second one), and they are written after
    /// `container_start` anyway.
    fn flush_setup(&mut self, cgroup_id: u64) {
        self.flush_if(|p| p.setup && p.event.header().cgroup.id == cgroup_id);
    }

    fn emit_reported(&mut self, r: Reported) {
        match r {
            Reported::Operation(ev) => self.emit(&ev),
            Reported::Credentials(ev) => self.emit(&ev),
        }
    }

    /// A capability check: the advisor learns it; it joins the operation its call is
    /// reported as (held briefly, so that the call's other checks join it too), or else it
    /// is a `capability` event of its own.
    fn check(&mut self, c: &CapabilityRecord, op: Option<&Operation>) {
        self.last_check_ns = self.last_check_ns.max(c.boot_ns);
        let ev = self.capability_event(c);
        self.advise(&ev);
        if self.join_pending(c, &ev) {
            return;
        }
        // Another call of this thread: what it held is complete.
        self.flush_thread(c.tid);
        let cap = &ev.capability;
        let probing = advisor::is_probing(
            cap.audit,
            &cap.name,
            ev.syscall.as_ref().and_then(|s| s.name),
        );
        match op.and_then(|op| self.operation_of(&ev, op)) {
            Some(event) => {
                let refused =
                    cap.verdict != "allowed" && !probing && !setup::usual_refusal(&cap.name);
                let setup = self
                    .setups
                    .folds(c.cgroup_id, c.boot_ns, event.name(), refused);
                self.pending.insert(
                    c.tid,
                    PendingOp {
                        syscall: c.syscall,
                        args: c.args,
                        first_ns: c.boot_ns,
                        event,
                        setup,
                    },
                );
            }
            None if self
                .setups
                .check(c.cgroup_id, c.boot_ns, &Check::of(cap), probing) =>
            {
                self.stats.setup_folded.fetch_add(1, Relaxed);
            }
            None => self.publish_event(&ev),
        }
    }

    /// Writes the runtime's set-up events too (`runtime_setup_events`).
    pub(crate) fn write_runtime_setup(&mut self, on: bool) {
        self.setups.write_all = on;
    }

    fn handle(&mut self, rec: Record) {
        match rec {
            Record::Capability(cap) => self.check(&cap, None),
            Record::Operation(op) => {
                let c = &op.check;
                // At a check; else seen returning (a fallback, fexit/security_capset) or
                // at an LSM hook, with no check of its own.
                if op.exit.is_none() && !op.lsm {
                    self.merge.checked(c.tid, c.syscall, c.args);
                    self.check(c, Some(&op));
                } else if self.merge.returned(c.tid, c.syscall, c.args) {
                    // The same call's check was reported already.
                    self.stats.fallback_merged.fetch_add(1, Relaxed);
                } else {
                    self.flush_thread(c.tid);
                    let ev = self.capability_event(c);
                    if let Some(mut r) = self.operation_of(&ev, &op) {
                        // The runtime's set-up seen returning (runc's capset through
                        // fexit/security_capset) is counted like the set-up seen at checks.
                        let refused = op.exit.is_some_and(|ret| ret < 0);
                        let name = r.name();
                        if self.setups.folds(c.cgroup_id, c.boot_ns, name, refused)
                            && self
                                .setups
                                .operation(c.cgroup_id, c.boot_ns, name, r.checks())
                        {
                            self.stats.setup_folded.fetch_add(1, Relaxed);
                        } else {
                            self.emit_reported(r);
                        }
                    }
                }
            }
            Record::Exec(exec) => {
                // What the process held was made before the exec.
                self.flush_process(exec.pid);
                let entrypoint = self.setups.exec(&exec);
                if entrypoint {
                    // Armed as soon as the entrypoint runs (its container_start may wait
                    // for the runtime's files or the CRI a moment longer).
                    self.arm(exec.cgroup_id);
                }
                if let Some(change) = self.processes.exec(&exec) {
                    // The entrypoint runs with the ids the runtime dropped to (runc's init
                    // was root): that is the container's spec, which its posture says. A
                    // set-user-id or set-group-id entrypoint is still a change of its own.
                    let file_ids =
                        change.new.uid != change.new.euid || change.new.gid != change.new.egid;
                    if !entrypoint || file_ids {
                        let ev = self.credentials_event(&exec, change);
                        self.emit(&ev);
                    }
                }
                if exec.memfd && self.report_fileless {
                    let ev = self.fileless_event(&exec);
                    if self.setups.runtime_memfd_exec(&exec, ev.syscall.name) {
                        self.stats.setup_folded.fetch_add(1, Relaxed);
                    } else {
                        self.emit(&ev);
                    }
                }
            }
            Record::Exit { pid, .. } => {
                self.flush_process(pid);
                self.processes.exit(pid);
            }
            Record::Fork { pid, ppid } => self.processes.fork(pid, ppid),
            Record::Sysctl(s) => self.sysctl(&s),
            Record::UnixConnect(u) => self.unix_connect(&u),
            Record::HostFile(w) => self.host_file(&w),
            // Only the v2 hierarchy (id 0) has the cgroup ids the probes report.
            Record::Cgroup { hierarchy, .. } if hierarchy != 0 => {}
            Record::Cgroup {
                mkdir: true,
                id,
                boot_ns,
                path,
                ..
            } => {
                if let Some(path) = path {
                    let path = if path.starts_with('/') {
                        path
                    } else {
                        format!("/{path}")
                    };
                    self.cgroups.insert(id, path.clone());
                    self.classify(id, &path, boot_ns, true);
                }
            }
            Record::Cgroup {
                mkdir: false,
                id,
                boot_ns,
                ..
            } => {
                // Labelled while its path is still known; its series expire later.
                self.label_cgroup(id, 0, true);
                self.metrics.cgroup_removed(id);
                for mut ev in self.lifecycle.on_rmdir(
                    id,
                    boot_ns,
                    &mut self.containers,
                    &self.node,
                    &self.clock,
                ) {
                    self.container_event(&mut ev);
                }
                self.setups.end(id);
                self.enforcer.gone(id);
                self.ignored.remove(&id);
                self.cgroups.remove(id);
                self.attributed.remove(&id);
                if let Some(filter) = &mut self.host_cgroups {
                    filter.remove(id);
                }
            }
        }
        self.update_gauges();
    }

    /// For `ptrace` and `process_vm_*`: `args.target_cgroup` and `args.target_container`,
    /// the target's cgroup and container (null: a host process, or gone), found while it
    /// most likely still runs. Its pid is in the caller's pid namespace.
    fn name_target(&mut self, ev: &mut OperationEvent) {
        if ev.group != "processes" {
            return;
        }
        let Some(pid) = ev.syscall.args.get("pid").and_then(Value::as_i64) else {
            return;
        };
        let proc_root = std::path::Path::new("/proc");
        let cgroup = u32::try_from(pid)
            .ok()
            .filter(|p| *p > 0)
            .and_then(|p| operation::host_pid(proc_root, ev.header.process.pid, p))
            .and_then(|p| crate::resolve::cgroup::proc_cgroup(proc_root, p));
        let container = cgroup
            .as_deref()
            .and_then(|path| self.containers.for_cgroup(path, boottime_ns()))
            .map(|a| Value::String(a.container.id.clone()));
        let args = &mut ev.syscall.args;
        args.insert("target_cgroup", cgroup.map_or(Value::Null, Value::String));
        args.insert("target_container", container.unwrap_or(Value::Null));
    }

    /// For `chroot` and `pivot_root`: `args.host_path`, the host path the new root is
    /// through one of the container's bind mounts (`/` for `chroot /host` under
    /// `-v /:/host`); absent when no bind mount holds it (or the path is relative).
    fn name_host_path(&mut self, ev: &mut OperationEvent) {
        let arg = match ev.syscall.name {
            "chroot" => "path",
            "pivot_root" => "new_root",
            _ => return,
        };
        let Some(path) = ev.syscall.args.get(arg).and_then(Value::as_str) else {
            return;
        };
        let Some(config) = self
            .attributed
            .get(&ev.header.cgroup.id)
            .and_then(|a| a.config.as_ref())
        else {
            return;
        };
        if let Some(host) = config.host_path(path) {
            ev.syscall.args.insert("host_path", Value::String(host));
        }
    }

    /// A write to a watched host file. The reader named the writer while it most likely
    /// ran; one gone by then is named from the process table (its cgroup, program and ids
    /// as its exec left them).
    fn host_file(&mut self, w: &crate::event::record::HostFileWrite) {
        let creds = self.processes.creds(w.pid);
        let cgroup_id = w.cgroup_id.or_else(|| self.processes.cgroup(w.pid));
        let mut process = Process {
            pid: w.pid,
            tid: w.pid,
            ppid: None,
            comm: w.comm.clone().unwrap_or_default(),
            exe: None,
            uid: w.uid.or(creds.and_then(|c| c.uid)),
            euid: w.euid.or(creds.and_then(|c| c.euid)),
            args: None,
            cap_effective: CapEffective::new(creds.map_or(0, |c| c.cap_effective), None),
            ancestors: Process::no_ancestors(),
            io_worker: crate::event::Flag(false),
        };
        self.processes.enrich(&mut process);
        self.processes.enrich_exited(&mut process);
        if let Some(exe) = &w.exe {
            // Read while it ran: better than what a later look finds.
            process.exe = Some(Arc::from(exe.as_str()));
        }
        let header = self.header(process, "syscall", cgroup_id.unwrap_or(0), w.boot_ns);
        // Under `watch: containers` the host's own writes (a package manager, useradd) are
        // not reported, as its checks are not.
        if self.host_cgroups.is_some() && header.container.is_none() {
            return;
        }
        self.emit(&host_file_event(header, w));
    }

    /// A process a cgroup program named (pid, tid, comm, uid; 0 when unknown) without its
    /// task: its effective ids and capabilities come from /proc while it lives, else as its
    /// exec left them (0 when neither is known).
    fn process_of_task(&mut self, pid: u32, tid: u32, comm: String, uid: Option<u32>) -> Process {
        let status = (tid != 0)
            .then(|| crate::resolve::procfs::Status::read(std::path::Path::new("/proc"), tid))
            .flatten();
        let exec = (pid != 0).then(|| self.processes.creds(pid)).flatten();
        let mut process = Process {
            pid,
            tid,
            ppid: None,
            comm,
            exe: None,
            uid,
            euid: status
                .as_ref()
                .and_then(|st| st.uids.get(1).copied())
                .or(exec.and_then(|c| c.euid)),
            args: None,
            cap_effective: CapEffective::new(
                status
                    .and_then(|st| st.cap_effective)
                    .or(exec.map(|c| c.cap_effective))
                    .unwrap_or(0),
                None,
            ),
            ancestors: Process::no_ancestors(),
            io_worker: crate::event::Flag(false),
        };
        if pid != 0 {
            self.processes.enrich(&mut process);
        }
        process
    }

    /// A `connect()` to a runtime's socket (`cgroup/connect_unix`): a `syscall` event
    /// naming the socket, the runtime, and the host's socket where a bind mount holds it.
    fn unix_connect(&mut self, u: &crate::event::record::UnixConnect) {
        let process = self.process_of_task(u.pid, u.tid, u.comm.clone(), u.uid);
        let header = self.header(process, "syscall", u.cgroup_id, u.boot_ns);
        let host_path = if u.peer {
            Some(u.path.clone())
        } else {
            self.attributed
                .get(&u.cgroup_id)
                .and_then(|a| a.config.as_ref())
                .and_then(|c| c.host_path(&u.path))
        };
        self.emit(&unix_connect_event(header, u, host_path));
    }

    /// A write under `/proc/sys`: a `syscall` event, or part of the runtime's set-up (runc
    /// writes a container's `--sysctl` values before its entrypoint runs).
    fn sysctl(&mut self, s: &crate::event::record::Sysctl) {
        // Before Linux 6.1 the program cannot read the writer's pid and comm (both 0): the
        // writer is the cgroup's one process, where it has only one (its cgroup.procs now;
        // once it is empty, the one process the table saw start in it).
        let (pid, tid, comm) = match s.pid {
            0 => match self.cgroups.procs(s.cgroup_id).as_deref() {
                Some(&[pid]) => (pid, pid, self.processes.comm(pid)),
                Some([]) | None => match self.processes.sole_process_in(s.cgroup_id) {
                    Some((pid, comm)) => (pid, pid, comm),
                    None => (0, 0, s.comm.clone()),
                },
                Some(_) => (0, 0, s.comm.clone()),
            },
            _ => (s.pid, s.tid, s.comm.clone()),
        };
        let process = self.process_of_task(pid, tid, comm, s.uid);
        let mut header = self.header(process, "syscall", s.cgroup_id, s.boot_ns);
        if let Some(action) = crate::event::EnforcementAct::action_name(s.action) {
            let advisor = self.advisor.lock().unwrap_or_else(|e| e.into_inner());
            let namespace = header.k8s.as_deref().and_then(|k| k.namespace.as_deref());
            let policy = self
                .enforcer
                .acted(s.cgroup_id, s.action, None, namespace, &advisor);
            header.enforcement = Some(crate::event::EnforcementAct { action, policy });
        }
        let ev = sysctl_event(header, s);
        if self.setups.folds(s.cgroup_id, s.boot_ns, "sysctl", false)
            && self.setups.operation(s.cgroup_id, s.boot_ns, "sysctl", &[])
        {
            self.stats.setup_folded.fetch_add(1, Relaxed);
        } else {
            self.emit(&ev);
        }
    }

    /// The `syscall` event of an exec whose program is a memfd (fileless execution).
    fn fileless_event(&mut self, e: &Exec) -> OperationEvent {
        // The registers no longer tell at this point (the kernel has set up the new
        // program); an exec by file descriptor (`fexecve`, `execveat(fd, "", ...,
        // AT_EMPTY_PATH)`) is the one whose file the kernel names /dev/fd/N.
        let name = if e
            .filename
            .as_deref()
            .is_some_and(|f| f.starts_with("/dev/fd/"))
        {
            "execveat"
        } else {
            "execve"
        };
        let number = crate::catalog::syscalls::Arch::host()
            .and_then(|a| a.number(name))
            .unwrap_or(-1);
        let mut args = std::collections::BTreeMap::new();
        args.insert(
            "filename",
            e.filename.clone().map_or(Value::Null, Value::String),
        );
        args.insert("memfd", Value::Bool(true));
        OperationEvent {
            header: self.exec_header(e, "syscall"),
            group: "misc",
            syscall: SyscallDetail {
                name,
                number,
                args,
                result: Some(0),
            },
            capability: None,
            checks: Vec::new(),
            source: "exec_tracepoint",
            namespace: None,
        }
    }

    /// The `credentials` event of an exec that changed the user ids.
    fn credentials_event(&mut self, e: &Exec, change: CredentialChange) -> CredentialsEvent {
        let header = self.exec_header(e, "credentials");
        let ids = |c: Creds| Ids {
            capabilities: Some(CapabilitySets::from_masks(
                c.cap_effective,
                c.cap_permitted,
                None,
            )),
            ..Ids::of(c.uid, c.euid, c.gid, c.egid)
        };
        CredentialsEvent {
            header,
            credentials: CredentialsChange {
                old: change.old.map(ids),
                new: ids(change.new),
            },
            cause: "exec",
            exec: Some(ExecDetail {
                filename: e.filename.clone(),
            }),
            capability: None,
            checks: Vec::new(),
            result: None,
        }
    }

    /// The header of an event an exec makes, attributed.
    fn exec_header(&mut self, e: &Exec, kind: &'static str) -> Header {
        let mut process = Process {
            pid: e.pid,
            tid: e.pid,
            ppid: Some(e.ppid),
            comm: e.comm.clone(),
            exe: e.filename.as_deref().map(Arc::from),
            uid: e.uid,
            euid: e.euid,
            args: Some(Shared::new(e.args.clone())),
            cap_effective: CapEffective::new(0, None),
            ancestors: Process::no_ancestors(),
            io_worker: crate::event::Flag(false),
        };
        self.processes.enrich(&mut process);
        self.header(process, kind, e.cgroup_id, e.boot_ns)
    }

    /// The header of an event of `process` in cgroup `cgroup_id` at `boot_ns`, attributed.
    fn header(
        &mut self,
        process: Process,
        kind: &'static str,
        cgroup_id: u64,
        boot_ns: u64,
    ) -> Header {
        let mut header = Header {
            time: self.clock.rfc3339(boot_ns),
            kind,
            node: self.node.clone(),
            process,
            container: None,
            k8s: None,
            cgroup: crate::event::Cgroup {
                id: cgroup_id,
                path: None,
            },
            enforcement: None,
        };
        self.attribute(&mut header, boot_ns);
        header
    }

    /// Fills an event's cgroup path and container from its cgroup id. Once a cgroup's
    /// attribution is final (a host cgroup, or a container whose runtime files were found
    /// and whose CRI answer is in), its blocks are reused as they are: one lookup per event.
    /// Fills the header's container, pod and cgroup path, and cuts a container process's
    /// ancestry at the container's edge.
    fn attribute(&mut self, h: &mut Header, boot_ns: u64) {
        self.attribute_cgroup(h, boot_ns);
        if h.container.is_some()
            && let Some(path) = &h.cgroup.path
        {
            self.processes
                .within_container(&mut h.process, h.cgroup.id, path);
        }
    }

    fn attribute_cgroup(&mut self, h: &mut Header, boot_ns: u64) {
        let id = h.cgroup.id;
        if let Some(a) = self.attributed.get(&id).filter(|a| a.settled) {
            a.fill(h);
            return;
        }
        let Some(path) = self.cgroups.path(id, h.process.pid) else {
            h.cgroup.path = None;
            return;
        };
        let attribution = self.containers.for_cgroup(&path, boot_ns);
        let same = self
            .attributed
            .get(&id)
            .filter(|a| match (&a.from, &attribution) {
                (Some(x), Some(y)) => Arc::ptr_eq(x, y),
                (None, None) => true,
                _ => false,
            })
            .cloned();
        let config = match &same {
            Some(_) => None,
            None => attribution.as_deref().and_then(oci_config),
        };
        let entry = same.unwrap_or_else(|| Attributed {
            // The effective set the bundle grants the container's processes (null: no
            // bundle known, or no set in it).
            grant: config.as_ref().and_then(|c| c.granted()),
            config,
            path: Shared::new(path.into()),
            container: attribution
                .as_ref()
                .map(|a| Shared::new(a.container.clone())),
            k8s: attribution
                .as_ref()
                .and_then(|a| a.k8s.clone())
                .map(Shared::new),
            settled: attribution.as_ref().is_none_or(|a| a.settled),
            from: attribution,
            labelled: false,
        });
        entry.fill(h);
        // Not watched from its first act once its identity is final (else from its start).
        if entry.settled
            && entry.container.is_some()
            && !self.ignored.contains(&id)
            && self.enforcer.mode_of_header(h) == crate::config::WorkloadMode::Ignore
        {
            self.ignore_cgroup(id);
        }
        if self.attributed.len() >= MAX_ATTRIBUTED {
            self.attributed.clear();
        }
        self.attributed.insert(id, entry);
    }

    /// A capability event with its process, cgroup and container filled in.
    fn capability_event(&mut self, cap: &CapabilityRecord) -> CapabilityEvent {
        let mut ev = CapabilityEvent::from_record(cap, &self.clock, &self.node);
        let h = &mut ev.header;
        self.processes.enrich(&mut h.process);
        self.attribute(h, cap.boot_ns);
        if let Some(e) = &mut h.enforcement {
            let advisor = self.advisor.lock().unwrap_or_else(|e| e.into_inner());
            let namespace = h.k8s.as_deref().and_then(|k| k.namespace.as_deref());
            e.policy = self.enforcer.acted(
                cap.cgroup_id,
                cap.action,
                Some(cap.cap),
                namespace,
                &advisor,
            );
        }
        let (id, pid) = (h.cgroup.id, h.process.pid);
        self.label_cgroup(id, pid, false);
        ev
    }

    /// Tells the metrics whose counts cgroup `id` holds, once that is known for sure: the
    /// host's, or a container's whose metadata is resolved (or given up on at its start).
    /// `last_chance`: the cgroup is going away; label it with what is known.
    fn label_cgroup(&mut self, id: u64, pid: u32, last_chance: bool) {
        // Once labelled, a live cgroup stays labelled (its series go after it is removed,
        // with its attribution): no lock per event.
        if self.attributed.get(&id).is_some_and(|a| a.labelled) {
            return;
        }
        if self.metrics.knows_cgroup(id) {
            self.unlabelled.remove(&id);
            if let Some(a) = self.attributed.get_mut(&id) {
                a.labelled = true;
            }
            return;
        }
        let labels = match self.cgroups.path(id, pid) {
            None => {
                let since = *self.unlabelled.entry(id).or_insert_with(Instant::now);
                if !last_chance && since.elapsed() < UNRESOLVED_PATIENCE {
                    return;
                }
                None
            }
            Some(path) => match self.containers.for_cgroup(&path, boottime_ns()) {
                None => None,
                Some(a) => {
                    if !a.resolved && !last_chance && !self.started.contains(&a.container.id) {
                        self.unlabelled.entry(id).or_insert_with(Instant::now);
                        return;
                    }
                    Some(SeriesLabels::of(
                        &a.container,
                        a.k8s.as_ref(),
                        self.metrics.pod_labels(),
                    ))
                }
            },
        };
        self.metrics.label_cgroup(id, labels);
        self.unlabelled.remove(&id);
    }

    /// Labels the cgroups a scrape found unlabelled, and retries the ones still waiting.
    fn label_pending(&mut self) {
        let mut ids = self.metrics.take_pending();
        ids.extend(self.unlabelled.keys().copied());
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            self.label_cgroup(id, 0, false);
        }
    }

    /// Arms enforcement in a container whose entrypoint runs, once it is attributed.
    fn arm(&mut self, cgroup_id: u64) {
        if !self.enforcer.active() {
            return;
        }
        let header = self.header(Process::unknown(), "capability", cgroup_id, boottime_ns());
        if header.container.is_none() {
            return;
        }
        let advisor = self.advisor.lock().unwrap_or_else(|e| e.into_inner());
        self.enforcer.started(cgroup_id, header, &advisor);
    }

    /// Writes a container_start/stop event and keeps the posture gauges in step.
    fn container_event(&mut self, ev: &mut ContainerEvent) {
        if ev.kind == "container_start"
            && ev.container.is_some()
            && (self.ignored.contains(&ev.cgroup.id)
                || self.enforcer.mode_of(ev) == crate::config::WorkloadMode::Ignore)
        {
            self.ignore(ev);
            return;
        }
        if ev.kind == "container_stop" && self.ignored.contains(&ev.cgroup.id) {
            return;
        }
        if ev.kind == "container_start" {
            // The set-up is over: what it did goes out with the start.
            self.flush_setup(ev.cgroup.id);
            ev.runtime_setup = self.setups.end(ev.cgroup.id);
        }
        if ev.kind == "container_start" && ev.container.is_some() {
            // Armed before the start is written: a client that sees it sees an armed
            // container.
            self.arm(ev.cgroup.id);
        } else if ev.kind == "container_stop" {
            self.enforcer.gone(ev.cgroup.id);
        }
        if let Some(c) = &ev.container {
            if ev.kind == "container_start" {
                self.started.insert(c.id.clone());
                self.metrics
                    .container_started(c, ev.k8s.as_ref(), &ev.posture);
            } else {
                self.started.remove(&c.id);
                self.metrics.container_stopped(&c.id);
            }
        }
        self.emit(ev);
    }

    /// Stops watching a container in `ignore` mode: its cgroup joins the kernel's host
    /// filter, and what its set-up held goes (dropped by [`Output::is_ignored`]).
    fn ignore(&mut self, ev: &ContainerEvent) {
        let id = ev.cgroup.id;
        self.ignore_cgroup(id);
        self.flush_setup(id);
        self.setups.end(id);
        self.enforcer.gone(id);
        info!(
            container = ev.container.as_ref().map_or("", |c| c.id.as_str()),
            pod = ev.k8s.as_ref().and_then(|k| k.pod.as_deref()).unwrap_or(""),
            "not watched (workload mode ignore)"
        );
    }

    /// Drops a cgroup's records from now on, in the kernel where it filters.
    fn ignore_cgroup(&mut self, id: u64) {
        if !self.ignored.insert(id) {
            return;
        }
        if let Some(filter) = &mut self.host_cgroups
            && !filter.insert(id)
        {
            self.stats.host_cgroups_unfiltered.fetch_add(1, Relaxed);
        }
    }

    fn poll_lifecycle(&mut self) {
        let setups = &self.setups;
        let started =
            self.lifecycle
                .poll(&mut self.containers, &self.node, &self.clock, |cgroup_id| {
                    setups.in_setup(cgroup_id)
                });
        for mut ev in started {
            self.container_event(&mut ev);
        }
        self.update_gauges();
    }

    fn update_gauges(&self) {
        self.stats
            .container_metadata_missing
            .store(self.containers.metadata_missing, Relaxed);
        self.stats
            .containers_tracked
            .store(self.lifecycle.len() as u64, Relaxed);
        self.stats
            .containers_ignored
            .store(self.ignored.len() as u64, Relaxed);
        self.stats
            .processes_tracked
            .store(self.processes.len() as u64, Relaxed);
    }

    /// Writes an event, then the alerts it raises, and lets the advisor learn from it. The
    /// event stays typed: it is serialized once, into the line every sink and the stream
    /// share, and the rules and the advisor read its fields.
    fn emit<T: Published + Serialize>(&mut self, ev: &T) {
        self.publish_event(ev);
        self.advise(ev);
    }

    /// Writes an event and judges it (the advisor has seen it, or has no use for it).
    fn publish_event<T: Published + Serialize>(&mut self, ev: &T) {
        if self.is_ignored(ev) {
            self.stats.ignored.fetch_add(1, Relaxed);
            return;
        }
        if !self.serialize {
            // The benchmark's view of the stages before serialization.
            let alerts = self.rules.evaluate(ev, None, self.now);
            self.stats.written.fetch_add(1, Relaxed);
            for alert in &alerts {
                self.alert(alert);
            }
            return;
        }
        // Sized like the last line, so that writing it does not grow the buffer.
        let mut buf = Vec::with_capacity(self.line_hint);
        if serde_json::to_writer(&mut buf, ev).is_err() {
            self.stats.output_errors.fetch_add(1, Relaxed);
            return;
        }
        self.line_hint = buf.len().next_power_of_two().max(1024);
        // SAFETY: serde_json writes UTF-8 only (as its own `to_string` assumes).
        let json = unsafe { String::from_utf8_unchecked(buf) };
        let record = Arc::new(sinks::Record::of(ev, json));
        self.publish(&record);
        self.bytes += record.json.len() as u64 + 1;
        let alerts = self.rules.evaluate(ev, Some(&record.json), self.now);
        for alert in &alerts {
            self.alert(alert);
        }
    }

    /// Whether an act is of a container in `ignore` mode.
    fn is_ignored(&self, ev: &impl Published) -> bool {
        !self.ignored.is_empty() && ev.cgroup_id().is_some_and(|id| self.ignored.contains(&id))
    }

    fn alert(&mut self, alert: &Alert) {
        self.metrics.alert(
            &alert.rule,
            alert.severity.name(),
            alert.k8s["namespace"].as_str().unwrap_or(""),
        );
        match serde_json::to_value(alert) {
            Ok(v) => self.write(&v),
            Err(_) => {
                self.stats.output_errors.fetch_add(1, Relaxed);
            }
        }
    }

    /// Closes ended dedup windows, and swaps in reloaded rules.
    fn poll_rules(&mut self) {
        let now = Instant::now();
        let mut alerts = self.rules.flush(now);
        let reloaded = self
            .new_rules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(rules) = reloaded {
            self.enforcer.set_rules(&rules);
            alerts.extend(self.rules.replace(rules, now));
            let advisor = self.advisor.lock().unwrap_or_else(|e| e.into_inner());
            self.enforcer.replan_all(&advisor);
        }
        for a in &alerts {
            self.alert(a);
        }
    }

    /// Hands an alert to every sink and to the live stream.
    fn write(&mut self, value: &Value) {
        let Some(record) = sinks::Record::new(value) else {
            self.stats.output_errors.fetch_add(1, Relaxed);
            return;
        };
        self.publish(&Arc::new(record));
    }

    /// Hands a serialized event to every sink and to the live stream; never waits for them.
    fn publish(&mut self, record: &Arc<sinks::Record>) {
        for sink in &mut self.sinks {
            sink.offer(record);
        }
        self.hub.publish(record);
        self.stats.written.fetch_add(1, Relaxed);
        match &record.kind {
            std::borrow::Cow::Borrowed(kind) => {
                let metrics = &self.metrics;
                self.event_counters
                    .entry(kind)
                    .or_insert_with(|| metrics.event_counter(kind))
                    .inc();
            }
            std::borrow::Cow::Owned(kind) => self.metrics.event(kind),
        }
    }
}

/// The output stage fed from memory instead of the kernel: decode -> resolve -> rules ->
/// JSON, as the daemon's output thread runs it, for the throughput benchmark
/// (`monitor/benches/pipeline.rs`). No sink is attached: each event is serialized once and
/// published to the live stream (with no client), as the daemon does before the sinks'
/// own threads write it.
#[doc(hidden)]
pub struct Replay {
    output: Output,
}

impl Replay {
    /// An output stage with `config`'s rules and advisor (no kernel, no sinks).
    pub fn new(config: &Config) -> anyhow::Result<Replay> {
        let cgroup_root = v2_root()?;
        let rules = RuleSet::load(config.default_rules, &config.rules_files)
            .map_err(|e| anyhow::anyhow!("invalid rules: {e}"))?;
        let metrics = Arc::new(Metrics::new(
            config.metrics_pod_labels,
            Duration::from_secs(config.metrics_grace_secs),
            Health::new(cgroup_root.clone()),
        )?);
        let advisor = Arc::new(Mutex::new(load_advisor(config)));
        let enforcer = Enforcer::off(Arc::default(), metrics.clone());
        let output = Output::new(
            "bench".into(),
            cgroup_root,
            true,
            None,
            config.trusted_registries.clone(),
            metrics,
            Outlets {
                enforcer,
                rules: Engine::new(rules),
                advisor,
                new_rules: Arc::default(),
                sinks: Vec::new(),
                hub: Arc::new(Hub::new(config.stream_history, STREAM_LAG)),
                stats: Arc::new(PipelineStats::default()),
            },
        );
        let mut output = output;
        // No kernel here: the table the loader would load for `config`.
        let table = crate::catalog::syscalls::Arch::host()
            .map(|arch| operations::kernel_table_for(arch, |g| config.operations.mode(g)))
            .unwrap_or_default();
        output.merge = ExitMerge::new(&table, &[]);
        output.report_fileless = config.operations.misc != Coverage::Off;
        output.write_runtime_setup(config.runtime_setup_events);
        Ok(Replay { output })
    }

    /// Reads the container runtimes' files under `root` instead of `/` (the benchmark lays
    /// out a runc state there, so that its container is resolved as in production).
    pub fn host_root(&mut self, root: PathBuf) {
        self.output.containers = Containers::new(root);
    }

    /// Decodes one raw ring-buffer record and handles it as the output thread does.
    pub fn feed(&mut self, raw: &[u8]) -> Result<(), DecodeError> {
        self.output.handle(decode(raw)?);
        Ok(())
    }

    /// The output thread's periodic work (every 50 ms in the daemon): container starts,
    /// pending labels, rule windows, the advisor's clock.
    pub fn tick(&mut self) {
        // The records fed since the last tick were one batch.
        self.output.refresh_now();
        // Everything fed so far has been read: as a drained ring buffer.
        self.output.flush_pending(false, u64::MAX);
        self.output.poll_lifecycle();
        self.output.label_pending();
        self.output.poll_rules();
        self.output.poll_advisor(false);
    }

    /// Leaves events unserialized (rules and the advisor still run): the benchmark of the
    /// stages before serialization. Alerts are serialized as usual.
    pub fn without_serialization(&mut self) {
        self.output.serialize = false;
    }

    /// The JSON lines of the recent events (the live stream's history), oldest first.
    pub fn recent(&self) -> Vec<String> {
        self.output.hub.recent()
    }

    /// Bytes of JSON written so far (events, newlines included).
    pub fn bytes(&self) -> u64 {
        self.output.bytes
    }

    /// Cgroups whose attribution is final (reused without asking the resolver again).
    pub fn settled_cgroups(&self) -> usize {
        self.output
            .attributed
            .values()
            .filter(|a| a.settled)
            .count()
    }

    /// Events and alerts serialized so far.
    pub fn written(&self) -> u64 {
        self.output.stats.written.load(Relaxed)
    }
}

/// The advisor, with what it learned before if `state_dir` holds it.
pub(crate) fn load_advisor(config: &Config) -> Advisor {
    let Some(dir) = &config.state_dir else {
        return Advisor::new(config.baseline_learning_secs, None);
    };
    let (advisor, problem) = Advisor::load(config.baseline_learning_secs, dir, advisor::unix_now());
    match problem {
        Some(p) => error!(problem = %p, "advisor state"),
        None => info!(
            workloads = advisor.workloads().count(),
            state = %dir.join(advisor::STATE_FILE).display(),
            "advisor state loaded"
        ),
    }
    advisor
}

/// How often the advisor's state is written (and at exit).
const ADVISOR_SAVE_INTERVAL: Duration = Duration::from_secs(30);
