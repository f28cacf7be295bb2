//! Fuzzes the readers of /proc files: any text as `/proc/<pid>/status` or
//! `/proc/<pid>/cgroup` gives fields or none, never a panic; a cgroup path that comes out
//! is looked at for a container id.
#![no_main]

use libfuzzer_sys::fuzz_target;

use privmon::resolve::{cgroup, containers::cgroup_path, procfs::Status};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let status = Status::parse(&text);
    assert!(status.uids.len() <= text.len());
    if let Some(path) = cgroup::v2_line(&text) {
        let _ = cgroup_path::parse(path);
    }
});
