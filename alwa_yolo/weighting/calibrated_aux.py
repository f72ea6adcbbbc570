"""``alwa-cal-aux``: ``alwa-cal`` with a head's auxiliary terms kept at their gain ratio to the box term.

Why a variant. ``alwa-cal`` starts every term at the same size, which is what Ultralytics' tuned gains do for the
three main detection terms (box, cls, dfl start at nearly one size under Ultralytics' gains). It is wrong for a term
a head keeps small on purpose, and the benchmarks measured what it costs (benchmarks/README.md, "Pose and OBB"):
YOLO11n-pose's keypoint-visibility term ``kobj`` and YOLO11n-obb's angle term, raised to the main terms' size, cost
keypoint and rotated-box mAP; YOLO26's l1 term is raised many times over. These terms refine what a main term already
answers (is this keypoint there, which way the box turns, the box corners again without DFL's distribution): equal
size is not what they need. The default since 0.4, ``alwa-ref``, keeps every term at Ultralytics' tuned share instead
(:mod:`~alwa_yolo.weighting.reference`).

So this strategy calibrates the main terms exactly as ``alwa-cal`` does, among themselves (their common size is the
mean of the *main* terms' means), and gives each auxiliary term the effective gain ``g_aux * G_box / g_box``: the base
gains' ratio to the box term (Ultralytics' ratio under ``--gains hyp``, the default), carried on the box term's
calibrated gain. The rule after calibration is ``alwa-cal``'s, unchanged. A criterion without auxiliary terms (YOLOv8
/ YOLO11 detection, segmentation, the anchor head) is calibrated exactly as under ``alwa-cal`` (bit-identical, tested).
Under ``--gains unit`` the ratio is 1: the auxiliary terms follow box's gain one to one.
"""

from __future__ import annotations

import torch

from .calibrated import CalibratedALWA

AUXILIARY = frozenset({"kobj_loss", "rle_loss", "angle_loss", "l1_loss"})
"""Terms kept at their base-gain ratio to ``box_loss``: pose's keypoint visibility and YOLO26-pose's RLE term, OBB's
angle term, and YOLO26's l1 term (its box corners without DFL)."""

ANCHOR = "box_loss"
"""The term whose calibrated gain the auxiliary terms follow (every criterion has one)."""


class AuxiliaryRatioALWA(CalibratedALWA):
    """``alwa-cal`` on the main terms; auxiliary terms at their base-gain ratio to the box term (module docstring)."""

    name = "alwa-cal-aux"

    def name_gains(self, means: torch.Tensor, has: torch.Tensor) -> torch.Tensor:
        """Main names as ``alwa-cal`` calibrates them among themselves; auxiliary names on the box term's gain."""
        names = list(self.term_names)
        flags = [n in AUXILIARY for n in names]
        if ANCHOR not in names or not any(flags):
            return super().name_gains(means, has)
        anchor = names.index(ANCHOR)
        auxiliary = torch.tensor(flags, device=means.device)
        main = has & ~auxiliary
        target = (means * main).sum() / main.sum().clamp(min=1)
        gains = torch.where(main, target / means, torch.ones_like(means))
        tie = self._tie.to(means.device)
        base = (tie @ self._gains.to(means.device, torch.float64)) / tie.sum(1)  # each name's base gain
        anchor_base = torch.where(base[anchor] > 0, base[anchor], 1.0)  # box switched off (gain 0): ratio to 1
        return torch.where(auxiliary, base * gains[anchor] / anchor_base, gains)
