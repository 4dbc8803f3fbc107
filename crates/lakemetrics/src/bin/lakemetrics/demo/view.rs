//! The live per-handler view and the closing summary.

use std::fmt::Write as _;
use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use lakemetrics::handler::Health;
use lakemetrics::HandlerMetrics;

/// Redraws in place on a terminal; elsewhere (a pipe, a log) prints each frame
/// after the last.
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
        let mut frame = String::new();
        let _ = writeln!(
            frame,
            "lakemetrics demo: {}s in, figures over the last {}s; Ctrl-C stops and exports",
            elapsed.as_secs(),
            self.window.as_secs()
        );
        let _ = writeln!(
            frame,
            "{:<10} {:>9} {:>11} {:>8} {:>7} {:>8} {:>8} {:>6} {:>5}",
            "handler",
            "batches/s",
            "records/s",
            "MiB/s",
            "errors",
            "p50 ms",
            "p99 ms",
            "queue",
            "peak"
        );
        for h in handlers {
            frame.push_str(&row(h.handler(), &h.health(self.window)));
        }
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

/// One handler's line of the live view.
pub fn row(name: &str, h: &Health) -> String {
    format!(
        "{:<10} {:>9.1} {:>11.0} {:>8.2} {:>6.1}% {:>8} {:>8} {:>6} {:>5}\n",
        name,
        h.throughput.batches_per_second,
        h.throughput.records_per_second,
        h.bytes_per_second / (1024.0 * 1024.0),
        h.error_ratio * 100.0,
        millis(h.latency.p50),
        millis(h.latency.p99),
        h.queue_depth,
        h.peak_queue_depth,
    )
}

/// The closing summary: cumulative figures per handler.
pub fn summary(elapsed: Duration, handlers: &[HandlerMetrics]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "\nRan for {:.1}s.", elapsed.as_secs_f64());
    let _ = writeln!(
        s,
        "{:<10} {:>9} {:>8} {:>13} {:>10}",
        "handler", "batches", "failed", "records", "MiB"
    );
    for h in handlers {
        let t = h.totals();
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
    s
}
