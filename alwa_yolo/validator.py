"""Ultralytics' detection, segmentation, pose, OBB and RT-DETR validators plus the metrics detection papers report.

- ``metric="voc07"`` / ``"voc12"``: PASCAL VOC AP@0.5 (11-point / all-point) from the same matched detections
  Ultralytics scores, computed in :meth:`ALWADetectionValidator.get_stats` before Ultralytics clears them.
- ``save_json=True`` on a COCO-format dataset: official COCO AP through pycocotools (Ultralytics' own path needs
  faster-coco-eval, which it tries to pip-install at run time).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ultralytics.models.rtdetr.val import RTDETRValidator
from ultralytics.models.yolo.detect import DetectionValidator
from ultralytics.models.yolo.obb import OBBValidator
from ultralytics.models.yolo.pose import PoseValidator
from ultralytics.models.yolo.segment import SegmentationValidator
from ultralytics.utils import LOGGER

from .losses import rtdetr

METRICS = ("coco", "voc07", "voc12")
"""``--metric`` choices: Ultralytics' COCO-style mAP only, or with VOC2007 11-point / VOC2012 all-point AP@0.5."""


class PaperMetrics:
    """Mixin for Ultralytics' validators: VOC AP@0.5 and pycocotools' box AP beside Ultralytics' metrics.

    Args:
        metric: one of :data:`METRICS`.
        **kwargs: passed to the Ultralytics validator (``args``, ``save_dir``, ...).
    """

    def __init__(self, *args: Any, metric: str = "coco", **kwargs: Any):
        if metric not in METRICS:
            raise ValueError(f"unknown metric '{metric}'; choose one of: {', '.join(METRICS)}")
        super().__init__(*args, **kwargs)
        self.metric = metric
        self.voc: dict[str, Any] | None = None
        self.coco: dict[str, float] | None = None

    def get_stats(self) -> dict[str, Any]:
        """Ultralytics' metrics, plus VOC AP@0.5 when asked for (from the stats before they are cleared)."""
        if self.metric != "coco" and self.metrics.stats["tp"]:
            from .voc_metrics import voc_map

            s = {k: np.concatenate(v, 0) for k, v in self.metrics.stats.items() if v}
            m, per_class = voc_map(
                s["tp"], s["conf"], s["pred_cls"], s["target_cls"], use_07_metric=self.metric == "voc07", nc=self.nc
            )
            self.voc = {"mAP50": float(m), "per_class": {self.names[int(c)]: float(ap) for c, ap in per_class.items()}}
            LOGGER.info(f"{'VOC2007 11-point' if self.metric == 'voc07' else 'VOC2012 all-point'} mAP@0.5: {m:.4f}")
        return super().get_stats()

    pycocotools_box = True
    """Whether saved JSON is scored here with pycocotools' box AP (pose and OBB keep Ultralytics' own scoring)."""

    def coco_evaluate(self, stats: dict[str, Any], pred_json: Any, anno_json: Any, *args: Any, **kwargs: Any):
        """Official COCO AP / AP50 / AP75 / APs / APm / APl with pycocotools, for COCO-format ground truth."""
        if not self.pycocotools_box:
            return super().coco_evaluate(stats, pred_json, anno_json, *args, **kwargs)
        if not (self.args.save_json and len(self.jdict) and (self.is_coco or self.gdict)):
            return stats
        from .coco_eval import coco_eval

        try:
            self.coco = coco_eval(anno_json, pred_json)
        except (FileNotFoundError, ValueError) as e:
            LOGGER.warning(f"pycocotools evaluation skipped: {e}")
            return stats
        LOGGER.info("pycocotools: " + ", ".join(f"{k} {v:.4f}" for k, v in self.coco.items()))
        stats["metrics/mAP50(B)"], stats["metrics/mAP50-95(B)"] = self.coco["AP50"], self.coco["AP"]
        return stats


class ALWADetectionValidator(PaperMetrics, DetectionValidator):
    """``DetectionValidator`` that can add VOC AP@0.5 and evaluate saved JSON with pycocotools."""


class ALWASegmentationValidator(PaperMetrics, SegmentationValidator):
    """``SegmentationValidator`` (box and mask mAP) that can add VOC box AP@0.5 and pycocotools' box AP."""


class ALWAPoseValidator(PaperMetrics, PoseValidator):
    """``PoseValidator`` (box and OKS keypoint mAP) that can add VOC box AP@0.5."""

    pycocotools_box = False


class ALWAOBBValidator(PaperMetrics, OBBValidator):
    """``OBBValidator`` (rotated-box mAP, probIoU matching) that can add VOC AP@0.5 on the same matches."""

    pycocotools_box = False


class ALWARTDETRValidator(PaperMetrics, RTDETRValidator):
    """``RTDETRValidator`` (RT-DETR's query outputs, no NMS) that can add VOC AP@0.5 and pycocotools' box AP."""


VALIDATORS = {
    "detect": ALWADetectionValidator,
    "segment": ALWASegmentationValidator,
    "pose": ALWAPoseValidator,
    "obb": ALWAOBBValidator,
}
"""Ultralytics task name -> the validator val.py uses for it (RT-DETR, a detect model: :func:`validator_for`)."""


def validator_for(task: str, head: str = "") -> type:
    """The validator for a model of ``task`` whose last layer is ``head`` (RT-DETR's ``RTDETRDecoder`` has its
    own, as in ``RTDETR(best).val()``)."""
    return ALWARTDETRValidator if head == rtdetr.HEAD else VALIDATORS[task]
