//! The registry the export benches build in every implementation, and the check
//! that an implementation's output holds all of it.
//!
//! Counters come in [`COUNTER_FAMILIES`] families named `requests_<f>`, each with
//! the same label sets: `handler` (`h000`, `h001`, ...) times `status` (`s0` to
//! `s9`), so label values repeat across series and families as in a real
//! service. An optional histogram family `latency_seconds` uses the same labels.
//! The peers' builders live in `benches/benches/peers/`; this module holds what
//! needs no peer.

use std::sync::Arc;
use std::time::Duration;

use lakemetrics_core::{Counter, Describe, ManualClock, Registry};

use crate::OBSERVATION_MASK;

/// Number of counter families.
pub const COUNTER_FAMILIES: usize = 10;
/// Distinct `status` values.
pub const STATUSES: usize = 10;
/// Observations per histogram series.
pub const HISTOGRAM_OBSERVATIONS: usize = 20;

/// Epochs of history [`history_registry`] records: the whole default window
/// (ten-second epochs over ten minutes).
pub const HISTORY_EPOCHS: usize = 60;
/// Width of one default epoch.
pub const EPOCH: Duration = Duration::from_secs(10);
/// The manual clock's start, on an epoch boundary (ns since the Unix epoch).
pub const T0: u64 = 1_700_000_000_000_000_000;

/// Label sets of every series, shared by all families of a kind.
#[derive(Debug, Clone)]
pub struct Shape {
    /// `(handler, status)` of every counter series, the same in each family.
    pub counter_labels: Vec<(String, String)>,
    /// `(handler, status)` of every histogram series (empty: no histogram family).
    pub histogram_labels: Vec<(String, String)>,
}

/// `handlers` x `statuses` label pairs, handler-major.
fn pairs(handlers: usize, statuses: usize) -> Vec<(String, String)> {
    let width = handlers.saturating_sub(1).to_string().len().max(3);
    (0..handlers)
        .flat_map(|h| (0..statuses).map(move |s| (format!("h{h:0width$}"), format!("s{s}"))))
        .collect()
}

impl Shape {
    /// The `export_text` registry (`benches/benches/export.rs`): 10 counter
    /// families of 100 x 10 series and one histogram family of 10 x 10 series;
    /// 10,100 series.
    pub fn export() -> Shape {
        Shape {
            counter_labels: pairs(100, STATUSES),
            histogram_labels: pairs(10, STATUSES),
        }
    }

    /// `series` counter series and no histograms: 10 families of `series / 100`
    /// handlers x 10 statuses. `counters(10_000)` is `export()` without its
    /// histogram family.
    ///
    /// # Panics
    ///
    /// If `series` is not a multiple of 100.
    pub fn counters(series: usize) -> Shape {
        let per_handler = COUNTER_FAMILIES * STATUSES;
        assert!(
            series.is_multiple_of(per_handler) && series > 0,
            "{series} is not a positive multiple of {per_handler}"
        );
        Shape {
            counter_labels: pairs(series / per_handler, STATUSES),
            histogram_labels: Vec::new(),
        }
    }

    /// The name of counter family `f`.
    pub fn counter_name(f: usize) -> String {
        format!("requests_{f}")
    }

    /// Value of the `i`-th series of counter family `f`.
    pub fn counter_value(f: usize, i: usize) -> u64 {
        (f * 7_919 + i * 104_729) as u64 % 1_000_003
    }

    /// The observations of histogram series `i`, drawn from `vals`
    /// ([`crate::observations`]).
    pub fn histogram_values(i: usize, vals: &[f64]) -> impl Iterator<Item = f64> + '_ {
        (0..HISTOGRAM_OBSERVATIONS)
            .map(move |k| vals[(i * HISTOGRAM_OBSERVATIONS + k) & OBSERVATION_MASK])
    }

    /// Counter series in the whole registry.
    pub fn counter_series(&self) -> usize {
        COUNTER_FAMILIES * self.counter_labels.len()
    }

    /// Series in the whole registry.
    pub fn series(&self) -> usize {
        self.counter_series() + self.histogram_labels.len()
    }

    /// Checks that `text` holds one sample line per counter series and a
    /// `_count` line per histogram series, so every implementation renders the
    /// same registry; prints its size.
    ///
    /// # Panics
    ///
    /// If `text` is not UTF-8 or any series is missing.
    pub fn check(&self, what: &str, text: &[u8]) {
        let text = std::str::from_utf8(text).expect("UTF-8");
        let (mut counters, mut histograms) = (0, 0);
        for l in text.lines() {
            if l.starts_with("requests_") {
                counters += 1;
            } else if l.starts_with("latency_seconds_count") {
                histograms += 1;
            }
        }
        assert_eq!(
            (counters, histograms),
            (self.counter_series(), self.histogram_labels.len()),
            "{what} output is missing series"
        );
        eprintln!(
            "{what}: {} bytes for {} series ({:.1} bytes per series)",
            text.len(),
            self.series(),
            text.len() as f64 / self.series() as f64
        );
    }

    /// A registry of this shape with room for every series, recorded into once.
    pub fn lakemetrics_registry(&self, vals: &[f64]) -> Registry {
        let reg = Registry::builder()
            .max_series(self.series())
            .max_series_per_family(self.counter_labels.len().max(self.histogram_labels.len()))
            .build();
        self.fill(&reg, vals);
        reg
    }

    /// Registers the families and records each series once; returns the counter
    /// handles, family-major.
    fn fill(&self, reg: &Registry, vals: &[f64]) -> Vec<Counter> {
        let mut counters = Vec::with_capacity(self.counter_series());
        for f in 0..COUNTER_FAMILIES {
            let name = Shape::counter_name(f);
            reg.register(Describe::counter(name.as_str()).help("Requests handled."))
                .unwrap();
            for (i, (h, s)) in self.counter_labels.iter().enumerate() {
                let c = reg
                    .counter(&name, &[("handler", h), ("status", s)])
                    .unwrap();
                c.inc_by(Shape::counter_value(f, i));
                counters.push(c);
            }
        }
        if !self.histogram_labels.is_empty() {
            reg.register(Describe::histogram("latency_seconds").help("Request latency."))
                .unwrap();
            for (i, (h, s)) in self.histogram_labels.iter().enumerate() {
                let hist = reg
                    .histogram("latency_seconds", &[("handler", h), ("status", s)])
                    .unwrap();
                Shape::histogram_values(i, vals).for_each(|v| hist.observe(v));
            }
        }
        counters
    }

    /// A registry of this shape on a [`ManualClock`] (default retention:
    /// ten-second epochs over ten minutes) in which every counter was recorded
    /// into in each of [`HISTORY_EPOCHS`] consecutive epochs, so each has a full
    /// window of history. The clock stays at the last of them.
    pub fn history_registry(&self, vals: &[f64]) -> Registry {
        let clock = Arc::new(ManualClock::new(T0));
        let reg = Registry::builder()
            .clock(clock.clone())
            .max_series(self.series())
            .max_series_per_family(self.counter_labels.len().max(self.histogram_labels.len()))
            .build();
        let counters = self.fill(&reg, vals);
        // Every round adds at least 1: an epoch in which a counter grew by 0 has
        // no history point (the first value of `requests_0{h000,s0}` is 0).
        for round in 0..HISTORY_EPOCHS {
            if round > 0 {
                clock.advance(EPOCH);
            }
            for (j, c) in counters.iter().enumerate() {
                c.inc_by(1 + ((j + round) % 7) as u64);
            }
        }
        reg
    }

    /// Checks that a JSON export of [`Shape::history_registry`] holds every
    /// series and [`HISTORY_EPOCHS`] points of each counter's history; prints
    /// its size.
    ///
    /// # Panics
    ///
    /// If `json` is not UTF-8 or a series or point is missing.
    pub fn check_json_history(&self, json: &[u8]) {
        let text = std::str::from_utf8(json).expect("UTF-8");
        let series = text.matches("{\"labels\":").count();
        // Each counter's history is a column `"increase":[v,v,..]`, one value per
        // epoch; every epoch had recordings, so none of them is 0.
        let points: usize = text
            .split("\"increase\":[")
            .skip(1)
            .map(|rest| {
                let column = &rest[..rest.find(']').expect("a closed column")];
                column
                    .split(',')
                    .filter(|v| !v.is_empty() && *v != "0")
                    .count()
            })
            .sum();
        assert_eq!(
            (series, points),
            (self.series(), self.counter_series() * HISTORY_EPOCHS),
            "JSON export is missing series or history points"
        );
        eprintln!(
            "lakemetrics_json: {} bytes for {} series ({:.1} bytes per series)",
            text.len(),
            self.series(),
            text.len() as f64 / self.series() as f64
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_have_the_documented_series() {
        assert_eq!(Shape::export().series(), 10_100);
        let s = Shape::counters(10_000);
        assert_eq!(s.series(), 10_000);
        assert_eq!(s.counter_labels, Shape::export().counter_labels);
        assert_eq!(Shape::counters(1_000_000).counter_labels[0].0, "h0000");
    }

    #[test]
    fn history_registry_exports_every_point() {
        let shape = Shape::counters(100);
        let reg = shape.history_registry(&crate::observations());
        let mut buf = Vec::new();
        lakemetrics_export::write_prometheus(&reg, &lakemetrics_core::Filter::all(), &mut buf)
            .unwrap();
        shape.check("lakemetrics", &buf);
        buf.clear();
        lakemetrics_export::write_json(&reg, &lakemetrics_core::Filter::all(), &mut buf).unwrap();
        shape.check_json_history(&buf);
    }
}
