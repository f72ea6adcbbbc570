"""Dynamic weight average (Liu, Johns, Davison, CVPR 2019) over the two ALWA groups."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .base import GROUPS, LossWeighting


class DynamicWeightAverage(LossWeighting):
    """``w_g(t) = K exp(r_g(t-1) / T) / sum_i exp(r_i(t-1) / T)``, ``r_g(t-1) = L_g(t-1) / L_g(t-2)``.

    ``r_g`` is the ratio of the group's mean loss over the last two epochs, ``K = 2`` groups, temperature ``T = 2``;
    weights are 1 for the first two epochs. Epoch means are averaged over DDP ranks. Its ``alwa.csv`` rows carry the
    epoch means (``mean_cls``, ``mean_reg``) and no window statistic (``stat_*`` are NaN): the ratios follow from
    the means of consecutive rows.
    """

    name = "dwa"

    def __init__(self, groups: Sequence[str], temperature: float = 2.0, names: Sequence[str] | None = None):
        super().__init__(groups, names)
        self.temperature = float(temperature)

    def epoch_end(self) -> None:
        """Record the epoch's mean group losses (the base class) and set the weights for the next epoch."""
        seen = len(self.epoch_losses)
        super().epoch_end()
        if len(self.epoch_losses) > seen and len(self.epoch_losses) >= 2:
            (c1, r1, *_), (c2, r2, *_) = self.epoch_losses[-2], self.epoch_losses[-1]
            ratios = torch.tensor([c2 / max(c1, 1e-12), r2 / max(r1, 1e-12)]) / self.temperature
            self.set_weights(*(len(GROUPS) * torch.softmax(ratios, 0)).tolist())
            self.record((math.nan, math.nan), (c2, r2))
