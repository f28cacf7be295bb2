//! Counts of the user-space pipeline, and the metrics made of them (registered with
//! [`Metrics::register`](crate::outputs::metrics::Metrics::register)) and the statistics
//! log line.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::scrape::{Scrape, Source};

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
    /// Containers being tracked (running or starting).
    pub containers_tracked: AtomicU64,
    /// Running containers in `ignore` mode (not watched).
    pub containers_ignored: AtomicU64,
    /// Events of containers in `ignore` mode dropped in user space (made before the
    /// kernel filter was told).
    pub ignored: AtomicU64,
    /// Processes in the process table.
    pub processes_tracked: AtomicU64,
    /// Host cgroups the kernel filter could not be told about (its map was full): their
    /// processes are watched like containers'.
    pub host_cgroups_unfiltered: AtomicU64,
    /// Fallback records of syscalls already reported at their capability check.
    pub fallback_merged: AtomicU64,
    /// Capability checks written as part of an operation's event already reported (the
    /// second CAP_SYS_ADMIN check of a mount, ...).
    pub checks_merged: AtomicU64,
    /// Checks and operations of container runtimes' set-up, counted in `container_start`
    /// instead of written.
    pub setup_folded: AtomicU64,
    /// Boot-clock time at which the reader last found the ring buffer empty, its records
    /// handed over: every check made before it has been read, but for one still being
    /// written by its program. Not a metric: it tells the output thread when a held
    /// operation can have no more checks to come.
    pub read_to_ns: AtomicU64,
}

impl std::fmt::Display for PipelineStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "records={} written={} queue_drops={} truncated={} unknown_kind={} output_errors={} \
             containers_tracked={} containers_ignored={} ignored={} container_metadata_missing={} host_cgroups_unfiltered={} \
             fallback_merged={} checks_merged={} setup_folded={}",
            self.records.load(Relaxed),
            self.written.load(Relaxed),
            self.queue_drops.load(Relaxed),
            self.truncated.load(Relaxed),
            self.unknown_kind.load(Relaxed),
            self.output_errors.load(Relaxed),
            self.containers_tracked.load(Relaxed),
            self.containers_ignored.load(Relaxed),
            self.ignored.load(Relaxed),
            self.container_metadata_missing.load(Relaxed),
            self.host_cgroups_unfiltered.load(Relaxed),
            self.fallback_merged.load(Relaxed),
            self.checks_merged.load(Relaxed),
            self.setup_folded.load(Relaxed),
        )
    }
}

impl Source for PipelineStats {
    fn collect(&self, scrape: &mut Scrape) -> anyhow::Result<()> {
        scrape.lost(
            "decode",
            self.truncated.load(Relaxed) + self.unknown_kind.load(Relaxed),
        );
        scrape.lost("queue", self.queue_drops.load(Relaxed));
        scrape.lost("encode", self.output_errors.load(Relaxed));
        scrape.gauge(
            "privmon_containers_tracked",
            "Containers being tracked (running or starting).",
            self.containers_tracked.load(Relaxed) as i64,
        )?;
        scrape.gauge(
            "privmon_containers_ignored",
            "Running containers in workload mode ignore (not watched).",
            self.containers_ignored.load(Relaxed) as i64,
        )?;
        scrape.counter(
            "privmon_ignored_events_total",
            "Events of containers in workload mode ignore dropped in user space (made \
             before the kernel filter was told of the container).",
            self.ignored.load(Relaxed),
        )?;
        scrape.gauge(
            "privmon_processes_tracked",
            "Processes in the process table (watched processes seen to fork, exec or make a \
             check, and their ancestors), until they exit.",
            self.processes_tracked.load(Relaxed) as i64,
        )?;
        scrape.counter(
            "privmon_container_metadata_missing_total",
            "Containers whose runtime metadata (name, image, pod) could not be found.",
            self.container_metadata_missing.load(Relaxed),
        )?;
        scrape.counter(
            "privmon_runtime_setup_events_total",
            "Capability checks and operations of container runtimes setting a container up \
             (before its entrypoint runs), counted in container_start's runtime_setup \
             instead of written as events.",
            self.setup_folded.load(Relaxed),
        )?;
        scrape.counter(
            "privmon_ring_buffer_records_total",
            "Records read from the kernel's ring buffer.",
            self.records.load(Relaxed),
        )
    }
}
