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
    assert!(
        second.contains("Restored ") && second.contains("(seq 1)"),
        "{second}"
    );
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
    let file = data.join("checkpoint-00000000000000000002.lmc");
    let o = run(&["inspect", "--series", &s(&file)]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("handler=\"csv\"") && text.contains("total "),
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
