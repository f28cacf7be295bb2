//! Process details that the kernel record does not carry, read from /proc while the process
//! lives. A process that has exited leaves them null.

use std::{path::Path, sync::Arc};

use crate::{
    catalog::capabilities::CapEffective,
    event::{Process, Shared},
};

/// The fields of `/proc/<pid>/status` privmon reads; what the file lacks (or garbles) is
/// `None` or empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    pub name: String,
    pub ppid: Option<u32>,
    /// Real, effective, saved and filesystem uids.
    pub uids: Vec<u32>,
    pub cap_effective: Option<u64>,
    pub cap_bounding: Option<u64>,
    pub no_new_privs: Option<bool>,
    /// The seccomp mode: 0 disabled, 1 strict, 2 filter.
    pub seccomp: Option<u32>,
    /// The pid in each pid namespace it is in, the host's first and its own last.
    pub nspid: Vec<u32>,
}

impl Status {
    /// Parses the text of a `status` file.
    pub fn parse(text: &str) -> Status {
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
        };
        let mask = |name: &str| field(name).and_then(|v| u64::from_str_radix(v, 16).ok());
        // A list of numbers, up to the first that is not one (positions keep their meaning).
        let numbers = |name: &str| -> Vec<u32> {
            field(name)
                .map(|v| v.split_whitespace().map_while(|u| u.parse().ok()).collect())
                .unwrap_or_default()
        };
        Status {
            name: field("Name:").unwrap_or_default().to_string(),
            ppid: field("PPid:").and_then(|v| v.parse().ok()),
            uids: numbers("Uid:"),
            cap_effective: mask("CapEff:"),
            cap_bounding: mask("CapBnd:"),
            no_new_privs: field("NoNewPrivs:").map(|v| v == "1"),
            seccomp: field("Seccomp:").and_then(|v| v.parse().ok()),
            nspid: numbers("NSpid:"),
        }
    }

    /// `<proc_root>/<pid>/status`, while the process lives.
    pub fn read(proc_root: &Path, pid: u32) -> Option<Status> {
        let text = std::fs::read_to_string(proc_root.join(pid.to_string()).join("status")).ok()?;
        Some(Status::parse(&text))
    }
}

fn status(pid: u32) -> Option<Status> {
    Status::read(Path::new("/proc"), pid)
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
        cap_effective: CapEffective::new(st.cap_effective.unwrap_or_default(), None),
        ancestors: Process::no_ancestors(),
        io_worker: crate::event::Flag(false),
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
            cap_effective: CapEffective::new(0, None),
            ancestors: Process::no_ancestors(),
            io_worker: crate::event::Flag(false),
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

    #[test]
    fn status_fields_parse_and_garbage_stays_unknown() {
        let text = "Name:\tsh\nPPid:\t7\nUid:\t0\t1000\t0\t0\nCapEff:\t00000000a80425fb\n\
                    CapBnd:\t000001ffffffffff\nNoNewPrivs:\t1\nSeccomp:\t2\nNSpid:\t4242\t1\n";
        let st = Status::parse(text);
        assert_eq!(st.name, "sh");
        assert_eq!(st.ppid, Some(7));
        assert_eq!(st.uids, [0, 1000, 0, 0]);
        assert_eq!(st.cap_effective, Some(0xa804_25fb));
        assert_eq!(st.cap_bounding, Some(0x1ff_ffff_ffff));
        assert_eq!(st.no_new_privs, Some(true));
        assert_eq!(st.seccomp, Some(2));
        assert_eq!(st.nspid, [4242, 1]);
        let garbled = Status::parse("PPid: x\nUid: 5 y 6\nCapEff: zz\nSeccomp:\n");
        assert_eq!(
            garbled,
            Status {
                uids: vec![5],
                ..Status::default()
            }
        );
    }
}
