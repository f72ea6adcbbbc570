"""The anchor-free (YOLOv8 / YOLO11) detection criterion with a switchable box term and a weighting strategy.

:class:`GainedDetectionLoss` is Ultralytics' ``v8DetectionLoss`` with two changes, each made through the
attributes that class already reads rather than by re-implementing it:

- its gains (``self.hyp.box/cls/dfl``) are the *base gains* a strategy adapts from: Ultralytics' hyp gains or 1.0;
- its ``bbox_loss`` computes the ``--reg-loss`` term (CIoU is the stock module, untouched).

:class:`ALWADetectionLoss` adds the weighting (:class:`~alwa_yolo.losses.weighted.WeightedCriterion`) in ``loss()``.
The end-to-end criterion uses :class:`GainedDetectionLoss` for each of its two branches, and the segmentation
criteria share the two changes through :class:`BaseGains`.

Every criterion here hands its terms over as :class:`~alwa_yolo.losses.weighted.LossTerms` (``loss_terms``): the
detection terms from Ultralytics' ``get_assigned_targets_and_loss``, the segmentation / pose / OBB terms from the
stock ``loss()`` divided by the batch size (:class:`StockLossTerms`), which under ``fixed`` is also the stock
result (``stock_result``).

The loss items it reports (``box_loss``, ``cls_loss``, ``dfl_loss``) are the terms on Ultralytics' gains *before*
the adaptive weights, exactly what stock Ultralytics reports (see ``WeightedCriterion.report``); the weights are logged
separately.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import torch
from ultralytics.utils.loss import BboxLoss, v8DetectionLoss

from ..options import resolve_options
from .regression import box_regression_loss, check_reg_loss
from .weighted import TERM_GAINS, LossTerms, WeightedCriterion, base_gains, shared_weighting


class RegressionBboxLoss(BboxLoss):
    """Ultralytics' box + DFL module with the box term replaced by a :mod:`~alwa_yolo.losses.regression` loss.

    The DFL term and both normalisations (target-score weight, divided by the target-score sum) are the stock
    ones, so only the box term's formula changes.
    """

    def __init__(self, reg_max: int, reg_loss: str, beta: float = 1.0):
        super().__init__(reg_max)
        self.reg_loss, self.beta = check_reg_loss(reg_loss), float(beta)
        self.last_native: torch.Tensor | None = None
        """The native (CIoU) box term of the last call, when ``reg_loss`` replaces it (``alwa-ref`` reads it)."""

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
        self.last_native = loss_ciou.detach()
        fg = fg_mask.nonzero(as_tuple=True)
        weight = target_scores[fg].sum(-1)
        per_box = box_regression_loss(
            self.reg_loss, pred_bboxes[fg], target_bboxes[fg], anchor_points[fg[1]], beta=self.beta
        )
        return (per_box * weight).sum() / target_scores_sum, loss_dfl


class BaseGains:
    """Mixin for ``v8DetectionLoss`` and its subclasses: the run's base gains and ``--reg-loss`` box term.

    Both go through attributes the stock code already reads (``self.hyp``, ``self.bbox_loss``), so every stock
    criterion built on ``v8DetectionLoss`` (detection, segmentation, each end-to-end branch) computes its terms
    unchanged otherwise.
    """

    regression_box = True
    """Whether ``--reg-loss`` replaces the box term (False for OBB, whose box term is probIoU on rotated boxes)."""

    def use_base_gains(self, args: Any, options: dict[str, Any] | None = None) -> None:
        """Resolve the options (once) and gains, and install them with the box term."""
        self.options = options or resolve_options(args)
        self.gains = base_gains(self.options, args, sorted({TERM_GAINS[n] for n in self.loss_names}))
        hyp = dict(args) if isinstance(args, dict) else vars(args)
        self.hyp = SimpleNamespace(**{**hyp, **self.gains})  # the stock code multiplies by hyp.box / cls / dfl
        opts = self.options
        if self.regression_box:
            self.bbox_loss = RegressionBboxLoss(self.reg_max, opts["reg_loss"], opts["smoothl1_beta"]).to(self.device)
        elif opts["reg_loss"] != "ciou":
            raise ValueError(f"--reg-loss {opts['reg_loss']} does not apply to {type(self).__name__}'s box term")

    def loss_terms(self, preds: dict[str, torch.Tensor], batch: dict[str, Any]) -> LossTerms:
        """The gain-scaled terms and loss items of Ultralytics' ``get_assigned_targets_and_loss``."""
        return LossTerms(*self.get_assigned_targets_and_loss(preds, batch)[1:], preds["boxes"].shape[0])

    def stock_result(self, preds: dict[str, torch.Tensor], batch: dict[str, Any]) -> None:
        """None: the stock ``loss()`` is :meth:`loss_terms` times the batch size, as ``combine`` under ``fixed``."""
        return None

    last_terms: torch.Tensor | None = None
    """The gain-scaled terms (no batch-size factor, detached) of the last stock ``loss()`` call: what an end-to-end
    head's ``fixed`` lets its strategy observe, while stock ``E2ELoss`` computes the loss."""

    def loss(self, preds: dict[str, torch.Tensor], batch: dict[str, Any]) -> tuple[torch.Tensor, dict]:
        """The stock ``loss()``, its terms kept as :attr:`last_terms`."""
        result = super().loss(preds, batch)
        self.last_terms = result[0].detach() / preds["boxes"].shape[0]
        return result


class StockLossTerms(BaseGains):
    """Base gains, and terms read from a stock criterion whose ``loss()`` multiplies them by the batch size itself
    (segmentation, pose, OBB): the terms are that result divided by the batch size.

    Attributes:
        stock_loss: the Ultralytics criterion class whose ``loss()`` computes the terms.
    """

    stock_loss: type

    def __init__(self, model: torch.nn.Module, tal_topk: int = 10, tal_topk2: int | None = None):
        super().__init__(model, tal_topk=tal_topk, tal_topk2=tal_topk2)
        self.use_base_gains(model.args)

    def loss_terms(self, preds: dict[str, torch.Tensor], batch: dict[str, Any]) -> LossTerms:
        """The stock loss divided by the batch size, and its loss items."""
        loss, items = self.stock_loss.loss(self, preds, batch)
        bs = preds["boxes"].shape[0]
        return LossTerms(loss / bs, items, bs)

    def stock_result(self, preds: dict[str, torch.Tensor], batch: dict[str, Any]) -> tuple[tuple, torch.Tensor]:
        """The stock result untouched (dividing the terms out and back is not exact in floating point), and its
        terms."""
        result = self.stock_loss.loss(self, preds, batch)
        return result, result[0] / preds["boxes"].shape[0]


class WeightedLoss(WeightedCriterion):
    """A gained criterion (:class:`BaseGains`) whose ``loss()`` is the weighted path every head shares."""

    def __init__(self, model: torch.nn.Module, tal_topk: int = 10, tal_topk2: int | None = None):
        super().__init__(model, tal_topk=tal_topk, tal_topk2=tal_topk2)
        self.setup_weighting(
            self.options,
            self.gains,
            self.loss_names,
            self.device,
            model.args,
            shared=shared_weighting(model),
            untuned=self.untuned_terms(model),
        )

    def untuned_terms(self, model: torch.nn.Module) -> tuple[str, ...]:
        """The terms this head's gains were tuned without (:attr:`~alwa_yolo.losses.weighted.TermSpec.untuned`):
        none, but where a head says otherwise."""
        return ()

    def loss(self, preds: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        """Weighted terms times batch size (summed by the trainer) and the unweighted loss items."""
        return self.weighted_loss(preds, batch)


class GainedDetectionLoss(BaseGains, v8DetectionLoss):
    """``v8DetectionLoss`` on the run's base gains and ``--reg-loss`` box term; terms combined the stock way.

    Args:
        model: the de-paralleled detection model; its ``args`` carry the hyp gains and the alwa-yolo options.
        tal_topk: task-aligned assigner top-k, as in Ultralytics.
        tal_topk2: second top-k of the assigner, as in Ultralytics.
    """

    def __init__(self, model: torch.nn.Module, tal_topk: int = 10, tal_topk2: int | None = None):
        super().__init__(model, tal_topk=tal_topk, tal_topk2=tal_topk2)
        self.use_base_gains(model.args)


class ALWADetectionLoss(WeightedLoss, GainedDetectionLoss):
    """``v8DetectionLoss`` whose terms are combined by a loss-weighting strategy (ALWA by default)."""
