"""The gain finder (``python -m alwa_yolo.gains``): its yaml works in stock Ultralytics and in train.py, its gains
agree with alwa-cal's calibration within the spread it reports, and bad input is one paragraph."""

from __future__ import annotations

import pytest
import yaml

from alwa_yolo.gain_file import hyp_of_terms
from alwa_yolo.gain_finder import GainEstimate
from helpers import TRAIN_FAST, read_csv, run_script

pytestmark = pytest.mark.slow

FINDER_FAST = ["--device", "cpu", "--workers", "0", "--batch-size", "4"]


@pytest.fixture(scope="module")
def found(tiny_yaml, tmp_path_factory):
    """The finder on the tiny set, as a user runs it: its yaml and its printed summary."""
    out = tmp_path_factory.mktemp("gains") / "gains.yaml"
    p = run_script("-m", "alwa_yolo.gains", "--data", str(tiny_yaml), *FINDER_FAST, "--out", str(out))
    assert p.returncode == 0, p.stderr[-3000:]
    return out, p.stdout


def test_summary_and_yaml(found):
    out, stdout = found
    gains = yaml.safe_load(out.read_text())
    assert set(gains) == {"box", "cls", "dfl"} and all(v > 0 for v in gains.values())
    assert "gains for yolov8n.yaml on tiny.yaml, box loss ciou: box" in stdout and str(out) in stdout
    assert "5 x 16 batches of 4" in stdout
    assert f"cfg={out}" in out.read_text()  # how to use it, as a comment


def test_yaml_passes_stock_ultralytics_config_check(found):
    """``yolo train cfg=gains.yaml`` / ``YOLO().train(**yaml)``: Ultralytics' own checker takes every key."""
    from ultralytics.cfg import DEFAULT_CFG_DICT, get_cfg

    gains = yaml.safe_load(found[0].read_text())
    cfg = get_cfg(DEFAULT_CFG_DICT, gains)
    assert (cfg.box, cfg.cls, cfg.dfl) == (gains["box"], gains["cls"], gains["dfl"])


def test_train_py_writes_the_gains_a_run_ended_with(tiny_yaml, tmp_path):
    """``train.py --weighting alwa-cal`` leaves ``gains.yaml`` in the run folder: the gains it ended with, which stock
    Ultralytics' config check takes and ``--weighting fixed --hyp`` trains on; a ``fixed`` run writes none."""
    from ultralytics.cfg import DEFAULT_CFG_DICT, get_cfg

    p = run_script("train.py", "--data", str(tiny_yaml), "--epochs", "3", "--img", "64", "--batch-size", "4",
                   "--alwa-interval", "4", "--weighting", "alwa-cal", "--project", str(tmp_path), "--name", "cal",
                   *TRAIN_FAST)  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    path = tmp_path / "cal" / "gains.yaml"
    gains = yaml.safe_load(path.read_text())
    assert set(gains) == {"box", "cls", "dfl"} and all(v > 0 for v in gains.values())
    assert f"on {tiny_yaml}," in path.read_text() and ".cache" not in path.read_text()  # the yaml the user gave
    assert f"alwa-cal gains at the end: box {gains['box']}" in p.stdout + p.stderr and f"cfg={path}" in path.read_text()
    cfg = get_cfg(DEFAULT_CFG_DICT, gains)
    assert (cfg.box, cfg.cls, cfg.dfl) == (gains["box"], gains["cls"], gains["dfl"])
    rows = read_csv(tmp_path / "cal" / "alwa.csv")
    w_cls = float(rows[-1]["w_cls"]) if rows else 1.0
    calibrated = dict(part.split() for part in _calibrated_line(p.stdout + p.stderr).split(", "))
    assert gains["cls"] == pytest.approx(float(calibrated["cls"]) * w_cls, rel=0.015)  # three digits each
    assert gains["box"] == pytest.approx(float(calibrated["box"]), rel=0.015)  # localisation keeps weight 1

    p = run_script("train.py", "--data", str(tiny_yaml), "--epochs", "1", "--img", "64", "--batch-size", "4",
                   "--weighting", "fixed", "--project", str(tmp_path), "--name", "fixed", *TRAIN_FAST)  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    assert not (tmp_path / "fixed" / "gains.yaml").exists()


def _calibrated_line(log: str) -> str:
    """``box 5.07, cls 0.471, dfl 1.47`` from the run's ``alwa-cal calibrated gains: ...`` line."""
    return next(line for line in log.splitlines() if "calibrated gains: " in line).split("calibrated gains: ")[1]


def test_train_py_fixed_uses_the_found_gains(found, tiny_yaml, tmp_path):
    """``train.py --weighting fixed --hyp gains.yaml`` trains on exactly those gains."""
    out, _ = found
    p = run_script("train.py", "--data", str(tiny_yaml), "--epochs", "1", "--weighting", "fixed", "--hyp", str(out),
                   "--project", str(tmp_path), "--name", "fixed", *TRAIN_FAST)  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    args = yaml.safe_load((tmp_path / "fixed" / "args.yaml").read_text())
    gains = yaml.safe_load(out.read_text())
    assert {k: args[k] for k in gains} == gains
    assert len(read_csv(tmp_path / "fixed" / "results.csv")) == 1


def test_agrees_with_alwa_cal_within_its_spread(tiny_data, tmp_path):
    """With the model held still (a vanishing learning rate), alwa-cal's calibration in a real run and the finder's
    estimate are two samples of the same quantity: they differ by no more than 3 of the finder's standard
    deviations (plus 1 % for the rounding of the yaml's three digits)."""
    from alwa_yolo.gain_finder import find_gains
    from alwa_yolo.trainer import ALWADetectionTrainer

    still = {"lr0": 1e-12, "warmup_bias_lr": 0.0, "momentum": 0.0}
    base = {"model": "yolov8n.yaml", "data": str(tiny_data), "imgsz": 64, "batch": 4, "device": "cpu",
            "workers": 0, "seed": 0, **still}  # fmt: skip
    estimate = find_gains(base, iterations=16, chunks=5, progress=False)
    trainer = ALWADetectionTrainer(overrides={**base, "epochs": 2, "project": str(tmp_path), "name": "cal",
                                              "plots": False, "val": False, "weighting": "alwa-cal"})  # fmt: skip
    trainer.train()
    calibrated = trainer.weighting.calibration()
    for key, term in estimate.terms.items():
        sd = estimate.spread[key] * estimate.gains[key]
        assert abs(calibrated[term] - estimate.gains[key]) <= 3 * sd + 0.01 * estimate.gains[key], (key, calibrated)


def test_mis_set_gains_give_the_same_yaml(tiny_data):
    """The finder divides the base gains out, so a user whose gains are off (the robustness study's x1/4, x4) gets
    the yaml a user with Ultralytics' gains gets: why the value table needs no row of its own for them."""
    from alwa_yolo.gain_finder import find_gains

    base = {"model": "yolov8n.yaml", "data": str(tiny_data), "imgsz": 64, "batch": 4, "device": "cpu",
            "workers": 0, "seed": 0}  # fmt: skip
    stock = find_gains(base, iterations=4, chunks=2, progress=False)
    mis_set = find_gains({**base, "box": 7.5 / 4, "cls": 0.5 * 4, "dfl": 1.5 * 4}, iterations=4, chunks=2,
                         progress=False)  # fmt: skip
    assert stock.gains.keys() == mis_set.gains.keys()
    for key, gain in stock.gains.items():
        assert mis_set.gains[key] == pytest.approx(gain, rel=1e-5), key


def test_run_gains_are_the_calibration_times_the_final_weights():
    """What a run ends with: each term's calibrated gain times its weight then, by hyperparameter; nothing for a
    strategy without a calibration, or before it finished."""
    import torch

    from alwa_yolo.gain_file import run_gains
    from alwa_yolo.weighting import build_weighting

    groups, names = ("reg", "cls", "cls"), ("box_loss", "obj_loss", "cls_loss")  # the anchor head
    w = build_weighting("alwa-cal", groups, interval=10, term_names=names, term_gains=[0.05, 1.0, 0.5])
    assert run_gains(w) == ({}, {})
    for _ in range(16):
        w(torch.tensor([0.1, 2.0, 0.3]))
    w.set_weights(0.43, 1.0)  # as the rule leaves the anchor head's cls group
    calibration = w.calibration()
    gains, unexpressed = run_gains(w)
    assert gains == pytest.approx({"box": calibration["box_loss"], "obj": 0.43 * calibration["obj_loss"],
                                   "cls": 0.43 * calibration["cls_loss"]})  # fmt: skip
    assert unexpressed == {}
    assert run_gains(build_weighting("alwa2", groups, interval=10, term_names=names)) == ({}, {})


def test_each_hyperparameter_gets_its_own_term():
    """box <- box_loss (not a mask term, which Ultralytics also multiplies by box); YOLO26's l1 term is dfl."""
    assert hyp_of_terms(["box_loss", "seg_loss", "cls_loss", "dfl_loss", "sem_loss"]) == (
        {"box": "box_loss", "cls": "cls_loss", "dfl": "dfl_loss"},
        ["seg_loss", "sem_loss"],
    )
    assert hyp_of_terms(["box_loss", "cls_loss", "l1_loss"])[0] == {
        "box": "box_loss",
        "cls": "cls_loss",
        "dfl": "l1_loss",
    }
    assert hyp_of_terms(["box_loss", "obj_loss", "cls_loss"])[0]["obj"] == "obj_loss"


def test_yaml_notes_what_stock_gains_cannot_hold():
    gains = {"box": 5.0, "cls": 0.5, "dfl": 1.5}
    config = {"reg_loss": "l1", "model": "m.pt", "data": "d.yaml"}
    e = GainEstimate(gains, dict.fromkeys(gains, 0.01), [], {}, unexpressed={"seg_loss": 12.3}, config=config)
    text = e.to_yaml("g.yaml")
    assert "seg_loss 12.3" in text and "stock Ultralytics trains CIoU boxes only" in text
    assert yaml.safe_load(text) == {"box": 5.0, "cls": 0.5, "dfl": 1.5}


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--iterations", "1"], "--iterations must be from 2 to 1000"),
        (["--chunks", "0"], "--chunks must be from 2 to 100"),
        (["--data", "nope.yaml"], "nope.yaml"),
        (["--weights", "missing.pt"], "missing.pt"),
        (["--reg-loss", "bogus"], "'bogus'"),
        (["--epochs", "3"], "--epochs"),
        (["--out", "{file}/gains.yaml"], "cannot be created"),
        (["--auxiliary", "bogus"], "--auxiliary"),
    ],
    ids=["iterations", "chunks", "data", "weights", "reg-loss", "unknown flag", "out under a file", "auxiliary"],
)
def test_bad_input_is_one_paragraph(argv, says, tmp_path):
    """Exit 2, one ``error:`` line, no traceback, nothing written (not even the demo set's cache)."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cache = tmp_path / "cache"
    argv = [a.replace("{file}", str(blocker)) for a in argv]
    out = ["--out", str(tmp_path / "g.yaml")] if "--out" not in argv else []
    p = run_script("-m", "alwa_yolo.gains", *argv, *out, env={"ALWA_YOLO_CACHE": str(cache)})
    assert p.returncode == 2, p.stderr[-2000:]
    assert "Traceback" not in p.stderr + p.stdout
    lines = p.stderr.strip().splitlines()
    assert lines[-1].startswith("error:") and says in lines[-1], lines[-1]
    assert sorted(x.name for x in tmp_path.iterdir()) == ["file"]


@pytest.mark.parametrize("which", ["data", "foreign file", "missing parents"])
def test_out_never_destroys_a_file(which, tiny_data, tmp_path):
    """--out naming an input (even with --overwrite) or a file the finder did not write is refused before any batch,
    the file byte-identical; --overwrite replaces the foreign file on purpose; --out in folders that do not exist yet
    gets them made, and the gains are printed before the write. (--out naming --hyp: the bad-input matrix.)"""
    data_copy = tmp_path / "my.yaml"
    data_copy.write_bytes(tiny_data.read_bytes())
    foreign = tmp_path / "notes.yaml"
    foreign.write_text("my notes: keep\n")
    out = {"data": data_copy, "foreign file": foreign, "missing parents": tmp_path / "a" / "b" / "g.yaml"}[which]
    before = {p: p.read_bytes() for p in (data_copy, foreign)}
    argv = ["--data", str(data_copy), "--iterations", "2", "--chunks", "2", "--out", str(out), *FINDER_FAST]
    overwrite = ["--overwrite"] if which == "data" else []  # an input is never replaced, --overwrite or not
    p = run_script("-m", "alwa_yolo.gains", *argv, *overwrite)
    assert {p_: p_.read_bytes() for p_ in before} == before
    if which == "missing parents":
        assert p.returncode == 0, p.stderr[-3000:]
        assert p.stdout.index("gains for") < p.stdout.index(f"-> {out}")
        assert yaml.safe_load(out.read_text())["box"] > 0
        return
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr[-3000:]
    assert p.stderr.strip().splitlines()[-1].startswith("error:")
    if which == "foreign file":  # replaced on purpose
        forced = run_script("-m", "alwa_yolo.gains", *argv, "--overwrite")
        assert forced.returncode == 0 and yaml.safe_load(foreign.read_text())["box"] > 0


def test_a_run_too_short_to_calibrate_says_so_at_start_and_end(tiny_yaml, tmp_path):
    """Fewer iterations than the calibration: a warning when training starts and when it ends, no gains.yaml."""
    p = run_script("train.py", "--data", str(tiny_yaml), "--epochs", "1", "--img", "64", "--batch-size", "8",
                   "--weighting", "alwa-cal", "--project", str(tmp_path), "--name", "short", *TRAIN_FAST)  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    log = p.stdout + p.stderr
    assert "calibrates over its first 16 iterations, and this run has 4" in log
    assert "did not finish calibrating (4 of 16 iterations" in log
    assert not (tmp_path / "short" / "gains.yaml").exists()
    weights = tmp_path / "short" / "weights"
    assert f"Optimizer stripped from {weights / 'last.pt'}" in log and ".staging" not in log  # the final names


def test_the_default_keeps_ultralytics_gains_and_the_box_share_of_another_box_loss(tiny_yaml, tmp_path):
    """``train.py`` (alwa-ref) with mis-set gains and --reg-loss l1: the run trains on Ultralytics' cls / dfl gains,
    and the L1 term's gain is whatever gives it CIoU's share under box 7.5 (not 7.5, not the mis-set 1.0)."""
    p = run_script("train.py", "--data", str(tiny_yaml), "--epochs", "2", "--img", "64", "--batch-size", "4",
                   "--reg-loss", "l1", "box=1.0", "cls=2.0", "--project", str(tmp_path), "--name", "ref",
                   *TRAIN_FAST)  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    gains = dict(part.split() for part in _calibrated_line(p.stdout + p.stderr).split(", "))
    assert (float(gains["cls"]), float(gains["dfl"])) == (0.5, 1.5)
    assert 0 < float(gains["box"]) < 7.5 and float(gains["box"]) != 1.0
    assert "alwa-ref calibrated gains" in p.stdout + p.stderr
