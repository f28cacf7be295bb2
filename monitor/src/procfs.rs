//! Process details that the kernel record does not carry, read from /proc while the process
//! lives. A process that has exited leaves them null.

use crate::event::Process;

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
        };
        enrich(&mut p);
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
