//! Writes to host files by container processes, through fanotify inode marks (not eBPF):
//! a container that bind-mounts the host's `/etc` and writes `passwd` writes the host's
//! inode, which the mark sees, whatever path the container used. Root's write to a file it
//! may write makes no capability check, so no probe sees it; the marks cost nothing
//! beyond the marked inodes. Needs CAP_SYS_ADMIN.

use std::{
    ffi::CString,
    os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
    os::unix::ffi::OsStrExt,
    path::{Path, PathBuf},
};

use anyhow::Context as _;

pub use crate::event::record::HostFileWrite;

/// The fanotify group and the paths it marks.
pub struct HostFiles {
    fd: OwnedFd,
    /// Where the cgroup v2 hierarchy is mounted (a writer's cgroup id is its directory's
    /// inode).
    cgroup_root: PathBuf,
    /// Paths marked (those that existed at start).
    pub marked: Vec<PathBuf>,
    /// (writer, file, when) reported lately: a write and the close after it, or a run of
    /// writes, are one report within [`REPEAT_WINDOW`].
    recent: std::sync::Mutex<Vec<(u32, String, std::time::Instant)>>,
}

/// How long a (writer, file) reported is not reported again.
const REPEAT_WINDOW: std::time::Duration = std::time::Duration::from_secs(1);

impl AsRawFd for HostFiles {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl HostFiles {
    /// Marks `paths` (a directory: the files in it) for writes. Paths that do not exist
    /// are skipped (logged); none marked is an error.
    pub fn new(paths: &[PathBuf], cgroup_root: PathBuf) -> anyhow::Result<HostFiles> {
        // SAFETY: plain syscall; the returned descriptor is owned below.
        let fd = unsafe {
            libc::fanotify_init(
                libc::FAN_CLASS_NOTIF | libc::FAN_CLOEXEC | libc::FAN_NONBLOCK,
                (libc::O_RDONLY | libc::O_LARGEFILE | libc::O_CLOEXEC) as u32,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error())
                .context("fanotify_init (needs CAP_SYS_ADMIN)");
        }
        // SAFETY: a descriptor fanotify_init just returned, owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut marked = Vec::new();
        for path in paths {
            let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
                continue;
            };
            let dir = path.is_dir();
            let mask = libc::FAN_CLOSE_WRITE
                | libc::FAN_MODIFY
                | if dir { libc::FAN_EVENT_ON_CHILD } else { 0 };
            // SAFETY: a valid descriptor and a NUL-terminated path.
            let rc = unsafe {
                libc::fanotify_mark(
                    fd.as_raw_fd(),
                    libc::FAN_MARK_ADD,
                    mask,
                    libc::AT_FDCWD,
                    c.as_ptr(),
                )
            };
            if rc == 0 {
                marked.push(path.clone());
            } else {
                tracing::warn!(path = %path.display(), error = %std::io::Error::last_os_error(), "host file not watched");
            }
        }
        anyhow::ensure!(
            !marked.is_empty(),
            "none of the host files could be watched"
        );
        Ok(HostFiles {
            fd,
            cgroup_root,
            marked,
            recent: std::sync::Mutex::default(),
        })
    }

    /// Reads the events queued now (never blocks): one write per (writer, file) within
    /// [`REPEAT_WINDOW`], in order.
    pub fn read(&self) -> Vec<HostFileWrite> {
        let now = std::time::Instant::now();
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.retain(|(_, _, at)| now.duration_since(*at) < REPEAT_WINDOW);
        let mut out: Vec<HostFileWrite> = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: reads into a buffer of the given length.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            let n = n as usize;
            let mut off = 0;
            let meta_len = std::mem::size_of::<libc::fanotify_event_metadata>();
            while off + meta_len <= n {
                // SAFETY: within the bytes read; the struct is plain data, read unaligned.
                let meta: libc::fanotify_event_metadata =
                    unsafe { std::ptr::read_unaligned(buf[off..].as_ptr().cast()) };
                let len = meta.event_len as usize;
                if len < meta_len || off + len > n {
                    break;
                }
                off += len;
                if meta.fd < 0 {
                    // FAN_NOFD: the queue overflowed.
                    tracing::warn!("fanotify queue overflow: host file writes were lost");
                    continue;
                }
                // SAFETY: the kernel opened this descriptor for us; it is closed on drop.
                let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(meta.fd) });
                let path = self.host_path(&file);
                drop(file);
                let pid = meta.pid.max(0) as u32;
                if recent.iter().any(|(p, f, _)| *p == pid && *f == path) {
                    continue;
                }
                recent.push((pid, path.clone(), now));
                out.push(writer(path, pid, &self.cgroup_root));
            }
        }
        out
    }
}

impl HostFiles {
    /// The written file as the host names it. The event's descriptor reads as the path in
    /// the writer's mount (`/passwd` when the container mounted the host's `/etc`), so the
    /// file is found among the marks by its device and inode: a marked file itself, or a
    /// file of that name in a marked directory.
    fn host_path(&self, file: &std::fs::File) -> String {
        use std::os::unix::fs::MetadataExt as _;
        let seen = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Ok(st) = file.metadata() else {
            return seen;
        };
        let same = |m: &std::fs::Metadata| (m.dev(), m.ino()) == (st.dev(), st.ino());
        let name = Path::new(&seen).file_name();
        self.marked
            .iter()
            .find_map(|m| {
                let meta = std::fs::metadata(m).ok()?;
                if same(&meta) {
                    return Some(m.clone());
                }
                let child = m.join(name?);
                (meta.is_dir() && std::fs::metadata(&child).is_ok_and(|c| same(&c)))
                    .then_some(child)
            })
            .map_or(seen, |p| p.to_string_lossy().into_owned())
    }
}

/// The writer of `path`, described from `/proc/<pid>` while it runs.
fn writer(path: String, pid: u32, cgroup_root: &Path) -> HostFileWrite {
    use std::os::unix::fs::MetadataExt as _;
    let proc = Path::new("/proc").join(pid.to_string());
    let cgroup_id = crate::resolve::cgroup::proc_cgroup(Path::new("/proc"), pid)
        .and_then(|rel| std::fs::metadata(cgroup_root.join(rel.trim_start_matches('/'))).ok())
        .map(|m| m.ino());
    let exe = std::fs::read_link(proc.join("exe"))
        .ok()
        .map(|e| e.to_string_lossy().into_owned());
    let status = crate::resolve::procfs::Status::read(Path::new("/proc"), pid);
    // `Name:` of the status is the command name.
    let comm = status.as_ref().map(|s| s.name.clone());
    HostFileWrite {
        path,
        pid,
        cgroup_id,
        comm,
        exe,
        uid: status.as_ref().and_then(|s| s.uids.first().copied()),
        euid: status.as_ref().and_then(|s| s.uids.get(1).copied()),
        boot_ns: crate::event::boottime_ns(),
    }
}
