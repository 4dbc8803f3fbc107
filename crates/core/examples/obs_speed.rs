//! temporary
use lakemetrics_core::Registry;
use std::time::Instant;
fn main() {
    let reg = Registry::new();
    let h = reg.histogram("h", &[]).unwrap();
    let s = reg.summary("s", &[]).unwrap();
    let vals: Vec<f64> = (0..1024)
        .map(|i| 1e-4 * (2e5f64).powf(((i * 617) % 1024) as f64 / 1024.0))
        .collect();
    for round in 0..3 {
        let n = 20_000_000;
        let t = Instant::now();
        for i in 0..n {
            h.observe(std::hint::black_box(vals[i & 1023]));
        }
        let hn = t.elapsed().as_nanos() as f64 / n as f64;
        let t = Instant::now();
        for i in 0..n {
            s.observe(std::hint::black_box(vals[i & 1023]));
        }
        let sn = t.elapsed().as_nanos() as f64 / n as f64;
        let c = reg.counter("c", &[]).unwrap();
        let t = Instant::now();
        for _ in 0..n {
            c.inc();
        }
        let cn = t.elapsed().as_nanos() as f64 / n as f64;
        println!("round {round}: histogram {hn:.2} ns, summary {sn:.2} ns, counter {cn:.2} ns");
    }
}
