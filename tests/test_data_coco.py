"""COCO -> YOLO converter (a wrapper of Ultralytics' convert_coco): labels, crowd, 91->80 ids, idempotency, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alwa_yolo.data.coco import convert_coco
from alwa_yolo.errors import ConversionError, InputNotFoundError
from helpers import ROOT

INSTANCES = {
    "images": [
        {"id": 1, "file_name": "a.jpg", "width": 100, "height": 50},
        {"id": 2, "file_name": "b.jpg", "width": 200, "height": 100},
        {"id": 3, "file_name": "c.jpg", "width": 10, "height": 10},  # no annotation at all
        {"id": 4, "file_name": "d.jpg", "width": 10, "height": 10},  # only a crowd annotation
    ],
    "annotations": [
        {"id": 10, "image_id": 1, "category_id": 1, "bbox": [10, 5, 40, 20], "iscrowd": 0, "area": 800},
        {"id": 11, "image_id": 1, "category_id": 13, "bbox": [0, 0, 50, 25], "iscrowd": 0, "area": 1250},
        {"id": 12, "image_id": 1, "category_id": 1, "bbox": [0, 0, 100, 50], "iscrowd": 1, "area": 5000},
        {"id": 13, "image_id": 2, "category_id": 90, "bbox": [50, 25, 100, 50], "iscrowd": 0, "area": 5000},
        {"id": 14, "image_id": 2, "category_id": 44, "bbox": [0, 0, 20, 10], "iscrowd": 0, "area": 200},
        {"id": 15, "image_id": 2, "category_id": 3, "bbox": [5, 5, 0, 10], "iscrowd": 0, "area": 0},  # zero width
        {"id": 16, "image_id": 4, "category_id": 1, "bbox": [0, 0, 10, 10], "iscrowd": 1, "area": 100},
    ],
    "categories": [
        {"id": 1, "name": "person"},
        {"id": 3, "name": "car"},
        {"id": 13, "name": "stop sign"},
        {"id": 44, "name": "bottle"},
        {"id": 90, "name": "toothbrush"},
    ],
}

# COCO [x, y, w, h] -> centre / size normalised, written by Ultralytics with %g. 91 -> 80 ids: 1 person -> 0,
# 13 stop sign -> 11 (id 12 is unused), 44 bottle -> 39 (ids 12, 26, 29, 30 unused before it), 90 toothbrush -> 79.
EXPECTED = {
    # person [10,5,40,20] on 100x50: (10+20)/100 = .3, (5+10)/50 = .3, .4, .4; stop sign [0,0,50,25]: .25 .25 .5 .5;
    # the crowd person is skipped.
    "a.txt": "0 0.3 0.3 0.4 0.4\n11 0.25 0.25 0.5 0.5\n",
    # toothbrush [50,25,100,50] on 200x100: .5 .5 .5 .5; bottle [0,0,20,10]: .05 .05 .1 .1; zero-width car skipped.
    "b.txt": "79 0.5 0.5 0.5 0.5\n39 0.05 0.05 0.1 0.1\n",
    "c.txt": "",  # added by our wrapper: every image gets a label file
    "d.txt": "",
}


@pytest.fixture
def annotations(tmp_path: Path) -> Path:
    """An 'annotations' folder like annotations_trainval2017.zip's, with a captions file that must be ignored."""
    ann = tmp_path / "annotations"
    ann.mkdir()
    (ann / "instances_val2017.json").write_text(json.dumps(INSTANCES))
    (ann / "captions_val2017.json").write_text(
        json.dumps({"images": INSTANCES["images"], "annotations": [{"id": 1, "image_id": 1, "caption": "a dog"}]})
    )
    return ann


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_labels_crowd_and_91_to_80(annotations: Path, tmp_path: Path) -> None:
    dst = tmp_path / "coco"
    s = convert_coco(annotations, dst)
    assert _tree(dst / "labels" / "val2017") == EXPECTED
    assert (dst / "images" / "val2017").is_dir()
    assert (s["images"], s["label_files"], s["objects"]) == (4, 4, 4)
    assert (s["skipped"], s["skipped_crowd"], s["skipped_other"]) == (3, 2, 1)
    assert s["per_class"] == {"person": 1, "stop sign": 1, "bottle": 1, "toothbrush": 1}
    assert list(s["splits"]) == ["val2017"]


def test_idempotent_into_existing_dst(annotations: Path, tmp_path: Path) -> None:
    """Ultralytics alone would write coco2/, coco3/... and append duplicate lines; the result must stay in coco/."""
    dst = tmp_path / "coco"
    (dst / "labels" / "val2017").mkdir(parents=True)
    (dst / "labels" / "val2017" / "stale.txt").write_text("0 0.5 0.5 1 1\n")  # earlier output is replaced
    first = convert_coco(annotations, dst)
    tree = _tree(dst)
    assert convert_coco(annotations, dst) == first
    assert _tree(dst) == tree
    assert _tree(dst / "labels" / "val2017") == EXPECTED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["annotations", "coco"]
    assert sorted(p.name for p in dst.iterdir()) == ["images", "labels"]  # no staging folder left behind


def test_single_json_file_as_src(annotations: Path, tmp_path: Path) -> None:
    convert_coco(annotations / "instances_val2017.json", tmp_path / "coco")
    assert _tree(tmp_path / "coco" / "labels" / "val2017") == EXPECTED


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"images": []}), "needs 'images' and 'annotations'"),
        (
            json.dumps({**INSTANCES, "annotations": [{**INSTANCES["annotations"][0], "category_id": 12}]}),
            "category_id 12",
        ),
        (json.dumps({**INSTANCES, "annotations": [{**INSTANCES["annotations"][0], "image_id": 99}]}), "image_id 99"),
    ],
)
def test_malformed_json(tmp_path: Path, content: str, message: str) -> None:
    ann = tmp_path / "annotations"
    ann.mkdir()
    (ann / "instances_val2017.json").write_text(content)
    with pytest.raises(ConversionError, match=message) as err:
        convert_coco(ann, tmp_path / "coco")
    assert "instances_val2017.json" in str(err.value)
    assert not (tmp_path / "coco").exists()  # validation happens before anything is written


def test_missing_src(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="do not exist"):
        convert_coco(tmp_path / "nope", tmp_path / "coco")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputNotFoundError, match="instances_"):
        convert_coco(tmp_path / "empty", tmp_path / "coco")


def test_cli_malformed_json_exit_2(tmp_path: Path) -> None:
    ann = tmp_path / "annotations"
    ann.mkdir()
    (ann / "instances_val2017.json").write_text(json.dumps({"annotations": []}))
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run(
        [sys.executable, "-m", "alwa_yolo.data", "coco", "--src", str(ann), "--dst", str(tmp_path / "coco")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("error: ") and r.stderr.strip().count("\n") == 0
    assert "instances_val2017.json" in r.stderr


@pytest.mark.parametrize("file_name", [7, None, "", "../x.jpg", "/abs/x.jpg"])
def test_file_name_must_be_a_relative_path(tmp_path: Path, file_name) -> None:
    """Ultralytics' converter would fail with a TypeError (int, null) or write outside the labels folder."""
    data = {**INSTANCES, "images": [{**INSTANCES["images"][0], "file_name": file_name}, *INSTANCES["images"][1:]]}
    (tmp_path / "instances_val2017.json").write_text(json.dumps(data))
    with pytest.raises(ConversionError, match=f"image 1 has file_name {file_name!r}"):
        convert_coco(tmp_path / "instances_val2017.json", tmp_path / "coco")
    assert not (tmp_path / "coco").exists()


def test_binary_json_and_unwritable_dst(annotations: Path, tmp_path: Path) -> None:
    from alwa_yolo.errors import UserError

    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "instances_val2017.json").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(ConversionError, match="not a UTF-8 text file"):
        convert_coco(tmp_path / "bin", tmp_path / "coco")
    (tmp_path / "file").write_text("a file\n")
    with pytest.raises(UserError, match="is a file, not a folder"):
        convert_coco(annotations, tmp_path / "file" / "coco")
    assert not (tmp_path / "coco").exists()
