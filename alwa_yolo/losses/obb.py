"""Oriented boxes (YOLOv8-obb, YOLO11-obb, YOLO26-obb) under a weighting strategy.

Ultralytics' ``v8OBBLoss`` computes box (probIoU of rotated boxes), cls, dfl (YOLO26's L1 distance when the head
has ``reg_max = 1``) and angle terms and multiplies them by the batch size inside ``loss()``.
:class:`GainedOBBLoss` gives it the run's base gains; its box term stays the stock probIoU, so ``--reg-loss`` does not
apply (the pre-flight refuses anything but ``ciou``, the default, which here means "the head's own box loss"). The
angle term is localisation (:data:`~alwa_yolo.losses.weighted.TERM_GROUPS` says why).
"""

from __future__ import annotations

import torch
from ultralytics.nn.modules.head import OBB26
from ultralytics.utils.loss import v8OBBLoss

from .detection import StockLossTerms, WeightedLoss


class GainedOBBLoss(StockLossTerms, v8OBBLoss):
    """``v8OBBLoss`` on the run's base gains (its own probIoU box term); terms combined the stock way."""

    stock_loss = v8OBBLoss
    regression_box = False


class ALWAOBBLoss(WeightedLoss, GainedOBBLoss):
    """The OBB criterion with its terms combined by a weighting strategy."""

    def untuned_terms(self, model: torch.nn.Module) -> tuple[str, ...]:
        """The angle term on YOLOv8 / YOLO11-obb: Ultralytics added it with YOLO26 (8.4; 8.3 had no angle term and
        no ``angle`` gain), so those heads' gains were tuned, and their released weights trained, without it."""
        return () if isinstance(model.model[-1], OBB26) else ("angle_loss",)
