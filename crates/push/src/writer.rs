//! The remote writer: a thread that pushes every interval, retries what the
//! receiver could not take, and flushes when it stops.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::header::HeaderValue;
use lakemetrics_core::{Counter, Describe, Filter, Gauge, Histogram, Registry};
use tokio::sync::mpsc;

/// Answers go back on a std channel: waiting for one works in any thread,
/// inside an async runtime too (where tokio's `blocking_recv` panics).
mod oneshot {
    pub(super) use std::sync::mpsc::{sync_channel, Receiver, SyncSender as Sender};
    pub(super) fn channel<T>() -> (Sender<T>, Receiver<T>) {
        sync_channel(1)
    }
}

use crate::client::{basic, Client, Target};
use crate::encode::{self, Cursors};
use crate::proto::Label;
use crate::Error;

/// Default time between pushes.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);
/// Default most samples in one request.
pub const DEFAULT_MAX_SAMPLES: usize = 2_000;
/// Default time a request may take, connecting included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default first retry delay.
pub const DEFAULT_MIN_BACKOFF: Duration = Duration::from_millis(50);
/// Default longest retry delay.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Default time the final flush may take.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

const SAMPLES: &str = "lakemetrics_remote_write_samples_total";
const PENDING: &str = "lakemetrics_remote_write_pending_samples";
const LAST_SUCCESS: &str = "lakemetrics_remote_write_last_success_timestamp_seconds";
const DURATION: &str = "lakemetrics_remote_write_request_duration_seconds";
const REQUESTS: &str = "lakemetrics_remote_write_requests_total";

/// Builds a [`RemoteWriter`]; see [`RemoteWriter::builder`].
#[derive(Debug, Clone)]
pub struct RemoteWriterBuilder {
    registry: Registry,
    url: String,
    interval: Duration,
    max_samples: usize,
    timeout: Duration,
    min_backoff: Duration,
    max_backoff: Duration,
    shutdown_timeout: Duration,
    external: Vec<(String, String)>,
    auth: Option<Auth>,
    filter: Filter,
    native_histograms: bool,
}

#[derive(Clone)]
enum Auth {
    Bearer(String),
    Basic(String, String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        match self {
            Auth::Bearer(_) => f.write_str("Bearer(..)"),
            Auth::Basic(user, _) => write!(f, "Basic({user:?}, ..)"),
        }
    }
}

/// What one push round did, in samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushReport {
    /// Acknowledged by the receiver.
    pub sent: u64,
    /// In requests that failed and will be (or were) tried again.
    pub retried: u64,
    /// Refused by the receiver with a 4xx other than 429: not sent again.
    pub dropped: u64,
    /// Left the ring before the receiver acknowledged them.
    pub lost: u64,
    /// Due but not acknowledged when the round ended (sent by a later one).
    pub pending: u64,
}

/// The self-metrics, registered in the registry the writer pushes from.
#[derive(Clone)]
struct Metrics {
    sent: Counter,
    retried: Counter,
    dropped: Counter,
    lost: Counter,
    pending: Gauge,
    last_success: Gauge,
    duration: Histogram,
    requests: [Counter; 4],
}

impl Metrics {
    fn new(reg: &Registry) -> Result<Metrics, Error> {
        let describe = [
            Describe::counter(SAMPLES).help(
                "Remote-write samples by outcome: sent (acknowledged), retried (in a failed request that is tried again), dropped (refused with a 4xx), lost (left the ring unsent).",
            ),
            Describe::gauge(PENDING).help("Samples due but not yet acknowledged by the receiver."),
            Describe::gauge(LAST_SUCCESS)
                .help("When the receiver last acknowledged a request (seconds since the Unix epoch)."),
            Describe::histogram(DURATION).help("Time a remote-write request took, answer included."),
            Describe::counter(REQUESTS)
                .help("Remote-write requests by result: 2xx, 4xx (refused), 5xx/429 (retried), error (no answer)."),
        ];
        for d in describe {
            let name = d.name().to_string();
            // A second writer on the same registry finds the families there.
            if reg.describe(&name).is_none() {
                reg.register(d)
                    .map_err(|e| Error::Registry(e.to_string()))?;
            }
        }
        let c = |name: &str, k: &str, v: &str| {
            reg.counter(name, &[(k, v)])
                .map_err(|e| Error::Registry(e.to_string()))
        };
        Ok(Metrics {
            sent: c(SAMPLES, "outcome", "sent")?,
            retried: c(SAMPLES, "outcome", "retried")?,
            dropped: c(SAMPLES, "outcome", "dropped")?,
            lost: c(SAMPLES, "outcome", "lost")?,
            pending: reg
                .gauge(PENDING, &[])
                .map_err(|e| Error::Registry(e.to_string()))?,
            last_success: reg
                .gauge(LAST_SUCCESS, &[])
                .map_err(|e| Error::Registry(e.to_string()))?,
            duration: reg
                .histogram(DURATION, &[])
                .map_err(|e| Error::Registry(e.to_string()))?,
            requests: [
                c(REQUESTS, "result", "2xx")?,
                c(REQUESTS, "result", "4xx")?,
                c(REQUESTS, "result", "retried")?,
                c(REQUESTS, "result", "error")?,
            ],
        })
    }
}

impl RemoteWriterBuilder {
    /// Time between pushes (default 15 s). A round that cannot finish (the
    /// receiver is down) gives up when the next one is due; that one sends
    /// everything still unacknowledged.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Most samples in one request (default 2,000). A request holds whole
    /// epochs of a series, so one histogram epoch with more buckets than this
    /// is sent alone.
    pub fn max_samples_per_request(mut self, n: usize) -> Self {
        self.max_samples = n;
        self
    }

    /// Time one request may take, connecting included (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Retry delays: the first, and the cap they double up to (defaults
    /// 50 ms, 5 s). Each is jittered to between half and all of itself.
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.min_backoff = min;
        self.max_backoff = max;
        self
    }

    /// Time the flush on shutdown (or drop) may take (default 5 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// A label added to every series (one of the series' own labels of the
    /// same name wins).
    pub fn external_label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.external.push((name.into(), value.into()));
        self
    }

    /// Sends `Authorization: Bearer <token>`.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.auth = Some(Auth::Bearer(token.into()));
        self
    }

    /// Sends `Authorization: Basic` with these credentials.
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.auth = Some(Auth::Basic(user.into(), password.into()));
        self
    }

    /// Which families and series to push (default all). The filter's time
    /// range is not used: the writer decides which epochs are due.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    /// Sends histograms with native buckets (`Describe::native`) as native
    /// histograms (default `false`: the classic form).
    ///
    /// When true, such a series is one remote-write 1.0 `Histogram` sample
    /// (in `TimeSeries.histograms`) per round in which an epoch of it closed:
    /// its cumulative native buckets, count and sum as read then, stamped
    /// with the time of that read. The receiver must accept native
    /// histograms (Prometheus: `--enable-feature=native-histograms`, 2.40 and
    /// later); remote write 1.0 has no negotiation, so a writer cannot learn
    /// whether it does: this is configuration.
    ///
    /// When false, every histogram is sent in its classic form, one sample per
    /// closed epoch per stream: `_bucket` per bound, `+Inf` included, `_sum`
    /// and `_count`. A native-only histogram (no classic buckets) so sends
    /// its `le="+Inf"` bucket, `_sum` and `_count`, as the text exposition
    /// writes it.
    pub fn native_histograms(mut self, on: bool) -> Self {
        self.native_histograms = on;
        self
    }

    /// Checks the settings, registers the self-metrics and starts the
    /// writer's thread, which pushes first after one interval.
    pub fn start(self) -> Result<RemoteWriter, Error> {
        let target = Target::parse(&self.url)?;
        let invalid = |what: &str| Err(Error::InvalidConfig(what.to_string()));
        if self.interval.is_zero() || self.timeout.is_zero() || self.min_backoff.is_zero() {
            return invalid("interval, timeout and backoff must be more than zero");
        }
        if self.max_backoff < self.min_backoff {
            return invalid("the longest backoff is shorter than the first");
        }
        if self.max_samples == 0 {
            return invalid("max_samples_per_request must be at least 1");
        }
        let mut external = Vec::with_capacity(self.external.len());
        for (k, v) in &self.external {
            if k.is_empty() || v.is_empty() || k == "__name__" || !valid_label_name(k) {
                return Err(Error::InvalidConfig(format!(
                    "external label {k:?}={v:?}: a label name (not __name__) and a non-empty value"
                )));
            }
            if external.iter().any(|l: &Label| &l.name == k) {
                return Err(Error::InvalidConfig(format!(
                    "external label {k:?} given twice"
                )));
            }
            external.push(Label::new(k, v));
        }
        let auth = match &self.auth {
            None => None,
            Some(Auth::Bearer(t)) => Some(format!("Bearer {t}")),
            Some(Auth::Basic(u, p)) => Some(basic(u, p)),
        };
        let auth = match auth {
            None => None,
            Some(a) => {
                let mut v = HeaderValue::from_str(&a).map_err(|_| {
                    Error::InvalidConfig("the credentials hold characters a header cannot".into())
                })?;
                v.set_sensitive(true);
                Some(v)
            }
        };
        let metrics = Metrics::new(&self.registry)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(Error::Io)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let status = Arc::new(Mutex::new(Status::default()));
        let mut pusher = Pusher {
            registry: self.registry,
            filter: self.filter,
            external,
            client: Client::new(target, auth),
            cursors: Cursors::new(),
            metrics,
            cfg: Config {
                interval: self.interval,
                max_samples: self.max_samples,
                timeout: self.timeout,
                min_backoff: self.min_backoff,
                max_backoff: self.max_backoff,
                native_histograms: self.native_histograms,
            },
            rng: seed(),
            status: status.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("lakemetrics-remote-write".into())
            .spawn(move || runtime.block_on(pusher.run(rx)))
            .map_err(Error::Io)?;
        Ok(RemoteWriter {
            tx,
            thread: Some(thread),
            shutdown_timeout: self.shutdown_timeout,
            status,
        })
    }
}

fn valid_label_name(k: &str) -> bool {
    let mut chars = k.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn seed() -> u64 {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (t ^ u64::from(std::process::id()).rotate_left(32)) | 1
}

/// The writer's state as the last round left it.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// Totals over the writer's life.
    pub totals: PushReport,
    /// The last error: a failed request, or a refusal with the receiver's
    /// status and the start of its body.
    pub last_error: Option<String>,
}

/// Pushes a registry to a remote-write receiver from its own thread.
///
/// ```no_run
/// use std::time::Duration;
/// use lakemetrics_core::Registry;
/// use lakemetrics_push::RemoteWriter;
///
/// let reg = Registry::new();
/// let writer = RemoteWriter::builder(&reg, "http://127.0.0.1:9090/api/v1/write")
///     .interval(Duration::from_secs(15))
///     .external_label("instance", "ingest-1")
///     .bearer_token("s3cr3t-t0k3n-value")
///     .start()
///     .unwrap();
/// // ... record into `reg` ...
/// let last = writer.shutdown(); // flushes, within the shutdown timeout
/// ```
pub struct RemoteWriter {
    tx: mpsc::UnboundedSender<Command>,
    thread: Option<std::thread::JoinHandle<()>>,
    shutdown_timeout: Duration,
    status: Arc<Mutex<Status>>,
}

impl std::fmt::Debug for RemoteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteWriter").finish_non_exhaustive()
    }
}

enum Command {
    /// Push now, within the time given, and answer with the round's report.
    Flush(Duration, oneshot::Sender<PushReport>),
    /// Flush within the time given, then stop.
    Stop(Duration, oneshot::Sender<PushReport>),
}

impl RemoteWriter {
    /// A builder for a writer that pushes what `registry` holds to `url`
    /// (`http://host:port/path`, e.g. Prometheus' `/api/v1/write`).
    pub fn builder(registry: &Registry, url: impl Into<String>) -> RemoteWriterBuilder {
        RemoteWriterBuilder {
            registry: registry.clone(),
            url: url.into(),
            interval: DEFAULT_INTERVAL,
            max_samples: DEFAULT_MAX_SAMPLES,
            timeout: DEFAULT_TIMEOUT,
            min_backoff: DEFAULT_MIN_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            external: Vec::new(),
            auth: None,
            filter: Filter::all(),
            native_histograms: false,
        }
    }

    /// Pushes what is due now, retrying for up to `within`, and returns what
    /// this round did. The interval's rounds go on as before.
    pub fn flush(&self, within: Duration) -> PushReport {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Flush(within, tx)).is_err() {
            return PushReport::default();
        }
        rx.recv().unwrap_or_default()
    }

    /// The totals so far and the last error.
    pub fn status(&self) -> Status {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Flushes (within the shutdown timeout) and stops the thread; returns
    /// the flush's report.
    pub fn shutdown(mut self) -> PushReport {
        self.stop()
    }

    fn stop(&mut self) -> PushReport {
        let Some(thread) = self.thread.take() else {
            return PushReport::default();
        };
        let (tx, rx) = oneshot::channel();
        let report = if self
            .tx
            .send(Command::Stop(self.shutdown_timeout, tx))
            .is_ok()
        {
            rx.recv().unwrap_or_default()
        } else {
            PushReport::default()
        };
        let _ = thread.join();
        report
    }
}

impl Drop for RemoteWriter {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Config {
    interval: Duration,
    max_samples: usize,
    timeout: Duration,
    min_backoff: Duration,
    max_backoff: Duration,
    native_histograms: bool,
}

struct Pusher {
    registry: Registry,
    filter: Filter,
    external: Vec<Label>,
    client: Client,
    cursors: Cursors,
    metrics: Metrics,
    cfg: Config,
    rng: u64,
    status: Arc<Mutex<Status>>,
}

enum Outcome {
    Acked,
    Refused(String),
    Retry(Option<Duration>, String),
}

impl Pusher {
    async fn run(&mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        let mut next = tokio::time::Instant::now() + self.cfg.interval;
        loop {
            let cmd = tokio::select! {
                cmd = rx.recv() => cmd,
                _ = tokio::time::sleep_until(next) => {
                    // A round may retry until the next one is due; a command
                    // (a flush, or a shutdown with its own deadline) cuts it
                    // short. What it had not seen acknowledged stays due.
                    let deadline = Instant::now() + self.cfg.interval;
                    let cut = tokio::select! {
                        _ = self.round(deadline) => None,
                        cmd = rx.recv() => Some(cmd),
                    };
                    next = tokio::time::Instant::now() + self.cfg.interval;
                    match cut {
                        None => continue,
                        Some(cmd) => cmd,
                    }
                }
            };
            match cmd {
                Some(Command::Flush(within, answer)) => {
                    let r = self.round(Instant::now() + within).await;
                    let _ = answer.send(r);
                }
                Some(Command::Stop(within, answer)) => {
                    let r = self.round(Instant::now() + within).await;
                    let _ = answer.send(r);
                    return;
                }
                None => return,
            }
        }
    }

    /// One round: everything due, in batches, each retried until `deadline`.
    async fn round(&mut self, deadline: Instant) -> PushReport {
        let due = encode::collect(
            &self.registry,
            &self.filter,
            &self.external,
            &mut self.cursors,
            self.cfg.native_histograms,
        );
        let mut report = PushReport {
            lost: due.lost,
            pending: due.samples(),
            ..PushReport::default()
        };
        self.metrics.lost.inc_by(due.lost);
        self.metrics.pending.set(report.pending as f64);
        let mut last_error = None;
        'batches: for batch in encode::batches(&due.series, self.cfg.max_samples) {
            let n = encode::batch_samples(&due.series, &batch);
            let body = Bytes::from(encode::compress(&encode::request(&due.series, &batch)));
            let mut attempt = 0u32;
            loop {
                let outcome = self.attempt(body.clone(), deadline).await;
                match outcome {
                    Outcome::Acked => {
                        report.sent += n;
                        self.metrics.sent.inc_by(n);
                        let now = SystemTime::now()
                            .duration_since(UNIX_EPOCH)
                            .map_or(0.0, |d| d.as_secs_f64());
                        self.metrics.last_success.set(now);
                    }
                    Outcome::Refused(why) => {
                        // Sending it again would be refused again.
                        report.dropped += n;
                        self.metrics.dropped.inc_by(n);
                        eprintln!("lakemetrics remote write: {n} samples refused: {why}");
                        last_error = Some(why);
                    }
                    Outcome::Retry(after, why) => {
                        report.retried += n;
                        self.metrics.retried.inc_by(n);
                        last_error = Some(why);
                        let wait = after.unwrap_or_else(|| self.backoff(attempt));
                        attempt = attempt.saturating_add(1);
                        if Instant::now() + wait >= deadline {
                            // The next round sends it, from the ring.
                            break 'batches;
                        }
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                }
                break;
            }
            // Acknowledged or refused: either way, these epochs are done.
            for (i, range) in &batch {
                let d = &due.series[*i];
                if let Some(last) = d.epochs[range.clone()].last() {
                    self.cursors.insert(d.key, last.0);
                }
            }
            report.pending -= n;
            self.metrics.pending.set(report.pending as f64);
        }
        if let Ok(mut s) = self.status.lock() {
            let t = &mut s.totals;
            t.sent += report.sent;
            t.retried += report.retried;
            t.dropped += report.dropped;
            t.lost += report.lost;
            t.pending = report.pending;
            if last_error.is_some() {
                s.last_error = last_error;
            }
        }
        report
    }

    async fn attempt(&mut self, body: Bytes, deadline: Instant) -> Outcome {
        let limit = self
            .cfg
            .timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        let start = Instant::now();
        let r = tokio::time::timeout(limit, self.client.send(body)).await;
        self.metrics.duration.observe(start.elapsed().as_secs_f64());
        let [ok, refused, retried, error] = &self.metrics.requests;
        match r {
            Err(_) => {
                error.inc();
                Outcome::Retry(None, format!("no answer within {limit:?}"))
            }
            Ok(Err(e)) => {
                error.inc();
                Outcome::Retry(None, e)
            }
            Ok(Ok(a)) if a.status.is_success() => {
                ok.inc();
                Outcome::Acked
            }
            Ok(Ok(a)) if a.status.is_server_error() || a.status.as_u16() == 429 => {
                retried.inc();
                Outcome::Retry(a.retry_after, format!("{}: {}", a.status, a.body.trim()))
            }
            Ok(Ok(a)) => {
                refused.inc();
                Outcome::Refused(format!("{}: {}", a.status, a.body.trim()))
            }
        }
    }

    /// The delay before retry `attempt` (0 first): doubling from the first
    /// backoff up to the cap, then jittered to between half and all of it.
    fn backoff(&mut self, attempt: u32) -> Duration {
        let d = self
            .cfg
            .min_backoff
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.cfg.max_backoff);
        // xorshift64: jitter needs no better randomness.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let frac = (self.rng >> 11) as f64 / (1u64 << 53) as f64;
        d.mul_f64(0.5 + 0.5 * frac)
    }
}
