//! `lakemetrics inspect`: what a checkpoint (or a directory of them) holds.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use lakemetrics::store::{Checkpoint, SavedFamily, SavedSeries, Store};
use lakemetrics::StateData;

use lakemetrics::Geometry;

/// `inspect --help`: what inspect does, above the options.
pub const ABOUT: &str = "\
Prints what a checkpoint holds: its sequence number and time, and each family
with its kind, options, series and history (times in UTC, RFC 3339). Every
checksum and count is verified first; a damaged file is reported with the byte
offset of the damage.

PATH is a checkpoint file (checkpoint-<seq>.lmc) or a store directory (as given
to 'demo --data-dir'); for a directory, every checkpoint is listed with its
state, and the newest that reads back whole is shown. Files are read as the
store reads them: regular files only, at most 1 GiB, and a file named
checkpoint-<seq>.lmc must hold that sequence number. Nothing is changed.";

/// Below the options of `inspect --help`.
pub const AFTER_HELP: &str = "\
Exit status: 0 when a checkpoint was read, 1 when none could be, 2 for a bad
option.";

/// `lakemetrics inspect [OPTIONS] <PATH>`
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct Options {
    /// A checkpoint file or a store directory
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// List every series with its labels, value and history span
    #[arg(short, long)]
    pub series: bool,
}

/// `lakemetrics inspect ...`
pub fn main(opts: &Options) -> ExitCode {
    let (file, checkpoint) = if opts.path.is_dir() {
        match newest_good(&opts.path) {
            Ok(Some(found)) => found,
            Ok(None) => {
                eprintln!(
                    "error: no checkpoint in {} reads back whole",
                    opts.path.display()
                );
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        match Checkpoint::read(&opts.path) {
            Ok(c) => (opts.path.clone(), c),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    print!("{}", describe(&file, &checkpoint, opts.series));
    ExitCode::SUCCESS
}

/// Lists the directory's checkpoints as the store sees them, newest first,
/// each with its state; returns the newest that reads back whole.
fn newest_good(dir: &Path) -> Result<Option<(PathBuf, Checkpoint)>, lakemetrics::store::Error> {
    let store = Store::open_read_only(dir)?;
    let files = store.checkpoints()?;
    println!("{} checkpoint(s) in {}", files.len(), dir.display());
    let mut good = None;
    for f in files {
        let size = std::fs::symlink_metadata(&f.path).map_or(0, |m| m.len());
        match store.read(&f) {
            Ok(c) => {
                let kind = if c.interim { "interim" } else { "final" };
                println!(
                    "  {}  seq {}  {size} bytes  {kind}  ok",
                    f.path.display(),
                    c.seq
                );
                good.get_or_insert((f.path, c));
            }
            Err(e) => println!("  {}  {size} bytes  BAD: {e}", f.path.display()),
        }
    }
    println!();
    Ok(good)
}

fn describe(path: &Path, c: &Checkpoint, series: bool) -> String {
    let mut out = String::new();
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    let _ = writeln!(
        out,
        "{}: checkpoint format {}, seq {}, taken {}, {}",
        path.display(),
        lakemetrics::store::VERSION,
        c.seq,
        utc(c.taken_at_nanos),
        if c.interim {
            "interim (restoring it starts counters afresh)"
        } else {
            "final"
        }
    );
    let points = c.points();
    let _ = writeln!(
        out,
        "{} families, {} series, {} history points, {size} bytes ({:.2} bytes/point)",
        c.families.len(),
        c.series_count(),
        points,
        size as f64 / points.max(1) as f64
    );
    for f in &c.families {
        family(&mut out, f, series);
    }
    out
}

fn family(out: &mut String, f: &SavedFamily, series: bool) {
    let r = f.retention;
    let g = f.geometry;
    let _ = write!(
        out,
        "\n{} {}: {} series, {} points; {}",
        f.kind,
        f.name,
        f.series.len(),
        f.points(),
        history_shape(r.resolution(), r.window(), g),
    );
    if let Some(u) = &f.unit {
        let _ = write!(out, ", unit {u}");
    }
    if let Some(b) = &f.buckets {
        let _ = write!(out, ", buckets {:?}", b.bounds());
    }
    if let Some(n) = &f.native {
        let _ = write!(
            out,
            ", native schema {} (zero threshold {:e}, at most {} buckets)",
            n.schema, n.zero_threshold, n.max_buckets
        );
    }
    if let Some(m) = &f.sketch {
        let _ = write!(
            out,
            ", objectives {:?}, sketch {}% over [{}, {}]",
            f.objectives,
            m.relative_error() * 100.0,
            m.min(),
            m.max()
        );
    }
    if let Some(ttl) = f.idle_ttl {
        let _ = write!(out, ", idle after {}", plain(ttl));
    }
    let _ = writeln!(out, ", max {} series", f.max_series);
    if !f.help.is_empty() {
        let _ = writeln!(out, "  help: {:?}", f.help);
    }
    if series {
        for s in &f.series {
            series_line(out, s, g);
        }
    }
}

fn series_line(out: &mut String, s: &SavedSeries, g: Geometry) {
    let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    let value = match &s.state.data {
        StateData::Counter { total, .. } => format!("total {total}"),
        StateData::Gauge { value, .. } => format!("value {value}"),
        StateData::Histogram {
            counts,
            sum,
            native,
            ..
        } => {
            let mut v = format!("count {} sum {sum}", counts.iter().sum::<u64>());
            if let Some(n) = native {
                let _ = write!(
                    v,
                    ", native schema {} zero {} buckets {}",
                    n.schema,
                    n.zero_count,
                    n.positive.len() + n.negative.len()
                );
            }
            v
        }
        StateData::Summary { count, sum, .. } => format!("count {count} sum {sum}"),
    };
    let span = match (s.state.epochs.first(), s.state.epochs.last()) {
        (Some(&a), Some(&b)) if !g.is_lifetime() => {
            let (from, to) = (
                g.epoch_start(a),
                g.epoch_start(b).saturating_add(g.width_nanos()),
            );
            format!(
                "history {} to {} ({})",
                utc(from),
                utc(to),
                plain(Duration::from_nanos(to - from))
            )
        }
        _ => "no history".to_string(),
    };
    let _ = writeln!(
        out,
        "  {{{}}} {value}; {} points, {span}; created {}",
        labels.join(","),
        s.state.epochs.len(),
        utc(s.state.created)
    );
}

/// A family's history in words: "keeps 10 minutes of history in 600 epochs of
/// 1 second"; when the ring is coarser than asked for, the resolution asked for
/// too.
fn history_shape(resolution: Duration, window: Duration, g: Geometry) -> String {
    if g.is_lifetime() {
        return "no history (totals only)".to_string();
    }
    let width = Duration::from_nanos(g.width_nanos());
    let mut s = format!(
        "keeps {} of history in {} epochs of {}",
        plain(window),
        g.len(),
        plain(width)
    );
    if width != resolution {
        let _ = write!(s, " ({} asked for)", plain(resolution));
    }
    s
}

/// A span in plain words: "10 minutes", "1 hour 30 minutes", "250 milliseconds".
fn plain(d: Duration) -> String {
    use jiff::fmt::friendly::{Designator, Spacing, SpanPrinter};
    match jiff::SignedDuration::try_from(d) {
        Ok(d) => SpanPrinter::new()
            .designator(Designator::Verbose)
            .spacing(Spacing::BetweenUnitsAndDesignators)
            .duration_to_string(&d),
        Err(_) => format!("{d:?}"),
    }
}

/// `ns` since the Unix epoch in RFC 3339, UTC, to the millisecond.
fn utc(ns: u64) -> String {
    match jiff::Timestamp::from_nanosecond(i128::from(ns)) {
        Ok(t) => format!("{t:.3}"),
        Err(_) => format!("{ns} ns since the Unix epoch"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(1_700_000_000_123_000_000), "2023-11-14T22:13:20.123Z");
        assert_eq!(utc(951_782_400_000_000_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn spans_in_plain_words() {
        let s = Duration::from_secs;
        assert_eq!(plain(s(1)), "1 second");
        assert_eq!(plain(s(600)), "10 minutes");
        assert_eq!(plain(s(5400)), "1 hour 30 minutes");
        assert_eq!(plain(Duration::from_millis(250)), "250 milliseconds");
        assert_eq!(
            history_shape(s(1), s(600), Geometry::new(50_000_000_000, 12)),
            "keeps 10 minutes of history in 12 epochs of 50 seconds (1 second asked for)"
        );
        assert_eq!(
            history_shape(s(10), s(600), Geometry::new(10_000_000_000, 60)),
            "keeps 10 minutes of history in 60 epochs of 10 seconds"
        );
        assert_eq!(
            history_shape(s(1), s(1), Geometry::lifetime()),
            "no history (totals only)"
        );
    }
}
