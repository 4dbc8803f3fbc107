//! `lakemetrics-store`: compressed, crash-safe checkpoints of a lakemetrics
//! registry, so counters and recent history survive a restart.
//!
//! A [`Store`] is a directory of checkpoint files. [`Store::checkpoint`] writes
//! every family (with its options) and every series (labels, cumulative values,
//! ring history) of a registry as one file: a header, checksummed blocks with the
//! history columns compressed by pco, and a trailer; written to a temporary file,
//! fsynced, renamed into place and the directory fsynced, so a crash leaves the
//! previous checkpoints intact. [`Store::restore`] loads the newest checkpoint
//! that verifies whole into a registry, all or nothing, passing over damaged
//! ones. A [`Checkpointer`] does the writing from a thread, on an interval and at
//! shutdown. The file format is specified in `docs/formats.md`.
//!
//! The checkpoints written while the process serves are interim; the one at
//! shutdown is final. Restoring an interim one (the process was killed) starts
//! counters, histograms and summaries afresh, so they never move backwards
//! under Prometheus. The directory is not trusted: only regular files are read,
//! within a size and time limit, and a header must hold its file name's
//! sequence number.
//!
//! ```
//! use std::time::Duration;
//! use lakemetrics_core::Registry;
//! use lakemetrics_store::{Checkpointer, Store};
//! # let dir = std::env::temp_dir().join(format!("lmc-doc-lib-{}", std::process::id()));
//!
//! // At startup: restore what the last run saved, then checkpoint every minute.
//! let store = Store::open(&dir).unwrap();
//! let reg = Registry::new();
//! let report = store.restore(&reg).unwrap();
//! assert!(report.restored.is_none(), "a new directory holds nothing yet");
//! let ckpt = Checkpointer::builder()
//!     .interval(Duration::from_secs(60))
//!     .start(store.clone(), reg.clone())
//!     .unwrap();
//!
//! reg.counter("ingest_rows", &[("handler", "csv")]).unwrap().inc_by(500);
//! drop(ckpt); // writes a last checkpoint
//!
//! // The next run continues where this one stopped.
//! let next = Registry::new();
//! store.restore(&next).unwrap();
//! assert_eq!(next.counter("ingest_rows", &[("handler", "csv")]).unwrap().get(), 500);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

#![warn(missing_docs)]

mod checkpoint;
mod checkpointer;
mod column;
mod error;
mod file;
mod format;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
mod store;

pub use checkpoint::{Checkpoint, HistoryStats, SavedFamily, SavedSeries};
pub use checkpointer::{Checkpointer, CheckpointerBuilder, CheckpointerStats, DEFAULT_INTERVAL};
pub use error::{Corruption, Error, Result, Skipped};
pub use file::{DEFAULT_MAX_CHECKPOINT_BYTES, DEFAULT_READ_TIMEOUT};
pub use format::{MAGIC, OLDEST_VERSION, VERSION};
pub use store::{
    CheckpointFile, CheckpointInfo, Loaded, RestoreReport, Restored, Store, StoreBuilder,
    DEFAULT_COMPRESSION_LEVEL, DEFAULT_KEEP,
};
