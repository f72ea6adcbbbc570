"""train.py and val.py end to end on a tiny generated set: outputs, ALWA log, resume, fine-tune, stock loading."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
import torch

from helpers import ROOT, TRAIN_FAST, read_csv, run_script

pytestmark = pytest.mark.slow  # every test here trains, or validates what the module's run trained


@pytest.fixture(scope="module")
def trained(tiny_yaml, tmp_path_factory):
    """The issue's command, shrunk: 2 epochs of alwa2 with a 5-iteration window on the tiny set."""
    project = tmp_path_factory.mktemp("runs")
    p = run_script(
        "train.py",
        "--data",
        str(tiny_yaml),
        "--epochs",
        "2",
        "--img",
        "64",
        "--batch-size",
        "4",
        "--weighting",
        "alwa2",
        "--alwa-interval",
        "5",
        "--project",
        str(project),
        "--name",
        "N",
        *TRAIN_FAST,
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return project / "N", p.stdout + p.stderr


def test_train_writes_weights_logs_and_plot(trained):
    run, log = trained
    for f in ("weights/best.pt", "weights/last.pt", "alwa.csv", "alwa.png", "results.csv"):
        assert (run / f).is_file(), f
    assert f"Run folder: {run}" in log
    header = (run / "results.csv").read_text().splitlines()[0].split(",")
    assert any("w_cls" in h for h in header) and any("w_reg" in h for h in header)


def test_alwa_csv_follows_the_released_rule(trained):
    run, _ = trained
    rows = read_csv(run / "alwa.csv")
    assert list(rows[0])[:6] == ["iteration", "epoch", "stat_cls", "stat_reg", "w_cls", "w_reg"]
    # tiny set: 32 images / batch 4 = 8 iterations per epoch, 16 in all -> updates at 5, 10, 15
    assert [int(r["iteration"]) for r in rows] == [5, 10, 15]
    assert [int(r["epoch"]) for r in rows] == [1, 2, 2]
    w_prev = 1.0
    for r in rows:
        s_c, s_r, w = float(r["stat_cls"]), float(r["stat_reg"]), float(r["w_cls"])
        expected = s_r / s_c if s_c > s_r else w_prev
        assert w == pytest.approx(expected, rel=1e-4)
        assert float(r["w_reg"]) == 1.0
        w_prev = w
    results = read_csv(run / "results.csv")
    assert float(results[-1]["alwa/w_cls"]) == pytest.approx(w_prev, rel=1e-4)


def test_checkpoint_carries_alwa_state(trained):
    run, _ = trained
    ckpt = torch.load(run / "weights" / "last.pt", map_location="cpu", weights_only=False)
    model = ckpt["model"] if ckpt.get("model") is not None else ckpt["ema"]
    assert type(model).__name__ == "DetectionModel" and type(model).__module__.startswith("ultralytics")
    assert not hasattr(model, "alwa_state")  # a visible top-level key, not an attribute on the pickled model
    state = ckpt["alwa_state"]
    assert state["name"] == "alwa2" and state["iteration"] == 16 and len(state["history"]) == 3
    assert state["interval"] == 5
    # Ultralytics' final strip keeps only its own keys in train_args; the run's args.yaml keeps ours
    assert "weighting: alwa2" in (run / "args.yaml").read_text()


def test_val_writes_json(trained, tiny_yaml, tmp_path):
    run, _ = trained
    out = tmp_path / "out.json"
    p = run_script(
        "val.py",
        "--data",
        str(tiny_yaml),
        "--weights",
        str(run / "weights" / "best.pt"),
        "--img",
        "64",
        "--json",
        str(out),
        "--device",
        "cpu",
        "--project",
        str(tmp_path),
        "--no-plots",
    )
    assert p.returncode == 0, p.stderr[-3000:]
    result = json.loads(out.read_text())
    for key in ("mAP50", "mAP50-95", "precision", "recall", "per_class"):
        assert key in result
    assert set(result["per_class"]) <= {"red_circle", "green_square", "blue_triangle"}
    for ap in result["per_class"].values():
        assert set(ap) >= {"AP50", "AP50-95"}
    assert "red_circle" in p.stdout + p.stderr  # the per-class table


def test_val_voc07_metric(trained, tiny_yaml, tmp_path):
    run, _ = trained
    out = tmp_path / "voc.json"
    p = run_script(
        "val.py",
        "--data",
        str(tiny_yaml),
        "--weights",
        str(run / "weights" / "best.pt"),
        "--img",
        "64",
        "--metric",
        "voc07",
        "--save-json",
        "--json",
        str(out),
        "--device",
        "cpu",
        "--project",
        str(tmp_path),
        "--no-plots",
    )
    assert p.returncode == 0, p.stderr[-3000:]
    result = json.loads(out.read_text())
    assert 0.0 <= result["voc07_mAP50"] <= 1.0
    assert set(result["pycocotools"]) == {"AP", "AP50", "AP75", "APs", "APm", "APl"}  # gt built from the labels


def test_checkpoint_loads_and_predicts_in_stock_ultralytics(trained, tmp_path):
    """A process that never imports alwa_yolo (and cannot: the repo is not on its path) loads best.pt."""
    run, _ = trained
    code = textwrap.dedent(f"""
        import sys, numpy as np
        sys.path = [p for p in sys.path if p not in ('', {str(ROOT)!r})]
        from ultralytics import YOLO
        m = YOLO({str(run / "weights" / "best.pt")!r})
        r = m.predict(np.zeros((64, 64, 3), np.uint8), imgsz=64, device="cpu", verbose=False)
        assert "alwa_yolo" not in sys.modules
        print("OK", type(m.model).__name__, len(r))
    """)
    p = run_script("-c", code, cwd=tmp_path)
    assert p.returncode == 0 and "OK DetectionModel 1" in p.stdout, p.stderr[-3000:]


def test_resume_restores_alwa_state(tiny_data, tmp_path):
    """Stop after epoch 2 of 3, resume from last.pt: the weighting continues from the saved state."""
    from alwa_yolo.trainer import ALWADetectionTrainer

    args = dict(
        model="yolov8n.yaml",
        data=str(tiny_data),
        epochs=3,
        imgsz=64,
        batch=4,
        device="cpu",
        workers=0,
        project=str(tmp_path),
        name="r",
        weighting="alwa2",
        alwa_interval=3,
        plots=False,
        val=False,
    )
    first = ALWADetectionTrainer(overrides=args)

    def stop_after_two(trainer):
        if trainer.epoch == 1:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C after epoch 2 was saved

    first.add_callback("on_fit_epoch_end", stop_after_two)
    with pytest.raises(KeyboardInterrupt):
        first.train()
    saved = first.weighting.state_dict()
    assert saved["iteration"] == 16 and len(saved["history"]) == 5

    last = tmp_path / "r" / "weights" / "last.pt"
    resumed = ALWADetectionTrainer(overrides={"model": str(last), "resume": str(last)})
    assert resumed.args.weighting == "alwa2" and resumed.args.alwa_interval == 3
    seen = {}
    resumed.add_callback("on_train_start", lambda t: seen.update(t.weighting.state_dict()))
    resumed.train()
    assert seen["iteration"] == 16 and seen["w"] == saved["w"] and seen["history"] == saved["history"]
    assert torch.equal(seen["window"]["sums"], saved["window"]["sums"])
    assert resumed.weighting.iteration == 24 and len(resumed.weighting.history) == 8
    rows = read_csv(tmp_path / "r" / "alwa.csv")
    assert [int(r["iteration"]) for r in rows] == [3, 6, 9, 12, 15, 18, 21, 24]  # the whole run's history


def test_resume_of_a_finished_run_is_explained(trained, tmp_path):
    run, _ = trained
    p = run_script("train.py", "--resume", str(run / "weights" / "last.pt"))
    assert p.returncode == 2 and "finished run" in p.stderr and "Traceback" not in p.stderr + p.stdout


def test_finetune_from_checkpoint_starts_fresh_alwa_state(trained, tiny_yaml, tmp_path):
    run, _ = trained
    p = run_script(
        "train.py",
        "--data",
        str(tiny_yaml),
        "--weights",
        str(run / "weights" / "last.pt"),
        "--epochs",
        "1",
        "--img",
        "64",
        "--batch-size",
        "4",
        "--weighting",
        "alwa2",
        "--alwa-interval",
        "5",
        "--project",
        str(tmp_path),
        "--name",
        "ft",
        *TRAIN_FAST,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    assert "Transferred" in p.stdout + p.stderr
    ckpt = torch.load(tmp_path / "ft" / "weights" / "last.pt", map_location="cpu", weights_only=False)
    state = ckpt["alwa_state"]
    assert state["iteration"] == 8 and [u["iteration"] for u in state["history"]] == [5]


def test_python_api_run(tiny_yaml, tmp_path):
    sys.path.insert(0, str(ROOT))
    import train

    save_dir = train.run(
        data=str(tiny_yaml),
        epochs=1,
        imgsz=64,
        batch_size=4,
        weighting="fixed",
        device="cpu",
        workers=0,
        project=str(tmp_path),
        name="api",
        plots=False,
    )
    assert (save_dir / "weights" / "last.pt").is_file()
    assert read_csv(save_dir / "alwa.csv") == []  # fixed weights: no updates, header only


@pytest.mark.parametrize(
    "weighting, reg_loss",
    [("alwa2", "giou"), ("alwa1", "diou"), ("alwa2-raw", "iou"), ("uw", "l1"), ("dwa", "smoothl1"), ("fixed", "l1")],
)
def test_short_runs_for_every_strategy_and_box_loss(tiny_data, tmp_path, weighting, reg_loss):
    """Each strategy and each regression loss trains with finite losses and logs its weights."""
    from alwa_yolo.trainer import ALWADetectionTrainer

    t = ALWADetectionTrainer(
        overrides=dict(
            model="yolov8n.yaml",
            data=str(tiny_data),
            epochs=2,
            imgsz=64,
            batch=8,
            device="cpu",
            workers=0,
            project=str(tmp_path),
            name="x",
            weighting=weighting,
            reg_loss=reg_loss,
            alwa_interval=2,
            plots=False,
            nbs=8,  # step the optimiser every batch: 8 iterations in all
        )
    )
    t.train()
    rows = read_csv(tmp_path / "x" / "results.csv")
    for r in rows:
        for k in ("train/box_loss", "train/cls_loss", "train/dfl_loss", "alwa/w_cls", "alwa/w_reg"):
            assert float(r[k]) == float(r[k]) and abs(float(r[k])) < 1e6, (k, r[k])  # finite
    if weighting == "dwa":
        assert float(rows[-1]["alwa/w_cls"]) != 1.0  # set from the two epochs' loss ratios
    if weighting == "uw":
        assert t.weighting.parameters()[0].abs().sum() > 0  # the optimiser trained the log-variances
    assert (tmp_path / "x" / "alwa.png").is_file()


@pytest.mark.parametrize("weighting", ["fixed", "alwa2"])
def test_anchor_head_through_train_and_val_scripts(tiny_yaml, tmp_path, weighting):
    """The anchor-based yaml trains with train.py (objectness column) and val.py evaluates its checkpoint."""
    p = run_script(
        "train.py",
        "--data",
        str(tiny_yaml),
        "--weights",
        "cfg/models/yolov8n-anchor.yaml",
        "--epochs",
        "1",
        "--img",
        "64",
        "--batch-size",
        "8",
        "--weighting",
        weighting,
        "--alwa-interval",
        "2",
        "--project",
        str(tmp_path),
        "--name",
        "a",
        *TRAIN_FAST,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    rows = read_csv(tmp_path / "a" / "results.csv")
    assert {"train/box_loss", "train/obj_loss", "train/cls_loss", "alwa/w_cls"} <= set(rows[0])
    out = tmp_path / "a.json"
    p = run_script(
        "val.py",
        "--data",
        str(tiny_yaml),
        "--weights",
        str(tmp_path / "a" / "weights" / "best.pt"),
        "--img",
        "64",
        "--json",
        str(out),
        "--device",
        "cpu",
        "--project",
        str(tmp_path),
        "--no-plots",
    )
    assert p.returncode == 0, p.stderr[-3000:]
    assert "mAP50-95" in json.loads(out.read_text())
