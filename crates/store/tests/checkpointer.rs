//! The checkpointer writes on its interval and once more on shutdown or drop,
//! reports every outcome, and takes its options.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::TempDir;
use lakemetrics_core::Registry;
use lakemetrics_store::{Checkpointer, Error, Store};

#[test]
fn writes_on_its_interval_and_on_shutdown() {
    let dir = TempDir::new("ckpt-interval");
    let store = Store::builder(dir.path()).keep(100).open().unwrap();
    let reg = Registry::new();
    let rows = reg.counter("rows", &[]).unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    let ckpt = Checkpointer::builder()
        .interval(Duration::from_millis(20))
        .on_result(move |r| {
            assert!(r.is_ok(), "{r:?}");
            s.fetch_add(1, Ordering::Relaxed);
        })
        .start(store.clone(), reg.clone())
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while ckpt.stats().written < 3 && Instant::now() < deadline {
        rows.inc();
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(ckpt.stats().written >= 3, "{:?}", ckpt.stats());
    rows.inc_by(1000);
    let on_demand = ckpt.checkpoint_now().unwrap();
    let before = ckpt.stats();
    assert_eq!(before.failed, 0);
    let last = ckpt.shutdown().unwrap().unwrap();
    assert!(last.seq > on_demand.seq);
    // Every checkpoint written is reported: those counted before, the last one,
    // and any the interval wrote between `stats()` and `shutdown()` (20 ms apart
    // at most; it happened).
    let reported = seen.load(Ordering::Relaxed) as u64;
    assert!(
        reported > before.written && reported <= before.written + 1 + 2,
        "{reported} reported, {} written before shutdown",
        before.written
    );
    // The last checkpoint holds everything recorded before shutdown.
    let back = Registry::new();
    let r = store.restore(&back).unwrap().restored.unwrap();
    assert_eq!(r.seq, last.seq);
    assert_eq!(back.counter("rows", &[]).unwrap().get(), rows.get());
}

#[test]
fn drop_writes_a_last_checkpoint_unless_told_not_to() {
    let dir = TempDir::new("ckpt-drop");
    let store = Store::open(dir.path()).unwrap();
    let reg = Registry::new();
    reg.gauge("depth", &[]).unwrap().set(4.0);
    drop(Checkpointer::start(store.clone(), reg.clone()).unwrap());
    assert_eq!(store.checkpoints().unwrap().len(), 1);

    let quiet = Checkpointer::builder()
        .checkpoint_on_shutdown(false)
        .start(store.clone(), reg.clone())
        .unwrap();
    assert!(quiet.shutdown().is_none());
    assert_eq!(store.checkpoints().unwrap().len(), 1);
}

#[test]
fn counts_failures_and_rejects_a_zero_interval() {
    let dir = TempDir::new("ckpt-fail");
    let store = Store::open(dir.path().join("gone")).unwrap();
    std::fs::remove_dir_all(dir.path().join("gone")).unwrap();
    let ckpt = Checkpointer::builder()
        .checkpoint_on_shutdown(false)
        .start(store.clone(), Registry::new())
        .unwrap();
    let err = ckpt.checkpoint_now().unwrap_err();
    assert!(matches!(err, Error::Io { op: "create", .. }), "{err}");
    let st = ckpt.stats();
    assert_eq!((st.written, st.failed), (0, 1));
    assert!(st.last_error.unwrap().contains("gone"));

    assert!(matches!(
        Checkpointer::builder()
            .interval(Duration::ZERO)
            .start(store, Registry::new()),
        Err(Error::InvalidConfig { .. })
    ));
}
