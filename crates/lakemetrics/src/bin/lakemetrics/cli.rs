//! Command-line parsing, by hand: `--name value`, `--name=value`, `-x value`,
//! flags, and usage errors that say what was wrong and where to look.

use std::ffi::OsString;
use std::fmt;
use std::time::Duration;

/// A usage error: printed to stderr with the usage line; the process exits 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    message: String,
    usage: &'static str,
    help: &'static str,
}

impl UsageError {
    pub fn new(message: impl Into<String>, usage: &'static str, help: &'static str) -> UsageError {
        UsageError {
            message: message.into(),
            usage,
            help,
        }
    }

    #[cfg(test)]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}\n", self.message)?;
        writeln!(f, "{}", self.usage)?;
        writeln!(f, "Try '{}' for more information.", self.help)
    }
}

/// One argument as the parser sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// `--name` or `-x`, with the value given by `=` if any.
    Opt { name: String, value: Option<String> },
    /// Anything else.
    Positional(String),
}

/// The arguments after the program name.
#[derive(Debug)]
pub struct Args {
    rest: std::vec::IntoIter<String>,
    bad_utf8: Option<OsString>,
}

impl Args {
    pub fn from_env() -> Args {
        let mut bad_utf8 = None;
        let args: Vec<String> = std::env::args_os()
            .skip(1)
            .map(|a| {
                a.into_string().unwrap_or_else(|a| {
                    bad_utf8.get_or_insert(a.clone());
                    a.to_string_lossy().into_owned()
                })
            })
            .collect();
        Args {
            rest: args.into_iter(),
            bad_utf8,
        }
    }

    #[cfg(test)]
    pub fn from(args: &[&str]) -> Args {
        Args {
            rest: args
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .into_iter(),
            bad_utf8: None,
        }
    }

    /// An argument that is not valid UTF-8, if there was one.
    pub fn bad_utf8(&self) -> Option<&OsString> {
        self.bad_utf8.as_ref()
    }

    /// The next raw argument (a command name).
    pub fn next_command(&mut self) -> Option<String> {
        self.rest.next()
    }

    /// The next argument, split into an option and its `=value`, or a positional.
    pub fn next_arg(&mut self) -> Option<Arg> {
        let a = self.rest.next()?;
        if let Some(long) = a.strip_prefix("--").filter(|s| !s.is_empty()) {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            Some(Arg::Opt {
                name: format!("--{name}"),
                value,
            })
        } else if a.len() > 1
            && a.starts_with('-')
            && !a[1..].starts_with(|c: char| c.is_ascii_digit())
        {
            Some(Arg::Opt {
                name: a,
                value: None,
            })
        } else {
            Some(Arg::Positional(a))
        }
    }

    /// The value of option `name`: its `=value`, or the next argument.
    pub fn value(&mut self, name: &str, inline: Option<String>) -> Result<String, String> {
        match inline {
            Some(v) => Ok(v),
            None => self
                .rest
                .next()
                .ok_or_else(|| format!("option '{name}' needs a value")),
        }
    }
}

/// A duration such as `10s`, `500ms`, `2m`, `1h` or `1.5s`; a bare number is
/// seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let bad = || format!("'{s}' is not a duration (try 10s, 500ms, 2m or 1h)");
    let n: f64 = num.parse().map_err(|_| bad())?;
    let scale = match unit {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(bad()),
    };
    Duration::try_from_secs_f64(n * scale).map_err(|_| bad())
}

/// A number of type `T` with a message naming the option on failure.
pub fn parse_number<T: std::str::FromStr>(name: &str, s: &str) -> Result<T, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("option '{name}': '{s}' is not a valid number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["", "s", "ten", "10x", "-1s", "1e3s", "1..2s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn options_and_values() {
        let mut a = Args::from(&["--duration=3s", "-q", "--out-dir", "x", "pos", "-5"]);
        assert_eq!(
            a.next_arg(),
            Some(Arg::Opt {
                name: "--duration".into(),
                value: Some("3s".into())
            })
        );
        assert_eq!(
            a.next_arg(),
            Some(Arg::Opt {
                name: "-q".into(),
                value: None
            })
        );
        let Some(Arg::Opt { name, value }) = a.next_arg() else {
            panic!()
        };
        assert_eq!(a.value(&name, value), Ok("x".into()));
        assert_eq!(a.next_arg(), Some(Arg::Positional("pos".into())));
        assert_eq!(a.next_arg(), Some(Arg::Positional("-5".into())));
        assert_eq!(a.next_arg(), None);
        assert!(a.value("--seed", None).is_err());
    }
}
