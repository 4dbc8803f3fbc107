//! A thread that checkpoints a registry on an interval and once more on shutdown.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lakemetrics_core::Registry;

use crate::error::{Error, Result};
use crate::store::{CheckpointInfo, Store};

/// Interval used when none is given.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

type Callback = Box<dyn Fn(&Result<CheckpointInfo>) + Send + Sync>;

/// Checkpoints a registry into a store from a thread of its own: every
/// `interval`, and once more when it is shut down or dropped (unless told not
/// to). It only writes snapshots; retention needs no cleanup task.
///
/// The checkpoints on the interval are interim ones
/// ([`Store::checkpoint_interim`]), the one at shutdown a final one
/// ([`Store::checkpoint`]): after a crash the newest checkpoint is an interim
/// one, and a restore starts counters afresh rather than move them backwards
/// under Prometheus. Shut the checkpointer down after whatever serves the
/// registry (the HTTP exporter), so that the final checkpoint holds at least
/// every value a scrape saw.
///
/// ```
/// use std::time::Duration;
/// use lakemetrics_core::Registry;
/// use lakemetrics_store::{Checkpointer, Store};
/// # let dir = std::env::temp_dir().join(format!("lmc-doc-ckpt-{}", std::process::id()));
/// let store = Store::open(&dir).unwrap();
/// let reg = Registry::new();
/// let ckpt = Checkpointer::builder()
///     .interval(Duration::from_secs(30))
///     .start(store.clone(), reg.clone())
///     .unwrap();
/// reg.counter("rows", &[]).unwrap().inc();
/// // Stopping writes a last checkpoint, so nothing recorded before is lost.
/// let last = ckpt.shutdown().unwrap().unwrap();
/// assert_eq!(last.series, 1);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<Option<Result<CheckpointInfo>>>>,
}

struct Shared {
    store: Store,
    registry: Registry,
    stop: Mutex<bool>,
    wake: Condvar,
    on_result: Option<Callback>,
    stats: Mutex<CheckpointerStats>,
}

/// Counts of what a [`Checkpointer`] has done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckpointerStats {
    /// Checkpoints written.
    pub written: u64,
    /// Checkpoints that failed.
    pub failed: u64,
    /// Sequence number of the newest checkpoint written.
    pub last_seq: Option<u64>,
    /// The newest failure, as text.
    pub last_error: Option<String>,
}

/// Options of a [`Checkpointer`].
pub struct CheckpointerBuilder {
    interval: Duration,
    on_shutdown: bool,
    on_result: Option<Callback>,
}

impl fmt::Debug for CheckpointerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointerBuilder")
            .field("interval", &self.interval)
            .field("on_shutdown", &self.on_shutdown)
            .field("on_result", &self.on_result.is_some())
            .finish()
    }
}

impl Default for CheckpointerBuilder {
    fn default() -> Self {
        CheckpointerBuilder {
            interval: DEFAULT_INTERVAL,
            on_shutdown: true,
            on_result: None,
        }
    }
}

impl CheckpointerBuilder {
    /// Time between checkpoints ([`DEFAULT_INTERVAL`] by default; more than zero).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Whether shutting down (or dropping) the checkpointer writes a last
    /// checkpoint (yes by default).
    pub fn checkpoint_on_shutdown(mut self, yes: bool) -> Self {
        self.on_shutdown = yes;
        self
    }

    /// Called, on the checkpointer's thread, with the outcome of every
    /// checkpoint it writes (to log failures, say).
    pub fn on_result(
        mut self,
        f: impl Fn(&Result<CheckpointInfo>) + Send + Sync + 'static,
    ) -> Self {
        self.on_result = Some(Box::new(f));
        self
    }

    /// Starts the thread. The first checkpoint is written one interval from now.
    pub fn start(self, store: Store, registry: Registry) -> Result<Checkpointer> {
        if self.interval.is_zero() {
            return Err(Error::InvalidConfig {
                what: "checkpoint interval",
                reason: "must be more than zero".into(),
            });
        }
        let shared = Arc::new(Shared {
            store,
            registry,
            stop: Mutex::new(false),
            wake: Condvar::new(),
            on_result: self.on_result,
            stats: Mutex::new(CheckpointerStats::default()),
        });
        let (interval, on_shutdown) = (self.interval, self.on_shutdown);
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("lakemetrics-checkpointer".into())
            .spawn(move || run(&s, interval, on_shutdown))
            .map_err(|e| Error::io(shared.store.dir(), "start checkpointer thread", e))?;
        Ok(Checkpointer {
            shared,
            thread: Some(thread),
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn run(s: &Shared, interval: Duration, on_shutdown: bool) -> Option<Result<CheckpointInfo>> {
    let mut deadline = Instant::now() + interval;
    loop {
        {
            let mut stop = lock(&s.stop);
            loop {
                if *stop {
                    drop(stop);
                    return on_shutdown.then(|| s.checkpoint(false));
                }
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                stop = s
                    .wake
                    .wait_timeout(stop, deadline - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        }
        let _ = s.checkpoint(true);
        // Ticks missed while writing are skipped, not caught up on.
        deadline += interval;
        let now = Instant::now();
        if deadline <= now {
            deadline = now + interval;
        }
    }
}

impl Shared {
    fn checkpoint(&self, interim: bool) -> Result<CheckpointInfo> {
        let r = if interim {
            self.store.checkpoint_interim(&self.registry)
        } else {
            self.store.checkpoint(&self.registry)
        };
        {
            let mut st = lock(&self.stats);
            match &r {
                Ok(info) => {
                    st.written += 1;
                    st.last_seq = Some(info.seq);
                }
                Err(e) => {
                    st.failed += 1;
                    st.last_error = Some(e.to_string());
                }
            }
        }
        if let Some(f) = &self.on_result {
            f(&r);
        }
        r
    }
}

impl Checkpointer {
    /// A builder: interval, last checkpoint on shutdown, result callback.
    pub fn builder() -> CheckpointerBuilder {
        CheckpointerBuilder::default()
    }

    /// Starts checkpointing every [`DEFAULT_INTERVAL`], and on shutdown.
    pub fn start(store: Store, registry: Registry) -> Result<Checkpointer> {
        Checkpointer::builder().start(store, registry)
    }

    /// Writes an interim checkpoint now, on the calling thread (counted in the
    /// stats).
    pub fn checkpoint_now(&self) -> Result<CheckpointInfo> {
        self.shared.checkpoint(true)
    }

    /// What the checkpointer has done so far.
    pub fn stats(&self) -> CheckpointerStats {
        lock(&self.shared.stats).clone()
    }

    /// Stops the thread and waits for it; returns the outcome of the last
    /// checkpoint if it writes one on shutdown.
    pub fn shutdown(mut self) -> Option<Result<CheckpointInfo>> {
        self.stop()
    }

    fn stop(&mut self) -> Option<Result<CheckpointInfo>> {
        *lock(&self.shared.stop) = true;
        self.shared.wake.notify_all();
        let thread = self.thread.take()?;
        // A panic on the thread (in a callback) is not ours to re-raise in drop.
        thread.join().ok().flatten()
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

impl fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checkpointer")
            .field("dir", &self.shared.store.dir())
            .field("stats", &self.stats())
            .finish()
    }
}
