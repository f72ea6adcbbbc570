"""Adding a strategy is one class and one registry line: toy strategies registered that way train, are logged in
alwa.csv / results.csv / alwa.png with columns named after what they weight (the two groups, or each term), and
their state is saved in the checkpoint and restored, with nothing else touched."""

from __future__ import annotations

import math

import pytest
import torch

from alwa_yolo.weighting import WEIGHTINGS, LossWeighting
from helpers import read_csv


class HalveEvery4(LossWeighting):
    """Halves the classification weight every 4 iterations: easy to recognise in every log."""

    name = "halve-cls"
    default_gains = "hyp"

    def observe(self, terms, weighted) -> None:
        if self.iteration % 4 == 0:
            self.set_weights(self.w["cls"] / 2, self.w["reg"])
            self.record((math.nan, math.nan), (math.nan, math.nan))


class HalveDfl(LossWeighting):
    """Weights terms one by one: halves the DFL term's weight every 4 iterations, leaves box and cls at 1."""

    name = "halve-dfl"
    default_gains = "hyp"
    log_by = "term"

    def observe(self, terms, weighted) -> None:
        if self.iteration % 4 == 0:
            self.set_term_weights({"dfl_loss": self.weights["dfl_loss"] / 2})
            means = self.unit_sums(terms).tolist()
            self.record([math.nan] * len(self.units), means)


def test_a_per_term_strategy_weights_by_name_and_keeps_the_group_view():
    """The per-term weights are applied by name (shared by every position with that name, as an end-to-end head's
    two branches), and the two-group view reads them; records are per term."""
    w = HalveDfl(("reg", "cls", "reg") * 2, names=("box_loss", "cls_loss", "dfl_loss") * 2)
    assert w.units == ("box", "cls", "dfl") and w.term_names == ("box_loss", "cls_loss", "dfl_loss")
    terms = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    for _ in range(4):
        out = w(terms)
    assert torch.equal(out, terms)  # the 4th iteration's update applies from the 5th
    assert torch.equal(w(terms), torch.tensor([1.0, 2.0, 1.5, 4.0, 5.0, 3.0]))
    assert w.history[0].weights == {"box": 1.0, "cls": 1.0, "dfl": 0.5}
    assert w.history[0].means == {"box": 5.0, "cls": 7.0, "dfl": 9.0}
    assert w.w == {"cls": 1.0, "reg": 0.75}  # a group whose terms differ: the mean of its terms' weights
    restored = HalveDfl(w.groups, names=w.names)
    restored.load_state_dict(w.state_dict())
    assert restored.weights == w.weights and restored.history == w.history
    with pytest.raises(ValueError, match="terms"):
        HalveDfl(("reg", "cls"), names=("box_loss", "obj_loss")).load_state_dict(w.state_dict())
    with pytest.raises(ValueError, match="share a group"):
        HalveDfl(("reg", "cls"), names=("box_loss", "box_loss"))


def train_toy(strategy, tiny_data, tmp_path, monkeypatch, epochs=2, stop_after=None, **extra):
    from alwa_yolo.trainer import ALWADetectionTrainer

    monkeypatch.setitem(WEIGHTINGS, strategy.name, strategy)  # the one registry line
    overrides = {"model": "yolov8n.yaml", "data": str(tiny_data), "epochs": epochs, "imgsz": 64, "batch": 4,
                 "device": "cpu", "workers": 0, "plots": False, "weighting": strategy.name,
                 "project": str(tmp_path), "name": "toy", **extra}  # fmt: skip
    trainer = ALWADetectionTrainer(overrides=overrides)
    if stop_after:

        def interrupt(t):
            if t.epoch + 1 == stop_after:
                raise KeyboardInterrupt  # as if the user pressed Ctrl-C once the epoch was saved

        trainer.add_callback("on_fit_epoch_end", interrupt)
        with pytest.raises(KeyboardInterrupt):
            trainer.train()
    else:
        trainer.train()
    return trainer, tmp_path / "toy"


@pytest.mark.slow
def test_a_registered_toy_strategy_trains_logs_and_saves(tiny_data, tmp_path, monkeypatch):
    from ultralytics.utils.patches import torch_load

    trainer, run = train_toy(HalveEvery4, tiny_data, tmp_path, monkeypatch)
    assert isinstance(trainer.weighting, HalveEvery4) and trainer.weighting.iteration == 16
    rows = read_csv(run / "alwa.csv")
    assert [int(r["iteration"]) for r in rows] == [4, 8, 12, 16]
    assert [float(r["w_cls"]) for r in rows] == [0.5, 0.25, 0.125, 0.0625]
    assert [float(r["alwa/w_cls"]) for r in read_csv(run / "results.csv")] == [0.25, 0.0625]
    state = torch_load(run / "weights" / "last.pt", weights_only=False)["alwa_state"]
    assert state["name"] == "halve-cls" and state["w"]["cls"] == 0.0625


@pytest.mark.slow
def test_results_csv_columns_stay_in_place_without_validation(tiny_data, tmp_path, monkeypatch):
    """With ``val=False`` Ultralytics keeps the previous epoch's metrics dict, which holds the weights logged then:
    each row must still put every value under its own header (a weight is not a learning rate)."""
    _, run = train_toy(HalveEvery4, tiny_data, tmp_path, monkeypatch, epochs=3, val=False)
    rows = read_csv(run / "results.csv")
    assert [float(r["alwa/w_cls"]) for r in rows] == [0.25, 0.0625, 0.015625]
    assert {float(r["alwa/w_reg"]) for r in rows} == {1.0}
    assert all(0 < float(r["lr/pg0"]) < 0.1 for r in rows)


@pytest.mark.slow
def test_a_per_term_toy_strategy_gets_its_own_columns_and_resumes(tiny_data, tmp_path, monkeypatch):
    """A strategy logged per term: alwa.csv and results.csv carry ``w_box`` / ``w_cls`` / ``w_dfl``, alwa.png is
    drawn, the checkpoint holds the per-term weights, and a resume restores them and rewrites alwa.csv."""
    from ultralytics.utils.patches import torch_load

    trainer, run = train_toy(HalveDfl, tiny_data, tmp_path, monkeypatch, epochs=3, stop_after=2)
    header = list(read_csv(run / "alwa.csv")[0])
    assert header == ["iteration", "epoch", "stat_box", "stat_cls", "stat_dfl", "w_box", "w_cls", "w_dfl",
                      "mean_box", "mean_cls", "mean_dfl", "skipped"]  # fmt: skip
    rows = read_csv(run / "alwa.csv")
    assert [float(r["w_dfl"]) for r in rows] == [0.5, 0.25, 0.125, 0.0625]
    assert {float(r["w_box"]) for r in rows} == {float(r["w_cls"]) for r in rows} == {1.0}
    results = read_csv(run / "results.csv")
    assert [float(r["alwa/w_dfl"]) for r in results] == [0.25, 0.0625] and "alwa/w_reg" not in results[0]
    state = torch_load(run / "weights" / "last.pt", weights_only=False)["alwa_state"]
    assert state["weights"] == {"box_loss": 1.0, "cls_loss": 1.0, "dfl_loss": 0.0625}

    last = str(run / "weights" / "last.pt")
    resumed, _ = train_toy(HalveDfl, tiny_data, tmp_path, monkeypatch, model=last, resume=last)
    assert resumed.weighting.iteration == 24 and resumed.weighting.weights["dfl_loss"] == 0.0625 / 4
    assert [float(r["w_dfl"]) for r in read_csv(run / "alwa.csv")] == [0.5**k for k in range(1, 7)]
    assert (run / "alwa.png").stat().st_size > 0
