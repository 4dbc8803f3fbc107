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
use lakemetrics::push::RemoteWriter;
use lakemetrics::store::{Checkpointer, Store};
use lakemetrics::{Buckets, Filter, HandlerMetrics, Registry, Retention};

use crate::cli::{dir, duration_in, number_in, usage_error};
use crate::signal;
use rng::Rng;
use sim::{READERS, WRITER, WRITER_KINDS};
use view::LiveView;

/// Default `--out-dir`.
pub const DEFAULT_OUT_DIR: &str = "lakemetrics-demo-out";
/// The Prometheus text export's file name.
pub const PROMETHEUS_FILE: &str = "metrics.prom";
/// The JSON export's file name.
pub const JSON_FILE: &str = "metrics.json";

/// Counters and gauges keep one-second epochs for this long.
const HISTORY: Duration = Duration::from_secs(600);

/// `demo --help`: what the demo does, above the options.
pub const ABOUT: &str = "\
Runs a simulated data-lake ingestion service and shows its metrics live.

CSV, JSON and Parquet readers, each on its own thread, take files from their
landing zones (arriving at a rate that swells and ebbs, with bursts) and parse
them into batches, with log-normal latencies and occasional errors. They hand
the batches through a bounded queue to lake writers, which now and then stall
on a slow commit, so the queue fills and readers feel the backpressure.
Every handler records through lakemetrics' HandlerMetrics.

Once a second the demo shows, per handler: batches and records per second,
MiB/s, error ratio, p50 and p99 batch latency, and queue depth (now and its
peak), all over the last --window; a narrow terminal gets fewer columns. On
Ctrl-C (or SIGTERM), or after --duration, it stops and writes the whole run to
<out-dir>/metrics.prom (Prometheus text format 0.0.4) and
<out-dir>/metrics.json (the JSON schema of docs/formats.md). A second Ctrl-C
ends it at once, without exports.

While it runs, it serves a live dashboard at http://127.0.0.1:9898/ (per
handler throughput, error ratio and latency quantiles, and every family), the
scrape endpoint /metrics for Prometheus, and the JSON API /api/v1/series
(docs/http.md); --listen picks another address, --no-http turns it off, and
--token (or LAKEMETRICS_TOKEN) makes every request need it.

With --remote-write URL, it also pushes every one-second epoch of every series
to a Prometheus remote-write receiver every --remote-write-interval (15s),
with --remote-write-token (or LAKEMETRICS_REMOTE_WRITE_TOKEN) as a bearer
token; epochs the receiver missed while down are sent when it is back, and the
final flush happens on exit.

With --data-dir, the demo restores the newest checkpoint in DIR at start (so
its counters continue from the last run), checkpoints every 10 seconds
(--checkpoint-every), and once more on exit. If the last run did not exit
cleanly (it was killed), counters, histograms and summaries start afresh
instead, so that Prometheus sees a reset to zero rather than a fall to an older
value, which it would count as the whole total again; gauges are restored.
Use the same --prefix and --window across runs of one DIR; 'lakemetrics
inspect DIR' shows what it holds.";

/// Below the options of `demo --help`.
pub const AFTER_HELP: &str = "\
Exit status: 0 when the exports were written, 1 when they could not be, 2 for
a bad option.

Example:
  cargo run --release --bin lakemetrics -- demo --duration 30s
  LAKEMETRICS_TOKEN=$(openssl rand -hex 16) lakemetrics demo";

/// The demo's settings: `lakemetrics demo [OPTIONS]`.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct Options {
    /// Stop after this long: 10s, 500ms, 2m, 1h; a bare number is seconds
    /// [default: run until Ctrl-C]
    #[arg(short, long, value_name = "DURATION",
          value_parser = duration_in(Duration::from_nanos(1), Duration::MAX, "above zero"))]
    pub duration: Option<Duration>,
    /// Where to write the exports, created if missing
    #[arg(short, long, value_name = "DIR", default_value = DEFAULT_OUT_DIR, value_parser = dir)]
    pub out_dir: PathBuf,
    /// Restore from and checkpoint to this directory, created if missing
    /// [default: none]
    #[arg(long, value_name = "DIR", value_parser = dir)]
    pub data_dir: Option<PathBuf>,
    /// Checkpoint interval with --data-dir, 100ms to 1h
    #[arg(long, value_name = "DURATION", default_value = "10s",
          value_parser = duration_in(Duration::from_millis(100), Duration::from_secs(3600), "100ms to 1h"))]
    pub checkpoint_every: Duration,
    /// Writer threads, 1 to 64
    #[arg(long, value_name = "N", default_value = "2", value_parser = number_in(1usize, 64))]
    pub writers: usize,
    /// Capacity of the queue between readers and writers, 1 to 100000
    #[arg(long, value_name = "N", default_value = "64", value_parser = number_in(1usize, 100_000))]
    pub queue: usize,
    /// Chance that a batch fails, 0 to 1; each handler scales it a little
    #[arg(long, value_name = "P", default_value = "0.02", value_parser = number_in(0.0f64, 1.0))]
    pub error_rate: f64,
    /// Window of the live figures, 1s to 10m
    #[arg(long, value_name = "DURATION", default_value = "10s",
          value_parser = duration_in(Duration::from_secs(1), HISTORY, "1s to 10m"))]
    pub window: Duration,
    /// Seed of the simulation [default: from the clock]
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Metric name prefix
    #[arg(long, value_name = "PREFIX", default_value = lakemetrics::handler::DEFAULT_PREFIX,
          value_parser = prefix)]
    pub prefix: String,
    /// No live view: print only the summary and the files
    #[arg(short, long)]
    pub quiet: bool,
    /// Serve the dashboard, /metrics and the JSON API on this address
    /// [default: 127.0.0.1:9898]
    #[arg(long, value_name = "ADDR", value_parser = address)]
    pub listen: Option<SocketAddr>,
    /// Serve nothing over HTTP
    #[arg(long, conflicts_with_all = ["listen", "token"])]
    pub no_http: bool,
    /// Require this bearer token on every HTTP request: 16 or more characters,
    /// 8 of them distinct (`openssl rand -hex 16`). Better from the environment,
    /// which `ps` does not show
    #[arg(long, value_name = "TOKEN", env = TOKEN_ENV, hide_env_values = true)]
    pub token: Option<String>,
    /// Push every epoch to this Prometheus remote-write receiver
    /// (http://HOST:PORT/api/v1/write; Prometheus needs
    /// --web.enable-remote-write-receiver) [default: none]
    #[arg(long, value_name = "URL")]
    pub remote_write: Option<String>,
    /// Bearer token for --remote-write. Better from the environment, which
    /// `ps` does not show
    #[arg(long, value_name = "TOKEN", env = REMOTE_WRITE_TOKEN_ENV, hide_env_values = true)]
    pub remote_write_token: Option<String>,
    /// Time between pushes with --remote-write, 1s to 1h
    #[arg(long, value_name = "DURATION", default_value = "15s",
          value_parser = duration_in(Duration::from_secs(1), Duration::from_secs(3600), "1s to 1h"))]
    pub remote_write_interval: Duration,
}

/// The environment variable `--token` is read from.
pub const TOKEN_ENV: &str = "LAKEMETRICS_TOKEN";
/// The environment variable `--remote-write-token` is read from.
pub const REMOTE_WRITE_TOKEN_ENV: &str = "LAKEMETRICS_REMOTE_WRITE_TOKEN";

impl Options {
    /// Where to serve HTTP, if anywhere.
    pub fn listen(&self) -> Option<SocketAddr> {
        if self.no_http {
            None
        } else {
            Some(self.listen.unwrap_or(DEFAULT_LISTEN))
        }
    }

    /// The simulation's seed: `--seed`, or from the clock.
    pub fn seed(&self) -> u64 {
        self.seed.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        })
    }

    /// Checks what clap cannot without echoing a value: the token's strength.
    pub fn validate(&self) -> Result<(), clap::Error> {
        match &self.token {
            Some(t) if !self.no_http => {
                lakemetrics::http::Config::builder()
                    .token(t.as_str())
                    .build()
                    .map_err(|e| usage_error("demo", format!("--token (or {TOKEN_ENV}): {e}")))?;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

fn prefix(v: &str) -> Result<String, String> {
    if is_valid_metric_name(MetricNames::new(v).batches()) {
        Ok(v.to_string())
    } else {
        Err(format!(
            "'{v}' does not make valid metric names ([a-zA-Z_:][a-zA-Z0-9_:]*)"
        ))
    }
}

fn address(v: &str) -> Result<SocketAddr, String> {
    v.parse()
        .map_err(|_| format!("'{v}' is not an address (try 127.0.0.1:9898)"))
}

/// `lakemetrics demo ...`
pub fn main(opts: &Options) -> ExitCode {
    if let Err(e) = opts.validate() {
        let _ = e.print();
        return ExitCode::from(2);
    }
    match run(opts) {
        Ok(files) => {
            println!("Prometheus text: {}", files.0.display());
            println!("JSON:            {}", files.1.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
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
    let totals_at_start: Vec<_> = all.iter().map(HandlerMetrics::totals).collect();
    // Started before the simulation, so that the URL prints above the live view.
    let http = match opts.listen() {
        Some(addr) => {
            let mut builder = HttpExporter::builder(&reg).listen(addr);
            if let Some(t) = &opts.token {
                builder = builder.token(t.as_str());
            }
            match builder.start() {
                Ok(h) => {
                    println!(
                        "Dashboard:       {} (Prometheus: {}metrics){}",
                        h.url(),
                        h.url(),
                        if opts.token.is_some() {
                            "; token required (Authorization: Bearer, or as the password)"
                        } else {
                            ""
                        }
                    );
                    Some(h)
                }
                // A busy default port is only a warning; a bad token or a
                // chosen address that cannot be had is an error.
                Err(e @ lakemetrics::http::Error::Bind { .. }) if opts.listen.is_none() => {
                    eprintln!("warning: no dashboard: {e} (choose another with --listen)");
                    None
                }
                Err(e) => return Err(io::Error::other(e.to_string())),
            }
        }
        None => None,
    };
    let pusher = match &opts.remote_write {
        Some(url) => {
            let mut builder =
                RemoteWriter::builder(&reg, url.as_str()).interval(opts.remote_write_interval);
            if let Some(t) = &opts.remote_write_token {
                builder = builder.bearer_token(t.as_str());
            }
            let w = builder
                .start()
                .map_err(|e| io::Error::other(e.to_string()))?;
            println!(
                "Remote write:    {url}, every {:?}",
                opts.remote_write_interval
            );
            Some(w)
        }
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
    let mut rng = Rng::new(opts.seed());
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
    print!("{}", view::summary(elapsed, &all, &totals_at_start));
    println!(
        "Batches recorded in this run: {}",
        batches(&all).saturating_sub(batches_at_start)
    );
    if let Some(w) = pusher {
        w.shutdown();
        let s = remote_write_totals(&reg);
        println!(
            "Remote write:    {} samples sent, {} retried, {} dropped, {} lost",
            s[0], s[1], s[2], s[3]
        );
    }
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

/// The remote writer's sample counts by outcome (sent, retried, dropped,
/// lost), from its self-metric.
fn remote_write_totals(reg: &Registry) -> [u64; 4] {
    let mut out = [0; 4];
    reg.visit(
        &Filter::all().name("lakemetrics_remote_write_samples_total"),
        |f| {
            for s in f.series() {
                let i = s.labels().find(|(k, _)| *k == "outcome").map(|(_, v)| v);
                let i = match i {
                    Some("sent") => 0,
                    Some("retried") => 1,
                    Some("dropped") => 2,
                    Some("lost") => 3,
                    _ => continue,
                };
                if let lakemetrics::SeriesData::Counter(c) = s.data() {
                    out[i] = c.total();
                }
            }
        },
    );
    out
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

    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<Options, clap::Error> {
        let argv = ["lakemetrics", "demo"].iter().chain(args);
        match Cli::try_parse_from(argv)?.command {
            Command::Demo(o) => Ok(o),
            other => panic!("parsed as {other:?}"),
        }
    }

    fn parse_ok(args: &[&str]) -> Options {
        parse(args).unwrap()
    }

    fn parse_err(args: &[&str]) -> String {
        parse(args).unwrap_err().to_string()
    }

    #[test]
    fn defaults_and_every_option() {
        let d = parse_ok(&[]);
        assert_eq!(d.duration, None);
        assert_eq!(d.out_dir, PathBuf::from("lakemetrics-demo-out"));
        assert_eq!((d.writers, d.queue, d.error_rate), (2, 64, 0.02));
        assert_eq!(
            (d.window, d.checkpoint_every),
            (Duration::from_secs(10), Duration::from_secs(10))
        );
        assert_eq!(
            (d.prefix.as_str(), d.quiet, d.seed),
            ("ingest_", false, None)
        );
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
            "--data-dir",
            "/tmp/d",
            "--checkpoint-every",
            "1m30s",
            "-q",
        ]);
        assert_eq!(o.duration, Some(Duration::from_secs(3)));
        assert_eq!(o.out_dir, PathBuf::from("/tmp/x"));
        assert_eq!(
            (o.writers, o.queue, o.error_rate, o.seed()),
            (4, 8, 0.5, 42)
        );
        assert_eq!(
            (o.window, o.prefix.as_str(), o.quiet),
            (Duration::from_secs(5), "lake_", true)
        );
        assert_eq!(o.data_dir, Some(PathBuf::from("/tmp/d")));
        assert_eq!(o.checkpoint_every, Duration::from_secs(90));
        assert_eq!(
            parse_ok(&["-d", "2"]).duration,
            Some(Duration::from_secs(2))
        );
        assert_eq!(parse_ok(&["-o", "y"]).out_dir, PathBuf::from("y"));
    }

    #[test]
    fn bad_options_say_what_is_wrong() {
        for (args, expect) in [
            (&["--bogus"][..], "unexpected argument '--bogus'"),
            (&["extra"], "unexpected argument 'extra'"),
            (
                &["--duration"],
                "a value is required for '--duration <DURATION>'",
            ),
            (&["--duration", "soon"], "'soon' is not a duration"),
            (&["--duration", "0s"], "above zero"),
            (&["--writers", "0"], "out of range (1 to 64)"),
            (&["--writers", "many"], "'many' is not a valid number"),
            (&["--queue", "-1"], "not a valid number"),
            (&["--error-rate", "1.5"], "out of range (0 to 1)"),
            (&["--window", "100ms"], "out of range (1s to 10m)"),
            (&["--prefix", "9-"], "does not make valid metric names"),
            (&["--quiet=yes"], "unexpected value 'yes' for '--quiet'"),
            (&["--out-dir="], "must not be empty"),
            (
                &["--checkpoint-every", "10ms"],
                "out of range (100ms to 1h)",
            ),
        ] {
            let msg = parse_err(args);
            assert!(msg.contains(expect), "{args:?}: {msg}");
            assert!(msg.contains("try '--help'"), "{args:?}: {msg}");
        }
    }

    #[test]
    fn http_options() {
        let d = parse_ok(&[]);
        assert_eq!((d.listen(), d.listen), (Some(DEFAULT_LISTEN), None));
        let o = parse_ok(&["--listen", "127.0.0.1:0"]);
        assert_eq!(o.listen(), Some(([127, 0, 0, 1], 0).into()));
        assert_eq!(parse_ok(&["--no-http"]).listen(), None);
        assert!(parse_err(&["--listen", "localhost"]).contains("is not an address"));
        assert!(parse_err(&["--no-http=1"]).contains("unexpected value"));
        assert!(parse_err(&["--no-http", "--listen", "127.0.0.1:1"]).contains("cannot be used"));
    }

    #[test]
    fn tokens_too_weak_are_usage_errors_that_do_not_echo_them() {
        let strong = "0123456789abcdef";
        let o = parse_ok(&["--token", strong]);
        assert_eq!(o.token.as_deref(), Some(strong));
        assert!(o.validate().is_ok());
        let o = parse_ok(&["--token", "aaaaaaaaaaaaaaaaaaaa"]);
        let e = o.validate().unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let msg = e.to_string();
        assert!(
            msg.contains("--token (or LAKEMETRICS_TOKEN): the token is too weak"),
            "{msg}"
        );
        assert!(msg.contains("Usage: lakemetrics demo"), "{msg}");
        assert!(!msg.contains("aaaa"), "{msg}");
        let o = parse_ok(&["--token", "has space in it, sixteen+"]);
        assert!(o.validate().is_err());
    }

    #[test]
    fn latency_buckets_are_round_numbers() {
        let b = latency_buckets();
        assert_eq!(b.bounds().len(), 37);
        assert_eq!(&b.bounds()[..4], &[0.001, 0.0015, 0.002, 0.0025]);
        assert_eq!(b.bounds().last(), Some(&10.0));
    }
}
