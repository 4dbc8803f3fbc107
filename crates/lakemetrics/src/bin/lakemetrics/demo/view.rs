//! The live per-handler view and the closing summary.
//!
//! The view fits the terminal's width, read each frame (so a resize takes
//! effect at the next one): columns are dropped, least useful first, until a
//! row fits, and the title is shortened. A line as wide as the terminal would
//! wrap, and the cursor-up that redraws a frame in place counts lines as
//! printed, so wrapped lines would pile up; hence every line stays narrower.

use std::fmt::Write as _;
use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use lakemetrics::handler::{Health, Totals};
use lakemetrics::HandlerMetrics;

/// Redraws in place on a terminal; elsewhere (a pipe, a log) prints each frame
/// after the last, with every column.
pub struct LiveView {
    window: Duration,
    tty: bool,
    drawn_lines: usize,
}

impl LiveView {
    pub fn new(window: Duration) -> LiveView {
        LiveView {
            window,
            tty: io::stdout().is_terminal(),
            drawn_lines: 0,
        }
    }

    /// Draws one frame for `handlers` at `elapsed` into the run.
    pub fn draw(&mut self, elapsed: Duration, handlers: &[HandlerMetrics]) -> io::Result<()> {
        let width = if self.tty {
            terminal_size::terminal_size_of(io::stdout()).map_or(80, |(w, _)| usize::from(w.0))
        } else {
            usize::MAX
        };
        let rows: Vec<(&str, Health)> = handlers
            .iter()
            .map(|h| (h.handler(), h.health(self.window)))
            .collect();
        let frame = frame(width, elapsed, self.window, &rows);
        let mut out = io::stdout().lock();
        if self.tty && self.drawn_lines > 0 {
            // Up to the previous frame's first line, then clear to the end.
            write!(out, "\x1b[{}A\x1b[J", self.drawn_lines)?;
        } else if self.drawn_lines > 0 {
            writeln!(out)?;
        }
        out.write_all(frame.as_bytes())?;
        out.flush()?;
        self.drawn_lines = frame.lines().count();
        Ok(())
    }
}

fn millis(d: Option<Duration>) -> String {
    d.map_or_else(
        || "-".to_string(),
        |d| format!("{:.1}", d.as_secs_f64() * 1e3),
    )
}

/// One column of the live view: header, width, and the cell of a row.
struct Column {
    header: &'static str,
    width: usize,
    cell: fn(&Health) -> String,
}

/// Left to right as shown; `KEEP` says which go first when the width is short.
const COLUMNS: [Column; 8] = [
    Column {
        header: "batches/s",
        width: 9,
        cell: |h| format!("{:.1}", h.throughput.batches_per_second),
    },
    Column {
        header: "records/s",
        width: 11,
        cell: |h| format!("{:.0}", h.throughput.records_per_second),
    },
    Column {
        header: "MiB/s",
        width: 8,
        cell: |h| format!("{:.2}", h.bytes_per_second / (1024.0 * 1024.0)),
    },
    Column {
        header: "errors",
        width: 7,
        cell: |h| format!("{:.1}%", h.error_ratio * 100.0),
    },
    Column {
        header: "p50 ms",
        width: 8,
        cell: |h| millis(h.latency.p50),
    },
    Column {
        header: "p99 ms",
        width: 8,
        cell: |h| millis(h.latency.p99),
    },
    Column {
        header: "queue",
        width: 6,
        cell: |h| h.queue_depth.to_string(),
    },
    Column {
        header: "peak",
        width: 5,
        cell: |h| h.peak_queue_depth.to_string(),
    },
];

/// Indices into `COLUMNS`, most useful first: what a narrow terminal keeps.
const KEEP: [usize; 8] = [0, 3, 5, 1, 6, 4, 2, 7];

/// The handler column's width.
const NAME: usize = 10;

/// One frame of the live view for a terminal `width` columns wide (`usize::MAX`
/// for no limit): every line is narrower than `width`.
pub fn frame(width: usize, elapsed: Duration, window: Duration, rows: &[(&str, Health)]) -> String {
    let limit = width.saturating_sub(1);
    let mut shown = [false; COLUMNS.len()];
    let mut used = NAME;
    for &i in &KEEP {
        let w = 1 + COLUMNS[i].width;
        if used + w > limit {
            break;
        }
        used += w;
        shown[i] = true;
    }
    let (secs, win) = (elapsed.as_secs(), window.as_secs());
    let mut title = format!(
        "lakemetrics demo: {secs}s in, figures over the last {win}s; Ctrl-C stops and exports"
    );
    if title.len() > limit {
        title = format!("lakemetrics demo: {secs}s in, last {win}s; Ctrl-C stops");
    }
    let mut s = String::new();
    let _ = writeln!(s, "{}", truncate(&title, limit));
    let mut header = format!("{:<NAME$}", "handler");
    for (c, _) in COLUMNS.iter().zip(shown).filter(|(_, on)| *on) {
        let _ = write!(header, " {:>w$}", c.header, w = c.width);
    }
    let _ = writeln!(s, "{}", truncate(&header, limit));
    for (name, h) in rows {
        let mut line = format!("{name:<NAME$}");
        for (c, _) in COLUMNS.iter().zip(shown).filter(|(_, on)| *on) {
            let _ = write!(line, " {:>w$}", (c.cell)(h), w = c.width);
        }
        let _ = writeln!(s, "{}", truncate(&line, limit));
    }
    s
}

/// `s` cut to at most `max` characters (all of the view is ASCII but names).
fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The closing summary. `at_start` holds each handler's totals before this run
/// recorded anything, when they were restored from a checkpoint: then the
/// summary shows this run's figures and, apart, the totals across runs.
pub fn summary(elapsed: Duration, handlers: &[HandlerMetrics], at_start: &[Totals]) -> String {
    let restored = at_start.iter().any(|t| *t != Totals::default());
    let mut s = String::new();
    let table = |s: &mut String, totals: &dyn Fn(usize, &HandlerMetrics) -> Totals| {
        let _ = writeln!(
            s,
            "{:<10} {:>9} {:>8} {:>13} {:>10}",
            "handler", "batches", "failed", "records", "MiB"
        );
        for (i, h) in handlers.iter().enumerate() {
            let t = totals(i, h);
            let _ = writeln!(
                s,
                "{:<10} {:>9} {:>8} {:>13} {:>10.1}",
                h.handler(),
                t.batches,
                t.failures,
                t.records,
                t.bytes as f64 / (1024.0 * 1024.0)
            );
        }
    };
    let this_run = |i: usize, h: &HandlerMetrics| {
        let (now, then) = (h.totals(), at_start.get(i).copied().unwrap_or_default());
        Totals {
            batches: now.batches.saturating_sub(then.batches),
            failures: now.failures.saturating_sub(then.failures),
            records: now.records.saturating_sub(then.records),
            bytes: now.bytes.saturating_sub(then.bytes),
        }
    };
    if restored {
        let _ = writeln!(s, "\nThis run: {:.1}s.", elapsed.as_secs_f64());
        table(&mut s, &this_run);
        let _ = writeln!(
            s,
            "\nAll runs (restored from the checkpoint, plus this run):"
        );
        table(&mut s, &|_, h| h.totals());
    } else {
        let _ = writeln!(s, "\nRan for {:.1}s.", elapsed.as_secs_f64());
        table(&mut s, &this_run);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakemetrics::Registry;

    fn handlers(reg: &Registry) -> Vec<HandlerMetrics> {
        ["csv", "json", "parquet", "writer"]
            .iter()
            .map(|n| HandlerMetrics::builder(reg, *n).build().unwrap())
            .collect()
    }

    fn rows(hs: &[HandlerMetrics]) -> Vec<(&str, Health)> {
        hs.iter()
            .map(|h| (h.handler(), h.health(Duration::from_secs(10))))
            .collect()
    }

    #[test]
    fn a_wide_terminal_gets_every_column() {
        let reg = Registry::new();
        let hs = handlers(&reg);
        hs[0].record_batch(1 << 20, 500);
        hs[0].start().success();
        let f = frame(
            120,
            Duration::from_secs(12),
            Duration::from_secs(10),
            &rows(&hs),
        );
        let lines: Vec<&str> = f.lines().collect();
        assert_eq!(lines.len(), 2 + hs.len(), "{f}");
        assert!(lines[0].contains("figures over the last 10s; Ctrl-C stops and exports"));
        for c in &COLUMNS {
            assert!(lines[1].contains(c.header), "{} missing: {f}", c.header);
        }
        assert!(lines.iter().all(|l| l.len() < 120), "{f}");
        assert!(lines[2].starts_with("csv ") && lines[5].starts_with("writer "));
        // Unlimited (not a terminal) is the same frame.
        assert_eq!(
            frame(
                usize::MAX,
                Duration::from_secs(12),
                Duration::from_secs(10),
                &rows(&hs)
            ),
            f
        );
    }

    #[test]
    fn a_narrow_terminal_gets_fewer_columns_and_no_wrapped_line() {
        let reg = Registry::new();
        let hs = handlers(&reg);
        let f = frame(
            60,
            Duration::from_secs(3725),
            Duration::from_secs(600),
            &rows(&hs),
        );
        let lines: Vec<&str> = f.lines().collect();
        assert_eq!(lines.len(), 2 + hs.len(), "{f}");
        assert!(lines.iter().all(|l| l.chars().count() < 60), "{f}");
        assert!(lines[0].contains("Ctrl-C stops"), "{f}");
        // The most useful columns stay; the least go.
        for kept in ["batches/s", "errors", "p99 ms", "records/s"] {
            assert!(lines[1].contains(kept), "{kept}: {f}");
        }
        for dropped in ["MiB/s", "peak"] {
            assert!(!lines[1].contains(dropped), "{dropped}: {f}");
        }
        // Rows line up with the header.
        assert!(lines[2..].iter().all(|l| l.len() == lines[1].len()), "{f}");
        // Absurdly narrow still draws one line per row, none wrapped.
        let f = frame(
            12,
            Duration::from_secs(1),
            Duration::from_secs(1),
            &rows(&hs),
        );
        assert!(f.lines().all(|l| l.chars().count() < 12), "{f}");
        assert_eq!(f.lines().count(), 2 + hs.len());
    }

    #[test]
    fn the_summary_tells_this_run_from_all_runs() {
        let reg = Registry::new();
        let hs = handlers(&reg);
        hs[0].start().success();
        let at_start: Vec<Totals> = hs.iter().map(HandlerMetrics::totals).collect();
        hs[0].start().success();
        hs[0].start().success();
        let s = summary(Duration::from_secs(12), &hs, &at_start);
        let this_run = s.find("This run: 12.0s.").expect(&s);
        let all = s.find("All runs").expect(&s);
        let csv: Vec<&str> = s.lines().filter(|l| l.starts_with("csv ")).collect();
        assert!(this_run < all, "{s}");
        assert_eq!(csv[0].split_whitespace().nth(1), Some("2"), "{s}");
        assert_eq!(csv[1].split_whitespace().nth(1), Some("3"), "{s}");
        // Nothing restored: one table, as before.
        let fresh = vec![Totals::default(); hs.len()];
        let s = summary(Duration::from_secs(12), &hs, &fresh);
        assert!(
            s.contains("Ran for 12.0s.") && !s.contains("All runs"),
            "{s}"
        );
    }
}
