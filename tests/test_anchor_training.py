"""The anchor-based head in the trainer: overfitting a handful of images, autoanchor and resume with alwa2, and a
checkpoint saved under alwa-yolo 0.1's module layout (``alwa_yolo.anchor_model``, ``alwa_yolo.nn.anchor_head``)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from alwa_yolo.anchor import AnchorDetectionModel
from alwa_yolo.anchor.loss import LOSS_NAMES
from helpers import ROOT, read_csv

pytestmark = pytest.mark.slow

ANCHOR_YAML = ROOT / "cfg" / "models" / "yolov8n-anchor.yaml"
OLD_LAYOUT_CHECKPOINT = ROOT / "tests" / "data" / "anchor-v0.1-layout.pt"
"""A tiny anchor model (yolov8n-anchor at width 1/16) trained for one epoch by alwa-yolo 0.1, before the anchor
head became the ``alwa_yolo.anchor`` package: its pickle names the old module paths."""


def test_checkpoint_saved_under_the_old_layout_loads_and_predicts(tmp_path):
    """A fresh process unpickles the old module paths through the shims and predicts with the anchor head."""
    code = f"""
import sys, zipfile, numpy as np
sys.path.insert(0, {str(ROOT)!r})
data = zipfile.ZipFile({str(OLD_LAYOUT_CHECKPOINT)!r}).read("best/data.pkl")
assert b"alwa_yolo.anchor_model" in data and b"alwa_yolo.nn.anchor_head" in data, "fixture is not old-layout"
from ultralytics import YOLO
m = YOLO({str(OLD_LAYOUT_CHECKPOINT)!r})
r = m.predict(np.zeros((64, 64, 3), np.uint8), imgsz=64, device="cpu", verbose=False)
from alwa_yolo.anchor import AnchorDetect, AnchorDetectionModel
assert type(m.model) is AnchorDetectionModel and isinstance(m.model.model[-1], AnchorDetect)
print("OK", type(m.model).__module__, len(r))
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert p.returncode == 0 and "OK alwa_yolo.anchor.model 1" in p.stdout, p.stdout[-2000:] + p.stderr[-3000:]


@pytest.fixture(scope="module")
def overfit_data(tmp_path_factory) -> Path:
    """16 generated 96-pixel images of 2 classes, validated on themselves; generated into a temporary cache."""
    from alwa_yolo.data.resolve import resolve_data

    tmp = tmp_path_factory.mktemp("anchor-data")
    spec = tmp / "overfit-src.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "path": "anchor-overfit",
                "train": "images/train",
                "val": "images/val",
                "names": {0: "a", 1: "b"},
                "generate": {
                    "kind": "shapes",
                    "classes": 2,
                    "train": 16,
                    "val": 4,
                    "imgsz": 96,
                    "min_size": 0.25,
                    "max_size": 0.5,
                    "max_objects": 2,
                    "seed": 0,
                },
            }
        )
    )
    with pytest.MonkeyPatch.context() as mp:  # module-scoped: the function-scoped monkeypatch fixture cannot serve
        mp.setenv("ALWA_YOLO_CACHE", str(tmp / "cache"))
        data = yaml.safe_load(Path(resolve_data(spec)).read_text())
    data["val"] = data["train"]
    out = tmp / "overfit.yaml"
    out.write_text(yaml.safe_dump(data))
    return out


NO_AUGMENT = dict(mosaic=0.0, fliplr=0.0, hsv_h=0.0, hsv_s=0.0, hsv_v=0.0, translate=0.0, scale=0.0)


def test_overfit_a_handful_of_images(overfit_data, tmp_path):
    from alwa_yolo.trainer import ALWADetectionTrainer

    trainer = ALWADetectionTrainer(
        overrides=dict(
            model=str(ANCHOR_YAML),
            data=str(overfit_data),
            epochs=60,
            imgsz=96,
            batch=8,
            device="cpu",
            workers=0,
            project=str(tmp_path),
            name="x",
            weighting="fixed",
            plots=False,
            val=False,
            optimizer="AdamW",
            lr0=0.01,
            warmup_epochs=0,
            **NO_AUGMENT,
        )
    )
    trainer.train()
    rows = read_csv(trainer.save_dir / "results.csv")
    total = [sum(float(r[f"train/{n}"]) for n in LOSS_NAMES) for r in rows]
    first, last = np.mean(total[:3]), np.mean(total[-3:])
    map50 = float(rows[-1]["metrics/mAP50(B)"])
    print(f"\noverfit: train loss {first:.4f} -> {last:.4f}, mAP50 {map50:.3f}")
    assert last < 0.6 * first
    assert map50 > 0.1
    ckpt = torch.load(trainer.save_dir / "weights" / "last.pt", map_location="cpu", weights_only=False)
    assert type(ckpt["model"]) is AnchorDetectionModel  # the class survives: stock Ultralytics has no anchor head


def test_alwa2_autoanchor_and_resume_in_the_trainer(tiny_data, tmp_path):
    """alwa2 with a 2-iteration window; anchors far too small for the boxes, so autoanchor must re-fit them; the run
    is interrupted after epoch 1 and resumed: the re-fitted anchors and the weighting state come back."""
    from alwa_yolo.trainer import ALWADetectionTrainer

    cfg = yaml.safe_load(ANCHOR_YAML.read_text())
    cfg["anchors"] = [[1, 1, 1, 2, 2, 1], [2, 2, 2, 3, 3, 2], [3, 3, 3, 4, 4, 3]]
    model_yaml = tmp_path / "yolov8n-anchor-tiny.yaml"  # the name keeps the scale letter
    model_yaml.write_text(yaml.safe_dump(cfg, sort_keys=False))
    first = ALWADetectionTrainer(
        overrides=dict(
            model=str(model_yaml),
            data=str(tiny_data),
            epochs=2,
            imgsz=64,
            batch=8,
            device="cpu",
            workers=0,
            project=str(tmp_path),
            name="x",
            weighting="alwa2",
            alwa_interval=2,
            plots=False,
        )
    )

    def stop_after_one(trainer):
        raise KeyboardInterrupt  # as if Ctrl-C after epoch 1 was saved

    first.add_callback("on_fit_epoch_end", stop_after_one)
    with pytest.raises(KeyboardInterrupt):
        first.train()
    fitted = first.model.model[-1].anchor_wh.clone()
    assert fitted.min() > 4  # re-fitted to the tiny set's 16-32 px boxes
    assert torch.equal(first.ema.ema.model[-1].anchor_wh, fitted)

    last = first.save_dir / "weights" / "last.pt"
    resumed = ALWADetectionTrainer(overrides={"model": str(last), "resume": str(last)})
    resumed.train()
    assert isinstance(resumed.model, AnchorDetectionModel) and resumed.weighting.iteration == 8
    rows = read_csv(first.save_dir / "results.csv")
    assert len(rows) == 2 and "train/obj_loss" in rows[0] and "val/obj_loss" in rows[0]
    assert all(math.isfinite(float(r[f"{s}/{n}"])) for r in rows for s in ("train", "val") for n in LOSS_NAMES)
    updates = read_csv(first.save_dir / "alwa.csv")
    assert [int(u["iteration"]) for u in updates] == [2, 4, 6, 8]  # 32 images / batch 8: 4 iterations per epoch
    ckpt = torch.load(last, map_location="cpu", weights_only=False)
    assert torch.allclose(ckpt["model"].model[-1].anchor_wh.float(), fitted, rtol=1e-3)  # saved in fp16
    assert ckpt["alwa_state"]["name"] == "alwa2" and ckpt["alwa_state"]["iteration"] == 8
