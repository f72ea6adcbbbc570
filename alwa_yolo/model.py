"""The detection model whose criterion is ALWA-weighted, and how it is written to checkpoints."""

from __future__ import annotations

import copy

from ultralytics.nn.tasks import DetectionModel

from .losses.detection import ALWADetectionLoss


def is_end2end(model: DetectionModel) -> bool:
    """True for end-to-end heads (YOLO26, YOLOv10 style), which Ultralytics trains with ``E2ELoss``."""
    return getattr(model.model[-1], "one2one_cv2", None) is not None


class EndToEndNotSupported(ValueError):
    """Raised for YOLO26-style end-to-end models, whose two-branch loss ALWA does not weight."""


class ALWADetectionModel(DetectionModel):
    """An Ultralytics ``DetectionModel`` whose loss terms are combined by a weighting strategy.

    It adds no layers and no parameters, only :meth:`init_criterion`, so a checkpoint can store it as a plain
    ``DetectionModel`` (see :meth:`as_stock`) that stock Ultralytics loads without importing alwa_yolo.
    """

    def init_criterion(self) -> ALWADetectionLoss:
        """Build the ALWA-weighted criterion from ``self.args`` (Ultralytics calls this on the first loss)."""
        if is_end2end(self):
            raise EndToEndNotSupported(
                "end-to-end models (YOLO26, YOLOv10) are not supported: their loss adds a one-to-many and a "
                "one-to-one branch, each with its own box/cls/dfl terms, and ALWA's two-group rule is not defined "
                "for that. Train a YOLOv8 or YOLO11 model instead, e.g. --weights yolo11n.yaml or yolov8n.pt."
            )
        return ALWADetectionLoss(self)

    def as_stock(self, **attributes) -> DetectionModel:
        """A shallow copy of this model as a plain ``DetectionModel``, sharing its tensors.

        Args:
            **attributes: extra plain-data attributes to attach to the copy (the trainer attaches ``alwa_state``).
        """
        stock = copy.copy(self)
        stock.__class__ = DetectionModel
        for name, value in attributes.items():
            setattr(stock, name, value)
        return stock
