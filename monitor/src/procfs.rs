//! Process details that the kernel record does not carry, read from /proc while the process
//! lives. A process that has exited leaves them null.

use crate::{capabilities::Capability, event::Process};

/// A process described from `/proc/<pid>` alone (no kernel record), if it exists.
pub fn process(pid: u32) -> Option<Process> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
    };
    // "Uid:\treal\teffective\tsaved\tfs"
    let uids: Vec<u32> = field("Uid:")
        .map(|v| {
            v.split_whitespace()
                .filter_map(|u| u.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let cap_effective = field("CapEff:")
        .and_then(|v| u64::from_str_radix(v, 16).ok())
        .map(|m| Capability::from_mask(m).map(Capability::name).collect())
        .unwrap_or_default();
    let mut p = Process {
        pid,
        tid: pid,
        ppid: None,
        comm: field("Name:").unwrap_or_default().to_string(),
        exe: None,
        uid: uids.first().copied(),
        euid: uids.get(1).copied(),
        args: None,
        cap_effective,
        ancestors: Vec::new(),
    };
    enrich(&mut p);
    Some(p)
}

/// Name, parent and executable of a process, from `/proc/<pid>` (for ancestry).
pub fn brief(pid: u32) -> Option<(String, u32, Option<String>)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
    };
    let comm = field("Name:")?.to_string();
    let ppid = field("PPid:")?.parse().ok()?;
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .map(|e| e.to_string_lossy().into_owned());
    Some((comm, ppid, exe))
}

/// Fills `ppid`, `exe` and `args` from `/proc/<pid>`.
pub fn enrich(p: &mut Process) {
    let base = format!("/proc/{}", p.pid);
    if let Ok(status) = std::fs::read_to_string(format!("{base}/status")) {
        p.ppid = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .and_then(|v| v.trim().parse().ok());
    }
    p.exe = std::fs::read_link(format!("{base}/exe"))
        .ok()
        .map(|e| e.to_string_lossy().into_owned());
    if let Ok(raw) = std::fs::read(format!("{base}/cmdline")) {
        let args: Vec<String> = raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if !args.is_empty() {
            p.args = Some(args);
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
            cap_effective: vec![],
            ancestors: vec![],
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
            p.exe,
            std::env::current_exe()
                .ok()
                .map(|e| e.to_string_lossy().into_owned())
        );
        assert!(p.args.is_some());
    }
}
