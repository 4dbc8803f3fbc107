//! The command line, parsed by clap: help, usage errors (exit 2), `--version`
//! and shell completions as users know them from other tools. The value parsers
//! here say what was wrong with a value; clap names the option.

use std::path::PathBuf;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};

use crate::{demo, inspect};

/// In-process metrics for data-lake ingestion services.
#[derive(Debug, Parser)]
#[command(
    name = "lakemetrics",
    version,
    about = "lakemetrics: in-process metrics for data-lake ingestion services",
    subcommand_required = true,
    arg_required_else_help = false,
    after_help = "Run 'lakemetrics <COMMAND> --help' for a command's options."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// A command's help: its description (`before_help`: the one-line `about` is
/// for the list of commands), usage, options, then exit status and examples.
/// No option has a long help of its own, so `-h` and `--help` print the same
/// compact table.
const SUBCOMMAND_HELP: &str = "{before-help}{usage-heading} {usage}\n\n{all-args}{after-help}";

// Parsed once per run: the demo's options being larger than the others'
// costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a simulated lake-ingestion service, show its metrics live and
    /// export them (Prometheus text and JSON) on exit
    #[command(before_help = demo::ABOUT, after_help = demo::AFTER_HELP, help_template = SUBCOMMAND_HELP,
              allow_negative_numbers = true)]
    Demo(demo::Options),
    /// Print what a checkpoint (or a directory of them) holds
    #[command(before_help = inspect::ABOUT, after_help = inspect::AFTER_HELP, help_template = SUBCOMMAND_HELP)]
    Inspect(inspect::Options),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    #[command(after_help = "Example:\n  lakemetrics completions bash > \
                            ~/.local/share/bash-completion/completions/lakemetrics")]
    Completions {
        /// The shell to write completions for
        shell: clap_complete::Shell,
    },
}

/// A usage error found after parsing (one that needs more than one option, or
/// must not echo its value): printed as clap prints its own, for subcommand
/// `sub`, with exit status 2.
pub fn usage_error(sub: &str, message: impl std::fmt::Display) -> clap::Error {
    let mut cmd = Cli::command();
    cmd.build();
    match cmd.find_subcommand_mut(sub) {
        Some(sc) => sc.error(ErrorKind::ValueValidation, message),
        None => cmd.error(ErrorKind::ValueValidation, message),
    }
}

/// A duration such as `10s`, `500ms`, `2m`, `1h`, `1.5s` or `1m30s`; a bare
/// number is seconds. Units past a bare number are read by `jiff`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let bad = || format!("'{s}' is not a duration (try 10s, 500ms, 2m or 1h)");
    if s.is_empty() || s.starts_with(['-', '+']) {
        return Err(bad());
    }
    if s.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        let secs: f64 = s.parse().map_err(|_| bad())?;
        return Duration::try_from_secs_f64(secs).map_err(|_| bad());
    }
    // "1min" for minutes, as before; jiff says "m", "min", "mins" or "minutes".
    let d: jiff::SignedDuration = s.parse().map_err(|_| bad())?;
    Duration::try_from(d).map_err(|_| bad())
}

/// A duration from `lo` to `hi`, as a clap value parser.
pub fn duration_in(
    lo: Duration,
    hi: Duration,
    range: &'static str,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    move |s| {
        let d = parse_duration(s)?;
        if d < lo || d > hi {
            Err(format!("{s} is out of range ({range})"))
        } else {
            Ok(d)
        }
    }
}

/// A number from `lo` to `hi`, as a clap value parser.
pub fn number_in<T>(
    lo: T,
    hi: T,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy + Send + Sync + 'static,
{
    move |s| {
        let v: T = s
            .trim()
            .parse()
            .map_err(|_| format!("'{s}' is not a valid number"))?;
        if v >= lo && v <= hi {
            Ok(v)
        } else {
            Err(format!("{v} is out of range ({lo} to {hi})"))
        }
    }
}

/// A directory name that is not empty.
pub fn dir(s: &str) -> Result<PathBuf, String> {
    if s.is_empty() {
        Err("the directory must not be empty".to_string())
    } else {
        Ok(PathBuf::from(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("2min"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["", "s", "ten", "10x", "-1s", "1e3s", "1..2s", "5m ago"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn numbers_in_range() {
        let p = number_in(1usize, 64);
        assert_eq!(p("4"), Ok(4));
        assert_eq!(p("0"), Err("0 is out of range (1 to 64)".into()));
        assert_eq!(p("many"), Err("'many' is not a valid number".into()));
        assert!(p("-1").is_err());
    }
}
