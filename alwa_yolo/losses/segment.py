"""Instance segmentation (YOLOv8-seg, YOLO11-seg, YOLO26-seg) under a weighting strategy.

Ultralytics' ``v8SegmentationLoss`` computes box, seg (mask), cls, dfl and, for heads with a semantic branch, sem
terms, and multiplies them by the batch size inside ``loss()``. :class:`GainedSegmentationLoss` gives it the run's
base gains and box term (:class:`~alwa_yolo.losses.detection.BaseGains`); :class:`ALWASegmentationLoss` divides the
batch size back out and hands the terms to the strategy. The mask terms are in the localisation group
(:data:`~alwa_yolo.losses.weighted.TERM_GROUPS` says why). ``--reg-loss`` applies to the box term only.
"""

from __future__ import annotations

from typing import Any

import torch
from ultralytics.nn.modules.head import Segment26
from ultralytics.utils.loss import SegmentLoss26, v8SegmentationLoss

from .detection import BaseGains
from .weighted import WeightedCriterion, shared_weighting


class GainedSegmentationLoss(BaseGains, v8SegmentationLoss):
    """``v8SegmentationLoss`` on the run's base gains and box term; terms combined the stock way."""

    def __init__(self, model: torch.nn.Module, tal_topk: int = 10, tal_topk2: int | None = None):
        super().__init__(model, tal_topk=tal_topk, tal_topk2=tal_topk2)
        self.use_base_gains(model.args)

    def terms(self, preds: dict[str, torch.Tensor], batch: dict[str, Any]) -> tuple[torch.Tensor, dict]:
        """(gain-scaled terms without the batch-size factor, loss items): the stock loss divided by batch size."""
        loss, items = v8SegmentationLoss.loss(self, preds, batch)
        return loss / preds["boxes"].shape[0], items


class GainedSegmentLoss26(GainedSegmentationLoss, SegmentLoss26):
    """YOLO26-seg's criterion (mask-aware assignment) on the run's base gains and box term."""


class ALWASegmentationLoss(WeightedCriterion, GainedSegmentationLoss):
    """The segmentation criterion with its terms combined by a weighting strategy."""

    def __init__(self, model: torch.nn.Module, tal_topk: int = 10, tal_topk2: int | None = None):
        super().__init__(model, tal_topk=tal_topk, tal_topk2=tal_topk2)
        self.setup_weighting(
            self.options, self.gains, self.loss_names, self.device, model.args, shared=shared_weighting(model)
        )

    def loss(self, preds: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        """Weighted terms times batch size, and the stock (gain-scaled, unweighted) loss items."""
        if self.stock_combination:
            return self.stock(super().loss(preds, batch), preds["boxes"].shape[0])
        terms, items = self.terms(preds, batch)
        return self.combine(terms, preds["boxes"].shape[0]), self.report(items)


class ALWASegmentLoss26(ALWASegmentationLoss, SegmentLoss26):
    """YOLO26-seg's one-branch criterion with its terms combined by a weighting strategy."""


def segmentation_loss_class(model: torch.nn.Module, weighted: bool) -> type:
    """The criterion class Ultralytics would pick for ``model``'s head, weighted or only gained."""
    if isinstance(model.model[-1], Segment26):
        return ALWASegmentLoss26 if weighted else GainedSegmentLoss26
    return ALWASegmentationLoss if weighted else GainedSegmentationLoss
