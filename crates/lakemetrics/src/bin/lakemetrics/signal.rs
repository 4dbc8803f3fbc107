//! Ctrl-C (SIGINT) and SIGTERM set a flag the demo's loop polls, so it can stop
//! its threads and write its exports; a second one ends the process at once
//! (exit 130), in case the shutdown hangs. `signal-hook` installs the handlers:
//! they only store to atomics, which is async-signal-safe.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

/// Whether a stop signal has arrived.
pub fn stop_requested() -> bool {
    // Relaxed: a lone flag; nothing else is published with it.
    STOP.load(Ordering::Relaxed)
}

/// Installs the handlers for SIGINT and SIGTERM.
pub fn install() -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    for sig in [SIGINT, SIGTERM] {
        // The shutdown goes first: on the first signal STOP is still false, so
        // only the flag is set; on the second, the process ends.
        signal_hook::flag::register_conditional_shutdown(sig, 130, &STOP)?;
        signal_hook::flag::register(sig, &STOP)?;
    }
    Ok(())
}
