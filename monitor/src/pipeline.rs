//! The daemon's event pipeline: ring buffer -> decode -> bounded queue -> enrich -> JSON lines.
//!
//! The ring-buffer reader never blocks: it hands records to the writer thread with
//! `try_send`, and every record that cannot be handed over is counted.

use std::{
    io::Write,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::Duration,
};

use anyhow::Context as _;
use aya::maps::{MapData, RingBuf};
use monitor_common::names;
use tokio::{
    io::{Interest, unix::AsyncFd},
    signal::unix::{SignalKind, signal},
    sync::mpsc,
};
use tracing::{error, info, warn};

use crate::{
    cgroup::{CgroupResolver, v2_root},
    config::Config,
    containers::Containers,
    event::{CapabilityEvent, Clock, DecodeError, Record, decode},
    loader::Probes,
    procfs,
};

/// Counts of the user-space pipeline; every lost or malformed record lands in one of them.
#[derive(Debug, Default)]
pub struct PipelineStats {
    pub records: AtomicU64,
    pub truncated: AtomicU64,
    pub unknown_kind: AtomicU64,
    pub queue_drops: AtomicU64,
    pub written: AtomicU64,
    pub output_errors: AtomicU64,
    /// Containers whose runtime metadata could not be found.
    pub container_metadata_missing: AtomicU64,
}

impl std::fmt::Display for PipelineStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "records={} written={} queue_drops={} truncated={} unknown_kind={} output_errors={} \
             container_metadata_missing={}",
            self.records.load(Relaxed),
            self.written.load(Relaxed),
            self.queue_drops.load(Relaxed),
            self.truncated.load(Relaxed),
            self.unknown_kind.load(Relaxed),
            self.output_errors.load(Relaxed),
            self.container_metadata_missing.load(Relaxed),
        )
    }
}

/// Runs the daemon until SIGINT or SIGTERM, then detaches everything.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let node = match &config.node_name {
        Some(n) => n.clone(),
        None => hostname(),
    };
    let cgroup_root = v2_root()?;
    let mut probes = Probes::load(&config)?;
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

    let stats = Arc::new(PipelineStats::default());
    let (tx, rx) = mpsc::channel::<Record>(config.event_queue_capacity);
    let writer = {
        let stats = stats.clone();
        std::thread::Builder::new()
            .name("privmon-output".into())
            .spawn(move || {
                let resolvers = Resolvers {
                    cgroups: CgroupResolver::new(cgroup_root),
                    containers: Containers::new(PathBuf::from("/")),
                };
                write_events(rx, node, resolvers, &stats)
            })
            .context("starting the output thread")?
    };

    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let stats_every = Duration::from_secs(config.stats_interval_secs.max(1));
    let mut stats_tick =
        tokio::time::interval_at(tokio::time::Instant::now() + stats_every, stats_every);
    info!(hook = probes.hook.name(), "privmon ready");

    loop {
        tokio::select! {
            guard = ring.readable_mut() => {
                let mut guard = guard.context("waiting on the ring buffer")?;
                drain(guard.get_inner_mut(), &tx, &stats);
                guard.clear_ready();
            }
            _ = sigterm.recv() => { info!("SIGTERM: shutting down"); break; }
            _ = sigint.recv() => { info!("SIGINT: shutting down"); break; }
            _ = stats_tick.tick(), if config.stats_interval_secs > 0 => log_stats(&probes, &stats),
        }
    }

    // Detach first so no new records arrive, then hand over what is left.
    let final_probe_stats = probes.stats();
    drop(probes);
    drain(ring.get_mut(), &tx, &stats);
    drop(tx);
    if writer.join().is_err() {
        error!("output thread panicked");
    }
    match final_probe_stats {
        Ok(p) => info!(probes = %p, pipeline = %stats, "detached; final statistics"),
        Err(e) => info!(pipeline = %stats, error = %e, "detached"),
    }
    Ok(())
}

fn drain(ring: &mut RingBuf<MapData>, tx: &mpsc::Sender<Record>, stats: &PipelineStats) {
    while let Some(item) = ring.next() {
        stats.records.fetch_add(1, Relaxed);
        match decode(&item) {
            Ok(rec) => {
                if tx.try_send(rec).is_err() {
                    stats.queue_drops.fetch_add(1, Relaxed);
                }
            }
            Err(DecodeError::Truncated { .. }) => {
                stats.truncated.fetch_add(1, Relaxed);
            }
            Err(DecodeError::UnknownKind { .. }) => {
                stats.unknown_kind.fetch_add(1, Relaxed);
            }
        }
    }
}

fn log_stats(probes: &Probes, stats: &PipelineStats) {
    match probes.stats() {
        Ok(p) => info!(hook = probes.hook.name(), probes = %p, pipeline = %stats, "statistics"),
        Err(e) => warn!(error = %e, pipeline = %stats, "statistics (probe maps unreadable)"),
    }
}

/// The output thread: enriches events and writes them as JSON lines to stdout. Blocking on a
/// slow stdout only fills the queue; the reader keeps draining the ring buffer.
/// Enrichment state owned by the output thread.
struct Resolvers {
    cgroups: CgroupResolver,
    containers: Containers,
}

fn write_events(
    mut rx: mpsc::Receiver<Record>,
    node: String,
    mut resolvers: Resolvers,
    stats: &PipelineStats,
) {
    let clock = Clock::new();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut line = Vec::with_capacity(1024);
    while let Some(rec) = rx.blocking_recv() {
        let mut next = Some(rec);
        // Write everything queued, then flush once.
        while let Some(rec) = next.take() {
            let Record::Capability(cap) = rec;
            let mut ev = CapabilityEvent::from_record(&cap, &clock, &node);
            procfs::enrich(&mut ev.process);
            ev.cgroup.path = resolvers.cgroups.path(ev.cgroup.id, ev.process.pid);
            if let Some(a) = ev
                .cgroup
                .path
                .as_deref()
                .and_then(|p| resolvers.containers.for_cgroup(p, cap.boot_ns))
            {
                ev.container = Some(a.container.clone());
                ev.k8s = a.k8s.clone();
            }
            stats
                .container_metadata_missing
                .store(resolvers.containers.metadata_missing, Relaxed);
            line.clear();
            let ok = serde_json::to_writer(&mut line, &ev).is_ok() && {
                line.push(b'\n');
                out.write_all(&line).is_ok()
            };
            if ok {
                stats.written.fetch_add(1, Relaxed);
            } else {
                stats.output_errors.fetch_add(1, Relaxed);
            }
            next = rx.try_recv().ok();
        }
        if out.flush().is_err() {
            stats.output_errors.fetch_add(1, Relaxed);
        }
    }
    let _ = out.flush();
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}
