//! What a sensitive-operation record says: the arguments of its syscall, the ids a
//! credential syscall asks for, the namespace it changes or enters, the path behind a file
//! descriptor, and the pairing of a fallback's syscall return with the check the same call
//! made. The static table of which syscalls are watched is [`crate::catalog::operations`];
//! this reads records against it.

use std::collections::BTreeMap;

use monitor_common::op;
use serde_json::Value;

use crate::{
    catalog::operations::{
        Arg::{Int, Namespaces, Ptr, Str},
        ID_CHANGES, OTHER_CREDENTIALS, Sensitive, namespace_types,
    },
    event::{CapabilitySets, Ids, NamespaceChange, NamespaceTarget},
    resolve::procfs::Status,
};

/// The change an [`OTHER_CREDENTIALS`] call asks for: (cause, before, after), from its
/// arguments, the raw bytes the kernel read (`raw`; `raw_before`: setgroups' groups
/// before) and the caller's ids and effective set `cap_effective`. `None` for other
/// syscalls, and for a `capset` or `setgroups` that changes nothing.
pub fn other_credentials(
    name: &str,
    args: &[u64; 6],
    raw: &[u8],
    raw_before: Option<&[u8]>,
    old: IdSet,
    cap_effective: u64,
) -> Option<(&'static str, Ids, Ids)> {
    let (name, _) = OTHER_CREDENTIALS.iter().find(|(n, _)| *n == name)?;
    let mut before = Ids::from(old);
    let mut after = before.clone();
    let words = |raw: &[u8]| -> Vec<u32> {
        raw.chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    };
    let data = words(raw);
    let word = |i: usize| data.get(i).copied();
    match *name {
        "setfsuid" => after.fsuid = Some(args[0] as u32),
        "setfsgid" => after.fsgid = Some(args[0] as u32),
        "setgroups" => {
            let asked = data;
            before.groups = raw_before.map(words);
            let sorted = |mut v: Vec<u32>| {
                v.sort_unstable();
                v
            };
            // At most 32 groups are read on each side: longer lists always count as a change.
            if (args[0] as usize) == asked.len()
                && before.groups.clone().map(sorted) == Some(sorted(asked.clone()))
            {
                return None;
            }
            after.groups = Some(asked);
        }
        _ => {
            // capset: effective, permitted, inheritable low words, then the high words;
            // then the caller's permitted and inheritable before (8 bytes each).
            let set = |i: usize| Some(u64::from(word(i)?) | u64::from(word(i + 3)?) << 32);
            let old_set = |at: usize| {
                raw.get(at..at + 8)
                    .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
            };
            let data = op::RAW_CAPSET_DATA;
            let (old_p, old_i) = (old_set(data), old_set(data + 8));
            let new = (set(0), set(1), set(2));
            if let (Some(e), Some(p), Some(i)) = new
                && Some(p) == old_p
                && Some(i) == old_i
                && e == cap_effective
            {
                return None;
            }
            // Unreadable data: neither side is known.
            before.capabilities =
                old_p.map(|p| CapabilitySets::from_masks(cap_effective, p, old_i));
            if let (Some(e), Some(p), Some(i)) = new {
                after.capabilities = Some(CapabilitySets::from_masks(e, p, Some(i)));
            }
            return Some((name, before, after));
        }
    }
    Some((name, before, after))
}

/// A caller's ids (null where unknown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IdSet {
    pub uid: Option<u32>,
    pub euid: Option<u32>,
    pub gid: Option<u32>,
    pub egid: Option<u32>,
}

impl From<IdSet> for Ids {
    fn from(i: IdSet) -> Ids {
        Ids::of(i.uid, i.euid, i.gid, i.egid)
    }
}

/// The ids a user- or group-id syscall asks for, from its arguments and the caller's ids
/// `old`: (syscall name, the ids after); -1 keeps an id. `None` for other syscalls.
pub fn requested_ids(name: &str, args: &[u64; 6], old: IdSet) -> Option<(&'static str, IdSet)> {
    let (name, spec) = ID_CHANGES.iter().find(|(n, _)| *n == name)?;
    let group = spec & op::ID_GID != 0;
    let keep = |v: u64, current: Option<u32>| match v as u32 {
        u32::MAX => current,
        v => Some(v),
    };
    let (real, effective) = if group {
        (old.gid, old.egid)
    } else {
        (old.uid, old.euid)
    };
    let (real, effective) = match spec & op::ID_SHAPE_MASK {
        op::ID_SETUID => (Some(args[0] as u32), Some(args[0] as u32)),
        _ => (keep(args[0], real), keep(args[1], effective)),
    };
    let new = if group {
        IdSet {
            gid: real,
            egid: effective,
            ..old
        }
    } else {
        IdSet {
            uid: real,
            euid: effective,
            ..old
        }
    };
    Some((*name, new))
}

/// Pairs a fallback's record of a syscall's return with the capability check the same
/// syscall made before: that check was reported already (with its verdict), so the return
/// is not reported again. Records of one thread arrive in order, so the check of a
/// syscall is the thread's last one when its return arrives.
#[derive(Debug, Default)]
pub struct ExitMerge {
    /// Syscall numbers both reported at their checks and hooked by a fallback.
    hooked: std::collections::HashSet<i64>,
    /// By thread: the last checked syscall with a fallback, and its arguments.
    pending: std::collections::HashMap<u32, (i64, [u64; 6])>,
    /// Checks whose return never came (a thread killed in the syscall, a lost record).
    pub forgotten: u64,
}

impl ExitMerge {
    /// Threads in the middle of a checked syscall kept at most: beyond, all are forgotten.
    const MAX_PENDING: usize = 16_384;

    /// For the kernel table `table` (`kernel_table_for`, as loaded) and the syscalls an
    /// LSM-hook source reports (`lsm`).
    pub fn new(table: &[(i64, u32)], lsm: &[i64]) -> ExitMerge {
        ExitMerge {
            hooked: table
                .iter()
                .filter(|(_, v)| v & op::FALLBACK != 0 && v & op::SENSITIVE != 0)
                .map(|(nr, _)| *nr)
                .chain(lsm.iter().copied())
                .collect(),
            ..ExitMerge::default()
        }
    }

    /// A capability check of syscall `nr` by thread `tid`, reported.
    pub fn checked(&mut self, tid: u32, nr: i64, args: [u64; 6]) {
        if !self.hooked.contains(&nr) {
            return;
        }
        if self.pending.len() >= Self::MAX_PENDING {
            self.forgotten += self.pending.len() as u64;
            self.pending.clear();
        }
        self.pending.insert(tid, (nr, args));
    }

    /// Syscall `nr` of thread `tid` returned: true if its check was reported already.
    pub fn returned(&mut self, tid: u32, nr: i64, args: [u64; 6]) -> bool {
        match self.pending.remove(&tid) {
            Some(p) if p == (nr, args) => true,
            Some(_) => {
                self.forgotten += 1;
                false
            }
            None => false,
        }
    }
}

/// Resolves the namespace behind `fd` of process `pid` (`/proc/<pid>/fd/<fd>` reads as
/// `uts:[4026531838]`).
/// What file descriptor `fd` of `pid` refers to, while the process still has it open.
pub fn fd_target(proc_root: &std::path::Path, pid: u32, fd: u64) -> Option<String> {
    let link = std::fs::read_link(
        proc_root
            .join(pid.to_string())
            .join("fd")
            .join(fd.to_string()),
    )
    .ok()?;
    link.to_str().map(str::to_string)
}

/// The host pid of process `pid` as process `caller` numbers it (its pid namespace's).
pub fn host_pid(proc_root: &std::path::Path, caller: u32, pid: u32) -> Option<u32> {
    let ns = |p: &str| std::fs::read_link(proc_root.join(p).join("ns/pid")).ok();
    let caller_ns = ns(&caller.to_string())?;
    if ns("1").as_ref() == Some(&caller_ns) {
        return Some(pid);
    }
    // A pid namespace of its own (a container's): the process whose innermost pid is `pid`.
    std::fs::read_dir(proc_root)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .find(|p| {
            ns(&p.to_string()).as_ref() == Some(&caller_ns)
                && Status::read(proc_root, *p).and_then(|s| s.nspid.last().copied()) == Some(pid)
        })
}

pub fn setns_target(proc_root: &std::path::Path, pid: u32, fd: u64) -> Option<NamespaceTarget> {
    let link = fd_target(proc_root, pid, fd)?;
    let link = link.as_str();
    let (kind, rest) = link.split_once(":[")?;
    let inode: u64 = rest.strip_suffix(']')?.parse().ok()?;
    let index = crate::resolve::containers::posture::NAMESPACES
        .iter()
        .position(|(k, _)| *k == kind)?;
    let host = crate::resolve::containers::posture::host_namespace_inodes(proc_root)?;
    Some(NamespaceTarget {
        kind: kind.to_string(),
        inode,
        owner: if host.get(index) == Some(&inode) {
            "host"
        } else {
            "container"
        },
    })
}

/// Decodes the arguments of a sensitive syscall: registers, plus the strings the kernel
/// read (`strings[i]` is argument `i`'s, if captured).
pub fn decode_args(
    s: &Sensitive,
    regs: &[u64; 6],
    strings: &BTreeMap<usize, Option<String>>,
) -> BTreeMap<&'static str, Value> {
    let mut out = BTreeMap::new();
    for (i, arg) in s.args.iter().enumerate() {
        let raw = regs[i];
        let (name, value) = match *arg {
            Str(name) => (
                name,
                strings
                    .get(&i)
                    .cloned()
                    .flatten()
                    .map_or(Value::Null, Value::String),
            ),
            Int(name) => (name, Value::from(raw as i64)),
            Namespaces(name) => (name, Value::from(raw)),
            Ptr(name) => (name, Value::String(format!("{raw:#x}"))),
        };
        out.insert(name, value);
    }
    out
}

/// The namespace change a `namespaces`-group syscall makes; `deref` is the first `u64` of
/// `clone3`'s `clone_args` (its flags), as the kernel read it.
pub fn namespace_change(s: &Sensitive, regs: &[u64; 6], deref: u64) -> Option<NamespaceChange> {
    (s.group == "namespaces").then(|| NamespaceChange {
        operation: match s.name {
            "clone3" => "clone",
            other => other,
        },
        types: match s.name {
            "unshare" | "clone" => Some(namespace_types(regs[0])),
            "clone3" if deref != 0 => Some(namespace_types(deref)),
            // setns(fd, 0) joins whatever namespace the fd is: the types are resolved from
            // the fd by the caller when it can.
            "setns" => Some(namespace_types(regs[1])).filter(|t| !t.is_empty()),
            _ => None,
        },
        target: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{
        operations::{Coverage, kernel_table_for, lookup},
        syscalls::Arch,
    };

    #[test]
    fn requested_ids_keep_what_minus_one_keeps() {
        let args = |a: u64, b: u64| [a, b, u64::from(u32::MAX), 0, 0, 0];
        let ids = |uid, euid, gid, egid| IdSet {
            uid: Some(uid),
            euid: Some(euid),
            gid: Some(gid),
            egid: Some(egid),
        };
        let minus_one = u64::from(u32::MAX);
        assert_eq!(
            requested_ids("setuid", &args(1000, 0), ids(0, 0, 0, 0)),
            Some(("setuid", ids(1000, 1000, 0, 0)))
        );
        assert_eq!(
            requested_ids("setresuid", &args(minus_one, 0), ids(1000, 1000, 5, 5)),
            Some(("setresuid", ids(1000, 0, 5, 5)))
        );
        // A 32-bit -1 in a 64-bit register (the C library passes uid_t).
        assert_eq!(
            requested_ids("setreuid", &args(0xffff_ffff, 5), ids(7, 7, 7, 7)),
            Some(("setreuid", ids(7, 5, 7, 7)))
        );
        // Group ids change the gids and keep the uids.
        assert_eq!(
            requested_ids("setgid", &args(50, 0), ids(0, 0, 0, 0)),
            Some(("setgid", ids(0, 0, 50, 50)))
        );
        assert_eq!(
            requested_ids("setregid", &args(minus_one, 60), ids(1, 1, 2, 2)),
            Some(("setregid", ids(1, 1, 2, 60)))
        );
        assert_eq!(requested_ids("mount", &args(0, 0), IdSet::default()), None);
    }

    #[test]
    fn a_checked_syscall_is_reported_once() {
        let mode = |g: &str| {
            if g == "namespaces" {
                Coverage::On
            } else {
                Coverage::Auto
            }
        };
        let mut m = ExitMerge::new(&kernel_table_for(Arch::X86_64, mode), &[]);
        let args = [0x1002_0000, 0, 0, 0, 0, 0];
        // unshare(NEWUSER|NEWNS): the mount namespace's check, then the return.
        m.checked(7, 272, args);
        assert!(m.returned(7, 272, args));
        // The same call again with no check: its return is the only record.
        assert!(!m.returned(7, 272, args));
        // Another thread's return does not consume this thread's check.
        m.checked(7, 272, args);
        assert!(!m.returned(8, 272, args));
        assert!(m.returned(7, 272, args));
        // Syscalls without a fallback are not remembered.
        m.checked(9, 165, args);
        assert!(!m.returned(9, 165, args));
        assert_eq!(m.forgotten, 0);
    }

    #[test]
    fn a_pid_in_the_callers_namespace_is_found_on_the_host() {
        let me = std::process::id();
        let proc_root = std::path::Path::new("/proc");
        // In the host's pid namespace (these tests do not run in a container of their own
        // pid namespace, or pid 1 is theirs too): the pid is the host's.
        assert_eq!(host_pid(proc_root, me, me), Some(me));
        assert!(
            crate::resolve::cgroup::proc_cgroup(proc_root, me).is_some_and(|p| p.starts_with('/'))
        );
        assert_eq!(host_pid(proc_root, u32::MAX, 1), None, "no such caller");
    }

    #[test]
    fn namespace_flags_decode() {
        assert_eq!(namespace_types(0x0002_0000), ["mnt"]);
        assert_eq!(namespace_types(0x5000_0000), ["user", "net"]);
        assert!(namespace_types(0x11).is_empty());
        let unshare = lookup("unshare").unwrap();
        let change = namespace_change(unshare, &[0x0002_0000, 0, 0, 0, 0, 0], 0).unwrap();
        assert_eq!(change.operation, "unshare");
        assert_eq!(change.types, Some(vec!["mnt"]));
        let setns = lookup("setns").unwrap();
        assert_eq!(
            namespace_change(setns, &[3, 0, 0, 0, 0, 0], 0)
                .unwrap()
                .types,
            None
        );
        assert_eq!(namespace_change(lookup("mount").unwrap(), &[0; 6], 0), None);
        let clone3 = lookup("clone3").unwrap();
        assert_eq!(
            namespace_change(clone3, &[0x7ff0, 88, 0, 0, 0, 0], 0x1000_0000)
                .unwrap()
                .types,
            Some(vec!["user"])
        );
    }

    #[test]
    fn capset_and_setgroups_decode_what_the_kernel_read() {
        let root = IdSet {
            uid: Some(0),
            euid: Some(0),
            gid: Some(0),
            egid: Some(0),
        };
        let (raw_net, chown) = (1u32 << 13, 1u32 << 0);
        // New sets (effective, permitted, inheritable; low words then high words), then
        // the permitted and inheritable sets before.
        let capset = |e: u32, p: u32, i: u32, old_p: u64| -> Vec<u8> {
            [e, p, i, 0, 0, 0]
                .iter()
                .flat_map(|w| w.to_le_bytes())
                .chain(old_p.to_le_bytes())
                .chain(0u64.to_le_bytes())
                .collect()
        };
        let both = u64::from(raw_net | chown);
        let raw = capset(chown, chown, 0, both);
        let (cause, old, new) =
            other_credentials("capset", &[0; 6], &raw, None, root, both).unwrap();
        assert_eq!(cause, "capset");
        let old = old.capabilities.unwrap();
        assert_eq!(old.permitted, ["CAP_CHOWN", "CAP_NET_RAW"]);
        assert_eq!(old.inheritable, Some(vec![]));
        let new = new.capabilities.unwrap();
        assert_eq!(
            (new.effective, new.permitted),
            (vec!["CAP_CHOWN".to_string()], vec!["CAP_CHOWN".to_string()])
        );
        // The same sets again: no change, no event.
        let same = capset(raw_net | chown, raw_net | chown, 0, both);
        assert_eq!(
            other_credentials("capset", &[0; 6], &same, None, root, both),
            None
        );
        // Unreadable data: reported, with neither side's sets.
        let (_, old, new) = other_credentials("capset", &[0; 6], &[], None, root, both).unwrap();
        assert_eq!((old.capabilities, new.capabilities), (None, None));
        // setgroups: whole gids only; setfsuid: the id asked for, the rest unchanged.
        let groups = [5u32, 7]
            .iter()
            .flat_map(|g| g.to_le_bytes())
            .chain([1, 2])
            .collect::<Vec<u8>>();
        let (_, _, new) =
            other_credentials("setgroups", &[2, 0, 0, 0, 0, 0], &groups, None, root, 0).unwrap();
        assert_eq!(new.groups, Some(vec![5, 7]));
        // The same groups as before (in any order) are no change; unread ones count as one.
        let before: Vec<u8> = [7u32, 5].iter().flat_map(|g| g.to_le_bytes()).collect();
        let args = [2, 0, 0, 0, 0, 0];
        assert_eq!(
            other_credentials("setgroups", &args, &groups[..8], Some(&before), root, 0),
            None
        );
        let (_, old, _) = other_credentials(
            "setgroups",
            &args,
            &groups[..8],
            Some(&before[..4]),
            root,
            0,
        )
        .unwrap();
        assert_eq!(old.groups, Some(vec![7]));
        assert_eq!(
            other_credentials("setgroups", &[0; 6], &[], Some(&[]), root, 0),
            None,
            "setgroups(0, NULL) with no groups"
        );
        let (_, _, new) =
            other_credentials("setfsuid", &[1234, 0, 0, 0, 0, 0], &[], None, root, 0).unwrap();
        assert_eq!((new.fsuid, new.uid, new.fsgid), (Some(1234), Some(0), None));
        assert_eq!(
            other_credentials("setuid", &[0; 6], &[], None, root, 0),
            None
        );
    }

    #[test]
    fn arguments_decode_with_strings_from_the_kernel() {
        let mount = lookup("mount").unwrap();
        let strings = BTreeMap::from([
            (0, Some("none".to_string())),
            (1, Some("/mnt".to_string())),
            (2, None),
        ]);
        let args = decode_args(mount, &[0x1000, 0x2000, 0x3000, 4096, 0, 0], &strings);
        assert_eq!(args["source"], "none");
        assert_eq!(args["target"], "/mnt");
        assert_eq!(args["fstype"], Value::Null);
        assert_eq!(args["flags"], 4096);
        assert_eq!(args["data"], "0x0");
    }
}
