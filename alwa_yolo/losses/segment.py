"""Instance segmentation (YOLOv8-seg, YOLO11-seg, YOLO26-seg) under a weighting strategy.

Ultralytics' ``v8SegmentationLoss`` computes box, seg (mask), cls, dfl and, for heads with a semantic branch, sem
terms, and multiplies them by the batch size inside ``loss()``. :class:`GainedSegmentationLoss` gives it the run's
base gains and box term and reads its terms (:class:`~alwa_yolo.losses.detection.StockLossTerms`);
:class:`ALWASegmentationLoss` hands them to the strategy. The mask terms are in the localisation group
(:data:`~alwa_yolo.losses.weighted.TERM_GROUPS` says why). ``--reg-loss`` applies to the box term only.
"""

from __future__ import annotations

import torch
from ultralytics.nn.modules.head import Segment26
from ultralytics.utils.loss import SegmentLoss26, v8SegmentationLoss

from .detection import StockLossTerms, WeightedLoss


class GainedSegmentationLoss(StockLossTerms, v8SegmentationLoss):
    """``v8SegmentationLoss`` on the run's base gains and box term; terms combined the stock way."""

    stock_loss = v8SegmentationLoss


class GainedSegmentLoss26(GainedSegmentationLoss, SegmentLoss26):
    """YOLO26-seg's criterion (mask-aware assignment) on the run's base gains and box term."""


class ALWASegmentationLoss(WeightedLoss, GainedSegmentationLoss):
    """The segmentation criterion with its terms combined by a weighting strategy."""


class ALWASegmentLoss26(ALWASegmentationLoss, SegmentLoss26):
    """YOLO26-seg's one-branch criterion with its terms combined by a weighting strategy."""


def segmentation_loss_class(model: torch.nn.Module, weighted: bool) -> type:
    """The criterion class Ultralytics would pick for ``model``'s head, weighted or only gained."""
    if isinstance(model.model[-1], Segment26):
        return ALWASegmentLoss26 if weighted else GainedSegmentLoss26
    return ALWASegmentationLoss if weighted else GainedSegmentationLoss
