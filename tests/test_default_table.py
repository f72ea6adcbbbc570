"""benchmarks/default_table.py: which runs each cell pairs, on made-up summaries (the verdict rule itself is
test_benchmark_sweep's)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import default_table


def summary(root: Path, folder: str, weighting: str, seed: int, value: float, **gains: float) -> None:
    name = f"{weighting}-{'-'.join(f'{k}{v}' for k, v in gains.items())}-s{seed}"
    path = root / folder / "runs" / name / "summary.json"
    path.parent.mkdir(parents=True)
    config = {"weighting": weighting, "reg_loss": "ciou", "seed": seed, **gains}
    path.write_text(json.dumps({"config": config, "mAP50-95": value, "pose_mAP50-95": None}))


@pytest.fixture
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(default_table, "R", tmp_path)
    for seed, value in enumerate((0.70, 0.71, 0.72)):
        summary(tmp_path, "default-shapes", "fixed", seed, value)
        summary(tmp_path, "default-shapes", "alwa-ref", seed, value + 0.001)
        summary(tmp_path, "default-shapes", "uw", seed, value - 0.05)
        summary(tmp_path, "default-shapes", "fixed", seed, 0.10, dfl=1.5 * 4)  # a mis-set run in the x1 folder
        summary(tmp_path, "default-shapes-box", "fixed", seed, value - 0.06, box=7.5 * 0.25)
        summary(tmp_path, "default-shapes-box", "fixed", seed, value - 0.01 + 0.02 * seed, box=7.5 * 4)
    return tmp_path


def row(lines: list[str], label: str) -> list[str]:
    return [c.strip() for c in next(x for x in lines if x.startswith(f"| {label} |")).split("|")[2:-1]]


def test_mis_set_rows_pair_fixed_at_the_gain_with_the_gain_free_x1_runs(results):
    lines, verdicts, duels = default_table.table()
    strategies = list(default_table.STRATEGIES)
    x1 = row(lines, "YOLOv8n detect, CIoU")
    assert x1[0] == "0.710 ± 0.010"  # the dfl x4 runs in the same folder are not x1 runs
    assert x1[1 + strategies.index("alwa-ref")] == "+0.001 level"
    assert x1[1 + strategies.index("uw")] == "-0.050 **worse**"
    quarter = row(lines, "YOLOv8n detect, box gain x1/4")
    assert quarter[0] == "0.650 ± 0.010"
    assert quarter[1 + strategies.index("alwa-ref")] == "+0.061 **better**"  # the default's x1 run against it
    assert quarter[1 + strategies.index("uw")] == ""  # uw depends on the gains: its x1 run does not stand for x1/4
    four = row(lines, "YOLOv8n detect, box gain x4")
    assert four[1 + strategies.index("alwa-ref")] == "-0.009 level"  # +0.011 -0.009 -0.029: seeds disagree
    assert not any(x.startswith("| YOLOv8n detect, dfl gain") for x in lines)  # no fixed runs in its folder
    assert ("YOLOv8n detect, box gain x1/4", "alwa-ref", "better") in verdicts
    assert ("YOLOv8n detect, CIoU", "uw", "ahead") in duels
    assert not any("gain" in label for label, _, _ in duels)  # head-to-head only on Ultralytics' gains
