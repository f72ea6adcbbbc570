"""Pose estimation (YOLOv8-pose, YOLO11-pose, YOLO26-pose) under a weighting strategy.

Ultralytics' ``v8PoseLoss`` computes box, pose (keypoint location, OKS-scaled distance), kobj (keypoint visibility,
BCE), cls and dfl terms; YOLO26-pose's ``PoseLoss26`` adds rle (residual log-likelihood of the keypoint location,
when the head has its flow model). Both multiply by the batch size inside ``loss()``.
:class:`GainedPoseLoss` / :class:`GainedPoseLoss26` give them the run's base gains and box term
(:class:`~alwa_yolo.losses.detection.BaseGains`; ``--reg-loss`` applies to the box term); the weighted classes divide
the batch size back out and hand the terms to the strategy. pose and rle are localisation, kobj classification
(:data:`~alwa_yolo.losses.weighted.TERM_GROUPS` says why).
"""

from __future__ import annotations

from typing import Any

import torch
from ultralytics.nn.modules.head import Pose26
from ultralytics.utils.loss import PoseLoss26, v8PoseLoss

from .detection import BaseGains
from .weighted import WeightedCriterion, shared_weighting


class GainedPoseLoss(BaseGains, v8PoseLoss):
    """``v8PoseLoss`` on the run's base gains and box term; terms combined the stock way."""

    stock_loss = v8PoseLoss

    def __init__(self, model: torch.nn.Module, tal_topk: int = 10, tal_topk2: int | None = None):
        super().__init__(model, tal_topk=tal_topk, tal_topk2=tal_topk2)
        self.use_base_gains(model.args)

    def terms(self, preds: dict[str, torch.Tensor], batch: dict[str, Any]) -> tuple[torch.Tensor, dict]:
        """(gain-scaled terms without the batch-size factor, loss items): the stock loss divided by batch size."""
        loss, items = self.stock_loss.loss(self, preds, batch)
        return loss / preds["boxes"].shape[0], items


class GainedPoseLoss26(GainedPoseLoss, PoseLoss26):
    """YOLO26-pose's criterion (keypoint-aware assignment, rle term) on the run's base gains and box term."""

    stock_loss = PoseLoss26


class ALWAPoseLoss(WeightedCriterion, GainedPoseLoss):
    """The pose criterion with its terms combined by a weighting strategy."""

    def __init__(self, model: torch.nn.Module, tal_topk: int = 10, tal_topk2: int | None = None):
        super().__init__(model, tal_topk=tal_topk, tal_topk2=tal_topk2)
        self.setup_weighting(
            self.options, self.gains, self.loss_names, self.device, model.args, shared=shared_weighting(model)
        )

    def loss(self, preds: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        """Weighted terms times batch size, and the stock (gain-scaled, unweighted) loss items."""
        if self.stock_combination:
            return self.stock(self.stock_loss.loss(self, preds, batch), preds["boxes"].shape[0])
        terms, items = self.terms(preds, batch)
        return self.combine(terms, preds["boxes"].shape[0]), self.report(items)


class ALWAPoseLoss26(ALWAPoseLoss, PoseLoss26):
    """YOLO26-pose's one-branch criterion with its terms combined by a weighting strategy."""

    stock_loss = PoseLoss26


def pose_loss_class(model: torch.nn.Module, weighted: bool) -> type:
    """The criterion class Ultralytics would pick for ``model``'s head, weighted or only gained."""
    if isinstance(model.model[-1], Pose26):
        return ALWAPoseLoss26 if weighted else GainedPoseLoss26
    return ALWAPoseLoss if weighted else GainedPoseLoss
