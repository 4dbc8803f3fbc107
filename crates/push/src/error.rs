//! The crate's error.

/// What went wrong starting a writer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The receiver's URL cannot be used.
    #[error("remote-write URL {url:?}: {why}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// A setting is out of range.
    #[error("remote-write settings: {0}")]
    InvalidConfig(String),
    /// The self-metrics could not be registered.
    #[error("registering the remote-write self-metrics: {0}")]
    Registry(String),
    /// The writer's thread or runtime could not be started.
    #[error("starting the remote writer: {0}")]
    Io(#[from] std::io::Error),
}
