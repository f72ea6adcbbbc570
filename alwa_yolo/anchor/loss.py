"""The anchor-based (YOLOv5) detection criterion, its terms combined by a loss-weighting strategy.

YOLOv5's ``ComputeLoss`` semantics, re-implemented for :class:`~alwa_yolo.anchor.head.AnchorDetect`:

- **assignment** (:func:`build_targets`): a target goes to every anchor whose width and height ratios to it are all
  within ``anchor_t`` (4.0), in its own grid cell and in the (up to two) neighbouring cells its centre is nearest
  to, on every level. There is no IoU matching and no top-k: many positives per target, cheap and stable.
- **box** term: ``box_regression_loss(--reg-loss, ...)`` (CIoU by default, YOLOv5's choice) on the decoded boxes in
  grid-cell units, averaged over the positives of each level, summed over levels.
- **objectness** term: BCE over *every* anchor of every cell, with target 0 for background and the detached,
  non-negative IoU of the prediction for positives (YOLOv5's ``gr = 1``), levels weighted ``[4.0, 1.0, 0.4]``.
- **class** term: BCE over the positives' class logits (skipped with one class, as YOLOv5 does).

Gains (``gains='hyp'``) are YOLOv5's ``box 0.05, obj 1.0, cls 0.5`` rather than Ultralytics' ``box 7.5, cls 0.5``,
because those were tuned for a different box term normalisation. The rule (:func:`anchor_gains`): ``box`` and
``cls`` are read from the training args only when they differ from Ultralytics' defaults (so a user who sets
``box=0.1`` gets 0.1, and the untouched default 7.5 means "the anchor head's own default"); ``obj`` is read from
``args.obj`` when the args carry one. ``gains='unit'`` makes all three 1.0. YOLOv5's ``train.py`` additionally
rescales its gains by ``3 / nl``, ``nc / 80`` (cls) and ``(imgsz / 640)^2`` (obj); that is *not* done here, so the
gains are exactly the ones written above at every class count and image size.

The contract is :class:`~alwa_yolo.losses.detection.ALWADetectionLoss`'s, through the same seam
(:class:`~alwa_yolo.losses.weighted.WeightedCriterion`): the call returns the weighted terms times
batch size (the trainer sums them) and a dict of the detached, gain-scaled, unweighted terms named ``box_loss``,
``obj_loss``, ``cls_loss``, whose ALWA groups are C = {cls, obj} and R = {box}.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from ultralytics.utils.metrics import bbox_iou
from ultralytics.utils.ops import xywh2xyxy

from ..losses.regression import IOU_FLAGS, box_regression_loss
from ..losses.weighted import LossTerms, WeightedCriterion, base_gains, shared_weighting
from ..options import arg_value, resolve_options

LOSS_NAMES = ("box_loss", "obj_loss", "cls_loss")
"""Loss item names, in YOLOv5's order; ``alwa_yolo.losses.weighted.TERM_GROUPS`` maps each to its ALWA group."""

YOLOV5_GAINS = {"box": 0.05, "obj": 1.0, "cls": 0.5}
"""YOLOv5's default hyp gains (``hyp.scratch-low.yaml``), the anchor head's base gains under ``gains='hyp'``."""

ANCHOR_T = 4.0
"""Default anchor-multiple threshold: a target and an anchor match if neither side differs by more than 4x.
Ultralytics' configuration has no such key; ``args.anchor_t`` overrides it when present."""

NEIGHBOUR_G = 0.5
"""A target also goes to the neighbouring cell on a side its centre lies within half a cell of."""

BALANCE = {3: (4.0, 1.0, 0.4)}
"""Per-level objectness weights (YOLOv5): P3 has 16x the cells of P5, so its per-cell mean BCE is boosted."""

BALANCE_OTHER = (4.0, 1.0, 0.25, 0.06, 0.02)
"""YOLOv5's weights for heads with a number of levels other than 3 (first ``nl`` are used)."""

NEIGHBOUR_OFFSETS = ((0, 0), (1, 0), (0, 1), (-1, 0), (0, -1))
"""Own cell, then left, up, right, down neighbours, as offsets subtracted from the centre (times ``g``)."""


class LevelTargets(NamedTuple):
    """The positives of one level after assignment; all tensors have one row per (target, anchor, cell) match.

    Attributes:
        img: image index in the batch.
        anchor: anchor index (0..na-1).
        gj: grid row.
        gi: grid column.
        tbox: (n, 4) target box: centre relative to the cell's top-left corner (in [-0.5, 1.5]), and wh, in cells.
        anchor_wh: (n, 2) the matched anchor's size, in cells.
        cls: class index.
    """

    img: torch.Tensor
    anchor: torch.Tensor
    gj: torch.Tensor
    gi: torch.Tensor
    tbox: torch.Tensor
    anchor_wh: torch.Tensor
    cls: torch.Tensor


def build_targets(
    targets: torch.Tensor,
    anchors: torch.Tensor,
    shapes: Sequence[tuple[int, int]],
    anchor_t: float = ANCHOR_T,
    g: float = NEIGHBOUR_G,
) -> list[LevelTargets]:
    """Assign targets to anchors and cells, YOLOv5's way.

    Args:
        targets: (nt, 6) rows ``[image, class, x, y, w, h]``, box normalised to 0-1 (Ultralytics' batch layout).
        anchors: (nl, na, 2) anchor sizes in grid cells of each level (pixels / stride).
        shapes: per level, the grid (height, width).
        anchor_t: maximum width or height ratio, either way, between a target and an anchor it is assigned to.
        g: neighbour-cell margin; a centre within ``g`` of a cell border also goes to the cell across it, unless
            the centre lies in the first cell along that axis (there is nothing across) or the last.

    Returns:
        (list[LevelTargets]): the positives of each level.
    """
    na, nt = anchors.shape[1], targets.shape[0]
    dev, dtype = targets.device, targets.dtype
    anchor_idx = torch.arange(na, device=dev, dtype=dtype).view(na, 1).expand(na, nt)
    t_all = torch.cat((targets.unsqueeze(0).expand(na, nt, 6), anchor_idx.unsqueeze(-1)), 2)  # (na, nt, 7)
    offsets = torch.tensor(NEIGHBOUR_OFFSETS, device=dev, dtype=dtype) * g
    out = []
    for i, (h, w) in enumerate(shapes):
        gain = torch.tensor([1, 1, w, h, w, h, 1], device=dev, dtype=dtype)
        t = t_all * gain  # boxes in cells of this level
        anc = anchors[i].to(dev, dtype)
        if nt:
            r = t[..., 4:6] / anc.unsqueeze(1)  # (na, nt, 2) target / anchor
            t = t[torch.max(r, 1 / r).amax(2) < anchor_t]  # (m, 7) shape-compatible (target, anchor) pairs
            gxy = t[:, 2:4]  # centre from the left/top border
            gxi = gain[[2, 3]] - gxy  # centre from the right/bottom border
            near_lo = (gxy % 1 < g) & (gxy > 1)  # near the left (x) / top (y) side, a cell exists there
            near_hi = (gxi % 1 < g) & (gxi > 1)  # near the right / bottom side
            use = torch.cat((torch.ones_like(near_lo[:, :1]), near_lo, near_hi), 1).T  # (5, m)
            t = t.unsqueeze(0).expand(5, -1, -1)[use]
            off = offsets.unsqueeze(1).expand(-1, gxy.shape[0], -1)[use]
        else:
            t, off = t_all[0], torch.zeros(0, 2, device=dev, dtype=dtype)
        gxy, gwh, a = t[:, 2:4], t[:, 4:6], t[:, 6].long()
        gij = (gxy - off).long()
        gij[:, 0].clamp_(0, w - 1)
        gij[:, 1].clamp_(0, h - 1)
        out.append(
            LevelTargets(
                img=t[:, 0].long(),
                anchor=a,
                gj=gij[:, 1],
                gi=gij[:, 0],
                tbox=torch.cat((gxy - gij, gwh), 1),
                anchor_wh=anc[a],
                cls=t[:, 1].long(),
            )
        )
    return out


def anchor_gains(args: Any, options: dict[str, Any] | None = None) -> dict[str, float]:
    """Base gains of the three terms: YOLOv5's, or the user's where set, or 1.0 each (see the module docstring)."""
    return base_gains(options or resolve_options(args), args, tuple(YOLOV5_GAINS), head_defaults=YOLOV5_GAINS)


class AnchorDetectionLoss(WeightedCriterion):
    """YOLOv5 ``ComputeLoss`` for :class:`~alwa_yolo.anchor.head.AnchorDetect`, weighted by a strategy.

    Args:
        model: the de-paralleled anchor detection model; its ``args`` carry the gains and the ALWA options, and its
            last layer is the head. Anchors and strides are read from the head at every call, so an autoanchor
            re-fit after the criterion was built still takes effect.
    """

    def __init__(self, model: torch.nn.Module):
        self.head = model.model[-1]
        self.device = next(model.parameters()).device
        args = model.args
        options = resolve_options(args)
        self.nc, self.nl = self.head.nc, self.head.nl
        self.reg_loss, self.beta = options["reg_loss"], float(options["smoothl1_beta"])
        self.anchor_t = float(arg_value(args, "anchor_t", ANCHOR_T))
        self.balance = BALANCE.get(self.nl, BALANCE_OTHER[: self.nl])
        self.class_weights = getattr(model, "class_weights", None)
        if self.class_weights is not None:
            self.class_weights = self.class_weights.to(self.device).view(1, -1)
        self.loss_names = LOSS_NAMES
        gains = anchor_gains(args, options)
        self.setup_weighting(options, gains, LOSS_NAMES, self.device, args, YOLOV5_GAINS, shared_weighting(model))

    def __call__(
        self, preds: list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]], batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Loss from training outputs, or from the ``(decoded, raw)`` tuple the head returns in eval mode."""
        return self.loss(preds[1] if isinstance(preds, tuple) else preds, batch)

    def loss(self, raw: list[torch.Tensor], batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        """Weighted terms times batch size, and the gain-scaled, unweighted loss items.

        As in every criterion of :mod:`~alwa_yolo.losses.weighted`, an iteration counts for ALWA only when
        gradients are on, so validation losses never enter the window.
        """
        return self.weighted_loss(raw, batch)

    def stock_result(self, raw: list[torch.Tensor], batch: dict[str, torch.Tensor]) -> None:
        """None: YOLOv5's loss is :meth:`loss_terms` times the batch size, which ``combine`` under ``fixed`` is."""
        return None

    def loss_terms(self, raw: list[torch.Tensor], batch: dict[str, torch.Tensor]) -> LossTerms:
        """YOLOv5's three gain-scaled terms (box, objectness, class) and its loss items."""
        dev, bs = raw[0].device, raw[0].shape[0]
        targets = torch.cat((batch["batch_idx"].view(-1, 1), batch["cls"].view(-1, 1), batch["bboxes"]), 1)
        stride = self.head.stride.to(dev, torch.float32)
        anchors = self.head.anchor_wh.to(dev, torch.float32) / stride.view(-1, 1, 1)  # pixels -> cells
        assigned = build_targets(targets.to(dev, torch.float32), anchors, [p.shape[2:4] for p in raw], self.anchor_t)

        lbox, lobj, lcls = (torch.zeros((), device=dev) for _ in range(3))
        for i, (p, t) in enumerate(zip(raw, assigned)):
            tobj = torch.zeros(p.shape[:4], device=dev)
            n = t.img.shape[0]
            if n:
                ps = p[t.img, t.anchor, t.gj, t.gi].float()  # (n, 5 + nc) the matched predictions
                cell = torch.stack((t.gi, t.gj), 1).float()
                pxy = ps[:, :2].sigmoid() * 2 - 0.5 + cell
                pwh = (ps[:, 2:4].sigmoid() * 2) ** 2 * t.anchor_wh
                pbox = xywh2xyxy(torch.cat((pxy, pwh), 1))
                tbox = xywh2xyxy(torch.cat((t.tbox[:, :2] + cell, t.tbox[:, 2:]), 1))
                per_box = box_regression_loss(self.reg_loss, pbox, tbox, cell + 0.5, beta=self.beta)
                lbox = lbox + per_box.mean()
                tobj[t.img, t.anchor, t.gj, t.gi] = self.objectness_target(per_box, pbox, tbox)
                if self.nc > 1:
                    tcls = torch.zeros_like(ps[:, 5:])
                    tcls[torch.arange(n, device=dev), t.cls] = 1.0
                    bce = F.binary_cross_entropy_with_logits(ps[:, 5:], tcls, reduction="none")
                    if self.class_weights is not None:
                        bce = bce * self.class_weights
                    lcls = lcls + bce.mean()
            lobj = lobj + F.binary_cross_entropy_with_logits(p[..., 4].float(), tobj) * self.balance[i]

        terms = torch.stack((lbox * self.gains["box"], lobj * self.gains["obj"], lcls * self.gains["cls"]))
        return LossTerms(terms, dict(zip(LOSS_NAMES, terms.detach())), bs)

    def objectness_target(self, per_box: torch.Tensor, pbox: torch.Tensor, tbox: torch.Tensor) -> torch.Tensor:
        """Detached objectness targets of the positives: the IoU (clamped at 0) of the prediction.

        For an IoU-family box loss this is ``1 - loss`` (CIoU by default, exactly YOLOv5); the distance losses
        (``l1``, ``smoothl1``) have no IoU of their own, so plain IoU is used.
        """
        if self.reg_loss in IOU_FLAGS:
            iou = 1.0 - per_box.detach()
        else:
            iou = bbox_iou(pbox.detach(), tbox, xywh=False).squeeze(-1)
        return iou.clamp(0)
