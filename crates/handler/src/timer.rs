//! The RAII batch timer and the closure form.

use std::time::Duration;

use crate::kind::ErrorKind;
use crate::metrics::HandlerMetrics;
use crate::names::KIND_DROPPED;
use crate::stopwatch::Started;

/// Times one batch from [`HandlerMetrics::start`] to [`success`](Timer::success)
/// or [`failure`](Timer::failure).
///
/// A timer dropped without either (an early `return`, a `?`, or a panic unwinding
/// through it) records a failure of kind [`KIND_DROPPED`] with the time it ran:
/// a batch that was started is always accounted for.
///
/// ```
/// use std::time::Duration;
/// use lakemetrics_core::Registry;
/// use lakemetrics_handler::HandlerMetrics;
///
/// let h = HandlerMetrics::new(&Registry::new(), "json").unwrap();
/// let parse = |ok: bool| -> Result<u64, &'static str> {
///     let t = h.start();
///     if !ok {
///         t.failure("parse_error");
///         return Err("parse_error");
///     }
///     t.success();
///     Ok(42)
/// };
/// parse(true).unwrap();
/// parse(false).unwrap_err();
/// {
///     let _forgotten = h.start();
/// }
/// let health = h.health(Duration::from_secs(60));
/// assert_eq!((health.batches, health.failures), (3, 2));
/// ```
#[must_use = "a timer dropped at once records a failure of kind `dropped`"]
pub struct Timer<'a> {
    metrics: &'a HandlerMetrics,
    started: Started,
    armed: bool,
}

impl HandlerMetrics {
    /// Starts timing a batch.
    #[inline]
    pub fn start(&self) -> Timer<'_> {
        Timer {
            metrics: self,
            started: self.inner.stopwatch.start(),
            armed: true,
        }
    }

    /// Runs `f`, timing it as one batch whose outcome is `f`'s result: `Ok`
    /// is a success, `Err(e)` a failure of kind `e.error_kind()`. A panic in `f`
    /// is a failure of kind [`KIND_DROPPED`] (and goes on unwinding).
    ///
    /// ```
    /// use lakemetrics_core::Registry;
    /// use lakemetrics_handler::HandlerMetrics;
    /// let h = HandlerMetrics::new(&Registry::new(), "csv").unwrap();
    /// let rows: Result<u64, std::io::Error> = h.time(|| Ok(10));
    /// assert_eq!(rows.unwrap(), 10);
    /// ```
    #[inline]
    pub fn time<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce() -> Result<T, E>,
        E: ErrorKind,
    {
        let t = self.start();
        let r = f();
        t.finish(&r);
        r
    }

    /// Like [`time`](HandlerMetrics::time), for errors that do not implement
    /// [`ErrorKind`]: `kind` names the error's kind.
    ///
    /// ```
    /// use lakemetrics_core::Registry;
    /// use lakemetrics_handler::HandlerMetrics;
    /// let h = HandlerMetrics::new(&Registry::new(), "csv").unwrap();
    /// let r: Result<(), u32> = h.time_with(|| Err(404), |_code| "not_found");
    /// assert!(r.is_err());
    /// ```
    #[inline]
    pub fn time_with<T, E, F, K>(&self, f: F, kind: K) -> Result<T, E>
    where
        F: FnOnce() -> Result<T, E>,
        K: FnOnce(&E) -> &str,
    {
        let t = self.start();
        let r = f();
        t.finish_with(&r, kind);
        r
    }
}

impl Timer<'_> {
    /// Time since the timer started.
    #[inline]
    pub fn elapsed(&self) -> Duration {
        self.metrics.inner.stopwatch.elapsed(self.started)
    }

    /// The batch succeeded.
    #[inline]
    pub fn success(mut self) {
        self.armed = false;
        self.metrics.record_success(self.elapsed());
    }

    /// The batch failed with error kind `kind` (a label value from a small,
    /// fixed set: see [`ErrorKind`]).
    ///
    /// Kinds registered with
    /// [`error_kinds`](crate::HandlerMetricsBuilder::error_kinds), and up to
    /// [`LEARNED_KINDS`](crate::LEARNED_KINDS) others once seen, are counted
    /// without a lookup or allocation. The first failure of another kind
    /// creates its series (allocating once); past the table, each failure of
    /// such a kind is a registry lookup, which allocates nothing once the series
    /// exists. Past the family's cardinality limit failures go to its overflow
    /// series; a kind too long for a label value is counted as
    /// [`KIND_INVALID`](crate::KIND_INVALID).
    #[inline]
    pub fn failure(mut self, kind: &str) {
        self.armed = false;
        self.metrics.record_failure(self.elapsed(), kind);
    }

    /// Ends the timer with `result`'s outcome: `Ok` is a success, `Err(e)` a
    /// failure of kind `e.error_kind()`.
    #[inline]
    pub fn finish<T, E: ErrorKind>(self, result: &Result<T, E>) {
        match result {
            Ok(_) => self.success(),
            Err(e) => self.failure(e.error_kind()),
        }
    }

    /// Ends the timer with `result`'s outcome, `kind` naming an error's kind.
    #[inline]
    pub fn finish_with<T, E, K>(self, result: &Result<T, E>, kind: K)
    where
        K: FnOnce(&E) -> &str,
    {
        match result {
            Ok(_) => self.success(),
            Err(e) => self.failure(kind(e)),
        }
    }
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        if self.armed {
            // Dropped without an outcome: an early return, or a panic unwinding
            // (`std::thread::panicking()` would tell which; both count the same).
            let elapsed = self.elapsed();
            self.metrics.record_failure(elapsed, KIND_DROPPED);
        }
    }
}

impl std::fmt::Debug for Timer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer")
            .field("handler", &self.metrics.handler())
            .field("elapsed", &self.elapsed())
            .finish()
    }
}
