"""The models whose criterion is weighted, what a model file is, and how models are written to checkpoints.

:class:`ALWADetectionModel`, :class:`ALWASegmentationModel`, :class:`ALWAPoseModel` and :class:`ALWAOBBModel` are
Ultralytics' ``DetectionModel`` / ``SegmentationModel`` / ``PoseModel`` / ``OBBModel`` with one override,
``init_criterion`` (and :class:`ALWARTDETRModel`, ``RTDETRDetectionModel``'s, a second: ``loss`` reports the loss
items the criterion kept); they add no layers and no parameters, so a checkpoint
stores them as the plain Ultralytics class (:meth:`~ALWAModelMixin.for_checkpoint`) that stock Ultralytics loads
without importing alwa_yolo. End-to-end heads (YOLO26, YOLOv10) get the end-to-end criterion, others the one-branch
criterion, exactly as Ultralytics chooses.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from ultralytics.nn.tasks import DetectionModel, OBBModel, PoseModel, RTDETRDetectionModel, SegmentationModel

from .losses.detection import ALWADetectionLoss
from .losses.end2end import ALWAE2ELoss
from .losses.obb import ALWAOBBLoss, GainedOBBLoss
from .losses.pose import pose_loss_class
from .losses.rtdetr import ALWARTDETRLoss
from .losses.segment import ALWASegmentationLoss, segmentation_loss_class


def is_end2end(model: torch.nn.Module) -> bool:
    """True for end-to-end heads (YOLO26, YOLOv10 style), which Ultralytics trains with ``E2ELoss``."""
    return getattr(model.model[-1], "one2one_cv2", None) is not None


class ALWAModelMixin:
    """What the weighted models share: the run's strategy they hand to every criterion, and the stock class they
    are saved as.

    Attributes:
        loss_weighting: the trainer's strategy (set in ``set_model_attributes``); every criterion this model builds
            takes it (:func:`~alwa_yolo.losses.weighted.shared_weighting`). Never saved with the model: the
            checkpoint holds its state as ``alwa_state`` instead.
    """

    stock_class: type[DetectionModel] = DetectionModel
    loss_weighting = None

    def for_checkpoint(self) -> DetectionModel:
        """A shallow copy of this model as its stock Ultralytics class, sharing its tensors, for checkpoints."""
        stock = self.without_strategy()
        stock.__class__ = self.stock_class
        return stock

    def without_strategy(self) -> DetectionModel:
        """A shallow copy sharing every tensor, without the run's strategy (which stock Ultralytics cannot load)."""
        saved = copy.copy(self)
        saved.__dict__.pop("loss_weighting", None)
        return saved


class ALWADetectionModel(ALWAModelMixin, DetectionModel):
    """An Ultralytics ``DetectionModel`` whose loss terms are combined by a weighting strategy."""

    def init_criterion(self) -> ALWADetectionLoss | ALWAE2ELoss:
        """Build the weighted criterion from ``self.args`` (Ultralytics calls this on the first loss)."""
        return ALWAE2ELoss(self) if is_end2end(self) else ALWADetectionLoss(self)


class ALWASegmentationModel(ALWAModelMixin, SegmentationModel):
    """An Ultralytics ``SegmentationModel`` whose loss terms (box, seg, cls, dfl) are combined by a strategy."""

    stock_class = SegmentationModel

    def init_criterion(self) -> ALWASegmentationLoss | ALWAE2ELoss:
        """The weighted segmentation criterion (YOLO26-seg's mask-aware assigner where the head is ``Segment26``)."""
        if is_end2end(self):
            return ALWAE2ELoss(self, segmentation_loss_class(self, weighted=False))
        return segmentation_loss_class(self, weighted=True)(self)


class ALWAPoseModel(ALWAModelMixin, PoseModel):
    """An Ultralytics ``PoseModel`` whose loss terms (box, pose, kobj, cls, dfl[, rle]) are combined by a strategy."""

    stock_class = PoseModel

    def init_criterion(self):
        """The weighted pose criterion (YOLO26-pose's where the head is ``Pose26``), end-to-end where the head is."""
        if is_end2end(self):
            return ALWAE2ELoss(self, pose_loss_class(self, weighted=False))
        return pose_loss_class(self, weighted=True)(self)


class ALWAOBBModel(ALWAModelMixin, OBBModel):
    """An Ultralytics ``OBBModel`` whose loss terms (box, cls, dfl, angle) are combined by a strategy."""

    stock_class = OBBModel

    def init_criterion(self) -> ALWAOBBLoss | ALWAE2ELoss:
        """The weighted OBB criterion, end-to-end for YOLO26-obb."""
        return ALWAE2ELoss(self, GainedOBBLoss) if is_end2end(self) else ALWAOBBLoss(self)


class ALWARTDETRModel(ALWAModelMixin, RTDETRDetectionModel):
    """An Ultralytics ``RTDETRDetectionModel`` whose loss terms (class, L1, GIoU) are combined by a strategy."""

    stock_class = RTDETRDetectionModel

    def init_criterion(self) -> ALWARTDETRLoss:
        """RT-DETR's criterion on the run's gains and strategy."""
        return ALWARTDETRLoss(self)

    def loss(self, batch: dict, preds: Any = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Ultralytics' loss (the sum of what the criterion returns), with the criterion's loss items: a weighted
        criterion hands back weighted terms, which are not what Ultralytics reports."""
        loss, items = super().loss(batch, preds)
        return loss, (items if self.criterion.stock_combination else self.criterion.items)
