"""Today's Ultralytics model families end to end: YOLO26 and YOLOv10 (end-to-end heads) and instance segmentation
train under a weighting, log their updates, validate with val.py, load in stock Ultralytics and fine-tune; and val.py
reports what Ultralytics reports for the same weights on non-square images."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from helpers import ROOT, TRAIN_FAST, read_csv, run_script

pytestmark = pytest.mark.slow


def train(data: Path, weights: str, project: Path, name: str, *flags: str):
    """train.py on a tiny set: 32 images, batch 4 -> 8 iterations per epoch; alwa2 with a 3-iteration window."""
    return run_script(
        "train.py", "--data", str(data), "--weights", weights, "--epochs", "2", "--img", "64", "--batch-size", "4",
        "--weighting", "alwa2", "--alwa-interval", "3", "--project", str(project), "--name", name, *TRAIN_FAST, *flags,
    )  # fmt: skip


def loads_in_stock_ultralytics(best: Path, cwd: Path) -> str:
    """Load and predict with ``best.pt`` in a process that cannot import alwa_yolo; return its type name."""
    code = textwrap.dedent(f"""
        import sys, numpy as np
        sys.path = [p for p in sys.path if p not in ('', {str(ROOT)!r})]
        from ultralytics import YOLO
        m = YOLO({str(best)!r})
        m.predict(np.zeros((64, 64, 3), np.uint8), imgsz=64, device="cpu", verbose=False)
        assert "alwa_yolo" not in sys.modules
        print("OK", type(m.model).__name__, m.task)
    """)
    p = run_script("-c", code, cwd=cwd)
    assert p.returncode == 0 and "OK" in p.stdout, p.stderr[-3000:]
    return p.stdout.split("OK", 1)[1].strip()


@pytest.fixture(scope="module")
def end2end_runs(tiny_yaml, tmp_path_factory):
    project = tmp_path_factory.mktemp("e2e")
    runs = {}
    for weights in ("yolo26n.yaml", "yolov10n.yaml"):
        name = weights.split(".")[0]
        p = train(tiny_yaml, weights, project, name)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
        runs[weights] = project / name
    return runs


@pytest.mark.parametrize("weights", ["yolo26n.yaml", "yolov10n.yaml"])
def test_end_to_end_models_train_log_validate_and_load(end2end_runs, tiny_yaml, tmp_path, weights):
    run = end2end_runs[weights]
    updates = read_csv(run / "alwa.csv")
    assert [int(u["iteration"]) for u in updates] == [3, 6, 9, 12, 15]  # the window counts training iterations
    rows = read_csv(run / "results.csv")
    third = "l1_loss" if weights.startswith("yolo26") else "dfl_loss"  # YOLO26 has no DFL (reg_max 1)
    assert {"train/box_loss", "train/cls_loss", f"train/{third}", "alwa/w_cls", "alwa/w_reg"} <= set(rows[0])
    assert float(rows[-1]["alwa/w_cls"]) == pytest.approx(float(updates[-1]["w_cls"]), rel=1e-4)
    ckpt = torch.load(run / "weights" / "last.pt", map_location="cpu", weights_only=False)
    assert ckpt["alwa_state"]["name"] == "alwa2" and ckpt["alwa_state"]["iteration"] == 16
    assert (run / "alwa.png").is_file()
    out = tmp_path / "val.json"
    p = run_script("val.py", "--data", str(tiny_yaml), "--weights", str(run / "weights" / "best.pt"), "--img", "64",
                   "--json", str(out), "--device", "cpu", "--project", str(tmp_path), "--no-plots")  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    assert {"mAP50", "mAP50-95", "per_class"} <= set(json.loads(out.read_text()))
    assert loads_in_stock_ultralytics(run / "weights" / "best.pt", tmp_path) == "DetectionModel detect"


def test_end_to_end_schedule_is_ultralytics_own(tiny_data, tmp_path):
    """The o2m / o2o mix decays once per epoch exactly as stock E2ELoss does; the strategy sees both branches."""
    from ultralytics.utils.loss import E2ELoss
    from ultralytics.utils.torch_utils import unwrap_model

    from alwa_yolo.trainer import ALWADetectionTrainer

    t = ALWADetectionTrainer(overrides=dict(
        model="yolo26n.yaml", data=str(tiny_data), epochs=3, imgsz=64, batch=8, device="cpu", workers=0,
        project=str(tmp_path), name="x", weighting="alwa-cal", plots=False, val=False,
    ))  # fmt: skip
    t.train()
    crit = unwrap_model(t.model).criterion
    stock = E2ELoss.__new__(E2ELoss)
    stock.__dict__.update(o2m_copy=0.8, final_o2m=0.1, one2one=crit.one2one)
    assert crit.updates == 3 and crit.o2m == pytest.approx(stock.decay(3)) and crit.o2o == pytest.approx(1 - crit.o2m)
    assert crit.weighting.groups == ("reg", "cls", "reg") * 2 and crit.weighting.iteration == 12


def test_finetune_a_yolo26_checkpoint(end2end_runs, tiny_yaml, tmp_path):
    best = end2end_runs["yolo26n.yaml"] / "weights" / "best.pt"
    p = train(tiny_yaml, str(best), tmp_path, "ft", "--epochs", "1")
    assert p.returncode == 0, p.stderr[-3000:]
    assert "Transferred" in p.stdout + p.stderr
    ckpt = torch.load(tmp_path / "ft" / "weights" / "last.pt", map_location="cpu", weights_only=False)
    assert ckpt["alwa_state"]["iteration"] == 8  # a fine-tune starts a fresh weighting state


def test_segmentation_trains_and_val_reports_box_and_mask(tiny_seg_yaml, tmp_path):
    p = train(tiny_seg_yaml, "yolov8n-seg.yaml", tmp_path, "seg")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    run = tmp_path / "seg"
    assert [int(u["iteration"]) for u in read_csv(run / "alwa.csv")] == [3, 6, 9, 12, 15]
    assert {"train/seg_loss", "metrics/mAP50-95(M)", "alwa/w_cls"} <= set(read_csv(run / "results.csv")[0])
    out = tmp_path / "val.json"
    p = run_script("val.py", "--data", str(tiny_seg_yaml), "--weights", str(run / "weights" / "best.pt"), "--img",
                   "64", "--json", str(out), "--device", "cpu", "--project", str(tmp_path), "--no-plots")  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    result = json.loads(out.read_text())
    assert {"mAP50", "mAP50-95", "per_class"} <= set(result) and {"mAP50", "mAP50-95", "per_class"} <= set(
        result["mask"]
    )
    assert loads_in_stock_ultralytics(run / "weights" / "best.pt", tmp_path) == "SegmentationModel segment"


def test_detection_data_for_a_segmentation_model_is_refused(tiny_yaml, tmp_path):
    p = train(tiny_yaml, "yolov8n-seg.yaml", tmp_path, "wrong")
    assert p.returncode == 2 and "box labels only" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "wrong").exists()


@pytest.fixture(scope="module")
def wide_set(tiny_data, tmp_path_factory) -> Path:
    """The tiny set's images side by side in pairs: 128x64 images, labels moved to the left or right half; validated
    on its own training images, so a short run reaches a mAP worth comparing."""
    src = yaml.safe_load(tiny_data.read_text())
    root = tmp_path_factory.mktemp("wide")
    for split in ("train", "val"):
        images = sorted((Path(src["path"]) / "images" / split).glob("*.png"))
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i in range(0, len(images) - 1, 2):
            pair = images[i : i + 2]
            cv2.imwrite(str(root / "images" / split / f"{i:03d}.png"), np.hstack([cv2.imread(str(p)) for p in pair]))
            lines = []
            for half, img in enumerate(pair):
                for line in (Path(src["path"]) / "labels" / split / f"{img.stem}.txt").read_text().split("\n"):
                    if line.strip():
                        c, x, y, w, h = line.split()
                        lines.append(f"{c} {(float(x) + half) / 2:.6f} {y} {float(w) / 2:.6f} {h}")
            (root / "labels" / split / f"{i:03d}.txt").write_text("\n".join(lines) + "\n")
    data = root / "wide.yaml"
    data.write_text(yaml.safe_dump({"path": str(root), "train": "images/train", "val": "images/train",
                                    "names": src["names"]}))  # validated on its 16 training images  # fmt: skip
    return data


def test_val_py_reports_what_ultralytics_reports_on_non_square_images(wide_set, tmp_path):
    """Same weights, data and settings: val.py's mAP equals ``YOLO(best).val()``'s (rectangular batches); with
    ``--no-rect`` it differs, so the comparison can fail."""
    from ultralytics import YOLO

    from alwa_yolo.trainer import ALWADetectionTrainer

    t = ALWADetectionTrainer(overrides=dict(
        model="yolov8n.yaml", data=str(wide_set), epochs=40, imgsz=128, batch=4, device="cpu", workers=0,
        project=str(tmp_path), name="w", weighting="alwa-cal", plots=False, val=False, mosaic=0.0,
    ))  # fmt: skip
    t.train()
    best = str(t.best)
    stock = YOLO(best).val(data=str(wide_set), imgsz=128, device="cpu", plots=False, project=str(tmp_path))
    assert stock.box.map50 > 0.01  # a model that finds something, so the equality below means something

    def val_py(*flags: str) -> dict:
        out = tmp_path / f"v{len(flags)}.json"
        p = run_script("val.py", "--data", str(wide_set), "--weights", best, "--img", "128", "--device", "cpu",
                       "--json", str(out), "--project", str(tmp_path), "--no-plots", *flags)  # fmt: skip
        assert p.returncode == 0, p.stderr[-3000:]
        return json.loads(out.read_text())

    ours = val_py()
    assert ours["mAP50"] == pytest.approx(stock.box.map50, abs=1e-9)
    assert ours["mAP50-95"] == pytest.approx(stock.box.map, abs=1e-9)
    square = val_py("--no-rect")
    assert (square["mAP50"], square["mAP50-95"]) != (ours["mAP50"], ours["mAP50-95"])
