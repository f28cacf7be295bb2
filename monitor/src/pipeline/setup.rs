//! The container runtime's set-up of a new container, folded into its `container_start`.
//!
//! Between the container's cgroup appearing and its entrypoint's exec, the only processes
//! in the cgroup are the runtime's (runc's init joins the cgroup, then mounts /proc and
//! /dev, makes device nodes, pivots its root, drops privileges, then executes the
//! entrypoint): that is how its checks are told from the workload's, by where and when
//! they happen rather than by a process name a workload could take. What the runtime
//! normally does there is counted in `container_start.runtime_setup`, the refusals it
//! usually meets too ([`RUNTIME_REFUSALS`]); anything else (an operation a runtime does not
//! make, another refused check) is still written as an event.

use crate::{
    catalog::operations,
    event::{Check, Exec, RuntimeSetup},
};

/// Longest set-up folded: a cgroup whose entrypoint has not run by then is written in
/// full (boot-clock nanoseconds).
const SETUP_PATIENCE_NS: u64 = crate::resolve::containers::lifecycle::SETUP_PATIENCE;

/// Operations container runtimes make while setting a container up (runc, crun): mounts
/// and the new mount API, device nodes, the root switch, host and domain names, namespaces,
/// the session keyring, privilege drops.
const RUNTIME_OPERATIONS: &[&str] = &[
    "mount",
    "umount2",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "mount_setattr",
    "pivot_root",
    "chroot",
    "mknod",
    "mknodat",
    "sethostname",
    "setdomainname",
    "unshare",
    "setns",
    "clone",
    "clone3",
    "keyctl",
    "capset",
    "setgroups",
    "setuid",
    "setgid",
    "setresuid",
    "setresgid",
    "setreuid",
    "setregid",
    // Writes under /proc/sys (the `cgroup/sysctl` program): a container's own sysctls.
    "sysctl",
];

/// Refusals a runtime meets in its usual set-up: runc's init, once it has dropped to the
/// container's user, is refused `CAP_DAC_READ_SEARCH`/`CAP_DAC_OVERRIDE` on its own
/// `/proc/self/fd` (the kernel lets it through as the same process), and `capset` asks for
/// `CAP_SETPCAP` to know whether the inheritable set is capped. Counted in the set-up's
/// `denied`, not written.
const RUNTIME_REFUSALS: &[&str] = &["CAP_DAC_READ_SEARCH", "CAP_DAC_OVERRIDE", "CAP_SETPCAP"];

/// Whether a refused check is one a runtime meets in its usual set-up (see
/// [`RUNTIME_REFUSALS`]); whether it is folded still depends on when it was made.
pub(super) fn usual_refusal(name: &str) -> bool {
    RUNTIME_REFUSALS.contains(&name)
}

/// Whether an exec's `argv[0]` names runc (`runc` or a path to it).
fn names_runc(e: &Exec) -> bool {
    e.args
        .first()
        .is_some_and(|a| a == "runc" || a.ends_with("/runc"))
}

/// A container being set up by its runtime.
struct Setup {
    cgroup_id: u64,
    since: u64,
    /// When the entrypoint was executed (boot clock): nothing made after it is folded,
    /// what was made before is even when handled after the exec (a call held for its
    /// other checks).
    over_at: Option<u64>,
    summary: RuntimeSetup,
}

/// The containers whose runtime is setting them up, by cgroup.
#[derive(Default)]
pub(super) struct Setups {
    setups: Vec<Setup>,
    /// Write the set-up's events too (`runtime_setup_events`).
    pub(super) write_all: bool,
}

impl Setups {
    /// A container's cgroup appeared (seen live, not found at start-up).
    pub(super) fn begin(&mut self, cgroup_id: u64, boot_ns: u64) {
        self.end(cgroup_id);
        self.setups.push(Setup {
            cgroup_id,
            since: boot_ns,
            over_at: None,
            summary: RuntimeSetup::default(),
        });
    }

    fn active(&mut self, cgroup_id: u64, boot_ns: u64) -> Option<&mut RuntimeSetup> {
        let s = self.setups.iter_mut().find(|s| s.cgroup_id == cgroup_id)?;
        (s.over_at.is_none_or(|t| boot_ns < t)
            && boot_ns.saturating_sub(s.since) < SETUP_PATIENCE_NS)
            .then_some(&mut s.summary)
    }

    /// Whether the runtime is still setting the container of `cgroup_id` up (its
    /// `container_start` waits for the entrypoint, within the start's patience).
    pub(super) fn in_setup(&self, cgroup_id: u64) -> bool {
        self.setups
            .iter()
            .any(|s| s.cgroup_id == cgroup_id && s.over_at.is_none())
    }

    /// An exec: in a container being set up, the entrypoint's (unless it is the runtime
    /// executing itself again), which ends the set-up; true for that one. Its summary
    /// waits for `container_start`.
    pub(super) fn exec(&mut self, e: &Exec) -> bool {
        // runc 1.1 re-executes its own sealed copy: from a memfd, or (where it bind-mounts
        // its binary read-only first, as on Linux 5.10) through the descriptor of that
        // mount, `/dev/fd/N` named `runc init`.
        let by_fd = e
            .filename
            .as_deref()
            .is_some_and(|f| f.starts_with("/dev/fd/") || f.starts_with("/proc/self/fd/"))
            && names_runc(e)
            && e.args.get(1).is_some_and(|a| a == "init");
        let own = e.memfd
            || by_fd
            || e.filename.as_deref() == Some("/proc/self/exe")
            || e.comm.starts_with("runc");
        match self.setups.iter_mut().find(|s| s.cgroup_id == e.cgroup_id) {
            Some(s) if !own && s.over_at.is_none() => {
                s.over_at = Some(e.boot_ns);
                true
            }
            _ => false,
        }
    }

    /// Counts an exec from a memfd that is the runtime running its own sealed copy (runc
    /// 1.1 re-executes itself so, against CVE-2019-5736: `runc init` from
    /// `memfd:runc_cloned`) as an operation `name` of the set-up; false when it is to be
    /// written as a fileless execution (any other, or after the set-up).
    pub(super) fn runtime_memfd_exec(&mut self, e: &Exec, name: &'static str) -> bool {
        let runc = e.comm.starts_with("memfd:runc") || names_runc(e);
        if self.write_all || !e.memfd || !runc {
            return false;
        }
        let Some(summary) = self.active(e.cgroup_id, e.boot_ns) else {
            return false;
        };
        summary.operation(name);
        true
    }

    /// Counts a plain check of the set-up; false when it is to be written (no set-up, a
    /// refusal that is neither a probe nor one a runtime usually meets).
    pub(super) fn check(
        &mut self,
        cgroup_id: u64,
        boot_ns: u64,
        check: &Check,
        probing: bool,
    ) -> bool {
        if self.write_all || (check.verdict != "allowed" && !probing && !usual_refusal(&check.name))
        {
            return false;
        }
        match self.active(cgroup_id, boot_ns) {
            Some(summary) => {
                summary.check(check.name.clone(), check.verdict, check.count);
                true
            }
            None => false,
        }
    }

    /// Whether an operation (`name`, first check refused and not a probe: `refused`) would
    /// be folded into the set-up of `cgroup_id`.
    pub(super) fn folds(
        &mut self,
        cgroup_id: u64,
        boot_ns: u64,
        name: &str,
        refused: bool,
    ) -> bool {
        !self.write_all
            && !refused
            && RUNTIME_OPERATIONS.contains(&name)
            && self.active(cgroup_id, boot_ns).is_some()
    }

    /// Counts an operation of the set-up with its checks; false if the set-up is over.
    pub(super) fn operation(
        &mut self,
        cgroup_id: u64,
        boot_ns: u64,
        name: &str,
        checks: &[Check],
    ) -> bool {
        let Some(summary) = self.active(cgroup_id, boot_ns) else {
            return false;
        };
        // Every folded operation is one the catalogue names; an unknown name is kept as
        // written rather than dropped.
        let known = RUNTIME_OPERATIONS
            .iter()
            .copied()
            .find(|n| *n == name)
            .or_else(|| operations::lookup(name).map(|op| op.name));
        summary.operation(known.unwrap_or("other"));
        for c in checks {
            summary.check(c.name.clone(), c.verdict, c.count);
        }
        true
    }

    /// The set-up is over (its container is announced, or gone): its summary.
    pub(super) fn end(&mut self, cgroup_id: u64) -> Option<RuntimeSetup> {
        let i = self.setups.iter().position(|s| s.cgroup_id == cgroup_id)?;
        Some(self.setups.swap_remove(i).summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(name: &'static str) -> Check {
        Check {
            count: 1,
            name: name.into(),
            scope: "host",
            verdict: "allowed",
        }
    }

    fn exec(cgroup_id: u64, filename: &str, memfd: bool) -> Exec {
        Exec {
            pid: 1,
            ppid: 0,
            uid: None,
            euid: None,
            gid: None,
            egid: None,
            cap_permitted: 0,
            cap_effective: 0,
            cgroup_id,
            boot_ns: 0,
            comm: filename.rsplit('/').next().unwrap_or_default().into(),
            filename: Some(filename.into()),
            args: Vec::new(),
            args_truncated: false,
            memfd,
        }
    }

    #[test]
    fn the_runtimes_usual_work_is_counted_until_the_entrypoint_runs() {
        let mut s = Setups::default();
        s.begin(7, 1_000);
        assert!(s.in_setup(7));
        assert!(s.folds(7, 2_000, "mount", false));
        assert!(s.operation(
            7,
            2_000,
            "mount",
            &[Check {
                count: 2,
                ..allowed("CAP_SYS_ADMIN")
            }]
        ));
        assert!(s.check(7, 3_000, &allowed("CAP_SETUID"), false));
        // Probes of the kernel's memory accounting are counted, refused or not.
        let probe = Check {
            verdict: "denied",
            ..allowed("CAP_SYS_ADMIN")
        };
        assert!(s.check(7, 3_000, &probe, true));
        // Another cgroup is nobody's set-up.
        assert!(!s.check(8, 3_000, &allowed("CAP_SETUID"), false));
        // The runtime executing itself again does not end it; the entrypoint does. Its
        // copy run from a memfd is counted, not a fileless execution; another memfd is.
        s.exec(&exec(7, "/proc/self/exe", false));
        let runc = Exec {
            comm: "memfd:runc_clon".into(),
            args: vec!["runc".into(), "init".into()],
            ..exec(7, "/dev/fd/6", true)
        };
        s.exec(&runc);
        assert!(s.runtime_memfd_exec(&runc, "execveat"));
        let payload = Exec {
            comm: "memfd:x".into(),
            args: vec!["x".into()],
            ..exec(7, "/dev/fd/6", true)
        };
        assert!(!s.runtime_memfd_exec(&payload, "execveat"));
        assert!(s.in_setup(7));
        s.exec(&exec(7, "/bin/true", false));
        assert!(!s.in_setup(7));
        assert!(!s.check(7, 4_000, &allowed("CAP_SETUID"), false));
        let summary = s.end(7).expect("its summary");
        assert_eq!(summary.operations["mount"], 1);
        assert_eq!(summary.operations["execveat"], 1);
        assert_eq!(summary.capabilities["CAP_SYS_ADMIN"], 2);
        assert_eq!(summary.capabilities["CAP_SETUID"], 1);
        assert_eq!(summary.denied["CAP_SYS_ADMIN"], 1);
        assert!(s.end(7).is_none());
    }

    #[test]
    fn the_runtimes_usual_refusals_and_late_handled_checks_are_folded() {
        let mut s = Setups::default();
        s.begin(7, 1_000);
        // runc's init, dropped to the container's user, on its own /proc/self/fd.
        let dac = Check {
            verdict: "denied",
            ..allowed("CAP_DAC_OVERRIDE")
        };
        assert!(s.check(7, 2_000, &dac, false));
        // The entrypoint runs at 5_000; a call made at 4_000 and handled after the exec (it
        // was held for its other checks) is still the set-up's, one made after it is not.
        s.exec(&Exec {
            boot_ns: 5_000,
            ..exec(7, "/bin/sleep", false)
        });
        assert!(!s.in_setup(7));
        assert!(s.folds(7, 4_000, "capset", false));
        assert!(s.operation(7, 4_000, "capset", std::slice::from_ref(&dac)));
        assert!(!s.check(7, 6_000, &dac, false));
        let summary = s.end(7).expect("its summary");
        assert_eq!(summary.denied["CAP_DAC_OVERRIDE"], 2);
        assert_eq!(summary.operations["capset"], 1);
    }

    #[test]
    fn what_a_runtime_does_not_do_is_written() {
        let mut s = Setups::default();
        s.begin(7, 0);
        // Operations runtimes do not make, and refusals that are no probes.
        assert!(!s.folds(7, 1, "bpf", false));
        assert!(!s.folds(7, 1, "init_module", false));
        assert!(!s.folds(7, 1, "mount", true));
        let refused = Check {
            verdict: "denied",
            ..allowed("CAP_NET_ADMIN")
        };
        assert!(!s.check(7, 1, &refused, false));
        // A set-up that never ends is written after its patience.
        assert!(!s.folds(7, SETUP_PATIENCE_NS, "mount", false));
        // And everything with runtime_setup_events.
        let mut s = Setups {
            write_all: true,
            ..Setups::default()
        };
        s.begin(7, 0);
        assert!(!s.folds(7, 1, "mount", false));
        assert!(!s.check(7, 1, &allowed("CAP_SETUID"), false));
    }
}
