"""Bad input gets one clear paragraph naming the problem and the fix: no traceback, no hang, exit status 2."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import yaml

from helpers import ROOT, TRAIN_FAST, run_script


def fails_cleanly(p, *needles: str) -> str:
    out = p.stderr + p.stdout
    assert p.returncode == 2, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    for needle in needles:
        assert needle in p.stderr, p.stderr[-3000:]
    return p.stderr


def train(*args: str, **kw):
    return run_script("train.py", "--epochs", "1", "--img", "64", *TRAIN_FAST, *args, **kw)  # the test's flags win


@pytest.fixture
def bad_yaml(tmp_path):
    def make(text: str) -> Path:
        path = tmp_path / "data.yaml"
        path.write_text(text)
        return path

    return make


def test_missing_data_yaml(tmp_path):
    fails_cleanly(train("--data", str(tmp_path / "nope.yaml"), "--project", str(tmp_path)), "nope.yaml", "not found")


def test_malformed_yaml(bad_yaml, tmp_path):
    err = fails_cleanly(
        train("--data", str(bad_yaml("train: [a, b\nval: x\n")), "--project", str(tmp_path)), "not valid YAML"
    )
    assert "line" in err


def test_yaml_that_is_not_a_mapping(bad_yaml, tmp_path):
    fails_cleanly(train("--data", str(bad_yaml("- just\n- a list\n")), "--project", str(tmp_path)), "mapping")


def test_yaml_missing_keys(bad_yaml, tmp_path):
    fails_cleanly(
        train("--data", str(bad_yaml("train: images/train\nnames: [a]\n")), "--project", str(tmp_path)), "'val'"
    )


def test_dataset_paths_that_do_not_exist(bad_yaml, tmp_path):
    text = f"path: {tmp_path / 'nowhere'}\ntrain: images/train\nval: images/val\nnames: [a]\n"
    fails_cleanly(train("--data", str(bad_yaml(text)), "--project", str(tmp_path)), "nowhere", "does not exist")


def test_missing_weights_fails_fast(tiny_yaml, tmp_path):
    t0 = time.time()
    p = train("--data", str(tiny_yaml), "--weights", str(tmp_path / "yolov8n.pt"), "--project", str(tmp_path))
    fails_cleanly(p, "yolov8n.pt", "not found", "--weights yolov8n.yaml")
    assert time.time() - t0 < 60  # no download retries
    assert not (tmp_path / "exp").exists()  # nothing was started, nothing written
    p = run_script("val.py", "--weights", str(tmp_path / "missing.pt"), "--data", str(tiny_yaml))
    fails_cleanly(p, "missing.pt", "not found")


def test_val_bad_device_and_missing_test_split(tiny_yaml, tmp_path):
    ckpt = ROOT / "tests" / "data" / "anchor-v0.1-layout.pt"  # a real (tiny) checkpoint
    p = run_script("val.py", "--weights", str(ckpt), "--data", str(tiny_yaml), "--device", "7")
    fails_cleanly(p, "Invalid CUDA 'device=7'")
    p = run_script("val.py", "--weights", str(ckpt), "--data", str(tiny_yaml), "--task", "test")
    fails_cleanly(p, "no 'test:' split")


@pytest.mark.parametrize(
    "flags, needle",
    [
        (["--weighting", "bogus"], "unknown weighting 'bogus'"),
        (["--alwa-interval", "1"], "at least 2"),
        (["--reg-loss", "bogus"], "'bogus'"),
        (["--gains", "huge"], "unknown gains 'huge'"),
        (["lr00=0.1"], "Did you mean 'lr0'"),
        (["--no-such-flag"], "unrecognised argument"),
        (["lr0=abc"], "lr0 must be a number greater than 0, got 'abc'"),
        (["--device", "7"], "Invalid CUDA 'device=7'"),
        (["--img", "0"], "too small"),
    ],
)
def test_unknown_options(tiny_yaml, tmp_path, flags, needle):
    fails_cleanly(train("--data", str(tiny_yaml), *flags, "--project", str(tmp_path)), needle)


def test_existing_run_is_not_overwritten_by_a_failed_one(tiny_yaml, tmp_path):
    run = tmp_path / "exp"
    (run / "weights").mkdir(parents=True)
    (run / "weights" / "best.pt").write_bytes(b"precious")
    fails_cleanly(
        train(
            "--data", str(tiny_yaml), "--weighting", "bogus", "--project", str(tmp_path), "--name", "exp", "--exist-ok"
        ),
        "bogus",
    )
    assert (run / "weights" / "best.pt").read_bytes() == b"precious"


def test_broken_labels_and_images_are_skipped_with_their_names(tiny_data, tmp_path):
    """Ultralytics' own skip-and-warn: out-of-range labels and an unreadable image, each named, training goes on."""
    root = Path(yaml.safe_load(tiny_data.read_text())["path"])
    copy = tmp_path / "broken"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("*.cache", "data.yaml"))
    (copy / "labels" / "train" / "train_00001.txt").write_text("0 1.7 0.5 0.2 0.2\n")  # centre past the border
    (copy / "labels" / "train" / "train_00002.txt").write_text("99 0.5 0.5 0.2 0.2\n")  # class out of range
    (copy / "images" / "train" / "train_00003.png").write_bytes(b"not a png")
    data = tmp_path / "broken.yaml"
    data.write_text(f"path: {copy}\ntrain: images/train\nval: images/val\nnames: [a, b, c]\n")
    p = train("--data", str(data), "--batch-size", "4", "--project", str(tmp_path), "--name", "b")
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-3000:]
    for name in ("train_00001", "train_00002", "train_00003"):
        assert name in out
    assert (tmp_path / "b" / "weights" / "best.pt").is_file()
