//! What a stage exports to Prometheus: each stage that keeps counters (the pipeline, the
//! sinks, the CRI client, the advisor) implements [`Source`] beside them and registers
//! itself with the metrics; `outputs::metrics` renders what the sources hand it, without
//! knowing the stages behind them.

use std::collections::BTreeMap;

use prometheus::{IntCounterVec, IntGaugeVec, Opts, core::Collector, proto::MetricFamily};

/// A stage's metrics, computed at each scrape from the counters it keeps.
pub trait Source: Send + Sync {
    fn collect(&self, scrape: &mut Scrape) -> anyhow::Result<()>;
}

/// One scrape's contributions of the [`Source`]s: the stages of
/// `privmon_events_lost_total`, and families. Several sources may add series to one
/// labelled family (every sink adds its own to `privmon_sink_events_total`).
#[derive(Default)]
pub struct Scrape {
    lost: Vec<(String, u64)>,
    families: Vec<MetricFamily>,
    counters: BTreeMap<&'static str, IntCounterVec>,
    gauges: BTreeMap<&'static str, IntGaugeVec>,
}

impl Scrape {
    /// Events lost at `stage` (a label of `privmon_events_lost_total`).
    pub fn lost(&mut self, stage: impl Into<String>, n: u64) {
        self.lost.push((stage.into(), n));
    }

    /// An unlabelled counter.
    pub fn counter(&mut self, name: &str, help: &str, v: u64) -> anyhow::Result<()> {
        self.families.extend(counter(name, help, v)?);
        Ok(())
    }

    /// An unlabelled gauge.
    pub fn gauge(&mut self, name: &str, help: &str, v: i64) -> anyhow::Result<()> {
        self.families.extend(gauge(name, help, v)?);
        Ok(())
    }

    /// One series of the labelled counter `name` (made with `help` and the label names
    /// of `labels` at its first series; a family with no series is not rendered).
    pub fn counter_series(
        &mut self,
        name: &'static str,
        help: &str,
        labels: &[(&str, &str)],
        v: u64,
    ) -> anyhow::Result<()> {
        let family = family(&mut self.counters, name, labels, |names| {
            IntCounterVec::new(Opts::new(name, help), names)
        })?;
        family
            .get_metric_with_label_values(&values(labels))?
            .inc_by(v);
        Ok(())
    }

    /// One series of the labelled gauge `name`, as [`Scrape::counter_series`].
    pub fn gauge_series(
        &mut self,
        name: &'static str,
        help: &str,
        labels: &[(&str, &str)],
        v: i64,
    ) -> anyhow::Result<()> {
        let family = family(&mut self.gauges, name, labels, |names| {
            IntGaugeVec::new(Opts::new(name, help), names)
        })?;
        family.get_metric_with_label_values(&values(labels))?.set(v);
        Ok(())
    }

    /// What was gathered: the lost stages, and every family.
    pub fn finish(self) -> (Vec<(String, u64)>, Vec<MetricFamily>) {
        let mut families = self.families;
        families.extend(self.counters.values().flat_map(|c| c.collect()));
        families.extend(self.gauges.values().flat_map(|g| g.collect()));
        (self.lost, families)
    }
}

/// The labelled family `name` of `families`, made by `make` from the label names of
/// `labels` at its first series.
fn family<'a, V>(
    families: &'a mut BTreeMap<&'static str, V>,
    name: &'static str,
    labels: &[(&str, &str)],
    make: impl FnOnce(&[&str]) -> prometheus::Result<V>,
) -> anyhow::Result<&'a V> {
    Ok(match families.entry(name) {
        std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::btree_map::Entry::Vacant(e) => {
            let names: Vec<&str> = labels.iter().map(|(n, _)| *n).collect();
            e.insert(make(&names)?)
        }
    })
}

/// The label values of a series.
fn values<'a>(labels: &[(&str, &'a str)]) -> Vec<&'a str> {
    labels.iter().map(|(_, v)| *v).collect()
}

/// The family of one unlabelled gauge.
pub fn gauge(name: &str, help: &str, v: i64) -> anyhow::Result<Vec<MetricFamily>> {
    let g = prometheus::IntGauge::new(name, help)?;
    g.set(v);
    Ok(g.collect())
}

/// The family of one unlabelled counter.
pub fn counter(name: &str, help: &str, v: u64) -> anyhow::Result<Vec<MetricFamily>> {
    let c = prometheus::IntCounter::new(name, help)?;
    c.inc_by(v);
    Ok(c.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_add_series_to_one_family() {
        let mut s = Scrape::default();
        s.counter_series("x_total", "X.", &[("sink", "file")], 3)
            .unwrap();
        s.counter_series("x_total", "X.", &[("sink", "stdout")], 4)
            .unwrap();
        s.lost("sink_file", 1);
        let (lost, families) = s.finish();
        assert_eq!(lost, [("sink_file".to_string(), 1)]);
        assert_eq!(families.len(), 1);
        assert_eq!(families[0].get_metric().len(), 2);
        // A series whose labels differ from the family's is an error, not a panic.
        let mut s = Scrape::default();
        s.counter_series("y_total", "Y.", &[("a", "1")], 1).unwrap();
        assert!(s.counter_series("y_total", "Y.", &[], 1).is_err());
    }
}
