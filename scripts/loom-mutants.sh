#!/usr/bin/env bash
# Mutation check of the loom models: every ordering of the epoch-ring protocols
# (crates/core/src/storage) and of the clock's page read (crates/core/src/seqcount.rs)
# that is stronger than Relaxed, and every step the
# mutation points name, is weakened or dropped one at a time, and the loom models
# must fail for every one. A model suite that passes on a broken protocol asserts
# nothing; this script fails the run if any mutation survives.
#
# How: the protocol writes those orderings as `ord!(Release, "name")` and those
# steps behind `mutant("name")` (crates/core/src/sync.rs). In a `--cfg loom` build,
# the environment variable LAKEMETRICS_MUTANT=name turns that one ordering into
# Relaxed or that one step off; in every other build both are constants. So the
# loom tests are built once and run once per mutation.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom
# The epoch-ring protocols, and the clock's read of the kernel's time data page.
src=(crates/core/src/storage crates/core/src/seqcount.rs)

# 1. No ordering stronger than Relaxed may bypass the mutation points.
# (A fence cannot be weakened to Relaxed; one that a mutation point drops says so.)
if grep -rnE 'Ordering::(Acquire|Release|AcqRel|SeqCst)' "${src[@]}" | grep -v 'covered by mutant "'; then
    echo "FATAL: the orderings above are not written through ord!(..), so no mutation covers them" >&2
    exit 1
fi

# 2. Every mutation point in the protocol (or those starting with $1, to iterate
#    on one part; CI runs them all).
mapfile -t mutants < <(grep -rhoE '(mutant\(|ord!\([A-Za-z]+, )"[a-z0-9_.]+"' "${src[@]}" \
    | grep -oE '"[a-z0-9_.]+"' | tr -d '"' | sort -u | grep -E "^${1:-}")
if [ -z "${1:-}" ] && [ "${#mutants[@]}" -lt 10 ]; then
    echo "FATAL: found only ${#mutants[@]} mutation points in ${src[*]}" >&2
    exit 1
fi

# 3. Build the loom tests once; list their binaries and tests.
mapfile -t bins < <(cargo test -p lakemetrics-core --release --locked --test 'loom_*' --no-run \
    --message-format=json 2>/dev/null \
    | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["executable"])')
if [ "${#bins[@]}" -lt 5 ]; then
    echo "FATAL: expected the five loom test binaries, found ${#bins[@]}" >&2
    exit 1
fi

# Unmutated, every model must pass (otherwise a "caught" mutation proves nothing);
# scripts/test.sh has just run them and says so with LOOM_MODELS_PASSED=1.
[ "${LOOM_MODELS_PASSED:-}" = 1 ] || for bin in "${bins[@]}"; do
    "$bin" -q >/dev/null 2>&1 || { echo "FATAL: $(basename "$bin") fails without any mutation" >&2; exit 1; }
done

log=target/loom/mutants.log
: >"$log"
survivors=()
started=$(date +%s)
for m in "${mutants[@]}"; do
    caught=""
    t0=$(date +%s)
    # Gauges have their own protocol and models; the rest is shared by the others.
    case "$m" in
        gauge.*) pattern='loom_gauge' ;;
        bins.*) pattern='loom_(bins|histogram|summary)' ;;
        stripes.*) pattern='loom_striped' ;;
        native.*) pattern='loom_native' ;;
        seqcount.*) pattern='loom_clock' ;;
        *) pattern='loom_(counter|histogram|summary)' ;;
    esac
    # Two passes: every candidate model for at most 10 s first (a broken protocol
    # usually fails within the first interleavings), then, for the models that ran
    # out of time, without a limit. Exit code 124 is `timeout`'s own: not caught.
    slow=()
    for pass in quick full; do
        if [ "$pass" = quick ]; then
            candidates=()
            for bin in "${bins[@]}"; do
                [[ "$(basename "$bin")" =~ $pattern ]] || continue
                while read -r t; do
                    candidates+=("$bin::$t")
                done < <("$bin" --list 2>/dev/null | sed -n 's/: test$//p')
            done
        else
            candidates=("${slow[@]}")
        fi
        for c in "${candidates[@]}"; do
            bin="${c%%::*}"
            t="${c#*::}"
            limit=()
            [ "$pass" = quick ] && limit=(timeout 10)
            set +e
            LAKEMETRICS_MUTANT="$m" "${limit[@]}" "$bin" --exact "$t" --test-threads=1 -q >>"$log" 2>&1
            rc=$?
            set -e
            if [ "$rc" = 124 ]; then
                slow+=("$c")
            elif [ "$rc" != 0 ]; then
                caught="$(basename "$bin" | sed 's/-[0-9a-f]*$//')::$t"
                break 2
            fi
        done
    done
    if [ -n "$caught" ]; then
        printf '  caught   %-28s by %s (%ss)\n' "$m" "$caught" "$(( $(date +%s) - t0 ))"
    else
        printf '  SURVIVED %s\n' "$m"
        survivors+=("$m")
    fi
done
echo "== ${#mutants[@]} mutations, ${#survivors[@]} survived, $(( $(date +%s) - started ))s (log: $log)"
if [ "${#survivors[@]}" -ne 0 ]; then
    echo "FATAL: the loom models pass with these mutations: ${survivors[*]}" >&2
    exit 1
fi
