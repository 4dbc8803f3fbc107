//! Native histograms across a restart: a checkpoint saves their buckets (schema,
//! zero threshold and count, buckets) and per-epoch history, and a restore
//! gives back the same buckets and the same windowed quantiles; damaged native
//! fields are typed errors.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{registry, TempDir, T0};
use lakemetrics_core::{
    Describe, Filter, ManualClock, Registry, SeriesData, TimeRange, DEFAULT_ZERO_THRESHOLD,
};
use lakemetrics_store::{Checkpoint, Corruption, Error, Store};

/// Per series of `name`: the native snapshot, `quantile` at p50 and p99 over
/// 5 s, and every epoch's windowed quantiles over 3 s.
fn native_view(reg: &Registry, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    reg.visit(&Filter::all(), |fam| {
        if fam.name() != name {
            return;
        }
        for s in fam.series() {
            let SeriesData::Histogram(h) = s.data() else {
                panic!("not a histogram")
            };
            let n = h.native().expect("native buckets");
            let now = s.now();
            let mut line = format!(
                "{:?} p50={} p99={}",
                n.snapshot(0, 0.0),
                n.quantile(0.5, now, Duration::from_secs(5)),
                n.quantile(0.99, now, Duration::from_secs(5))
            );
            n.for_each_window_quantiles(
                now,
                TimeRange::ALL,
                Duration::from_secs(3),
                &[0.5, 0.99],
                |w| line += &format!(" {}:{}/{:?}", w.start, w.count, w.quantiles),
            );
            out.push(line);
        }
    });
    out
}

fn native_registry(clock: &Arc<ManualClock>) -> Registry {
    let reg = registry(clock);
    reg.register(Describe::histogram("lat").native(3).native_max_buckets(20))
        .unwrap();
    reg
}

#[test]
fn native_buckets_and_quantiles_survive_a_restart() {
    let dir = TempDir::new("native");
    let clock = Arc::new(ManualClock::new(T0));
    let a = native_registry(&clock);
    let h = a.histogram("lat", &[("handler", "csv")]).unwrap();
    // 12 s of observations over both signs, zero and many powers of ten, so
    // that the 20-bucket limit reduces the schema.
    for i in 0..48u32 {
        clock.advance(Duration::from_millis(250));
        let v = (1.0 + f64::from(i % 7)) * 10f64.powi(i as i32 % 5 - 2);
        h.observe(if i % 6 == 0 { -v } else { v });
        if i % 8 == 0 {
            h.observe(0.0);
        }
    }
    let before = h.native_snapshot().unwrap();
    assert!(before.schema < 3, "{before:?}");
    assert!(before.zero_count > 0 && !before.negative.is_empty());
    let view = native_view(&a, "lat");
    assert!(
        view[0].contains("p99=") && !view[0].contains("p99=NaN"),
        "{view:?}"
    );

    let store = Store::open(dir.path()).unwrap();
    store.checkpoint(&a).unwrap();
    let b = registry(&clock);
    let report = store.restore(&b).unwrap();
    assert_eq!(report.restored.unwrap().series_with_history, 1);
    let hb = b.histogram("lat", &[("handler", "csv")]).unwrap();
    assert_eq!(hb.native_snapshot().unwrap(), before);
    assert_eq!(native_view(&b, "lat"), view);
    // The family keeps its native configuration.
    b.visit(&Filter::all(), |fam| {
        let n = fam.native().unwrap();
        assert_eq!((n.schema, n.max_buckets), (3, 20));
        assert_eq!(n.zero_threshold, DEFAULT_ZERO_THRESHOLD);
    });
    // And it goes on from there.
    hb.observe(1.0);
    h.observe(1.0);
    assert_eq!(hb.native_snapshot(), h.native_snapshot());
}

/// The native configuration in the family block is checked: a schema the core
/// refuses is a typed error naming it (checksums fixed up, so that only the
/// check can catch it).
#[test]
fn a_bad_native_schema_is_a_typed_error() {
    let dir = TempDir::new("native-bad");
    let clock = Arc::new(ManualClock::new(T0));
    let a = native_registry(&clock);
    a.histogram("lat", &[]).unwrap().observe(1.5);
    let info = Store::open(dir.path()).unwrap().checkpoint(&a).unwrap();
    let mut b = std::fs::read(&info.path).unwrap();
    // The first block is the family's: header (36 bytes), block header (16).
    let len = u32::from_le_bytes(b[44..48].try_into().unwrap()) as usize;
    let payload = 52..52 + len;
    let mut needle = vec![1u8, 3];
    needle.extend_from_slice(&DEFAULT_ZERO_THRESHOLD.to_bits().to_le_bytes());
    let at = b[payload.clone()]
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the native flag and schema")
        + 52;
    b[at + 1] = 9;
    let mut h = crc32fast::Hasher::new();
    h.update(&b[36..48]);
    h.update(&b[payload]);
    let crc = h.finalize();
    b[48..52].copy_from_slice(&crc.to_le_bytes());
    match Checkpoint::decode(&b, &info.path) {
        Err(Error::Corrupt {
            offset,
            problem: Corruption::Invalid { what, detail },
            ..
        }) => {
            assert_eq!(what, "native buckets");
            assert_eq!(offset, at as u64 + 1);
            assert!(detail.contains("native schema"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}
