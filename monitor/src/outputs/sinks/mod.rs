//! Where events go: stdout, a rotated file, a webhook, and the live stream.
//!
//! The output thread serialises each event once and offers it to every sink. A sink that
//! takes its time has a bounded queue and a thread of its own: when the queue is full the
//! event is dropped and counted for that sink, so a slow or dead sink never holds up the
//! others or the kernel reader.

pub mod file;
pub mod otlp;
pub mod stream;
pub mod syslog;
pub mod webhook;

use std::{
    io::Write,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
};

use serde_json::Value;

use std::borrow::Cow;

use crate::{
    event::{Container, Kubernetes, Published, Shared, access::Key},
    queue,
    rules::Severity,
    scrape::{Scrape, Source},
};

/// One serialised event and what sinks filter on.
#[derive(Debug)]
pub struct Record {
    pub kind: Cow<'static, str>,
    /// Alerts only.
    pub severity: Option<Severity>,
    pub rule: Option<String>,
    who: Who,
    /// The JSON line, without its newline.
    pub json: String,
}

/// Whose event it is, for the stream's filters.
#[derive(Debug)]
enum Who {
    /// The event's own blocks, shared (no copy per event).
    Shared {
        k8s: Option<Shared<Kubernetes>>,
        container: Option<Shared<Container>>,
    },
    Named {
        namespace: Option<String>,
        pod: Option<String>,
        container: Option<String>,
    },
}

crate::event::access::paths!(fn paths_of -> Paths {
    k8s_namespace = "k8s.namespace",
    k8s_pod = "k8s.pod",
    k8s_container = "k8s.container",
    container_name = "container.name",
});

impl Record {
    /// A typed event and its JSON line (events have no severity and no rule).
    pub fn of(event: &(impl Published + ?Sized), json: String) -> Record {
        let who = match event.blocks() {
            Some((k8s, container)) => Who::Shared {
                k8s: k8s.cloned(),
                container: container.cloned(),
            },
            None => {
                let p = paths_of();
                let s = |path: &[Key]| event.field(path).as_str().map(str::to_string);
                Who::Named {
                    namespace: s(&p.k8s_namespace),
                    pod: s(&p.k8s_pod),
                    container: s(&p.k8s_container).or_else(|| s(&p.container_name)),
                }
            }
        };
        Record {
            kind: event
                .static_kind()
                .map_or_else(|| event.kind().to_string().into(), Cow::Borrowed),
            severity: None,
            rule: None,
            who,
            json,
        }
    }

    /// A record with these filter keys (alerts, tests).
    pub fn named(
        kind: &str,
        severity: Option<Severity>,
        rule: Option<String>,
        [namespace, pod, container]: [Option<String>; 3],
        json: String,
    ) -> Record {
        Record {
            kind: kind.to_string().into(),
            severity,
            rule,
            who: Who::Named {
                namespace,
                pod,
                container,
            },
            json,
        }
    }

    pub fn namespace(&self) -> Option<&str> {
        match &self.who {
            Who::Shared { k8s, .. } => k8s.as_ref()?.namespace.as_deref(),
            Who::Named { namespace, .. } => namespace.as_deref(),
        }
    }

    pub fn pod(&self) -> Option<&str> {
        match &self.who {
            Who::Shared { k8s, .. } => k8s.as_ref()?.pod.as_deref(),
            Who::Named { pod, .. } => pod.as_deref(),
        }
    }

    /// The event's whole pod and container blocks as JSON (`k8s`, `container`): the
    /// record's own where it holds them (an act's line names them briefly), else those of
    /// `line`, the record's JSON (an alert's line carries them whole).
    pub fn whole_blocks(&self, line: &Value) -> (Value, Value) {
        let typed = |v: Option<serde_json::Result<Value>>, key: &str| match v {
            Some(Ok(v)) => v,
            _ => line[key].clone(),
        };
        match &self.who {
            Who::Shared { k8s, container } => (
                typed(k8s.as_deref().map(serde_json::to_value), "k8s"),
                typed(container.as_deref().map(serde_json::to_value), "container"),
            ),
            Who::Named { .. } => (line["k8s"].clone(), line["container"].clone()),
        }
    }

    /// The Kubernetes container name, else the runtime's container name.
    pub fn container(&self) -> Option<&str> {
        match &self.who {
            Who::Shared { k8s, container } => k8s
                .as_ref()
                .and_then(|k| k.container.as_deref())
                .or_else(|| container.as_ref()?.name.as_deref()),
            Who::Named { container, .. } => container.as_deref(),
        }
    }

    /// An alert's JSON, and what sinks filter it on.
    pub fn new(value: &Value) -> Option<Record> {
        let s = |v: &Value| v.as_str().map(str::to_string);
        Some(Record::named(
            value["kind"].as_str()?,
            value["severity"].as_str().and_then(|s| s.parse().ok()),
            s(&value["rule"]),
            [
                s(&value["k8s"]["namespace"]),
                s(&value["k8s"]["pod"]),
                s(&value["k8s"]["container"]).or_else(|| s(&value["container"]["name"])),
            ],
            serde_json::to_string(value).ok()?,
        ))
    }
}

/// Which events a sink takes: by kind, and alerts by minimum severity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Empty: every kind.
    pub kinds: Vec<String>,
    /// Alerts below it are left out (other kinds have no severity and pass).
    pub min_severity: Option<Severity>,
}

impl Filter {
    pub fn admits(&self, r: &Record) -> bool {
        (self.kinds.is_empty() || self.kinds.iter().any(|k| *k == r.kind))
            && match (self.min_severity, r.severity) {
                (Some(min), Some(s)) => s >= min,
                _ => true,
            }
    }
}

/// Delivered and lost counts of one sink, and the metrics made of them.
#[derive(Debug)]
pub struct SinkStats {
    /// `stdout`, `file`, `webhook`, `stream`: the `sink` label.
    pub name: &'static str,
    pub delivered: AtomicU64,
    /// Dropped because the queue was full, or failed for good (write error, webhook gave
    /// up after its retries).
    pub lost: AtomicU64,
}

impl SinkStats {
    pub fn new(name: &'static str) -> SinkStats {
        SinkStats {
            name,
            delivered: AtomicU64::new(0),
            lost: AtomicU64::new(0),
        }
    }
}

impl Source for SinkStats {
    fn collect(&self, scrape: &mut Scrape) -> anyhow::Result<()> {
        scrape.lost(format!("sink_{}", self.name), self.lost.load(Relaxed));
        scrape.counter_series(
            "privmon_sink_events_total",
            "Events each sink delivered (written, sent, or streamed to a client).",
            &[("sink", self.name)],
            self.delivered.load(Relaxed),
        )
    }
}

/// Events handed to a sink's thread at once (or at the end of each burst).
const BATCH: usize = 256;

/// A sink with a queue and a thread.
pub struct Queued {
    pub name: &'static str,
    filter: Filter,
    tx: queue::Batcher<Arc<Record>>,
    pub stats: Arc<SinkStats>,
}

impl Queued {
    /// Starts `work` on its own thread; it receives what `offer` queues.
    pub fn spawn(
        name: &'static str,
        filter: Filter,
        capacity: usize,
        work: impl FnOnce(queue::Receiver<Arc<Record>>, Arc<SinkStats>) + Send + 'static,
    ) -> std::io::Result<(Queued, std::thread::JoinHandle<()>)> {
        let (tx, rx) = queue::bounded(capacity);
        let tx = queue::Batcher::new(tx, BATCH);
        let stats = Arc::new(SinkStats::new(name));
        let s = stats.clone();
        let handle = std::thread::Builder::new()
            .name(format!("privmon-{name}"))
            .spawn(move || work(rx, s))?;
        Ok((
            Queued {
                name,
                filter,
                tx,
                stats,
            },
            handle,
        ))
    }

    /// Gathers the record if the sink wants it; a full queue drops it (counted).
    pub fn offer(&mut self, r: &Arc<Record>) {
        if !self.filter.admits(r) {
            return;
        }
        let refused = self.tx.push(r.clone());
        self.lost(refused);
    }

    /// Lets a full queue hold up the output thread for up to `wait` per hand-over before
    /// events are dropped (local sinks: a disk or a log reader that keeps up on average);
    /// by default a full queue drops at once.
    pub fn wait_for_room(&mut self, wait: std::time::Duration) {
        self.tx.wait_for_room(wait);
    }

    /// Hands the sink's thread what was gathered.
    pub fn flush(&mut self) {
        let refused = self.tx.flush();
        self.lost(refused);
    }

    fn lost(&self, n: usize) {
        if n > 0 {
            self.stats.lost.fetch_add(n as u64, Relaxed);
        }
    }
}

impl Drop for Queued {
    /// What was gathered still goes to the sink: the daemon drops its sinks to stop them.
    fn drop(&mut self) {
        self.flush();
    }
}

/// JSON lines on stdout, flushed after each burst.
pub fn stdout_worker(rx: queue::Receiver<Arc<Record>>, stats: Arc<SinkStats>) {
    let mut out = std::io::BufWriter::new(std::io::stdout());
    let write = |out: &mut std::io::BufWriter<std::io::Stdout>, r: &Record| {
        if out.write_all(r.json.as_bytes()).is_ok() && out.write_all(b"\n").is_ok() {
            stats.delivered.fetch_add(1, Relaxed);
        } else {
            stats.lost.fetch_add(1, Relaxed);
        }
    };
    while let Ok(batch) = rx.recv() {
        batch.iter().for_each(|r| write(&mut out, r));
        while let Ok(batch) = rx.try_recv() {
            batch.iter().for_each(|r| write(&mut out, r));
        }
        // A failed flush loses what the buffer held; the write errors that follow count.
        let _ = out.flush();
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: &str, severity: Option<Severity>) -> Record {
        Record::named(kind, severity, None, Default::default(), "{}".into())
    }

    #[test]
    fn filters_by_kind_and_alert_severity() {
        let f = Filter {
            kinds: vec!["alert".into()],
            min_severity: Some(Severity::High),
        };
        assert!(f.admits(&record("alert", Some(Severity::Critical))));
        assert!(f.admits(&record("alert", Some(Severity::High))));
        assert!(!f.admits(&record("alert", Some(Severity::Medium))));
        assert!(!f.admits(&record("capability", None)));
        let all = Filter::default();
        assert!(all.admits(&record("capability", None)));
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
        let (mut q, handle) = Queued::spawn("test", Filter::default(), 2, move |rx, stats| {
            // Blocked until the test opens the gate: a dead sink.
            let _ = gate_rx.recv();
            for _r in rx.iter() {
                stats.delivered.fetch_add(1, Relaxed);
            }
        })
        .unwrap();
        let r = Arc::new(record("capability", None));
        // Two bursts: the first fills the queue, the second finds it full.
        for _ in 0..5 {
            q.offer(&r);
        }
        q.flush();
        assert_eq!(q.stats.lost.load(Relaxed), 3);
        for _ in 0..5 {
            q.offer(&r);
        }
        q.flush();
        assert_eq!(q.stats.lost.load(Relaxed), 8);
        gate_tx.send(()).unwrap();
        let stats = q.stats.clone();
        drop(q);
        handle.join().unwrap();
        assert_eq!(stats.delivered.load(Relaxed), 2);
    }
}
