//! Atomics facade: `std` normally, `loom` under `--cfg loom`.
//!
//! Every atomic in this crate comes from here so that the loom tests model all of
//! them (the same arrangement as tokio's `src/loom/`).
//!
//! The protocol's orderings and steps are written through [`ord!`] and
//! [`mutant`], so that the mutation check (`scripts/loom-mutants.sh`) can weaken
//! each ordering and drop each step, one at a time, in a loom build, and show that
//! the loom models fail for every one. Outside loom builds both are constants:
//! `ord!(Release, "x")` is `Ordering::Release` and `mutant("x")` is `false`.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU64, Ordering};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicU64, Ordering};

/// A spin-wait hint; under loom, a yield to the model's other threads.
#[cfg(loom)]
pub(crate) use loom::hint::spin_loop;

/// A spin-wait hint; under loom, a yield to the model's other threads.
#[cfg(not(loom))]
pub(crate) use std::hint::spin_loop;

/// Whether the named mutation is applied: in loom builds, when the
/// `LAKEMETRICS_MUTANT` environment variable names it; never otherwise.
#[cfg(loom)]
pub(crate) fn mutant(name: &str) -> bool {
    static WANT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    WANT.get_or_init(|| std::env::var("LAKEMETRICS_MUTANT").ok())
        .as_deref()
        .is_some_and(|w| w == name)
}

/// Whether the named mutation is applied: never, outside loom builds.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) const fn mutant(_name: &str) -> bool {
    false
}

/// `Ordering::$ord`, or `Relaxed` when the mutation check weakens the ordering
/// named `$name` (loom builds only).
macro_rules! ord {
    ($ord:ident, $name:literal) => {
        if $crate::sync::mutant($name) {
            $crate::sync::Ordering::Relaxed
        } else {
            $crate::sync::Ordering::$ord
        }
    };
}
pub(crate) use ord;
