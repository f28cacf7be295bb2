//! privmon: a runtime privilege monitor for container hosts.
//!
//! eBPF probes see capability checks, credential and namespace changes and sensitive
//! operations in container cgroups; the daemon decodes their records, attributes them to a
//! process, container and pod, judges them against rules and learned baselines, and
//! publishes JSON events, alerts and Prometheus metrics. The modules below are listed in
//! the order a record flows through them; each imports only modules listed before it or
//! beside it in its stage (`cargo xtask cycles` checks that no two import each other).

/// A hash map on the per-event path: foldhash (randomly seeded) instead of SipHash, which
/// cost about 7% of the output thread on short keys (pids, cgroup ids, names).
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

// What is watched: static tables (capabilities, operations, syscalls).
pub mod catalog;
// A stable digest of bytes (ids, file integrity).
pub mod digest;

// Configuration, the bounded batch queues between the daemon's threads, and what each
// stage exports to the metrics.
pub mod config;
pub mod queue;
pub mod scrape;

// The kernel side, from user space: load, attach, BTF, tracefs.
pub mod kernel;

// What arrives and what privmon says: ring-buffer bytes -> typed kernel records, and the
// event contract as types with typed field access.
pub mod event;

// Who did it: cgroups, containers and pods (runtime files, CRI), processes, /proc.
pub mod resolve;

// Judging: rules and the least-privilege advisor.
pub mod advisor;
pub mod rules;

// The output thread: build, attribute, judge, serialize once; the queues and counters
// around it.
pub mod pipeline;

// Publishing: sinks and the live stream, metrics, the HTTP API.
pub mod outputs;

// The daemon's wiring, and the command-line clients of its API.
pub mod cli;
pub mod daemon;
