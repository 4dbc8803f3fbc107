//! The clock keeps time in a child made by `fork`: the default clock reads the
//! kernel's time data page (or the vDSO), which the child shares at the same
//! address, and a ticker running in the parent (whose thread
//! the child does not have) is never read in the child.

#![cfg(target_os = "linux")]

use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::time::Duration;

use lakemetrics_core::{start_clock_ticker, Clock, CoarseClock, Registry, Retention};

/// The tests of this file fork and one of them starts the process' ticker: one at a
/// time, so that each forks in the state it set up.
static SERIAL: Mutex<()> = Mutex::new(());

/// Exit status of a child whose checks passed.
const OK: i32 = 0;
/// Exit status of a child whose clock did not advance over its sleep.
const FROZEN: i32 = 1;
/// Exit status of a child that panicked.
const PANICKED: i32 = 101;

const SLEEP: Duration = Duration::from_millis(200);
const MIN_ADVANCE_NANOS: u64 = 100_000_000;

/// Forks; the child runs `child` and leaves with `_exit(child())`, running nothing
/// of the parent's (no test harness, no destructors, no atexit handlers). Returns
/// the child's exit status.
///
/// The child should not print (another test thread may have held the stdout lock
/// at the fork); it reports through its exit status.
#[allow(unsafe_code)]
fn in_child(child: impl FnOnce() -> i32) -> i32 {
    // SAFETY: `fork` has no preconditions. The child of this multithreaded process
    // runs only code that is fine there: clock reads, `nanosleep`, glibc's malloc
    // (which glibc makes usable after fork) and, in one test, a new thread; it
    // never returns from this function.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(AssertUnwindSafe(child)).unwrap_or(PANICKED);
        // SAFETY: `_exit` ends the child at once; nothing of the parent's runs.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        // SAFETY: `pid` is our child and `status` a valid, writable int.
        let waited = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if waited == pid {
            break;
        }
        assert_eq!(waited, 0, "waitpid failed");
        if std::time::Instant::now() > deadline {
            // SAFETY: `pid` is our child, not yet reaped.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("child still running after 10 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(libc::WIFEXITED(status), "child ended by status {status:#x}");
    libc::WEXITSTATUS(status)
}

/// In the child: [`OK`] if `clock` advances by at least 100 ms over a 200 ms sleep.
fn advances(clock: &impl Clock) -> i32 {
    let a = clock.now_nanos();
    std::thread::sleep(SLEEP);
    let b = clock.now_nanos();
    if b >= a && b - a >= MIN_ADVANCE_NANOS {
        OK
    } else {
        FROZEN
    }
}

#[test]
fn default_clock_advances_in_forked_child() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // The parent has used the clock (and, before the fix, started its ticker).
    let clock = CoarseClock::new();
    let reg = Registry::new();
    reg.counter("ops", &[]).unwrap().inc();
    std::thread::sleep(Duration::from_millis(10));
    assert!(clock.now_nanos() > 0);

    assert_eq!(in_child(|| advances(&clock)), OK, "clock frozen in child");
}

#[test]
fn ticker_clock_advances_in_forked_child() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let clock = CoarseClock::new();
    let ticker = start_clock_ticker().unwrap();
    // Let the ticker publish a few times before the fork.
    std::thread::sleep(Duration::from_millis(10));
    assert!(clock.now_nanos() > 0);

    let code = in_child(|| {
        let advanced = advances(&clock);
        if advanced != OK {
            return advanced;
        }
        // The handle inherited from the parent names a thread that is not here:
        // stopping it must neither hang nor touch a ticker of the child's own.
        let mine = match start_clock_ticker() {
            Ok(t) => t,
            Err(_) => return 2,
        };
        ticker.stop();
        if start_clock_ticker().is_ok() {
            return 3;
        }
        std::thread::sleep(Duration::from_millis(10));
        let ticking = advances(&clock);
        mine.stop();
        if ticking != OK {
            return 4;
        }
        OK
    });
    assert_eq!(
        code, OK,
        "1: clock frozen in child; 2: child could not start its own ticker; \
         3: stopping the inherited handle stopped the child's ticker; \
         4: the child's ticker did not advance; 101: the child panicked (joining the \
         parent's ticker thread, for one)"
    );
}

#[test]
fn registry_in_forked_child_records_into_advancing_epochs() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let parent = Registry::new();
    parent.counter("ops", &[]).unwrap().inc();
    std::thread::sleep(Duration::from_millis(10));

    let code = in_child(|| {
        let reg = Registry::builder()
            .retention(Retention::new(Duration::from_millis(10), Duration::from_secs(1)).unwrap())
            .build();
        let ops = reg.counter("ops", &[]).unwrap();
        let start = reg.now_nanos();
        ops.inc();
        std::thread::sleep(SLEEP);
        if reg.now_nanos().saturating_sub(start) < MIN_ADVANCE_NANOS {
            return FROZEN;
        }
        ops.inc();
        // The first increment is 200 ms old: outside a 50 ms window, inside 1 s.
        if ops.increase(Duration::from_millis(50)) != 1 {
            return 2;
        }
        if ops.increase(Duration::from_secs(1)) != 2 {
            return 3;
        }
        OK
    });
    assert_eq!(
        code, OK,
        "1: registry clock frozen in child; 2: 50 ms window holds the old increment; \
         3: 1 s window lost an increment"
    );
}
