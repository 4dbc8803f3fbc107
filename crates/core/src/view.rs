//! Zero-copy visits over families and series: the one read API that exporters,
//! the HTTP API and the store all use.

use std::sync::Arc;
use std::time::Duration;

use crate::family::{AnySeries, Family, SeriesList, SeriesRef};
use crate::intern::Sym;
use crate::retention::{Geometry, Retention};
use crate::sketch::SketchMapping;
use crate::storage::{
    CounterCore, GaugeCore, HistogramCore, SeriesState, Span, SummaryCore, TimeRange,
};
use crate::{Describe, Filter, MetricKind, Registry};

/// One family as seen by a visit: its metadata and its selected series.
pub struct FamilyView<'a> {
    family: &'a Family,
    series: &'a SeriesList,
    filter: &'a Filter,
    now: u64,
}

/// A series' state, by kind.
#[derive(Debug, Clone, Copy)]
pub enum SeriesData<'a> {
    /// A counter.
    Counter(&'a CounterCore),
    /// A gauge.
    Gauge(&'a GaugeCore),
    /// A histogram.
    Histogram(&'a HistogramCore),
    /// A summary.
    Summary(&'a SummaryCore),
}

/// One series as seen by a visit.
#[derive(Clone, Copy)]
pub struct SeriesView<'a> {
    series: SeriesRef<'a>,
    now: u64,
    range: TimeRange,
}

impl<'a> FamilyView<'a> {
    /// The metric name.
    pub fn name(&self) -> &'a str {
        self.family.name.as_str()
    }

    /// The kind.
    pub fn kind(&self) -> MetricKind {
        self.family.kind
    }

    /// The HELP text (empty if none was given).
    pub fn help(&self) -> &'a str {
        &self.family.help
    }

    /// The unit, if one was given.
    pub fn unit(&self) -> Option<&'a str> {
        self.family.unit.as_deref()
    }

    /// Histogram bucket upper bounds (`+Inf` implied).
    pub fn bucket_bounds(&self) -> &'a [f64] {
        self.family.buckets.bounds()
    }

    /// A histogram family's native bucket configuration, if it has native
    /// buckets (`Describe::native`).
    pub fn native(&self) -> Option<crate::NativeConfig> {
        self.family.native
    }

    /// Summary objectives.
    pub fn objectives(&self) -> &'a [f64] {
        &self.family.objectives
    }

    /// The summary sketch mapping.
    pub fn sketch(&self) -> &'a SketchMapping {
        &self.family.mapping
    }

    /// The family's retention.
    pub fn retention(&self) -> Retention {
        self.family.retention
    }

    /// The ring shape of the family's series.
    pub fn geometry(&self) -> Geometry {
        self.family.geometry
    }

    /// The series' idle time-to-live, if any.
    pub fn idle_ttl(&self) -> Option<Duration> {
        self.family.idle_ttl
    }

    /// The time of the visit (ns since the Unix epoch).
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Most series the family may hold.
    pub fn max_series(&self) -> usize {
        self.family.max_series
    }

    /// The family's full description, as [`Registry::register`] takes it (stores
    /// save it to register the family again on restore).
    pub fn describe(&self) -> Describe {
        self.family.describe()
    }

    /// The selected series: label matchers hold, idle ones left out unless the
    /// filter asks for them; in creation order, the overflow series last.
    pub fn series(&self) -> impl Iterator<Item = SeriesView<'a>> + 'a {
        let (family, filter, now) = (self.family, self.filter, self.now);
        self.series
            .iter()
            .chain(family.overflow.get().map(AnySeries::as_ref))
            .filter(move |s| selected(family, filter, *s, now))
            .map(move |s| SeriesView {
                series: s,
                now,
                range: filter.range,
            })
    }
}

#[inline]
fn selected(family: &Family, filter: &Filter, s: SeriesRef<'_>, now: u64) -> bool {
    // The common export (no TTL, no matchers) checks nothing per series.
    (filter.include_idle || family.idle_ttl.is_none() || !family.is_idle(s.last_active(), now))
        && (filter.labels.is_empty()
            || filter.matches_labels(s.labels().iter().map(|(k, v)| (k.as_str(), v.as_str()))))
}

/// Iterator over a series' labels, sorted by name.
#[derive(Debug, Clone)]
pub struct Labels<'a>(std::slice::Iter<'a, (Sym, Sym)>);

impl<'a> Iterator for Labels<'a> {
    type Item = (&'a str, &'a str);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for Labels<'_> {}

impl<'a> SeriesView<'a> {
    /// The labels, sorted by name.
    #[inline]
    pub fn labels(&self) -> Labels<'a> {
        Labels(self.series.labels().iter())
    }

    /// The state.
    pub fn data(&self) -> SeriesData<'a> {
        match self.series {
            SeriesRef::Counter(s) => SeriesData::Counter(&s.0.core),
            SeriesRef::Gauge(s) => SeriesData::Gauge(&s.0.core),
            SeriesRef::Histogram(s) => SeriesData::Histogram(&s.0.core),
            SeriesRef::Summary(s) => SeriesData::Summary(&s.0.core),
        }
    }

    /// When the series was created (ns since the Unix epoch).
    pub fn created(&self) -> u64 {
        self.series.created()
    }

    /// Start of the newest epoch in which the series was created or recorded.
    pub fn last_active(&self) -> u64 {
        self.series.last_active().0
    }

    /// The time of the visit.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// The series' full saved state (cumulative values and every retained slot),
    /// for checkpoints; see [`Registry::restore_series`].
    pub fn state(&self) -> SeriesState {
        let (epochs, data) = match self.data() {
            SeriesData::Counter(c) => c.capture(self.now),
            SeriesData::Gauge(g) => g.capture(self.now),
            SeriesData::Histogram(h) => h.capture(self.now),
            SeriesData::Summary(s) => s.capture(self.now),
        };
        SeriesState {
            created: self.created(),
            epochs,
            data,
        }
    }

    /// The span that windowed answers over `window` cover at the time of the
    /// visit (see [`Span`]).
    pub fn span(&self, window: Duration) -> Span {
        crate::storage::window::window_span(
            &self.series.geometry(),
            self.now,
            window,
            self.created(),
        )
    }

    /// The history range the filter selected.
    pub fn range(&self) -> TimeRange {
        self.range
    }

    /// The epochs a history export lists for this series at the time of the
    /// visit, one value per epoch: those that overlap the filter's range, from
    /// the epoch the series was created in (or the oldest one retained, if
    /// later) to the current one. Empty for a series without history
    /// ([`Retention::NONE`]) or when the range selects no retained epoch.
    ///
    /// Readers give history points only within the retained epochs up to the
    /// current one, and a series records nothing before it is created, so every
    /// point the range selects lies in these epochs; only a clock that went back
    /// to before the series' creation could have put points earlier, and those
    /// are left out (a [`Span`] does not start before the creation either).
    /// While the clock is behind the creation, this is the current epoch only.
    pub fn history_epochs(&self) -> std::ops::Range<u64> {
        let g = self.series.geometry();
        if g.is_lifetime() {
            return 0..0;
        }
        let now_e = g.epoch(self.now);
        let mut first = g
            .oldest_retained(now_e)
            .max(g.epoch(self.created().min(self.now)));
        let mut last = now_e;
        if let Some(s) = self.range.start {
            first = first.max(g.epoch(s));
        }
        if let Some(e) = self.range.end {
            last = last.min(g.epoch(e));
        }
        first..last.saturating_add(1).max(first)
    }
}

impl Registry {
    /// Calls `f` for each family the filter selects that has at least one selected
    /// series, in name order. Idle series no handle holds are reclaimed on the way.
    ///
    /// The visitor may record into and look up existing series; it must not create
    /// new series of the family it is visiting (that would wait on the family's
    /// list, which the visit is reading).
    ///
    /// ```
    /// use lakemetrics_core::{Filter, Registry, SeriesData};
    /// let reg = Registry::new();
    /// reg.counter("rows", &[("handler", "csv")]).unwrap().inc_by(3);
    /// reg.counter("rows", &[("handler", "json")]).unwrap().inc_by(4);
    /// let mut seen = Vec::new();
    /// reg.visit(&Filter::all().label_eq("handler", "json"), |fam| {
    ///     for s in fam.series() {
    ///         if let SeriesData::Counter(c) = s.data() {
    ///             seen.push((fam.name().to_string(), c.total()));
    ///         }
    ///     }
    /// });
    /// assert_eq!(seen, [("rows".to_string(), 4)]);
    /// ```
    pub fn visit(&self, filter: &Filter, mut f: impl FnMut(&FamilyView<'_>)) {
        let now = self.now_nanos();
        let families: Vec<Arc<Family>> = {
            let all = self.inner.families.read();
            let mut v = Vec::with_capacity(all.len());
            v.extend(
                all.values()
                    .filter(|fam| {
                        filter.matches_name(&fam.name) && filter.kind.is_none_or(|k| k == fam.kind)
                    })
                    .cloned(),
            );
            v
        };
        for family in families {
            let mut idle = false;
            {
                let list = family.series.read_recursive();
                if family.idle_ttl.is_some() {
                    idle = list.iter().any(|s| family.is_idle(s.last_active(), now));
                }
                let view = FamilyView {
                    family: &family,
                    series: &list,
                    filter,
                    now,
                };
                if view.series().next().is_some() {
                    f(&view);
                }
            }
            if idle {
                self.reclaim(&family, now);
            }
        }
    }
}
