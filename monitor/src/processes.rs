//! The process table: what exec records said about each live process (file, arguments,
//! parent), so that an event carries them even when the process is gone by the time the
//! event is written, plus a short ancestry chain.

use std::collections::HashMap;

use crate::{
    event::{Ancestor, Exec, Process},
    procfs,
};

/// Most ancestors reported per event.
pub const MAX_ANCESTORS: usize = 4;
/// Most processes remembered; beyond it the table starts over (and /proc fills in).
const MAX_PROCESSES: usize = 65_536;

struct Entry {
    ppid: u32,
    comm: String,
    exe: Option<String>,
    args: Vec<String>,
    uid: Option<u32>,
    euid: Option<u32>,
}

/// User ids before and after an exec that changed them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CredentialChange {
    /// (uid, euid) before: the process's own from its previous exec, else its parent's
    /// (a forked child has its parent's); `None` when neither is known.
    pub old: Option<(Option<u32>, Option<u32>)>,
    pub new: (Option<u32>, Option<u32>),
}

/// Live processes by pid, from exec and exit records (which arrive in order with the
/// events, so a reused pid is never labelled with its previous owner's details).
#[derive(Default)]
pub struct ProcessTable {
    procs: HashMap<u32, Entry>,
}

impl ProcessTable {
    /// Records an exec; returns how it changed the user ids, if it did: the effective uid
    /// differs from the one before, or from the real uid (a set-user-id file).
    pub fn exec(&mut self, e: &Exec) -> Option<CredentialChange> {
        let before = self
            .procs
            .get(&e.pid)
            .or_else(|| self.procs.get(&e.ppid))
            .map(|p| (p.uid, p.euid));
        let new = (e.uid, e.euid);
        let changed = match before {
            Some((_, old_euid)) => old_euid.is_some() && e.euid.is_some() && old_euid != e.euid,
            None => false,
        } || (e.uid.is_some() && e.euid.is_some() && e.uid != e.euid);
        if self.procs.len() >= MAX_PROCESSES {
            self.procs.clear();
        }
        self.procs.insert(
            e.pid,
            Entry {
                ppid: e.ppid,
                comm: e.comm.clone(),
                exe: e.filename.clone(),
                args: e.args.clone(),
                uid: e.uid,
                euid: e.euid,
            },
        );
        changed.then_some(CredentialChange { old: before, new })
    }

    pub fn exit(&mut self, pid: u32) {
        self.procs.remove(&pid);
    }

    /// Fills `ppid`, `exe`, `args` and `ancestors`: from the table when it knows the process
    /// under the same name, else from /proc.
    pub fn enrich(&self, p: &mut Process) {
        match self.procs.get(&p.pid).filter(|e| e.comm == p.comm) {
            Some(e) => {
                p.ppid = Some(e.ppid);
                p.exe = e.exe.clone();
                p.args = (!e.args.is_empty()).then(|| e.args.clone());
            }
            None => procfs::enrich(p),
        }
        p.ancestors = self.ancestors(p.ppid);
    }

    fn ancestors(&self, mut next: Option<u32>) -> Vec<Ancestor> {
        let mut out = Vec::new();
        while let Some(pid) = next.filter(|pid| *pid > 0) {
            if out.len() >= MAX_ANCESTORS {
                break;
            }
            let (comm, ppid, exe) = match self.procs.get(&pid) {
                Some(e) => (e.comm.clone(), e.ppid, e.exe.clone()),
                None => match procfs::brief(pid) {
                    Some(b) => b,
                    None => break,
                },
            };
            out.push(Ancestor { pid, comm, exe });
            next = (pid != 1).then_some(ppid);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(pid: u32, ppid: u32, comm: &str) -> Exec {
        Exec {
            pid,
            ppid,
            uid: Some(0),
            euid: Some(0),
            cgroup_id: 1,
            boot_ns: 0,
            comm: comm.to_string(),
            filename: Some(format!("/bin/{comm}")),
            args: vec![format!("/bin/{comm}"), "-x".to_string()],
            args_truncated: false,
            memfd: false,
        }
    }

    #[test]
    fn an_exec_that_changes_the_effective_uid_is_a_credential_change() {
        let mut t = ProcessTable::default();
        assert_eq!(t.exec(&exec(A, 0, "sh")), None);
        let mut user = exec(B, A, "sh");
        (user.uid, user.euid) = (Some(1000), Some(1000));
        // uid 0 -> 1000 through exec would be a change, but the parent is A (root) and B
        // was forked from it: the ids before are A's.
        assert_eq!(
            t.exec(&user),
            Some(CredentialChange {
                old: Some((Some(0), Some(0))),
                new: (Some(1000), Some(1000))
            })
        );
        // B runs a set-user-id-root file.
        let mut suid = exec(B, A, "passwd");
        (suid.uid, suid.euid) = (Some(1000), Some(0));
        assert_eq!(
            t.exec(&suid),
            Some(CredentialChange {
                old: Some((Some(1000), Some(1000))),
                new: (Some(1000), Some(0))
            })
        );
        // An unknown process running a setuid file is still seen (ids before unknown).
        let mut stranger = exec(C + 100, C + 99, "su");
        (stranger.uid, stranger.euid) = (Some(1000), Some(0));
        assert_eq!(t.exec(&stranger).map(|c| c.old), Some(None));
    }

    fn process(pid: u32, comm: &str) -> Process {
        Process {
            pid,
            tid: pid,
            ppid: None,
            comm: comm.to_string(),
            exe: None,
            uid: None,
            euid: None,
            args: None,
            cap_effective: vec![],
            ancestors: vec![],
        }
    }

    // Pids far above any real pid_max, so /proc never answers for them.
    const A: u32 = 4_000_000_001;
    const B: u32 = 4_000_000_002;
    const C: u32 = 4_000_000_003;

    #[test]
    fn events_carry_exec_details_and_ancestry_after_the_process_is_gone() {
        let mut t = ProcessTable::default();
        t.exec(&exec(A, 0, "containerd-shim"));
        t.exec(&exec(B, A, "sh"));
        t.exec(&exec(C, B, "trigger"));
        let mut p = process(C, "trigger");
        t.enrich(&mut p);
        assert_eq!(p.ppid, Some(B));
        assert_eq!(p.exe.as_deref(), Some("/bin/trigger"));
        assert_eq!(
            p.args,
            Some(vec!["/bin/trigger".to_string(), "-x".to_string()])
        );
        let chain: Vec<_> = p
            .ancestors
            .iter()
            .map(|a| (a.pid, a.comm.as_str()))
            .collect();
        assert_eq!(chain, [(B, "sh"), (A, "containerd-shim")]);
    }

    #[test]
    fn a_reused_pid_is_not_labelled_with_the_previous_owner() {
        let mut t = ProcessTable::default();
        t.exec(&exec(C, B, "trigger"));
        t.exit(C);
        let mut p = process(C, "other");
        t.enrich(&mut p);
        assert_eq!(p.exe, None);
        assert_eq!(p.args, None);
        // Same pid and a different name without an exit in between: not trusted either.
        t.exec(&exec(C, B, "trigger"));
        let mut p = process(C, "renamed");
        t.enrich(&mut p);
        assert_eq!(p.exe, None);
    }

    #[test]
    fn ancestry_is_bounded() {
        let mut t = ProcessTable::default();
        let base = 4_000_000_100;
        for i in 0..10 {
            t.exec(&exec(base + i + 1, base + i, "p"));
        }
        let mut p = process(base + 10, "p");
        t.enrich(&mut p);
        assert_eq!(p.ancestors.len(), MAX_ANCESTORS);
    }
}
