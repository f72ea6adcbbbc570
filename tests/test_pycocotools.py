"""pycocotools COCOeval (bbox) through alwa_yolo.coco_eval on a tiny ground-truth / detection pair."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alwa_yolo.coco_eval import coco_eval

# One small (< 32^2 px), one medium and one large box, so every area range has ground truth.
BOXES = [(1, 1, [10, 10, 20, 20]), (1, 2, [100, 100, 60, 60]), (2, 1, [0, 0, 300, 200])]  # image, category, xywh


@pytest.fixture
def gt_json(tmp_path: Path) -> Path:
    gt = {
        "images": [
            {"id": 1, "file_name": "1.jpg", "width": 640, "height": 480},
            {"id": 2, "file_name": "2.jpg", "width": 640, "height": 480},
        ],
        "annotations": [
            {"id": i + 1, "image_id": img, "category_id": cat, "bbox": box, "area": box[2] * box[3], "iscrowd": 0}
            for i, (img, cat, box) in enumerate(BOXES)
        ],
        "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
    }
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    return path


def test_perfect_detections(gt_json: Path, tmp_path: Path) -> None:
    det = tmp_path / "det.json"
    det.write_text(
        json.dumps([{"image_id": img, "category_id": cat, "bbox": box, "score": 0.9} for img, cat, box in BOXES])
    )
    stats = coco_eval(gt_json, det)
    assert set(stats) == {"AP", "AP50", "AP75", "APs", "APm", "APl"}
    assert stats == pytest.approx(dict.fromkeys(stats, 1.0))


def test_half_recall(gt_json: Path) -> None:
    """Category 1's large box (image 2) is missed; the small box of category 1 and the medium one of 2 are found.

    COCO samples precision at 101 recall points: category 1 has precision 1 up to recall 0.5 (51 points) and
    none beyond, so its AP is 51/101 at every IoU; category 2 scores 1. AP = (51/101 + 1) / 2.
    """
    dets = [
        {"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.9},
        {"image_id": 1, "category_id": 2, "bbox": [100, 100, 60, 60], "score": 0.8},
    ]
    stats = coco_eval(gt_json, dets)
    assert stats["AP"] == pytest.approx((51 / 101 + 1) / 2)
    assert stats["AP50"] == stats["AP75"] == pytest.approx((51 / 101 + 1) / 2)
    assert (stats["APs"], stats["APm"], stats["APl"]) == pytest.approx((1.0, 1.0, 0.0))  # only the large one missed


def test_no_detections(gt_json: Path) -> None:
    assert coco_eval(gt_json, []) == dict.fromkeys(("AP", "AP50", "AP75", "APs", "APm", "APl"), 0.0)
