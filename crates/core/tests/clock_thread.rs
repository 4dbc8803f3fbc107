//! The library starts no thread unless asked: a registry with the default clock
//! runs nothing in the background, and the opt-in clock ticker's thread lives
//! exactly as long as its handle.

#![cfg(target_os = "linux")]

use std::sync::Mutex;
use std::time::{Duration, Instant};

use lakemetrics_core::{start_clock_ticker, Registry};

/// One test at a time: the ticker is process-wide.
static SERIAL: Mutex<()> = Mutex::new(());

/// The ticker thread's name as the kernel shows it: `lakemetrics-clock` cut to
/// the 15 bytes a thread name (`/proc/self/task/*/comm`) holds.
const TICKER_COMM: &str = "lakemetrics-clo";

/// Threads of this process whose name is the ticker's.
fn ticker_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == TICKER_COMM)
        .count()
}

/// Waits up to a second for the ticker thread count to become `n` (a new thread
/// names itself once running; a joined one leaves `/proc/self/task` an instant
/// after the join returns).
fn settles_at(n: usize) -> bool {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        if ticker_threads() == n {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn default_clock_starts_no_thread() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let reg = Registry::new();
    let ops = reg.counter("ops", &[]).unwrap();
    ops.inc();
    std::thread::sleep(Duration::from_millis(20));
    ops.inc();
    assert_eq!(ops.increase(Duration::from_secs(60)), 2);
    assert_eq!(ticker_threads(), 0, "a registry started a clock thread");
}

#[test]
fn ticker_thread_lives_as_long_as_its_handle() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    assert_eq!(ticker_threads(), 0);

    let ticker = start_clock_ticker().unwrap();
    assert!(settles_at(1), "no ticker thread");
    ticker.stop();
    assert!(settles_at(0), "stop() left the ticker thread running");

    let ticker = start_clock_ticker().unwrap();
    assert!(settles_at(1), "no ticker thread");
    drop(ticker);
    assert!(settles_at(0), "drop left the ticker thread running");
}
