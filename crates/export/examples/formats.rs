//! Prints one small registry in every format: the examples in docs/formats.md.
//!
//! ```sh
//! cargo run -p lakemetrics-export --example formats            # all three
//! cargo run -p lakemetrics-export --example formats -- json    # one of them
//! ```

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use lakemetrics_core::{Buckets, Describe, Filter, ManualClock, Registry, Retention};
use lakemetrics_export::{write_format, Format};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A fixed clock, so the output is the same on every run: 2023-11-14T22:13:20Z.
    let clock = Arc::new(ManualClock::new(1_700_000_000_000_000_000));
    let reg = Registry::builder()
        .clock(clock.clone())
        .retention(Retention::new(
            Duration::from_secs(10),
            Duration::from_secs(60),
        )?)
        .build();
    reg.register(Describe::counter("ingest_rows_total").help("Rows ingested, by handler."))?;
    reg.register(Describe::gauge("queue_depth").help("Items waiting."))?;
    reg.register(
        Describe::histogram("batch_seconds")
            .help("Time to process one batch.")
            .unit("seconds")
            .buckets(Buckets::new(vec![0.01, 0.1, 1.0])?),
    )?;
    reg.register(
        Describe::summary("rpc_seconds")
            .help("RPC latency.")
            .unit("seconds")
            .objectives(vec![0.5, 0.99]),
    )?;

    let rows = reg.counter("ingest_rows_total", &[("handler", "csv \"v2\"")])?;
    let depth = reg.gauge("queue_depth", &[])?;
    let batch = reg.histogram("batch_seconds", &[("handler", "csv \"v2\"")])?;
    let rpc = reg.summary("rpc_seconds", &[])?;
    rows.inc_by(120);
    depth.set(3.0);
    batch.observe(0.004);
    batch.observe(0.3);
    rpc.observe(0.25);
    clock.advance(Duration::from_secs(10));
    rows.inc_by(30);
    depth.set(7.0);
    depth.set(5.0);
    batch.observe(0.07);
    rpc.observe(0.5);
    // A third epoch with no recordings: the JSON history shows what such an
    // epoch holds (the text formats do not change).
    clock.advance(Duration::from_secs(10));

    let which: Vec<String> = std::env::args().skip(1).collect();
    let mut out = std::io::stdout().lock();
    for format in [Format::Prometheus, Format::OpenMetrics, Format::Json] {
        if !which.is_empty() && !which.iter().any(|w| w == format.as_str()) {
            continue;
        }
        if which.len() != 1 {
            writeln!(out, "--- {} ({})", format, format.content_type())?;
        }
        write_format(format, &reg, &Filter::all(), &mut out)?;
    }
    Ok(())
}
