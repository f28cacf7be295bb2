//! cgroup id -> cgroup path, for cgroup v2 mounted at `/sys/fs/cgroup` (pure v2) or
//! `/sys/fs/cgroup/unified` (hybrid). The v2 cgroup id is the inode number of its directory.

use std::{
    collections::HashMap,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::bail;

/// `CGROUP2_SUPER_MAGIC` from linux/magic.h.
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
/// Most cached entries kept; beyond it the cache starts over.
const MAX_CACHED: usize = 65_536;
/// Least time between two rescans of the hierarchy (misses in between stay unresolved).
const RESCAN_INTERVAL: Duration = Duration::from_millis(250);

/// The cgroup v2 path of process `pid` (the `0::` line of `/proc/<pid>/cgroup`).
pub fn proc_cgroup(proc_root: &Path, pid: u32) -> Option<String> {
    let text = std::fs::read_to_string(proc_root.join(pid.to_string()).join("cgroup")).ok()?;
    v2_line(&text).map(str::to_string)
}

/// The cgroup v2 path in the text of a `/proc/<pid>/cgroup` file (its `0::` line).
pub fn v2_line(text: &str) -> Option<&str> {
    Some(text.lines().find_map(|l| l.strip_prefix("0::"))?.trim())
}

/// Where the cgroup v2 hierarchy is mounted.
pub fn v2_root() -> anyhow::Result<PathBuf> {
    for candidate in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
        if is_cgroup2(Path::new(candidate)) {
            return Ok(PathBuf::from(candidate));
        }
    }
    bail!("no cgroup v2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified")
}

fn is_cgroup2(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: statfs fills the zeroed struct; the path is NUL-terminated.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    rc == 0 && st.f_type as i64 == CGROUP2_SUPER_MAGIC
}

/// Cached cgroup id -> path resolver.
pub struct CgroupResolver {
    root: PathBuf,
    cache: HashMap<u64, Option<String>>,
    last_scan: Option<Instant>,
    /// Rescan the hierarchy on a miss; off when cgroup_mkdir keeps the cache current.
    rescan_on_miss: bool,
}

impl CgroupResolver {
    pub fn new(root: PathBuf) -> CgroupResolver {
        CgroupResolver {
            root,
            cache: HashMap::new(),
            last_scan: None,
            rescan_on_miss: true,
        }
    }

    /// Turns rescans on misses off (when the cgroup tracepoints keep the cache current).
    pub fn tracepoints_keep_current(&mut self) {
        self.rescan_on_miss = false;
    }

    /// A cgroup created (from `cgroup_mkdir`).
    pub fn insert(&mut self, id: u64, path: String) {
        if self.cache.len() > MAX_CACHED {
            self.cache.clear();
        }
        self.cache.insert(id, Some(path));
    }

    /// A cgroup removed (from `cgroup_rmdir`).
    pub fn remove(&mut self, id: u64) {
        self.cache.remove(&id);
    }

    /// Path of cgroup `id` relative to the v2 root (`/` for the root), if it exists.
    /// `pid` is a process that was in it: its `/proc/<pid>/cgroup` is the cheap way to the
    /// path, checked against the id; a rate-limited rescan of the hierarchy is the fallback.
    pub fn path(&mut self, id: u64, pid: u32) -> Option<String> {
        if let Some(Some(hit)) = self.cache.get(&id) {
            return Some(hit.clone());
        }
        if let Some(path) = self.lookup_proc(id, pid) {
            self.cache.insert(id, Some(path.clone()));
            return Some(path);
        }
        if self.rescan_on_miss
            && self
                .last_scan
                .is_none_or(|t| t.elapsed() >= RESCAN_INTERVAL)
        {
            self.rescan();
        }
        let found = self.cache.get(&id).cloned().flatten();
        if found.is_none() {
            // A vanished cgroup stays unresolved; remember the miss until the next rescan.
            self.cache.insert(id, None);
        }
        found
    }

    /// The processes (thread groups) in cgroup `id` now, from its `cgroup.procs`; `None`
    /// when the cgroup is not found.
    pub fn procs(&mut self, id: u64) -> Option<Vec<u32>> {
        let rel = self.path(id, 0)?;
        let file = self
            .root
            .join(rel.trim_start_matches('/'))
            .join("cgroup.procs");
        let text = std::fs::read_to_string(file).ok()?;
        Some(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
    }

    fn lookup_proc(&self, id: u64, pid: u32) -> Option<String> {
        let rel = proc_cgroup(Path::new("/proc"), pid)?;
        let dir = self.root.join(rel.trim_start_matches('/'));
        let ino = std::fs::metadata(dir).ok()?.ino();
        (ino == id).then_some(rel)
    }

    /// Every cgroup of the hierarchy, parents before children (a fresh scan).
    pub fn all(&mut self) -> Vec<(u64, String)> {
        self.rescan();
        let mut all: Vec<(u64, String)> = self
            .cache
            .iter()
            .filter_map(|(id, p)| Some((*id, p.clone()?)))
            .collect();
        all.sort_by(|a, b| a.1.len().cmp(&b.1.len()).then_with(|| a.1.cmp(&b.1)));
        all
    }

    fn rescan(&mut self) {
        self.last_scan = Some(Instant::now());
        if self.cache.len() > MAX_CACHED {
            self.cache.clear();
        }
        let mut stack = vec![(self.root.clone(), String::from("/"), 0u32)];
        while let Some((dir, rel, depth)) = stack.pop() {
            let Ok(meta) = std::fs::metadata(&dir) else {
                continue;
            };
            self.cache.insert(meta.ino(), Some(rel.clone()));
            if depth >= 32 {
                continue;
            }
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    let child = if rel == "/" {
                        format!("/{name}")
                    } else {
                        format!("{rel}/{name}")
                    };
                    stack.push((entry.path(), child, depth + 1));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_directory_inodes_to_paths() {
        // Any directory tree resolves the same way; the real hierarchy is covered by the
        // root integration tests.
        let dir = std::env::temp_dir().join(format!("privmon-cgroup-test-{}", std::process::id()));
        let leaf = dir.join("kubepods/besteffort/podx");
        std::fs::create_dir_all(&leaf).unwrap();
        let mut r = CgroupResolver::new(dir.clone());
        let ino = std::fs::metadata(&leaf).unwrap().ino();
        assert_eq!(r.path(ino, 0).as_deref(), Some("/kubepods/besteffort/podx"));
        let root_ino = std::fs::metadata(&dir).unwrap().ino();
        assert_eq!(r.path(root_ino, 0).as_deref(), Some("/"));
        assert_eq!(r.path(u64::MAX, 0), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
