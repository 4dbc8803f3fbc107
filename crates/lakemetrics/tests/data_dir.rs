//! `demo --data-dir` continues its counters across runs, and `inspect` prints
//! what a checkpoint holds or says where it is damaged.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_lakemetrics");

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run the lakemetrics binary")
}

/// The sum of every `ingest_batches_total` sample in a Prometheus text export.
fn batches(prom: &Path) -> u64 {
    fs::read_to_string(prom)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("ingest_batches_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn demo_continues_from_its_checkpoint_and_inspect_shows_it() {
    let tmp =
        TempDir(std::env::temp_dir().join(format!("lakemetrics-data-dir-{}", std::process::id())));
    let _ = fs::remove_dir_all(&tmp.0);
    let data = tmp.0.join("data");
    let (out1, out2) = (tmp.0.join("out1"), tmp.0.join("out2"));
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let demo = |out: &Path| {
        let o = run(&[
            "demo",
            "-q",
            "--duration",
            "1s",
            "--seed",
            "7",
            "--data-dir",
            &s(&data),
            "--out-dir",
            &s(out),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let first = demo(&out1);
    assert!(first.contains("No checkpoint in"), "{first}");
    let second = demo(&out2);
    restored_and_summarised(&first, &second);
    let (b1, b2) = (
        batches(&out1.join("metrics.prom")),
        batches(&out2.join("metrics.prom")),
    );
    assert!(
        b1 > 0 && b2 > b1,
        "the second run goes on from {b1}, not from 0: {b2}"
    );

    let o = run(&["inspect", &s(&data)]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(o.status.success(), "{text}");
    assert!(
        text.contains("2 checkpoint(s)") && text.contains("seq 2"),
        "{text}"
    );
    assert!(text.contains("counter ingest_batches_total"), "{text}");
    assert!(text.contains("final"), "{text}");
    let file = data.join("checkpoint-00000000000000000002.lmc");
    let o = run(&["inspect", "--series", &s(&file)]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("handler=\"csv\"") && text.contains("total "),
        "{text}"
    );
    // Wall-clock times and spans in words, not epoch numbers.
    assert!(
        text.contains("keeps 10 minutes of history in 600 epochs of 1 second"),
        "{text}"
    );
    assert!(
        text.contains(", history 20") && text.contains("Z to 20"),
        "{text}"
    );
    assert!(
        !text.contains("epochs 3") && !text.contains("600s"),
        "{text}"
    );

    // A damaged file: exit 1 and the byte offset; the directory falls back.
    let mut bytes = fs::read(&file).unwrap();
    let len = bytes.len();
    bytes.truncate(len - 10);
    fs::write(&file, &bytes).unwrap();
    let o = run(&["inspect", &s(&file)]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.contains("corrupt at byte"), "{err}");
    let o = run(&["inspect", &s(&data)]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("BAD") && text.contains("seq 1"), "{text}");
    assert_eq!(run(&["inspect"]).status.code(), Some(2));
}

/// Runs the binary, killing it (and failing) if it outlives `limit`: a start
/// that hangs on a hostile data directory must fail the test, not hang it.
fn run_bounded(args: &[&str], limit: std::time::Duration) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the lakemetrics binary");
    let start = std::time::Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "lakemetrics {args:?} still running after {limit:?}:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().expect("collect output")
}

fn checkpoint_name(seq: u64) -> String {
    format!("checkpoint-{seq:020}.lmc")
}

/// Issue 17, items 6 and 7 through the demo: a FIFO and a link to /dev/zero
/// with checkpoints' names, and a copy named with the last sequence number,
/// neither hang its start nor stop its checkpoints.
#[test]
fn demo_starts_and_checkpoints_past_hostile_files_in_its_data_dir() {
    let tmp = TempDir(
        std::env::temp_dir().join(format!("lakemetrics-hostile-dir-{}", std::process::id())),
    );
    let _ = fs::remove_dir_all(&tmp.0);
    let data = tmp.0.join("data");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let limit = std::time::Duration::from_secs(30);
    let demo = |out: &str| {
        let o = run_bounded(
            &[
                "demo",
                "-q",
                "--no-http",
                "--duration",
                "1s",
                "--data-dir",
                &s(&data),
                "--out-dir",
                &s(&tmp.0.join(out)),
            ],
            limit,
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (
            String::from_utf8(o.stdout).unwrap(),
            String::from_utf8(o.stderr).unwrap(),
        )
    };
    let (first, _) = demo("out1");
    assert!(first.contains("(seq 1)"), "{first}");
    let st = Command::new("mkfifo")
        .arg(data.join(checkpoint_name(50)))
        .status()
        .expect("run mkfifo (coreutils)");
    assert!(st.success());
    std::os::unix::fs::symlink("/dev/zero", data.join(checkpoint_name(60))).unwrap();
    fs::copy(
        data.join(checkpoint_name(1)),
        data.join(checkpoint_name(u64::MAX)),
    )
    .unwrap();

    let (second, warnings) = demo("out2");
    restored_and_summarised(&first, &second);
    for what in [
        "not a regular file (FIFO)",
        "not a regular file (symbolic link)",
        "the file name says sequence number 18446744073709551615, its header 1",
    ] {
        assert!(warnings.contains(what), "{what}: {warnings}");
    }
    // Past a name with the last sequence number, the store numbers on from
    // its own checkpoints (regular files whose header matches their name), and
    // the next start restores that one, not the stale copy.
    assert!(second.contains(&checkpoint_name(2)), "{second}");
    let (third, _) = demo("out3");
    assert!(third.contains("(seq 2)"), "{third}");
    for hostile in [50, 60, u64::MAX] {
        assert!(
            fs::symlink_metadata(data.join(checkpoint_name(hostile))).is_ok(),
            "{hostile} was removed"
        );
    }
}

/// Issue 17, item 9: `inspect` lists what the store takes for checkpoints and
/// reports an unreadable directory with the OS error.
#[test]
fn inspect_lists_what_the_store_reads_and_says_why_a_directory_cannot_be_read() {
    let tmp = TempDir(
        std::env::temp_dir().join(format!("lakemetrics-inspect-dir-{}", std::process::id())),
    );
    let _ = fs::remove_dir_all(&tmp.0);
    let data = tmp.0.join("data");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let o = run_bounded(
        &[
            "demo",
            "-q",
            "--no-http",
            "--duration",
            "1s",
            "--data-dir",
            &s(&data),
            "--out-dir",
            &s(&tmp.0.join("out")),
        ],
        std::time::Duration::from_secs(30),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    fs::write(data.join("checkpoint-abc.lmc"), b"x").unwrap();
    fs::write(data.join("checkpoint-.lmc"), b"x").unwrap();
    let o = run(&["inspect", &s(&data)]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(o.status.success(), "{text}");
    assert!(text.contains("1 checkpoint(s)"), "{text}");
    assert!(
        !text.contains("checkpoint-abc") && !text.contains("checkpoint-.lmc"),
        "{text}"
    );
    assert!(text.contains("seq 1") && text.contains("final"), "{text}");

    // Unreadable: mode 000 (and, as root, without the capabilities that
    // override it). The OS error is what the operator needs.
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&data, fs::Permissions::from_mode(0o000)).unwrap();
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let o = if root {
        Command::new("setpriv")
            .args([
                "--inh-caps=-all",
                "--bounding-set=-dac_override,-dac_read_search",
                BIN,
                "inspect",
                &s(&data),
            ])
            .stdin(Stdio::null())
            .output()
            .expect("run setpriv (util-linux) to drop root's DAC override")
    } else {
        run(&["inspect", &s(&data)])
    };
    fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(
        err.contains("list directory") && err.contains("Permission denied"),
        "{err}"
    );
    assert!(!err.contains("reads back whole"), "{err}");
}

/// The second of two demo runs on one directory restored the first's
/// checkpoint, and its summary tells this run's figures from the totals across
/// runs (the first, restoring nothing, has no such split).
fn restored_and_summarised(first: &str, second: &str) {
    assert!(
        second.contains("Restored ") && second.contains("(seq 1)"),
        "{second}"
    );
    assert!(
        !first.contains("All runs") && first.contains("Ran for "),
        "{first}"
    );
    let (this_run, all_runs) = (
        second.find("This run: ").expect(second),
        second
            .find("All runs (restored from the checkpoint, plus this run):")
            .expect(second),
    );
    assert!(this_run < all_runs, "{second}");
}
