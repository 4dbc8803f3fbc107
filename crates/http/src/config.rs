//! What the endpoints allow: the bearer token and the limits on what one request
//! may ask for.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::Error;

/// Default most series one `/api/v1/series` response may hold.
pub const DEFAULT_MAX_SERIES: usize = 10_000;
/// Default most history points one `/api/v1/series` response may hold.
pub const DEFAULT_MAX_POINTS: usize = 1_000_000;
/// Default longest a response may take to render and send.
pub const DEFAULT_SCRAPE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default most responses rendered from the registry at once.
pub const DEFAULT_MAX_CONCURRENT_RENDERS: usize = 4;
/// Default largest request body accepted (no endpoint reads one).
pub const DEFAULT_MAX_BODY_BYTES: u64 = 0;
/// Default size of the chunks a response is streamed in.
pub const DEFAULT_CHUNK_BYTES: usize = 64 * 1024;
/// Default longest a response's rendering waits for its client, in all.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default most response bytes rendered ahead of slow clients, all responses
/// together.
pub const DEFAULT_MAX_BUFFERED_BYTES: u64 = 64 * 1024 * 1024;
/// Default wrong-token attempts checked per second, all clients together.
pub const DEFAULT_TOKEN_ATTEMPTS_PER_SECOND: u32 = 10;
/// Default wrong-token attempts checked at once before the rate applies.
pub const DEFAULT_TOKEN_ATTEMPTS_BURST: u32 = 20;
/// Longest any timeout may be set to: a day.
pub(crate) const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// Shortest token accepted, in characters.
pub const MIN_TOKEN_CHARS: usize = 16;
/// Fewest distinct characters a token must hold.
pub const MIN_TOKEN_DISTINCT_CHARS: usize = 8;

/// The endpoints' settings: an optional bearer token and the limits on one
/// request. Built with [`Config::builder`]; [`Config::default`] has no token and
/// the default limits.
///
/// ```
/// use std::time::Duration;
/// use lakemetrics_http::Config;
/// let config = Config::builder()
///     .token("9f3c1e7a5b2d8046c3e1f0a9")
///     .max_series(5_000)
///     .scrape_timeout(Duration::from_secs(10))
///     .build()
///     .unwrap();
/// assert_eq!(config.max_series(), 5_000);
/// assert!(config.has_token());
/// // The token never shows in logs.
/// assert!(!format!("{config:?}").contains("9f3c1e7a"));
/// assert!(Config::builder().token("").build().is_err());
/// // Too short to resist guessing: refused with a typed error.
/// assert!(matches!(
///     Config::builder().token("change-me").build(),
///     Err(lakemetrics_http::Error::WeakToken { chars: 9, .. })
/// ));
/// ```
#[derive(Clone)]
pub struct Config {
    pub(crate) token: Option<Arc<[u8]>>,
    pub(crate) open_healthz: bool,
    pub(crate) max_series: usize,
    pub(crate) max_points: usize,
    pub(crate) max_body_bytes: u64,
    pub(crate) scrape_timeout: Duration,
    pub(crate) max_concurrent_renders: usize,
    pub(crate) chunk_bytes: usize,
    pub(crate) write_timeout: Duration,
    pub(crate) max_buffered_bytes: u64,
    pub(crate) token_attempts_per_second: u32,
    pub(crate) token_attempts_burst: u32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            token: None,
            open_healthz: true,
            max_series: DEFAULT_MAX_SERIES,
            max_points: DEFAULT_MAX_POINTS,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            scrape_timeout: DEFAULT_SCRAPE_TIMEOUT,
            max_concurrent_renders: DEFAULT_MAX_CONCURRENT_RENDERS,
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            max_buffered_bytes: DEFAULT_MAX_BUFFERED_BYTES,
            token_attempts_per_second: DEFAULT_TOKEN_ATTEMPTS_PER_SECOND,
            token_attempts_burst: DEFAULT_TOKEN_ATTEMPTS_BURST,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("open_healthz", &self.open_healthz)
            .field("max_series", &self.max_series)
            .field("max_points", &self.max_points)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("scrape_timeout", &self.scrape_timeout)
            .field("max_concurrent_renders", &self.max_concurrent_renders)
            .field("chunk_bytes", &self.chunk_bytes)
            .field("write_timeout", &self.write_timeout)
            .field("max_buffered_bytes", &self.max_buffered_bytes)
            .field("token_attempts_per_second", &self.token_attempts_per_second)
            .field("token_attempts_burst", &self.token_attempts_burst)
            .finish()
    }
}

impl Config {
    /// A builder starting from the defaults.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder {
            config: Config::default(),
            token: None,
        }
    }

    /// Whether requests must carry the bearer token.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Whether `/healthz` answers without the token.
    pub fn open_healthz(&self) -> bool {
        self.open_healthz
    }

    /// Most series one `/api/v1/series` response may hold.
    pub fn max_series(&self) -> usize {
        self.max_series
    }

    /// Most history points one `/api/v1/series` response may hold: a point is
    /// one epoch of a series' history columns (every epoch from the series'
    /// first selected one to the last, recorded into or not).
    pub fn max_points(&self) -> usize {
        self.max_points
    }

    /// Largest request body accepted, in bytes.
    pub fn max_body_bytes(&self) -> u64 {
        self.max_body_bytes
    }

    /// Longest a response may take to render and send.
    pub fn scrape_timeout(&self) -> Duration {
        self.scrape_timeout
    }

    /// Most responses rendered from the registry at once.
    pub fn max_concurrent_renders(&self) -> usize {
        self.max_concurrent_renders
    }

    /// Size of the chunks responses are streamed in, in bytes.
    pub fn chunk_bytes(&self) -> usize {
        self.chunk_bytes
    }

    /// Longest a response's rendering waits for its client, in all (see
    /// [`ConfigBuilder::write_timeout`]).
    pub fn write_timeout(&self) -> Duration {
        self.write_timeout
    }

    /// Most response bytes rendered ahead of slow clients, all responses
    /// together (see [`ConfigBuilder::max_buffered_bytes`]).
    pub fn max_buffered_bytes(&self) -> u64 {
        self.max_buffered_bytes
    }

    /// Token attempts checked per second, and at once, from connections that
    /// have not shown the token (see [`ConfigBuilder::token_attempts`]).
    pub fn token_attempts(&self) -> (u32, u32) {
        (self.token_attempts_per_second, self.token_attempts_burst)
    }
}

/// Builds a [`Config`]; [`ConfigBuilder::build`] checks the settings.
#[derive(Clone)]
pub struct ConfigBuilder {
    config: Config,
    token: Option<String>,
}

impl fmt::Debug for ConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigBuilder")
            .field("config", &self.config)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl ConfigBuilder {
    /// Requires `Authorization: Bearer <token>` on every endpoint (but `/healthz`,
    /// see [`ConfigBuilder::open_healthz`]). Basic authentication with the token as
    /// the password (any user name) is accepted too, so that a browser can open
    /// the dashboard. The token must be 16 to 4096 characters of the RFC 6750
    /// token alphabet (ASCII letters, digits and `-._~+/=`) with at least 8
    /// distinct ones: `openssl rand -hex 16` makes a good one. A shorter or
    /// more repetitive token is refused by [`ConfigBuilder::build`] with
    /// [`Error::WeakToken`].
    pub fn token(mut self, token: impl Into<String>) -> ConfigBuilder {
        self.token = Some(token.into());
        self
    }

    /// Whether `/healthz` answers without the token (default: yes, so that load
    /// balancers and orchestrators can probe it; it tells nothing about the data).
    pub fn open_healthz(mut self, open: bool) -> ConfigBuilder {
        self.config.open_healthz = open;
        self
    }

    /// Most series one `/api/v1/series` response may hold (default
    /// [`DEFAULT_MAX_SERIES`]); a query selecting more is answered with status 400
    /// and error `too_many_series`.
    pub fn max_series(mut self, n: usize) -> ConfigBuilder {
        self.config.max_series = n;
        self
    }

    /// Most history points one `/api/v1/series` response may hold (default
    /// [`DEFAULT_MAX_POINTS`]); a query selecting more is answered with status 400
    /// and error `too_many_points`.
    pub fn max_points(mut self, n: usize) -> ConfigBuilder {
        self.config.max_points = n;
        self
    }

    /// Largest request body accepted, in bytes (default 0: no endpoint reads a
    /// body); a larger `Content-Length`, or a chunked body, is answered with 413.
    pub fn max_body_bytes(mut self, bytes: u64) -> ConfigBuilder {
        self.config.max_body_bytes = bytes;
        self
    }

    /// Longest one response may take to render and send (default 30 s). A client
    /// that reads slower than this is cut off, so that it cannot keep a
    /// rendering thread, and the registry's family locks, busy for long.
    pub fn scrape_timeout(mut self, timeout: Duration) -> ConfigBuilder {
        self.config.scrape_timeout = timeout;
        self
    }

    /// Most responses rendered from the registry at once (default 4); more wait
    /// for a turn, up to the scrape timeout, then get 503.
    pub fn max_concurrent_renders(mut self, n: usize) -> ConfigBuilder {
        self.config.max_concurrent_renders = n;
        self
    }

    /// Size of the chunks responses are streamed in (default 64 KiB, at least
    /// 1 KiB): at most a few chunks of a response are in memory at once.
    pub fn chunk_bytes(mut self, bytes: usize) -> ConfigBuilder {
        self.config.chunk_bytes = bytes;
        self
    }

    /// Longest a response's rendering waits for its client, in all (default
    /// 5 s). A render streams to its client while the client keeps up; once
    /// it has waited a second (or this long, if shorter) it renders ahead into
    /// the shared buffer instead ([`ConfigBuilder::max_buffered_bytes`]), and
    /// gives back its render turn when done. If that buffer is full too, it
    /// waits for its own client, and past this timeout the response is cut.
    /// So a render turn is held at most the time to render plus this timeout,
    /// whatever the client does. [`HttpExporter`](crate::HttpExporter) also
    /// closes a connection whose writes make no progress for this long.
    pub fn write_timeout(mut self, timeout: Duration) -> ConfigBuilder {
        self.config.write_timeout = timeout;
        self
    }

    /// Most response bytes rendered ahead of slow clients, all responses
    /// together (default 64 MiB). Each response may also hold a few chunks of
    /// its own (4 of `chunk_bytes`, plus the one being filled) outside this
    /// budget, so the memory held for responses is at most this plus 5
    /// chunks per response in flight.
    pub fn max_buffered_bytes(mut self, bytes: u64) -> ConfigBuilder {
        self.config.max_buffered_bytes = bytes;
        self
    }

    /// How many token attempts are checked from connections that have not
    /// shown the token yet, all clients together (default 10 per second, in
    /// bursts of up to 20). A right token costs nothing; a wrong one uses up
    /// one attempt. When none is left, a request waits for its turn (up to a
    /// second) and is then checked, or is answered `429 too_many_attempts`
    /// without being checked. A connection that has shown the right token is
    /// checked without waiting from then on, so a flood of guesses cannot lock
    /// out a scraper that keeps its connection open (`docs/http.md` says what
    /// it can do to one that reconnects).
    pub fn token_attempts(mut self, per_second: u32, burst: u32) -> ConfigBuilder {
        self.config.token_attempts_per_second = per_second;
        self.config.token_attempts_burst = burst;
        self
    }

    /// Checks the settings and builds the [`Config`].
    pub fn build(self) -> Result<Config, Error> {
        let mut config = self.config;
        if let Some(token) = self.token {
            check_token(&token)?;
            config.token = Some(Arc::from(token.into_bytes().into_boxed_slice()));
        }
        let bad = |what, reason: &str| Error::InvalidConfig {
            what,
            reason: reason.to_string(),
        };
        if config.max_series == 0 {
            return Err(bad("max_series", "must be at least 1"));
        }
        if config.max_points == 0 {
            return Err(bad("max_points", "must be at least 1"));
        }
        if config.scrape_timeout.is_zero() {
            return Err(bad("scrape_timeout", "must be more than zero"));
        }
        // Deadlines are `Instant`s: a longer timeout could overflow one.
        if config.scrape_timeout > MAX_TIMEOUT {
            return Err(bad("scrape_timeout", "must be at most a day"));
        }
        if config.write_timeout > MAX_TIMEOUT {
            return Err(bad("write_timeout", "must be at most a day"));
        }
        if config.max_concurrent_renders == 0 {
            return Err(bad("max_concurrent_renders", "must be at least 1"));
        }
        if !(1024..=16 * 1024 * 1024).contains(&config.chunk_bytes) {
            return Err(bad("chunk_bytes", "must be 1 KiB to 16 MiB"));
        }
        if config.write_timeout.is_zero() {
            return Err(bad("write_timeout", "must be more than zero"));
        }
        if config.token_attempts_per_second == 0 || config.token_attempts_burst == 0 {
            return Err(bad(
                "token_attempts",
                "the rate and the burst must be at least 1",
            ));
        }
        Ok(config)
    }
}

fn check_token(token: &str) -> Result<(), Error> {
    let reason = if token.is_empty() {
        "is empty".to_string()
    } else if token.len() > 4096 {
        format!("is {} bytes long; the limit is 4096", token.len())
    } else if let Some(c) = token
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || "-._~+/=".contains(c)))
    {
        format!("contains {c:?}; use ASCII letters, digits and -._~+/=")
    } else {
        // Only ASCII is left, so bytes are characters.
        let chars = token.len();
        let mut seen = [false; 128];
        token
            .bytes()
            .for_each(|b| seen[usize::from(b & 0x7f)] = true);
        let distinct = seen.iter().filter(|&&s| s).count();
        if chars < MIN_TOKEN_CHARS || distinct < MIN_TOKEN_DISTINCT_CHARS {
            return Err(Error::WeakToken { chars, distinct });
        }
        return Ok(());
    };
    Err(Error::InvalidConfig {
        what: "token",
        reason,
    })
}
