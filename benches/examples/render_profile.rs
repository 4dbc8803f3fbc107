//! A driver for profilers: builds the `render_scale` bench's registry
//! (`Shape::counters(n)`) in lakemetrics and renders it `renders` times into a
//! reused buffer, printing the CPU time per series of each render.
//!
//! ```text
//! cargo build --release -p lakemetrics-benches --example render_profile
//! perf record -e cpu-clock -g target/release/examples/render_profile 1000000 20
//! valgrind --tool=callgrind --cache-sim=yes --collect-atstart=no \
//!     --toggle-collect='render_profile::render' --dump-before='render_profile::render' \
//!     target/release/examples/render_profile 100000 3
//! ```
//!
//! Arguments: `series` (a multiple of 100; 100000 by default), `renders` (10),
//! and what to render: `prometheus` (default), `json` (on the registry with 60
//! epochs of history, `Shape::history_registry`) or `measured` (the same shape
//! in `measured`, for comparison).

use std::hint::black_box;
use std::time::Instant;

use lakemetrics_benches::shape::Shape;
use lakemetrics_benches::{observations, ThreadCpuTime};
use lakemetrics_core::Filter;

// The driver builds only `measured` of the peers.
#[allow(dead_code)]
#[path = "../benches/peers/mod.rs"]
mod peers;

#[derive(Clone, Copy, PartialEq)]
enum What {
    Prometheus,
    Json,
    Measured,
}

enum Built {
    Lakemetrics(lakemetrics_core::Registry),
    Measured(Box<peers::MeasuredMetrics>),
}

fn main() {
    let mut args = std::env::args().skip(1);
    let series: usize = args.next().map_or(100_000, |a| a.parse().expect("series"));
    let renders: usize = args.next().map_or(10, |a| a.parse().expect("renders"));
    let what = match args.next().as_deref() {
        None | Some("prometheus") => What::Prometheus,
        Some("json") => What::Json,
        Some("measured") => What::Measured,
        Some(other) => panic!("{other:?}: prometheus, json or measured"),
    };
    let shape = Shape::counters(series);
    let vals = observations();
    let start = Instant::now();
    let subject = match what {
        What::Prometheus => Built::Lakemetrics(shape.lakemetrics_registry(&vals)),
        What::Json => Built::Lakemetrics(shape.history_registry(&vals)),
        What::Measured => Built::Measured(Box::new(peers::measured_metrics(&shape, &vals))),
    };
    eprintln!("built {series} series in {:.2?}", start.elapsed());
    let all = Filter::all();
    let mut buf = Vec::new();
    for _ in 0..renders {
        buf.clear();
        let start = ThreadCpuTime::now();
        render(&subject, what, &all, &mut buf);
        let ns = (ThreadCpuTime::now() - start).as_nanos() as f64;
        eprintln!(
            "render: {} bytes, {:.1} ns per series",
            buf.len(),
            ns / series as f64
        );
    }
    black_box(buf.len());
}

/// One render into `buf`. Not inlined, so that a profiler can select it
/// (`--toggle-collect='render_profile::render'`, `--dump-before=..` for one
/// profile per render).
#[inline(never)]
fn render(subject: &Built, what: What, all: &Filter, buf: &mut Vec<u8>) {
    match subject {
        Built::Lakemetrics(reg) if what == What::Json => {
            lakemetrics_export::write_json(black_box(reg), all, buf).unwrap()
        }
        Built::Lakemetrics(reg) => {
            lakemetrics_export::write_prometheus(black_box(reg), all, buf).unwrap()
        }
        Built::Measured(me) => peers::measured_render(black_box(me), buf),
    }
}
