//! Memory per series is fixed at creation (invariant 4) and matches what
//! docs/architecture.md states for the default retention.

use lakemetrics_core::{Registry, SeriesData};

#[test]
fn memory_per_series_at_default_retention() {
    let reg = Registry::new();
    let c = reg.counter("c", &[]).unwrap();
    let g = reg.gauge("g", &[]).unwrap();
    let h = reg.histogram("h", &[]).unwrap();
    let s = reg.summary("s", &[]).unwrap();
    let sizes = [
        c.core().memory_bytes(),
        g.core().memory_bytes(),
        h.core().memory_bytes(),
        s.core().memory_bytes(),
    ];
    println!(
        "counter {} B, gauge {} B, histogram {} B, summary {} B",
        sizes[0], sizes[1], sizes[2], sizes[3]
    );
    // The figures docs/architecture.md gives (60 slots; 12 for histograms, 5 for summaries).
    assert_eq!(sizes, [1216, 2176, 1696, 49572]);
    for i in 0..100_000u64 {
        c.inc();
        g.set(i as f64);
        h.observe(i as f64);
        s.observe(i as f64);
    }
    let after = [
        c.core().memory_bytes(),
        g.core().memory_bytes(),
        h.core().memory_bytes(),
        s.core().memory_bytes(),
    ];
    assert_eq!(sizes, after);
    let mut n = 0;
    reg.visit(&Default::default(), |f| {
        for s in f.series() {
            if let SeriesData::Counter(c) = s.data() {
                n += c.memory_bytes();
            }
        }
    });
    assert_eq!(n, sizes[0]);
}
