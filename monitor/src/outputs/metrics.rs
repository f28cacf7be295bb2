//! Prometheus metrics: exact capability-check counts from the kernel's counters, pipeline
//! counters, container posture, and what the probes are attached with.
//!
//! Nothing here runs on the hot path. Capability checks are counted in the kernel, in a
//! per-CPU hash map keyed by (cgroup, capability, verdict); a scrape sums the CPUs' slots and
//! maps each cgroup to its container's labels. The output thread tells this module which
//! cgroup belongs to which container (it resolves them for events anyway), and which cgroups
//! and containers went away: their series stay for a grace period, so the last counts are
//! scraped, then they are removed, and so are their entries in the kernel map.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use monitor_common::CapCountKey;
use prometheus::{
    Encoder, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder, core::Collector,
    proto::MetricFamily,
};
use tracing::warn;

pub use crate::scrape::{Scrape, Source};
use crate::{
    catalog::capabilities::Capability,
    kernel::loader::{KernelCounters, ProbeStats},
    resolve::containers::{Container, Kubernetes, posture::Posture},
    scrape::{counter, gauge},
};

/// The labels that say where a series comes from. Empty values: the host (or, for capability
/// checks, counts the kernel could not attribute to a cgroup).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SeriesLabels {
    pub namespace: String,
    pub pod: String,
    pub container: String,
}

impl SeriesLabels {
    /// A container's labels: its Kubernetes namespace, pod and container name where known,
    /// else its runtime name, else its short id. Without pod labels, only the namespace.
    pub fn of(c: &Container, k8s: Option<&Kubernetes>, pod_labels: bool) -> SeriesLabels {
        let namespace = k8s.and_then(|k| k.namespace.clone()).unwrap_or_default();
        if !pod_labels {
            return SeriesLabels {
                namespace,
                ..SeriesLabels::default()
            };
        }
        SeriesLabels {
            namespace,
            pod: k8s.and_then(|k| k.pod.clone()).unwrap_or_default(),
            container: k8s
                .and_then(|k| k.container.clone())
                .or_else(|| c.name.clone())
                .unwrap_or_else(|| c.id.chars().take(12).collect()),
        }
    }

    fn values(&self) -> [&str; 3] {
        [&self.namespace, &self.pod, &self.container]
    }
}

const WHERE: [&str; 3] = ["namespace", "pod", "container"];

/// What the daemon and the probes run with, for `privmon_hook_info`.
#[derive(Clone, Debug)]
pub struct HookInfo {
    /// (hook, attach method); `none` where nothing is attached.
    pub hooks: Vec<(String, String)>,
    /// (sensitive-operation group, syscalls whose use can go unseen).
    pub uncovered: Vec<(String, usize)>,
}

/// Liveness and readiness of the daemon's parts, for `/healthz` and `/readyz`.
#[derive(Debug)]
pub struct Health {
    start: Instant,
    probes_attached: AtomicBool,
    /// Milliseconds since `start` of the last pass of the ring-buffer reader (+1; 0 = never).
    reader_beat: AtomicU64,
    /// Same for the output thread.
    output_beat: AtomicU64,
    cgroup_root: std::path::PathBuf,
}

/// A part that has not shown life for this long makes the daemon not ready.
const STALE: Duration = Duration::from_secs(5);

impl Health {
    pub fn new(cgroup_root: std::path::PathBuf) -> Health {
        Health {
            start: Instant::now(),
            probes_attached: AtomicBool::new(false),
            reader_beat: AtomicU64::new(0),
            output_beat: AtomicU64::new(0),
            cgroup_root,
        }
    }

    pub fn set_probes_attached(&self, attached: bool) {
        self.probes_attached.store(attached, Relaxed);
    }

    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64 + 1
    }

    pub fn reader_alive(&self) {
        self.reader_beat.store(self.now_ms(), Relaxed);
    }

    pub fn output_alive(&self) {
        self.output_beat.store(self.now_ms(), Relaxed);
    }

    /// The reasons the daemon is not ready; empty when it is.
    pub fn not_ready(&self) -> Vec<String> {
        let mut why = Vec::new();
        if !self.probes_attached.load(Relaxed) {
            why.push("probes not attached".to_string());
        }
        let now = self.now_ms();
        for (part, beat) in [
            ("ring-buffer reader", &self.reader_beat),
            ("output thread", &self.output_beat),
        ] {
            match beat.load(Relaxed) {
                0 => why.push(format!("{part} not started")),
                b if now.saturating_sub(b) > STALE.as_millis() as u64 => why.push(format!(
                    "{part} stalled for {:.1}s",
                    (now - b) as f64 / 1000.0
                )),
                _ => {}
            }
        }
        if let Err(e) = std::fs::read_dir(&self.cgroup_root) {
            why.push(format!(
                "cgroup resolver: cannot read {}: {e}",
                self.cgroup_root.display()
            ));
        }
        why
    }
}

struct CgroupEntry {
    labels: Arc<SeriesLabels>,
    gone_at: Option<Instant>,
}

struct ContainerEntry {
    labels: Arc<SeriesLabels>,
    posture: Posture,
}

/// Which series exist, and the counts of cgroups that are gone.
#[derive(Default)]
struct Series {
    cgroups: HashMap<u64, CgroupEntry>,
    /// Cgroups counted by the kernel that the output thread has not labelled yet.
    pending: HashSet<u64>,
    /// Totals of removed cgroups, kept while their labels have live cgroups (a container's
    /// other cgroups, the host), so that counters never go down.
    retired: HashMap<(Arc<SeriesLabels>, u32, u32), u64>,
    /// Running containers, by id.
    containers: HashMap<String, ContainerEntry>,
}

/// The daemon's metrics. Shared by the pipeline (which updates it) and the HTTP server
/// (which renders it).
pub struct Metrics {
    registry: Registry,
    events: IntCounterVec,
    alerts: IntCounterVec,
    /// The stages that export counters of their own ([`Metrics::register`]).
    sources: Mutex<Vec<Arc<dyn Source>>>,
    kernel: Mutex<Option<KernelCounters>>,
    series: Mutex<Series>,
    pod_labels: bool,
    grace: Duration,
    pub health: Health,
    rules_enabled: AtomicU64,
    rules_reload_failures: AtomicU64,
    rules_last_reload_ok: AtomicBool,
    enforcement_actions: IntCounterVec,
    /// Namespaces labelled in `privmon_enforcement_actions_total` so far (bounded).
    enforcement_namespaces: Mutex<std::collections::HashSet<String>>,
    enforcement_armed: prometheus::IntGauge,
    enforcement_suspended: prometheus::IntGauge,
}

/// Distinct `namespace` values of `privmon_enforcement_actions_total`; later ones are
/// counted as `other`.
const ENFORCEMENT_NAMESPACES: usize = 256;

/// Families that are part of the contract even before their first sample: rendered with
/// HELP and TYPE only, so dashboards and alert rules find them.
const ALWAYS_LISTED: &[&str] = &[
    "privmon_alerts_total",
    "privmon_events_total",
    "privmon_enforcement_actions_total",
];

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take the metrics down with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Metrics {
    pub fn new(pod_labels: bool, grace: Duration, health: Health) -> anyhow::Result<Metrics> {
        let registry = Registry::new();
        let events = IntCounterVec::new(
            Opts::new(
                "privmon_events_total",
                "Events written, by kind (capability, syscall, namespace, container_start, ...).",
            ),
            &["kind"],
        )?;
        let alerts = IntCounterVec::new(
            Opts::new(
                "privmon_alerts_total",
                "Alerts raised by the rules, by rule, severity and the Kubernetes namespace \
                 of the container (empty: host or not Kubernetes).",
            ),
            &["rule", "severity", "namespace"],
        )?;
        registry.register(Box::new(events.clone()))?;
        registry.register(Box::new(alerts.clone()))?;
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        let build = IntGaugeVec::new(
            Opts::new(
                "privmon_build_info",
                "Always 1: the running privmon's version, target and kernel.",
            ),
            &["version", "arch", "kernel"],
        )?;
        build
            .with_label_values(&[
                env!("CARGO_PKG_VERSION"),
                std::env::consts::ARCH,
                kernel_release().as_str(),
            ])
            .set(1);
        registry.register(Box::new(build))?;
        let enforcement_actions = IntCounterVec::new(
            Opts::new(
                "privmon_enforcement_actions_total",
                "Acts enforcement acted on, by action (kill, deny, would_kill, would_deny), \
                 capability (`sysctl` for a sysctl write) and Kubernetes namespace (empty: \
                 not Kubernetes; `other` past 256 namespaces), as their events were read.",
            ),
            &["action", "capability", "namespace"],
        )?;
        registry.register(Box::new(enforcement_actions.clone()))?;
        let enforcement_armed = prometheus::IntGauge::new(
            "privmon_enforcement_armed_containers",
            "Containers enforcement is armed in (the kernel kills or denies there).",
        )?;
        registry.register(Box::new(enforcement_armed.clone()))?;
        let enforcement_suspended = prometheus::IntGauge::new(
            "privmon_enforcement_suspended_workloads",
            "Workloads the kill-loop guard stopped acting on (killed more than \
             enforcement_max_kills_per_minute times a minute).",
        )?;
        registry.register(Box::new(enforcement_suspended.clone()))?;
        Ok(Metrics {
            enforcement_actions,
            enforcement_namespaces: Mutex::new(std::collections::HashSet::new()),
            enforcement_armed,
            enforcement_suspended,
            registry,
            events,
            alerts,
            sources: Mutex::new(Vec::new()),
            kernel: Mutex::new(None),
            series: Mutex::new(Series::default()),
            pod_labels,
            grace,
            health,
            rules_enabled: AtomicU64::new(0),
            rules_reload_failures: AtomicU64::new(0),
            rules_last_reload_ok: AtomicBool::new(true),
        })
    }

    /// Hands over the kernel counters once the probes are attached, with how they are.
    pub fn attached(&self, counters: KernelCounters, hooks: &HookInfo) -> anyhow::Result<()> {
        *lock(&self.kernel) = Some(counters);
        let info = IntGaugeVec::new(
            Opts::new(
                "privmon_hook_info",
                "Always 1: how each probe family (and each sensitive-operation group) is \
                 attached; attach=\"none\" means no coverage on this kernel.",
            ),
            &["hook", "attach"],
        )?;
        for (hook, attach) in &hooks.hooks {
            info.with_label_values(&[hook.as_str(), attach.as_str()])
                .set(1);
        }
        self.registry.register(Box::new(info))?;
        let uncovered = IntGaugeVec::new(
            Opts::new(
                "privmon_operations_uncovered",
                "Syscalls of each sensitive-operation group whose use can go unseen with this \
                 configuration on this kernel (no capability check and no hook); 0 is full \
                 coverage.",
            ),
            &["group"],
        )?;
        for (group, n) in &hooks.uncovered {
            uncovered
                .with_label_values(&[group.as_str()])
                .set(*n as i64);
        }
        self.registry.register(Box::new(uncovered))?;
        self.health.set_probes_attached(true);
        Ok(())
    }

    /// Counts one act enforcement acted on.
    pub fn enforcement_action(&self, action: &str, capability: &str, namespace: &str) {
        let namespace = {
            let mut seen = lock(&self.enforcement_namespaces);
            if seen.contains(namespace) || seen.len() < ENFORCEMENT_NAMESPACES {
                seen.insert(namespace.to_string());
                namespace
            } else {
                "other"
            }
        };
        self.enforcement_actions
            .with_label_values(&[action, capability, namespace])
            .inc();
    }

    /// How many containers are armed, and workloads suspended.
    pub fn enforcement_state(&self, armed: usize, suspended: usize) {
        self.enforcement_armed.set(armed as i64);
        self.enforcement_suspended.set(suspended as i64);
    }

    /// Exports a stage's counters at every scrape, from now on.
    pub fn register(&self, source: Arc<dyn Source>) {
        lock(&self.sources).push(source);
    }

    pub fn pod_labels(&self) -> bool {
        self.pod_labels
    }

    /// One event written.
    pub fn event(&self, kind: &str) {
        self.events.with_label_values(&[kind]).inc();
    }

    /// The counter of events of `kind`, to keep (no label lookup per event).
    pub fn event_counter(&self, kind: &str) -> prometheus::IntCounter {
        self.events.with_label_values(&[kind])
    }

    /// One alert raised.
    pub fn alert(&self, rule: &str, severity: &str, namespace: &str) {
        self.alerts
            .with_label_values(&[rule, severity, namespace])
            .inc();
    }

    /// A rule set was loaded with this many enabled rules.
    pub fn rules_loaded(&self, enabled: usize) {
        self.rules_enabled.store(enabled as u64, Relaxed);
        self.rules_last_reload_ok.store(true, Relaxed);
    }

    /// A reload was refused; the previous rules stay.
    pub fn rules_reload_failed(&self) {
        self.rules_reload_failures.fetch_add(1, Relaxed);
        self.rules_last_reload_ok.store(false, Relaxed);
    }

    /// Whether the output thread still has to label this cgroup.
    pub fn knows_cgroup(&self, id: u64) -> bool {
        lock(&self.series).cgroups.contains_key(&id)
    }

    /// Labels a cgroup's counts (`None`: the host's). A cgroup keeps its first labels.
    pub fn label_cgroup(&self, id: u64, labels: Option<SeriesLabels>) {
        let mut s = lock(&self.series);
        s.pending.remove(&id);
        s.cgroups.entry(id).or_insert_with(|| CgroupEntry {
            labels: Arc::new(labels.unwrap_or_default()),
            gone_at: None,
        });
    }

    /// Cgroups the kernel counted that have no labels yet; the output thread resolves them.
    pub fn take_pending(&self) -> Vec<u64> {
        lock(&self.series).pending.drain().collect()
    }

    /// A cgroup was removed: its series go after the grace period.
    pub fn cgroup_removed(&self, id: u64) {
        if let Some(e) = lock(&self.series).cgroups.get_mut(&id) {
            e.gone_at.get_or_insert_with(Instant::now);
        }
    }

    /// A container started: its posture gauges appear.
    pub fn container_started(&self, c: &Container, k8s: Option<&Kubernetes>, posture: &Posture) {
        let labels = Arc::new(SeriesLabels::of(c, k8s, self.pod_labels));
        lock(&self.series).containers.insert(
            c.id.clone(),
            ContainerEntry {
                labels,
                posture: posture.clone(),
            },
        );
    }

    /// A container stopped: its posture gauges go at once (it no longer runs), its counters
    /// after the grace period.
    pub fn container_stopped(&self, id: &str) {
        lock(&self.series).containers.remove(id);
    }

    /// Removes what outlived the grace period, here and in the kernel map. Runs on every
    /// scrape and periodically, so that the kernel map does not fill when no one scrapes.
    pub fn expire(&self) {
        let mut kernel = lock(&self.kernel);
        let Some(kernel) = kernel.as_mut() else {
            return;
        };
        let mut series = lock(&self.series);
        if let Err(e) = expire(kernel, &mut series, self.grace) {
            warn!(error = %e, "expiring the series of removed cgroups");
        }
    }

    /// The probes' statistics, for the log.
    pub fn probe_stats(&self) -> Option<anyhow::Result<ProbeStats>> {
        lock(&self.kernel).as_ref().map(KernelCounters::stats)
    }

    /// Detaches the kernel counters (the probes are going away).
    pub fn detach(&self) {
        self.health.set_probes_attached(false);
        *lock(&self.kernel) = None;
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Vec<u8> {
        self.expire();
        let mut families = self.registry.gather();
        match self.dynamic() {
            Ok(d) => families.extend(d),
            Err(e) => warn!(error = %e, "reading the kernel counters for /metrics"),
        }
        // The encoder refuses families without samples (a vector with no series yet).
        families.retain(|f| !f.get_metric().is_empty());
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let mut out = Vec::with_capacity(16 * 1024);
        if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
            warn!(error = %e, "encoding /metrics");
        }
        for name in ALWAYS_LISTED {
            if !families.iter().any(|f| f.name() == *name)
                && let Some(help) = self.help_of(name)
            {
                out.extend_from_slice(
                    format!("# HELP {name} {help}\n# TYPE {name} counter\n").as_bytes(),
                );
            }
        }
        out
    }

    fn help_of(&self, name: &str) -> Option<String> {
        [&self.events, &self.alerts, &self.enforcement_actions]
            .iter()
            .flat_map(|c| c.desc())
            .find(|d| d.fq_name == name)
            .map(|d| d.help.clone())
    }

    /// The families computed at scrape time from the kernel maps, the pipeline counters and
    /// the series table.
    fn dynamic(&self) -> anyhow::Result<Vec<MetricFamily>> {
        let mut out = Vec::new();
        let checks = IntCounterVec::new(
            Opts::new(
                "privmon_capability_checks_total",
                "Capability checks, exact (counted in the kernel, never sampled or dropped), \
                 by capability, verdict and container. Empty namespace/pod/container: the \
                 host, or checks whose cgroup the kernel could not record.",
            ),
            &["cap", "verdict", "namespace", "pod", "container"],
        )?;
        let internal = IntCounterVec::new(
            Opts::new(
                "privmon_kernel_internal_checks_total",
                "Capability checks the kernel makes for itself (CAP_OPT_NOAUDIT: memory \
                 accounting, seccomp without no_new_privs, /proc and kallsyms reads), exact, \
                 by capability, verdict and container: told apart in the kernel, never \
                 written as events, not in privmon_capability_checks_total. Zero where \
                 privmon_hook_info's internal_checks is unverified.",
            ),
            &["cap", "verdict", "namespace", "pod", "container"],
        )?;
        let lost = IntCounterVec::new(
            Opts::new(
                "privmon_events_lost_total",
                "Events lost, by pipeline stage: ring_buffer (kernel to daemon), decode \
                 (malformed records), queue (reader to output), encode, and sink_<name> \
                 per sink (stdout, file, webhook, stream).",
            ),
            &["stage"],
        )?;
        let read = match lock(&self.kernel).as_ref() {
            Some(k) => Some((k.capability_counts()?, k.overflow_counts()?, k.stats()?)),
            None => None,
        };
        if let Some((counts, overflow, probe)) = read {
            let mut totals = {
                let mut series = lock(&self.series);
                let mut totals = series.retired.clone();
                for (key, n) in counts {
                    match series.cgroups.get(&key.cgroup_id) {
                        Some(e) => {
                            *totals
                                .entry((e.labels.clone(), key.cap, key.verdict))
                                .or_default() += n
                        }
                        // Counted once the output thread has labelled it (a moment later).
                        None => {
                            series.pending.insert(key.cgroup_id);
                        }
                    }
                }
                totals
            };
            let host = Arc::new(SeriesLabels::default());
            for (cap, verdict, n) in overflow {
                *totals.entry((host.clone(), cap, verdict)).or_default() += n;
            }
            for ((labels, cap, verdict), n) in totals {
                let [ns, pod, container] = labels.values();
                let family = if verdict & monitor_common::COUNT_INTERNAL != 0 {
                    &internal
                } else {
                    &checks
                };
                family
                    .with_label_values(&[
                        Capability(cap).name().as_str(),
                        verdict_name(verdict),
                        ns,
                        pod,
                        container,
                    ])
                    .inc_by(n);
            }
            lost.with_label_values(&["ring_buffer"])
                .inc_by(probe.ringbuf_drops.iter().sum());
        }
        let mut scrape = Scrape::default();
        for source in lock(&self.sources).iter() {
            source.collect(&mut scrape)?;
        }
        let (lost_stages, families) = scrape.finish();
        for (stage, n) in lost_stages {
            lost.with_label_values(&[stage.as_str()]).inc_by(n);
        }
        out.extend(checks.collect());
        out.extend(internal.collect());
        out.extend(lost.collect());
        out.extend(families);
        out.extend(gauge(
            "privmon_ready",
            "1 when the daemon is ready (as /readyz): probes attached, ring buffer and output \
             making progress, cgroups readable.",
            i64::from(self.health.not_ready().is_empty()),
        )?);
        out.extend(gauge(
            "privmon_rules_enabled",
            "Rules in the active set that are enabled.",
            self.rules_enabled.load(Relaxed) as i64,
        )?);
        out.extend(counter(
            "privmon_rules_reload_failures_total",
            "Rule reloads refused because the new set was invalid (the previous set stays).",
            self.rules_reload_failures.load(Relaxed),
        )?);
        out.extend(gauge(
            "privmon_rules_last_reload_ok",
            "0 when the last rule reload was refused (the daemon runs the previous set).",
            i64::from(self.rules_last_reload_ok.load(Relaxed)),
        )?);
        out.extend(self.posture_families()?);
        Ok(out)
    }

    /// Per-container posture gauges of the running containers. With pod labels off, a
    /// namespace's series holds the maximum over its containers.
    fn posture_families(&self) -> anyhow::Result<Vec<MetricFamily>> {
        let privileged = IntGaugeVec::new(
            Opts::new(
                "privmon_container_privileged",
                "1 if the running container is privileged (all capabilities, no seccomp).",
            ),
            &WHERE,
        )?;
        let added = IntGaugeVec::new(
            Opts::new(
                "privmon_container_capabilities_added",
                "Number of effective capabilities the running container has beyond the \
                 runtime's default set.",
            ),
            &WHERE,
        )?;
        let host_ns = IntGaugeVec::new(
            Opts::new(
                "privmon_container_host_namespace",
                "1 for each namespace type (pid, net, ipc, uts, ...) the running container \
                 shares with the host.",
            ),
            &["namespace", "pod", "container", "type"],
        )?;
        let mounts = IntGaugeVec::new(
            Opts::new(
                "privmon_container_sensitive_mounts",
                "Number of sensitive host paths (/, /etc, /proc, runtime sockets, ...) \
                 mounted into the running container.",
            ),
            &WHERE,
        )?;
        let max = |g: &IntGaugeVec, labels: &[&str], v: i64| {
            let g = g.with_label_values(labels);
            if v > g.get() {
                g.set(v);
            }
        };
        let series = lock(&self.series);
        for c in series.containers.values() {
            let l = c.labels.values();
            let p = &c.posture;
            if let Some(v) = p.privileged {
                max(&privileged, &l, i64::from(v));
            }
            if let Some(caps) = &p.capabilities.added_over_default {
                max(&added, &l, caps.len() as i64);
            }
            if let Some(m) = &p.sensitive_mounts {
                max(&mounts, &l, m.len() as i64);
            }
            for ty in p.host_namespaces.iter().flatten() {
                max(&host_ns, &[l[0], l[1], l[2], ty], 1);
            }
        }
        drop(series);
        let mut out = Vec::new();
        for g in [privileged, added, host_ns, mounts] {
            out.extend(g.collect());
        }
        Ok(out)
    }
}

fn expire(kernel: &mut KernelCounters, series: &mut Series, grace: Duration) -> anyhow::Result<()> {
    let now = Instant::now();
    let expired: HashSet<u64> = series
        .cgroups
        .iter()
        .filter(|(_, e)| e.gone_at.is_some_and(|t| now.duration_since(t) >= grace))
        .map(|(id, _)| *id)
        .collect();
    if expired.is_empty() {
        return Ok(());
    }
    let counts: Vec<(CapCountKey, u64)> = kernel
        .capability_counts()?
        .into_iter()
        .filter(|(k, _)| expired.contains(&k.cgroup_id))
        .collect();
    for (key, n) in counts {
        if let Some(e) = series.cgroups.get(&key.cgroup_id) {
            *series
                .retired
                .entry((e.labels.clone(), key.cap, key.verdict))
                .or_default() += n;
        }
        kernel.remove_counts(&key);
    }
    for id in &expired {
        series.cgroups.remove(id);
        series.pending.remove(id);
    }
    // Totals are kept only for labels that still have a live cgroup (or the host's).
    let live: HashSet<Arc<SeriesLabels>> =
        series.cgroups.values().map(|e| e.labels.clone()).collect();
    series
        .retired
        .retain(|(labels, _, _), _| live.contains(labels) || **labels == SeriesLabels::default());
    Ok(())
}

/// The verdict of a count key's verdict (its `COUNT_INTERNAL` flag aside).
fn verdict_name(verdict: u32) -> &'static str {
    if verdict & !monitor_common::COUNT_INTERNAL == monitor_common::VERDICT_ALLOWED {
        "allowed"
    } else {
        "denied"
    }
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::containers::Attribution;

    fn attribution(k8s: bool, name: Option<&str>) -> Attribution {
        Attribution {
            container: Container {
                id: "0123456789abcdef0123".into(),
                runtime: Some("runc"),
                name: name.map(str::to_string),
                image: None,
                image_id: None,
            },
            k8s: k8s.then(|| Kubernetes {
                namespace: Some("payments".into()),
                pod: Some("api-7d9".into()),
                pod_uid: None,
                container: Some("api".into()),
                labels: Default::default(),
            }),
            resolved: true,
            runtime: None,
            init_pid: None,
            bundle: None,
            cri_pending: false,
            settled: true,
        }
    }

    fn of(a: &Attribution, pod_labels: bool) -> SeriesLabels {
        SeriesLabels::of(&a.container, a.k8s.as_ref(), pod_labels)
    }

    #[test]
    fn labels_prefer_kubernetes_names_then_runtime_name_then_short_id() {
        let l = of(&attribution(true, Some("k8s_api_xyz")), true);
        assert_eq!(l.values(), ["payments", "api-7d9", "api"]);
        let l = of(&attribution(false, Some("web")), true);
        assert_eq!(l.values(), ["", "", "web"]);
        let l = of(&attribution(false, None), true);
        assert_eq!(l.values(), ["", "", "0123456789ab"]);
    }

    #[test]
    fn without_pod_labels_only_the_namespace_is_kept() {
        let l = of(&attribution(true, None), false);
        assert_eq!(l.values(), ["payments", "", ""]);
    }

    fn metrics() -> Metrics {
        Metrics::new(true, Duration::from_secs(1), Health::new("/".into())).unwrap()
    }

    #[test]
    fn not_ready_until_every_part_shows_life() {
        let h = Health::new("/".into());
        let why = h.not_ready();
        assert!(why.contains(&"probes not attached".to_string()), "{why:?}");
        assert!(why.contains(&"ring-buffer reader not started".to_string()));
        assert!(why.contains(&"output thread not started".to_string()));
        h.set_probes_attached(true);
        h.reader_alive();
        h.output_alive();
        assert_eq!(h.not_ready(), Vec::<String>::new());
        let h = Health::new("/nonexistent/cgroup".into());
        h.set_probes_attached(true);
        h.reader_alive();
        h.output_alive();
        let why = h.not_ready();
        assert_eq!(why.len(), 1, "{why:?}");
        assert!(why[0].starts_with("cgroup resolver: cannot read /nonexistent/cgroup"));
    }

    #[test]
    fn contract_families_are_listed_before_their_first_sample() {
        // A stage that has lost nothing yet still lists its stage of the lost events.
        struct Queue;
        impl Source for Queue {
            fn collect(&self, scrape: &mut Scrape) -> anyhow::Result<()> {
                scrape.lost("queue", 0);
                Ok(())
            }
        }
        let m = metrics();
        m.register(Arc::new(Queue));
        let text = String::from_utf8(m.render()).unwrap();
        assert!(
            text.contains("# TYPE privmon_alerts_total counter\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE privmon_events_lost_total counter\n"));
        assert!(text.contains("privmon_events_lost_total{stage=\"queue\"} 0\n"));
        assert!(text.contains("privmon_build_info{"));
        m.alert("mount-in-container", "high", "payments");
        let text = String::from_utf8(m.render()).unwrap();
        assert_eq!(
            text.matches("# TYPE privmon_alerts_total counter").count(),
            1
        );
        assert!(text.contains(
            "privmon_alerts_total{namespace=\"payments\",rule=\"mount-in-container\",severity=\"high\"} 1\n"
        ));
    }

    #[test]
    fn posture_gauges_follow_running_containers() {
        let m = metrics();
        let a = attribution(true, None);
        let posture = Posture {
            privileged: Some(true),
            host_namespaces: Some(vec!["pid", "net"]),
            ..Posture::default()
        };
        m.container_started(&a.container, a.k8s.as_ref(), &posture);
        let text = String::from_utf8(m.render()).unwrap();
        // The encoder sorts labels by name.
        let labels = "container=\"api\",namespace=\"payments\",pod=\"api-7d9\"";
        assert!(
            text.contains(&format!("privmon_container_privileged{{{labels}}} 1\n")),
            "{text}"
        );
        assert!(text.contains(&format!(
            "privmon_container_host_namespace{{{labels},type=\"pid\"}} 1\n"
        )));
        m.container_stopped(&a.container.id);
        let text = String::from_utf8(m.render()).unwrap();
        assert!(!text.contains("privmon_container_privileged{"), "{text}");
    }
}
