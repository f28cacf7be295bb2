#![no_std]
// This file exists to enable the library target (cargo needs it for the build-dependency
// that makes monitor/build.rs rerun when the eBPF crate changes).
