//! privmon: a runtime privilege monitor for container hosts.
//!
//! The daemon loads eBPF probes on capability checks, decodes their records, and writes
//! them as JSON lines (see docs/events.md).

pub mod advise;
pub mod advisor;
pub mod btf;
pub mod capabilities;
pub mod cgroup;
pub mod client;
pub mod config;
pub mod containers;
pub mod cri;
pub mod event;
pub mod http;
pub mod loader;
pub mod metrics;
pub mod operations;
pub mod pipeline;
pub mod processes;
pub mod procfs;
pub mod queue;
pub mod rules;
pub mod sinks;
pub mod stats;
pub mod syscalls;
pub mod tail;
pub mod tracefs;
