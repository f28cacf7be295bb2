//! The daemon's event pipeline: ring buffer -> decode -> bounded queue -> enrich -> JSON lines.
//!
//! The ring-buffer reader never blocks: it hands records to the output thread with
//! `try_send`, and every record that cannot be handed over is counted.

use std::{
    collections::{HashMap as StdHashMap, HashSet},
    path::{Path, PathBuf},
    sync::{Arc, Mutex, atomic::Ordering::Relaxed, mpsc::RecvTimeoutError},
    time::{Duration, Instant},
};

use anyhow::Context as _;
use aya::maps::{Array, HashMap, MapData, RingBuf};
use monitor_common::{CapabilityRecord, names};
use serde::Serialize;
use tokio::{
    io::{Interest, unix::AsyncFd},
    signal::unix::{SignalKind, signal},
};
use tracing::{error, info, warn};

use crate::{
    advisor::{self, Advisor, OutsideBaseline},
    capabilities::CapSet,
    cgroup::{CgroupResolver, v2_root},
    config::{Config, Coverage, Watch},
    containers::{Containers, cgroup_path, lifecycle::Lifecycle},
    cri::{Cri, CriStats},
    event::{
        CapabilityEvent, CapabilitySets, Clock, ContainerEvent, CredentialsChange,
        CredentialsEvent, DecodeError, Exec, ExecDetail, Header, Ids, Operation, OperationEvent,
        Process, Record, Shared, SyscallDetail, access::Event, boottime_ns, decode,
    },
    http,
    loader::Probes,
    metrics::{Health, HookInfo, Metrics, SeriesLabels},
    operations::{self, ExitMerge},
    processes::{CredentialChange, Creds, ProcessTable},
    queue,
    rules::{Alert, Engine, RuleSet, Severity, Technique},
    sinks::{self, Filter, Queued, stream::Hub},
};
use serde_json::Value;

/// How often the output thread looks for containers whose start is pending.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Events a live-stream client may fall behind before it skips some (counted).
const STREAM_LAG: usize = 4096;

/// How often rule files are checked for changes.
const RULES_POLL_INTERVAL: Duration = Duration::from_secs(2);

/// How often the series of removed containers are checked for expiry.
const EXPIRE_INTERVAL: Duration = Duration::from_secs(10);

/// A cgroup counted by the kernel whose path cannot be found for this long (it vanished
/// before it was resolved) is counted with the host's empty labels.
const UNRESOLVED_PATIENCE: Duration = Duration::from_secs(10);

pub use crate::stats::PipelineStats;

/// The CRI lookups, if enabled and a socket is configured or found.
fn start_cri(config: &Config, metrics: &Metrics) -> anyhow::Result<Option<Cri>> {
    if !config.cri {
        return Ok(None);
    }
    let Some(socket) = Cri::find_socket(config.cri_socket.as_deref(), Path::new("/")) else {
        info!(
            tried = ?crate::cri::WELL_KNOWN_SOCKETS,
            "CRI: no container runtime socket; container metadata comes from the OCI state"
        );
        return Ok(None);
    };
    if !socket.exists() {
        warn!(
            socket = %socket.display(),
            "CRI: the configured socket is not there (yet); lookups fail until it is"
        );
    }
    let stats = Arc::new(CriStats::default());
    metrics.set_cri(stats.clone());
    let timeout = Duration::from_millis(config.cri_timeout_ms);
    Cri::start(socket, timeout, stats).map(Some)
}

/// Runs the daemon until SIGINT or SIGTERM, then detaches everything.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let node = match &config.node_name {
        Some(n) => n.clone(),
        None => hostname(),
    };
    let cgroup_root = v2_root()?;
    let rules = RuleSet::load(config.default_rules, &config.rules_files)
        .map_err(|e| anyhow::anyhow!("invalid rules: {e}"))?;
    info!(
        enabled = rules.enabled().count(),
        files = config.rules_files.len(),
        "rules loaded"
    );
    let stats = Arc::new(PipelineStats::default());
    let metrics = Arc::new(Metrics::new(
        stats.clone(),
        config.metrics_pod_labels,
        Duration::from_secs(config.metrics_grace_secs),
        Health::new(cgroup_root.clone()),
    )?);
    // The endpoints come up first: /healthz answers while the probes load, /readyz says
    // why the daemon is not ready yet, and a taken port fails the start at once.
    let listener = http::bind(config.listen).await?;
    let hub = Arc::new(Hub::new(config.stream_history, STREAM_LAG));
    let advisor = Arc::new(Mutex::new(load_advisor(&config, &metrics)));
    metrics.set_advisor(advisor.clone());
    let api = http::Api::new(&config, metrics.clone(), hub.clone(), advisor.clone())?;
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(http::serve(listener, Arc::new(api), async {
        let _ = http_stopped.await;
    }));
    let (sinks, sink_threads) = start_sinks(&config, &metrics)?;
    metrics.register_sink("stream", hub.stats.clone());

    let mut probes = Probes::load(&config)?;
    release_freed_memory();
    metrics.attached(probes.take_counters()?, &hook_info(&probes))?;
    metrics.rules_loaded(rules.enabled().count());
    let new_rules: Arc<Mutex<Option<RuleSet>>> = Arc::default();
    let ring = RingBuf::try_from(
        probes
            .ebpf
            .take_map(names::EVENTS)
            .context("EVENTS map missing")?,
    )?;
    // SAFETY: the RingBuf owns its map fd for as long as the AsyncFd owns the RingBuf.
    let mut ring = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
        .map_err(std::io::Error::from)
        .context("polling the ring buffer")?;

    let (tx, rx) = queue::bounded::<Record>(config.event_queue_capacity);
    let mut tx = queue::Batcher::new(tx, BATCH);
    let host_cgroups = match config.watch {
        Watch::Containers => Some(HostFilter::new(&mut probes)?),
        Watch::All => None,
    };
    let mut output = Output::new(
        node,
        cgroup_root,
        probes.lifecycle,
        host_cgroups,
        config.trusted_registries.clone(),
        metrics.clone(),
        Outlets {
            rules: Engine::new(rules),
            advisor,
            new_rules: new_rules.clone(),
            sinks,
            hub: hub.clone(),
        },
    );
    output.merge = exit_merge(&config);
    // Syscalls an LSM-hook source reports are paired with their checks like the fallbacks'.
    if let Some(arch) = crate::syscalls::Arch::host() {
        for c in &probes.coverage {
            for nr in c.lsm.iter().filter_map(|name| arch.number(name)) {
                output.merge.track(nr);
            }
        }
    }
    output.report_fileless = config.operations.misc != Coverage::Off;
    if let Some(cri) = start_cri(&config, &metrics)? {
        output.containers.set_cri(cri);
    }
    // Containers already running are announced before anything else.
    output.discover();
    let writer = std::thread::Builder::new()
        .name("privmon-output".into())
        .spawn(move || output.run(rx))
        .context("starting the output thread")?;

    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let stats_every = Duration::from_secs(config.stats_interval_secs.max(1));
    let mut stats_tick =
        tokio::time::interval_at(tokio::time::Instant::now() + stats_every, stats_every);
    // The reader shows it is alive (for /readyz) even when no record arrives, and the
    // series of removed containers expire even when no one scrapes.
    let mut beat = tokio::time::interval(Duration::from_secs(1));
    let mut expire_tick = tokio::time::interval(EXPIRE_INTERVAL);
    let mut sighup = signal(SignalKind::hangup())?;
    let mut rules_watch = RulesWatch::new(&config.rules_files);
    let mut rules_tick = tokio::time::interval(RULES_POLL_INTERVAL);
    info!(
        hook = probes.hook.name(),
        lifecycle = probes.lifecycle,
        "privmon ready"
    );

    let mut backlogged = false;
    loop {
        tokio::select! {
            guard = ring.readable_mut(), if !backlogged => {
                let mut guard = guard.context("waiting on the ring buffer")?;
                backlogged = drain(guard.get_inner_mut(), &mut tx, &stats, Full::Wait);
                guard.clear_ready();
            }
            // The output thread is behind: what the ring buffer holds stays there (the
            // kernel wakes no reader that has not caught up) until it has room.
            _ = tokio::time::sleep(BACKLOG_RETRY), if backlogged => {
                backlogged = drain(ring.get_mut(), &mut tx, &stats, Full::Wait);
            }
            _ = sigterm.recv() => { info!("SIGTERM: shutting down"); break; }
            _ = sigint.recv() => { info!("SIGINT: shutting down"); break; }
            _ = stats_tick.tick(), if config.stats_interval_secs > 0 => {
                log_stats(probes.hook.name(), &metrics, &stats);
            }
            _ = beat.tick() => {
                backlogged = drain(ring.get_mut(), &mut tx, &stats, Full::Wait);
                metrics.health.reader_alive();
            }
            _ = sighup.recv() => {
                info!("SIGHUP: reloading rules");
                reload_rules(&config, &metrics, &new_rules);
                rules_watch = RulesWatch::new(&config.rules_files);
            }
            _ = rules_tick.tick() => {
                if rules_watch.changed(&config.rules_files) {
                    info!("a rule file changed: reloading rules");
                    reload_rules(&config, &metrics, &new_rules);
                }
            }
            _ = expire_tick.tick() => {
                let m = metrics.clone();
                // Off the reader's thread: expiry walks the kernel map.
                drop(tokio::task::spawn_blocking(move || m.expire()));
            }
        }
    }

    // Detach first so no new records arrive, then hand over what is left.
    let final_probe_stats = metrics.probe_stats();
    metrics.detach();
    drop(probes);
    // What is left is handed over as the output thread makes room, for a while; then
    // dropped and counted.
    let give_up = Instant::now() + EXIT_DRAIN;
    while drain(ring.get_mut(), &mut tx, &stats, Full::Wait) && Instant::now() < give_up {
        std::thread::sleep(BACKLOG_RETRY);
    }
    drain(ring.get_mut(), &mut tx, &stats, Full::Drop);
    drop(tx);
    if writer.join().is_err() {
        error!("output thread panicked");
    }
    // The output thread dropped the sinks' queues: they write what is queued and end.
    for t in sink_threads {
        if t.join().is_err() {
            error!("a sink thread panicked");
        }
    }
    hub.close();
    match final_probe_stats {
        Some(Ok(p)) => info!(probes = %p, pipeline = %stats, "detached; final statistics"),
        Some(Err(e)) => info!(pipeline = %stats, error = %e, "detached"),
        None => info!(pipeline = %stats, "detached"),
    }
    let _ = stop_http.send(());
    if let Err(e) = server.await {
        error!(error = %e, "HTTP server task failed");
    }
    Ok(())
}

/// Records handed to the output thread at once.
const BATCH: usize = 256;

/// How soon the reader looks again when the output thread had no room.
const BACKLOG_RETRY: Duration = Duration::from_millis(1);

/// How long the output thread may take, at exit, to make room for what the ring holds.
const EXIT_DRAIN: Duration = Duration::from_secs(5);

/// What the reader does when the output thread's queue is full.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Full {
    /// Stop reading: the records wait in the ring buffer (the kernel counts what does not
    /// fit there).
    Wait,
    /// Read on, and drop (counted) what does not fit.
    Drop,
}

/// Reads what the ring buffer holds and hands it to the output thread, in batches. Returns
/// whether it stopped with records left because the queue was full (`Full::Wait`).
fn drain(
    ring: &mut RingBuf<MapData>,
    tx: &mut queue::Batcher<Record>,
    stats: &PipelineStats,
    full: Full,
) -> bool {
    let mut refused = 0;
    let mut backlogged = false;
    loop {
        if full == Full::Wait && tx.room() == 0 {
            backlogged = true;
            break;
        }
        let Some(item) = ring.next() else { break };
        stats.records.fetch_add(1, Relaxed);
        match decode(&item) {
            Ok(rec) => refused += tx.push(rec),
            Err(DecodeError::Truncated { .. }) => {
                stats.truncated.fetch_add(1, Relaxed);
            }
            Err(DecodeError::UnknownKind { .. }) => {
                stats.unknown_kind.fetch_add(1, Relaxed);
            }
        }
    }
    refused += tx.flush();
    stats.queue_drops.fetch_add(refused as u64, Relaxed);
    backlogged
}

/// Starts the configured sinks; returns them and the threads to join at exit (the
/// webhook's is not joined: a dead endpoint must not hold up the exit).
fn start_sinks(
    config: &Config,
    metrics: &Metrics,
) -> anyhow::Result<(Vec<Queued>, Vec<std::thread::JoinHandle<()>>)> {
    let mut sinks = Vec::new();
    let mut threads = Vec::new();
    if config.stdout {
        let filter = Filter {
            kinds: config.stdout_kinds.clone(),
            min_severity: config.stdout_min_severity,
        };
        let (q, t) = Queued::spawn(
            "stdout",
            filter,
            config.event_queue_capacity,
            sinks::stdout_worker,
        )?;
        sinks.push(q);
        threads.push(t);
    }
    if let Some(path) = &config.file_path {
        let filter = Filter {
            kinds: config.file_kinds.clone(),
            min_severity: config.file_min_severity,
        };
        let file =
            sinks::file::Rotating::new(path.clone(), config.file_max_bytes, config.file_keep);
        let (q, t) = Queued::spawn(
            "file",
            filter,
            config.event_queue_capacity,
            move |rx, st| sinks::file::worker(file, rx, st),
        )?;
        info!(path = %path.display(), "writing events to a file");
        sinks.push(q);
        threads.push(t);
    }
    if let Some(url) = &config.webhook_url {
        let filter = Filter {
            kinds: config.webhook_kinds.clone(),
            min_severity: config.webhook_min_severity,
        };
        let settings = sinks::webhook::Settings {
            url: url.clone(),
            format: config.webhook_format,
            timeout: Duration::from_secs(config.webhook_timeout_secs.max(1)),
            attempts: config.webhook_attempts,
            backoff: Duration::from_millis(config.webhook_backoff_ms),
        };
        let (q, _detached) = Queued::spawn(
            "webhook",
            filter,
            config.webhook_queue_capacity,
            move |rx, st| sinks::webhook::worker(settings, rx, st),
        )?;
        info!(url = %url, format = ?config.webhook_format, "sending events to a webhook");
        sinks.push(q);
    }
    for q in &sinks {
        metrics.register_sink(q.name, q.stats.clone());
    }
    Ok((sinks, threads))
}

/// Loads the rules again; an invalid set keeps the running one.
fn reload_rules(config: &Config, metrics: &Metrics, slot: &Mutex<Option<RuleSet>>) {
    match RuleSet::load(config.default_rules, &config.rules_files) {
        Ok(rules) => {
            let enabled = rules.enabled().count();
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(rules);
            metrics.rules_loaded(enabled);
            info!(enabled, "rules reloaded");
        }
        Err(e) => {
            metrics.rules_reload_failed();
            error!(error = %e, "invalid rules: keeping the previous set");
        }
    }
}

/// Modification times of the rule files, to reload when one changes.
struct RulesWatch(Vec<Option<std::time::SystemTime>>);

impl RulesWatch {
    fn new(files: &[PathBuf]) -> RulesWatch {
        RulesWatch(files.iter().map(|f| modified(f)).collect())
    }

    fn changed(&mut self, files: &[PathBuf]) -> bool {
        let now = RulesWatch::new(files);
        let changed = now.0 != self.0;
        *self = now;
        changed
    }
}

fn modified(f: &std::path::Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(f).and_then(|m| m.modified()).ok()
}

fn log_stats(hook: &str, metrics: &Metrics, stats: &PipelineStats) {
    match metrics.probe_stats() {
        Some(Ok(p)) => info!(hook, probes = %p, pipeline = %stats, "statistics"),
        Some(Err(e)) => warn!(error = %e, pipeline = %stats, "statistics (probe maps unreadable)"),
        None => info!(pipeline = %stats, "statistics (probes detached)"),
    }
}

fn hook_info(probes: &Probes) -> HookInfo {
    HookInfo {
        hooks: probes.families(),
        uncovered: probes
            .coverage
            .iter()
            .map(|c| (c.group.to_string(), c.uncovered.len()))
            .collect(),
    }
}

/// Most cgroups whose attribution the output thread keeps; beyond it, it starts over.
const MAX_ATTRIBUTED: usize = 16_384;

/// The attribution of one cgroup's events, with the blocks they share.
#[derive(Clone)]
struct Attributed {
    path: Shared<Arc<str>>,
    /// What the container resolver said (compared by identity: it makes a new one when
    /// what it knows changes).
    from: Option<Arc<crate::containers::Attribution>>,
    container: Option<Shared<crate::containers::Container>>,
    k8s: Option<Shared<crate::containers::Kubernetes>>,
    /// Final: reused without asking the resolver again.
    settled: bool,
    /// The metrics have the cgroup's labels.
    labelled: bool,
}

impl Attributed {
    fn fill(&self, h: &mut Header) {
        h.cgroup.path = Some(self.path.clone());
        h.container.clone_from(&self.container);
        h.k8s.clone_from(&self.k8s);
    }
}

/// What the output thread hands events to: the rules, then the sinks and the stream, and
/// the least-privilege advisor.
struct Outlets {
    rules: Engine,
    advisor: Arc<Mutex<Advisor>>,
    /// A reloaded rule set, handed over by the main loop.
    new_rules: Arc<Mutex<Option<RuleSet>>>,
    sinks: Vec<Queued>,
    hub: Arc<Hub>,
}

/// The kernel's list of host cgroups (whose checks are dropped in the kernel under
/// `watch: containers`), and its generation: the probes cache their last verdict per CPU
/// for one generation, so every change is followed by a bump.
struct HostFilter {
    cgroups: HashMap<MapData, u64, u8>,
    generation: Array<MapData, u64>,
    current: u64,
}

impl HostFilter {
    fn new(probes: &mut Probes) -> anyhow::Result<HostFilter> {
        let mut take = |name: &str| {
            probes
                .ebpf
                .take_map(name)
                .with_context(|| format!("{name} map missing"))
        };
        Ok(HostFilter {
            cgroups: HashMap::try_from(take(names::HOST_CGROUPS)?)?,
            generation: Array::try_from(take(names::FILTER_GEN)?)?,
            current: 0,
        })
    }

    /// Lists a host cgroup; false if the kernel map refused it (full).
    fn insert(&mut self, id: u64) -> bool {
        let ok = self.cgroups.insert(id, 1, 0).is_ok();
        self.bump();
        ok
    }

    fn remove(&mut self, id: u64) {
        // Absent for containers' cgroups; nothing to remove then.
        if self.cgroups.remove(&id).is_ok() {
            self.bump();
        }
    }

    fn bump(&mut self) {
        self.current = self.current.wrapping_add(1);
        // An array slot that exists: this cannot fail but for a kernel error, after which
        // a cached verdict may live until the CPU sees another cgroup.
        if let Err(e) = self.generation.set(0, self.current, 0) {
            warn!(error = %e, "bumping the host filter's generation failed");
        }
    }
}

/// The output thread's state: enrichment caches, container lifecycle, rules, and the
/// sinks it offers events to (never waiting for them).
struct Output {
    node: Arc<str>,
    /// Who each cgroup's events belong to, and its blocks made once (see `attribute`).
    attributed: StdHashMap<u64, Attributed>,
    /// Capacity for the next event's JSON.
    line_hint: usize,
    /// Events are serialized (off only in the benchmark that measures what comes before).
    serialize: bool,
    /// Bytes of JSON written, newlines included.
    bytes: u64,
    /// `privmon_events_total` by kind.
    event_counters: StdHashMap<&'static str, prometheus::IntCounter>,
    clock: Clock,
    cgroups: CgroupResolver,
    containers: Containers,
    lifecycle: Lifecycle,
    processes: ProcessTable,
    /// The kernel's list of host cgroups (`watch: containers`).
    host_cgroups: Option<HostFilter>,
    stats: Arc<PipelineStats>,
    metrics: Arc<Metrics>,
    /// Containers announced with `container_start`, by id.
    started: HashSet<String>,
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
    merge: ExitMerge,
    /// Execs from a memfd are `syscall` events (the `misc` group is not `off`).
    report_fileless: bool,
}

impl Output {
    fn new(
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
        } = outlets;
        let mut cgroups = CgroupResolver::new(cgroup_root);
        if tracepoints {
            cgroups.tracepoints_keep_current();
        }
        Output {
            node: node.into(),
            attributed: StdHashMap::new(),
            line_hint: 2048,
            serialize: true,
            bytes: 0,
            event_counters: StdHashMap::new(),
            clock: Clock::new(),
            cgroups,
            containers: Containers::new(PathBuf::from("/")),
            lifecycle: Lifecycle::new(trusted_registries),
            processes: ProcessTable::default(),
            host_cgroups,
            stats: metrics.pipeline().clone(),
            metrics,
            started: HashSet::new(),
            unlabelled: StdHashMap::new(),
            rules,
            new_rules,
            sinks,
            hub,
            advisor,
            advisor_saved: Instant::now(),
            merge: ExitMerge::default(),
            report_fileless: true,
        }
    }

    /// Classifies the cgroups that exist already: containers are registered (and announced
    /// once ready), host cgroups are handed to the kernel filter.
    fn discover(&mut self) {
        let now = boottime_ns();
        for (id, path) in self.cgroups.all() {
            self.classify(id, &path, now);
        }
        self.poll_lifecycle();
    }

    /// A cgroup that exists: a container's (tracked) or the host's (filtered in the kernel).
    fn classify(&mut self, id: u64, path: &str, boot_ns: u64) {
        if cgroup_path::parse(path).is_some() {
            self.lifecycle.on_mkdir(id, path, boot_ns);
        } else if let Some(filter) = &mut self.host_cgroups
            && !filter.insert(id)
        {
            self.stats.host_cgroups_unfiltered.fetch_add(1, Relaxed);
        }
    }

    fn run(mut self, rx: queue::Receiver<Record>) {
        let mut last_poll = Instant::now();
        loop {
            match rx.recv_timeout(POLL_INTERVAL) {
                Ok(batch) => {
                    batch.into_iter().for_each(|rec| self.handle(rec));
                    // Write everything queued, then hand it to the sinks at once.
                    while let Ok(batch) = rx.try_recv() {
                        batch.into_iter().for_each(|rec| self.handle(rec));
                        if last_poll.elapsed() >= POLL_INTERVAL {
                            break;
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if last_poll.elapsed() >= POLL_INTERVAL {
                self.poll_lifecycle();
                self.label_pending();
                self.poll_rules();
                self.poll_advisor(false);
                last_poll = Instant::now();
            }
            self.flush_sinks();
            self.metrics.health.output_alive();
        }
        self.poll_advisor(true);
        self.flush_sinks();
    }

    /// Hands each sink what was gathered for it.
    fn flush_sinks(&mut self) {
        for sink in &mut self.sinks {
            sink.flush();
        }
    }

    /// Ends learning periods that are over, and saves the advisor's state now and then (and
    /// at exit).
    fn poll_advisor(&mut self, exiting: bool) {
        let mut advisor = self.advisor.lock().unwrap_or_else(|e| e.into_inner());
        advisor.tick(advisor::unix_now());
        if exiting || self.advisor_saved.elapsed() >= ADVISOR_SAVE_INTERVAL {
            self.advisor_saved = Instant::now();
            let saved = advisor.save();
            if let Err(e) = &saved {
                warn!(error = %format!("{e:#}"), "saving the advisor's state failed");
            }
            self.metrics.advisor_saved(saved.is_ok());
        }
    }

    /// Lets the advisor learn from an event; a use outside a baseline is an alert.
    fn advise<T: Event + Serialize>(&mut self, ev: &T) {
        let outside = self
            .advisor
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .observe(ev, advisor::unix_now());
        if let Some(o) = outside {
            // Rare: the alert quotes the event's JSON.
            match serde_json::to_value(ev) {
                Ok(value) => self.alert(&baseline_alert(&value, &o)),
                Err(_) => {
                    self.stats.output_errors.fetch_add(1, Relaxed);
                }
            }
        }
    }

    /// The `credentials` event of a credential syscall, else the `syscall`/`namespace`
    /// event of a sensitive one (`ev`: the record's check, or its stand-in).
    fn report_operation(&mut self, ev: CapabilityEvent, op: &Operation) {
        if let Some(change) = id_change_event(&ev, op) {
            self.emit(&change);
        } else if let Some(mut ev) = operation_event(ev, op) {
            self.name_target(&mut ev);
            self.emit(&ev);
        }
    }

    fn handle(&mut self, rec: Record) {
        match rec {
            Record::Capability(cap) => {
                let ev = self.capability_event(&cap);
                self.emit(&ev);
            }
            Record::Operation(op) => {
                let c = &op.check;
                // At a check; else seen returning (a fallback, fexit/security_capset) or
                // at an LSM hook, with no check of its own.
                if op.exit.is_none() && !op.lsm {
                    self.merge.checked(c.tid, c.syscall, c.args);
                    let ev = self.capability_event(c);
                    self.emit(&ev);
                    self.report_operation(ev, &op);
                } else if self.merge.returned(c.tid, c.syscall, c.args) {
                    // The same call's check was reported already.
                    self.stats.fallback_merged.fetch_add(1, Relaxed);
                } else {
                    let ev = self.capability_event(c);
                    self.report_operation(ev, &op);
                }
            }
            Record::Exec(exec) => {
                if let Some(change) = self.processes.exec(&exec) {
                    let ev = self.credentials_event(&exec, change);
                    self.emit(&ev);
                }
                if exec.memfd && self.report_fileless {
                    let ev = self.fileless_event(&exec);
                    self.emit(&ev);
                }
            }
            Record::Exit { pid, .. } => self.processes.exit(pid),
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
                    self.classify(id, &path, boot_ns);
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
                for ev in self.lifecycle.on_rmdir(
                    id,
                    boot_ns,
                    &mut self.containers,
                    &self.node,
                    &self.clock,
                ) {
                    self.container_event(&ev);
                }
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
            .and_then(|p| operations::host_pid(proc_root, ev.header.process.pid, p))
            .and_then(|p| crate::cgroup::proc_cgroup(proc_root, p));
        let container = cgroup
            .as_deref()
            .and_then(|path| self.containers.for_cgroup(path, boottime_ns()))
            .map(|a| Value::String(a.container.id.clone()));
        let args = &mut ev.syscall.args;
        args.insert("target_cgroup", cgroup.map_or(Value::Null, Value::String));
        args.insert("target_container", container.unwrap_or(Value::Null));
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
        let number = crate::syscalls::Arch::host()
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
            cap_effective: CapSet(0),
            ancestors: Process::no_ancestors(),
        };
        self.processes.enrich(&mut process);
        let mut header = Header {
            time: self.clock.rfc3339(e.boot_ns),
            kind,
            node: self.node.clone(),
            process,
            container: None,
            k8s: None,
            cgroup: crate::event::Cgroup {
                id: e.cgroup_id,
                path: None,
            },
        };
        self.attribute(&mut header, e.boot_ns);
        header
    }

    /// Fills an event's cgroup path and container from its cgroup id. Once a cgroup's
    /// attribution is final (a host cgroup, or a container whose runtime files were found
    /// and whose CRI answer is in), its blocks are reused as they are: one lookup per event.
    fn attribute(&mut self, h: &mut Header, boot_ns: u64) {
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
        let entry = same.unwrap_or_else(|| Attributed {
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

    /// Writes a container_start/stop event and keeps the posture gauges in step.
    fn container_event(&mut self, ev: &ContainerEvent) {
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

    fn poll_lifecycle(&mut self) {
        for ev in self
            .lifecycle
            .poll(&mut self.containers, &self.node, &self.clock)
        {
            self.container_event(&ev);
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
    }

    /// Writes an event, then the alerts it raises. The event stays typed: it is serialized
    /// once, into the line every sink and the stream share, and the rules and the advisor
    /// read its fields.
    fn emit<T: Event + Serialize>(&mut self, ev: &T) {
        if !self.serialize {
            // The benchmark's view of the stages before serialization.
            let alerts = self.rules.evaluate(ev, None, Instant::now());
            self.stats.written.fetch_add(1, Relaxed);
            for alert in &alerts {
                self.alert(alert);
            }
            self.advise(ev);
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
        let alerts = self.rules.evaluate(ev, Some(&record.json), Instant::now());
        for alert in &alerts {
            self.alert(alert);
        }
        self.advise(ev);
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
            alerts.extend(self.rules.replace(rules, now));
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
            Arc::new(PipelineStats::default()),
            config.metrics_pod_labels,
            Duration::from_secs(config.metrics_grace_secs),
            Health::new(cgroup_root.clone()),
        )?);
        let advisor = Arc::new(Mutex::new(load_advisor(config, &metrics)));
        let output = Output::new(
            "bench".into(),
            cgroup_root,
            true,
            None,
            config.trusted_registries.clone(),
            metrics,
            Outlets {
                rules: Engine::new(rules),
                advisor,
                new_rules: Arc::default(),
                sinks: Vec::new(),
                hub: Arc::new(Hub::new(config.stream_history, STREAM_LAG)),
            },
        );
        let mut output = output;
        output.merge = exit_merge(config);
        output.report_fileless = config.operations.misc != Coverage::Off;
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

/// Gives the heap's free memory back to the system. Loading parses the kernel's BTF (tens
/// of MiB of short-lived allocations); glibc would otherwise keep those pages, and they
/// would count in the daemon's RSS for its whole life.
fn release_freed_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases free heap memory; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The advisor, with what it learned before if `state_dir` holds it.
fn load_advisor(config: &Config, metrics: &Metrics) -> Advisor {
    let Some(dir) = &config.state_dir else {
        return Advisor::new(config.baseline_learning_secs, None);
    };
    let (advisor, problem) = Advisor::load(config.baseline_learning_secs, dir, advisor::unix_now());
    match problem {
        Some(p) => {
            error!(problem = %p, "advisor state");
            metrics.advisor_saved(false);
        }
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

/// The `capability_outside_baseline` alert: built in, not a rule (baselines are learned per
/// workload, not written).
fn baseline_alert(event: &Value, o: &OutsideBaseline) -> Alert {
    let p = &event["process"];
    let process = p["exe"]
        .as_str()
        .or(p["comm"].as_str())
        .unwrap_or("?")
        .to_string();
    Alert {
        time: event["time"].clone(),
        kind: "alert",
        node: event["node"].clone(),
        process: p.clone(),
        container: event["container"].clone(),
        k8s: event["k8s"].clone(),
        cgroup: event["cgroup"].clone(),
        rule: advisor::BASELINE_RULE.to_string(),
        severity: Severity::High,
        mitre: vec![Technique("T1068".to_string())],
        tags: vec!["baseline".to_string(), "capability".to_string()],
        summary: format!(
            "{} used {} outside its learned baseline ({} through {})",
            crate::rules::workload(event),
            o.capability,
            process,
            o.operation.as_deref().unwrap_or("no syscall")
        ),
        count: 1,
        window_secs: 0,
        event: event.clone(),
    }
}

/// The `syscall`/`namespace` event of a check made by a sensitive syscall.
/// The `credentials` event of a user- or group-id syscall that asked to change an id (the
/// probes report those in full): the caller's ids before, the ids it asked for, and the
/// check.
fn id_change_event(ev: &CapabilityEvent, op: &Operation) -> Option<CredentialsEvent> {
    let rec = &op.check;
    let sc = ev.syscall.as_ref()?;
    let known = |v: u32| (v != u32::MAX).then_some(v);
    let old = operations::IdSet {
        uid: known(rec.uid),
        euid: known(rec.euid),
        gid: known(rec.gid),
        egid: known(rec.egid),
    };
    let (cause, before, after) = match operations::requested_ids(sc.name?, &sc.args, old) {
        Some((cause, new)) => (cause, Ids::from(old), Ids::from(new)),
        None => operations::other_credentials(
            sc.name?,
            &sc.args,
            &op.raw,
            op.raw_before.as_deref(),
            old,
            rec.cap_effective,
        )?,
    };
    let mut header = ev.header.clone();
    header.kind = "credentials";
    Some(CredentialsEvent {
        credentials: CredentialsChange {
            old: Some(before),
            new: after,
        },
        header,
        cause,
        exec: None,
        // A call seen at its return made no check of its own.
        capability: op.exit.is_none().then(|| ev.capability.clone()),
        result: op.exit,
    })
}

/// The `syscall` or `namespace` event of an operation record (`ev` is its check's event;
/// for a fallback record, the capability in it is no check and is left out).
fn operation_event(ev: CapabilityEvent, op: &Operation) -> Option<OperationEvent> {
    let sc = ev.syscall?;
    let sensitive = operations::lookup(sc.name?)?;
    let mut namespace = operations::namespace_change(sensitive, &sc.args, op.deref);
    if let Some(ns) = namespace.as_mut()
        && ns.operation == "setns"
    {
        ns.target = operations::setns_target(
            std::path::Path::new("/proc"),
            ev.header.process.pid,
            sc.args[0],
        );
        if ns.types.is_none() {
            ns.types = ns.target.as_ref().and_then(|t| {
                crate::containers::posture::NAMESPACES
                    .iter()
                    .find(|(k, _)| *k == t.kind)
                    .map(|(k, _)| vec![*k])
            });
        }
    }
    // A clone or unshare that creates no namespace (a fork whose memory accounting made a
    // check) is no namespace change: the kernel side passes none, this is the safety net.
    if namespace
        .as_ref()
        .is_some_and(|ns| ns.operation != "setns" && ns.types.as_ref().is_some_and(Vec::is_empty))
    {
        return None;
    }
    let mut args = operations::decode_args(sensitive, &sc.args, &op.strings);
    if operations::FD_PATH_SYSCALLS.contains(&sensitive.name) {
        // Named now, while the writer most likely still has it open; null if it is gone.
        let path = operations::fd_target(
            std::path::Path::new("/proc"),
            ev.header.process.pid,
            sc.args[0],
        );
        args.insert("path", path.map_or(serde_json::Value::Null, Into::into));
    }
    if let Some(fd) = op.exit.filter(|r| *r >= 0)
        && sensitive.group == "files"
        && operations::FALLBACK_ONLY
            .iter()
            .any(|s| s.name == sensitive.name)
    {
        // The file an open made, named while the opener most likely still has it.
        let file = operations::fd_target(
            std::path::Path::new("/proc"),
            ev.header.process.pid,
            fd as u64,
        );
        args.insert("file", file.map_or(serde_json::Value::Null, Into::into));
    }
    let mut header = ev.header;
    header.kind = if namespace.is_some() {
        "namespace"
    } else {
        "syscall"
    };
    Some(OperationEvent {
        header,
        group: sensitive.group,
        syscall: SyscallDetail {
            name: sensitive.name,
            number: sc.number,
            args,
            result: op.exit,
        },
        capability: (op.exit.is_none() && !op.lsm).then_some(ev.capability),
        source: if op.lsm {
            "lsm_hook"
        } else if op.exit.is_some() {
            "syscall_tracepoint"
        } else {
            "capability_check"
        },
        namespace,
    })
}

/// The fallback/check pairing for the kernel table `config` loads.
fn exit_merge(config: &Config) -> ExitMerge {
    let table = crate::syscalls::Arch::host()
        .map(|arch| operations::kernel_table_for(arch, |g| config.operations.mode(g)))
        .unwrap_or_default();
    ExitMerge::new(&table)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}
