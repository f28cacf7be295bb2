//! The process table: what exec records said about each live process (file, arguments,
//! parent), so that an event carries them even when the process is gone by the time the
//! event is written, plus a short ancestry chain. A process's arguments and ancestry are
//! made (and serialized) once, and shared by its events.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use crate::{
    event::{Ancestor, Exec, Process, Shared},
    resolve::procfs,
};

/// Most ancestors reported per event.
pub const MAX_ANCESTORS: usize = 4;
/// Most processes remembered; beyond it the table starts over (and /proc fills in).
const MAX_PROCESSES: usize = 65_536;

struct Entry {
    /// `None` for a process /proc no longer had when the table first saw it (its events
    /// came after it exited): nothing more is known, and it is no one's ancestor.
    ppid: Option<u32>,
    comm: String,
    exe: Option<Arc<str>>,
    args: Option<Shared<Vec<String>>>,
    /// As its exec left them; `None` for a process known from /proc only.
    creds: Option<Creds>,
    /// Its ancestry, made at the table's generation it names.
    ancestry: Option<(u64, Shared<Vec<Ancestor>>)>,
    /// Its cgroup v2 id as its exec (or its parent's, for a forked child) saw it.
    cgroup_id: Option<u64>,
    /// Its ancestry cut at its container's edge, as [`Processes::within_container`] last
    /// made it.
    bounded: Option<Bounded>,
}

/// An ancestry cut at the edge of a container, and what it was made from (an ancestry
/// made again is a new one: the pointer tells).
#[derive(Clone, Debug)]
struct Bounded {
    cgroup_id: u64,
    from: Shared<Vec<Ancestor>>,
    to: Shared<Vec<Ancestor>>,
}

/// A process's credentials as an exec left them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Creds {
    pub uid: Option<u32>,
    pub euid: Option<u32>,
    pub gid: Option<u32>,
    pub egid: Option<u32>,
    pub cap_permitted: u64,
    pub cap_effective: u64,
}

impl Creds {
    pub fn of(e: &Exec) -> Creds {
        Creds {
            uid: e.uid,
            euid: e.euid,
            gid: e.gid,
            egid: e.egid,
            cap_permitted: e.cap_permitted,
            cap_effective: e.cap_effective,
        }
    }
}

/// Credentials before and after an exec that changed them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CredentialChange {
    /// Before: the process's own from its previous exec, else its parent's (a forked child
    /// has its parent's); `None` when neither is known.
    pub old: Option<Creds>,
    pub new: Creds,
}

/// Live processes by pid, from exec and exit records (which arrive in order with the
/// events, so a reused pid is never labelled with its previous owner's details).
#[derive(Default)]
pub struct ProcessTable {
    procs: crate::FastMap<u32, Entry>,
    /// Changes when a process the table knows execs or exits: an ancestry made before is
    /// made again.
    generation: u64,
    /// Ancestors the table does not know (host processes, whose execs and exits the kernel
    /// does not report), as /proc described them lately.
    briefs: crate::FastMap<u32, (Instant, Option<Brief>)>,
    /// The last processes that exited, newest last: what the daemon learns after a
    /// process's exit record (a fanotify event read late) still names it.
    exited: std::collections::VecDeque<(u32, Entry)>,
}

/// Exited processes remembered.
const MAX_EXITED: usize = 256;

/// Name, parent and executable of a process, from /proc; and its cgroup v2 path, read the
/// first time it is asked for.
#[derive(Clone, Debug)]
struct Brief {
    comm: String,
    ppid: u32,
    exe: Option<Arc<str>>,
    cgroup: Option<Option<String>>,
}

/// How long /proc's description of an ancestor the table does not know is reused.
const BRIEF_TTL: Duration = Duration::from_secs(1);
/// Most such descriptions kept.
const MAX_BRIEFS: usize = 4096;

impl ProcessTable {
    /// Records an exec; returns how it changed the credentials, if it raised them or
    /// changed an effective id: the effective uid or gid differs from the one before, or
    /// from the real one (a set-user-id or set-group-id file), or the permitted capability
    /// set gained capabilities (a file with capabilities, or root's exec after it dropped
    /// some). Capabilities lost at exec (a non-root user's) are no event.
    pub fn exec(&mut self, e: &Exec) -> Option<CredentialChange> {
        let before = self
            .procs
            .get(&e.pid)
            .and_then(|p| p.creds)
            .or_else(|| self.procs.get(&e.ppid).and_then(|p| p.creds));
        let new = Creds::of(e);
        let differs = |a: Option<u32>, b: Option<u32>| a.is_some() && b.is_some() && a != b;
        let changed = before.is_some_and(|old| {
            differs(old.euid, new.euid)
                || differs(old.egid, new.egid)
                || new.cap_permitted & !old.cap_permitted != 0
        }) || differs(new.uid, new.euid)
            || differs(new.gid, new.egid);
        // A program executing itself again through /proc/self/exe (busybox's shell running
        // an applet, runc its init) runs what it ran before.
        let exe = match e.filename.as_deref() {
            Some("/proc/self/exe") => self
                .procs
                .get(&e.pid)
                .and_then(|p| p.exe.clone())
                .or_else(|| Some(Arc::from("/proc/self/exe"))),
            f => f.map(Arc::from),
        };
        self.insert(
            e.pid,
            Entry {
                ppid: Some(e.ppid),
                comm: e.comm.clone(),
                exe,
                args: (!e.args.is_empty()).then(|| Shared::new(e.args.clone())),
                creds: Some(new),
                ancestry: None,
                bounded: None,
                cgroup_id: Some(e.cgroup_id),
            },
        );
        changed.then_some(CredentialChange { old: before, new })
    }

    fn insert(&mut self, pid: u32, entry: Entry) {
        if self.procs.len() >= MAX_PROCESSES {
            self.procs.clear();
        }
        // A pid new to the table was described by /proc in any ancestry made before.
        if self.procs.insert(pid, entry).is_some() {
            self.generation += 1;
        }
    }

    /// A forked process: it runs its parent's program (the same executable, arguments and
    /// credentials) until it execs, so it is known as its parent is, with `ppid` as its
    /// parent. A parent the table does not know is read from /proc first (while it most
    /// likely still runs; the child may be gone before its first event is handled).
    pub fn fork(&mut self, pid: u32, ppid: u32) {
        if !self.procs.contains_key(&ppid) {
            let Some(mut parent) = procfs::process(ppid) else {
                return;
            };
            procfs::enrich(&mut parent);
            self.detached_exe(&mut parent);
            self.insert(
                ppid,
                Entry {
                    ppid: parent.ppid,
                    comm: parent.comm,
                    exe: parent.exe,
                    args: parent.args,
                    creds: None,
                    ancestry: None,
                    bounded: None,
                    cgroup_id: None,
                },
            );
        }
        let Some(parent) = self.procs.get(&ppid) else {
            return;
        };
        let child = Entry {
            ppid: Some(ppid),
            comm: parent.comm.clone(),
            exe: parent.exe.clone(),
            args: parent.args.clone(),
            creds: parent.creds,
            ancestry: None,
            bounded: None,
            cgroup_id: parent.cgroup_id,
        };
        self.insert(pid, child);
    }

    /// A process's credentials as its exec (or its parent's, for a forked child) left
    /// them; `None` when the table did not see one.
    pub fn creds(&self, pid: u32) -> Option<Creds> {
        self.procs
            .get(&pid)
            .or_else(|| self.exited(pid))
            .and_then(|e| e.creds)
    }

    /// A process's cgroup v2 id as its exec (or its parent's) saw it.
    pub fn cgroup(&self, pid: u32) -> Option<u64> {
        self.procs
            .get(&pid)
            .or_else(|| self.exited(pid))
            .and_then(|e| e.cgroup_id)
    }

    /// The one process the table saw start in cgroup `cgroup_id` (its exec or fork
    /// record named the cgroup), with its comm, if it saw exactly one: the writer of a
    /// record that names only its cgroup (`cgroup/sysctl` before Linux 6.1, whose programs
    /// cannot read the current task) once the cgroup is empty. Processes known from /proc
    /// only have no cgroup here: the caller asks the cgroup first.
    pub fn sole_process_in(&self, cgroup_id: u64) -> Option<(u32, String)> {
        let mut found = None;
        for (pid, e) in self.procs.iter() {
            if e.cgroup_id == Some(cgroup_id) {
                if found.is_some() {
                    return None;
                }
                found = Some((*pid, e.comm.clone()));
            }
        }
        found
    }

    /// A process's name: the table's, else /proc's (empty when neither knows it).
    pub fn comm(&self, pid: u32) -> String {
        match self.procs.get(&pid).or_else(|| self.exited(pid)) {
            Some(e) => e.comm.clone(),
            None => std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .map(|c| c.trim_end_matches('\n').to_string())
                .unwrap_or_default(),
        }
    }

    /// Processes in the table.
    pub fn len(&self) -> usize {
        self.procs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    pub fn exit(&mut self, pid: u32) {
        if let Some(e) = self.procs.remove(&pid) {
            self.generation += 1;
            if self.exited.len() >= MAX_EXITED {
                self.exited.pop_front();
            }
            self.exited.push_back((pid, e));
        }
    }

    /// A process that exited lately, by pid (the newest of that pid).
    fn exited(&self, pid: u32) -> Option<&Entry> {
        self.exited
            .iter()
            .rev()
            .find(|(p, _)| *p == pid)
            .map(|(_, e)| e)
    }

    /// Fills what /proc could not say of a process that exited before its record (one the
    /// daemon reads apart from the ring, fanotify's) was handled: as it was when it exited.
    pub fn enrich_exited(&self, p: &mut Process) {
        let Some(e) = self.exited(p.pid).filter(|_| p.exe.is_none()) else {
            return;
        };
        p.ppid = p.ppid.or(e.ppid);
        p.exe.clone_from(&e.exe);
        if p.args.is_none() {
            p.args.clone_from(&e.args);
        }
        if p.comm.is_empty() {
            p.comm.clone_from(&e.comm);
        }
    }

    /// Fills `ppid`, `exe`, `args` and `ancestors`: from the table when it knows the process
    /// under the same name, else from /proc (a process the table has not seen is read once
    /// and remembered until it exits).
    pub fn enrich(&mut self, p: &mut Process) {
        let known = match self.procs.get(&p.pid) {
            Some(e) => e.comm == p.comm,
            None => {
                procfs::enrich(p);
                self.detached_exe(p);
                // Its details stay the same until it execs or exits (records that come
                // after this one); a process already gone stays unknown until then.
                self.insert(
                    p.pid,
                    Entry {
                        ppid: p.ppid,
                        comm: p.comm.clone(),
                        exe: p.exe.clone(),
                        args: p.args.clone(),
                        creds: None,
                        ancestry: None,
                        bounded: None,
                        cgroup_id: None,
                    },
                );
                true
            }
        };
        if !known {
            // A name the table does not know for this pid: a thread named apart from its
            // leader, or a process that renamed itself after its fork (busybox's applets,
            // run in a forked shell without exec, take the applet's name). /proc says while
            // the process lives; once it is gone the table's entry (its fork and exec,
            // which came in order before this record) still does.
            procfs::enrich(p);
            self.detached_exe(p);
            // (An exiting process still has a status, no longer an exe.)
            if p.exe.is_none()
                && let Some(e) = self.procs.get_mut(&p.pid)
            {
                p.ppid = p.ppid.or(e.ppid);
                p.exe.clone_from(&e.exe);
                if p.comm.is_empty() {
                    p.comm.clone_from(&e.comm);
                }
                if p.args.is_none() {
                    p.args.clone_from(&e.args);
                }
                if p.tid == p.pid {
                    // The process itself was renamed: its children's ancestry says so.
                    e.comm.clone_from(&p.comm);
                    e.ancestry = None;
                    self.generation += 1;
                }
            }
            p.ancestors = Shared::new(self.ancestors(p.ppid));
            return;
        }
        let generation = self.generation;
        let fresh = match self.procs.get(&p.pid) {
            Some(e) => {
                p.ppid = e.ppid;
                p.exe.clone_from(&e.exe);
                p.args.clone_from(&e.args);
                e.ancestry
                    .as_ref()
                    .filter(|(g, _)| *g == generation)
                    .map(|(_, a)| a.clone())
            }
            None => None,
        };
        p.ancestors = match fresh {
            Some(a) => a,
            None => {
                let a = Shared::new(self.ancestors(p.ppid));
                if let Some(e) = self.procs.get_mut(&p.pid) {
                    e.ancestry = Some((generation, a.clone()));
                }
                a
            }
        };
    }

    /// Cuts the ancestry of a process in a container where it leaves the container's
    /// cgroup: the runtime above the container's init (containerd-shim, conmon, runc, or
    /// the host's init that adopted an orphaned init) is no ancestor a responder follows,
    /// and `ppid` names the parent either way. An ancestor's cgroup is the one its exec
    /// (or its parent's, for a forked child) saw, else /proc's (read with the rest of /proc's
    /// description, and reused as long); the cut is made once per process and ancestry.
    pub fn within_container(&mut self, p: &mut Process, cgroup_id: u64, cgroup_path: &str) {
        if p.ancestors.is_empty() {
            return;
        }
        if let Some(b) = self.procs.get(&p.pid).and_then(|e| e.bounded.as_ref())
            && b.cgroup_id == cgroup_id
            && Shared::ptr_eq(&b.from, &p.ancestors)
        {
            p.ancestors = b.to.clone();
            return;
        }
        let mut keep = 0;
        for a in p.ancestors.iter() {
            let inside = match self.procs.get(&a.pid).and_then(|e| e.cgroup_id) {
                Some(id) => id == cgroup_id,
                None => self.brief_cgroup(a.pid).as_deref() == Some(cgroup_path),
            };
            if !inside {
                break;
            }
            keep += 1;
        }
        let to = if keep == p.ancestors.len() {
            p.ancestors.clone()
        } else {
            Shared::new(p.ancestors[..keep].to_vec())
        };
        if let Some(e) = self.procs.get_mut(&p.pid) {
            e.bounded = Some(Bounded {
                cgroup_id,
                from: p.ancestors.clone(),
                to: to.clone(),
            });
        }
        p.ancestors = to;
    }

    /// A program run from a file no path reaches any more reads `/` in `/proc/<pid>/exe`
    /// (runc runs its init from a copy of itself on a detached mount; its exec, made
    /// before it joined the container's cgroup, was not recorded). `/` is no program: a
    /// process whose first argument names its parent's program is that program run again
    /// (the parent's path), else its program is unknown.
    fn detached_exe(&mut self, p: &mut Process) {
        if p.exe.as_deref() != Some("/") {
            return;
        }
        let base = |path: &str| path.rsplit('/').next().unwrap_or_default().to_string();
        let arg0 = p.args.as_ref().and_then(|a| a.first()).map(|a| base(a));
        let parent = self
            .ancestors(p.ppid)
            .into_iter()
            .next()
            .and_then(|a| a.exe);
        p.exe = parent.filter(|exe| arg0.is_some_and(|a| !a.is_empty() && a == base(exe)));
    }

    fn ancestors(&mut self, mut next: Option<u32>) -> Vec<Ancestor> {
        let mut out = Vec::new();
        while let Some(pid) = next.filter(|pid| *pid > 0) {
            if out.len() >= MAX_ANCESTORS {
                break;
            }
            let (comm, ppid, exe) = match self.procs.get(&pid) {
                Some(Entry {
                    ppid: Some(ppid),
                    comm,
                    exe,
                    ..
                }) => (comm.clone(), *ppid, exe.clone()),
                // Gone before the table knew it.
                Some(_) => break,
                None => match self.brief(pid) {
                    Some(b) => (b.comm, b.ppid, b.exe),
                    None => break,
                },
            };
            out.push(Ancestor { pid, comm, exe });
            next = (pid != 1).then_some(ppid);
        }
        out
    }

    /// /proc's description of a process the table does not know, read at most once a
    /// [`BRIEF_TTL`].
    /// The cgroup v2 path of a process the table knows no cgroup of, from /proc: kept with
    /// its [`Brief`] (and as long).
    fn brief_cgroup(&mut self, pid: u32) -> Option<String> {
        let b = self.brief(pid)?;
        if let Some(known) = b.cgroup {
            return known;
        }
        let cgroup = crate::resolve::cgroup::proc_cgroup(std::path::Path::new("/proc"), pid);
        if let Some((_, Some(b))) = self.briefs.get_mut(&pid) {
            b.cgroup = Some(cgroup.clone());
        }
        cgroup
    }

    fn brief(&mut self, pid: u32) -> Option<Brief> {
        if let Some((at, b)) = self.briefs.get(&pid)
            && at.elapsed() < BRIEF_TTL
        {
            return b.clone();
        }
        let b = procfs::brief(pid).map(|(comm, ppid, exe)| Brief {
            comm,
            ppid,
            exe: exe.map(Arc::from),
            cgroup: None,
        });
        if self.briefs.len() >= MAX_BRIEFS {
            self.briefs.clear();
        }
        self.briefs.insert(pid, (Instant::now(), b.clone()));
        b
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
            gid: Some(0),
            egid: Some(0),
            cap_permitted: ROOT_CAPS,
            cap_effective: ROOT_CAPS,
            cgroup_id: 1,
            boot_ns: 0,
            comm: comm.to_string(),
            filename: Some(format!("/bin/{comm}")),
            args: vec![format!("/bin/{comm}"), "-x".to_string()],
            args_truncated: false,
            memfd: false,
        }
    }

    fn exec_of(pid: u32, ppid: u32, comm: &str, filename: &str) -> Exec {
        Exec {
            filename: Some(filename.to_string()),
            ..exec(pid, ppid, comm)
        }
    }

    /// The capability sets of root in a container with the default runc set (14 caps).
    const ROOT_CAPS: u64 = 0xa804_25fb;
    const NET_RAW: u64 = 1 << 13;

    fn user(mut e: Exec, uid: u32, euid: u32) -> Exec {
        (e.uid, e.euid, e.gid, e.egid) = (Some(uid), Some(euid), Some(uid), Some(uid));
        if euid != 0 {
            (e.cap_permitted, e.cap_effective) = (0, 0);
        }
        e
    }

    #[test]
    fn an_exec_that_changes_the_effective_uid_is_a_credential_change() {
        let mut t = ProcessTable::default();
        assert_eq!(t.exec(&exec(A, 0, "sh")), None);
        // uid 0 -> 1000 through exec would be a change, but the parent is A (root) and B
        // was forked from it: the ids before are A's.
        let change = t.exec(&user(exec(B, A, "sh"), 1000, 1000)).unwrap();
        assert_eq!(change.old.map(|c| c.euid), Some(Some(0)));
        assert_eq!(change.new.euid, Some(1000));
        // B runs a set-user-id-root file.
        let change = t.exec(&user(exec(B, A, "passwd"), 1000, 0)).unwrap();
        assert_eq!(
            change.old.map(|c| (c.uid, c.euid)),
            Some((Some(1000), Some(1000)))
        );
        assert_eq!((change.new.uid, change.new.euid), (Some(1000), Some(0)));
        // An unknown process running a setuid file is still seen (ids before unknown).
        let stranger = user(exec(C + 100, C + 99, "su"), 1000, 0);
        assert_eq!(t.exec(&stranger).map(|c| c.old), Some(None));
    }

    #[test]
    fn set_group_id_files_and_file_capabilities_are_credential_changes() {
        let mut t = ProcessTable::default();
        t.exec(&user(exec(A, 0, "sh"), 1000, 1000));
        // A set-group-id file: egid 42, gid still 1000.
        let mut sgid = user(exec(B, A, "wall"), 1000, 1000);
        sgid.egid = Some(42);
        let change = t.exec(&sgid).unwrap();
        assert_eq!(change.old.and_then(|c| c.egid), Some(1000));
        assert_eq!((change.new.gid, change.new.egid), (Some(1000), Some(42)));
        // A file with cap_net_raw+ep run by uid 1000 (ids unchanged).
        let mut ping = user(exec(C, A, "ping"), 1000, 1000);
        (ping.cap_permitted, ping.cap_effective) = (NET_RAW, NET_RAW);
        let change = t.exec(&ping).unwrap();
        assert_eq!(change.old.map(|c| c.cap_permitted), Some(0));
        assert_eq!(change.new.cap_effective, NET_RAW);
        // Losing capabilities at exec is no event; nor is root running root's programs.
        assert_eq!(t.exec(&user(exec(C, A, "sh"), 1000, 1000)), None);
        t.exec(&exec(C + 1, 0, "sh"));
        assert_eq!(t.exec(&exec(C + 2, C + 1, "ls")), None);
        // Root that dropped capabilities (its table entry says so) regains them at exec.
        let mut dropped = exec(C + 3, 0, "sh");
        dropped.cap_permitted = ROOT_CAPS & !NET_RAW;
        t.exec(&dropped);
        let change = t.exec(&exec(C + 4, C + 3, "ping")).unwrap();
        assert_eq!(
            change.new.cap_permitted & !change.old.unwrap().cap_permitted,
            NET_RAW
        );
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
            cap_effective: Default::default(),
            ancestors: Process::no_ancestors(),
            io_worker: crate::event::Flag(false),
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
            p.args.as_deref(),
            Some(&vec!["/bin/trigger".to_string(), "-x".to_string()])
        );
        let chain: Vec<_> = p
            .ancestors
            .iter()
            .map(|a| (a.pid, a.comm.as_str()))
            .collect();
        assert_eq!(chain, [(B, "sh"), (A, "containerd-shim")]);
    }

    #[test]
    fn a_container_process_lists_its_ancestors_in_the_container_only() {
        let mut t = ProcessTable::default();
        // The runtime's shim in the host's cgroup (1), the container's init and its child
        // in the container's (77).
        t.exec(&exec(A, 0, "containerd-shim"));
        t.exec(&Exec {
            cgroup_id: 77,
            ..exec(B, A, "sh")
        });
        t.fork(C, B);
        let mut p = process(C, "sh");
        t.enrich(&mut p);
        let chain: Vec<_> = p.ancestors.iter().map(|a| a.pid).collect();
        assert_eq!(chain, [B, A], "the whole ancestry, before the cut");
        t.within_container(&mut p, 77, "/kubepods/pod-x/c");
        let chain: Vec<_> = p.ancestors.iter().map(|a| a.pid).collect();
        assert_eq!(chain, [B], "the shim is outside the container");
        assert_eq!(p.ppid, Some(B));
        // Made once: the next event of the process gets the same cut ancestry.
        let mut again = process(C, "sh");
        t.enrich(&mut again);
        t.within_container(&mut again, 77, "/kubepods/pod-x/c");
        assert!(Shared::ptr_eq(&p.ancestors, &again.ancestors));
        // The init itself: its parent is the runtime, so no ancestor; ppid says who.
        let mut init = process(B, "sh");
        t.enrich(&mut init);
        t.within_container(&mut init, 77, "/kubepods/pod-x/c");
        assert!(init.ancestors.is_empty());
        assert_eq!(init.ppid, Some(A));
    }

    #[test]
    fn a_forked_process_that_never_execs_is_known_as_its_parent_was() {
        let mut t = ProcessTable::default();
        t.exec(&exec(A, 0, "containerd-shim"));
        t.exec(&exec(B, A, "trigger"));
        // C is B forked (busybox applets, shells, workers): gone before its event is read.
        t.fork(C, B);
        let mut p = process(C, "trigger");
        t.enrich(&mut p);
        assert_eq!(p.ppid, Some(B));
        assert_eq!(p.exe.as_deref(), Some("/bin/trigger"));
        assert_eq!(
            p.args.as_deref(),
            Some(&vec!["/bin/trigger".to_string(), "-x".to_string()])
        );
        let chain: Vec<_> = p.ancestors.iter().map(|a| a.pid).collect();
        assert_eq!(chain, [B, A]);
        // Its exec makes it what it runs next.
        t.exec(&exec(C, B, "sh"));
        let mut p = process(C, "sh");
        t.enrich(&mut p);
        assert_eq!(p.exe.as_deref(), Some("/bin/sh"));
    }

    #[test]
    fn a_program_on_a_detached_mount_is_its_parents_program_run_again() {
        let mut t = ProcessTable::default();
        t.exec(&exec_of(A, 0, "runc", "/usr/sbin/runc"));
        let with = |args: &[&str]| Process {
            exe: Some(Arc::from("/")),
            ppid: Some(A),
            args: Some(Shared::new(args.iter().map(|a| a.to_string()).collect())),
            ..process(B, "runc:[2:INIT]")
        };
        let mut init = with(&["runc", "init"]);
        t.detached_exe(&mut init);
        assert_eq!(init.exe.as_deref(), Some("/usr/sbin/runc"));
        // Something else on a detached mount: unknown, not "/".
        let mut other = with(&["payload"]);
        t.detached_exe(&mut other);
        assert_eq!(other.exe, None);
    }

    #[test]
    fn a_process_that_exited_is_still_named_for_records_read_apart() {
        let mut t = ProcessTable::default();
        let mut e = exec(C, B, "trigger");
        e.cgroup_id = 77;
        t.exec(&e);
        t.exit(C);
        assert_eq!(t.cgroup(C), Some(77));
        assert_eq!(t.creds(C).and_then(|c| c.euid), Some(0));
        let mut p = process(C, "");
        t.enrich_exited(&mut p);
        assert_eq!(p.exe.as_deref(), Some("/bin/trigger"));
        assert_eq!(p.comm, "trigger");
        assert_eq!(p.ppid, Some(B));
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
    }

    #[test]
    fn a_process_renamed_after_its_fork_keeps_its_identity_once_gone() {
        let mut t = ProcessTable::default();
        t.exec(&exec(A, 0, "containerd-shim"));
        t.exec(&exec(B, A, "sh"));
        // busybox sh forks and runs the `mount` applet in the child, which takes its name.
        t.fork(C, B);
        let mut p = process(C, "mount");
        t.enrich(&mut p);
        assert_eq!(p.ppid, Some(B));
        assert_eq!(p.exe.as_deref(), Some("/bin/sh"));
        assert_eq!(p.args.as_ref().map(|a| a.len()), Some(2));
        let chain: Vec<_> = p.ancestors.iter().map(|a| a.pid).collect();
        assert_eq!(chain, [B, A]);
        // busybox runs the applet through /proc/self/exe: still /bin/sh's program.
        t.exec(&exec_of(C, B, "mount", "/proc/self/exe"));
        let mut p = process(C, "mount");
        t.enrich(&mut p);
        assert_eq!(p.exe.as_deref(), Some("/bin/sh"));
        // Its children name it by its new name.
        t.fork(C + 10, C);
        let mut child = process(C + 10, "mount");
        t.enrich(&mut child);
        assert_eq!(
            child.ancestors.first().map(|a| a.comm.as_str()),
            Some("mount")
        );
        // A thread named apart from its leader is its leader's program, and does not
        // rename the leader.
        let mut thread = process(B, "worker");
        thread.tid = B + 1;
        t.enrich(&mut thread);
        assert_eq!(thread.exe.as_deref(), Some("/bin/sh"));
        let mut leader = process(C + 11, "x");
        t.fork(C + 11, B);
        t.enrich(&mut leader);
        assert_eq!(
            leader.ancestors.first().map(|a| a.comm.as_str()),
            Some("sh")
        );
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
