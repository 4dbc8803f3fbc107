//! Memory per series: the resident set (RSS) a process grows by for each series it
//! creates, in lakemetrics and in each peer, one library per process.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p lakemetrics-benches --bench memory \
//!     -- --bench [--sizes 10000,100000,1000000] [--kinds native,histogram]
//! ```
//!
//! The parent (`--bench`) runs this binary again as a child for every cell (library,
//! kind, retention, size), so that each measurement starts from a fresh process:
//! nothing freed by an earlier cell sits in the allocator to be reused, and no
//! other library's state is resident. A child (`--child LIB KIND RETENTION N`):
//!
//! 1. builds the library's registry (or recorder, or metric vec) and registers
//!    one family for the kind (lakemetrics: with the retention under test and no
//!    series limit), creates one series of another family and records into it, so
//!    that lazily built registry state (interner, index shards, thread-local
//!    caches, the global recorder) exists before the baseline;
//! 2. pre-generates the label values and a vector of `N` empty handle slots,
//!    written once so that its pages are resident: neither is the library's cost;
//! 3. reads `VmRSS` from `/proc/self/status`;
//! 4. creates `N` series of one family with two labels, `handler="h{i % 1000}"`
//!    and `status="s{i / 1000}"` (1,000 handlers, `N / 1000` statuses: values
//!    repeat across series as in a service), records into each once so that
//!    state a library allocates on first use exists, and keeps every handle alive
//!    in its slot, as a service keeps its handles (`measured` has no per-series
//!    handles: its vec owns the series);
//! 5. reads `VmRSS` again and prints one `key=value` line: bytes per series is
//!    the difference divided by `N`. For lakemetrics it also prints how much
//!    `Registry::memory_bytes()` (everything the registry accounts for: series
//!    state and history, labels, index, interned strings) grew, to compare with
//!    RSS.
//!
//! Recording once per series: counters `inc()`, gauges `set(i)`, histograms and
//! summaries one observation from `lakemetrics_benches::observations`. For
//! `metrics`, whose histograms queue observations until the exporter drains them,
//! the child then runs the exporter's upkeep (as its scrape or upkeep task would):
//! that is when it builds the per-series distribution (buckets, or the summary's
//! rolling sketches). Histograms use Prometheus' 11 default buckets everywhere;
//! native histograms (lakemetrics and prometheus-client) schema 3 with a limit of
//! 160 buckets, native buckets only.
//!
//! The system allocator (glibc malloc) throughout; transparent huge pages are
//! `madvise`-only on the test machine, so RSS moves in 4 KiB pages. RSS counts
//! what the allocator keeps resident, including its per-allocation headers and
//! freed memory it has not returned (tables left behind by a hash map's growth),
//! which is what a service pays.
//!
//! Kinds a library lacks print `n/a`: summaries exist only in lakemetrics and in
//! `metrics` (a histogram without buckets renders as a summary). A cell whose
//! estimated growth exceeds [`CAP_BYTES`] is skipped: the estimate is the larger of
//! the bytes per series measured at the previous size of the row and, for
//! lakemetrics, one series' `memory_bytes()`, times `N` (lakemetrics summaries keep
//! sketches of about 20 KiB per slot, so 100,000 and 1,000,000 of them do not fit).
//!
//! Run without `--bench` (as `cargo test --all-targets` does), it measures 1,000
//! lakemetrics counters in process and runs one small child per library and kind,
//! checking that each reports positive numbers. Results are in docs/benchmarks.md.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use lakemetrics_benches::{observations, OBSERVATION_MASK};
use lakemetrics_core::{Describe, Filter, Registry, Retention, DEFAULT_BUCKETS};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

/// Most memory one cell may be estimated to take (8 GiB); larger cells are skipped.
const CAP_BYTES: f64 = 8.0 * GIB;
const GIB: f64 = (1u64 << 30) as f64;
/// The sizes measured unless `--sizes` says otherwise.
const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];
/// Distinct `handler` values; `status` takes `N / HANDLERS` values.
const HANDLERS: usize = 1_000;
/// The family every child measures.
const NAME: &str = "requests";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Lib {
    Lakemetrics,
    Prometheus,
    PrometheusClient,
    Metrics,
    Measured,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
    Summary,
    /// A native (exponential) histogram at schema 3, limit 160 buckets.
    Native,
}

/// The lakemetrics retentions measured; peers keep no history (`Keep::None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Keep {
    /// `Retention::DEFAULT`: 10 s epochs over 10 minutes (60 slots).
    Default,
    /// One 10-minute slot.
    OneSlot,
    /// 1 s epochs over 10 minutes (600 slots).
    Fine,
    /// `Retention::NONE`: cumulative values only, no history.
    Off,
    /// `Retention::DEFAULT`, striped (`Describe::striped`; counters and
    /// histograms only): one copy of the cumulative state per stripe.
    Striped,
    /// A peer: no history.
    None,
}

const LIBS: [Lib; 5] = [
    Lib::Lakemetrics,
    Lib::Prometheus,
    Lib::PrometheusClient,
    Lib::Metrics,
    Lib::Measured,
];
const KINDS: [Kind; 5] = [
    Kind::Counter,
    Kind::Gauge,
    Kind::Histogram,
    Kind::Summary,
    Kind::Native,
];
/// The native histograms' schema and bucket limit (lakemetrics and
/// prometheus-client alike).
const NATIVE_SCHEMA: i8 = 3;
const NATIVE_MAX_BUCKETS: u32 = 160;

impl Lib {
    fn name(self) -> &'static str {
        match self {
            Lib::Lakemetrics => "lakemetrics",
            Lib::Prometheus => "prometheus",
            Lib::PrometheusClient => "prometheus_client",
            Lib::Metrics => "metrics",
            Lib::Measured => "measured",
        }
    }

    fn has(self, kind: Kind) -> bool {
        match kind {
            Kind::Summary => matches!(self, Lib::Lakemetrics | Lib::Metrics),
            Kind::Native => matches!(self, Lib::Lakemetrics | Lib::PrometheusClient),
            _ => true,
        }
    }

    fn keeps(self) -> &'static [Keep] {
        match self {
            Lib::Lakemetrics => &[
                Keep::Default,
                Keep::OneSlot,
                Keep::Fine,
                Keep::Off,
                Keep::Striped,
            ],
            _ => &[Keep::None],
        }
    }
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
            Kind::Summary => "summary",
            Kind::Native => "native",
        }
    }
}

impl Keep {
    fn name(self) -> &'static str {
        match self {
            Keep::Default => "10s_x60",
            Keep::OneSlot => "600s_x1",
            Keep::Fine => "1s_x600",
            Keep::Off => "none",
            Keep::Striped => "10s_x60_striped",
            Keep::None => "-",
        }
    }

    /// Whether a series of `kind` can be kept this way.
    fn applies(self, kind: Kind) -> bool {
        self != Keep::Striped || matches!(kind, Kind::Counter | Kind::Histogram)
    }

    /// The family `describe`, kept this way.
    fn describe(self, describe: Describe) -> Describe {
        match self {
            Keep::Striped => describe.striped(),
            _ => describe,
        }
    }

    fn retention(self) -> Retention {
        let secs = Duration::from_secs;
        match self {
            Keep::Default | Keep::Striped | Keep::None => Retention::DEFAULT,
            Keep::OneSlot => Retention::new(secs(600), secs(600)).unwrap(),
            Keep::Fine => Retention::new(secs(1), secs(600)).unwrap(),
            Keep::Off => Retention::NONE,
        }
    }
}

fn parse<T: Copy>(all: &[T], name: impl Fn(T) -> &'static str, s: &str) -> T {
    all.iter()
        .copied()
        .find(|&x| name(x) == s)
        .unwrap_or_else(|| panic!("unknown value {s:?}"))
}

/// The process's resident set, in bytes (`VmRSS` of `/proc/self/status`).
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kib * 1024
}

/// The label values of `n` series: series `i` is
/// `(handlers[i % HANDLERS], statuses[i / HANDLERS])`.
struct LabelValues {
    handlers: Vec<String>,
    statuses: Vec<String>,
}

impl LabelValues {
    fn new(n: usize) -> LabelValues {
        LabelValues {
            handlers: (0..HANDLERS).map(|h| format!("h{h}")).collect(),
            statuses: (0..n.div_ceil(HANDLERS)).map(|s| format!("s{s}")).collect(),
        }
    }

    fn get(&self, i: usize) -> (&str, &str) {
        (&self.handlers[i % HANDLERS], &self.statuses[i / HANDLERS])
    }
}

/// What one child measured.
struct Growth {
    rss_before: u64,
    rss_after: u64,
    /// lakemetrics only: how much `Registry::memory_bytes()` grew.
    memory_bytes: Option<u64>,
}

/// Creates series `0..n` with `make(i, handler, status)`, which also records into
/// each, keeping what it returns (the handle) alive; runs `settle` (the exporter's
/// upkeep, where a library needs one) and returns RSS before and after, and the
/// handles. The handle slots and label values exist before the baseline.
fn grow<H>(
    n: usize,
    mut make: impl FnMut(usize, &str, &str) -> H,
    settle: impl FnOnce(),
) -> (u64, u64, Vec<Option<H>>) {
    let labels = LabelValues::new(n);
    // Written once (not `vec![None; n]`, which may come from untouched zeroed
    // pages), so the slots are resident before the baseline.
    let mut handles: Vec<Option<H>> = (0..n).map(|_| None).collect();
    black_box(&mut handles);
    let before = rss_bytes();
    for (i, slot) in handles.iter_mut().enumerate() {
        let (h, s) = labels.get(i);
        *slot = Some(make(i, h, s));
    }
    settle();
    let after = rss_bytes();
    (before, after, black_box(handles))
}

fn child(lib: Lib, kind: Kind, keep: Keep, n: usize) -> Growth {
    let vals = observations();
    let v = |i: usize| vals[i & OBSERVATION_MASK];
    match lib {
        Lib::Lakemetrics => lakemetrics_child(kind, keep, n, &v),
        Lib::Prometheus => prometheus_child(kind, n, &v),
        Lib::PrometheusClient => prometheus_client_child(kind, n, &v),
        Lib::Metrics => metrics_child(kind, n, &v),
        Lib::Measured => measured_child(kind, n, &v),
    }
}

fn growth<H>((rss_before, rss_after, handles): (u64, u64, Vec<Option<H>>)) -> Growth {
    drop(handles);
    Growth {
        rss_before,
        rss_after,
        memory_bytes: None,
    }
}

fn lakemetrics_child(kind: Kind, keep: Keep, n: usize, v: &dyn Fn(usize) -> f64) -> Growth {
    let reg = Registry::builder()
        .retention(keep.retention())
        .max_series(usize::MAX)
        .max_series_per_family(usize::MAX)
        .build();
    let describe = match kind {
        Kind::Counter => Describe::counter(NAME),
        Kind::Gauge => Describe::gauge(NAME),
        Kind::Histogram => Describe::histogram(NAME),
        Kind::Summary => Describe::summary(NAME),
        Kind::Native => Describe::histogram(NAME)
            .native(NATIVE_SCHEMA)
            .native_max_buckets(NATIVE_MAX_BUCKETS),
    };
    reg.register(keep.describe(describe.help("Requests.")))
        .unwrap();
    let warm = reg.counter("warm_up", &[("handler", "w")]).unwrap();
    warm.inc();

    match kind {
        Kind::Counter => lakemetrics_growth(&reg, || {
            grow(
                n,
                |_, h, s| {
                    let c = reg.counter(NAME, &labels(h, s)).unwrap();
                    c.inc();
                    c
                },
                || (),
            )
        }),
        Kind::Gauge => lakemetrics_growth(&reg, || {
            grow(
                n,
                |i, h, s| {
                    let g = reg.gauge(NAME, &labels(h, s)).unwrap();
                    g.set(i as f64);
                    g
                },
                || (),
            )
        }),
        Kind::Histogram | Kind::Native => lakemetrics_growth(&reg, || {
            grow(
                n,
                |i, h, s| {
                    let x = reg.histogram(NAME, &labels(h, s)).unwrap();
                    x.observe(v(i));
                    x
                },
                || (),
            )
        }),
        Kind::Summary => lakemetrics_growth(&reg, || {
            grow(
                n,
                |i, h, s| {
                    let x = reg.summary(NAME, &labels(h, s)).unwrap();
                    x.observe(v(i));
                    x
                },
                || (),
            )
        }),
    }
}

fn labels<'a>(handler: &'a str, status: &'a str) -> [(&'static str, &'a str); 2] {
    [("handler", handler), ("status", status)]
}

/// The growth, and how much `Registry::memory_bytes()` (everything the registry
/// allocates) grew with it, read while the handles are still alive.
fn lakemetrics_growth<H>(
    reg: &Registry,
    grow: impl FnOnce() -> (u64, u64, Vec<Option<H>>),
) -> Growth {
    let accounted = reg.memory_bytes() as u64;
    let (before, after, handles) = grow();
    let memory_bytes = reg.memory_bytes() as u64 - accounted;
    let mut series = 0usize;
    reg.visit(&Filter::all().prefix(NAME), |f| {
        series += f.series().count()
    });
    assert_eq!(series, handles.len(), "every series was created");
    drop(handles);
    Growth {
        rss_before: before,
        rss_after: after,
        memory_bytes: Some(memory_bytes),
    }
}

/// `memory_bytes()` of one lakemetrics series of `kind` under `keep`.
fn lakemetrics_probe(kind: Kind, keep: Keep) -> u64 {
    let reg = Registry::builder().retention(keep.retention()).build();
    let describe = match kind {
        Kind::Counter => Describe::counter(NAME),
        Kind::Gauge => Describe::gauge(NAME),
        Kind::Histogram => Describe::histogram(NAME),
        Kind::Summary => Describe::summary(NAME),
        Kind::Native => Describe::histogram(NAME)
            .native(NATIVE_SCHEMA)
            .native_max_buckets(NATIVE_MAX_BUCKETS),
    };
    if keep.applies(kind) {
        reg.register(keep.describe(describe)).unwrap();
    }
    let labels = [("handler", "h0"), ("status", "s0")];
    (match kind {
        Kind::Counter => reg.counter(NAME, &labels).unwrap().memory_bytes(),
        Kind::Gauge => reg.gauge(NAME, &labels).unwrap().memory_bytes(),
        Kind::Histogram | Kind::Native => reg.histogram(NAME, &labels).unwrap().memory_bytes(),
        Kind::Summary => reg.summary(NAME, &labels).unwrap().memory_bytes(),
    }) as u64
}

fn prometheus_child(kind: Kind, n: usize, v: &dyn Fn(usize) -> f64) -> Growth {
    use prometheus::{GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts};

    let reg = prometheus::Registry::new();
    let warm = prometheus::IntCounter::new("warm_up", "Warm-up.").unwrap();
    reg.register(Box::new(warm.clone())).unwrap();
    warm.inc();
    let labels = &["handler", "status"];
    match kind {
        Kind::Counter => {
            let vec = IntCounterVec::new(Opts::new(NAME, "Requests."), labels).unwrap();
            reg.register(Box::new(vec.clone())).unwrap();
            growth(grow(
                n,
                |_, h, s| {
                    let c = vec.with_label_values(&[h, s]);
                    c.inc();
                    c
                },
                || (),
            ))
        }
        Kind::Gauge => {
            let vec = GaugeVec::new(Opts::new(NAME, "Requests."), labels).unwrap();
            reg.register(Box::new(vec.clone())).unwrap();
            growth(grow(
                n,
                |i, h, s| {
                    let g = vec.with_label_values(&[h, s]);
                    g.set(i as f64);
                    g
                },
                || (),
            ))
        }
        Kind::Histogram => {
            // `HistogramOpts` defaults to Prometheus' default buckets.
            let vec = HistogramVec::new(HistogramOpts::new(NAME, "Requests."), labels).unwrap();
            reg.register(Box::new(vec.clone())).unwrap();
            growth(grow(
                n,
                |i, h, s| {
                    let x = vec.with_label_values(&[h, s]);
                    x.observe(v(i));
                    x
                },
                || (),
            ))
        }
        Kind::Summary | Kind::Native => {
            unreachable!("prometheus has no summary or native histogram")
        }
    }
}

/// `prometheus-client`'s label set: owned strings, as label values known only at
/// run time must be.
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct PcLabels {
    handler: String,
    status: String,
}

type PcHistogram = prometheus_client::metrics::histogram::Histogram;

fn pc_histogram() -> PcHistogram {
    PcHistogram::new(DEFAULT_BUCKETS)
}

fn prometheus_client_child(kind: Kind, n: usize, v: &dyn Fn(usize) -> f64) -> Growth {
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    use std::sync::atomic::AtomicU64;

    let mut reg = prometheus_client::registry::Registry::default();
    let warm = Counter::<u64>::default();
    reg.register("warm_up", "Warm-up.", warm.clone());
    warm.inc();
    let key = |h: &str, s: &str| PcLabels {
        handler: h.to_owned(),
        status: s.to_owned(),
    };
    // The family hands out a read guard; the handle kept is a clone of the metric
    // (an `Arc`), as a service holding on to a series would keep it.
    match kind {
        Kind::Counter => {
            let family = Family::<PcLabels, Counter>::default();
            reg.register(NAME, "Requests.", family.clone());
            growth(grow(
                n,
                |_, h, s| {
                    let c = family.get_or_create(&key(h, s)).clone();
                    c.inc();
                    c
                },
                || (),
            ))
        }
        Kind::Gauge => {
            let family = Family::<PcLabels, Gauge<f64, AtomicU64>>::default();
            reg.register(NAME, "Requests.", family.clone());
            growth(grow(
                n,
                |i, h, s| {
                    let g = family.get_or_create(&key(h, s)).clone();
                    g.set(i as f64);
                    g
                },
                || (),
            ))
        }
        Kind::Histogram => {
            let family = Family::<PcLabels, PcHistogram, fn() -> PcHistogram>::new_with_constructor(
                pc_histogram,
            );
            reg.register(NAME, "Requests.", family.clone());
            growth(grow(
                n,
                |i, h, s| {
                    let x = family.get_or_create(&key(h, s)).clone();
                    x.observe(v(i));
                    x
                },
                || (),
            ))
        }
        Kind::Native => {
            fn native() -> PcHistogram {
                PcHistogram::new_native(
                    prometheus_client::metrics::histogram::NativeHistogramConfig::with_schema(
                        NATIVE_SCHEMA,
                    )
                    .max_buckets(NATIVE_MAX_BUCKETS as usize),
                )
            }
            let family =
                Family::<PcLabels, PcHistogram, fn() -> PcHistogram>::new_with_constructor(native);
            reg.register(NAME, "Requests.", family.clone());
            growth(grow(
                n,
                |i, h, s| {
                    let x = family.get_or_create(&key(h, s)).clone();
                    x.observe(v(i));
                    x
                },
                || (),
            ))
        }
        Kind::Summary => unreachable!("prometheus-client has no summary"),
    }
}

fn metrics_child(kind: Kind, n: usize, v: &dyn Fn(usize) -> f64) -> Growth {
    // Histograms render as histograms only for names given buckets; `NAME` gets
    // them for the histogram cells and not for the summary cells.
    let mut builder = PrometheusBuilder::new();
    if kind == Kind::Histogram {
        builder = builder
            .set_buckets_for_metric(Matcher::Full(NAME.into()), &DEFAULT_BUCKETS)
            .expect("non-empty buckets");
    }
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).expect("only recorder of the process");
    metrics::describe_counter!("warm_up", "Warm-up.");
    metrics::counter!("warm_up", "handler" => "w").increment(1);
    metrics::histogram!("warm_up_seconds", "handler" => "w").record(0.1);
    handle.run_upkeep();
    let labels = |h: &str, s: &str| [("handler", h.to_owned()), ("status", s.to_owned())];
    let g = match kind {
        Kind::Counter => {
            metrics::describe_counter!(NAME, "Requests.");
            growth(grow(
                n,
                |_, h, s| {
                    let c = metrics::counter!(NAME, &labels(h, s));
                    c.increment(1);
                    c
                },
                || (),
            ))
        }
        Kind::Gauge => {
            metrics::describe_gauge!(NAME, "Requests.");
            growth(grow(
                n,
                |i, h, s| {
                    let g = metrics::gauge!(NAME, &labels(h, s));
                    g.set(i as f64);
                    g
                },
                || (),
            ))
        }
        Kind::Native => unreachable!("metrics has no native histogram"),
        Kind::Histogram | Kind::Summary => {
            metrics::describe_histogram!(NAME, "Requests.");
            // The exporter's upkeep (or a scrape) moves the queued observations
            // into each series' distribution, created then.
            growth(grow(
                n,
                |i, h, s| {
                    let x = metrics::histogram!(NAME, &labels(h, s));
                    x.record(v(i));
                    x
                },
                || handle.run_upkeep(),
            ))
        }
    };
    drop(handle);
    g
}

fn l<'a>(handler: &'a str, status: &'a str) -> MeasuredLabels<'a> {
    MeasuredLabels { handler, status }
}

/// `measured`'s label group: values interned at first use.
#[derive(Clone, Copy, measured::LabelGroup)]
#[label(set = MeasuredSet)]
struct MeasuredLabels<'a> {
    #[label(dynamic_with = measured::lasso::ThreadedRodeo, default)]
    handler: &'a str,
    #[label(dynamic_with = measured::lasso::ThreadedRodeo, default)]
    status: &'a str,
}

fn measured_child(kind: Kind, n: usize, v: &dyn Fn(usize) -> f64) -> Growth {
    use measured::metric::histogram::Thresholds;

    let warm = measured::CounterVec::with_label_set(MeasuredSet::default());
    warm.inc(MeasuredLabels {
        handler: "w",
        status: "w",
    });
    // No handles: the vec owns its series, found by label group on every call.
    let g = match kind {
        Kind::Counter => {
            let vec = measured::CounterVec::with_label_set(MeasuredSet::default());
            let g = growth(grow(n, |_, h, s| vec.inc(l(h, s)), || ()));
            black_box(&vec);
            g
        }
        Kind::Gauge => {
            let vec = measured::FloatGaugeVec::with_label_set(MeasuredSet::default());
            let g = growth(grow(n, |i, h, s| vec.set(l(h, s), i as f64), || ()));
            black_box(&vec);
            g
        }
        Kind::Histogram => {
            let vec = measured::HistogramVec::<_, 11>::with_label_set_and_metadata(
                MeasuredSet::default(),
                Thresholds::with_buckets(DEFAULT_BUCKETS),
            );
            let g = growth(grow(n, |i, h, s| vec.observe(l(h, s), v(i)), || ()));
            black_box(&vec);
            g
        }
        Kind::Summary | Kind::Native => unreachable!("measured has no summary or native histogram"),
    };
    black_box(&warm);
    g
}

/// One line of a child's output, parsed.
#[derive(Debug, Clone)]
struct Cell {
    per_series: f64,
    memory_per_series: Option<f64>,
    secs: f64,
}

fn run_child(lib: Lib, kind: Kind, keep: Keep, n: usize) -> Cell {
    let exe = std::env::current_exe().expect("own path");
    let start = Instant::now();
    let out = Command::new(exe)
        .args(["--child", lib.name(), kind.name(), keep.name()])
        .arg(n.to_string())
        .output()
        .expect("spawn child");
    let secs = start.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child {} {} {} {n} failed: {}\n{}",
        lib.name(),
        kind.name(),
        keep.name(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let fields: BTreeMap<&str, &str> = stdout
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let num = |k: &str| -> Option<f64> { fields.get(k).and_then(|v| v.parse().ok()) };
    let before = num("rss_before").expect("rss_before");
    let after = num("rss_after").expect("rss_after");
    Cell {
        per_series: (after - before) / n as f64,
        memory_per_series: num("memory_bytes").map(|m| m / n as f64),
        secs,
    }
}

/// A row of the table: one library, kind and retention, every size.
type Row = (Lib, Kind, Keep);

enum Outcome {
    Measured(Cell),
    Skipped { est_bytes: f64 },
}

fn parent(sizes: &[usize], kinds: &[Kind]) {
    let start = Instant::now();
    let mut results: BTreeMap<(Row, usize), Outcome> = BTreeMap::new();
    let mut rows: Vec<Row> = Vec::new();
    for &kind in kinds {
        for lib in LIBS {
            if !lib.has(kind) {
                continue;
            }
            for &keep in lib.keeps() {
                if !keep.applies(kind) {
                    continue;
                }
                rows.push((lib, kind, keep));
            }
        }
    }
    for &row @ (lib, kind, keep) in &rows {
        let probe = match lib {
            Lib::Lakemetrics => lakemetrics_probe(kind, keep) as f64,
            _ => 0.0,
        };
        let mut last_per_series = 0.0f64;
        for &n in sizes {
            let est_bytes = probe.max(last_per_series) * n as f64;
            let outcome = if est_bytes > CAP_BYTES {
                eprintln!(
                    "{:<18} {:<9} {:<8} {n:>9}: skipped (est. {:.1} GiB)",
                    lib.name(),
                    kind.name(),
                    keep.name(),
                    est_bytes / GIB
                );
                Outcome::Skipped { est_bytes }
            } else {
                let cell = run_child(lib, kind, keep, n);
                eprintln!(
                    "{:<18} {:<9} {:<8} {n:>9}: {:>9.1} B/series ({:.1} s)",
                    lib.name(),
                    kind.name(),
                    keep.name(),
                    cell.per_series,
                    cell.secs
                );
                last_per_series = cell.per_series;
                Outcome::Measured(cell)
            };
            results.insert((row, n), outcome);
        }
    }
    print!("{}", table(&rows, sizes, &results));
    print!("{}", memory_bytes_table(&rows, sizes, &results));
    println!("\ntotal: {:.0} s", start.elapsed().as_secs_f64());
}

fn size_name(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// Bytes per series for every row and size, with the ratio to `measured` (to
/// `metrics` for summaries, which `measured` lacks).
fn table(rows: &[Row], sizes: &[usize], results: &BTreeMap<(Row, usize), Outcome>) -> String {
    let mut t = String::from("\n| library | kind | retention |");
    for &n in sizes {
        write!(t, " {} B/series | × ref |", size_name(n)).unwrap();
    }
    t.push_str("\n|---|---|---|");
    t.push_str(&"---:|---:|".repeat(sizes.len()));
    t.push('\n');
    for &row @ (lib, kind, keep) in rows {
        write!(t, "| {} | {} | {} |", lib.name(), kind.name(), keep.name()).unwrap();
        let reference = match kind {
            Kind::Summary => Lib::Metrics,
            Kind::Native => Lib::PrometheusClient,
            _ => Lib::Measured,
        };
        for &n in sizes {
            match &results[&(row, n)] {
                Outcome::Measured(c) => {
                    let ratio = match results.get(&((reference, kind, Keep::None), n)) {
                        Some(Outcome::Measured(r)) if r.per_series > 0.0 => {
                            format!("{:.2}", c.per_series / r.per_series)
                        }
                        _ => "n/a".into(),
                    };
                    write!(t, " {:.0} | {ratio} |", c.per_series).unwrap();
                }
                Outcome::Skipped { est_bytes } => {
                    write!(t, " skipped (est. {:.0} GiB) | |", est_bytes / GIB).unwrap()
                }
            }
        }
        t.push('\n');
    }
    t.push_str("\n× ref: bytes per series divided by `measured`'s for the kind and size ");
    t.push_str("(by `metrics`' for summaries: `measured`, `prometheus` and ");
    t.push_str("`prometheus-client` have none; by `prometheus-client`'s for native ");
    t.push_str("histograms, which only it has among the peers).\n");
    t
}

/// lakemetrics: `memory_bytes()` per series against RSS per series.
fn memory_bytes_table(
    rows: &[Row],
    sizes: &[usize],
    results: &BTreeMap<(Row, usize), Outcome>,
) -> String {
    let mut t = String::from("\n| kind | retention |");
    for &n in sizes {
        write!(
            t,
            " {} memory_bytes | RSS | RSS / memory_bytes |",
            size_name(n)
        )
        .unwrap();
    }
    t.push_str("\n|---|---|");
    t.push_str(&"---:|---:|---:|".repeat(sizes.len()));
    t.push('\n');
    for &row @ (lib, kind, keep) in rows {
        if lib != Lib::Lakemetrics {
            continue;
        }
        write!(t, "| {} | {} |", kind.name(), keep.name()).unwrap();
        for &n in sizes {
            match &results[&(row, n)] {
                Outcome::Measured(c) => {
                    let m = c.memory_per_series.unwrap_or(f64::NAN);
                    write!(
                        t,
                        " {m:.0} | {:.0} | {:.2} |",
                        c.per_series,
                        c.per_series / m
                    )
                    .unwrap();
                }
                Outcome::Skipped { .. } => t.push_str(" skipped | | |"),
            }
        }
        t.push('\n');
    }
    t
}

/// `cargo test --all-targets`: a quick check that every path works, no timing.
fn smoke() {
    let start = Instant::now();
    let g = lakemetrics_child(Kind::Counter, Keep::Default, 1_000, &|_| 0.0);
    let rss = g.rss_after.saturating_sub(g.rss_before);
    let reported = g.memory_bytes.unwrap();
    assert!(rss > 0, "RSS grew by {rss} bytes for 1,000 counters");
    assert!(reported > 0, "memory_bytes() sums to {reported}");
    println!(
        "memory: 1,000 lakemetrics counters, {} B/series RSS, {} B/series memory_bytes()",
        rss / 1_000,
        reported / 1_000
    );
    // One small child per library and kind checks the child path and the parsing
    // (too few series for RSS to be meaningful: only the plumbing is checked).
    for kind in KINDS {
        for lib in LIBS {
            if lib.has(kind) {
                let cell = run_child(lib, kind, lib.keeps()[0], 100);
                assert!(cell.per_series.is_finite());
            }
        }
    }
    println!(
        "memory: smoke run took {:.2} s",
        start.elapsed().as_secs_f64()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let a = &args[i + 1..];
        assert!(a.len() >= 4, "--child LIB KIND RETENTION N");
        let lib = parse(&LIBS, Lib::name, &a[0]);
        let kind = parse(&KINDS, Kind::name, &a[1]);
        let keep = parse(
            &[
                Keep::Default,
                Keep::OneSlot,
                Keep::Fine,
                Keep::Off,
                Keep::Striped,
                Keep::None,
            ],
            Keep::name,
            &a[2],
        );
        let n: usize = a[3].parse().expect("N");
        let g = child(lib, kind, keep, n);
        let mut line = format!(
            "lib={} kind={} retention={} n={n} rss_before={} rss_after={}",
            lib.name(),
            kind.name(),
            keep.name(),
            g.rss_before,
            g.rss_after
        );
        if let Some(m) = g.memory_bytes {
            write!(line, " memory_bytes={m}").unwrap();
        }
        println!("{line}");
        return;
    }
    if !args.iter().any(|a| a == "--bench") {
        smoke();
        return;
    }
    let sizes = match args.iter().position(|a| a == "--sizes") {
        Some(i) => args
            .get(i + 1)
            .expect("--sizes N,N,...")
            .split(',')
            .map(|s| s.trim().replace('_', "").parse().expect("a size"))
            .collect(),
        None => SIZES.to_vec(),
    };
    let kinds: Vec<Kind> = match args.iter().position(|a| a == "--kinds") {
        Some(i) => args
            .get(i + 1)
            .expect("--kinds KIND,KIND,...")
            .split(',')
            .map(|k| parse(&KINDS, Kind::name, k.trim()))
            .collect(),
        None => KINDS.to_vec(),
    };
    parent(&sizes, &kinds);
}
