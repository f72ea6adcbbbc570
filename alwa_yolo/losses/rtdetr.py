"""RT-DETR (Ultralytics' transformer detector) under a weighting strategy.

Ultralytics trains RT-DETR with ``RTDETRDetectionLoss``: for the final decoder layer, the auxiliary outputs (the
other decoder layers and the encoder's top queries) and the denoising queries it computes a classification term
(varifocal), an L1 term on the boxes and a GIoU term, 12 terms in all, each multiplied by a gain that
``RTDETRDetectionModel.init_criterion`` never sets: ``DETRLoss``'s hard-coded ``class 1, bbox 5, giou 2``. The model's
loss is their plain sum (no batch-size factor), and it reports the final layer's three terms as ``giou_loss``,
``cls_loss`` and ``l1_loss``.

:class:`ALWARTDETRLoss` makes those gains the run's base gains and hands the strategy three terms, one per kind:
each kind's final, auxiliary and denoising terms summed (they are the same loss on more outputs of the same decoder,
so one weight per kind, as the hard-coded gains are one per kind). The gains are Ultralytics' own hyperparameters,
read the way the YOLO heads read them: ``box`` gains the IoU term (GIoU here, CIoU there), ``dfl`` the third box term
(the L1 term here, as YOLO26's L1 term), ``cls`` the class term. Where they are unset or still at Ultralytics'
defaults for the YOLO heads, RT-DETR's own gains apply (:data:`RTDETR_GAINS`), so ``--weighting fixed`` trains exactly
what stock ``RTDETRTrainer`` trains, bit for bit; those same gains are the tuned reference ``alwa-ref`` trains on.

The Hungarian matcher's cost gains (class 2, bbox 5, giou 2) stay as they are: they decide which query answers which
object, not how the loss is balanced. ``--reg-loss`` does not apply: the matcher costs the L1 and GIoU terms too, and
a box term the matcher does not cost would train queries towards a different notion of "close" than the one that
picked them (the pre-flight refuses it).
"""

from __future__ import annotations

from typing import Any

import torch
from ultralytics.models.utils.loss import RTDETRDetectionLoss

from ..errors import UserError
from ..options import ALWA_DEFAULTS, resolve_options
from .weighted import LossTerms, WeightedCriterion, base_gains, shared_weighting

RTDETR_GAINS = {"box": 2.0, "cls": 1.0, "dfl": 5.0}
"""RT-DETR's gains (``DETRLoss``'s ``giou 2, class 1, bbox 5``) under the hyperparameter each term is gained by."""

HEAD = "RTDETRDecoder"
"""The class name of RT-DETR's head: the model check, the trainer, the validator and the pre-flight know it by this."""

BOX_TERMS = "RT-DETR's L1 + GIoU"
"""How logs and gains.yaml name RT-DETR's box terms (where other heads name ``--reg-loss``)."""

LOSS_NAMES = ("giou_loss", "cls_loss", "l1_loss")
"""The terms, named and ordered as Ultralytics reports RT-DETR's loss items."""

KINDS = {"giou_loss": "loss_giou", "cls_loss": "loss_class", "l1_loss": "loss_bbox"}
"""Each term's key prefix in ``DETRLoss``'s loss dict (``loss_giou``, ``loss_giou_aux``, ``loss_giou_dn``, ...)."""

REG_LOSS_REFUSAL = (
    "RT-DETR's box terms are the L1 and GIoU terms its Hungarian matcher also costs, so --reg-loss does not apply "
    "to it. Drop --reg-loss (reg_loss=); to change the balance of its terms, set their gains: box= (GIoU, RT-DETR's "
    "2), dfl= (L1, 5), cls= (class, 1), or let the weighting strategy adapt them."
)


def is_rtdetr(term_names) -> bool:
    """Whether a criterion's (or strategy's) terms are RT-DETR's (its GIoU term is no other head's)."""
    return "giou_loss" in term_names


def rtdetr_gains(args: Any, options: dict[str, Any]) -> dict[str, float]:
    """Base gains of the three terms: RT-DETR's own, or the user's where set, or 1.0 each under ``gains=unit``."""
    return base_gains(options, args, tuple(RTDETR_GAINS), head_defaults=RTDETR_GAINS)


def check_rtdetr_options(options: dict[str, Any]) -> None:
    """Refuse what RT-DETR's criterion cannot honour.

    Raises:
        UserError: ``reg_loss`` set to anything but its default (see :data:`REG_LOSS_REFUSAL`).
    """
    if options["reg_loss"] != ALWA_DEFAULTS["reg_loss"]:
        raise UserError(f"--reg-loss {options['reg_loss']} was given for an RT-DETR model. {REG_LOSS_REFUSAL}")


class ALWARTDETRLoss(WeightedCriterion, RTDETRDetectionLoss):
    """``RTDETRDetectionLoss`` on the run's base gains, its terms combined by the run's strategy.

    Under ``fixed`` the criterion returns the stock loss dict untouched (the strategy still observes the three
    summed terms, for ``alwa.csv``); under any other strategy it returns the three weighted terms under the final
    layer's keys, whose sum is the loss, and keeps the loss items (:attr:`items`) for the model to report.

    Args:
        model: the RT-DETR model; its ``args`` carry the gains and the alwa-yolo options.
    """

    def __init__(self, model: torch.nn.Module):
        args = model.args
        options = resolve_options(args)
        check_rtdetr_options(options)
        gains = rtdetr_gains(args, options)
        loss_gain = {"class": gains["cls"], "bbox": gains["dfl"], "giou": gains["box"]}
        RTDETRDetectionLoss.__init__(self, nc=model.nc, loss_gain=loss_gain, use_vfl=True)
        self.loss_names = LOSS_NAMES
        self.items: dict[str, torch.Tensor] | None = None
        """The last weighted call's loss items: the final layer's terms on the reported gains (RT-DETR's, or the
        hyp's). Under ``fixed`` the model reports the stock items itself."""
        device = next(model.parameters()).device
        self.setup_weighting(
            options,
            gains,
            LOSS_NAMES,
            device,
            args,
            RTDETR_GAINS,
            shared_weighting(model),
            reference=RTDETR_GAINS,
            groups_balanced=False,
        )

    def forward(self, preds, batch: dict[str, Any], **dn: Any) -> dict[str, torch.Tensor]:
        """The stock loss dict under ``fixed``; else the weighted terms under ``loss_giou`` / ``loss_class`` /
        ``loss_bbox`` (the keys the model reads its items from, replaced by :attr:`items` afterwards)."""
        return self.weighted_loss(preds, batch, **dn)

    def stock_losses(self, preds, batch: dict[str, Any], **dn: Any) -> tuple[dict[str, torch.Tensor], LossTerms]:
        """Stock ``RTDETRDetectionLoss``'s 12 losses, and the three terms they fold into (each kind's final,
        auxiliary and denoising losses summed) with the final layer's as loss items."""
        losses = super().forward(preds, batch, **dn)
        terms = torch.stack([sum(v for k, v in losses.items() if k.startswith(KINDS[n])) for n in LOSS_NAMES])
        items = {n: losses[KINDS[n]].detach() for n in LOSS_NAMES}
        return losses, LossTerms(terms, items, 1)  # the model sums the dict without a batch-size factor

    def loss_terms(self, preds, batch: dict[str, Any], **dn: Any) -> LossTerms:
        """The three folded terms (:meth:`stock_losses`)."""
        return self.stock_losses(preds, batch, **dn)[1]

    def stock_result(self, preds, batch: dict[str, Any], **dn: Any) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The stock loss dict untouched, and the folded terms."""
        losses, terms = self.stock_losses(preds, batch, **dn)
        return losses, terms.values

    def assemble(self, weighted: torch.Tensor, items: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The weighted terms under the final layer's keys, whose sum (the model's loss) is the weighted loss."""
        self.items = items
        return {KINDS[n]: w for n, w in zip(LOSS_NAMES, weighted)}
