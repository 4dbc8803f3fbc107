#!/usr/bin/env python3
"""Print criterion results as the Markdown tables of docs/benchmarks.md.

Usage: table.py CRITERION_DIR GROUP [GROUP ...]
CRITERION_DIR is $CARGO_TARGET_DIR/criterion. For each group, one row per bench
function: the median time per iteration (criterion's point estimate, in its
`new/estimates.json`), and the ratio of `lakemetrics` to that row (below 1 means
ours is faster). The bench function named `lakemetrics` (or, if absent, the first
whose name starts with `lakemetrics`) is the reference.
"""
import json
import os
import sys


def fmt_time(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.3f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.2f} ns"


def group_rows(root, group):
    base = os.path.join(root, group)
    rows = []
    for name in sorted(os.listdir(base)):
        est = os.path.join(base, name, "new", "estimates.json")
        if not os.path.exists(est):
            continue
        with open(est) as f:
            e = json.load(f)
        with open(os.path.join(base, name, "new", "benchmark.json")) as f:
            fid = json.load(f)["function_id"] or name
        rows.append((fid, e["median"]["point_estimate"]))
    return rows


def main():
    root, groups = sys.argv[1], sys.argv[2:]
    for group in groups:
        rows = group_rows(root, group)
        ours = [t for n, t in rows if n == "lakemetrics"] or [
            t for n, t in rows if n.startswith("lakemetrics")
        ]
        ref = ours[0] if ours else None
        # Ours first, then the others fastest first.
        rows.sort(key=lambda r: (not r[0].startswith("lakemetrics"), r[1]))
        print(f"#### `{group}`\n")
        print("| implementation | median | lakemetrics ÷ this |")
        print("|---|---:|---:|")
        for name, t in rows:
            ratio = f"{ref / t:.2f}x" if ref else "–"
            print(f"| {name} | {fmt_time(t)} | {ratio} |")
        print()


if __name__ == "__main__":
    main()
