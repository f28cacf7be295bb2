//! Process details that the kernel record does not carry, read from /proc while the process
//! lives. A process that has exited leaves them null.

use std::sync::Arc;

use crate::{
    capabilities::CapSet,
    event::{Process, Shared},
};

/// The fields of `/proc/<pid>/status` privmon reads.
struct Status {
    name: String,
    ppid: Option<u32>,
    /// Real, effective, saved and filesystem uids.
    uids: Vec<u32>,
    cap_effective: Option<u64>,
}

fn status(pid: u32) -> Option<Status> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
    };
    Some(Status {
        name: field("Name:").unwrap_or_default().to_string(),
        ppid: field("PPid:").and_then(|v| v.parse().ok()),
        uids: field("Uid:")
            .map(|v| {
                v.split_whitespace()
                    .filter_map(|u| u.parse().ok())
                    .collect()
            })
            .unwrap_or_default(),
        cap_effective: field("CapEff:").and_then(|v| u64::from_str_radix(v, 16).ok()),
    })
}

fn exe(pid: u32) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .map(|e| e.to_string_lossy().into_owned())
}

/// A process described from `/proc/<pid>` alone (no kernel record), if it exists.
pub fn process(pid: u32) -> Option<Process> {
    let st = status(pid)?;
    let mut p = Process {
        pid,
        tid: pid,
        ppid: None,
        comm: st.name,
        exe: None,
        uid: st.uids.first().copied(),
        euid: st.uids.get(1).copied(),
        args: None,
        cap_effective: CapSet(st.cap_effective.unwrap_or_default()),
        ancestors: Process::no_ancestors(),
    };
    enrich(&mut p);
    Some(p)
}

/// Name, parent and executable of a process, from `/proc/<pid>` (for ancestry).
pub fn brief(pid: u32) -> Option<(String, u32, Option<String>)> {
    let st = status(pid)?;
    Some((st.name, st.ppid?, exe(pid)))
}

/// Fills `ppid`, `exe` and `args` from `/proc/<pid>`.
pub fn enrich(p: &mut Process) {
    p.ppid = status(p.pid).and_then(|st| st.ppid);
    p.exe = exe(p.pid).map(Arc::from);
    if let Ok(raw) = std::fs::read(format!("/proc/{}/cmdline", p.pid)) {
        let args: Vec<String> = raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if !args.is_empty() {
            p.args = Some(Shared::new(args));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        let mut p = Process {
            pid: std::process::id(),
            tid: std::process::id(),
            ppid: None,
            comm: String::new(),
            exe: None,
            uid: None,
            euid: None,
            args: None,
            cap_effective: CapSet(0),
            ancestors: Process::no_ancestors(),
        };
        enrich(&mut p);
        let whole = process(std::process::id()).unwrap();
        assert_eq!(whole.exe, p.exe);
        assert_eq!(whole.ppid, p.ppid);
        // SAFETY: geteuid has no preconditions.
        assert_eq!(whole.euid, Some(unsafe { libc::geteuid() }));
        // SAFETY: getppid has no preconditions.
        assert_eq!(p.ppid, Some(unsafe { libc::getppid() } as u32));
        assert_eq!(
            p.exe.as_deref().map(str::to_string),
            std::env::current_exe()
                .ok()
                .map(|e| e.to_string_lossy().into_owned())
        );
        assert!(p.args.is_some());
    }
}
