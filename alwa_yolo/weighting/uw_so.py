"""Soft optimal uncertainty weighting, UW-SO (Kirchdorfer, Elich, Kutsche, Stuckenschmidt, Schott, Köhler, GCPR
2024, "Analytical Uncertainty-Based Loss Weighting in Multi-Task Learning"): uncertainty weighting's optimal
variance for a task is its loss, so its weight is the inverse loss; UW-SO normalises the inverse losses with a
softmax of temperature ``T`` every iteration, instead of learning log-variances by gradient descent (``uw``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .base import GROUPS
from .per_iteration import PerIterationWeighting


class SoftOptimalUncertaintyWeighting(PerIterationWeighting):
    """``w_g = K softmax_g(1 / (T L_g))`` over the two groups' detached losses, ``K = 2``, ``T = 1``.

    ``K`` keeps the weights' sum at the number of groups, so the loss keeps its scale (the paper's weights sum to
    1; with Ultralytics' optimisers the factor 2 only moves the effective learning rate back to where it was).
    """

    name = "uw-so"

    def __init__(self, groups: Sequence[str], names: Sequence[str] | None = None, temperature: float = 1.0):
        super().__init__(groups, names)
        self.temperature = float(temperature)

    def group_weights(self, losses: torch.Tensor) -> torch.Tensor:
        """Softmax of the inverse losses (a zero loss, no foreground, gets the smallest logit rather than infinity)."""
        inverse = torch.where(losses > 0, 1.0 / losses.clamp(min=1e-12), torch.zeros_like(losses))
        return len(GROUPS) * torch.softmax(inverse / self.temperature, 0)
