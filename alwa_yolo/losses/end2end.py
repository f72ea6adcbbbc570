"""End-to-end heads (YOLO26, YOLOv10) under a weighting strategy.

Ultralytics trains them with ``E2ELoss``: a one-to-many branch (top-10 assignment, dense supervision) and a
one-to-one branch (NMS-free predictions) computed by two detection (or segmentation) criteria, mixed as
``o2m * L_o2m + o2o * L_o2o`` with ``o2m`` decaying from 0.8 to 0.1 over training (``update()``, advanced once per
epoch by the trainer, untouched here).

:class:`ALWAE2ELoss` gives both branches the run's base gains and box term and hands the strategy one vector: both
branches' terms, each *after* the o2m / o2o mix, so a rule compares the statistics of what the optimiser actually
sees. The classification group is both branches' class terms, the localisation group both branches' box, DFL (or
YOLO26's L1) and mask terms. The loss items are the one-to-one branch's, as Ultralytics reports them. Under ``fixed``
stock ``E2ELoss`` runs as it is (bit-identical to Ultralytics) and the strategy then observes the same mixed
terms, as on every other head, so ``alwa.png`` shows the run's losses.
"""

from __future__ import annotations

import torch
from ultralytics.utils.loss import E2ELoss

from .detection import GainedDetectionLoss
from .weighted import LossTerms, WeightedCriterion, shared_weighting


class ALWAE2ELoss(WeightedCriterion, E2ELoss):
    """``E2ELoss`` whose two branches' terms are combined by one weighting strategy.

    Args:
        model: the de-paralleled end-to-end model.
        loss_fn: the per-branch criterion class (:class:`~alwa_yolo.losses.detection.GainedDetectionLoss`, or a
            gained segmentation criterion for YOLO26-seg).
    """

    def __init__(self, model: torch.nn.Module, loss_fn: type = GainedDetectionLoss):
        E2ELoss.__init__(self, model, loss_fn)
        branch = self.one2one
        self.loss_names = branch.loss_names
        names = 2 * tuple(branch.loss_names)  # one-to-many, then one-to-one: one name (and weight) per term kind
        self.setup_weighting(
            branch.options, branch.gains, names, branch.device, model.args, shared=shared_weighting(model)
        )

    @property
    def box_replaced(self) -> bool:
        """Whether ``--reg-loss`` replaced the native box term (both branches share the option)."""
        return getattr(self.one2one.bbox_loss, "reg_loss", "ciou") != "ciou"

    def native_boxes(self) -> list[torch.Tensor] | None:
        """Each branch's native box term, mixed as its terms are (one-to-many first)."""
        many, one = (getattr(b.bbox_loss, "last_native", None) for b in (self.one2many, self.one2one))
        if many is None or one is None:
            return None
        return [self.o2m * self.one2many.gains["box"] * many, self.o2o * self.one2one.gains["box"] * one]

    def __call__(self, preds, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Both branches' mixed terms, weighted, times batch size, summed per term; the one-to-one loss items."""
        return self.weighted_loss(preds, batch)

    def loss_terms(self, preds, batch: dict[str, torch.Tensor]) -> LossTerms:
        """Both branches' terms (each branch's ``loss_terms``), each times its o2m / o2o mix, one-to-many first; the
        one-to-one branch's loss items, as ``E2ELoss.__call__`` reports them (a drift test compares the two)."""
        preds = self.one2many.parse_output(preds)
        many = self.one2many.loss_terms(preds["one2many"], batch)
        one = self.one2one.loss_terms(preds["one2one"], batch)
        return LossTerms(torch.cat((many.values * self.o2m, one.values * self.o2o)), one.items, one.batch_size)

    def stock_result(self, preds, batch: dict[str, torch.Tensor]) -> tuple[tuple, torch.Tensor]:
        """Stock ``E2ELoss``, bit-identical, and the mixed terms its branches computed."""
        result = E2ELoss.__call__(self, preds, batch)
        many, one = self.one2many.last_terms, self.one2one.last_terms
        return result, torch.cat((many * self.o2m, one * self.o2o))

    def assemble(self, weighted: torch.Tensor, items: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        """The weighted terms of both branches summed per term kind, as ``E2ELoss`` sums the branches."""
        n = len(self.loss_names)
        return weighted[:n] + weighted[n:], items
