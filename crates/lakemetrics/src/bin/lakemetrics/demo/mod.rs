//! `lakemetrics demo`: a simulated lake-ingestion service, recorded through
//! `HandlerMetrics`, shown live and exported on exit.

mod rng;
mod sim;
mod view;

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lakemetrics::handler::MetricNames;
use lakemetrics::http::{HttpExporter, DEFAULT_LISTEN};
use lakemetrics::labels::is_valid_metric_name;
use lakemetrics::store::{Checkpointer, Store};
use lakemetrics::{Buckets, Filter, HandlerMetrics, Registry, Retention};

use crate::cli::{parse_duration, parse_number, Arg, Args, UsageError};
use crate::signal;
use rng::Rng;
use sim::{READERS, WRITER, WRITER_KINDS};
use view::LiveView;

const USAGE: &str = "Usage: lakemetrics demo [OPTIONS]";
const HELP_HINT: &str = "lakemetrics demo --help";

/// Default `--out-dir`.
pub const DEFAULT_OUT_DIR: &str = "lakemetrics-demo-out";
/// The Prometheus text export's file name.
pub const PROMETHEUS_FILE: &str = "metrics.prom";
/// The JSON export's file name.
pub const JSON_FILE: &str = "metrics.json";

/// How often `--data-dir` checkpoints by default (and once more on exit).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(10);

/// Counters and gauges keep one-second epochs for this long.
const HISTORY: Duration = Duration::from_secs(600);

pub const HELP: &str = "\
Runs a simulated data-lake ingestion service and shows its metrics live.

CSV, JSON and Parquet readers, each on its own thread, take files from their
landing zones (arriving at a rate that swells and ebbs, with bursts) and parse
them into batches, with log-normal latencies and occasional errors. They hand
the batches through a bounded queue to lake writers, which now and then stall
on a slow commit, so the queue fills and readers feel the backpressure.
Every handler records through lakemetrics' HandlerMetrics.

Once a second the demo shows, per handler: batches and records per second,
MiB/s, error ratio, p50 and p99 batch latency, and queue depth (now and its
peak), all over the last --window. On Ctrl-C (or SIGTERM), or after --duration,
it stops and writes the whole run to <out-dir>/metrics.prom (Prometheus text
format 0.0.4) and <out-dir>/metrics.json (the JSON schema of docs/formats.md).

While it runs, it serves a live dashboard at http://127.0.0.1:9898/ (per
handler throughput, error ratio and latency quantiles, and every family), the
scrape endpoint /metrics for Prometheus, and the JSON API /api/v1/series
(docs/http.md); --listen picks another address, --no-http turns it off.

With --data-dir, the demo restores the newest checkpoint in DIR at start (so
its counters continue from the last run), checkpoints every 10 seconds
(--checkpoint-every), and once more on exit. If the last run did not exit
cleanly (it was killed), counters, histograms and summaries start afresh
instead, so that Prometheus sees a reset to zero rather than a fall to an older
value, which it would count as the whole total again; gauges are restored.
Use the same --prefix and --window across runs of one DIR; 'lakemetrics
inspect DIR' shows what it holds.

Usage: lakemetrics demo [OPTIONS]

Options:
  -d, --duration <DURATION>  Stop after this long: 10s, 500ms, 2m, 1h; a bare
                             number is seconds [default: run until Ctrl-C]
  -o, --out-dir <DIR>        Where to write the exports, created if missing
                             [default: ./lakemetrics-demo-out]
      --data-dir <DIR>       Restore from and checkpoint to this directory,
                             created if missing [default: none]
      --checkpoint-every <DURATION>
                             Checkpoint interval with --data-dir, 100ms to 1h
                             [default: 10s]
      --writers <N>          Writer threads, 1 to 64 [default: 2]
      --queue <N>            Capacity of the queue between readers and writers,
                             1 to 100000 [default: 64]
      --error-rate <P>       Chance that a batch fails, 0 to 1; each handler
                             scales it a little [default: 0.02]
      --window <DURATION>    Window of the live figures, 1s to 10m [default: 10s]
      --seed <N>             Seed of the simulation [default: from the clock]
      --prefix <PREFIX>      Metric name prefix [default: ingest_]
  -q, --quiet                No live view: print only the summary and the files
      --listen <ADDR>        Serve the dashboard, /metrics and the JSON API on
                             this address [default: 127.0.0.1:9898]
      --no-http              Serve nothing over HTTP
  -h, --help                 Print this help

Exit status: 0 when the exports were written, 1 when they could not be, 2 for
a bad option.

Example:
  cargo run --release --bin lakemetrics -- demo --duration 30s
";

/// The demo's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub duration: Option<Duration>,
    pub out_dir: PathBuf,
    pub data_dir: Option<PathBuf>,
    pub checkpoint_every: Duration,
    pub writers: usize,
    pub queue: usize,
    pub error_rate: f64,
    pub window: Duration,
    pub seed: u64,
    pub prefix: String,
    pub quiet: bool,
    pub help: bool,
    /// Where to serve HTTP (`None`: `--no-http`), and whether `--listen` chose it
    /// (a busy default port is only a warning).
    pub listen: Option<SocketAddr>,
    pub listen_given: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            duration: None,
            out_dir: PathBuf::from(DEFAULT_OUT_DIR),
            data_dir: None,
            checkpoint_every: CHECKPOINT_EVERY,
            writers: 2,
            queue: 64,
            error_rate: 0.02,
            window: Duration::from_secs(10),
            seed: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
            prefix: lakemetrics::handler::DEFAULT_PREFIX.to_string(),
            quiet: false,
            help: false,
            listen: Some(DEFAULT_LISTEN),
            listen_given: false,
        }
    }
}

fn in_range<T: PartialOrd + std::fmt::Display>(
    name: &str,
    v: T,
    lo: T,
    hi: T,
) -> Result<T, String> {
    if v >= lo && v <= hi {
        Ok(v)
    } else {
        Err(format!(
            "option '{name}': {v} is out of range ({lo} to {hi})"
        ))
    }
}

/// Parses the demo's options (everything after `demo`).
pub fn parse(mut args: Args) -> Result<Options, UsageError> {
    let usage = |m: String| UsageError::new(m, USAGE, HELP_HINT);
    if let Some(bad) = args.bad_utf8() {
        return Err(usage(format!("argument {bad:?} is not valid UTF-8")));
    }
    let mut o = Options::default();
    while let Some(arg) = args.next_arg() {
        let (name, inline) = match arg {
            Arg::Opt { name, value } => (name, value),
            Arg::Positional(p) => return Err(usage(format!("unexpected argument '{p}'"))),
        };
        let flag = |inline: &Option<String>| match inline {
            Some(_) => Err(usage(format!("option '{name}' takes no value"))),
            None => Ok(()),
        };
        match name.as_str() {
            "-h" | "--help" => {
                flag(&inline)?;
                o.help = true;
            }
            "-q" | "--quiet" => {
                flag(&inline)?;
                o.quiet = true;
            }
            "--no-http" => {
                flag(&inline)?;
                o.listen = None;
            }
            "--listen" => {
                let v = args.value(&name, inline).map_err(usage)?;
                let addr = v.parse().map_err(|_| {
                    usage(format!(
                        "option '{name}': '{v}' is not an address (try 127.0.0.1:9898)"
                    ))
                })?;
                o.listen = Some(addr);
                o.listen_given = true;
            }
            "-d" | "--duration" | "-o" | "--out-dir" | "--data-dir" | "--checkpoint-every"
            | "--writers" | "--queue" | "--error-rate" | "--window" | "--seed" | "--prefix" => {
                let v = args.value(&name, inline).map_err(usage)?;
                let r: Result<(), String> = (|| {
                    match name.as_str() {
                        "-d" | "--duration" => {
                            let d =
                                parse_duration(&v).map_err(|e| format!("option '{name}': {e}"))?;
                            if d.is_zero() {
                                return Err(format!(
                                    "option '{name}': the duration must be above zero"
                                ));
                            }
                            o.duration = Some(d);
                        }
                        "-o" | "--out-dir" => {
                            if v.is_empty() {
                                return Err(format!(
                                    "option '{name}': the directory must not be empty"
                                ));
                            }
                            o.out_dir = PathBuf::from(&v);
                        }
                        "--data-dir" => {
                            if v.is_empty() {
                                return Err(format!(
                                    "option '{name}': the directory must not be empty"
                                ));
                            }
                            o.data_dir = Some(PathBuf::from(&v));
                        }
                        "--checkpoint-every" => {
                            let d =
                                parse_duration(&v).map_err(|e| format!("option '{name}': {e}"))?;
                            if d < Duration::from_millis(100) || d > Duration::from_secs(3600) {
                                return Err(format!(
                                    "option '{name}': {v} is out of range (100ms to 1h)"
                                ));
                            }
                            o.checkpoint_every = d;
                        }
                        "--writers" => {
                            o.writers = in_range(&name, parse_number(&name, &v)?, 1, 64)?
                        }
                        "--queue" => {
                            o.queue = in_range(&name, parse_number(&name, &v)?, 1, 100_000)?
                        }
                        "--error-rate" => {
                            let p: f64 = parse_number(&name, &v)?;
                            if !(0.0..=1.0).contains(&p) {
                                return Err(format!(
                                    "option '{name}': {v} is not a probability (0 to 1)"
                                ));
                            }
                            o.error_rate = p;
                        }
                        "--window" => {
                            let w =
                                parse_duration(&v).map_err(|e| format!("option '{name}': {e}"))?;
                            if w < Duration::from_secs(1) || w > HISTORY {
                                return Err(format!(
                                    "option '{name}': {v} is out of range (1s to 10m)"
                                ));
                            }
                            o.window = w;
                        }
                        "--seed" => o.seed = parse_number(&name, &v)?,
                        "--prefix" => {
                            if !is_valid_metric_name(MetricNames::new(&v).batches()) {
                                return Err(format!(
                                    "option '{name}': '{v}' does not make valid metric names \
                                     ([a-zA-Z_:][a-zA-Z0-9_:]*)"
                                ));
                            }
                            o.prefix = v;
                        }
                        _ => unreachable!("matched above"),
                    }
                    Ok(())
                })();
                r.map_err(usage)?;
            }
            _ => return Err(usage(format!("unknown option '{name}'"))),
        }
    }
    Ok(o)
}

/// `lakemetrics demo ...`
pub fn main(args: Args) -> Result<ExitCode, UsageError> {
    let opts = parse(args)?;
    if opts.help {
        print!("{HELP}");
        return Ok(ExitCode::SUCCESS);
    }
    Ok(match run(&opts) {
        Ok(files) => {
            println!("Prometheus text: {}", files.0.display());
            println!("JSON:            {}", files.1.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    })
}

/// Finer latency buckets than the default 1-2-5 series, so the live p99 is
/// within some 25% rather than a factor of 2.5: 1 ms to 5 s, nine bounds a
/// decade. (The defaults keep `health` free of heap allocation; the demo can
/// spare one per frame.)
fn latency_buckets() -> Buckets {
    const MANTISSAS: [&str; 9] = ["1", "1.5", "2", "2.5", "3", "4", "5", "6", "7.5"];
    let bounds: Vec<f64> = (-3..=0)
        .flat_map(|exp| MANTISSAS.iter().map(move |m| format!("{m}e{exp}")))
        .chain(["1e1".to_string()])
        .filter_map(|s| s.parse().ok())
        .collect();
    Buckets::new(bounds).unwrap_or_default()
}

/// Runs the service until Ctrl-C or `--duration`; returns the files written.
pub fn run(opts: &Options) -> io::Result<(PathBuf, PathBuf)> {
    if let Err(e) = signal::install() {
        eprintln!("warning: no Ctrl-C handler ({e}); Ctrl-C will end the demo without exports");
    }
    let other = |e: lakemetrics::Error| io::Error::other(e.to_string());
    let reg = Registry::builder()
        .retention(Retention::new(Duration::from_secs(1), HISTORY).map_err(other)?)
        .build();
    // Restored before the handlers take their series, so that they find them.
    let store = opts
        .data_dir
        .as_deref()
        .map(|d| restore(&reg, d))
        .transpose()?;
    let build = |name: &str, kinds: &[(&str, f64)]| {
        HandlerMetrics::builder(&reg, name)
            .prefix(opts.prefix.clone())
            .error_kinds(kinds.iter().map(|k| k.0))
            .duration_buckets(latency_buckets())
            .build()
            .map_err(other)
    };
    let readers = READERS
        .iter()
        .map(|spec| build(spec.name, spec.kinds))
        .collect::<io::Result<Vec<_>>>()?;
    let writer = build(WRITER, WRITER_KINDS)?;
    let mut all = readers.clone();
    all.push(writer.clone());
    // What the registry held before this run recorded anything (restored).
    let batches = |all: &[HandlerMetrics]| all.iter().map(|h| h.totals().batches).sum::<u64>();
    let batches_at_start = batches(&all);
    // Started before the simulation, so that the URL prints above the live view.
    let http = match opts.listen {
        Some(addr) => match HttpExporter::builder(&reg).listen(addr).start() {
            Ok(h) => {
                println!(
                    "Dashboard:       {} (Prometheus: {}metrics)",
                    h.url(),
                    h.url()
                );
                Some(h)
            }
            Err(e) if !opts.listen_given => {
                eprintln!("warning: no dashboard: {e} (choose another with --listen)");
                None
            }
            Err(e) => return Err(io::Error::other(e.to_string())),
        },
        None => None,
    };
    let checkpointer = match store {
        Some(store) => Some(
            Checkpointer::builder()
                .interval(opts.checkpoint_every)
                .on_result(|r| {
                    if let Err(e) = r {
                        eprintln!("warning: checkpoint failed: {e}");
                    }
                })
                .start(store, reg.clone())
                .map_err(|e| io::Error::other(e.to_string()))?,
        ),
        None => None,
    };

    let (tx, rx) = crossbeam_channel::bounded(opts.queue);
    let stop = AtomicBool::new(false);
    let mut rng = Rng::new(opts.seed);
    let started = Instant::now();
    let mut view = LiveView::new(opts.window);
    std::thread::scope(|s| -> io::Result<()> {
        for (i, (spec, h)) in READERS.iter().zip(&readers).enumerate() {
            let (tx, stop, writer, rng) = (tx.clone(), &stop, &writer, rng.fork(i as u64));
            std::thread::Builder::new()
                .name(format!("reader-{}", spec.name))
                .spawn_scoped(s, move || {
                    sim::reader(*spec, h, writer, &tx, stop, opts.error_rate, rng)
                })?;
        }
        for i in 0..opts.writers {
            let (rx, stop, writer, rng) = (rx.clone(), &stop, &writer, rng.fork(100 + i as u64));
            std::thread::Builder::new()
                .name(format!("writer-{i}"))
                .spawn_scoped(s, move || {
                    sim::writer(writer, &rx, stop, opts.error_rate, rng)
                })?;
        }
        let deadline = opts.duration.map(|d| started + d);
        let mut next_frame = started + Duration::from_secs(1);
        loop {
            let now = Instant::now();
            if signal::stop_requested() || deadline.is_some_and(|d| now >= d) {
                break;
            }
            if now >= next_frame {
                if !opts.quiet {
                    // A closed stdout must not stop the run: the exports matter more.
                    let _ = view.draw(now - started, &all);
                }
                next_frame += Duration::from_secs(1);
            }
            let mut wake = next_frame;
            if let Some(d) = deadline {
                wake = wake.min(d);
            }
            std::thread::sleep(
                wake.saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(100)),
            );
        }
        // Relaxed: a lone flag; the scope's joins publish everything else.
        stop.store(true, Ordering::Relaxed);
        Ok(())
    })?;
    drop((tx, rx, http));
    let elapsed = started.elapsed();
    print!("{}", view::summary(elapsed, &all));
    println!(
        "Batches recorded in this run: {}",
        batches(&all).saturating_sub(batches_at_start)
    );
    if let Some(last) = checkpointer.and_then(Checkpointer::shutdown) {
        let info = last.map_err(|e| io::Error::other(e.to_string()))?;
        println!(
            "Checkpoint:      {} (seq {})",
            info.path.display(),
            info.seq
        );
    }
    export(&reg, &opts.out_dir)
}

/// Opens the store in `dir` and restores its newest good checkpoint into `reg`.
fn restore(reg: &Registry, dir: &Path) -> io::Result<Store> {
    let fail = |e: lakemetrics::store::Error| io::Error::other(e.to_string());
    let store = Store::open(dir).map_err(fail)?;
    let report = store.restore(reg).map_err(fail)?;
    for s in &report.skipped {
        eprintln!("warning: skipped a checkpoint: {}", s.error);
    }
    match report.restored {
        Some(r) if r.fresh_start => println!(
            "Restored {} series from {} (seq {}); the last run did not exit cleanly, so \
             {} counter, histogram and summary series start afresh (Prometheus sees a reset)",
            r.series,
            r.path.display(),
            r.seq,
            r.series_started_afresh
        ),
        Some(r) => println!(
            "Restored {} series from {} (seq {})",
            r.series,
            r.path.display(),
            r.seq
        ),
        None => println!("No checkpoint in {} yet: starting afresh", dir.display()),
    }
    Ok(store)
}

/// Writes both exports into `dir`.
fn export(reg: &Registry, dir: &Path) -> io::Result<(PathBuf, PathBuf)> {
    let ctx = |what: String| move |e: io::Error| io::Error::new(e.kind(), format!("{what}: {e}"));
    fs::create_dir_all(dir).map_err(ctx(format!("cannot create {}", dir.display())))?;
    let write = |name: &str, f: &dyn Fn(&mut BufWriter<File>) -> io::Result<()>| {
        let path = dir.join(name);
        let mut out = BufWriter::new(
            File::create(&path).map_err(ctx(format!("cannot create {}", path.display())))?,
        );
        f(&mut out)
            .and_then(|()| out.flush())
            .map_err(ctx(format!("cannot write {}", path.display())))?;
        Ok::<_, io::Error>(path)
    };
    let filter = Filter::all();
    let prom = write(PROMETHEUS_FILE, &|out| {
        lakemetrics::export::write_prometheus(reg, &filter, out)
    })?;
    let json = write(JSON_FILE, &|out| {
        lakemetrics::export::write_json(reg, &filter, out)
    })?;
    Ok((prom, json))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(args: &[&str]) -> Options {
        parse(Args::from(args)).unwrap()
    }

    fn parse_err(args: &[&str]) -> String {
        parse(Args::from(args)).unwrap_err().message().to_string()
    }

    #[test]
    fn defaults_and_every_option() {
        let d = parse_ok(&[]);
        assert_eq!(d.duration, None);
        assert_eq!(d.out_dir, PathBuf::from("lakemetrics-demo-out"));
        assert_eq!((d.writers, d.queue, d.error_rate), (2, 64, 0.02));
        let o = parse_ok(&[
            "-d",
            "3s",
            "--out-dir=/tmp/x",
            "--writers",
            "4",
            "--queue=8",
            "--error-rate",
            "0.5",
            "--window",
            "5s",
            "--seed",
            "42",
            "--prefix",
            "lake_",
            "-q",
        ]);
        assert_eq!(o.duration, Some(Duration::from_secs(3)));
        assert_eq!(o.out_dir, PathBuf::from("/tmp/x"));
        assert_eq!((o.writers, o.queue, o.error_rate, o.seed), (4, 8, 0.5, 42));
        assert_eq!(
            (o.window, o.prefix.as_str(), o.quiet),
            (Duration::from_secs(5), "lake_", true)
        );
        assert!(parse_ok(&["--help"]).help);
    }

    #[test]
    fn bad_options_say_what_is_wrong() {
        for (args, expect) in [
            (&["--bogus"][..], "unknown option '--bogus'"),
            (&["extra"], "unexpected argument 'extra'"),
            (&["--duration"], "option '--duration' needs a value"),
            (&["--duration", "soon"], "'soon' is not a duration"),
            (&["--duration", "0s"], "above zero"),
            (&["--writers", "0"], "out of range (1 to 64)"),
            (&["--writers", "many"], "'many' is not a valid number"),
            (&["--queue", "-1"], "not a valid number"),
            (&["--error-rate", "1.5"], "not a probability"),
            (&["--window", "100ms"], "out of range (1s to 10m)"),
            (&["--prefix", "9-"], "does not make valid metric names"),
            (&["--quiet=yes"], "takes no value"),
            (&["--out-dir="], "must not be empty"),
            (
                &["--checkpoint-every", "10ms"],
                "out of range (100ms to 1h)",
            ),
        ] {
            let msg = parse_err(args);
            assert!(msg.contains(expect), "{args:?}: {msg}");
        }
    }

    #[test]
    fn http_options() {
        let d = parse_ok(&[]);
        assert_eq!((d.listen, d.listen_given), (Some(DEFAULT_LISTEN), false));
        let o = parse_ok(&["--listen", "127.0.0.1:0"]);
        assert_eq!(
            (o.listen, o.listen_given),
            (Some(([127, 0, 0, 1], 0).into()), true)
        );
        assert_eq!(parse_ok(&["--no-http"]).listen, None);
        assert!(parse_err(&["--listen", "localhost"]).contains("is not an address"));
        assert!(parse_err(&["--no-http=1"]).contains("takes no value"));
    }

    #[test]
    fn latency_buckets_are_round_numbers() {
        let b = latency_buckets();
        assert_eq!(b.bounds().len(), 37);
        assert_eq!(&b.bounds()[..4], &[0.001, 0.0015, 0.002, 0.0025]);
        assert_eq!(b.bounds().last(), Some(&10.0));
    }
}
