//! Ctrl-C (SIGINT) and SIGTERM set a flag the demo's loop polls, so it can stop
//! its threads and write its exports. The handler only stores to an atomic, which
//! is async-signal-safe. It is installed with `SA_RESETHAND`: a second Ctrl-C
//! gets the default action and ends the process at once.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

/// Whether a stop signal has arrived.
pub fn stop_requested() -> bool {
    // Relaxed: a lone flag; nothing else is published with it.
    STOP.load(Ordering::Relaxed)
}

#[cfg(unix)]
extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Installs the handler for SIGINT and SIGTERM.
#[cfg(unix)]
#[allow(unsafe_code)]
pub fn install() -> std::io::Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `sigaction` is a plain C struct for which all-zero is a valid
        // value; we set its handler to an `extern "C" fn(c_int)` that only stores
        // to an atomic (async-signal-safe), empty its mask with `sigemptyset`, and
        // pass valid pointers (the old action is not wanted: null).
        let rc = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESETHAND | libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Elsewhere Ctrl-C ends the process without exports; use `--duration`.
#[cfg(not(unix))]
pub fn install() -> std::io::Result<()> {
    Ok(())
}
