//! The live stream: a bounded history of recent events, and a broadcast of new ones to
//! every connected client. Publishing never waits: a client that falls behind skips what
//! it missed, and the skipped events are counted.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, atomic::Ordering::Relaxed},
};

use tokio::sync::broadcast;

use super::{Record, SinkStats};
use crate::rules::Severity;

/// The recent events a client starts with, and the receiver of what follows.
pub type Subscription = (Vec<Arc<Record>>, broadcast::Receiver<Arc<Record>>);

pub struct Hub {
    history: Mutex<VecDeque<Arc<Record>>>,
    capacity: usize,
    /// `None` once closed: clients' streams end.
    tx: Mutex<Option<broadcast::Sender<Arc<Record>>>>,
    pub stats: Arc<SinkStats>,
}

/// Events a client waits for: every key given must match.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    pub namespace: Option<String>,
    pub pod: Option<String>,
    pub container: Option<String>,
    /// Comma-separated kinds.
    pub kind: Option<String>,
    /// Alerts of this severity or above (other events have none and are left out).
    pub severity: Option<String>,
    pub rule: Option<String>,
    /// How many past events (after filtering) to send first; default 100.
    pub history: Option<usize>,
}

/// A parsed [`Query`].
#[derive(Clone, Debug, Default)]
pub struct Selector {
    namespace: Option<String>,
    pod: Option<String>,
    container: Option<String>,
    kinds: Vec<String>,
    severity: Option<Severity>,
    rule: Option<String>,
    pub history: usize,
}

impl Query {
    pub fn selector(&self) -> Result<Selector, String> {
        Ok(Selector {
            namespace: self.namespace.clone(),
            pod: self.pod.clone(),
            container: self.container.clone(),
            kinds: self
                .kind
                .iter()
                .flat_map(|k| k.split(','))
                .filter(|k| !k.is_empty())
                .map(str::to_string)
                .collect(),
            severity: self.severity.as_deref().map(str::parse).transpose()?,
            rule: self.rule.clone(),
            history: self.history.unwrap_or(100),
        })
    }
}

impl Selector {
    pub fn admits(&self, r: &Record) -> bool {
        let eq = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| have == Some(w))
        };
        eq(&self.namespace, r.namespace())
            && eq(&self.pod, r.pod())
            && eq(&self.container, r.container())
            && eq(&self.rule, r.rule.as_deref())
            && (self.kinds.is_empty() || self.kinds.iter().any(|k| *k == r.kind))
            && self
                .severity
                .is_none_or(|min| r.severity.is_some_and(|s| s >= min))
    }
}

impl Hub {
    /// Keeps the last `history` events; a client may lag `lag` events before it skips.
    pub fn new(history: usize, lag: usize) -> Hub {
        let (tx, _) = broadcast::channel(lag.max(1));
        Hub {
            history: Mutex::new(VecDeque::with_capacity(history)),
            capacity: history,
            tx: Mutex::new(Some(tx)),
            stats: Arc::new(SinkStats::new("stream")),
        }
    }

    pub fn publish(&self, r: &Arc<Record>) {
        // History and broadcast under one lock, taken in the same order as `subscribe`:
        // a client sees each event once, in its history or live.
        let mut h = self.history.lock().unwrap_or_else(|e| e.into_inner());
        if h.len() == self.capacity {
            h.pop_front();
        }
        if self.capacity > 0 {
            h.push_back(r.clone());
        }
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        // No client connected is not a loss.
        if let Some(tx) = tx.as_ref()
            && let Ok(clients) = tx.send(r.clone())
        {
            self.stats.delivered.fetch_add(clients as u64, Relaxed);
        }
    }

    /// The JSON lines of the recent events, oldest first.
    pub fn recent(&self) -> Vec<String> {
        let h = self.history.lock().unwrap_or_else(|e| e.into_inner());
        h.iter().map(|r| r.json.clone()).collect()
    }

    /// Ends every client's stream (the daemon is stopping).
    pub fn close(&self) {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// The matching recent events (at most `sel.history`, oldest first) and a receiver for
    /// what comes after them.
    pub fn subscribe(&self, sel: &Selector) -> Option<Subscription> {
        let h = self.history.lock().unwrap_or_else(|e| e.into_inner());
        // Subscribing under the lock: nothing published falls between history and live.
        let rx = self
            .tx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()?
            .subscribe();
        let mut past: Vec<Arc<Record>> = h
            .iter()
            .rev()
            .filter(|r| sel.admits(r))
            .take(sel.history)
            .cloned()
            .collect();
        past.reverse();
        Some((past, rx))
    }

    /// A client skipped `n` events.
    pub fn lagged(&self, n: u64) {
        self.stats.lost.fetch_add(n, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(kind: &str, ns: &str, sev: Option<Severity>) -> Arc<Record> {
        Arc::new(Record::named(
            kind,
            sev,
            None,
            [Some(ns.into()), None, None],
            format!("{{\"kind\":\"{kind}\"}}"),
        ))
    }

    #[test]
    fn history_is_bounded_and_filtered_then_live_follows() {
        let hub = Hub::new(3, 16);
        for i in 0..5 {
            hub.publish(&rec("capability", if i % 2 == 0 { "a" } else { "b" }, None));
        }
        let sel = Query {
            namespace: Some("a".into()),
            ..Default::default()
        }
        .selector()
        .unwrap();
        let (past, mut rx) = hub.subscribe(&sel).unwrap();
        // History holds events 2, 3, 4: namespaces a, b, a.
        assert_eq!(past.len(), 2);
        hub.publish(&rec("alert", "a", Some(Severity::High)));
        assert_eq!(rx.try_recv().unwrap().kind, "alert");
    }

    #[test]
    fn severity_selects_alerts_at_or_above() {
        let sel = Query {
            severity: Some("high".into()),
            ..Default::default()
        }
        .selector()
        .unwrap();
        assert!(sel.admits(&rec("alert", "a", Some(Severity::Critical))));
        assert!(!sel.admits(&rec("alert", "a", Some(Severity::Medium))));
        assert!(!sel.admits(&rec("capability", "a", None)));
        assert!(
            Query {
                severity: Some("urgent".into()),
                ..Default::default()
            }
            .selector()
            .is_err()
        );
    }
}
