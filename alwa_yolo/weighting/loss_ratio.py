"""Value-based loss-ratio balancing (Oksuz, Cam, Akbas, Kalkan, ICCV 2021, "Rank & Sort Loss for Object Detection
and Instance Segmentation", Sec. 4): the box weight is set every iteration to the detached ratio of the
classification loss to the box loss, so both contribute the same value and no box gain needs tuning."""

from __future__ import annotations

import torch

from .per_iteration import PerIterationWeighting


class LossRatioWeighting(PerIterationWeighting):
    """``w_cls = 1``, ``w_reg = L_cls / L_reg`` (detached), each iteration; ``w_reg`` stays 1 without foreground.

    The localisation group is the sum of the head's localisation terms on Ultralytics' gains (their balance inside
    the group is kept); the paper has one box term beside its ranking loss.
    """

    name = "loss-ratio"

    def group_weights(self, losses: torch.Tensor) -> torch.Tensor:
        """(1, L_cls / L_reg), with ratio 1 where the localisation loss is 0 (a batch without foreground)."""
        cls, reg = losses[0], losses[1]
        ratio = torch.where(reg > 0, cls / reg.clamp(min=1e-12), torch.ones_like(reg))
        return torch.stack((torch.ones_like(ratio), ratio))
