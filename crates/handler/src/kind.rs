//! Error kinds: how an error names itself, and how a handler finds the counter of
//! a kind without allocating.

use std::borrow::Cow;
use std::sync::OnceLock;

use lakemetrics_core::{Counter, Error, Registry, Result};

use crate::names::{HANDLER_LABEL, KIND_INVALID, KIND_LABEL};

/// An error that names its kind: the `kind` label value its failures are counted
/// under in `<prefix>errors_total`.
///
/// Kinds are label values, so they should come from a small, fixed set (an enum's
/// variant names, not error messages): each new kind is a new series, bounded by
/// the family's cardinality limit. Return `&'static str`s where you can.
///
/// ```
/// use lakemetrics_handler::ErrorKind;
///
/// enum ParseError {
///     BadHeader,
///     Truncated { at: u64 },
/// }
///
/// impl ErrorKind for ParseError {
///     fn error_kind(&self) -> &str {
///         match self {
///             ParseError::BadHeader => "bad_header",
///             ParseError::Truncated { .. } => "truncated",
///         }
///     }
/// }
/// assert_eq!(ParseError::Truncated { at: 7 }.error_kind(), "truncated");
/// assert_eq!("timeout".error_kind(), "timeout");
/// ```
pub trait ErrorKind {
    /// The kind, as a label value.
    fn error_kind(&self) -> &str;
}

impl ErrorKind for str {
    fn error_kind(&self) -> &str {
        self
    }
}

impl ErrorKind for String {
    fn error_kind(&self) -> &str {
        self
    }
}

impl ErrorKind for Cow<'_, str> {
    fn error_kind(&self) -> &str {
        self
    }
}

impl<T: ErrorKind + ?Sized> ErrorKind for &T {
    fn error_kind(&self) -> &str {
        (**self).error_kind()
    }
}

impl<T: ErrorKind + ?Sized> ErrorKind for Box<T> {
    fn error_kind(&self) -> &str {
        (**self).error_kind()
    }
}

/// Never called: a `Result<T, Infallible>` cannot fail.
impl ErrorKind for std::convert::Infallible {
    fn error_kind(&self) -> &str {
        match *self {}
    }
}

/// `io_<kind>` in snake case (`io_not_found`, `io_timed_out`, ...), `io_other`
/// for kinds without a name of their own here.
impl ErrorKind for std::io::ErrorKind {
    fn error_kind(&self) -> &str {
        io_kind(*self)
    }
}

/// The kind of [`std::io::Error::kind`], as for [`std::io::ErrorKind`].
impl ErrorKind for std::io::Error {
    fn error_kind(&self) -> &str {
        io_kind(self.kind())
    }
}

fn io_kind(kind: std::io::ErrorKind) -> &'static str {
    use std::io::ErrorKind as K;
    match kind {
        K::NotFound => "io_not_found",
        K::PermissionDenied => "io_permission_denied",
        K::ConnectionRefused => "io_connection_refused",
        K::ConnectionReset => "io_connection_reset",
        K::ConnectionAborted => "io_connection_aborted",
        K::NotConnected => "io_not_connected",
        K::AddrInUse => "io_addr_in_use",
        K::AddrNotAvailable => "io_addr_not_available",
        K::BrokenPipe => "io_broken_pipe",
        K::AlreadyExists => "io_already_exists",
        K::WouldBlock => "io_would_block",
        K::InvalidInput => "io_invalid_input",
        K::InvalidData => "io_invalid_data",
        K::TimedOut => "io_timed_out",
        K::WriteZero => "io_write_zero",
        K::Interrupted => "io_interrupted",
        K::Unsupported => "io_unsupported",
        K::UnexpectedEof => "io_unexpected_eof",
        K::OutOfMemory => "io_out_of_memory",
        _ => "io_other",
    }
}

/// Kinds a handler learns at run time, beyond those registered up front, that it
/// finds without a registry lookup. Past this, a new kind is looked up in the
/// registry on each failure (which allocates nothing once its series exists).
pub const LEARNED_KINDS: usize = 16;

/// A handler's `errors_total` counters by kind.
///
/// Known kinds (registered up front) sit in a boxed slice; kinds first seen at run
/// time are published, once each, into a fixed table of [`OnceLock`]s filled in
/// order, so finding any of them is a short scan of string comparisons: no hash,
/// no lock, no allocation.
pub(crate) struct KindTable {
    known: Box<[(Box<str>, Counter)]>,
    learned: [OnceLock<(Box<str>, Counter)>; LEARNED_KINDS],
    invalid: Counter,
    registry: Registry,
    family: Box<str>,
    handler: Box<str>,
}

impl KindTable {
    pub(crate) fn new<'k>(
        registry: &Registry,
        family: &str,
        handler: &str,
        kinds: impl IntoIterator<Item = &'k str>,
    ) -> Result<KindTable> {
        let lookup =
            |kind: &str| registry.counter(family, &[(HANDLER_LABEL, handler), (KIND_LABEL, kind)]);
        let mut known: Vec<(Box<str>, Counter)> = Vec::new();
        for kind in kinds {
            if !known.iter().any(|(k, _)| &**k == kind) {
                known.push((kind.into(), lookup(kind)?));
            }
        }
        let invalid = lookup(KIND_INVALID)?;
        Ok(KindTable {
            known: known.into_boxed_slice(),
            learned: std::array::from_fn(|_| OnceLock::new()),
            invalid,
            registry: registry.clone(),
            family: family.into(),
            handler: handler.into(),
        })
    }

    /// Counts one failure of `kind`.
    #[inline]
    pub(crate) fn count(&self, kind: &str) {
        match self.find(kind) {
            Some(c) => c.inc(),
            None => self.count_new(kind),
        }
    }

    #[inline]
    fn find(&self, kind: &str) -> Option<&Counter> {
        if let Some((_, c)) = self.known.iter().find(|(k, _)| &**k == kind) {
            return Some(c);
        }
        for slot in &self.learned {
            match slot.get() {
                Some((k, c)) if &**k == kind => return Some(c),
                Some(_) => {}
                // Slots fill in order: nothing after an empty one.
                None => return None,
            }
        }
        None
    }

    /// A kind not in the tables: find or create its series in the registry and
    /// learn it if there is room. Past the family's cardinality limit the failure
    /// goes to the family's overflow series (and is not learned, so the registry
    /// keeps counting overflowed lookups); an unusable label value goes to
    /// [`KIND_INVALID`].
    #[cold]
    #[inline(never)]
    fn count_new(&self, kind: &str) {
        let labels = [(HANDLER_LABEL, &*self.handler), (KIND_LABEL, kind)];
        match self.registry.counter(&self.family, &labels) {
            Ok(c) => {
                c.inc();
                self.learn(kind, c);
            }
            Err(Error::CardinalityLimit { .. }) => {
                match self.registry.counter_or_overflow(&self.family, &labels) {
                    Ok(c) => c.inc(),
                    Err(_) => self.invalid.inc(),
                }
            }
            Err(_) => self.invalid.inc(),
        }
    }

    fn learn(&self, kind: &str, counter: Counter) {
        let mut entry = Some((Box::<str>::from(kind), counter));
        for slot in &self.learned {
            if let Some(e) = entry.take() {
                if let Err(e) = slot.set(e) {
                    entry = Some(e);
                }
            }
            match slot.get() {
                // Ours, or another thread learned the same kind first.
                Some((k, _)) if &**k == kind => return,
                _ => {}
            }
        }
        // Table full: this kind is looked up in the registry each time.
    }

    /// Kinds known to the table (registered up front or learned), in order.
    pub(crate) fn kinds(&self) -> impl Iterator<Item = &str> + '_ {
        self.known.iter().map(|(k, _)| &**k).chain(
            self.learned
                .iter()
                .map_while(|s| s.get().map(|(k, _)| &**k)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_kinds_are_snake_case_and_static() {
        let e = std::io::Error::new(std::io::ErrorKind::TimedOut, "slow disk");
        assert_eq!(e.error_kind(), "io_timed_out");
        assert_eq!(std::io::Error::other("x").error_kind(), "io_other");
        assert_eq!(std::io::ErrorKind::NotFound.error_kind(), "io_not_found");
    }

    #[test]
    fn learning_fills_slots_in_order_without_duplicates() {
        let reg = Registry::new();
        let t = KindTable::new(&reg, "errs_total", "csv", ["a", "a", "b"]).unwrap();
        assert_eq!(t.kinds().collect::<Vec<_>>(), ["a", "b"]);
        t.count("c");
        t.count("c");
        t.count("d");
        assert_eq!(t.kinds().collect::<Vec<_>>(), ["a", "b", "c", "d"]);
        for i in 0..LEARNED_KINDS + 4 {
            t.count(&format!("k{i}"));
        }
        assert_eq!(t.kinds().count(), 2 + LEARNED_KINDS);
        let get = |k: &str| {
            reg.counter("errs_total", &[("handler", "csv"), ("kind", k)])
                .unwrap()
                .get()
        };
        assert_eq!(get("c"), 2);
        assert_eq!(get(&format!("k{}", LEARNED_KINDS + 3)), 1);
    }
}
