//! The kernel side, from user space: loading and attaching the eBPF object, the BTF it is
//! fitted to, tracefs.

pub mod btf;
pub mod fanotify;
pub mod flush;
pub mod host_files;
pub mod loader;
pub mod sites;
pub mod tracefs;
pub mod unix_connect;
