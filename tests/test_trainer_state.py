"""Training state the trainer must get right: the weights reach every logger, class weights reach the criterion,
the weighting state comes back after a NaN loss, and alwa.csv after an interrupted run is the checkpoint's history."""

from __future__ import annotations

import math

import pytest
import torch
from ultralytics.utils.torch_utils import unwrap_model

from alwa_yolo.trainer import ALWADetectionTrainer
from helpers import read_csv

pytestmark = pytest.mark.slow


def trainer(tiny_data, tmp_path, **overrides) -> ALWADetectionTrainer:
    """A tiny run: 32 images, batch 8 -> 4 iterations per epoch, no validation except the last epoch."""
    args = dict(model="yolov8n.yaml", data=str(tiny_data), epochs=2, imgsz=64, batch=8, device="cpu", workers=0,
                project=str(tmp_path), name="x", weighting="alwa2", alwa_interval=2, plots=False,
                val=False)  # fmt: skip
    return ALWADetectionTrainer(overrides={**args, **overrides})


def test_weights_reach_every_logger_as_scalars(tiny_data, tmp_path):
    """Ultralytics' loggers (TensorBoard, MLflow, W&B, ...) log ``trainer.metrics`` at ``on_fit_epoch_end``."""
    t = trainer(tiny_data, tmp_path)
    logged = []
    t.add_callback("on_fit_epoch_end", lambda tr: logged.append(dict(tr.metrics)))
    t.train()
    assert len(logged) >= 2 and all({"alwa/w_cls", "alwa/w_reg"} <= set(m) for m in logged[:2])
    assert logged[1]["alwa/w_cls"] == t.weighting.history[-1].weights["cls"]


@pytest.mark.parametrize("weighting", ["alwa2", "uw"])
def test_class_weights_reach_the_criterion(tiny_data, tmp_path, weighting):
    """``cls_pw`` sets Ultralytics' class weights after the optimiser is built; the criterion must still see them,
    and a learned strategy must keep the parameters the optimiser updates."""
    t = trainer(tiny_data, tmp_path, weighting=weighting, cls_pw=1.0, epochs=1)
    t.train()
    crit = unwrap_model(t.model).criterion
    assert crit.class_weights is not None and torch.equal(crit.class_weights.flatten(), t.model.class_weights)
    if weighting == "uw":
        in_optimiser = [p for g in t.optimizer.param_groups if g.get("param_group") == "weighting" for p in g["params"]]
        assert in_optimiser == crit.weighting.parameters() and crit.weighting.log_vars.abs().sum() > 0


def test_the_trainer_builds_the_one_strategy_every_criterion_receives(tiny_data, tmp_path, monkeypatch):
    """One factory call per run (the trainer's); the criterion rebuilt for the class weights receives the same
    object, and a criterion handed a strategy for other terms refuses it."""
    from alwa_yolo.losses import weighted

    built = []
    factory = weighted.build_weighting
    monkeypatch.setattr(weighted, "build_weighting", lambda *a, **k: built.append(factory(*a, **k)) or built[-1])
    t = trainer(tiny_data, tmp_path, cls_pw=1.0, epochs=1)
    t.train()
    crit = unwrap_model(t.model).criterion
    assert built == [t.weighting] and crit.weighting is t.weighting and crit.class_weights is not None
    other = weighted.build_strategy(crit.options, weighted.TermSpec(("box_loss", "cls_loss"), (7.5, 0.5), None))
    with pytest.raises(ValueError, match="weights terms"):
        crit.weighting = other


@pytest.mark.parametrize("weighting", ["alwa2", "uw", "alwa-cal"])
def test_nan_recovery_restores_the_weighting_state(tiny_data, tmp_path, weighting):
    """When a NaN loss makes Ultralytics reload last.pt, the strategy comes back to the state saved with it."""
    t = trainer(tiny_data, tmp_path, weighting=weighting, epochs=3)
    saved, restored = {}, {}

    def poison(tr):
        if tr.epoch == 0:
            saved.update(tr.weighting.state_dict())  # what last.pt will hold after epoch 1
        elif tr.epoch == 1 and "poisoned" not in restored:
            restored["poisoned"] = True
            tr.loss = torch.tensor(float("nan"))  # Ultralytics checks the last loss after the epoch
            tr.weighting.set_weights(float("nan"), float("nan"))
            if weighting == "uw":
                tr.weighting.log_vars.data.fill_(float("nan"))

    def after_recovery(tr):
        if restored.get("poisoned") and "state" not in restored:
            restored["state"] = tr.weighting.state_dict()

    t.add_callback("on_train_epoch_end", poison)
    t.add_callback("on_train_epoch_start", after_recovery)
    t.train()
    state = restored["state"]
    assert state["w"] == saved["w"] and state["iteration"] == saved["iteration"]
    if weighting == "uw":
        assert torch.equal(state["log_vars"], saved["log_vars"])
    assert all(math.isfinite(v) for v in t.weighting.w.values())


def test_alwa_csv_after_an_interrupted_run_is_the_checkpoint_history(tiny_data, tmp_path):
    """Interrupted mid-epoch after updates were logged, resumed from the last checkpoint: no stale rows."""
    first = trainer(tiny_data, tmp_path, epochs=3)

    def interrupt(tr):
        if tr.epoch == 1 and tr.weighting.iteration == 7:  # updates at 6 written to alwa.csv, last.pt is from 4
            raise KeyboardInterrupt

    first.add_callback("on_train_batch_end", interrupt)
    with pytest.raises(KeyboardInterrupt):
        first.train()
    csv = first.save_dir / "alwa.csv"
    assert [int(r["iteration"]) for r in read_csv(csv)] == [2, 4, 6]  # 6 came after the checkpoint
    last = first.save_dir / "weights" / "last.pt"
    resumed = ALWADetectionTrainer(overrides={"model": str(last), "resume": str(last)})
    resumed.train()
    rows = read_csv(csv)
    iterations = [int(r["iteration"]) for r in rows]
    assert iterations == [2, 4, 6, 8, 10, 12] and iterations == sorted(set(iterations))
    ckpt = torch.load(last, map_location="cpu", weights_only=False)
    assert [u["iteration"] for u in ckpt["alwa_state"]["history"]] == iterations
    assert [int(r["epoch"]) for r in rows] == [1, 1, 2, 2, 3, 3]


def test_fixed_trains_bit_identical_to_the_stock_trainer(tiny_data, tmp_path, monkeypatch):
    """``--weighting fixed`` is stock Ultralytics: same losses every epoch and the same final weights, bit for bit
    (with Ultralytics' CPU thread count, since the thread count changes float summation order)."""
    from ultralytics.models.yolo.detect import DetectionTrainer
    from ultralytics.utils import NUM_THREADS

    monkeypatch.setenv("ALWA_YOLO_CPU_THREADS", str(NUM_THREADS))
    args = dict(model="yolov8n.yaml", data=str(tiny_data), epochs=2, imgsz=64, batch=8, device="cpu", workers=0,
                project=str(tmp_path), plots=False, val=False, seed=3, deterministic=True)  # fmt: skip
    stock = DetectionTrainer(overrides={**args, "name": "stock"})
    stock.train()
    ours = ALWADetectionTrainer(overrides={**args, "name": "ours", "weighting": "fixed"})
    ours.train()
    a, b = read_csv(stock.save_dir / "results.csv"), read_csv(ours.save_dir / "results.csv")
    for key in ("train/box_loss", "train/cls_loss", "train/dfl_loss", "metrics/mAP50-95(B)"):
        assert [r[key] for r in a] == [r[key] for r in b], key
    sa, sb = stock.ema.ema.state_dict(), ours.ema.ema.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
