//! `lakemetrics inspect`: what a checkpoint (or a directory of them) holds.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use lakemetrics::store::{Checkpoint, SavedFamily, SavedSeries, Store};
use lakemetrics::StateData;

use crate::cli::{Arg, Args, UsageError};

const USAGE: &str = "Usage: lakemetrics inspect [OPTIONS] <PATH>";
const HELP_HINT: &str = "lakemetrics inspect --help";

pub const HELP: &str = "\
Prints what a checkpoint holds: its sequence number and time, and each family
with its kind, options, series and history points. Every checksum and count is
verified first; a damaged file is reported with the byte offset of the damage.

PATH is a checkpoint file (checkpoint-<seq>.lmc) or a store directory (as given
to 'demo --data-dir'); for a directory, every checkpoint is listed with its
state, and the newest that reads back whole is shown. Files are read as the
store reads them: regular files only, at most 1 GiB, and a file named
checkpoint-<seq>.lmc must hold that sequence number. Nothing is changed.

Usage: lakemetrics inspect [OPTIONS] <PATH>

Options:
  -s, --series  List every series with its labels, value and history span
  -h, --help    Print this help

Exit status: 0 when a checkpoint was read, 1 when none could be, 2 for a bad
option.
";

struct Options {
    path: PathBuf,
    series: bool,
}

fn parse(mut args: Args) -> Result<Option<Options>, UsageError> {
    let usage = |m: String| UsageError::new(m, USAGE, HELP_HINT);
    if let Some(bad) = args.bad_utf8() {
        return Err(usage(format!("argument {bad:?} is not valid UTF-8")));
    }
    let (mut path, mut series) = (None, false);
    while let Some(arg) = args.next_arg() {
        match arg {
            Arg::Opt { name, value } => {
                if value.is_some() {
                    return Err(usage(format!("option '{name}' takes no value")));
                }
                match name.as_str() {
                    "-h" | "--help" => return Ok(None),
                    "-s" | "--series" => series = true,
                    _ => return Err(usage(format!("unknown option '{name}'"))),
                }
            }
            Arg::Positional(p) if path.is_none() => path = Some(PathBuf::from(p)),
            Arg::Positional(p) => return Err(usage(format!("unexpected argument '{p}'"))),
        }
    }
    match path {
        Some(path) => Ok(Some(Options { path, series })),
        None => Err(usage("no checkpoint given".into())),
    }
}

/// `lakemetrics inspect ...`
pub fn main(args: Args) -> Result<ExitCode, UsageError> {
    let Some(opts) = parse(args)? else {
        print!("{HELP}");
        return Ok(ExitCode::SUCCESS);
    };
    let (file, checkpoint) = if opts.path.is_dir() {
        match newest_good(&opts.path) {
            Ok(Some(found)) => found,
            Ok(None) => {
                eprintln!(
                    "error: no checkpoint in {} reads back whole",
                    opts.path.display()
                );
                return Ok(ExitCode::FAILURE);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::FAILURE);
            }
        }
    } else {
        match Checkpoint::read(&opts.path) {
            Ok(c) => (opts.path.clone(), c),
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::FAILURE);
            }
        }
    };
    print!("{}", describe(&file, &checkpoint, opts.series));
    Ok(ExitCode::SUCCESS)
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
        "{}: checkpoint format {}, seq {}, taken {} ({} ns), {}",
        path.display(),
        lakemetrics::store::VERSION,
        c.seq,
        utc(c.taken_at_nanos),
        c.taken_at_nanos,
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
        "\n{} {}: {} series, {} points; history {:?} epochs over {:?} ({} slots of {:?})",
        f.kind,
        f.name,
        f.series.len(),
        f.points(),
        r.resolution(),
        r.window(),
        g.len(),
        std::time::Duration::from_nanos(g.width_nanos()),
    );
    if let Some(u) = &f.unit {
        let _ = write!(out, ", unit {u}");
    }
    if let Some(b) = &f.buckets {
        let _ = write!(out, ", buckets {:?}", b.bounds());
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
        let _ = write!(out, ", idle after {ttl:?}");
    }
    let _ = writeln!(out, ", max {} series", f.max_series);
    if !f.help.is_empty() {
        let _ = writeln!(out, "  help: {:?}", f.help);
    }
    if series {
        for s in &f.series {
            series_line(out, s);
        }
    }
}

fn series_line(out: &mut String, s: &SavedSeries) {
    let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    let value = match &s.state.data {
        StateData::Counter { total, .. } => format!("total {total}"),
        StateData::Gauge { value, .. } => format!("value {value}"),
        StateData::Histogram { counts, sum, .. } => {
            format!("count {} sum {sum}", counts.iter().sum::<u64>())
        }
        StateData::Summary { count, sum, .. } => format!("count {count} sum {sum}"),
    };
    let span = match (s.state.epochs.first(), s.state.epochs.last()) {
        (Some(a), Some(b)) => format!("epochs {a}..={b}"),
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

/// `ns` since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn utc(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        ns / 1_000_000 % 1000
    )
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
    fn options() {
        assert!(parse(Args::from(&["--help"])).unwrap().is_none());
        let o = parse(Args::from(&["-s", "x.lmc"])).unwrap().unwrap();
        assert!(o.series && o.path == Path::new("x.lmc"));
        for bad in [
            &[][..],
            &["a", "b"],
            &["--bogus", "a"],
            &["--series=1", "a"],
        ] {
            assert!(parse(Args::from(bad)).is_err(), "{bad:?}");
        }
    }
}
