"""Pose estimation (YOLOv8-pose, YOLO11-pose, YOLO26-pose) under a weighting strategy.

Ultralytics' ``v8PoseLoss`` computes box, pose (keypoint location, OKS-scaled distance), kobj (keypoint visibility,
BCE), cls and dfl terms; YOLO26-pose's ``PoseLoss26`` adds rle (residual log-likelihood of the keypoint location,
when the head has its flow model). Both multiply by the batch size inside ``loss()``.
:class:`GainedPoseLoss` / :class:`GainedPoseLoss26` give them the run's base gains and box term
(:class:`~alwa_yolo.losses.detection.StockLossTerms`; ``--reg-loss`` applies to the box term); the weighted classes
hand the terms, the stock loss divided by the batch size, to the strategy. pose, kobj and rle are localisation
(:data:`~alwa_yolo.losses.weighted.TERM_GROUPS` says why, with the measured statistics).
"""

from __future__ import annotations

import torch
from ultralytics.nn.modules.head import Pose26
from ultralytics.utils.loss import PoseLoss26, v8PoseLoss

from .detection import StockLossTerms, WeightedLoss


class GainedPoseLoss(StockLossTerms, v8PoseLoss):
    """``v8PoseLoss`` on the run's base gains and box term; terms combined the stock way."""

    stock_loss = v8PoseLoss


class GainedPoseLoss26(GainedPoseLoss, PoseLoss26):
    """YOLO26-pose's criterion (keypoint-aware assignment, rle term) on the run's base gains and box term."""

    stock_loss = PoseLoss26


class ALWAPoseLoss(WeightedLoss, GainedPoseLoss):
    """The pose criterion with its terms combined by a weighting strategy."""


class ALWAPoseLoss26(ALWAPoseLoss, PoseLoss26):
    """YOLO26-pose's one-branch criterion with its terms combined by a weighting strategy."""

    stock_loss = PoseLoss26


def pose_loss_class(model: torch.nn.Module, weighted: bool) -> type:
    """The criterion class Ultralytics would pick for ``model``'s head, weighted or only gained."""
    if isinstance(model.model[-1], Pose26):
        return ALWAPoseLoss26 if weighted else GainedPoseLoss26
    return ALWAPoseLoss if weighted else GainedPoseLoss
