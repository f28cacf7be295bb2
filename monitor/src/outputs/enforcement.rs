//! Enforcement as the API shows and switches it (`GET /enforcement`, `POST
//! /enforcement/pause` and `/resume`); the output thread's enforcer publishes here and
//! follows the switch.

use std::sync::{
    Mutex,
    atomic::{AtomicBool, Ordering::Relaxed},
};

use serde::Serialize;

use crate::config::Config;

/// Enforcement's run-time switch and state, shared with the HTTP API.
#[derive(Default)]
pub struct Control {
    /// `POST /enforcement/pause`: disarm everything until resumed.
    paused: AtomicBool,
    /// `POST /enforcement/resume` also lifts the kill-loop guard's suspensions.
    lift_suspensions: AtomicBool,
    /// A configuration reread on SIGHUP, for the enforcer to take its enforcement keys.
    reloaded: Mutex<Option<Config>>,
    status: Mutex<Status>,
}

/// What `GET /enforcement` shows.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Status {
    /// The configuration's switch: `off`, `dry_run`, `on`.
    pub switch: &'static str,
    pub paused: bool,
    /// What this kernel can do.
    pub kill: bool,
    pub deny_capability: bool,
    pub deny_sysctl: bool,
    /// Armed containers.
    pub armed: Vec<ArmedStatus>,
    /// Workloads the kill-loop guard stopped acting on.
    pub suspended: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ArmedStatus {
    pub cgroup_id: u64,
    pub container: Option<String>,
    pub workload: Option<String>,
    pub mode: &'static str,
    pub dry_run: bool,
    pub kill: Vec<&'static str>,
    pub deny: Vec<&'static str>,
    pub deny_sysctl_writes: bool,
}

impl Control {
    pub fn pause(&self, paused: bool) {
        self.paused.store(paused, Relaxed);
        if !paused {
            self.lift_suspensions.store(true, Relaxed);
        }
    }

    pub fn status(&self) -> Status {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The switch, and whether suspensions are to be lifted (once).
    pub fn take(&self) -> (bool, bool) {
        (
            self.paused.load(Relaxed),
            self.lift_suspensions.swap(false, Relaxed),
        )
    }

    /// Hands over a configuration reread on SIGHUP (its enforcement keys apply).
    pub fn reload(&self, config: Config) {
        *self.reloaded.lock().unwrap_or_else(|e| e.into_inner()) = Some(config);
    }

    /// The configuration reread since the last call, if any.
    pub fn take_reloaded(&self) -> Option<Config> {
        self.reloaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    pub fn publish(&self, status: Status) {
        *self.status.lock().unwrap_or_else(|e| e.into_inner()) = status;
    }
}
