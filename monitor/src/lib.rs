//! privmon: a runtime privilege monitor for container hosts.
//!
//! eBPF probes see capability checks, credential and namespace changes and sensitive
//! operations in container cgroups; the daemon decodes their records, attributes them to a
//! process, container and pod, judges them against rules and learned baselines, and
//! publishes JSON events, alerts and Prometheus metrics. The modules below are listed in
//! the order a record flows through them; each imports only modules listed before it or
//! beside it in its stage (`cargo xtask cycles` checks that no two import each other).

// What is watched: static tables.
pub mod capabilities;
pub mod operations;
pub mod syscalls;

// Configuration.
pub mod config;

// The kernel side, from user space: load, attach, BTF, counters.
pub mod btf;
pub mod loader;
pub mod tracefs;

// What arrives: ring-buffer bytes -> typed kernel records.
pub mod record;

// What privmon says: the event contract as types, and typed field access.
pub mod event;

// Who did it: cgroups, containers and pods, processes.
pub mod cgroup;
pub mod containers;
pub mod cri;
pub mod processes;
pub mod procfs;

// Judging: rules and the least-privilege advisor.
pub mod advisor;
pub mod rules;

// The output thread: build, attribute, judge, serialize once; the queues around it.
pub mod pipeline;
pub mod queue;
pub mod stats;

// Publishing: sinks and the live stream, metrics, the HTTP API.
pub mod http;
pub mod metrics;
pub mod sinks;

// The daemon's wiring, and the command-line clients of its API.
pub mod advise;
pub mod client;
pub mod daemon;
pub mod tail;
