"""Adding a strategy is one class and one registry line: a toy strategy registered that way trains, is logged in
alwa.csv / results.csv, and its state is saved in the checkpoint, with nothing else touched."""

from __future__ import annotations

import math

import pytest

from alwa_yolo.weighting import WEIGHTINGS, LossWeighting
from helpers import read_csv

pytestmark = pytest.mark.slow


class HalveEvery4(LossWeighting):
    """Halves the classification weight every 4 iterations: easy to recognise in every log."""

    name = "halve-cls"
    default_gains = "hyp"

    def observe(self, terms, weighted) -> None:
        if self.iteration % 4 == 0:
            self.set_weights(self.w["cls"] / 2, self.w["reg"])
            self.record(math.nan, math.nan, [math.nan, math.nan])


def test_a_registered_toy_strategy_trains_logs_and_saves(tiny_data, tmp_path, monkeypatch):
    from ultralytics.utils.patches import torch_load

    from alwa_yolo.trainer import ALWADetectionTrainer

    monkeypatch.setitem(WEIGHTINGS, HalveEvery4.name, HalveEvery4)  # the one registry line
    overrides = {"model": "yolov8n.yaml", "data": str(tiny_data), "epochs": 2, "imgsz": 64, "batch": 4,
                 "device": "cpu", "workers": 0, "plots": False, "weighting": "halve-cls", "project": str(tmp_path),
                 "name": "toy"}  # fmt: skip
    trainer = ALWADetectionTrainer(overrides=overrides)
    trainer.train()
    assert isinstance(trainer.weighting, HalveEvery4) and trainer.weighting.iteration == 16
    rows = read_csv(tmp_path / "toy" / "alwa.csv")
    assert [int(r["iteration"]) for r in rows] == [4, 8, 12, 16]
    assert [float(r["w_cls"]) for r in rows] == [0.5, 0.25, 0.125, 0.0625]
    assert [float(r["alwa/w_cls"]) for r in read_csv(tmp_path / "toy" / "results.csv")] == [0.25, 0.0625]
    state = torch_load(tmp_path / "toy" / "weights" / "last.pt", weights_only=False)["alwa_state"]
    assert state["name"] == "halve-cls" and state["w"]["cls"] == 0.0625
