"""Official COCO bbox metrics through pycocotools.

Ultralytics' built-in mAP50-95 is close to, but not the same as, the COCO evaluator (different matching of crowd
and area ranges, 101-point sampling details); published COCO numbers come from pycocotools, so this wrapper is the
reference to report against.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

STAT_NAMES: tuple[str, ...] = ("AP", "AP50", "AP75", "APs", "APm", "APl")
"""The first six ``COCOeval.stats`` entries, in pycocotools' order."""


def _load_detections(det_json: str | os.PathLike | list[dict]) -> list[dict]:
    """Detections as a list of ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}`` records."""
    if isinstance(det_json, list):
        return det_json
    dets = json.loads(Path(det_json).read_text(encoding="utf-8"))
    if not isinstance(dets, list):
        raise ValueError(f"{det_json}: a COCO results file is a JSON list of detections, got {type(dets).__name__}.")
    return dets


def _load_ground_truth(gt_json: str | os.PathLike | dict):
    """A pycocotools ``COCO`` index from a file, or from an in-memory dataset dict (Ultralytics' ``gdict``)."""
    from pycocotools.coco import COCO

    if not isinstance(gt_json, dict):
        return COCO(str(gt_json))
    gt = COCO()
    gt.dataset = {"info": {}, **gt_json}
    gt.createIndex()
    return gt


def coco_eval(gt_json: str | os.PathLike | dict, det_json: str | os.PathLike | list[dict]) -> dict[str, float]:
    """Run ``COCOeval`` (bbox) and return the headline numbers.

    pycocotools' progress prints are swallowed so that callers control the output.

    Args:
        gt_json: COCO ground-truth file (``instances_val2017.json`` format), or the same content as a dict.
        det_json: COCO results file, or the list of detection dicts itself.

    Returns:
        ``{"AP", "AP50", "AP75", "APs", "APm", "APl"}``; as in pycocotools, -1.0 means "no ground truth in that
        area range". With no detections at all every value is 0.0 (pycocotools cannot load an empty result list).
    """
    from pycocotools.cocoeval import COCOeval

    dets = _load_detections(det_json)
    if not dets:
        return dict.fromkeys(STAT_NAMES, 0.0)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = _load_ground_truth(gt_json)
        evaluator = COCOeval(gt, gt.loadRes(dets), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {name: float(v) for name, v in zip(STAT_NAMES, evaluator.stats[:6])}
