"""The anchor-free (YOLOv8 / YOLO11) detection criterion with a switchable box term and a weighting strategy.

:class:`ALWADetectionLoss` is Ultralytics' ``v8DetectionLoss`` with three changes, each made through the
attributes that class already reads rather than by re-implementing it:

- its gains (``self.hyp.box/cls/dfl``) are the *base gains* ALWA adapts from: Ultralytics' hyp gains or 1.0;
- its ``bbox_loss`` computes the ``--reg-loss`` term (CIoU is the stock module, untouched);
- its ``loss()`` hands the gain-scaled terms to a :class:`~alwa_yolo.weighting.LossWeighting`.

The loss items it reports (``box_loss``, ``cls_loss``, ``dfl_loss``) are the gain-scaled terms *before* the
adaptive weights, so they stay comparable across strategies; the weights are logged separately.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import torch
from ultralytics.utils.loss import BboxLoss, v8DetectionLoss

from ..options import alwa_options, arg_value
from ..weighting import LossWeighting, build_weighting
from .regression import box_regression_loss, check_reg_loss

TERM_GROUPS = {"box_loss": "reg", "dfl_loss": "reg", "l1_loss": "reg", "cls_loss": "cls", "obj_loss": "cls"}
"""ALWA group of each Ultralytics loss item name: classification C = {cls, obj}, regression R = {box, dfl, l1}."""


def base_gains(args: Any, terms: tuple[str, ...]) -> dict[str, float]:
    """Per-term base gains: the hyp values (``box``, ``cls``, ``dfl``, ``obj``) or 1.0 each, per ``args.gains``."""
    opts = alwa_options(args)
    if opts["gains"] == "unit":
        return dict.fromkeys(terms, 1.0)
    return {t: float(arg_value(args, t)) for t in terms}


def make_weighting(args: Any, loss_names: tuple[str, ...]) -> LossWeighting:
    """Build the ``args.weighting`` strategy for terms named ``loss_names``."""
    opts = alwa_options(args)
    return build_weighting(opts["weighting"], [TERM_GROUPS[n] for n in loss_names], interval=opts["alwa_interval"])


class RegressionBboxLoss(BboxLoss):
    """Ultralytics' box + DFL module with the box term replaced by a :mod:`~alwa_yolo.losses.regression` loss.

    The DFL term and both normalisations (target-score weight, divided by the target-score sum) are the stock
    ones, so only the box term's formula changes.
    """

    def __init__(self, reg_max: int, reg_loss: str, beta: float = 1.0):
        super().__init__(reg_max)
        self.reg_loss, self.beta = check_reg_loss(reg_loss), float(beta)

    def forward(
        self,
        pred_dist: torch.Tensor,
        pred_bboxes: torch.Tensor,
        anchor_points: torch.Tensor,
        target_bboxes: torch.Tensor,
        target_scores: torch.Tensor,
        target_scores_sum: torch.Tensor,
        fg_mask: torch.Tensor,
        imgsz: torch.Tensor,
        stride: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (box term, DFL term), each summed over foreground anchors and normalised like Ultralytics'."""
        args = (pred_dist, pred_bboxes, anchor_points, target_bboxes, target_scores, target_scores_sum, fg_mask)
        loss_ciou, loss_dfl = super().forward(*args, imgsz, stride)
        if self.reg_loss == "ciou":
            return loss_ciou, loss_dfl
        fg = fg_mask.nonzero(as_tuple=True)
        weight = target_scores[fg].sum(-1)
        per_box = box_regression_loss(
            self.reg_loss, pred_bboxes[fg], target_bboxes[fg], anchor_points[fg[1]], beta=self.beta
        )
        return (per_box * weight).sum() / target_scores_sum, loss_dfl


class ALWADetectionLoss(v8DetectionLoss):
    """``v8DetectionLoss`` whose terms are combined by a loss-weighting strategy (ALWA by default).

    Args:
        model: the de-paralleled detection model; its ``args`` carry the hyp gains and the ALWA options.
        tal_topk: task-aligned assigner top-k, as in Ultralytics.
        tal_topk2: second top-k of the assigner, as in Ultralytics.
    """

    def __init__(self, model: torch.nn.Module, tal_topk: int = 10, tal_topk2: int | None = None):
        super().__init__(model, tal_topk=tal_topk, tal_topk2=tal_topk2)
        args = model.args
        opts = alwa_options(args)
        gains = base_gains(args, ("box", "cls", "dfl"))
        hyp = dict(args) if isinstance(args, dict) else vars(args)
        self.hyp = SimpleNamespace(**{**hyp, **gains})  # the stock code multiplies by hyp.box / cls / dfl
        self.bbox_loss = RegressionBboxLoss(self.reg_max, opts["reg_loss"], opts["smoothl1_beta"]).to(self.device)
        self.weighting = make_weighting(args, tuple(self.loss_names))

    def loss(self, preds: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        """Weighted terms times batch size (summed by the trainer) and the gain-scaled, unweighted loss items.

        An iteration counts for ALWA only when gradients are on: validation (run under inference mode) computes
        losses with the current weights but never fills the window.
        """
        batch_size = preds["boxes"].shape[0]
        terms, items = self.get_assigned_targets_and_loss(preds, batch)[1:]
        return self.weighting(terms, training=torch.is_grad_enabled()) * batch_size, items
