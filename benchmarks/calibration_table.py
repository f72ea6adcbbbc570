"""What ``alwa-cal`` found in each benchmark: its calibrated gains and how often its rule moved ``w_cls``.

Reads the ``results.json`` that ``sweep.py`` writes and prints one markdown row per (sweep, box loss): the effective
gain of every term on its raw loss after the 16-iteration calibration (mean over seeds, comparable with Ultralytics'
hand-set box 7.5 / cls 0.5 / dfl 1.5), the windows in which the rule set ``w_cls`` below 1 (of all windows), and the
final ``w_cls``.

Usage:
    python benchmarks/calibration_table.py benchmarks/results/scratch-shapes benchmarks/results/scratch-hard ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def rows(folder: Path) -> list[str]:
    """One markdown row per box loss of the ``alwa-cal`` runs in one sweep folder."""
    runs = [r for r in json.loads((folder / "results.json").read_text()) if r["config"]["weighting"] == "alwa-cal"]
    out = []
    for reg in dict.fromkeys(r["config"]["reg_loss"] for r in runs):
        group = [r for r in runs if r["config"]["reg_loss"] == reg and r.get("calibration")]
        if not group:
            continue
        names = list(group[0]["calibration"])
        means = {n.removesuffix("_loss"): np.mean([r["calibration"][n] for r in group]) for n in names}
        gains = ", ".join(f"{n} {g:.2f}" for n, g in means.items())
        moved = sum(u["w_cls"] < 1 for r in group for u in r["updates"])
        windows = sum(len(r["updates"]) for r in group)
        final = np.mean([r["w_final"]["cls"] for r in group])
        out.append(f"| {folder.name} | {reg} | {gains} | {moved} of {windows} | {final:.2f} | {len(group)} |")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path, help="sweep output folders (holding results.json)")
    opt = parser.parse_args(argv)
    print("| sweep | box loss | calibrated gains (mean over seeds) | windows with w_cls < 1 | final w_cls | seeds |")
    print("| --- | --- | --- | --- | --- | --- |")
    for folder in opt.folders:
        print("\n".join(rows(folder)))


if __name__ == "__main__":
    main()
