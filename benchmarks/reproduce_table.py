"""Does a change alter any number? Compare runs made before it with the same runs made after it, on one machine.

Each pair is two ``sweep.py`` run folders with the same configuration: the final mAP50-95, every iteration's loss
items (``summary.json``'s ``item_trace``), ``results.csv`` without its wall-time column, and ``alwa.csv``. Writes
``OUT/results.md``.

Usage (the 0.4 structure, as run: ``bash benchmarks/run_suite.sh reproduce-0.4``):
    python benchmarks/reproduce_table.py --out benchmarks/results/reproduce-0.4 \\
        --pair default-shapes reproduce-0.4/shapes fixed-auto-ciou-s0 ...
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

R = Path(__file__).resolve().parent / "results"


def cpu_name() -> str:
    """The CPU's model name (Linux), else what ``platform`` knows."""
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def csv_without_time(path: Path) -> list[str]:
    """``results.csv``'s rows without column 1 (``time``, wall seconds, which differ between any two runs)."""
    return [",".join(c for i, c in enumerate(row.split(",")) if i != 1) for row in path.read_text().splitlines()]


def compare(before: Path, after: Path) -> dict[str, str]:
    a, b = (json.loads((p / "summary.json").read_text()) for p in (before, after))
    same = {
        "items": a["item_trace"] == b["item_trace"],
        "results": csv_without_time(before / "results.csv") == csv_without_time(after / "results.csv"),
        "alwa": all((p / "alwa.csv").exists() for p in (before, after))
        and (before / "alwa.csv").read_text() == (after / "alwa.csv").read_text(),
    }
    out = {k: "equal" if v else "DIFFERENT" for k, v in same.items()}
    out["items"] += f" ({len(a['item_trace'])} iterations)"
    return {"before": f"{a['mAP50-95']}", "after": f"{b['mAP50-95']}", **out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for results.md")
    parser.add_argument("--title", default="", help="the first paragraph: what changed, the commits compared")
    parser.add_argument("--pair", nargs=3, action="append", metavar=("BEFORE", "AFTER", "RUN"), default=[],
                        help="sweep folders under results/ (before, after) and the run name in both, or "
                             "BEFORE_NAME:AFTER_NAME where the two runs are named differently")  # fmt: skip
    opt = parser.parse_args()
    lines = [opt.title, ""] if opt.title else []
    lines += [f"Machine: {os.cpu_count()} CPU cores, {cpu_name()}; one torch thread per run.", "",
              "| run | before | mAP50-95 before | after | every iteration's loss items | results.csv (no time) | "
              "alwa.csv |", "| --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for before, after, run in opt.pair:
        run_before, _, run_after = run.partition(":")
        run = run_after or run_before
        a, b = R / before / "runs" / run_before, R / after / "runs" / run
        if run_before != run:
            before = f"{before}/{run_before}"
        if not ((a / "summary.json").exists() and (b / "summary.json").exists()):
            lines.append(f"| {after}/{run} | {before} | not run | | | | |")
            continue
        c = compare(a, b)
        lines.append(f"| {after}/{run} | {before} | {c['before']} | {c['after']} | {c['items']} | {c['results']} | "
                     f"{c['alwa']} |")  # fmt: skip
    opt.out.mkdir(parents=True, exist_ok=True)
    (opt.out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
