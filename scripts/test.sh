#!/usr/bin/env bash
# The whole test suite: unit, integration, doc and conformance tests, the fuzz
# targets' logic over their seed corpora, the benches in test mode (each bench
# body runs once, untimed), and the loom models of every concurrent structure.
#
# Conformance tests need `promtool` (Debian package `prometheus`) and Python's
# `prometheus_client`; they fail, loudly, when those are missing. `.ci/run`
# installs them on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test (all targets)"
cargo test --workspace --all-targets --locked

echo "== cargo test (doc tests)"
cargo test --workspace --doc --locked

echo "== loom models (RUSTFLAGS=--cfg loom)"
# A separate target dir: the cfg change would otherwise rebuild everything above.
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
    cargo test -p lakemetrics-core --release --locked --test 'loom_*'

echo "== all tests passed"
