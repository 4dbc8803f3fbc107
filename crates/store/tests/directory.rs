//! A store distrusts its directory: files named like checkpoints that are not
//! its own (copies under another name, symbolic links, FIFOs, directories,
//! huge or junk files, a name with the last sequence number) are typed errors
//! when read, are never removed and never count towards the checkpoints kept,
//! and do not stop new checkpoints. Nothing hangs and nothing panics.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::TempDir;
use lakemetrics_core::Registry;
use lakemetrics_store::{Checkpoint, Corruption, Error, RestoreReport, Store};

fn name(seq: u64) -> String {
    format!("checkpoint-{seq:020}.lmc")
}

fn rows(reg: &Registry) -> u64 {
    reg.counter("rows", &[]).unwrap().get()
}

/// A registry whose `rows` counter is at `n`.
fn registry(n: u64) -> Registry {
    let reg = Registry::new();
    reg.counter("rows", &[]).unwrap().inc_by(n);
    reg
}

/// Every entry of `dir` with its size (0 for what is not a regular file),
/// sorted: what "changes nothing else" compares.
fn listing(dir: &Path) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            let len = if t.is_file() {
                e.metadata().unwrap().len()
            } else {
                0
            };
            (e.file_name().into_string().unwrap(), len)
        })
        .collect();
    v.sort();
    v
}

fn mkfifo(path: &Path) {
    let st = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo (coreutils)");
    assert!(st.success(), "mkfifo {}", path.display());
}

/// Runs `f` on a thread and fails the test, rather than hang it, if it takes
/// more than `limit`.
fn bounded<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("still running after {limit:?}: hung"))
}

fn restore_bounded(store: &Store) -> (Registry, lakemetrics_store::Result<RestoreReport>) {
    let store = store.clone();
    bounded(Duration::from_secs(20), move || {
        let reg = Registry::new();
        let r = store.restore(&reg);
        (reg, r)
    })
}

/// The peak resident memory of this process, from `/proc/self/status`.
fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

/// Issue 17, item 6: a name with `u64::MAX` wrapped the next sequence number
/// to 0, so new checkpoints sorted oldest and were pruned right after writing.
#[test]
fn a_name_with_the_last_sequence_number_does_not_stop_persistence() {
    let dir = TempDir::new("seq-max");
    let store = Store::open(dir.path()).unwrap();
    store.checkpoint(&registry(10)).unwrap();
    let two = store.checkpoint(&registry(20)).unwrap();
    // A copy under the last name there is: not the store's own checkpoint.
    let max = dir.path().join(name(u64::MAX));
    std::fs::copy(&two.path, &max).unwrap();

    let store = Store::open(dir.path()).unwrap();
    for n in 3..=6 {
        let info = store.checkpoint(&registry(n * 10)).unwrap();
        assert_eq!(info.seq, n, "new checkpoints follow the store's own");
        assert!(info.path.exists(), "seq {n} was pruned right after writing");
    }
    // The store keeps its own newest three, and leaves the foreign file alone.
    let names: Vec<String> = listing(dir.path()).into_iter().map(|e| e.0).collect();
    assert_eq!(names, [name(4), name(5), name(6), name(u64::MAX)]);
    let (reg, report) = restore_bounded(&store);
    let report = report.unwrap();
    assert_eq!(report.restored.unwrap().seq, 6);
    assert_eq!(rows(&reg), 60, "the newest state, not the stale copy");
    assert_eq!(report.skipped.len(), 1);
    assert!(
        matches!(
            report.skipped[0].error,
            Error::SequenceMismatch {
                name_seq: u64::MAX,
                header_seq: 2,
                ..
            }
        ),
        "{}",
        report.skipped[0].error
    );
}

/// A store that really reaches `u64::MAX` refuses to go on, with a typed
/// error, and changes nothing.
#[test]
fn the_last_sequence_number_is_a_typed_error_not_a_wrap() {
    let dir = TempDir::new("seq-exhausted");
    // A foreign empty file makes the store's next number u64::MAX - 1.
    std::fs::write(dir.path().join(name(u64::MAX - 2)), b"").unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.checkpoint(&registry(1)).unwrap().seq, u64::MAX - 1);
    assert_eq!(store.checkpoint(&registry(2)).unwrap().seq, u64::MAX);
    let before = listing(dir.path());
    let err = store.checkpoint(&registry(3)).unwrap_err();
    assert!(
        matches!(&err, Error::SequenceExhausted { path } if *path == dir.path().join(name(u64::MAX))),
        "{err}"
    );
    assert!(
        err.to_string().contains("no room for a newer checkpoint"),
        "{err}"
    );
    assert_eq!(
        listing(dir.path()),
        before,
        "a refused checkpoint changes nothing"
    );
    // Opening again says the same, and restoring still works.
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, Error::SequenceExhausted { .. }), "{err}");
    let ro = Store::open_read_only(dir.path()).unwrap();
    let (reg, report) = restore_bounded(&ro);
    assert_eq!(report.unwrap().restored.unwrap().seq, u64::MAX);
    assert_eq!(rows(&reg), 2);
    assert_eq!(listing(dir.path()), before);
}

/// Issue 17, item 7: checkpoints were read whole, with no limit, through
/// symbolic links and FIFOs.
#[test]
fn only_regular_files_are_read_and_only_within_limits() {
    let dir = TempDir::new("hostile-files");
    let store = Store::open(dir.path()).unwrap();
    let good = store.checkpoint(&registry(42)).unwrap();
    let p = |seq: u64| dir.path().join(name(seq));
    std::os::unix::fs::symlink("/dev/zero", p(5)).unwrap();
    mkfifo(&p(6));
    std::fs::create_dir(p(7)).unwrap();
    // 1 GiB of junk, sparse: refused at its first bytes.
    let junk = std::fs::File::create(p(8)).unwrap();
    junk.set_len(1 << 30).unwrap();
    drop(junk);
    // A real header (seq 9) and then more than the maximum: refused by size.
    let big = Store::builder(dir.path().join("elsewhere")).open().unwrap();
    for _ in 0..9 {
        big.checkpoint(&registry(9)).unwrap();
    }
    let src = dir.path().join("elsewhere").join(name(9));
    std::fs::copy(&src, p(9)).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(p(9))
        .unwrap()
        .set_len(lakemetrics_store::DEFAULT_MAX_CHECKPOINT_BYTES + 1)
        .unwrap();
    std::fs::remove_dir_all(dir.path().join("elsewhere")).unwrap();
    let before = listing(dir.path());

    let started = Instant::now();
    let (reg, report) = restore_bounded(&store);
    let report = report.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report.restored.unwrap().seq, good.seq);
    assert_eq!(rows(&reg), 42);
    let errors: Vec<(PathBuf, &Error)> = report
        .skipped
        .iter()
        .map(|s| (s.path.clone(), &s.error))
        .collect();
    assert_eq!(errors.len(), 5, "{errors:#?}");
    let kinds = [
        (9, "too large"),
        (8, "bad magic"),
        (7, "directory"),
        (6, "FIFO"),
        (5, "symbolic link"),
    ];
    for ((path, err), (seq, what)) in errors.iter().zip(kinds) {
        assert_eq!(*path, p(seq));
        let ok = match (seq, err) {
            (9, Error::TooLarge { bytes, limit, .. }) => {
                *bytes == lakemetrics_store::DEFAULT_MAX_CHECKPOINT_BYTES + 1
                    && *limit == lakemetrics_store::DEFAULT_MAX_CHECKPOINT_BYTES
            }
            (
                8,
                Error::Corrupt {
                    problem: Corruption::BadMagic,
                    ..
                },
            ) => true,
            (5..=7, Error::NotARegularFile { kind, .. }) => *kind == what,
            _ => false,
        };
        assert!(ok, "{}: expected {what}, got {err}", path.display());
    }
    // Nothing was read whole: no gigabyte ever came into memory.
    assert!(
        peak_rss_bytes() < 256 << 20,
        "peak RSS {} MiB",
        peak_rss_bytes() >> 20
    );
    // The tool entry point says the same, and does not block on the FIFO.
    let fifo = p(6);
    let err = bounded(Duration::from_secs(5), move || Checkpoint::read(fifo)).unwrap_err();
    assert!(
        err.to_string().contains("not a regular file (FIFO)"),
        "{err}"
    );
    let link = p(5);
    let err = bounded(Duration::from_secs(5), move || Checkpoint::read(link)).unwrap_err();
    assert!(matches!(err, Error::NotARegularFile { .. }), "{err}");

    // A configured maximum and deadline apply to the good one too.
    let small = Store::builder(dir.path())
        .max_checkpoint_bytes(good.bytes - 1)
        .open_read_only()
        .unwrap();
    let (_, r) = restore_bounded(&small);
    match r.unwrap_err() {
        Error::NoUsableCheckpoint { skipped, .. } => {
            let last = &skipped.last().unwrap().error;
            assert!(matches!(last, Error::TooLarge { .. }), "{last}");
        }
        e => panic!("{e}"),
    }
    let hasty = Store::builder(dir.path())
        .read_timeout(Duration::from_nanos(1))
        .open_read_only()
        .unwrap();
    let (_, r) = restore_bounded(&hasty);
    match r.unwrap_err() {
        Error::NoUsableCheckpoint { skipped, .. } => {
            let last = &skipped.last().unwrap().error;
            assert!(matches!(last, Error::TimedOut { .. }), "{last}");
        }
        e => panic!("{e}"),
    }
    for bad in [
        Store::builder(dir.path()).max_checkpoint_bytes(0).open(),
        Store::builder(dir.path())
            .read_timeout(Duration::ZERO)
            .open(),
    ] {
        assert!(matches!(bad, Err(Error::InvalidConfig { .. })), "{bad:?}");
    }

    // Writing goes on; none of the foreign entries is removed or counted.
    assert_eq!(listing(dir.path()), before);
    let store = Store::builder(dir.path()).keep(2).open().unwrap();
    for n in 0..3 {
        store.checkpoint(&registry(100 + n)).unwrap();
    }
    // Seq 9 has a checkpoint's header with its own sequence number: it is one
    // of the store's (oversized), so it ages out like the good one.
    let mut after = before.clone();
    after.retain(|(n, _)| *n != name(good.seq) && *n != name(9));
    let now = listing(dir.path());
    for e in &after {
        assert!(now.contains(e), "{e:?} was removed: {now:?}");
    }
    let own: Vec<&String> = now
        .iter()
        .map(|e| &e.0)
        .filter(|n| **n == name(10) || **n == name(11) || **n == name(12))
        .collect();
    assert_eq!(own, [&name(11), &name(12)], "{now:?}");
}

/// Issue 17, item 8: a checkpoint copied under a newer name restored the
/// older state silently.
#[test]
fn a_checkpoint_under_another_name_is_refused() {
    let dir = TempDir::new("renamed");
    let store = Store::open(dir.path()).unwrap();
    let old = store.checkpoint(&registry(22)).unwrap();
    let newer = store.checkpoint(&registry(23)).unwrap();
    let copy = dir.path().join(name(99));
    std::fs::copy(&old.path, &copy).unwrap();

    let (reg, report) = restore_bounded(&store);
    let report = report.unwrap();
    assert_eq!(report.restored.unwrap().seq, newer.seq);
    assert_eq!(rows(&reg), 23);
    assert_eq!(report.skipped.len(), 1);
    let e = &report.skipped[0].error;
    assert!(
        matches!(
            e,
            Error::SequenceMismatch {
                name_seq: 99,
                header_seq: 1,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("the file name says sequence number 99, its header 1"),
        "{e}"
    );
    let err = Checkpoint::read(&copy).unwrap_err();
    assert!(matches!(err, Error::SequenceMismatch { .. }), "{err}");
    // Under a name that is not a checkpoint's, a tool still reads it.
    let elsewhere = dir.path().join("backup.lmc");
    std::fs::copy(&old.path, &elsewhere).unwrap();
    assert_eq!(Checkpoint::read(&elsewhere).unwrap().seq, old.seq);
}

/// Issue 17, item 9: pruning counted foreign files towards the checkpoints it
/// keeps (and failed on a directory with a checkpoint's name).
#[test]
fn pruning_keeps_the_stores_own_checkpoints_and_nothing_else_counts() {
    let dir = TempDir::new("prune-foreign");
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("checkpoint-abc.lmc"), b"x").unwrap();
    std::fs::write(p("checkpoint-.lmc"), b"x").unwrap();
    std::fs::write(p(&name(50)), b"not a checkpoint").unwrap();
    std::fs::create_dir(p(&name(60))).unwrap();
    mkfifo(&p(&name(70)));
    std::os::unix::fs::symlink("/dev/null", p(&name(80))).unwrap();
    let foreign = listing(dir.path());

    let store = Store::builder(dir.path()).keep(3).open().unwrap();
    let listed: Vec<u64> = store.checkpoints().unwrap().iter().map(|f| f.seq).collect();
    assert_eq!(
        listed,
        [80, 70, 60, 50],
        "names that are not checkpoints are not listed"
    );
    let mut seqs = Vec::new();
    for n in 0..5 {
        let info = store.checkpoint(&registry(n)).unwrap();
        seqs.push(info.seq);
    }
    assert_eq!(seqs, [81, 82, 83, 84, 85]);
    let now = listing(dir.path());
    let mut want = foreign.clone();
    for s in [83, 84, 85] {
        want.push((name(s), std::fs::metadata(p(&name(s))).unwrap().len()));
    }
    want.sort();
    assert_eq!(
        now, want,
        "three of the store's own, and every foreign entry"
    );
    let (reg, report) = restore_bounded(&store);
    assert_eq!(report.unwrap().restored.unwrap().seq, 85);
    assert_eq!(rows(&reg), 4);
}

/// A read-only store neither creates, cleans nor writes.
#[test]
fn a_read_only_store_changes_nothing() {
    let dir = TempDir::new("read-only");
    let missing = dir.path().join("missing");
    let err = Store::open_read_only(&missing).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Io {
                op: "list directory",
                ..
            }
        ),
        "{err}"
    );
    assert!(!missing.exists());
    std::fs::write(dir.path().join(format!("{}.tmp", name(3))), b"torn").unwrap();
    let before = listing(dir.path());
    let ro = Store::open_read_only(dir.path()).unwrap();
    let err = ro.checkpoint(&registry(1)).unwrap_err();
    assert!(matches!(err, Error::ReadOnly { .. }), "{err}");
    assert_eq!(listing(dir.path()), before);
}
