//! Ring-buffer bytes -> typed kernel records. Needs nothing but `monitor-common` (the
//! fuzz target of the decoder compiles this file alone). Never panics, whatever the bytes.

use std::{collections::BTreeMap, mem::size_of};

use monitor_common::{
    CapabilityRecord, CgroupRecord, ExecRecord, ExitRecord, ForkRecord, OperationRecord,
    RecordKind, SysctlRecord, UnixConnectRecord, exec_flags, op, sysctl_flags, unix_flags,
};

/// A ring-buffer record that could not be decoded (counted and skipped).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("record of {len} bytes is shorter than its header or body")]
    Truncated { len: usize },
    #[error("unknown record kind {kind}")]
    UnknownKind { kind: u32 },
}

/// A decoded kernel record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Capability(CapabilityRecord),
    /// A sensitive syscall: at one of its capability checks, or seen returning by a
    /// fallback tracepoint.
    Operation(Box<Operation>),
    /// A successful execve.
    Exec(Box<Exec>),
    /// A process (thread group) ended.
    Exit {
        pid: u32,
        boot_ns: u64,
    },
    /// A process forked a new one (`pid`), which runs its parent's program until it execs.
    Fork {
        pid: u32,
        ppid: u32,
    },
    /// A write under `/proc/sys`.
    Sysctl(Box<Sysctl>),
    /// A `connect()` to a runtime socket's name.
    UnixConnect(Box<UnixConnect>),
    /// A write to a watched host file (fanotify, read by the daemon, not the probes).
    HostFile(Box<HostFileWrite>),
    /// A cgroup created (`mkdir: true`) or removed.
    Cgroup {
        mkdir: bool,
        hierarchy: i32,
        id: u64,
        boot_ns: u64,
        /// Path relative to the hierarchy root; `None` if unreadable or truncated.
        path: Option<String>,
    },
}

/// A write to a marked file, as the reader resolved it while the writer most likely ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFileWrite {
    /// The file as the host sees it.
    pub path: String,
    pub pid: u32,
    /// The writer's cgroup v2 id (from `/proc/<pid>/cgroup`), if it still ran.
    pub cgroup_id: Option<u64>,
    /// The writer's command name, program, and real and effective uid, if it still ran.
    pub comm: Option<String>,
    pub exe: Option<String>,
    pub uid: Option<u32>,
    pub euid: Option<u32>,
    /// Boot-clock nanoseconds when it was read.
    pub boot_ns: u64,
}

/// A decoded [`SysctlRecord`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysctl {
    /// 0 where the kernel gave none (before Linux 6.1).
    pub pid: u32,
    pub tid: u32,
    pub uid: Option<u32>,
    pub comm: String,
    pub cgroup_id: u64,
    pub boot_ns: u64,
    /// `kernel/core_pattern`; `None` if unreadable.
    pub name: Option<String>,
    /// The value written (this piece of it: `file_pos`); `None` if unreadable.
    pub value: Option<String>,
    pub value_truncated: bool,
    pub file_pos: u32,
    /// `monitor_common::action`: `DENY` (the write failed with EPERM), `WOULD_DENY` (a dry
    /// run) or `NONE`.
    pub action: u8,
}

impl Sysctl {
    fn from_record(rec: &SysctlRecord) -> Sysctl {
        let text = |buf: &[u8], len: u32| {
            let len = len as usize;
            (len >= 1 && len <= buf.len()).then(|| c_string(&buf[..len]))
        };
        Sysctl {
            pid: rec.pid,
            tid: rec.tid,
            uid: (rec.uid != u32::MAX).then_some(rec.uid),
            comm: c_string(&rec.comm),
            cgroup_id: rec.cgroup_id,
            boot_ns: rec.boot_ns,
            name: text(&rec.name, rec.name_len),
            value: text(&rec.value, rec.value_len),
            value_truncated: rec.flags & sysctl_flags::VALUE_TRUNCATED != 0,
            file_pos: rec.file_pos,
            action: if rec.flags & sysctl_flags::DENIED != 0 {
                monitor_common::action::DENY
            } else if rec.flags & sysctl_flags::WOULD_DENY != 0 {
                monitor_common::action::WOULD_DENY
            } else {
                monitor_common::action::NONE
            },
        }
    }
}

/// A decoded [`UnixConnectRecord`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixConnect {
    pub pid: u32,
    pub tid: u32,
    pub uid: Option<u32>,
    pub comm: String,
    pub cgroup_id: u64,
    pub boot_ns: u64,
    /// The address as the caller wrote it, in its mount namespace, or (`peer`) as the
    /// listener bound it, in the listener's; an abstract name is written `@name` (as `ss`
    /// and `netstat` do).
    pub path: String,
    /// `path` is the listener's address ([`unix_flags::PEER`]).
    pub peer: bool,
}

impl UnixConnect {
    fn from_record(rec: &UnixConnectRecord) -> UnixConnect {
        let len = (rec.path_len as usize).min(monitor_common::UNIX_PATH_LEN);
        let path = if rec.flags & unix_flags::ABSTRACT != 0 {
            let name = rec.path.get(1..len).unwrap_or_default();
            // Abstract names may hold NULs: shown escaped, not cut.
            format!("@{}", String::from_utf8_lossy(name).replace('\0', "\\0"))
        } else {
            c_string(&rec.path[..len])
        };
        UnixConnect {
            pid: rec.pid,
            tid: rec.tid,
            uid: (rec.uid != u32::MAX).then_some(rec.uid),
            comm: c_string(&rec.comm),
            cgroup_id: rec.cgroup_id,
            boot_ns: rec.boot_ns,
            path,
            peer: rec.flags & unix_flags::PEER != 0,
        }
    }
}

/// A decoded [`OperationRecord`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// The check (for a fallback record: the caller's credentials, no check).
    pub check: CapabilityRecord,
    /// String arguments the kernel read, by argument index (`None` if unreadable).
    pub strings: BTreeMap<usize, Option<String>>,
    /// The `u64` a pointer argument points to (`clone3`'s flags), else 0.
    pub deref: u64,
    /// Raw bytes the kernel read (`op::RAW_*`: capset's data, setgroups' list); empty if
    /// none or unreadable.
    pub raw: Vec<u8>,
    /// The raw bytes of the state before (setgroups' groups), if read.
    pub raw_before: Option<Vec<u8>>,
    /// `Some(return value)` when a fallback tracepoint saw the syscall return; `None` at a
    /// capability check, before it returns.
    pub exit: Option<i64>,
    /// Seen at an LSM hook (fentry), with no check and before any result.
    pub lsm: bool,
    /// The file behind the descriptor in argument 0, named in the kernel ([`op::FD_PATH`]).
    pub fd_file: Option<FdFile>,
    /// An open seen at `blkdev_open`: the block device's `major:minor`.
    pub opened_device: Option<String>,
    /// An open for writing seen at `security_file_open` of a watched host file (or of a
    /// file in a watched host directory): the entry matched.
    pub host_file: Option<HostFileOpen>,
}

/// The `HOST_FILES` entry an open matched: its device (the kernel's `dev_t`), inode and
/// kind (`monitor_common::host_file`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostFileOpen {
    pub dev: u32,
    pub ino: u64,
    pub kind: u32,
}

/// The file behind a descriptor, as the kernel named it at the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdFile {
    /// From the root of the process's mount tree (a container's root: what the process
    /// calls it); `…/` and the part that was read when the walk stopped short.
    pub path: String,
    /// `major:minor` of the file system's device (tells a host file seen through a bind
    /// mount from the container's own).
    pub device: String,
    /// The file system type, where privmon knows its magic number.
    pub fs: Option<&'static str>,
    /// The mount's id, as in `/proc/<pid>/mountinfo`.
    pub mount_id: u32,
}

/// File system magic numbers (include/uapi/linux/magic.h) of the files privmon names.
const FS_MAGICS: &[(u32, &str)] = &[
    (0x0027_e0eb, "cgroup"),
    (0x6367_7270, "cgroup2"),
    (0x0000_9fa0, "proc"),
    (0x6265_6572, "sysfs"),
    (0x0102_1994, "tmpfs"),
    (0x794c_7630, "overlay"),
    (0x0000_ef53, "ext4"),
    (0x5846_5342, "xfs"),
    (0x9123_683e, "btrfs"),
    (0x0000_1cd1, "devpts"),
    (0x6462_6720, "debugfs"),
    (0x7472_6163, "tracefs"),
    (0x7363_6673, "securityfs"),
    (0xcafe_4a11, "bpf"),
    (0x4249_4e4d, "binfmt_misc"),
    (0x6e73_6673, "nsfs"),
];

/// The [`FdFile`] of a record whose kernel side named one.
fn fd_file(rec: &OperationRecord) -> Option<FdFile> {
    let lens = rec.string_lens[1];
    if lens & op::FD_PATH_READ == 0 {
        return None;
    }
    let used = ((lens & !(op::FD_PATH_READ | op::FD_PATH_ROOT)) as usize).min(op::FD_PATH_BYTES);
    let mut area = [0u8; op::FD_PATH_BYTES];
    area[..monitor_common::OP_STRING_LEN].copy_from_slice(&rec.strings[1]);
    area[monitor_common::OP_STRING_LEN..].copy_from_slice(&rec.strings[2]);
    let mut parts: Vec<String> = area[..used]
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    parts.reverse();
    let joined = parts.join("/");
    let path = if lens & op::FD_PATH_ROOT != 0 {
        format!("/{joined}")
    } else {
        format!("…/{joined}")
    };
    Some(FdFile {
        path,
        device: format!("{}:{}", rec.fd_dev >> 20, rec.fd_dev & 0xf_ffff),
        fs: FS_MAGICS
            .iter()
            .find(|(m, _)| *m == rec.fd_fs_magic)
            .map(|(_, n)| *n),
        mount_id: rec.fd_mnt_id,
    })
}

/// A decoded [`ExecRecord`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exec {
    pub pid: u32,
    pub ppid: u32,
    pub uid: Option<u32>,
    pub euid: Option<u32>,
    pub gid: Option<u32>,
    pub egid: Option<u32>,
    /// Capability sets after the exec (bit masks).
    pub cap_permitted: u64,
    pub cap_effective: u64,
    pub cgroup_id: u64,
    pub boot_ns: u64,
    pub comm: String,
    /// The path given to execve, as the process saw it.
    pub filename: Option<String>,
    pub args: Vec<String>,
    pub args_truncated: bool,
    /// The program ran from a memfd: it never was a file on disk.
    pub memfd: bool,
}

/// Text up to the first NUL of a fixed buffer.
pub fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

impl Exec {
    fn from_record(rec: &ExecRecord) -> Exec {
        let known = |v: u32| (v != u32::MAX).then_some(v);
        let args_len = (rec.args_len as usize).min(rec.args.len());
        let args = rec.args[..args_len]
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let filename_len = rec.filename_len as usize;
        Exec {
            pid: rec.pid,
            ppid: rec.ppid,
            uid: known(rec.uid),
            euid: known(rec.euid),
            gid: known(rec.gid),
            egid: known(rec.egid),
            cap_permitted: rec.cap_permitted,
            cap_effective: rec.cap_effective,
            cgroup_id: rec.cgroup_id,
            boot_ns: rec.boot_ns,
            comm: c_string(&rec.comm),
            filename: (filename_len > 1 && filename_len <= rec.filename.len())
                .then(|| c_string(&rec.filename[..filename_len])),
            args,
            args_truncated: rec.flags & exec_flags::ARGS_TRUNCATED != 0
                || args_len == rec.args.len(),
            memfd: rec.flags & exec_flags::MEMFD != 0,
        }
    }
}

/// Reads a plain-old-data record from the front of `bytes`, if it is long enough.
fn read_record<T: Copy>(bytes: &[u8]) -> Result<T, DecodeError> {
    if bytes.len() < size_of::<T>() {
        return Err(DecodeError::Truncated { len: bytes.len() });
    }
    // SAFETY: length checked; T is a #[repr(C)] plain-old-data record from monitor-common,
    // valid for any bytes, and the read is unaligned-safe.
    Ok(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

/// Decodes one ring-buffer record. Never panics, whatever the bytes.
pub fn decode(bytes: &[u8]) -> Result<Record, DecodeError> {
    let kind = bytes
        .get(..4)
        .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or(DecodeError::Truncated { len: bytes.len() })?;
    match RecordKind::from_u32(kind) {
        Some(RecordKind::Capability) => read_record(bytes).map(Record::Capability),
        Some(k @ (RecordKind::Operation | RecordKind::SyscallExit | RecordKind::LsmHook)) => {
            let rec: OperationRecord = read_record(bytes)?;
            let mut strings = BTreeMap::new();
            let mut slot = 0;
            for i in 0..6 {
                if rec.string_args & (1 << i) == 0 || slot >= rec.strings.len() {
                    continue;
                }
                let len = rec.string_lens[slot] as usize;
                let text = (len >= 1 && len <= rec.strings[slot].len())
                    .then(|| c_string(&rec.strings[slot][..len]));
                strings.insert(i, text);
                slot += 1;
            }
            let raw_len = rec.string_lens[0] as usize;
            let raw = if rec.string_args == 0 && raw_len <= rec.strings[0].len() {
                rec.strings[0][..raw_len].to_vec()
            } else {
                Vec::new()
            };
            let before_len = (rec.string_lens[1] & !op::RAW_READ) as usize;
            let raw_before = (rec.string_args == 0
                && rec.string_lens[1] & op::RAW_READ != 0
                && before_len <= rec.strings[1].len())
            .then(|| rec.strings[1][..before_len].to_vec());
            Ok(Record::Operation(Box::new(Operation {
                check: rec.check,
                strings,
                deref: rec.deref,
                raw,
                raw_before,
                exit: (k == RecordKind::SyscallExit).then_some(rec.result),
                lsm: k == RecordKind::LsmHook,
                fd_file: fd_file(&rec),
                opened_device: (k == RecordKind::LsmHook
                    && rec.fd_dev != 0
                    && rec.fd_mnt_id == 0
                    && rec.string_lens[1] & op::FD_PATH_READ == 0)
                    .then(|| format!("{}:{}", rec.fd_dev >> 20, rec.fd_dev & 0xf_ffff)),
                host_file: (k == RecordKind::LsmHook
                    && rec.fd_mnt_id != 0
                    && rec.string_lens[1] & op::FD_PATH_READ == 0)
                    .then_some(HostFileOpen {
                        dev: rec.fd_dev,
                        ino: rec.deref,
                        kind: rec.fd_mnt_id,
                    }),
            })))
        }
        Some(RecordKind::Exec) => {
            let rec: ExecRecord = read_record(bytes)?;
            Ok(Record::Exec(Box::new(Exec::from_record(&rec))))
        }
        Some(RecordKind::Exit) => {
            let rec: ExitRecord = read_record(bytes)?;
            Ok(Record::Exit {
                pid: rec.pid,
                boot_ns: rec.boot_ns,
            })
        }
        Some(RecordKind::Fork) => {
            let rec: ForkRecord = read_record(bytes)?;
            Ok(Record::Fork {
                pid: rec.pid,
                ppid: rec.ppid,
            })
        }
        Some(RecordKind::Sysctl) => {
            let rec: SysctlRecord = read_record(bytes)?;
            Ok(Record::Sysctl(Box::new(Sysctl::from_record(&rec))))
        }
        Some(RecordKind::UnixConnect) => {
            let rec: UnixConnectRecord = read_record(bytes)?;
            Ok(Record::UnixConnect(Box::new(UnixConnect::from_record(
                &rec,
            ))))
        }
        Some(k @ (RecordKind::CgroupMkdir | RecordKind::CgroupRmdir)) => {
            let rec: CgroupRecord = read_record(bytes)?;
            let used = rec.path_len as usize;
            // A path that filled the buffer may be cut short: better unknown than wrong.
            let path = (used > 1 && used < rec.path.len())
                .then(|| String::from_utf8_lossy(&rec.path[..used - 1]).into_owned());
            Ok(Record::Cgroup {
                mkdir: k == RecordKind::CgroupMkdir,
                hierarchy: rec.hierarchy,
                id: rec.id,
                boot_ns: rec.boot_ns,
                path,
            })
        }
        None => Err(DecodeError::UnknownKind { kind }),
    }
}
