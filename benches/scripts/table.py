#!/usr/bin/env python3
"""Print criterion results as the Markdown tables of docs/benchmarks.md.

Usage: table.py CRITERION_DIR GROUP [GROUP ...]

CRITERION_DIR is $CARGO_TARGET_DIR/criterion. For each group, one row per bench
function with its median time per iteration (criterion's point estimate, from
`new/estimates.json`), ours first, then the others fastest first. For each of our
functions (names starting with `lakemetrics`) there is a column with our time
divided by that row's time: below 1.00 means ours is faster. A group that
declares a throughput in elements (`Throughput::Elements(n)`) gets a column with
the median divided by n: the time per element (per series, in the render benches).
"""
import json
import os
import sys


def fmt_time(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.3f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.2f} ns"


def fmt_per_element(ns):
    """Per-element times stay in ns (one decimal) up to 10 µs, to compare rows."""
    return f"{ns:.1f} ns" if ns < 1e4 else fmt_time(ns)


def group_rows(root, group):
    base = os.path.join(root, group)
    rows = []
    for name in sorted(os.listdir(base)):
        est = os.path.join(base, name, "new", "estimates.json")
        if not os.path.exists(est):
            continue
        with open(est) as f:
            median = json.load(f)["median"]["point_estimate"]
        with open(os.path.join(base, name, "new", "benchmark.json")) as f:
            bench = json.load(f)
        fid = bench["function_id"] or name
        elements = (bench.get("throughput") or {}).get("Elements")
        rows.append((fid, median, elements))
    return rows


def main():
    root, groups = sys.argv[1], sys.argv[2:]
    for group in groups:
        rows = group_rows(root, group)
        ours = sorted((r for r in rows if r[0].startswith("lakemetrics")), key=lambda r: r[0])
        others = sorted((r for r in rows if not r[0].startswith("lakemetrics")), key=lambda r: r[1])
        per = any(r[2] for r in rows)
        print(f"`{group}`\n")
        head = "| implementation | median |" + (" per element |" if per else "")
        head += "".join(f" `{n}` ÷ this |" for n, _, _ in ours)
        print(head)
        print("|---|---:|" + ("---:|" if per else "") + "---:|" * len(ours))
        for name, t, elements in ours + others:
            each = (f" {fmt_per_element(t / elements)} |" if elements else " |") if per else ""
            cells = "".join(f" {ref / t:.2f} |" for _, ref, _ in ours)
            print(f"| `{name}` | {fmt_time(t)} |{each}{cells}")
        print()


if __name__ == "__main__":
    main()
