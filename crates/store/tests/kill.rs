//! A child process checkpoints in a loop and is killed with SIGKILL at random
//! moments, many times. After each kill every checkpoint file in the directory
//! reads back whole (a file appears under its name only once complete), and a
//! restore gets the newest one with exactly the values the child had when it
//! wrote it: the child sets its counters to the checkpoint's sequence number.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Rng, TempDir, T0};
use lakemetrics_core::{Describe, ManualClock, Registry, Retention};
use lakemetrics_store::{Checkpoint, Store};

const CHILD_ENV: &str = "LAKEMETRICS_STORE_KILL_CHILD_DIR";
const FILLER: u64 = 200;

fn registry(seq_clock: &Arc<ManualClock>) -> Registry {
    let reg = Registry::builder()
        .clock(seq_clock.clone())
        .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(30)).unwrap())
        .build();
    reg.register(Describe::counter("filler").max_series(FILLER as usize))
        .unwrap();
    reg
}

/// The child: restores what the directory holds, then checkpoints forever,
/// bumping every value to the next sequence number first. Not a test of its
/// own: it does nothing unless the parent set the environment variable.
#[test]
fn child_checkpoints_in_a_loop() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let clock = Arc::new(ManualClock::new(T0));
    let reg = registry(&clock);
    let store = Store::builder(&dir).keep(3).open().unwrap();
    let report = store.restore(&reg).unwrap();
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    let mut seq = report.restored.map_or(0, |r| r.seq);
    clock.set(T0 + seq * 1_000_000_000);
    let started = Instant::now();
    // Bounded, in case the parent dies before killing it.
    while started.elapsed() < Duration::from_secs(20) {
        seq += 1;
        clock.set(T0 + seq * 1_000_000_000);
        let c = reg.counter("seq", &[]).unwrap();
        c.inc_by(seq - c.get());
        reg.gauge("seq_gauge", &[]).unwrap().set(seq as f64);
        reg.histogram("seq_hist", &[]).unwrap().observe(seq as f64);
        for i in 0..FILLER {
            let f = reg.counter("filler", &[("i", &i.to_string())]).unwrap();
            f.inc_by(seq * (i + 1) - f.get());
        }
        let info = store.checkpoint(&reg).unwrap();
        assert_eq!(
            info.seq, seq,
            "the store numbers on from the restored checkpoint"
        );
    }
}

fn spawn_child(dir: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_checkpoints_in_a_loop",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

#[test]
fn sigkill_at_random_moments_never_leaves_a_bad_or_wrong_checkpoint() {
    let dir = TempDir::new("kill");
    let mut rng = Rng::new(0x5eed_0003);
    let (mut last_seq, mut mid_write) = (0u64, 0);
    for round in 0..20 {
        let mut child = spawn_child(dir.path());
        std::thread::sleep(Duration::from_millis(20 + rng.below(180)));
        let _ = child.kill(); // SIGKILL on Unix
        let status = child.wait().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert!(
                status.signal().is_some() || status.success(),
                "round {round}: the child failed by itself: {status}"
            );
        }

        // Temporary files are what a kill mid-write leaves; they may be cut
        // anywhere, and reading them is an error or a whole checkpoint.
        let mut seqs = Vec::new();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            if name.ends_with(".tmp") {
                mid_write += 1;
                let _ = Checkpoint::read(&path);
            } else {
                let c = Checkpoint::read(&path)
                    .unwrap_or_else(|e| panic!("round {round}: a named checkpoint is bad: {e}"));
                seqs.push(c.seq);
            }
        }
        let Some(&newest) = seqs.iter().max() else {
            continue; // killed before its first checkpoint
        };
        assert!(newest >= last_seq, "round {round}: went back to {newest}");
        last_seq = newest;

        let clock = Arc::new(ManualClock::new(T0 + newest * 1_000_000_000));
        let reg = registry(&clock);
        let report = Store::open(dir.path()).unwrap().restore(&reg).unwrap();
        assert!(report.skipped.is_empty(), "{:?}", report.skipped);
        assert_eq!(report.restored.unwrap().seq, newest);
        assert_eq!(reg.counter("seq", &[]).unwrap().get(), newest);
        assert_eq!(reg.gauge("seq_gauge", &[]).unwrap().get(), newest as f64);
        assert_eq!(
            reg.histogram("seq_hist", &[]).unwrap().snapshot().count(),
            newest
        );
        for i in 0..FILLER {
            assert_eq!(
                reg.counter("filler", &[("i", &i.to_string())])
                    .unwrap()
                    .get(),
                newest * (i + 1)
            );
        }
    }
    eprintln!("last checkpoint {last_seq}; {mid_write} kills left a temporary file");
    assert!(last_seq > 0, "no child lived to write a checkpoint");
}
