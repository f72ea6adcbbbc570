"""Test setup: offline Ultralytics with its settings in a temporary folder, and tiny generated datasets.

The environment is set at import time, before any test module imports Ultralytics (which reads it once).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

_TMP = Path(tempfile.mkdtemp(prefix="alwa-yolo-tests-"))
os.environ["YOLO_OFFLINE"] = "1"
os.environ["YOLO_CONFIG_DIR"] = str(_TMP / "ultralytics-config")
os.environ.setdefault("ALWA_YOLO_CACHE", str(_TMP / "cache"))
os.environ.setdefault("MPLBACKEND", "Agg")
if os.environ.get("PYTEST_XDIST_WORKER"):  # a worker per core: one torch thread each, so they do not oversubscribe
    os.environ.setdefault("ALWA_YOLO_CPU_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TINY_YAML = """\
path: tiny
train: images/train
val: images/val
generate: {kind: shapes, classes: 3, train: 32, val: 16, imgsz: 64, min_size: 0.25, max_size: 0.5, max_objects: 2,
           seed: 1}
names: {0: red_circle, 1: green_square, 2: blue_triangle}
"""


@pytest.fixture(scope="session")
def tiny_yaml(tmp_path_factory) -> Path:
    """A 32 + 16 image, 64-pixel, 3-class generated set: small enough for end-to-end training tests."""
    path = tmp_path_factory.mktemp("data") / "tiny.yaml"
    path.write_text(TINY_YAML)
    return path


@pytest.fixture(scope="session")
def tiny_data(tiny_yaml) -> Path:
    """The resolved (generated) tiny set's yaml in the cache."""
    from alwa_yolo.data.resolve import resolve_data

    return Path(resolve_data(tiny_yaml))


@pytest.fixture(scope="session")
def tiny_seg_yaml(tmp_path_factory) -> Path:
    """The tiny set with polygon labels (the same images, ``task: segment``), for segmentation runs."""
    path = tmp_path_factory.mktemp("data-seg") / "tiny-seg.yaml"
    path.write_text(TINY_YAML.replace("path: tiny", "path: tiny-seg").replace("seed: 1}", "seed: 1, task: segment}"))
    return path


@pytest.fixture(scope="session")
def tiny_pose_yaml(tmp_path_factory) -> Path:
    """The tiny set with keypoints (the same images, ``task: pose``: box plus 5 keypoints), for pose runs."""
    path = tmp_path_factory.mktemp("data-pose") / "tiny-pose.yaml"
    text = TINY_YAML.replace("path: tiny", "path: tiny-pose").replace("seed: 1}", "seed: 1, task: pose}")
    path.write_text(text + "kpt_shape: [5, 3]\nflip_idx: [0, 1, 4, 3, 2]\n")
    return path


@pytest.fixture(scope="session")
def tiny_obb_yaml(tmp_path_factory) -> Path:
    """A tiny set of rotated rectangles and ellipses with four-corner labels (``task: obb``), for OBB runs."""
    path = tmp_path_factory.mktemp("data-obb") / "tiny-obb.yaml"
    path.write_text(
        "path: tiny-obb\ntrain: images/train\nval: images/val\n"
        "generate: {kind: shapes, task: obb, classes: 3, train: 32, val: 16, imgsz: 64, min_size: 0.35, max_size: 0.6,"
        " max_objects: 2, seed: 1}\nnames: {0: red_rectangle, 1: green_ellipse, 2: blue_rectangle}\n"
    )
    return path
