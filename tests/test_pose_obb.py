"""Pose and oriented boxes under a weighting: every term in the seam, every strategy trains, ``fixed`` is the stock
trainer bit for bit, train.py trains / resumes / refuses mismatched data, checkpoints load in stock Ultralytics,
and val.py reports what ``YOLO(best).val()`` reports."""

from __future__ import annotations

import os

import pytest
import torch

from alwa_yolo.losses.weighted import TERM_GAINS, TERM_GROUPS
from alwa_yolo.weighting import WEIGHTINGS
from helpers import ROOT, TRAIN_FAST, read_csv, run_script, val_py_and_stock

MODELS = {"pose": ("yolo11n-pose.yaml", "yolo26n-pose.yaml"), "obb": ("yolo11n-obb.yaml", "yolo26n-obb.yaml")}


@pytest.fixture(scope="module")
def data(tiny_pose_yaml, tiny_obb_yaml) -> dict:
    from alwa_yolo.data.resolve import resolve_data

    return {"pose": resolve_data(tiny_pose_yaml), "obb": resolve_data(tiny_obb_yaml)}


def overrides(task: str, data: dict, weights: str, tmp_path, name: str, **extra) -> dict:
    return {"model": weights, "data": str(data[task]), "epochs": 2, "imgsz": 64, "batch": 8, "device": "cpu",
            "workers": 0, "plots": False, "val": False, "project": str(tmp_path), "name": name, **extra}  # fmt: skip


@pytest.mark.parametrize("weights", [w for ws in MODELS.values() for w in ws])
def test_every_term_has_a_group_and_a_gain(weights):
    """The criteria Ultralytics builds for these heads name only terms the seam knows (and the gains exist)."""
    from ultralytics.cfg import DEFAULT_CFG_DICT
    from ultralytics.nn.tasks import OBBModel, PoseModel

    from alwa_yolo.model import is_end2end

    model = PoseModel(weights, nc=3, data_kpt_shape=(5, 3), verbose=False) if "pose" in weights else None
    model = model or OBBModel(weights, nc=3, verbose=False)
    model.args = dict(DEFAULT_CFG_DICT)
    crit = model.init_criterion()
    names = (crit.one2one if is_end2end(model) else crit).loss_names
    assert set(names) <= set(TERM_GROUPS) and all(TERM_GAINS[n] in DEFAULT_CFG_DICT for n in names)
    expected = {"pose": {"pose_loss", "kobj_loss"}, "obb": {"angle_loss"}}["pose" if "pose" in weights else "obb"]
    assert expected <= set(names)


@pytest.mark.slow
@pytest.mark.parametrize("task", ["pose", "obb"])
def test_every_strategy_trains(data, tmp_path, task, caplog):
    """Each registered strategy trains the one-branch head for an epoch with finite losses, and the adaptive ones
    the end-to-end (YOLO26) head too (its ``fixed`` is the bit-identity test below)."""
    from alwa_yolo.trainer import TRAINERS

    one_branch, end2end = MODELS[task]
    for weights, names in (
        (one_branch, list(WEIGHTINGS)),
        (end2end, ["alwa-ref", "alwa-cal", "alwa-cal-aux", "alwa2", "uw"]),
    ):
        for name in names:
            args = overrides(task, data, weights, tmp_path, f"{weights}-{name}", epochs=1, weighting=name,
                             alwa_interval=2)  # fmt: skip
            trainer = TRAINERS[task](overrides=args)
            trainer.train()
            assert trainer.weighting.iteration == 4, (weights, name)
            row = read_csv(trainer.save_dir / "results.csv")[-1]
            assert all(float(v) == float(v) for k, v in row.items() if k.startswith("train/")), (weights, name, row)
    warning = {"pose": "alwa-cal on a pose model", "obb": "alwa-cal on an OBB model"}[task]
    assert caplog.text.count(warning) == 2  # once for each head's alwa-cal run, for no other strategy


@pytest.mark.slow
@pytest.mark.parametrize("task,weights", [(t, w) for t, ws in MODELS.items() for w in ws])
def test_fixed_trains_bit_identical_to_the_stock_trainer(data, tmp_path, monkeypatch, task, weights):
    """``--weighting fixed`` is Ultralytics' PoseTrainer / OBBTrainer: same losses every epoch, same final weights."""
    from ultralytics.models.yolo.obb import OBBTrainer
    from ultralytics.models.yolo.pose import PoseTrainer
    from ultralytics.utils import NUM_THREADS

    from alwa_yolo.trainer import TRAINERS

    monkeypatch.setenv("ALWA_YOLO_CPU_THREADS", str(NUM_THREADS))
    args = overrides(task, data, weights, tmp_path, "stock", seed=3, deterministic=True)
    stock = {"pose": PoseTrainer, "obb": OBBTrainer}[task](overrides=args)
    stock.train()
    ours = TRAINERS[task](overrides={**args, "name": "ours", "weighting": "fixed"})
    ours.train()
    a, b = read_csv(stock.save_dir / "results.csv"), read_csv(ours.save_dir / "results.csv")
    losses = [k for k in a[0] if k.startswith("train/")]
    assert len(losses) >= 4 and all([r[k] for r in a] == [r[k] for r in b] for k in losses), (a, b)
    sa, sb = stock.ema.ema.state_dict(), ours.ema.ema.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.slow
def test_a_gain_of_zero_switches_the_term_off_as_in_the_stock_trainer(data, tmp_path, monkeypatch):
    """``angle=0`` (stock accepts it: the angle term off): ``fixed`` trains Ultralytics' run, and the default trains
    with finite losses and the term off (dividing the base gain out once crashed the loss report, then gave NaN)."""
    from ultralytics.models.yolo.obb import OBBTrainer
    from ultralytics.utils import NUM_THREADS

    from alwa_yolo.trainer import TRAINERS

    monkeypatch.setenv("ALWA_YOLO_CPU_THREADS", str(NUM_THREADS))
    args = overrides("obb", data, "yolo11n-obb.yaml", tmp_path, "stock", seed=3, deterministic=True, angle=0.0)
    stock = OBBTrainer(overrides=args)
    stock.train()
    ours = TRAINERS["obb"](overrides={**args, "name": "ours", "weighting": "fixed"})
    ours.train()
    a, b = read_csv(stock.save_dir / "results.csv"), read_csv(ours.save_dir / "results.csv")
    assert float(a[-1]["train/angle_loss"]) == 0
    assert all([r[k] for r in a] == [r[k] for r in b] for k in a[0] if k.startswith("train/"))
    default = TRAINERS["obb"](overrides={**args, "name": "default", "weighting": "alwa-ref", "epochs": 5})
    default.train()
    rows = read_csv(default.save_dir / "results.csv")
    assert all(float(v) == float(v) for r in rows for k, v in r.items() if k.startswith("train/")), rows
    assert default.weighting.calibration()["angle_loss"] == 0.0


def train_py(data_yaml, weights, project, name, *flags, env=None):
    return run_script(
        "train.py", "--data", str(data_yaml), "--weights", weights, "--epochs", "2", "--img", "64", "--batch-size",
        "4", "--weighting", "alwa2", "--alwa-interval", "3", "--project", str(project), "--name", name, *TRAIN_FAST,
        *flags, env=env,
    )  # fmt: skip


@pytest.mark.slow
def test_train_py_takes_a_gain_of_zero_and_says_which_term_the_default_trains_at_zero(tiny_obb_yaml, tmp_path):
    """``python train.py ... angle=0`` on YOLO11n-obb under the default: exit 0, finite losses, the angle term 0, and
    the log names the term the head's gains were tuned without."""
    p = train_py(tiny_obb_yaml, "yolo11n-obb.yaml", tmp_path, "zero", "--weighting", "alwa-ref", "--epochs", "3",
                 "angle=0")  # fmt: skip
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    assert "the angle term trains at 0" in p.stdout + p.stderr
    rows = read_csv(tmp_path / "zero" / "results.csv")
    assert all(float(v) == float(v) for r in rows for k, v in r.items() if k.startswith("train/")), rows
    assert float(rows[-1]["train/angle_loss"]) == 0


def loads_in_stock(best, cwd) -> str:
    from test_models import loads_in_stock_ultralytics

    return loads_in_stock_ultralytics(best, cwd)


@pytest.mark.slow
@pytest.mark.parametrize("task,weights", [("pose", "yolo11n-pose.yaml"), ("obb", "yolo26n-obb.yaml")])
def test_train_py_trains_resumes_and_val_py_reports_ultralytics_numbers(
    tiny_pose_yaml, tiny_obb_yaml, tmp_path, task, weights
):
    """train.py killed in epoch 2 (SIGKILL), resumed to the end; the weights log covers the whole run; the
    checkpoint loads in stock Ultralytics; val.py's JSON equals ``YOLO(best).val()`` (pose: box and keypoint mAP)."""
    data_yaml = {"pose": tiny_pose_yaml, "obb": tiny_obb_yaml}[task]
    p = train_py(data_yaml, weights, tmp_path, "r", "--epochs", "3", env={"ALWA_YOLO_KILL_AT": "batch:12"})
    assert p.returncode != 0
    last = tmp_path / "r" / "weights" / "last.pt"
    p = run_script("train.py", "--resume", str(last))
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    assert "Weighting state restored: alwa2 at iteration 8" in p.stdout + p.stderr
    run = tmp_path / "r"
    assert [int(u["iteration"]) for u in read_csv(run / "alwa.csv")] == [3, 6, 9, 12, 15, 18, 21, 24]
    best = run / "weights" / "best.pt"
    assert loads_in_stock(best, tmp_path) == {"pose": "PoseModel pose", "obb": "OBBModel obb"}[task]

    ours, stock = val_py_and_stock(data_yaml, best, tmp_path)
    assert ours["mAP50-95"] == pytest.approx(stock.box.map, abs=1e-9)
    assert ours["mAP50"] == pytest.approx(stock.box.map50, abs=1e-9)
    if task == "pose":
        assert ours["pose"]["mAP50-95"] == pytest.approx(stock.pose.map, abs=1e-9)
        assert ours["pose"]["mAP50"] == pytest.approx(stock.pose.map50, abs=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize(
    "weights,data_key,flags,message",
    [
        ("yolo11n-pose.yaml", "tiny_yaml", (), "has no 'kpt_shape'"),
        ("yolov8n.yaml", "tiny_pose_yaml", (), "is a pose dataset"),
        ("yolo11n-obb.yaml", "tiny_yaml", (), "axis-aligned box labels"),
        ("yolov8n.yaml", "tiny_obb_yaml", (), "oriented-box (OBB) labels"),
        ("yolo11n-obb.yaml", "tiny_obb_yaml", ("--reg-loss", "l1"), "does not apply to an oriented-box"),
    ],
)
def test_mismatched_data_and_options_are_refused_before_anything_is_written(
    request, tmp_path, weights, data_key, flags, message
):
    cache = tmp_path / "cache"
    p = train_py(request.getfixturevalue(data_key), weights, tmp_path / "runs", "x", *flags,
                 env={"ALWA_YOLO_CACHE": str(cache)})  # fmt: skip
    assert p.returncode == 2 and message in p.stderr and "Traceback" not in p.stderr, p.stderr[-2000:]
    assert not (tmp_path / "runs").exists() and not cache.exists()


@pytest.mark.slow
def test_a_pose_model_trains_with_another_box_loss(data, tmp_path, caplog):
    """``--reg-loss`` replaces a pose head's box term (the keypoint terms are untouched); alwa-cal on a pose model
    says, once, what it measured there."""
    from alwa_yolo.trainer import TRAINERS

    trainer = TRAINERS["pose"](overrides=overrides("pose", data, "yolo11n-pose.yaml", tmp_path, "l1", epochs=1,
                                                   weighting="alwa-cal", reg_loss="l1"))  # fmt: skip
    trainer.train()
    crit = trainer.model.criterion
    assert crit.bbox_loss.reg_loss == "l1" and trainer.weighting.iteration == 4
    assert caplog.text.count("alwa-cal on a pose model") == 1


def test_the_demo_yamls_generate_what_ultralytics_reads(tmp_path):
    """data/shapes-pose.yaml and data/shapes-obb.yaml pass Ultralytics' own dataset check and label verifier."""
    from ultralytics.data.utils import check_det_dataset, verify_image_label

    from alwa_yolo.data.resolve import resolve_data

    env = os.environ.get("ALWA_YOLO_CACHE")
    os.environ["ALWA_YOLO_CACHE"] = str(tmp_path)
    try:
        for name, kpt in (("shapes-pose", (5, 3)), ("shapes-obb", None)):
            yaml_path = resolve_data(ROOT / "data" / f"{name}.yaml")
            info = check_det_dataset(str(yaml_path))
            assert info["nc"] == 4 and (tuple(info.get("kpt_shape", ())) or None) == kpt
            images = sorted(tmp_path.glob(f"{name}-*/images/train/*.png"))[:20]
            for im in images:
                lb = str(im).replace("/images/", "/labels/").replace(".png", ".txt")
                args = (str(im), lb, "", kpt is not None, 4, *(kpt or (0, 0)), False)
                nm, nf, ne, nc, msg = verify_image_label(args)[-5:]
                assert (nm, nf, ne, nc) == (0, 1, 0, 0), msg
    finally:
        if env is None:
            os.environ.pop("ALWA_YOLO_CACHE")
        else:
            os.environ["ALWA_YOLO_CACHE"] = env


@pytest.mark.parametrize(
    "weights,groups",
    [
        ("yolo11n-pose.yaml", ("reg", "reg", "reg", "cls", "reg")),  # box, pose, kobj, cls, dfl
        ("yolo26n-pose.yaml", 2 * ("reg", "reg", "reg", "cls", "reg", "reg")),  # ... l1, rle; both branches
        ("yolo11n-obb.yaml", ("reg", "cls", "reg", "reg")),  # box, cls, dfl, angle
    ],
)
def test_the_strategy_sees_the_groups_the_seam_decides(weights, groups):
    from ultralytics.cfg import get_cfg

    from alwa_yolo.model import ALWAOBBModel, ALWAPoseModel
    from alwa_yolo.options import DEFAULT_CFG

    kw = {"data_kpt_shape": (5, 3)} if "pose" in weights else {}
    model = (ALWAPoseModel if "pose" in weights else ALWAOBBModel)(weights, nc=3, verbose=False, **kw)
    model.args = get_cfg(DEFAULT_CFG, {"weighting": "alwa2"})
    assert model.init_criterion().weighting.groups == groups


@pytest.mark.slow
@pytest.mark.parametrize("task", ["pose", "obb"])
def test_the_gain_finder_keeps_auxiliary_terms_at_their_ratio_when_asked(data, task):
    """``--auxiliary ratio`` runs alwa-cal-aux's calibration: kobj (pose) / angle (OBB) at Ultralytics' ratio to box
    in every chunk; the default calibrates them to the others' size, as alwa-cal does."""
    from alwa_yolo.gain_finder import find_gains

    weights, key = {"pose": ("yolo11n-pose.yaml", "kobj"), "obb": ("yolo11n-obb.yaml", "angle")}[task]
    base = {"model": weights, "data": str(data[task]), "imgsz": 64, "batch": 4, "device": "cpu", "workers": 0}
    ratio = find_gains(base, iterations=4, chunks=2, progress=False, auxiliary="ratio")
    calibrate = find_gains(base, iterations=4, chunks=2, progress=False)
    hyp = {"kobj": 1.0, "angle": 1.0}[key] / 7.5
    assert all(c[key] / c["box"] == pytest.approx(hyp, rel=1e-9) for c in ratio.per_chunk)
    assert ratio.config["strategy"] == "alwa-cal-aux" and calibrate.config["strategy"] == "alwa-cal"
    assert calibrate.gains[key] / calibrate.gains["box"] > 2 * hyp
