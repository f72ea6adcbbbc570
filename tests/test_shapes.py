"""The generated shapes set: detect labels unchanged, segment labels (polygons) that match the drawn objects and that
Ultralytics reads, and ``label_task`` telling the two label kinds apart."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from alwa_yolo.data.labels import label_files_for, label_task
from alwa_yolo.data.shapes import SHAPES, ShapesConfig, generate, iter_samples

ROOT = Path(__file__).resolve().parents[1]
TINY = {  # all 8 shapes (6 of them rings), 24 objects in 10 images
    "classes": 8,
    "train": 8,
    "val": 2,
    "imgsz": 64,
    "min_size": 0.2,
    "max_size": 0.45,
    "max_objects": 3,
    "clutter": 2,
    "seed": 5,
}
TINY_DIGEST = "92ae32ae32e61b7ffaed6943e6f18ba865ef709fc9d87dcf1fac623256a3baaa"
"""Of TINY's detect set (label bytes, decoded pixels), as written before segment labels existed."""


def _files(root: Path) -> list[Path]:
    """Every file under ``root``, relative, sorted: what two generated sets must share."""
    return sorted(p.relative_to(root) for p in root.rglob("*.*"))


def _rows(file: Path) -> list[list[float]]:
    """The numbers of each non-empty line of a label file."""
    return [[float(v) for v in line.split()] for line in file.read_text().splitlines() if line.strip()]


def _raster(xy: np.ndarray, s: int) -> np.ndarray:
    """A polygon in normalised pixel-centre coordinates filled at the image size, to 1/16 pixel."""
    mask = np.zeros((s, s), np.uint8)
    cv2.fillPoly(mask, [np.round((xy * s - 0.5) * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    return mask.astype(bool)


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> dict[str, Path]:
    """TINY generated twice in detect mode and once in segment mode."""
    tmp = tmp_path_factory.mktemp("shapes")
    return {
        "detect": generate(tmp / "detect", ShapesConfig(**TINY)),
        "detect2": generate(tmp / "detect2", ShapesConfig(**TINY, task="detect")),
        "segment": generate(tmp / "segment", ShapesConfig(**TINY, task="segment")),
    }


def test_task_is_checked():
    with pytest.raises(ValueError, match="one of 'detect', 'segment', 'pose', 'obb', got 'classify'"):
        ShapesConfig(task="classify")
    assert ShapesConfig().task == "detect"


def test_pose_labels_are_the_detection_images_with_keypoints(tmp_path):
    """task=pose draws exactly the detect set's images; each line is the same box plus 5 visible keypoints, the
    centre first, all inside the image; obb lines are 4 corners whose rotated rectangle holds the drawn object."""
    import cv2
    import numpy as np

    from alwa_yolo.data.shapes import generate

    det = generate(tmp_path / "det", ShapesConfig(train=4, val=1, seed=5))
    pose = generate(tmp_path / "pose", ShapesConfig(train=4, val=1, seed=5, task="pose"))
    for f in sorted((det / "labels" / "train").iterdir()):
        d = [list(map(float, line.split())) for line in f.read_text().splitlines()]
        p = [list(map(float, line.split())) for line in (pose / "labels" / "train" / f.name).read_text().splitlines()]
        assert [r[:5] for r in p] == d and all(len(r) == 5 + 15 for r in p)
        for r in p:
            kpts = np.asarray(r[5:]).reshape(5, 3)
            assert (kpts[:, 2] == 2).all() and ((kpts[:, :2] >= 0) & (kpts[:, :2] <= 1)).all()
            assert abs(kpts[1, 0] - kpts[0, 0]) < 1e-5 and kpts[1, 1] < kpts[0, 1] < kpts[3, 1]  # top, centre, bottom
        img_d = cv2.imread(str(det / "images" / "train" / f.name.replace(".txt", ".png")))
        img_p = cv2.imread(str(pose / "images" / "train" / f.name.replace(".txt", ".png")))
        assert np.array_equal(img_d, img_p)
    obb = generate(tmp_path / "obb", ShapesConfig(train=4, val=1, seed=5, task="obb", min_size=0.3, max_size=0.6))
    for f in sorted((obb / "labels" / "train").iterdir()):
        img = cv2.imread(str(obb / "images" / "train" / f.name.replace(".txt", ".png")))
        for line in f.read_text().splitlines():
            corners = np.asarray(list(map(float, line.split()[1:]))).reshape(4, 2) * 128
            w, h = np.linalg.norm(corners[1] - corners[0]), np.linalg.norm(corners[2] - corners[1])
            assert 0.25 < min(w, h) / max(w, h) < 0.7  # elongated: the angle is there to learn
            assert cv2.contourArea(corners.astype(np.float32)) > 0
        assert img.shape == (128, 128, 3)


def test_detect_unchanged(sets):
    a, b = sets["detect"], sets["detect2"]
    assert _files(a) == _files(b) and len(_files(a)) == 20
    assert all((a / p).read_bytes() == (b / p).read_bytes() for p in _files(a))
    digest = hashlib.sha256()
    for p in _files(a):
        digest.update(p.as_posix().encode())
        digest.update(
            (a / p).read_bytes() if p.suffix == ".txt" else cv2.imread(str(a / p), cv2.IMREAD_UNCHANGED).tobytes()
        )
    assert digest.hexdigest() == TINY_DIGEST
    rows = [r for p in _files(a) if p.suffix == ".txt" for r in _rows(a / p)]
    assert len(rows) == 24 and all(len(r) == 5 for r in rows)


def test_segment_labels(sets):
    det, seg = sets["detect"], sets["segment"]
    assert _files(det) == _files(seg)
    for p in _files(det):
        if p.suffix == ".png":
            assert (det / p).read_bytes() == (seg / p).read_bytes(), p
            continue
        text = (seg / p).read_text()
        assert text.endswith("\n")
        fields = [line.split() for line in text.splitlines()]
        assert len(fields) == len(_rows(det / p)), p
        for f in fields:
            assert len(f) >= 7 and len(f) % 2 == 1, p
            assert all(len(v.split(".")[1]) == 6 and 0 <= float(v) <= 1 for v in f[1:]), p


def test_polygons_match_drawn_objects(sets):
    det, seg = sets["detect"], sets["segment"]
    cfg = ShapesConfig(**TINY, task="segment")
    s, seen = cfg.imgsz, set()
    for split, stem, _, objects, masks in iter_samples(cfg):
        boxes = _rows(det / "labels" / split / f"{stem}.txt")
        polys = _rows(seg / "labels" / split / f"{stem}.txt")
        assert len(boxes) == len(polys) == len(objects) == len(masks)
        for (cls, _), mask, box, poly in zip(objects, masks, boxes, polys):
            assert box[0] == poly[0] == cls
            xy = np.asarray(poly[1:]).reshape(-1, 2)
            cx, cy, w, h = box[1:]
            detect_xyxy = np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]) * s
            poly_xyxy = np.concatenate([xy.min(0), xy.max(0)]) * s
            assert np.abs(poly_xyxy - detect_xyxy).max() <= 1.5, (stem, SHAPES[cls])
            filled, drawn = _raster(xy, s), mask > 127
            iou = (filled & drawn).sum() / (filled | drawn).sum()
            assert iou > 0.9, (stem, SHAPES[cls], iou)
            if SHAPES[cls] == "ring":  # the hole is bridged in, not filled: the centre stays background
                yc, xc = np.round(((detect_xyxy[1] + detect_xyxy[3]) / 2, (detect_xyxy[0] + detect_xyxy[2]) / 2))
                assert not drawn[int(yc), int(xc)] and not filled[int(yc), int(xc)], stem
            seen.add(SHAPES[cls])
    assert seen == set(SHAPES)


def test_ultralytics_reads_segment_set(sets):
    from ultralytics.data import YOLODataset
    from ultralytics.data.utils import load_dataset_cache_file

    seg = sets["segment"]
    names = dict(enumerate(ShapesConfig(**TINY).names))
    ds = YOLODataset(
        img_path=str(seg / "images" / "train"),
        data={"names": names, "channels": 3},
        task="segment",
        imgsz=64,
        augment=False,
    )
    assert len(ds.labels) == TINY["train"]
    for lb in ds.labels:
        n = len(_rows(seg / "labels" / "train" / f"{Path(lb['im_file']).stem}.txt"))
        assert len(lb["cls"]) == len(lb["bboxes"]) == len(lb["segments"]) == n
        assert all(x.ndim == 2 and x.shape[0] >= 3 for x in lb["segments"])
    cache = load_dataset_cache_file(seg / "labels" / "train.cache")
    nf, nm, ne, nc, total = cache["results"]
    assert (nf, nm, ne, nc, total) == (TINY["train"], 0, 0, 0, TINY["train"]) and cache["msgs"] == []
    item = ds[0]  # polygons rasterised into the (overlap) training mask: instance ids 1..n
    assert len(item["cls"]) > 0 and 1 <= int(item["masks"].max()) <= len(item["cls"])


def test_label_task(sets, tmp_path):
    seg, det = sets["segment"], sets["detect"]
    seg_files, det_files = label_files_for(seg / "images" / "train"), label_files_for(det / "images" / "val")
    assert seg_files == sorted((seg / "labels" / "train").glob("*.txt")) and len(seg_files) == TINY["train"]
    assert det_files == sorted((det / "labels" / "val").glob("*.txt"))
    assert label_task(seg_files) == "segment"
    assert label_task(det_files) == "detect"
    assert label_task(seg_files + det_files, sample=len(seg_files)) == "segment"  # boxes after the sample: unseen
    assert label_task(seg_files + det_files) == "detect"  # a mixed set trains only as detection

    empty, binary = tmp_path / "empty.txt", tmp_path / "binary.txt"
    empty.write_text("\n")
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe" + bytes(range(256)))
    assert label_task([]) is None
    assert label_task([empty, tmp_path / "missing.txt", binary]) is None
    assert label_task([binary, empty, *seg_files[:1]]) == "segment"
    assert label_task([binary, *det_files[:1]]) == "detect"
    assert label_files_for(tmp_path / "no-such-folder") == []


def test_seg_yaml_is_shapes_yaml_with_polygons():
    plain = yaml.safe_load((ROOT / "data" / "shapes.yaml").read_text())
    seg = yaml.safe_load((ROOT / "data" / "shapes-seg.yaml").read_text())
    assert seg["path"] == "shapes-seg" and seg["names"] == plain["names"]
    spec = dict(seg["generate"])
    assert spec.pop("task") == "segment" and spec == plain["generate"]
    spec.pop("kind")
    assert ShapesConfig(**spec, task="segment").task == "segment"
    assert "--weights yolov8n-seg.yaml" in (ROOT / "data" / "shapes-seg.yaml").read_text()
