//! Text that never changes: the read-only mappings of the object file this crate's
//! code is linked into (the executable, or the shared library that holds it).
//!
//! String literals live there. Those mappings are neither written nor unmapped
//! while this crate's code can run, so two `&str` with the same address and length
//! inside them hold the same text: the lookup cache confirms a call site whose
//! strings all lie there by their addresses alone, without comparing bytes (see
//! `cache`). Anything else is compared by contents: the heap and the stack, and
//! other shared libraries, which may be unloaded and their addresses reused for
//! other text.
//!
//! The mappings are read once per process from `/proc/self/maps`, on the first
//! cache fill (a cold path, never a recording). Elsewhere than Linux, or when that
//! file cannot be read, no address qualifies and every hit compares contents.
//! Stated limit: a program that makes its own read-only mappings writable
//! (`mprotect`) and rewrites its string literals defeats this, as it would any
//! `'static` string.

use std::sync::OnceLock;

/// The read-only address ranges (`start..end`) of this crate's object file.
static RANGES: OnceLock<Box<[(usize, usize)]>> = OnceLock::new();

/// Whether the bytes of `s` lie wholly in a read-only mapping of this crate's
/// object file, so that its address and length identify its text for as long as
/// the process runs. An empty string always qualifies (it has no bytes to change).
pub(crate) fn immutable(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    let start = s.as_ptr() as usize;
    let end = start.saturating_add(s.len());
    RANGES
        .get_or_init(read_ranges)
        .iter()
        .any(|&(lo, hi)| lo <= start && end <= hi)
}

fn read_ranges() -> Box<[(usize, usize)]> {
    if !cfg!(target_os = "linux") {
        return Box::new([]);
    }
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return Box::new([]);
    };
    // An address of this crate's code: its mapping names our object file.
    let anchor = read_ranges as fn() -> Box<[(usize, usize)]> as usize;
    ranges_of(&maps, anchor)
}

/// One line of `/proc/self/maps`.
struct Mapping<'a> {
    start: usize,
    end: usize,
    writable: bool,
    device: &'a str,
    inode: &'a str,
}

impl<'a> Mapping<'a> {
    /// `start-end perms offset device inode [path]`.
    fn parse(line: &'a str) -> Option<Mapping<'a>> {
        let mut f = line.split_ascii_whitespace();
        let (start, end) = f.next()?.split_once('-')?;
        let perms = f.next()?;
        let _offset = f.next()?;
        Some(Mapping {
            start: usize::from_str_radix(start, 16).ok()?,
            end: usize::from_str_radix(end, 16).ok()?,
            writable: perms.as_bytes().get(1) != Some(&b'-'),
            device: f.next()?,
            inode: f.next()?,
        })
    }
}

/// The read-only ranges of the file mapped at `anchor`, from the text of
/// `/proc/self/maps`; none if `anchor` is not in a file mapping.
fn ranges_of(maps: &str, anchor: usize) -> Box<[(usize, usize)]> {
    let all: Vec<Mapping<'_>> = maps.lines().filter_map(Mapping::parse).collect();
    let Some(ours) = all
        .iter()
        .find(|m| m.start <= anchor && anchor < m.end && m.inode != "0")
    else {
        return Box::new([]);
    };
    all.iter()
        .filter(|m| m.device == ours.device && m.inode == ours.inode && !m.writable)
        .map(|m| (m.start, m.end))
        .collect()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn literals_qualify_and_the_heap_and_stack_do_not() {
        assert!(immutable("requests"));
        assert!(immutable(""));
        let heap = String::from("requests");
        assert!(!immutable(&heap));
        let stack = *b"requests";
        assert!(!immutable(std::str::from_utf8(&stack).unwrap()));
        let leaked: &'static str = Box::leak(String::from("leaked").into_boxed_str());
        assert!(!immutable(leaked));
    }

    #[test]
    fn only_the_read_only_mappings_of_the_anchor_s_file() {
        let maps = "\
1000-2000 r--p 00000000 fe:00 42                         /usr/bin/app
2000-5000 r-xp 00001000 fe:00 42                         /usr/bin/app
5000-6000 rw-p 00004000 fe:00 42                         /usr/bin/app
6000-7000 r--p 00000000 fe:00 43                         /usr/lib/libother.so
7000-8000 rw-p 00000000 00:00 0                          [heap]
8000-9000 r-xp 00000000 00:00 0
";
        assert_eq!(
            &*ranges_of(maps, 0x2100),
            &[(0x1000, 0x2000), (0x2000, 0x5000)]
        );
        assert_eq!(&*ranges_of(maps, 0x6100), &[(0x6000, 0x7000)]);
        // Anonymous mappings and addresses outside every mapping: nothing.
        assert!(ranges_of(maps, 0x8100).is_empty());
        assert!(ranges_of(maps, 0x9100).is_empty());
        assert!(ranges_of("garbage\n", 0x2100).is_empty());
    }
}
