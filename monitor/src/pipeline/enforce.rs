//! Enforcement (docs/enforcement.md): which containers the kernel acts on, and how.
//!
//! The kernel decides alone, from one entry per armed cgroup (`names::ENFORCE`: the
//! capabilities to kill or deny, a dry-run flag, whether sysctl writes are denied); it never
//! waits for the daemon. The daemon arms a container when its `container_start` is
//! written (once the runtime has executed the entrypoint: the runtime's set-up is never
//! acted on), from the rules that carry an `action` and from the container's mode
//! (`workload_modes`: protect and dry-run act on what is outside its learned baseline). It
//! disarms it when the container goes, when the workload kills too often (a crash loop),
//! and when the API pauses enforcement.

use std::{
    collections::{BTreeSet, HashMap, HashSet, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use anyhow::Context as _;
use aya::maps::{Array, HashMap as KernelMap, MapData};
use monitor_common::{Enforcement, action, enforce_flags, names, runtime};
use tracing::{info, warn};

use crate::{
    advisor::{Advisor, WorkloadId},
    catalog::capabilities::{CapSet, Capability, LAST_CAP},
    config::{Action, Config, EnforcementSwitch, ModeEntry, WorkloadMode},
    event::{
        Header,
        access::{Fields, Key, Val},
    },
    kernel::loader::{EnforcementSupport, Probes},
    outputs::{
        enforcement::{ArmedStatus, Control, Status},
        metrics::Metrics,
    },
    rules::{Covers, Rule, RuleSet},
};

/// How often every armed container's plan is made again (baselines learned since, a
/// paused switch): the plans depend on nothing that changes faster.
const REPLAN_INTERVAL: Duration = Duration::from_secs(2);

/// The window of the kill-loop guard.
const KILL_WINDOW: Duration = Duration::from_secs(60);

/// The probes' per-CPU filter cache holds a cgroup's verdict for one generation of the
/// kernel's per-cgroup maps (`HOST_CGROUPS`, `ENFORCE`): every change is followed by a bump.
pub(crate) struct FilterGeneration {
    array: Mutex<Array<MapData, u64>>,
    next: AtomicU64,
}

impl FilterGeneration {
    pub(crate) fn new(probes: &mut Probes) -> anyhow::Result<Arc<FilterGeneration>> {
        let map = probes
            .ebpf
            .take_map(names::FILTER_GEN)
            .context("FILTER_GEN map missing")?;
        Ok(Arc::new(FilterGeneration {
            array: Mutex::new(Array::try_from(map)?),
            next: AtomicU64::new(1),
        }))
    }

    pub(crate) fn bump(&self) {
        let value = self.next.fetch_add(1, Relaxed);
        let mut array = self.array.lock().unwrap_or_else(|e| e.into_inner());
        // An array slot that exists: this cannot fail but for a kernel error, after which
        // a cached verdict may live until the CPU sees another cgroup.
        if let Err(e) = array.set(0, value, 0) {
            warn!(error = %e, "bumping the kernel filter's generation failed");
        }
    }
}

/// One `workload_modes` entry, compiled.
struct Mode {
    mode: WorkloadMode,
    /// Each selector's field paths (the first present is tested) and glob.
    selectors: Vec<(Vec<Vec<Key>>, globset::GlobMatcher)>,
}

impl Mode {
    fn of(e: &ModeEntry) -> Mode {
        let paths = |key: &str| -> Vec<Vec<Key>> {
            let dotted = match key {
                "namespace" => vec!["k8s.namespace".to_string()],
                "pod" => vec!["k8s.pod".to_string()],
                "container" => vec!["k8s.container".to_string(), "container.name".to_string()],
                "image" => vec!["container.image".to_string()],
                label => label
                    .strip_prefix("label:")
                    .map(|l| vec![format!("k8s.labels.{l}")])
                    .unwrap_or_default(),
            };
            dotted.iter().map(|d| Key::path(d)).collect()
        };
        Mode {
            mode: e.mode,
            selectors: e
                .selectors()
                .into_iter()
                // Checked with the configuration.
                .filter_map(|(k, g)| {
                    Some((paths(&k), globset::Glob::new(g).ok()?.compile_matcher()))
                })
                .collect(),
        }
    }

    fn matches(&self, ev: &(impl Fields + ?Sized)) -> bool {
        self.selectors.iter().all(|(paths, glob)| {
            paths
                .iter()
                .find_map(|p| ev.field(p).as_str().map(|v| glob.is_match(v)))
                .unwrap_or(false)
        })
    }
}

/// What the kernel is told about one container, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Plan {
    entry: Enforcement,
    mode: WorkloadMode,
    /// What armed each capability: `rule:<id>` or `protect`.
    policy: Vec<(u32, Arc<str>)>,
    sysctl_policy: Option<Arc<str>>,
}

/// A container the daemon announced, as enforcement knows it.
struct Tracked {
    header: Header,
    workload: Option<WorkloadId>,
    /// What each of the enforcer's rules covers here (made when the container or the rules
    /// change: the periodic re-plan only looks at baselines again).
    covers: Vec<Covers>,
    plan: Option<Plan>,
}

/// The kernel's enforcement maps.
struct Maps {
    enforce: KernelMap<MapData, u64, Enforcement>,
    runtime: Array<MapData, u32>,
}

pub(crate) struct Enforcer {
    /// None: enforcement is off (the programs carry no enforcement code).
    maps: Option<Maps>,
    generation: Option<Arc<FilterGeneration>>,
    switch: EnforcementSwitch,
    modes: Vec<Mode>,
    protect_action: Action,
    protect_allow: u64,
    max_kills: u32,
    support: EnforcementSupport,
    /// Enabled rules with an action.
    rules: Vec<Rule>,
    control: Arc<Control>,
    paused: bool,
    containers: HashMap<u64, Tracked>,
    kills: HashMap<WorkloadId, VecDeque<Instant>>,
    suspended: HashSet<WorkloadId>,
    replanned: Instant,
    metrics: Arc<Metrics>,
}

/// Why a configuration asks for an action this kernel cannot take; None when it can.
pub fn unsupported(
    config: &Config,
    rules: &RuleSet,
    support: &EnforcementSupport,
) -> Option<String> {
    if config.enforcement == EnforcementSwitch::Off {
        return None;
    }
    let protect = config
        .workload_modes
        .iter()
        .any(|m| matches!(m.mode, WorkloadMode::Protect | WorkloadMode::DryRun));
    let mut wanted = Vec::new();
    if protect && config.protect_action == Action::Deny {
        wanted.push("protect_action: deny".to_string());
    }
    for r in rules.enabled() {
        if r.action == Some(Action::Deny) && !r.denies_only_sysctl_writes() {
            wanted.push(format!("rule `{}` (action: deny)", r.id));
        }
    }
    if wanted.is_empty() {
        return None;
    }
    match &support.deny_capability {
        Ok(()) => None,
        Err(why) => Some(format!(
            "{} deny a capability's use, which needs the BPF LSM `capable` hook: {why}",
            wanted.join(", ")
        )),
    }
}

impl Enforcer {
    pub(crate) fn new(
        config: &Config,
        probes: &mut Probes,
        generation: Arc<FilterGeneration>,
        rules: &RuleSet,
        control: Arc<Control>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Enforcer> {
        let maps = if config.enforcement == EnforcementSwitch::Off {
            None
        } else {
            let mut take = |name: &str| {
                probes
                    .ebpf
                    .take_map(name)
                    .with_context(|| format!("{name} map missing"))
            };
            Some(Maps {
                enforce: KernelMap::try_from(take(names::ENFORCE)?)?,
                runtime: Array::try_from(take(names::RUNTIME)?)?,
            })
        };
        if let Some(why) = unsupported(config, rules, &probes.enforcement) {
            anyhow::bail!("enforcement: {why}");
        }
        let mut e = Enforcer {
            maps,
            generation: Some(generation),
            switch: config.enforcement,
            modes: config.workload_modes.iter().map(Mode::of).collect(),
            protect_action: config.protect_action,
            protect_allow: CapSet::from_names(&config.protect_allow).0,
            max_kills: config.enforcement_max_kills_per_minute,
            support: probes.enforcement.clone(),
            ..Enforcer::off(control, metrics)
        };
        e.set_rules(rules);
        e.publish_status();
        Ok(e)
    }

    /// Enforcement with no kernel (the pipeline's benchmark): nothing is ever armed.
    pub(crate) fn off(control: Arc<Control>, metrics: Arc<Metrics>) -> Enforcer {
        Enforcer {
            maps: None,
            generation: None,
            switch: EnforcementSwitch::Off,
            modes: Vec::new(),
            protect_action: Action::Kill,
            protect_allow: 0,
            max_kills: 0,
            support: EnforcementSupport::off(),
            rules: Vec::new(),
            control,
            paused: false,
            containers: HashMap::new(),
            kills: HashMap::new(),
            suspended: HashSet::new(),
            replanned: Instant::now(),
            metrics,
        }
    }

    /// Whether enforcement's maps are here (enforcement not off at start): without them
    /// nothing is ever armed, and containers need not be tracked.
    pub(crate) fn active(&self) -> bool {
        self.maps.is_some()
    }

    fn on(&self) -> bool {
        self.maps.is_some() && !self.paused && self.switch != EnforcementSwitch::Off
    }

    /// The rules to act from (a reload replaces them; every plan is made again).
    pub(crate) fn set_rules(&mut self, rules: &RuleSet) {
        self.rules = rules
            .enabled()
            .filter(|r| r.action.is_some())
            .cloned()
            .collect();
        for t in self.containers.values_mut() {
            t.covers = self.rules.iter().map(|r| r.covers(&t.header)).collect();
        }
        if self.maps.is_some() && !self.rules.is_empty() {
            let ids: Vec<&str> = self.rules.iter().map(|r| r.id.as_str()).collect();
            info!(rules = %ids.join(", "), "enforcement: rules with an action");
        }
    }

    /// The mode of an event's workload: the first entry that matches, else monitor.
    pub(crate) fn mode_of(&self, ev: &(impl Fields + ?Sized)) -> WorkloadMode {
        self.modes
            .iter()
            .find(|m| m.matches(ev))
            .map_or(WorkloadMode::Monitor, |m| m.mode)
    }

    /// The mode of the workload an event header names.
    pub(crate) fn mode_of_header(&self, header: &Header) -> WorkloadMode {
        self.mode_of(&HeaderFields(header))
    }

    /// A container started (its entrypoint runs): armed if anything covers it.
    pub(crate) fn started(&mut self, cgroup_id: u64, header: Header, advisor: &Advisor) {
        if header.container.is_none() {
            return;
        }
        if self
            .containers
            .get(&cgroup_id)
            .is_some_and(|t| t.header.container == header.container && t.header.k8s == header.k8s)
        {
            // Armed at its entrypoint's exec already, with what its start says.
            return;
        }
        let workload = WorkloadId::of(&HeaderFields(&header));
        // What the kernel holds for it stays known until the new plan replaces it.
        let plan = self.containers.remove(&cgroup_id).and_then(|t| t.plan);
        let covers = self.rules.iter().map(|r| r.covers(&header)).collect();
        self.containers.insert(
            cgroup_id,
            Tracked {
                header,
                workload,
                covers,
                plan,
            },
        );
        self.replan(cgroup_id, advisor);
        self.publish_status();
    }

    /// A container's cgroup went away.
    pub(crate) fn gone(&mut self, cgroup_id: u64) {
        if let Some(t) = self.containers.remove(&cgroup_id)
            && t.plan.is_some()
        {
            self.write(cgroup_id, None);
            self.publish_status();
        }
    }

    /// What armed capability `cap` (None: a sysctl write) in the cgroup, for an event the
    /// kernel acted on; counts the action, and stops acting on a workload that kills more
    /// than `enforcement_max_kills_per_minute` times a minute.
    pub(crate) fn acted(
        &mut self,
        cgroup_id: u64,
        act: u8,
        cap: Option<u32>,
        namespace: Option<&str>,
        advisor: &Advisor,
    ) -> Option<Arc<str>> {
        let name = crate::event::EnforcementAct::action_name(act)?;
        let capability = cap.map_or("sysctl".to_string(), |c| Capability(c).name());
        self.metrics
            .enforcement_action(name, &capability, namespace.unwrap_or(""));
        let t = self.containers.get(&cgroup_id)?;
        let policy = match (&t.plan, cap) {
            (Some(p), Some(cap)) => p
                .policy
                .iter()
                .find(|(c, _)| *c == cap)
                .map(|(_, p)| p.clone()),
            (Some(p), None) => p.sysctl_policy.clone(),
            (None, _) => None,
        };
        if act == action::KILL
            && self.max_kills > 0
            && let Some(w) = t.workload.clone()
        {
            let now = Instant::now();
            let times = self.kills.entry(w.clone()).or_default();
            times.push_back(now);
            while times
                .front()
                .is_some_and(|t| now.duration_since(*t) > KILL_WINDOW)
            {
                times.pop_front();
            }
            if times.len() > self.max_kills as usize && self.suspended.insert(w.clone()) {
                warn!(
                    workload = %w,
                    kills = times.len(),
                    "enforcement suspended for this workload: it was killed more than \
                     enforcement_max_kills_per_minute times in a minute (a crash loop?); \
                     POST /enforcement/resume acts on it again"
                );
                let ids: Vec<u64> = self
                    .containers
                    .iter()
                    .filter(|(_, t)| t.workload.as_ref() == Some(&w))
                    .map(|(id, _)| *id)
                    .collect();
                for id in ids {
                    self.replan(id, advisor);
                }
                self.publish_status();
            }
        }
        policy
    }

    /// Follows the API's switch, and makes the plans again now and then (baselines that
    /// were learned since).
    pub(crate) fn tick(&mut self, advisor: &Advisor) {
        if self.maps.is_none() {
            if let Some(c) = self.control.take_reloaded()
                && c.enforcement != EnforcementSwitch::Off
            {
                warn!(
                    "reloaded configuration: enforcement was off at start, its programs carry no enforcement code: restart the daemon to turn it on"
                );
            }
            return;
        }
        if let Some(config) = self.control.take_reloaded() {
            self.reconfigure(&config);
            self.replan_all(advisor);
        }
        let (paused, lift) = self.control.take();
        if lift && !self.suspended.is_empty() {
            info!("enforcement: suspensions lifted");
            self.suspended.clear();
            self.kills.clear();
        }
        if paused != self.paused {
            self.paused = paused;
            if paused {
                warn!("enforcement paused (POST /enforcement/pause): every container disarmed");
            } else {
                info!("enforcement resumed");
            }
        } else if !lift && self.replanned.elapsed() < REPLAN_INTERVAL {
            return;
        }
        self.replan_all(advisor);
    }

    /// Takes the enforcement keys of a configuration reread on SIGHUP: the switch (to
    /// `off` disarms everything; from `off` at start it needs a restart, the programs were
    /// loaded without enforcement), the modes, protect's action and allow list, the guard.
    fn reconfigure(&mut self, config: &Config) {
        if config.protect_action == Action::Deny && self.support.deny_capability.is_err() {
            warn!(
                "reloaded configuration: protect_action deny needs BPF LSM, which this kernel lacks: keeping the previous enforcement settings"
            );
            return;
        }
        if self.switch != config.enforcement {
            info!(
                from = ?self.switch,
                to = ?config.enforcement,
                "reloaded configuration: enforcement switch changed"
            );
        }
        self.switch = config.enforcement;
        self.modes = config.workload_modes.iter().map(Mode::of).collect();
        self.protect_action = config.protect_action;
        self.protect_allow = CapSet::from_names(&config.protect_allow).0;
        self.max_kills = config.enforcement_max_kills_per_minute;
    }

    /// Makes every plan again (rules replaced, switch changed).
    pub(crate) fn replan_all(&mut self, advisor: &Advisor) {
        self.replanned = Instant::now();
        let ids: Vec<u64> = self.containers.keys().copied().collect();
        for id in ids {
            self.replan(id, advisor);
        }
        self.publish_status();
    }

    fn replan(&mut self, cgroup_id: u64, advisor: &Advisor) {
        let Some(t) = self.containers.get(&cgroup_id) else {
            return;
        };
        let plan = if self.on() {
            self.plan(t, advisor)
        } else {
            None
        };
        if plan == t.plan {
            return;
        }
        if let Some(p) = &plan {
            info!(
                cgroup_id,
                container = t.header.container.as_deref().and_then(|c| c.name.as_deref()),
                mode = p.mode.name(),
                kill = %CapSet(p.entry.kill).names().collect::<Vec<_>>().join(","),
                deny = %CapSet(p.entry.deny).names().collect::<Vec<_>>().join(","),
                deny_sysctl_writes = p.entry.flags & enforce_flags::DENY_SYSCTL_WRITES != 0,
                dry_run = p.entry.flags & enforce_flags::DRY_RUN != 0,
                "enforcement armed"
            );
        }
        self.write(cgroup_id, plan.as_ref().map(|p| p.entry));
        if let Some(t) = self.containers.get_mut(&cgroup_id) {
            t.plan = plan;
        }
    }

    /// What the kernel should do in one container.
    fn plan(&self, t: &Tracked, advisor: &Advisor) -> Option<Plan> {
        if t.workload
            .as_ref()
            .is_some_and(|w| self.suspended.contains(w))
        {
            return None;
        }
        let mode = self.mode_of_header(&t.header);
        if mode == WorkloadMode::Ignore {
            return None;
        }
        let mut entry = Enforcement::default();
        let mut policy: Vec<(u32, Arc<str>)> = Vec::new();
        let mut sysctl_policy = None;
        for (r, covers) in self.rules.iter().zip(&t.covers) {
            let source: Arc<str> = format!("rule:{}", r.id).into();
            let mut caps = covers.capabilities & !(entry.kill | entry.deny);
            if r.action == Some(Action::Deny) && self.support.deny_capability.is_err() {
                // Refused at start-up and at reload; never downgraded to a kill.
                caps = 0;
            }
            for cap in bits(caps) {
                policy.push((cap, source.clone()));
            }
            match r.action {
                Some(Action::Kill) => entry.kill |= caps,
                Some(Action::Deny) => {
                    entry.deny |= caps;
                    if covers.sysctl_writes && self.support.deny_sysctl && sysctl_policy.is_none() {
                        sysctl_policy = Some(source.clone());
                    }
                }
                None => {}
            }
        }
        if matches!(mode, WorkloadMode::Protect | WorkloadMode::DryRun)
            && let Some(baseline) = t.workload.as_ref().and_then(|w| advisor.baseline(w))
        {
            let outside = outside_of(baseline) & !self.protect_allow & !(entry.kill | entry.deny);
            let source: Arc<str> = "protect".into();
            for cap in bits(outside) {
                policy.push((cap, source.clone()));
            }
            match self.protect_action {
                Action::Kill => entry.kill |= outside,
                Action::Deny if self.support.deny_capability.is_ok() => entry.deny |= outside,
                Action::Deny => {}
            }
        }
        if sysctl_policy.is_some() {
            entry.flags |= enforce_flags::DENY_SYSCTL_WRITES;
        }
        if entry.kill == 0 && entry.deny == 0 && entry.flags == 0 {
            return None;
        }
        if self.switch == EnforcementSwitch::DryRun || mode == WorkloadMode::DryRun {
            entry.flags |= enforce_flags::DRY_RUN;
        }
        Some(Plan {
            entry,
            mode,
            policy,
            sysctl_policy,
        })
    }

    /// Writes (or removes) a cgroup's entry, then the union of the deny sets, then bumps
    /// the filter's generation. A full map leaves the cgroup unarmed, said in the log.
    fn write(&mut self, cgroup_id: u64, entry: Option<Enforcement>) {
        let Some(maps) = &mut self.maps else {
            return;
        };
        match entry {
            Some(e) => {
                if let Err(err) = maps.enforce.insert(cgroup_id, e, 0) {
                    warn!(cgroup_id, error = %err, "enforcement: the kernel map refused the entry: this container is not armed");
                }
            }
            None => {
                // Absent when it was never armed.
                let _ = maps.enforce.remove(&cgroup_id);
            }
        }
        let deny = self
            .containers
            .iter()
            .filter(|(id, _)| **id != cgroup_id)
            .filter_map(|(_, t)| t.plan.as_ref())
            .map(|p| p.entry)
            .chain(entry)
            .filter(|e| e.flags & enforce_flags::DRY_RUN == 0)
            .fold(0u64, |acc, e| acc | e.deny);
        for (index, value) in [
            (runtime::DENY_CAPS_LO, deny as u32),
            (runtime::DENY_CAPS_HI, (deny >> 32) as u32),
        ] {
            if let Err(err) = maps.runtime.set(index, value, 0) {
                warn!(error = %err, "enforcement: writing the deny set failed");
            }
        }
        if let Some(g) = &self.generation {
            g.bump();
        }
    }

    fn publish_status(&self) {
        let s = &self.support;
        let mut armed: Vec<ArmedStatus> = self
            .containers
            .iter()
            .filter_map(|(id, t)| {
                let p = t.plan.as_ref()?;
                Some(ArmedStatus {
                    cgroup_id: *id,
                    container: t.header.container.as_deref().and_then(|c| c.name.clone()),
                    workload: t.workload.as_ref().map(ToString::to_string),
                    mode: p.mode.name(),
                    dry_run: p.entry.flags & enforce_flags::DRY_RUN != 0,
                    kill: CapSet(p.entry.kill).names().collect(),
                    deny: CapSet(p.entry.deny).names().collect(),
                    deny_sysctl_writes: p.entry.flags & enforce_flags::DENY_SYSCTL_WRITES != 0,
                })
            })
            .collect();
        armed.sort_by_key(|a| a.cgroup_id);
        let mut suspended: Vec<String> = self.suspended.iter().map(ToString::to_string).collect();
        suspended.sort();
        self.metrics.enforcement_state(armed.len(), suspended.len());
        self.control.publish(Status {
            switch: match self.switch {
                EnforcementSwitch::Off => "off",
                EnforcementSwitch::DryRun => "dry_run",
                EnforcementSwitch::On => "on",
            },
            paused: self.paused,
            kill: s.kill,
            deny_capability: s.deny_capability.is_ok(),
            deny_sysctl: s.deny_sysctl,
            armed,
            suspended,
        });
    }
}

/// A container's header read as an event (the advisor names workloads from events).
struct HeaderFields<'a>(&'a Header);

impl Fields for HeaderFields<'_> {
    fn field(&self, path: &[Key]) -> Val<'_> {
        match path {
            [k, rest @ ..] => self.0.field(k.name, rest),
            [] => Val::Missing,
        }
    }
}

/// The known capabilities outside a baseline.
fn outside_of(baseline: &BTreeSet<String>) -> u64 {
    let known = if LAST_CAP >= 64 {
        u64::MAX
    } else {
        (1u64 << LAST_CAP) - 1
    };
    known & !CapSet::from_names(&baseline.iter().collect::<Vec<_>>()).0
}

/// The set bits of a mask, low first.
fn bits(mask: u64) -> impl Iterator<Item = u32> {
    (0..64).filter(move |b| mask & (1 << b) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(s: &str) -> ModeEntry {
        s.parse().unwrap()
    }

    #[test]
    fn the_first_matching_mode_wins_and_monitor_is_the_default() {
        let header = crate::event::samples::header("capability", true, true);
        let ev = HeaderFields(&header);
        let modes: Vec<Mode> = [
            "learn:namespace=shop",
            "protect:label=app=api*",
            "dry-run:namespace=pay*",
        ]
        .iter()
        .map(|e| Mode::of(&entry(e)))
        .collect();
        // The sample pod: namespace payments, labels app=api.
        let first = modes.iter().find(|m| m.matches(&ev)).map(|m| m.mode);
        assert_eq!(first, Some(WorkloadMode::Protect));
        assert!(Mode::of(&entry("dry-run:namespace=pay*")).matches(&ev));
        assert!(!Mode::of(&entry("learn:namespace=shop")).matches(&ev));
        assert!(!Mode::of(&entry("protect:label=tier=db")).matches(&ev));
        assert!(
            Mode::of(&entry("protect")).matches(&ev),
            "no selector: every container"
        );
        let host = crate::event::samples::header("capability", false, false);
        assert!(!Mode::of(&entry("protect:namespace=*")).matches(&HeaderFields(&host)));
    }

    #[test]
    fn mode_entries_parse_or_say_why_not() {
        assert_eq!(entry("dry-run:pod=web-*").pod.as_deref(), Some("web-*"));
        assert_eq!(entry("ignore").mode, WorkloadMode::Ignore);
        for (bad, why) in [
            ("enforce:namespace=x", "unknown mode"),
            ("protect:color=red", "unknown key"),
            ("protect:namespace", "MODE:KEY=GLOB"),
            ("protect:label=app", "KEY=GLOB"),
            ("protect:image=[", "invalid glob"),
        ] {
            let e = bad.parse::<ModeEntry>().unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn outside_a_baseline_is_every_known_capability_it_lacks() {
        let baseline: BTreeSet<String> = ["CAP_CHOWN".to_string(), "CAP_NET_RAW".to_string()]
            .into_iter()
            .collect();
        let outside = outside_of(&baseline);
        assert_eq!(outside & (1 << 0 | 1 << 13), 0);
        assert_ne!(outside & 1 << 21, 0, "CAP_SYS_ADMIN");
        assert_eq!(outside >> LAST_CAP, 0, "no unknown capability");
        assert_eq!(bits(1 << 3 | 1 << 40).collect::<Vec<_>>(), vec![3, 40]);
    }
}
