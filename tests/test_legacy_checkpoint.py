"""Checkpoints saved by Ultralytics 8.0.x pickle classes under module paths that no longer exist
(``ultralytics.yolo.utils.IterableSimpleNamespace`` as the model's ``args``, as many checkpoints published on PyPI
and model hubs do). Stock 8.4 loads them (``torch_safe_load`` maps the old paths); so do train.py and val.py."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from helpers import TRAIN_FAST, run_script

pytestmark = pytest.mark.slow

MAKE_OLD_CHECKPOINT = textwrap.dedent(
    """
    import sys, types
    import torch
    from ultralytics.nn.tasks import DetectionModel
    from ultralytics.utils import DEFAULT_CFG_DICT, IterableSimpleNamespace

    # what 8.0.112 pickled: the namespace class under its module of the time
    old = types.ModuleType("ultralytics.yolo.utils")
    Namespace = type("IterableSimpleNamespace", (IterableSimpleNamespace,), {"__module__": "ultralytics.yolo.utils"})
    old.IterableSimpleNamespace = Namespace
    sys.modules["ultralytics.yolo"] = types.ModuleType("ultralytics.yolo")
    sys.modules["ultralytics.yolo.utils"] = old
    model = DetectionModel("yolov8n.yaml", nc=3, verbose=False)
    model.names = {0: "red_circle", 1: "green_square", 2: "blue_triangle"}
    model.args = Namespace(**DEFAULT_CFG_DICT)
    ckpt = {"epoch": -1, "best_fitness": None, "model": model.half(), "ema": None, "updates": None,
            "optimizer": None, "train_args": dict(DEFAULT_CFG_DICT), "date": "2023-06-01", "version": "8.0.112"}
    torch.save(ckpt, sys.argv[1])
    """
)


@pytest.fixture(scope="module")
def old_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("legacy") / "plates-8.0.112.pt"
    p = run_script("-c", MAKE_OLD_CHECKPOINT, str(path))
    assert p.returncode == 0, p.stderr[-2000:]
    return path


def test_the_checkpoint_uses_the_old_module_layout(old_checkpoint):
    """The fixture is what it claims: a plain ``torch.load`` fails on the old module path, stock ``YOLO`` loads it."""
    code = (
        "import sys, torch\n"
        "try:\n    torch.load(sys.argv[1], weights_only=False)\nexcept ModuleNotFoundError as e:\n    print(e.name)\n"
        "from ultralytics import YOLO\nprint(YOLO(sys.argv[1]).task)\n"
    )
    p = run_script("-c", code, str(old_checkpoint))
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.split() == ["ultralytics.yolo", "detect"]


def test_train_and_val_accept_an_old_ultralytics_checkpoint(old_checkpoint, tiny_yaml, tmp_path):
    """train.py fine-tunes it, val.py validates it, as stock 8.4 would."""
    p = run_script("train.py", "--weights", str(old_checkpoint), "--data", str(tiny_yaml), "--epochs", "1",
                   "--batch-size", "16", "--project", str(tmp_path), "--name", "ft", *TRAIN_FAST)  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    assert "Transferred" in p.stdout + p.stderr
    assert (tmp_path / "ft" / "weights" / "best.pt").is_file()
    out = tmp_path / "val.json"
    v = run_script("val.py", "--weights", str(old_checkpoint), "--data", str(tiny_yaml), "--device", "cpu",
                   "--json", str(out), "--project", str(tmp_path), "--name", "v", "--no-plots")  # fmt: skip
    assert v.returncode == 0, v.stderr[-3000:]
    assert "mAP50-95" in json.loads(out.read_text())


def test_a_checkpoint_needing_a_missing_third_party_module_is_one_paragraph(tmp_path):
    """A module outside Ultralytics is named, never pip-installed (Ultralytics' loader would try)."""
    path = tmp_path / "needs_module.pt"
    code = (
        "import sys, types, torch\n"
        "m = types.ModuleType('nowhere_pkg'); sys.modules['nowhere_pkg'] = m\n"
        "C = type('Thing', (), {'__module__': 'nowhere_pkg'}); m.Thing = C\n"
        "torch.save({'model': C()}, sys.argv[1])\n"
    )
    assert run_script("-c", code, str(path)).returncode == 0
    p = run_script("train.py", "--weights", str(path), "--data", "data/shapes.yaml", "--project", str(tmp_path))
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "nowhere_pkg" in p.stderr and p.stderr.strip().splitlines()[-1].startswith("error:")
    assert not (tmp_path / "exp").exists()
