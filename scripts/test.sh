#!/usr/bin/env bash
# The whole test suite: unit, integration, doc and conformance tests, the fuzz
# targets' logic over their seed corpora, the benches in test mode (each bench
# body runs once, untimed), the loom models of every concurrent structure, and
# the mutation check that proves those models fail when the protocol is broken.
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
# Every writer and reader in its own thread, up to three threads under a
# preemption bound of 3 (set in each model); see docs/architecture.md.
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
    cargo test -p lakemetrics-core --release --locked --test 'loom_*'

echo "== loom mutation check (each ordering weakened, each step dropped)"
# Fails unless the models above fail for every mutation of the protocol.
LOOM_MODELS_PASSED=1 bash scripts/loom-mutants.sh

echo "== all tests passed"
