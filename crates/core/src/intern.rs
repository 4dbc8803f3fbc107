//! String interning: each distinct name, label name and label value is stored once.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::fmt;
use std::ops::Deref;

use arcstr::ArcStr;
use parking_lot::Mutex;

/// An interned string: cheap to clone, compared by content.
///
/// One thin pointer (8 bytes) to a shared allocation holding the length, the
/// reference count and the bytes: a series keeps its label pairs in 32 bytes
/// instead of the 64 that `Arc<str>`'s pointer-and-length pairs took, and reading a
/// label's text is still one pointer load (the length sits beside the bytes).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sym(ArcStr);

impl Sym {
    /// The string.
    #[inline]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `other` is this very allocation (not just the same text).
    #[inline]
    pub(crate) fn ptr_eq(&self, other: &Sym) -> bool {
        ArcStr::ptr_eq(&self.0, &other.0)
    }
}

impl Deref for Sym {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Sym {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Sym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Sym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The table of interned strings. Touched only when series are created or
/// reclaimed, never on the recording path.
#[derive(Default)]
pub(crate) struct Interner {
    set: Mutex<HashSet<Sym>>,
}

impl Interner {
    /// The symbol for `s`, creating it if it is new.
    pub(crate) fn intern(&self, s: &str) -> Sym {
        let mut set = self.set.lock();
        if let Some(sym) = set.get(s) {
            return sym.clone();
        }
        let sym = Sym(ArcStr::from(s));
        set.insert(sym.clone());
        sym
    }

    /// Forgets the symbols that only the table still holds (after series are
    /// reclaimed), so label churn does not grow memory without bound.
    pub(crate) fn release(&self, syms: impl IntoIterator<Item = Sym>) {
        let mut set = self.set.lock();
        for sym in syms {
            // Two references: the table's and the one handed to us.
            if ArcStr::strong_count(&sym.0) == Some(2) {
                set.remove(sym.as_str());
            }
        }
    }

    /// Heap bytes of the table and its strings, in malloc chunks (see
    /// `storage::chunk`): a string takes its length and count (16 bytes) and
    /// its bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        let set = self.set.lock();
        let strings: usize = set
            .iter()
            .map(|s| crate::storage::chunk(2 * std::mem::size_of::<usize>() + s.len()))
            .sum();
        let slots = set.capacity() * 8 / 7;
        strings + slots * (std::mem::size_of::<Sym>() + 1)
    }

    /// Number of distinct strings held.
    pub(crate) fn len(&self) -> usize {
        self.set.lock().len()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn interns_once_and_releases() {
        let i = Interner::default();
        let a = i.intern("csv");
        let b = i.intern("csv");
        assert!(ArcStr::ptr_eq(&a.0, &b.0));
        assert_eq!(i.len(), 1);
        drop(b);
        // Held elsewhere: kept.
        i.release([a.clone()]);
        assert_eq!(i.len(), 1);
        i.release([a]);
        assert_eq!(i.len(), 0);
    }
}
