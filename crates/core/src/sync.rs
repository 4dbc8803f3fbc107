//! Atomics facade: `std` normally, `loom` under `--cfg loom`.
//!
//! Every atomic in this crate comes from here so that the loom tests model all of
//! them (the same arrangement as tokio's `src/loom/`).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64, Ordering};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// `CachePadded` keeps hot words written by different threads on their own cache lines.
pub(crate) use crossbeam_utils::CachePadded;
