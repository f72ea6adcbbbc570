"""The arithmetic behind every benchmark verdict: the sweep's grid, its paired differences and its verdict rule."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import sweep


def grid(*args: str) -> list[dict]:
    return sweep.configs(sweep.parse_opt(["--seeds", "0", "1", "--reg-losses", "ciou", *args]))


def test_adaptive_scales_thin_out_only_the_adaptive_strategies():
    runs = grid("--weightings", "fixed", "alwa-cal", "--scale", "cls=0.125,1,8", "--adaptive-scales", "0.125,8")
    names = {sweep.run_name(c) for c in runs}
    assert names == {f"fixed-auto-ciou-clsx{m}-s{s}" for m in ("0.125", "1", "8") for s in (0, 1)} | {
        f"alwa-cal-auto-ciou-clsx{m}-s{s}" for m in ("0.125", "8") for s in (0, 1)
    }
    scaled = next(c for c in runs if c["_scale"] == ("cls", 8.0))
    assert scaled["cls"] == pytest.approx(0.5 * 8)  # Ultralytics' cls gain times the multiplier
    assert len(grid("--weightings", "fixed", "alwa-cal", "--scale", "cls=0.125,1,8")) == 12  # default: all


@pytest.mark.parametrize(
    ("diffs", "sd", "expected"),
    [
        ([0.05, 0.04, 0.06], 0.01, "better"),
        ([-0.05, -0.04, -0.06], 0.01, "worse"),
        ([0.05, -0.01, 0.06], 0.01, "level"),  # not every seed moves the same way
        ([0.005, 0.004, 0.006], 0.01, "level"),  # inside the baseline's seed spread
        ([0.05], 0.0, "level"),  # one seed proves nothing
    ],
)
def test_verdict(diffs, sd, expected):
    assert sweep.verdict(np.array(diffs), sd) == expected


def test_table_pairs_each_seed_with_fixed():
    def run(w, seed, m):
        c = {"weighting": w, "reg_loss": "l1", "seed": seed, "gains": "auto", "_scale": None}
        return c, {"mAP50-95": m, "w_final": {"cls": 1.0}}

    results = [run("fixed", 0, 0.40), run("fixed", 1, 0.42), run("fixed", 2, 0.41)]
    results += [run("alwa-cal", 0, 0.45), run("alwa-cal", 1, 0.48), run("alwa-cal", 2, 0.46)]
    row = sweep.table(results).splitlines()[-1]
    assert "| l1 | 1 | alwa-cal | auto | 0.463 ± 0.015 | +0.053 | +0.050 +0.060 +0.050 | better |" in row
