"""Box-regression losses, switchable with ``--reg-loss``, shared by the anchor-free and anchor-based heads.

Every loss returns one value per box; the heads weight and normalise them exactly as Ultralytics weights its
CIoU term (by the assigned target score, divided by the sum of target scores), so switching the loss changes the
term's *shape*, not its bookkeeping. Which ALWA group: all of them are regression (``reg``).

=========  ==============================================  =========================================
name       computed on                                     per-box value
=========  ==============================================  =========================================
ciou       decoded boxes, xyxy (Ultralytics' own term)     ``1 - CIoU``
giou       decoded boxes, xyxy                             ``1 - GIoU``
diou       decoded boxes, xyxy                             ``1 - DIoU``
iou        decoded boxes, xyxy                             ``1 - IoU``
l1         left/top/right/bottom distances from the        mean over the 4 distances of ``|p - t|``
           anchor point, in stride (grid-cell) units
smoothl1   the same distances                              mean of SmoothL1 with ``beta`` (cells)
=========  ==============================================  =========================================
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from ultralytics.utils.metrics import bbox_iou
from ultralytics.utils.tal import bbox2dist

REG_LOSSES = ("ciou", "giou", "diou", "iou", "l1", "smoothl1")
"""Accepted ``--reg-loss`` values; ``ciou`` is Ultralytics' native box term and the default."""

IOU_FLAGS = {"ciou": {"CIoU": True}, "giou": {"GIoU": True}, "diou": {"DIoU": True}, "iou": {}}


def check_reg_loss(name: str) -> str:
    """Return ``name`` if it is a known regression loss.

    Raises:
        ValueError: naming the value and the choices.
    """
    if name not in REG_LOSSES:
        raise ValueError(f"unknown regression loss '{name}'; choose one of: {', '.join(REG_LOSSES)}")
    return name


def box_regression_loss(
    name: str,
    pred_xyxy: torch.Tensor,
    target_xyxy: torch.Tensor,
    anchor_points: torch.Tensor | None = None,
    beta: float = 1.0,
) -> torch.Tensor:
    """Per-box regression loss.

    Args:
        name: one of :data:`REG_LOSSES`.
        pred_xyxy: (N, 4) predicted boxes, xyxy, in grid-cell units.
        target_xyxy: (N, 4) target boxes, same units.
        anchor_points: (N, 2) points the distances of ``l1`` / ``smoothl1`` are measured from (needed by those).
        beta: SmoothL1's switch point between the quadratic and linear parts, in grid cells.

    Returns:
        (torch.Tensor): (N,) loss per box: 0 for a perfect prediction with every loss but DIoU/CIoU/GIoU's
        penalties, which are also 0 when boxes coincide.
    """
    if name in IOU_FLAGS:
        return 1.0 - bbox_iou(pred_xyxy, target_xyxy, xywh=False, **IOU_FLAGS[name]).squeeze(-1)
    check_reg_loss(name)
    if anchor_points is None:
        raise ValueError(f"'{name}' regresses distances from anchor points; pass anchor_points")
    pred, target = bbox2dist(anchor_points, pred_xyxy), bbox2dist(anchor_points, target_xyxy)
    if name == "l1":
        return F.l1_loss(pred, target, reduction="none").mean(-1)
    return F.smooth_l1_loss(pred, target, reduction="none", beta=beta).mean(-1)
