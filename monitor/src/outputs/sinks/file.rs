//! JSON lines in a file, rotated by size: `events.json` is renamed `events.json.1` (the
//! older ones shift to `.2`, ...) when the next line would take it past `max_bytes`, and
//! only `keep` rotated files are kept.

use std::{
    fs::{File, OpenOptions},
    io::{BufWriter, Write},
    path::{Path, PathBuf},
    sync::{Arc, atomic::Ordering::Relaxed},
    time::{Duration, Instant},
};

use tracing::warn;

use super::{Record, SinkStats};
use crate::queue;

/// A file that cannot be written is retried this often (meanwhile its lines are lost and
/// counted).
const REOPEN_INTERVAL: Duration = Duration::from_secs(5);

/// Bytes gathered before a write.
const WRITE_BUFFER: usize = 256 << 10;

pub struct Rotating {
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
    out: Option<BufWriter<File>>,
    size: u64,
    last_open_attempt: Option<Instant>,
}

impl Rotating {
    pub fn new(path: PathBuf, max_bytes: u64, keep: u32) -> Rotating {
        Rotating {
            path,
            max_bytes,
            keep,
            out: None,
            size: 0,
            last_open_attempt: None,
        }
    }

    fn rotated(&self, n: u32) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{n}"));
        PathBuf::from(p)
    }

    fn open(&mut self) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = f.metadata()?.len();
        // Large writes: a burst of events is a few syscalls, not one per 8 KiB.
        self.out = Some(BufWriter::with_capacity(WRITE_BUFFER, f));
        Ok(())
    }

    /// Shifts `path` -> `.1` -> `.2` ...; the oldest beyond `keep` is deleted.
    fn rotate(&mut self) -> std::io::Result<()> {
        if let Some(mut out) = self.out.take() {
            out.flush()?;
        }
        if self.keep == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            let _ = std::fs::remove_file(self.rotated(self.keep));
            for n in (1..self.keep).rev() {
                let from = self.rotated(n);
                if from.exists() {
                    std::fs::rename(&from, self.rotated(n + 1))?;
                }
            }
            std::fs::rename(&self.path, self.rotated(1))?;
        }
        self.open()
    }

    /// Appends one line (a newline is added).
    pub fn write_line(&mut self, line: &[u8]) -> std::io::Result<()> {
        if self.out.is_none() {
            let due = self
                .last_open_attempt
                .is_none_or(|t| t.elapsed() >= REOPEN_INTERVAL);
            if !due {
                return Err(std::io::Error::other("file not open (retrying)"));
            }
            self.last_open_attempt = Some(Instant::now());
            self.open()?;
        }
        let len = line.len() as u64 + 1;
        if self.size > 0 && self.size + len > self.max_bytes {
            self.rotate()?;
        }
        let out = self.out.as_mut().expect("opened above");
        let written = out.write_all(line).and_then(|()| out.write_all(b"\n"));
        if written.is_err() {
            // Reopen on the next line (the file may have been removed, the disk freed).
            self.out = None;
        }
        written?;
        self.size += len;
        Ok(())
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.out {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

pub fn worker(mut file: Rotating, rx: queue::Receiver<Arc<Record>>, stats: Arc<SinkStats>) {
    let mut warned = false;
    let mut write = |file: &mut Rotating, r: &Record| match file.write_line(r.json.as_bytes()) {
        Ok(()) => {
            stats.delivered.fetch_add(1, Relaxed);
            warned = false;
        }
        Err(e) => {
            stats.lost.fetch_add(1, Relaxed);
            if !warned {
                warn!(path = %file.path().display(), error = %e,
                      "file sink: cannot write; lines are dropped and counted");
                warned = true;
            }
        }
    };
    while let Ok(batch) = rx.recv() {
        batch.iter().for_each(|r| write(&mut file, r));
        while let Ok(batch) = rx.try_recv() {
            batch.iter().for_each(|r| write(&mut file, r));
        }
        let _ = file.flush();
    }
    let _ = file.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_so_many_files() {
        let dir = std::env::temp_dir().join(format!("privmon-rotate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("sub/events.json");
        let mut f = Rotating::new(path.clone(), 100, 2);
        let line = [b'x'; 39]; // 40 bytes with the newline: two lines per file
        for _ in 0..9 {
            f.write_line(&line).unwrap();
        }
        f.flush().unwrap();
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        assert_eq!(size(&path), 40);
        assert_eq!(size(&dir.join("sub/events.json.1")), 80);
        assert_eq!(size(&dir.join("sub/events.json.2")), 80);
        assert!(!dir.join("sub/events.json.3").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
