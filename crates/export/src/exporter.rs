//! The streaming exporter: one family at a time into any `io::Write`.

use std::io::{self, Write};
use std::time::{Duration, SystemTime};

use lakemetrics_core::{FamilyView, Filter, Registry, TimeRange};

use crate::text::{self, Dialect, Scratch};
use crate::{json, protobuf, Format};

/// Writes families to `W` in one [`Format`], one family at a time, without
/// allocating per series or sample.
///
/// Each family is written as soon as the registry's visit reaches it, and is
/// wholly in `W` when [`Exporter::write_family`] returns: the text formats
/// write straight into `W`, JSON through a staging buffer of about 32 KiB. So
/// exporting a million series through a socket or file needs no more memory
/// than that and the largest label set. Protobuf is the exception: a
/// `MetricFamily` carries its length in front, so each family is encoded
/// whole into a reused buffer first (memory: the largest family's encoding).
/// [`Exporter::write_registry_with`] calls back after each family, for a caller
/// that writes into a reused `Vec<u8>` and hands each family's bytes on (an HTTP
/// body channel, a compressor) before clearing it.
///
/// The text formats' writes are small (a name, a label, a number): give an
/// unbuffered `W` (a `File`, a `TcpStream`) a `std::io::BufWriter`.
///
/// The few buffers the exporter keeps (the current series' escaped labels, the
/// current family's `le`/`quantile` strings; for JSON, a staging buffer of
/// about 40 KiB and two history columns) are reused, so they allocate only
/// while growing to the largest seen; keep one `Exporter` to reuse them across
/// exports, or build one per export.
///
/// ```
/// use lakemetrics_core::{Filter, Registry};
/// use lakemetrics_export::{Exporter, Format};
///
/// let reg = Registry::new();
/// reg.counter("rows", &[("handler", "csv")]).unwrap().inc_by(3);
/// reg.gauge("queue_depth", &[]).unwrap().set(7.0);
///
/// // Stream family by family: here, count the bytes of each as it is written.
/// let mut sizes = Vec::new();
/// let mut exporter = Exporter::new(Format::OpenMetrics, Vec::new());
/// exporter
///     .write_registry_with(&reg, &Filter::all(), |buf: &mut Vec<u8>| {
///         sizes.push(buf.len());
///         buf.clear(); // e.g. after sending the bytes on
///         Ok(())
///     })
///     .unwrap();
/// let tail = exporter.finish().unwrap();
/// assert_eq!(sizes.len(), 2);
/// assert_eq!(tail, b"# EOF\n");
/// ```
#[derive(Debug)]
pub struct Exporter<W: Write> {
    out: W,
    format: Format,
    scratch: Scratch,
    json: json::Scratch,
    protobuf: protobuf::Scratch,
    families: usize,
    /// JSON: whether the opening (with the time and range) has been written.
    opened: bool,
    /// JSON: the window of summaries' windowed quantile columns, if asked.
    quantile_window: Option<Duration>,
}

impl<W: Write> Exporter<W> {
    /// An exporter writing `format` into `out`. Allocates nothing.
    pub fn new(format: Format, out: W) -> Exporter<W> {
        Exporter {
            out,
            format,
            scratch: Scratch::default(),
            json: json::Scratch::default(),
            protobuf: protobuf::Scratch::default(),
            families: 0,
            opened: false,
            quantile_window: None,
        }
    }

    /// JSON only (the text formats ignore it): with `Some(window)`, every
    /// summary family also gives `quantile_window_ms`, and every summary
    /// series' history two more columns, one value per epoch like the others:
    /// `window_quantiles`, the objectives' quantiles over the window that ends
    /// with the epoch (the epoch and the ones before it that `(end of the
    /// epoch - window, end of the epoch]` touches, as far back as history is
    /// retained; see
    /// [`SummaryCore::for_each_window_quantiles`](lakemetrics_core::SummaryCore::for_each_window_quantiles)),
    /// and `window_count`, the observations in that window. Histogram
    /// families with native buckets do the same from their native history
    /// ([`NativeCore::for_each_window_quantiles`](lakemetrics_core::NativeCore::for_each_window_quantiles)),
    /// with `objectives` [`NATIVE_WINDOW_OBJECTIVES`](crate::NATIVE_WINDOW_OBJECTIVES)
    /// beside `quantile_window_ms`. `None` (the default) writes neither.
    ///
    /// ```
    /// use std::time::Duration;
    /// use lakemetrics_core::{Filter, Registry};
    /// use lakemetrics_export::{Exporter, Format};
    ///
    /// let reg = Registry::new();
    /// reg.summary("latency_seconds", &[]).unwrap().observe(0.25);
    /// let mut exporter = Exporter::new(Format::Json, Vec::new())
    ///     .quantile_window(Some(Duration::from_secs(30)));
    /// exporter.write_registry(&reg, &Filter::all()).unwrap();
    /// let json = String::from_utf8(exporter.finish().unwrap()).unwrap();
    /// assert!(json.contains("\"quantile_window_ms\":30000"));
    /// assert!(json.contains("\"window_count\":[1]"));
    /// ```
    pub fn quantile_window(mut self, window: Option<Duration>) -> Exporter<W> {
        self.quantile_window = window;
        self
    }

    /// The format being written.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Families written so far.
    pub fn families_written(&self) -> usize {
        self.families
    }

    /// The writer.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// The writer, mutably: for example to drain a `Vec<u8>` between families.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Writes every family `filter` selects, in name order, each as one block.
    ///
    /// Call [`Exporter::finish`] afterwards to end the output (OpenMetrics' `# EOF`,
    /// JSON's closing brackets). Errors from the writer are returned once the
    /// visit is over; the families after the first error are skipped.
    pub fn write_registry(&mut self, reg: &Registry, filter: &Filter) -> io::Result<()> {
        self.write_registry_with(reg, filter, |_| Ok(()))
    }

    /// Like [`Exporter::write_registry`], calling `after_family` with the writer
    /// after each family is written: to flush it, or to hand on and clear a
    /// buffer, so that a very large registry never sits in memory as a whole.
    pub fn write_registry_with<F>(
        &mut self,
        reg: &Registry,
        filter: &Filter,
        mut after_family: F,
    ) -> io::Result<()>
    where
        F: FnMut(&mut W) -> io::Result<()>,
    {
        if self.format == Format::Json && !self.opened {
            self.open_json(reg.now_nanos(), filter.range)?;
        }
        let mut err: Option<io::Error> = None;
        reg.visit(filter, |fam| {
            if err.is_some() {
                return;
            }
            let written = self
                .write_family(fam)
                .and_then(|()| after_family(&mut self.out));
            if let Err(e) = written {
                err = Some(e);
            }
        });
        err.map_or(Ok(()), Err)
    }

    /// Writes one family: for a caller running its own
    /// [`Registry::visit`](lakemetrics_core::Registry::visit).
    ///
    /// The families of one export must have distinct names (a visit gives each
    /// once). In JSON, the first family written opens the output with its visit's
    /// time and time range, unless [`Exporter::write_registry`] did already.
    pub fn write_family(&mut self, fam: &FamilyView<'_>) -> io::Result<()> {
        match self.format {
            Format::Prometheus => {
                text::write_family(&mut self.out, Dialect::Prometheus, fam, &mut self.scratch)?
            }
            Format::OpenMetrics => {
                text::write_family(&mut self.out, Dialect::OpenMetrics, fam, &mut self.scratch)?
            }
            Format::Json => {
                if !self.opened {
                    let range = fam.series().next().map(|s| s.range()).unwrap_or_default();
                    self.open_json(fam.now(), range)?;
                }
                json::write_family(
                    &mut self.out,
                    fam,
                    self.families == 0,
                    self.quantile_window,
                    &mut self.json,
                )?;
            }
            Format::Protobuf => protobuf::write_family(&mut self.out, fam, &mut self.protobuf)?,
        }
        self.families += 1;
        Ok(())
    }

    /// Ends the output (`# EOF` for OpenMetrics; the closing brackets for JSON,
    /// opened first if no family was written), flushes the writer and returns it.
    pub fn finish(mut self) -> io::Result<W> {
        match self.format {
            Format::Prometheus | Format::Protobuf => {}
            Format::OpenMetrics => text::write_eof(&mut self.out)?,
            Format::Json => {
                if !self.opened {
                    let now = SystemTime::now()
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .map_or(0, |d| d.as_nanos().min(u64::MAX as u128) as u64);
                    self.open_json(now, TimeRange::ALL)?;
                }
                json::write_footer(&mut self.out)?;
            }
        }
        self.out.flush()?;
        Ok(self.out)
    }

    fn open_json(&mut self, now: u64, range: TimeRange) -> io::Result<()> {
        json::write_header(&mut self.out, now, range, &mut self.json)?;
        self.opened = true;
        Ok(())
    }
}
