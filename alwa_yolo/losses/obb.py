"""Oriented boxes (YOLOv8-obb, YOLO11-obb, YOLO26-obb) under a weighting strategy.

Ultralytics' ``v8OBBLoss`` computes box (probIoU of rotated boxes), cls, dfl (YOLO26's L1 distance when the head
has ``reg_max = 1``) and angle terms and multiplies them by the batch size inside ``loss()``.
:class:`GainedOBBLoss` gives it the run's base gains; its box term stays the stock probIoU, so ``--reg-loss`` does not
apply (the pre-flight refuses anything but ``ciou``, the default, which here means "the head's own box loss"). The
angle term is localisation (:data:`~alwa_yolo.losses.weighted.TERM_GROUPS` says why).
"""

from __future__ import annotations

from typing import Any

import torch
from ultralytics.utils.loss import v8OBBLoss

from .detection import BaseGains
from .weighted import WeightedCriterion, shared_weighting


class GainedOBBLoss(BaseGains, v8OBBLoss):
    """``v8OBBLoss`` on the run's base gains; terms combined the stock way."""

    regression_box = False

    def __init__(self, model: torch.nn.Module, tal_topk: int = 10, tal_topk2: int | None = None):
        super().__init__(model, tal_topk=tal_topk, tal_topk2=tal_topk2)
        self.use_base_gains(model.args)

    def terms(self, preds: dict[str, torch.Tensor], batch: dict[str, Any]) -> tuple[torch.Tensor, dict]:
        """(gain-scaled terms without the batch-size factor, loss items): the stock loss divided by batch size."""
        loss, items = v8OBBLoss.loss(self, preds, batch)
        return loss / preds["boxes"].shape[0], items


class ALWAOBBLoss(WeightedCriterion, GainedOBBLoss):
    """The OBB criterion with its terms combined by a weighting strategy."""

    def __init__(self, model: torch.nn.Module, tal_topk: int = 10, tal_topk2: int | None = None):
        super().__init__(model, tal_topk=tal_topk, tal_topk2=tal_topk2)
        self.setup_weighting(
            self.options, self.gains, self.loss_names, self.device, model.args, shared=shared_weighting(model)
        )

    def loss(self, preds: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        """Weighted terms times batch size, and the stock (gain-scaled, unweighted) loss items."""
        if self.stock_combination:
            return self.stock(v8OBBLoss.loss(self, preds, batch), preds["boxes"].shape[0])
        terms, items = self.terms(preds, batch)
        return self.combine(terms, preds["boxes"].shape[0]), self.report(items)
