//! The daemon: its wiring (endpoints, sinks, probes, the output thread), the ring-buffer
//! reader, signals and timers (statistics, rule reload, series expiry) and its shutdown.
//! The stages live in their own modules; this one connects them, in the order records flow.
//!
//! The ring-buffer reader never blocks: it hands records to the output thread in batches,
//! and when the output thread has no room it leaves them in the ring buffer, where the
//! kernel counts what does not fit.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::Ordering::{Relaxed, Release},
    },
    time::{Duration, Instant},
};

use anyhow::Context as _;
use aya::maps::{MapData, RingBuf};
use monitor_common::names;
use tokio::{
    io::{Interest, unix::AsyncFd},
    signal::unix::{SignalKind, signal},
};
use tracing::{error, info, warn};

use crate::{
    config::{Config, Coverage, Watch},
    event::{DecodeError, Record, decode},
    kernel::loader::{EnforcementSupport, Probes},
    outputs::enforcement::Control,
    outputs::http,
    outputs::metrics::{Health, HookInfo, Metrics},
    outputs::sinks::{self, Filter, Queued, stream::Hub},
    pipeline::enforce::{Enforcer, FilterGeneration, unsupported},
    pipeline::operation::ExitMerge,
    queue,
    resolve::cgroup::v2_root,
    resolve::cri::{Cri, CriStats},
    rules::{Engine, RuleSet},
};

use crate::pipeline::{HostFilter, Outlets, Output, PipelineStats, STREAM_LAG, load_advisor};

/// How often rule files are checked for changes.
const RULES_POLL_INTERVAL: Duration = Duration::from_secs(2);

/// How often the series of removed containers are checked for expiry.
const EXPIRE_INTERVAL: Duration = Duration::from_secs(10);

/// The CRI lookups, if enabled and a socket is configured or found.
fn start_cri(config: &Config, metrics: &Metrics) -> anyhow::Result<Option<Cri>> {
    if !config.cri {
        return Ok(None);
    }
    let Some(socket) = Cri::find_socket(config.cri_socket.as_deref(), Path::new("/")) else {
        info!(
            tried = ?crate::resolve::cri::WELL_KNOWN_SOCKETS,
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
    metrics.register(stats.clone());
    let timeout = Duration::from_millis(config.cri_timeout_ms);
    Cri::start(socket, timeout, stats).map(Some)
}

/// Runs the daemon until SIGINT or SIGTERM, then detaches everything.
pub async fn run(config: Config) -> anyhow::Result<()> {
    run_reloading(config, None).await
}

/// How to read the configuration again (its file and the flags) on SIGHUP.
pub type Reload = Box<dyn Fn() -> Result<Config, String> + Send>;

/// [`run`], rereading the configuration on SIGHUP with `reload`: the rules, and the
/// enforcement keys (docs/enforcement.md).
pub async fn run_reloading(config: Config, reload: Option<Reload>) -> anyhow::Result<()> {
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
        config.metrics_pod_labels,
        Duration::from_secs(config.metrics_grace_secs),
        Health::new(cgroup_root.clone()),
    )?);
    // The endpoints come up first: /healthz answers while the probes load, /readyz says
    // why the daemon is not ready yet, and a taken port fails the start at once.
    let listener = http::bind(config.listen).await?;
    let hub = Arc::new(Hub::new(config.stream_history, STREAM_LAG));
    let advisor = Arc::new(Mutex::new(load_advisor(&config)));
    metrics.register(advisor.clone());
    let control = Arc::new(Control::default());
    let api = http::Api::new(
        &config,
        control.clone(),
        metrics.clone(),
        hub.clone(),
        advisor.clone(),
        &node,
    )?;
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(http::serve(listener, Arc::new(api), async {
        let _ = http_stopped.await;
    }));
    let (sinks, sink_threads) = start_sinks(&config, &metrics, &node)?;
    metrics.register(hub.stats.clone());

    let mut probes = Probes::load(&config)?;
    release_freed_memory();
    // fanotify marks on the host files named (none by default): read beside the ring; not
    // needed where fentry/security_file_open watches them.
    let host_files = match config.host_files.as_slice() {
        [] => None,
        _ if probes.opens.host_files.is_some() => None,
        paths => match crate::kernel::fanotify::HostFiles::new(paths, cgroup_root.clone()) {
            Ok(h) => {
                info!(paths = ?h.marked, "watching host files for writes by containers");
                // SAFETY: HostFiles owns its fanotify fd for as long as the AsyncFd owns it.
                let fd = unsafe { AsyncFd::register_with_interest(h, Interest::READABLE) }
                    .map_err(std::io::Error::from)
                    .context("polling fanotify")?;
                Some(fd)
            }
            Err(e) => {
                warn!(error = %format!("{e:#}"), "host files are not watched");
                None
            }
        },
    };
    metrics.attached(
        probes.take_counters()?,
        &hook_info(&probes, host_files.is_some()),
    )?;
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
    let generation = FilterGeneration::new(&mut probes)?;
    let host_cgroups = match config.watch {
        Watch::Containers => Some(HostFilter::new(&mut probes, generation.clone())?),
        Watch::All => None,
    };
    let enforcement = probes.enforcement.clone();
    let enforcer = Enforcer::new(
        &config,
        &mut probes,
        generation,
        &rules,
        control.clone(),
        metrics.clone(),
    )?;
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
            stats: stats.clone(),
            enforcer,
        },
    );
    output.merge = ExitMerge::new(&probes.syscalls, &probes.lsm_syscalls());
    output.report_fileless = config.operations.misc != Coverage::Off;
    output.host_files = probes.opens.host_files.clone();
    output.write_runtime_setup(config.runtime_setup_events);
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
            guard = host_files_readable(&host_files) => {
                if let Ok(mut guard) = guard {
                    // What the probes saw first (the writer's exec) goes first.
                    backlogged = drain(ring.get_mut(), &mut tx, &stats, Full::Wait);
                    for w in guard.get_inner().read() {
                        stats.queue_drops.fetch_add(
                            tx.push(Record::HostFile(Box::new(w))) as u64,
                            Relaxed,
                        );
                    }
                    stats.queue_drops.fetch_add(tx.flush() as u64, Relaxed);
                    guard.clear_ready();
                }
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
                reload_rules(&config, &metrics, &new_rules, &enforcement);
                if let Some(read) = &reload {
                    match read() {
                        Ok(c) => control.reload(c),
                        Err(e) => error!(error = %e, "SIGHUP: the configuration is invalid: keeping the enforcement settings"),
                    }
                }
                rules_watch = RulesWatch::new(&config.rules_files);
            }
            _ = rules_tick.tick() => {
                if rules_watch.changed(&config.rules_files) {
                    info!("a rule file changed: reloading rules");
                    reload_rules(&config, &metrics, &new_rules, &enforcement);
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

/// Waits until the fanotify group has events; never, when there is none.
async fn host_files_readable(
    h: &Option<AsyncFd<crate::kernel::fanotify::HostFiles>>,
) -> std::io::Result<tokio::io::unix::AsyncFdReadyGuard<'_, crate::kernel::fanotify::HostFiles>> {
    match h {
        Some(fd) => fd.readable().await,
        None => std::future::pending().await,
    }
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
    let mut empty_at = None;
    loop {
        if full == Full::Wait && tx.room() == 0 {
            backlogged = true;
            break;
        }
        let Some(item) = ring.next() else {
            empty_at = Some(crate::event::boottime_ns());
            break;
        };
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
    if let Some(t) = empty_at {
        // After the hand-over: the output thread that sees this time has had the records.
        stats.read_to_ns.fetch_max(t, Release);
    }
    backlogged
}

/// How long a full stdout or file sink may hold up the output thread per hand-over before
/// its events are dropped (Falco's `output_timeout` is 2 s too): a disk being written back
/// or a log reader that keeps up on average then loses nothing, the backlog waiting in the
/// ring buffer; a stalled one costs at most this per burst. The webhook never waits (its
/// endpoint is remote and retried).
const LOCAL_SINK_WAIT: Duration = Duration::from_secs(2);

/// Starts the configured sinks; returns them and the threads to join at exit (the
/// webhook's is not joined: a dead endpoint must not hold up the exit).
fn start_sinks(
    config: &Config,
    metrics: &Metrics,
    node: &str,
) -> anyhow::Result<(Vec<Queued>, Vec<std::thread::JoinHandle<()>>)> {
    let mut sinks = Vec::new();
    let mut threads = Vec::new();
    if config.stdout {
        let filter = Filter {
            kinds: config.stdout_kinds.clone(),
            min_severity: config.stdout_min_severity,
        };
        let (mut q, t) = Queued::spawn(
            "stdout",
            filter,
            config.event_queue_capacity,
            sinks::stdout_worker,
        )?;
        q.wait_for_room(LOCAL_SINK_WAIT);
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
        let (mut q, t) = Queued::spawn(
            "file",
            filter,
            config.event_queue_capacity,
            move |rx, st| sinks::file::worker(file, rx, st),
        )?;
        q.wait_for_room(LOCAL_SINK_WAIT);
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
    if let Some(url) = &config.otlp_url {
        let filter = Filter {
            kinds: config.otlp_kinds.clone(),
            min_severity: config.otlp_min_severity,
        };
        let settings = sinks::otlp::Settings {
            url: url.clone(),
            headers: config
                .otlp_headers
                .iter()
                .filter_map(|h| h.split_once('='))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect(),
            timeout: Duration::from_secs(config.otlp_timeout_secs.max(1)),
            attempts: config.webhook_attempts,
            backoff: Duration::from_millis(config.webhook_backoff_ms),
        };
        // Not joined at exit, as the webhook's: a dead collector must not hold it up.
        let (q, _detached) =
            Queued::spawn("otlp", filter, config.otlp_queue_capacity, move |rx, st| {
                sinks::otlp::worker(settings, rx, st)
            })?;
        info!(url = %url, "exporting events as OpenTelemetry logs (OTLP/HTTP)");
        sinks.push(q);
    }
    if let Some(address) = &config.syslog_address {
        let filter = Filter {
            kinds: config.syslog_kinds.clone(),
            min_severity: config.syslog_min_severity,
        };
        let parsed: sinks::syslog::Address =
            address.parse().map_err(|e: String| anyhow::anyhow!(e))?;
        let tls = match &parsed {
            sinks::syslog::Address::Tls(_) => Some(sinks::syslog::tls_config(
                config
                    .syslog_tls_ca
                    .as_deref()
                    .unwrap_or(std::path::Path::new("/etc/ssl/certs/ca-certificates.crt")),
            )?),
            _ => None,
        };
        let settings = sinks::syslog::Settings {
            address: parsed,
            tls,
            facility: sinks::syslog::FACILITIES
                .iter()
                .position(|f| *f == config.syslog_facility)
                .unwrap_or(16) as u8,
            max_bytes: config.syslog_max_bytes,
            hostname: node.to_string(),
        };
        let truncated = Arc::new(sinks::syslog::Truncated::default());
        metrics.register(truncated.clone());
        // Not joined at exit: a TCP receiver that stopped reading must not hold it up.
        let (q, _detached) = Queued::spawn(
            "syslog",
            filter,
            config.syslog_queue_capacity,
            move |rx, st| sinks::syslog::worker(settings, truncated, rx, st),
        )?;
        info!(address = %address, "sending events to syslog");
        sinks.push(q);
    }
    for q in &sinks {
        metrics.register(q.stats.clone());
    }
    Ok((sinks, threads))
}

/// Loads the rules again; an invalid set keeps the running one.
fn reload_rules(
    config: &Config,
    metrics: &Metrics,
    slot: &Mutex<Option<RuleSet>>,
    enforcement: &EnforcementSupport,
) {
    match RuleSet::load(config.default_rules, &config.rules_files) {
        Ok(rules) if let Some(why) = unsupported(config, &rules, enforcement) => {
            metrics.rules_reload_failed();
            error!(reason = %why, "rules ask for an action this kernel cannot take: keeping the previous set");
        }
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

fn hook_info(probes: &Probes, fanotify: bool) -> HookInfo {
    let mut hooks = probes.families();
    if fanotify {
        for (family, attach) in &mut hooks {
            if family == "operations/host_files" {
                *attach = "fanotify".to_string();
            }
        }
    }
    HookInfo {
        hooks,
        uncovered: probes
            .coverage
            .iter()
            .map(|c| (c.group.to_string(), c.uncovered.len()))
            .collect(),
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

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}
