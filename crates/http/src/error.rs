//! The crate's error type: what can go wrong when configuring or starting the
//! exporter. Request errors never surface here: they are JSON responses (see
//! `docs/http.md`).

use std::io;
use std::net::SocketAddr;

/// Why an [`HttpExporter`](crate::HttpExporter) could not start or a
/// [`Config`](crate::Config) was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listening socket could not be bound (address in use, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The exporter's runtime or thread could not be started.
    #[error("cannot start the HTTP exporter's {what}: {source}")]
    Start {
        /// `runtime` or `thread`.
        what: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The token is too short or too repetitive to resist guessing: it needs
    /// at least [`MIN_TOKEN_CHARS`](crate::MIN_TOKEN_CHARS) characters, of
    /// which [`MIN_TOKEN_DISTINCT_CHARS`](crate::MIN_TOKEN_DISTINCT_CHARS)
    /// distinct. The token itself is never shown.
    #[error(
        "the token is too weak: {chars} characters, {distinct} distinct; use at least {min_chars} \
         characters with {min_distinct} or more distinct (for example `openssl rand -hex 16`)",
        min_chars = crate::MIN_TOKEN_CHARS,
        min_distinct = crate::MIN_TOKEN_DISTINCT_CHARS
    )]
    WeakToken {
        /// How many characters it has.
        chars: usize,
        /// How many distinct characters it has.
        distinct: usize,
    },
    /// A setting is out of range or malformed.
    #[error("invalid HTTP setting {what}: {reason}")]
    InvalidConfig {
        /// The setting.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}
