//! Host files whose opens for writing `fentry/security_file_open` reports: the kernel
//! matches an open's inode (or its directory's) against `HOST_FILES`, keyed by device and
//! inode number, so a container writing the host's `/etc/passwd` through a bind mount is
//! seen whatever path it used. This side lists the keys and names what was matched.

use std::{collections::HashMap, os::unix::fs::MetadataExt, path::PathBuf};

use monitor_common::{HostFileKey, host_file};

/// The files and directories watched, by (device, inode), and what the kernel is given.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HostFileIndex {
    paths: HashMap<(u32, u64), PathBuf>,
}

impl HostFileIndex {
    /// The paths that exist (a directory: the files in it, not deeper), with the map
    /// entries that name them; the others are left out (`missing`).
    pub fn of(paths: &[PathBuf]) -> (HostFileIndex, Vec<(HostFileKey, u32)>, Vec<PathBuf>) {
        let mut index = HostFileIndex::default();
        let mut keys = Vec::new();
        let mut missing = Vec::new();
        for path in paths {
            let Ok(meta) = std::fs::metadata(path) else {
                missing.push(path.clone());
                continue;
            };
            let key = HostFileKey {
                ino: meta.ino(),
                dev: kernel_dev(meta.dev()),
                _pad: 0,
            };
            let kind = match meta.is_dir() {
                true => host_file::DIR,
                false => host_file::FILE,
            };
            if index
                .paths
                .insert((key.dev, key.ino), path.clone())
                .is_none()
            {
                keys.push((key, kind));
            }
        }
        (index, keys, missing)
    }

    /// The host path of an open the kernel matched: the file itself (`kind`
    /// [`host_file::FILE`]), or the file named last in `opened` (the path the opener used)
    /// in the directory matched.
    pub fn host_path(&self, dev: u32, ino: u64, kind: u32, opened: Option<&str>) -> Option<String> {
        let path = self.paths.get(&(dev, ino))?;
        if kind != host_file::DIR {
            return Some(path.to_string_lossy().into_owned());
        }
        let name = opened
            .and_then(|o| o.rsplit('/').next())
            .filter(|n| !n.is_empty() && *n != "." && *n != "..");
        Some(match name {
            Some(name) => path.join(name).to_string_lossy().into_owned(),
            None => format!("{}/", path.to_string_lossy().trim_end_matches('/')),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// The paths watched, in no order.
    pub fn paths(&self) -> Vec<&PathBuf> {
        self.paths.values().collect()
    }
}

/// A device number as the kernel keeps it (`super_block.s_dev`: major << 20 | minor) from
/// the one `stat` gives.
fn kernel_dev(st_dev: u64) -> u32 {
    (libc::major(st_dev) << 20) | libc::minor(st_dev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watched_paths_are_keyed_by_device_and_inode_and_named_back() {
        let dir = std::env::temp_dir().join(format!("privmon-hostfiles-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("passwd");
        std::fs::write(&file, "root:x:0:0::/root:/bin/sh\n").unwrap();
        let gone = dir.join("absent");
        let (index, keys, missing) =
            HostFileIndex::of(&[dir.clone(), file.clone(), gone.clone(), dir.clone()]);
        assert_eq!(missing, vec![gone]);
        assert_eq!(keys.len(), 2, "a path listed twice is one key: {keys:?}");
        let meta = std::fs::metadata(&file).unwrap();
        let (fkey, fkind) = keys[1];
        assert_eq!((fkey.ino, fkind), (meta.ino(), host_file::FILE));
        assert_eq!(
            fkey.dev,
            (libc::major(meta.dev()) << 20) | libc::minor(meta.dev())
        );
        assert_eq!(
            index.host_path(fkey.dev, fkey.ino, fkind, Some("/host-etc/passwd")),
            Some(file.to_string_lossy().into_owned())
        );
        let (dkey, dkind) = keys[0];
        assert_eq!(dkind, host_file::DIR);
        assert_eq!(
            index.host_path(dkey.dev, dkey.ino, dkind, Some("/mnt/etc/cron.d/evil")),
            Some(dir.join("evil").to_string_lossy().into_owned()),
            "a file in a watched directory is named by the opener's last component"
        );
        assert_eq!(index.host_path(dkey.dev, u64::MAX, dkind, None), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
