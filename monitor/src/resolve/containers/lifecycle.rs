//! Container start and stop: containers appear with their cgroup (`cgroup_mkdir`) or are
//! found running at start-up, and end with it (`cgroup_rmdir`). A `container_start` waits
//! until the runtime has written the container's files (runc writes its state after the
//! cgroup exists) and, with a CRI socket, for the runtime's answer, at most
//! [`START_PATIENCE`], then goes out with what is known.

use std::{collections::HashMap, sync::Arc};

use super::{
    Attribution, Containers, cgroup_path,
    posture::{self, Posture},
};
use crate::{
    catalog::capabilities::CapEffective,
    event::{Cgroup, ContainerEvent, Process, Shared, boottime_ns},
    resolve::procfs,
};

/// How long a new container may go without its runtime files before `container_start` is
/// emitted with nulls (boot-clock nanoseconds).
pub const START_PATIENCE: u64 = 2_000_000_000;

/// How long the runtime's set-up of a new container may last and still be folded into its
/// `container_start`, which waits for it that long (a slow node, an emulated one, takes
/// seconds where a fast one takes tens of milliseconds).
pub const SETUP_PATIENCE: u64 = 10_000_000_000;

struct Tracked {
    container_id: String,
    path: String,
    /// Boot time the container appeared (or was discovered).
    since: u64,
    /// What `container_start` said, once emitted.
    started: Option<Started>,
}

#[derive(Clone)]
struct Started {
    attribution: Arc<Attribution>,
    posture: Posture,
    init: Option<Process>,
}

/// Containers by cgroup id, from their appearance to their `container_stop`.
#[derive(Default)]
pub struct Lifecycle {
    tracked: HashMap<u64, Tracked>,
    /// Image reference prefixes that count as trusted (`posture.image_trusted`).
    trusted_registries: Vec<String>,
}

impl Lifecycle {
    pub fn new(trusted_registries: Vec<String>) -> Lifecycle {
        Lifecycle {
            tracked: HashMap::new(),
            trusted_registries,
        }
    }

    /// Registers a new cgroup; returns whether it is a container's own cgroup (sub-cgroups
    /// of a tracked container are not containers of their own).
    pub fn on_mkdir(&mut self, cgroup_id: u64, path: &str, boot_ns: u64) -> bool {
        let Some(parsed) = cgroup_path::parse(path) else {
            return false;
        };
        if self.tracked.values().any(|t| t.container_id == parsed.id) {
            return false;
        }
        self.tracked.insert(
            cgroup_id,
            Tracked {
                container_id: parsed.id,
                path: path.to_string(),
                since: boot_ns,
                started: None,
            },
        );
        true
    }

    /// Containers not yet announced whose runtime files are now there (or whose patience
    /// ran out): their `container_start` events. A container for which `hold` is true
    /// (its runtime is still setting it up) waits, within [`SETUP_PATIENCE`].
    pub fn poll(
        &mut self,
        containers: &mut Containers,
        node: &str,
        clock: &crate::event::Clock,
        hold: impl Fn(u64) -> bool,
    ) -> Vec<ContainerEvent> {
        let now = boottime_ns();
        let mut out = Vec::new();
        for (cgroup_id, t) in self.tracked.iter_mut().filter(|(_, t)| t.started.is_none()) {
            let waited = now.saturating_sub(t.since);
            if hold(*cgroup_id) && waited < SETUP_PATIENCE {
                continue;
            }
            let force = waited >= START_PATIENCE;
            if let Some(ev) = try_start(
                *cgroup_id,
                t,
                containers,
                &self.trusted_registries,
                node,
                clock,
                force,
            ) {
                out.push(ev);
            }
        }
        out
    }

    /// A removed cgroup: `container_start` first if it was never announced (a container
    /// that lived a few milliseconds), then `container_stop`.
    pub fn on_rmdir(
        &mut self,
        cgroup_id: u64,
        boot_ns: u64,
        containers: &mut Containers,
        node: &str,
        clock: &crate::event::Clock,
    ) -> Vec<ContainerEvent> {
        let Some(mut t) = self.tracked.remove(&cgroup_id) else {
            return Vec::new();
        };

        let mut out = Vec::new();
        if t.started.is_none()
            && let Some(ev) = try_start(
                cgroup_id,
                &mut t,
                containers,
                &self.trusted_registries,
                node,
                clock,
                true,
            )
        {
            out.push(ev);
        }
        if let Some(s) = t.started {
            out.push(ContainerEvent {
                time: clock.rfc3339(boot_ns),
                kind: "container_stop",
                node: node.to_string(),
                process: None,
                container: Some(s.attribution.container.clone()),
                k8s: s.attribution.k8s.clone(),
                cgroup: Cgroup {
                    id: cgroup_id,
                    path: Some(Shared::new(t.path.into())),
                },
                posture: s.posture,
                runtime_setup: None,
            });
        }
        containers.forget(&t.container_id);
        out
    }

    /// Number of containers tracked (running, or starting).
    pub fn len(&self) -> usize {
        self.tracked.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tracked.is_empty()
    }
}

fn try_start(
    cgroup_id: u64,
    t: &mut Tracked,
    containers: &mut Containers,
    trusted_registries: &[String],
    node: &str,
    clock: &crate::event::Clock,
    force: bool,
) -> Option<ContainerEvent> {
    let attribution = containers.for_cgroup(&t.path, boottime_ns())?;
    // Announced with the CRI's answer when there is one to wait for (within the patience).
    let ready = attribution.resolved && attribution.init_pid.is_some() && !attribution.cri_pending;
    if !ready && !force {
        return None;
    }
    let config = attribution
        .bundle
        .as_deref()
        .and_then(posture::read_oci_config);
    let mut init = attribution.init_pid.and_then(procfs::process);
    if let Some(p) = init.as_mut() {
        // Against the container's grant, as its acts' are.
        let grant = config.as_ref().and_then(posture::OciConfig::granted);
        p.cap_effective = CapEffective::new(p.cap_effective.bits(), grant);
    }
    let proc_root = containers.root().join("proc");
    let posture = posture::assess(&posture::Inputs {
        config: config.as_ref(),
        init_pid: init.as_ref().map(|p| p.pid),
        runtime: attribution.runtime,
        image: attribution.container.image.as_deref(),
        trusted_registries,
        proc_root: &proc_root,
    });
    let started = Started {
        attribution: attribution.clone(),
        posture,
        init,
    };
    t.started = Some(started.clone());
    Some(ContainerEvent {
        time: clock.rfc3339(t.since),
        kind: "container_start",
        node: node.to_string(),
        process: started.init.map(crate::event::Init),
        container: Some(attribution.container.clone()),
        k8s: attribution.k8s.clone(),
        cgroup: Cgroup {
            id: cgroup_id,
            path: Some(Shared::new(t.path.as_str().into())),
        },
        posture: started.posture,
        // The pipeline fills it in: it sees the runtime's checks.
        runtime_setup: None,
    })
}
