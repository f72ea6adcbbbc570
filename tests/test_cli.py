"""The command line as documented (the flag table itself: tests/test_docs.py), Ultralytics' keys, and the installed
commands are the scripts."""

from __future__ import annotations

import importlib
import json
import re
import sys

import pytest

from alwa_yolo.errors import UserError
from alwa_yolo.options import TRAIN_OPTIONS
from helpers import ROOT, run_script


def test_every_flag_is_in_the_help():
    text = run_script("train.py", "--help").stdout
    for o in TRAIN_OPTIONS:
        for flag in o.flags:
            assert flag in text, flag


@pytest.mark.slow
@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib")
@pytest.mark.parametrize("script", ["train", "val"])
def test_installed_commands_are_the_scripts(script):
    """``pip install -e .`` installs alwa-train / alwa-val pointing at the functions the root scripts call."""
    import tomllib

    entry = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"][f"alwa-{script}"]
    module, func = entry.split(":")
    target = getattr(importlib.import_module(module), func)
    assert target is importlib.import_module(script).cli
    assert run_script(f"{script}.py", "--help").stdout == run_script("-m", module, "--help").stdout.replace(
        f"{module.rsplit('.', 1)[-1]}.py", f"{script}.py"
    )


def test_model_key_is_what_yolo_train_trains(tiny_data):
    """``model=`` (Ultralytics' key, from the command line, a --hyp file or ``train.run``) chooses the model as
    ``yolo train model=...`` does; it was silently replaced by the default --weights before."""
    import train

    args = train.overrides_from(train.parse_opt(["model=yolo11n-pose.yaml", "--data", str(tiny_data)]))
    assert (args["model"], args["pretrained"]) == ("yolo11n-pose.yaml", False)
    args = train.overrides_from(train.parse_opt(["--weights", "yolo11n.yaml", "model=yolo11n.yaml"]))
    assert args["model"] == "yolo11n.yaml"


SAMPLES = {"task": "detect", "model": "yolo11n.yaml", "data": "data/shapes-pose.yaml", "time": 0.1, "device": "cpu",
           "name": "other", "optimizer": "SGD", "freeze": 3, "channels_last": True, "split": "test", "conf": 0.3,
           "quantize": "int8", "nms": True, "source": "img.jpg", "classes": [0, 2], "embed": [1], "line_width": 2,
           "format": "onnx", "opset": 12, "workspace": 2, "distill_model": "yolov8s.pt", "copy_paste_mode": "mixup",
           "auto_augment": "augmix", "tracker": "bytetrack.yaml", "weighting": "fixed", "gains": "unit",
           "reg_loss": "l1"}  # fmt: skip
"""A valid value other than the default for each key whose default is not a number or a flag."""

REFUSED = {"mode": ("val", "val.py"), "resume": (True, "--resume")}
"""Keys train.py refuses, with the value tried and the flag or script the error must name."""


def _sample(key, default):
    if key in SAMPLES:
        return SAMPLES[key]
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default + 1
    if isinstance(default, float):
        return round(default * 0.5 + 0.01, 4)
    raise AssertionError(f"no sample value for Ultralytics' key '{key}' (default {default!r}): add one to SAMPLES")


def test_every_ultralytics_key_is_honoured_or_refused(tmp_path):
    """Walk Ultralytics' whole configuration (and alwa-yolo's keys): ``key=value`` reaches the trainer as ``yolo
    train`` would take it, or is refused in one paragraph naming the flag to use. A key added to Ultralytics without
    a sample value here fails this test, so it cannot slip through unexamined."""
    import train
    from alwa_yolo.options import DEFAULT_CFG

    project = tmp_path / "runs"
    for key, default in DEFAULT_CFG.items():
        if key in REFUSED:
            value, names = REFUSED[key]
            with pytest.raises(UserError, match=re.escape(names)):
                train.overrides_from(train.parse_opt([f"{key}={value}"]))
            continue
        if key == "cfg":  # Ultralytics' cfg= is a yaml of arguments: train.py's --hyp
            hyp = tmp_path / "args.yaml"
            hyp.write_text("lr0: 0.02\n")
            assert train.overrides_from(train.parse_opt([f"cfg={hyp}"]))["lr0"] == 0.02
            continue
        value = str(project) if key == "project" else _sample(key, default)
        out = train.overrides_from(
            train.parse_opt([f"{key}={json.dumps(value) if isinstance(value, list) else value}"])
        )
        got = out[key] if key != "data" else out[key].replace(str(ROOT) + "/", "")
        assert got == value, (key, value, got)


def test_val_py_takes_every_ultralytics_key_as_yolo_val_does():
    """val.py: every Ultralytics key passes to the validator as ``key=value`` (winning over its flag), except a
    ``mode=`` other than val and a ``model=`` other than --weights, refused naming what to use."""
    from ultralytics.cfg import DEFAULT_CFG_DICT

    import val

    for key, default in DEFAULT_CFG_DICT.items():
        if key in ("mode", "model"):
            continue
        value = SAMPLES.get(key, _sample(key, default) if not isinstance(default, str | type(None)) else "x")
        text = json.dumps(value) if isinstance(value, list) else value
        opt = val.parse_opt(["--weights", "best.pt", f"{key}={text}"])
        if key in val.FLAG_KEYS:  # set through the flag, so its checks and resolution apply
            assert opt.extra == {key: value}, key
        else:
            assert val.val_keys(opt.extra, "best.pt") == {key: value}, key
    with pytest.raises(UserError, match="val.py validates"):
        val.val_keys({"mode": "train"}, "best.pt")
    with pytest.raises(UserError, match="as --weights"):
        val.val_keys({"model": "other.pt"}, "best.pt")
    assert val.val_keys({"model": "best.pt", "mode": "val"}, "best.pt") == {}


def test_the_python_api_names_keywords_not_flags():
    """A Python caller of the trainers is told ``epochs=``, not ``--epochs``; train.py keeps the flag."""
    from alwa_yolo.trainer import ALWADetectionTrainer

    with pytest.raises(UserError, match=r"^epochs= must be an integer of at least 1, got 0"):
        ALWADetectionTrainer(overrides={"epochs": 0})
    p = run_script("train.py", "--epochs", "0")
    assert p.returncode == 2 and "error: --epochs must be an integer of at least 1, got 0" in p.stderr
