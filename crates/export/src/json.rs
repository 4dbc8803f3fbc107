//! The JSON export: one object per export, one per family, one per series, with
//! the cumulative values and the per-epoch history the filter's time range selects.
//!
//! The schema is documented, with an example, in `docs/formats.md`. In short:
//!
//! ```text
//! {"timestamp_ms":T,"start_ms":S|null,"end_ms":E|null,"families":[
//!   {"name":..,"kind":..,"help":..,"unit":..|null,"resolution_ms":R,
//!    ["bounds":[..]]  ["objectives":[..],"window_ms":W]
//!    "series":[{"labels":{..},"created_ms":C, <values>, "history":[<points>]}]}]}
//! ```
//!
//! Times are milliseconds since the Unix epoch (a fraction only when not a whole
//! millisecond). Floats are JSON numbers, except NaN and infinities, which JSON
//! cannot represent and which are written as the strings `"NaN"`, `"+Inf"`,
//! `"-Inf"`.

use std::io::{self, Write};

use lakemetrics_core::{FamilyView, SeriesData, TimeRange};

use crate::escape::write_json_string;
use crate::number::{non_finite, write_nanos_as_millis, write_u64};

/// Writes the opening of the export object, up to the `families` array's `[`.
pub(crate) fn write_header<W: Write + ?Sized>(
    out: &mut W,
    now: u64,
    range: TimeRange,
) -> io::Result<()> {
    out.write_all(b"{\"timestamp_ms\":")?;
    write_nanos_as_millis(out, now)?;
    out.write_all(b",\"start_ms\":")?;
    write_opt_millis(out, range.start)?;
    out.write_all(b",\"end_ms\":")?;
    write_opt_millis(out, range.end)?;
    out.write_all(b",\"families\":[")
}

/// Closes the `families` array and the export object.
pub(crate) fn write_footer<W: Write + ?Sized>(out: &mut W) -> io::Result<()> {
    out.write_all(b"]}\n")
}

/// Writes one family object, preceded by a comma unless it is the first.
pub(crate) fn write_family<W: Write + ?Sized>(
    out: &mut W,
    fam: &FamilyView<'_>,
    first: bool,
) -> io::Result<()> {
    if !first {
        out.write_all(b",")?;
    }
    out.write_all(b"{\"name\":")?;
    write_json_string(out, fam.name())?;
    out.write_all(b",\"kind\":\"")?;
    out.write_all(fam.kind().as_str().as_bytes())?;
    out.write_all(b"\",\"help\":")?;
    write_json_string(out, fam.help())?;
    out.write_all(b",\"unit\":")?;
    match fam.unit() {
        Some(u) => write_json_string(out, u)?,
        None => out.write_all(b"null")?,
    }
    out.write_all(b",\"resolution_ms\":")?;
    write_nanos_as_millis(out, fam.geometry().width_nanos())?;
    match fam.kind() {
        lakemetrics_core::MetricKind::Histogram => {
            out.write_all(b",\"bounds\":")?;
            write_f64_array(out, fam.bucket_bounds().iter().copied())?;
        }
        lakemetrics_core::MetricKind::Summary => {
            out.write_all(b",\"objectives\":")?;
            write_f64_array(out, fam.objectives().iter().copied())?;
            out.write_all(b",\"window_ms\":")?;
            let w = fam.retention().window().as_nanos().min(u64::MAX as u128) as u64;
            write_nanos_as_millis(out, w)?;
        }
        _ => {}
    }
    out.write_all(b",\"series\":[")?;
    let objectives = fam.objectives();
    let window = fam.retention().window();
    for (i, series) in fam.series().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        out.write_all(b"{\"labels\":{")?;
        for (j, (k, v)) in series.labels().enumerate() {
            if j > 0 {
                out.write_all(b",")?;
            }
            write_json_string(out, k)?;
            out.write_all(b":")?;
            write_json_string(out, v)?;
        }
        out.write_all(b"},\"created_ms\":")?;
        write_nanos_as_millis(out, series.created())?;
        let (now, range) = (series.now(), series.range());
        let mut err: Option<io::Error> = None;
        match series.data() {
            SeriesData::Counter(c) => {
                out.write_all(b",\"total\":")?;
                write_u64(out, c.total())?;
                out.write_all(b",\"history\":[")?;
                let mut first = true;
                c.for_each_point(now, range, |p| {
                    guard(&mut err, || {
                        point_start(out, &mut first, p.start)?;
                        out.write_all(b",\"increase\":")?;
                        write_u64(out, p.increase)?;
                        out.write_all(b"}")
                    });
                });
            }
            SeriesData::Gauge(g) => {
                out.write_all(b",\"value\":")?;
                write_json_f64(out, g.get())?;
                out.write_all(b",\"history\":[")?;
                let mut first = true;
                g.for_each_point(now, range, |p| {
                    guard(&mut err, || {
                        point_start(out, &mut first, p.start)?;
                        out.write_all(b",\"last\":")?;
                        write_json_f64(out, p.last)?;
                        out.write_all(b",\"min\":")?;
                        write_json_f64(out, p.min)?;
                        out.write_all(b",\"max\":")?;
                        write_json_f64(out, p.max)?;
                        out.write_all(b"}")
                    });
                });
            }
            SeriesData::Histogram(h) => {
                h.with_cumulative(|counts, sum| -> io::Result<()> {
                    out.write_all(b",\"buckets\":[")?;
                    let count = write_cumulative(out, counts)?;
                    out.write_all(b"],\"count\":")?;
                    write_u64(out, count)?;
                    out.write_all(b",\"sum\":")?;
                    write_json_f64(out, sum)
                })?;
                out.write_all(b",\"history\":[")?;
                let mut first = true;
                h.for_each_point(now, range, |p| {
                    guard(&mut err, || {
                        point_start(out, &mut first, p.start)?;
                        out.write_all(b",\"buckets\":[")?;
                        let count = write_cumulative(out, &mut p.counts.iter().copied())?;
                        out.write_all(b"],\"count\":")?;
                        write_u64(out, count)?;
                        out.write_all(b",\"sum\":")?;
                        write_json_f64(out, p.sum)?;
                        out.write_all(b"}")
                    });
                });
            }
            SeriesData::Summary(s) => {
                out.write_all(b",\"quantiles\":")?;
                write_f64_array(out, objectives.iter().map(|&q| s.quantile(q, now, window)))?;
                out.write_all(b",\"count\":")?;
                write_u64(out, s.count())?;
                out.write_all(b",\"sum\":")?;
                write_json_f64(out, s.sum())?;
                out.write_all(b",\"history\":[")?;
                let mut first = true;
                s.for_each_point(now, range, |p| {
                    guard(&mut err, || {
                        point_start(out, &mut first, p.start)?;
                        out.write_all(b",\"quantiles\":")?;
                        write_f64_array(out, objectives.iter().map(|&q| p.quantile(q)))?;
                        out.write_all(b",\"count\":")?;
                        write_u64(out, p.count)?;
                        out.write_all(b",\"sum\":")?;
                        write_json_f64(out, p.sum)?;
                        out.write_all(b"}")
                    });
                });
            }
        }
        if let Some(e) = err {
            return Err(e);
        }
        out.write_all(b"]}")?;
    }
    out.write_all(b"]}")
}

/// Runs `f` unless an earlier point failed, keeping the first error: the history
/// callbacks cannot stop the walk early, so later points are skipped instead.
#[inline]
fn guard(err: &mut Option<io::Error>, f: impl FnOnce() -> io::Result<()>) {
    if err.is_none() {
        if let Err(e) = f() {
            *err = Some(e);
        }
    }
}

/// Writes `{"start_ms":<start>`, preceded by a comma unless first.
#[inline]
fn point_start<W: Write + ?Sized>(out: &mut W, first: &mut bool, start: u64) -> io::Result<()> {
    out.write_all(if *first { b"{" } else { b",{" })?;
    *first = false;
    out.write_all(b"\"start_ms\":")?;
    write_nanos_as_millis(out, start)
}

/// Writes the running sums of `counts`, comma-separated; returns the total.
#[inline]
fn write_cumulative<W: Write + ?Sized>(
    out: &mut W,
    counts: &mut dyn Iterator<Item = u64>,
) -> io::Result<u64> {
    let mut cum = 0u64;
    for (i, c) in counts.enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        cum = cum.wrapping_add(c);
        write_u64(out, cum)?;
    }
    Ok(cum)
}

fn write_f64_array<W: Write + ?Sized>(
    out: &mut W,
    values: impl Iterator<Item = f64>,
) -> io::Result<()> {
    out.write_all(b"[")?;
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        write_json_f64(out, v)?;
    }
    out.write_all(b"]")
}

/// A finite float as a JSON number (ryu); NaN and infinities as strings.
#[inline]
fn write_json_f64<W: Write + ?Sized>(out: &mut W, v: f64) -> io::Result<()> {
    if v.is_finite() {
        let mut buf = ryu::Buffer::new();
        out.write_all(buf.format_finite(v).as_bytes())
    } else {
        out.write_all(b"\"")?;
        out.write_all(non_finite(v).as_bytes())?;
        out.write_all(b"\"")
    }
}

fn write_opt_millis<W: Write + ?Sized>(out: &mut W, nanos: Option<u64>) -> io::Result<()> {
    match nanos {
        Some(n) => write_nanos_as_millis(out, n),
        None => out.write_all(b"null"),
    }
}
