//! The two text formats: Prometheus text exposition 0.0.4 and OpenMetrics 1.0.0.
//!
//! They share their sample syntax and differ in a handful of rules, each marked
//! below with the dialect it belongs to:
//!
//! - metadata: 0.0.4 writes `# HELP` then `# TYPE`; OpenMetrics writes `# TYPE`,
//!   `# UNIT` (when the family name ends in `_<unit>`, as the spec requires of a
//!   unit), then `# HELP`. An empty HELP is left out in both.
//! - HELP escaping: OpenMetrics escapes `"` too (see [`crate::escape`]).
//! - counters: 0.0.4 names the family and its sample `<name>_total` (never
//!   doubling a `_total` the name already has); OpenMetrics names the family
//!   without `_total` and writes `<family>_total` and `<family>_created`.
//! - `_created` (OpenMetrics only) for counters, histograms and summaries.
//! - OpenMetrics forbids negative or NaN `_sum`s and negative quantile values;
//!   those samples are left out (for histograms with `_count`, which the spec
//!   ties to `_sum`); 0.0.4 writes every value.
//! - OpenMetrics ends with `# EOF`.
//!
//! Labels are written in the series' order (sorted by name), then `le` or
//! `quantile`, whose values use the canonical float form of [`Canonical`]. Core
//! refuses a series' own label named `le` on histograms or `quantile` on
//! summaries (`Error::ReservedLabel`), so those never clash.

use std::io::{self, Write};

use lakemetrics_core::{FamilyView, MetricKind, SeriesData, SeriesView};

use crate::escape::{write_help_0_0_4, write_quoted_escaped};
use crate::number::{write_f64, write_nanos_as_secs, write_u64, Canonical};

/// Which text format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// Prometheus text exposition format 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0.0.
    OpenMetrics,
}

/// Buffers reused across series and families, so that writing allocates only
/// while they grow to the largest label set and bucket layout seen.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// The current series' labels, escaped, without braces: `a="x",b="y"`.
    labels: Vec<u8>,
    /// The current family's canonical `le` or `quantile` values, concatenated.
    points: Vec<u8>,
    /// End offset of each value in `points`.
    ends: Vec<usize>,
}

impl Scratch {
    fn set_points(&mut self, values: &[f64]) {
        self.points.clear();
        self.ends.clear();
        // One allocation each for common layouts, instead of a doubling series.
        self.points.reserve(values.len() * 8);
        self.ends.reserve(values.len());
        for &v in values {
            self.points.extend_from_slice(Canonical::new(v).as_bytes());
            self.ends.push(self.points.len());
        }
    }

    fn point(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.points[start..self.ends[i]]
    }
}

/// Writes one family block: metadata, then every selected series.
pub(crate) fn write_family<W: Write + ?Sized>(
    out: &mut W,
    dialect: Dialect,
    fam: &FamilyView<'_>,
    scratch: &mut Scratch,
) -> io::Result<()> {
    let kind = fam.kind();
    let name = fam.name();
    // The metadata name, as (stem, suffix) to avoid building a string.
    let (stem, suffix) = match (kind, dialect) {
        (MetricKind::Counter, Dialect::Prometheus) => {
            if name.ends_with("_total") {
                (name, "")
            } else {
                (name, "_total")
            }
        }
        (MetricKind::Counter, Dialect::OpenMetrics) => match name.strip_suffix("_total") {
            Some(stem) if !stem.is_empty() => (stem, ""),
            _ => (name, ""),
        },
        _ => (name, ""),
    };
    write_metadata(out, dialect, fam, stem, suffix)?;
    match kind {
        MetricKind::Histogram => scratch.set_points(fam.bucket_bounds()),
        MetricKind::Summary => scratch.set_points(fam.objectives()),
        MetricKind::Counter | MetricKind::Gauge => {}
    }
    for series in fam.series() {
        match series.data() {
            SeriesData::Counter(c) => {
                let total = c.total();
                match dialect {
                    Dialect::Prometheus => {
                        write_name(out, stem, suffix)?;
                        write_labels_direct(out, &series)?;
                        write_u64(out, total)?;
                        out.write_all(b"\n")?;
                    }
                    Dialect::OpenMetrics => {
                        render_labels(&mut scratch.labels, &series);
                        let labels = &scratch.labels;
                        write_sample_head(out, stem, "_total", labels, None)?;
                        write_u64(out, total)?;
                        out.write_all(b"\n")?;
                        write_created(out, stem, labels, &series)?;
                    }
                }
            }
            SeriesData::Gauge(g) => {
                write_name(out, stem, "")?;
                write_labels_direct(out, &series)?;
                write_f64(out, g.get())?;
                out.write_all(b"\n")?;
            }
            SeriesData::Histogram(h) => {
                render_labels(&mut scratch.labels, &series);
                let (labels, scratch) = (&scratch.labels, &*scratch);
                let bounds = fam.bucket_bounds();
                h.with_cumulative(|counts, sum| -> io::Result<()> {
                    let mut cum = 0u64;
                    for (i, c) in counts.enumerate() {
                        cum = cum.wrapping_add(c);
                        let le = if i < bounds.len() {
                            scratch.point(i)
                        } else {
                            b"+Inf"
                        };
                        write_sample_head(out, stem, "_bucket", labels, Some((b"le", le)))?;
                        write_u64(out, cum)?;
                        out.write_all(b"\n")?;
                    }
                    // OpenMetrics: a histogram with negative thresholds, or whose
                    // sum went negative or NaN, has no `_sum`, and so no `_count`.
                    let with_sum = dialect == Dialect::Prometheus
                        || (bounds.first().is_none_or(|b| *b >= 0.0) && sum >= 0.0);
                    if with_sum {
                        write_sample_head(out, stem, "_sum", labels, None)?;
                        write_f64(out, sum)?;
                        out.write_all(b"\n")?;
                        write_sample_head(out, stem, "_count", labels, None)?;
                        write_u64(out, cum)?;
                        out.write_all(b"\n")?;
                    }
                    Ok(())
                })?;
                if dialect == Dialect::OpenMetrics {
                    write_created(out, stem, labels, &series)?;
                }
            }
            SeriesData::Summary(s) => {
                render_labels(&mut scratch.labels, &series);
                let labels = &scratch.labels;
                let window = fam.retention().window();
                let now = series.now();
                for (i, &q) in fam.objectives().iter().enumerate() {
                    let v = s.quantile(q, now, window);
                    // OpenMetrics: quantile values must not be negative.
                    if dialect == Dialect::OpenMetrics && v < 0.0 {
                        continue;
                    }
                    write_sample_head(
                        out,
                        stem,
                        "",
                        labels,
                        Some((b"quantile", scratch.point(i))),
                    )?;
                    write_f64(out, v)?;
                    out.write_all(b"\n")?;
                }
                let sum = s.sum();
                // OpenMetrics: `_sum` must be neither NaN nor negative.
                if dialect == Dialect::Prometheus || sum >= 0.0 {
                    write_sample_head(out, stem, "_sum", labels, None)?;
                    write_f64(out, sum)?;
                    out.write_all(b"\n")?;
                }
                write_sample_head(out, stem, "_count", labels, None)?;
                write_u64(out, s.count())?;
                out.write_all(b"\n")?;
                if dialect == Dialect::OpenMetrics {
                    write_created(out, stem, labels, &series)?;
                }
            }
        }
    }
    Ok(())
}

/// Writes the `# EOF` line that ends an OpenMetrics exposition.
pub(crate) fn write_eof<W: Write + ?Sized>(out: &mut W) -> io::Result<()> {
    out.write_all(b"# EOF\n")
}

/// The HELP text written for a family registered without one.
pub const DEFAULT_HELP: &str = "No description registered.";

fn write_metadata<W: Write + ?Sized>(
    out: &mut W,
    dialect: Dialect,
    fam: &FamilyView<'_>,
    stem: &str,
    suffix: &str,
) -> io::Result<()> {
    // A family registered without HELP text gets this one: an exposition
    // without HELP draws `promtool check metrics`' "no help text" lint.
    let help = match fam.help() {
        "" => DEFAULT_HELP,
        h => h,
    };
    let kind = fam.kind().as_str().as_bytes();
    match dialect {
        Dialect::Prometheus => {
            out.write_all(b"# HELP ")?;
            write_name(out, stem, suffix)?;
            out.write_all(b" ")?;
            write_help_0_0_4(out, help)?;
            out.write_all(b"\n")?;
            out.write_all(b"# TYPE ")?;
            write_name(out, stem, suffix)?;
            out.write_all(b" ")?;
            out.write_all(kind)?;
            out.write_all(b"\n")
        }
        Dialect::OpenMetrics => {
            out.write_all(b"# TYPE ")?;
            out.write_all(stem.as_bytes())?;
            out.write_all(b" ")?;
            out.write_all(kind)?;
            out.write_all(b"\n")?;
            if let Some(unit) = fam.unit().filter(|u| unit_suffixes(stem, u)) {
                out.write_all(b"# UNIT ")?;
                out.write_all(stem.as_bytes())?;
                out.write_all(b" ")?;
                out.write_all(unit.as_bytes())?;
                out.write_all(b"\n")?;
            }
            out.write_all(b"# HELP ")?;
            out.write_all(stem.as_bytes())?;
            out.write_all(b" ")?;
            write_quoted_escaped(out, help)?;
            out.write_all(b"\n")?;
            Ok(())
        }
    }
}

/// Whether `family` ends in `_<unit>`, as OpenMetrics requires of a UNIT line.
pub(crate) fn unit_suffixes(family: &str, unit: &str) -> bool {
    !unit.is_empty()
        && family.len() > unit.len()
        && family.ends_with(unit)
        && family.as_bytes()[family.len() - unit.len() - 1] == b'_'
}

#[inline]
fn write_name<W: Write + ?Sized>(out: &mut W, stem: &str, suffix: &str) -> io::Result<()> {
    out.write_all(stem.as_bytes())?;
    if !suffix.is_empty() {
        out.write_all(suffix.as_bytes())?;
    }
    Ok(())
}

/// Writes `{labels} ` (or a single space when there are none) straight from the
/// series: for kinds with one sample per series.
#[inline]
fn write_labels_direct<W: Write + ?Sized>(out: &mut W, series: &SeriesView<'_>) -> io::Result<()> {
    let mut first = true;
    for (k, v) in series.labels() {
        out.write_all(if first { b"{" } else { b"," })?;
        first = false;
        out.write_all(k.as_bytes())?;
        out.write_all(b"=\"")?;
        write_quoted_escaped(out, v)?;
        out.write_all(b"\"")?;
    }
    out.write_all(if first { b" " } else { b"} " })
}

/// Renders the series' labels into `buf` (`a="x",b="y"`), once for the several
/// samples of a histogram or summary series.
#[inline]
fn render_labels(buf: &mut Vec<u8>, series: &SeriesView<'_>) {
    buf.clear();
    if buf.capacity() == 0 {
        // Enough for most label sets: one allocation rather than a doubling series.
        buf.reserve(256);
    }
    for (k, v) in series.labels() {
        if !buf.is_empty() {
            buf.push(b',');
        }
        buf.extend_from_slice(k.as_bytes());
        buf.extend_from_slice(b"=\"");
        // Writing into a Vec cannot fail.
        let _ = write_quoted_escaped(buf, v);
        buf.push(b'"');
    }
}

/// Writes `<stem><suffix>{<labels>[,<extra>="<value>"]} `.
#[inline]
fn write_sample_head<W: Write + ?Sized>(
    out: &mut W,
    stem: &str,
    suffix: &str,
    labels: &[u8],
    extra: Option<(&[u8], &[u8])>,
) -> io::Result<()> {
    write_name(out, stem, suffix)?;
    match extra {
        Some((name, value)) => {
            out.write_all(b"{")?;
            if !labels.is_empty() {
                out.write_all(labels)?;
                out.write_all(b",")?;
            }
            out.write_all(name)?;
            out.write_all(b"=\"")?;
            out.write_all(value)?;
            out.write_all(b"\"} ")
        }
        None if labels.is_empty() => out.write_all(b" "),
        None => {
            out.write_all(b"{")?;
            out.write_all(labels)?;
            out.write_all(b"} ")
        }
    }
}

/// Writes the OpenMetrics `_created` sample: the series' creation time in seconds.
fn write_created<W: Write + ?Sized>(
    out: &mut W,
    stem: &str,
    labels: &[u8],
    series: &SeriesView<'_>,
) -> io::Result<()> {
    write_sample_head(out, stem, "_created", labels, None)?;
    write_nanos_as_secs(out, series.created())?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_must_be_a_suffix() {
        assert!(unit_suffixes("read_bytes", "bytes"));
        assert!(!unit_suffixes("readbytes", "bytes"));
        assert!(!unit_suffixes("bytes", "bytes"));
        assert!(unit_suffixes("_bytes", "bytes"));
        assert!(!unit_suffixes("read_bytes", ""));
        assert!(!unit_suffixes("read_seconds", "bytes"));
    }
}
