"""The base of strategies that set the two group weights afresh every iteration from that iteration's losses.

They need no window and no host read per iteration: the weights are computed on the device from the detached group
sums and multiplied in. What the logs show is each epoch's mean weight, recorded once per epoch with the epoch's mean
group losses (one host read per epoch).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .base import LossWeighting
from .collectives import all_reduce_mean


class PerIterationWeighting(LossWeighting):
    """Group weights ``group_weights(L_cls, L_reg)`` from each iteration's detached group sums.

    Subclasses implement :meth:`group_weights`. Validation losses are weighted with the last training iteration's
    weights (they are never observed). Under DDP each rank weights its own losses (as a per-rank normalisation
    would); DDP averages the gradients, so the model stays one, and the logged epoch weights are pooled over ranks.
    """

    default_gains = "hyp"
    """Ultralytics' gains set the balance *inside* each group (box : dfl); the rule sets the balance between them."""

    def __init__(self, groups: Sequence[str], names: Sequence[str] | None = None):
        super().__init__(groups, names)
        self._current: torch.Tensor | None = None  # (2,) group weights of the last training iteration, on device
        self._weight_sums: torch.Tensor | None = None  # (2,) this epoch's running sum of them
        self._weight_count = 0

    def group_weights(self, losses: torch.Tensor) -> torch.Tensor:
        """(2,) weights (cls, reg) from the (2,) detached group losses of one iteration."""
        raise NotImplementedError

    def weight(self, terms: torch.Tensor) -> torch.Tensor:
        """Each term times its group's weight, computed from these very terms while training."""
        mask = self.group_matrix(terms)
        if torch.is_grad_enabled() or self._current is None:
            self._current = self.group_weights(self.group_sums(terms.detach()).double())
            if torch.is_grad_enabled():
                self._weight_sums = self._current if self._weight_sums is None else self._weight_sums + self._current
                self._weight_count += 1
        per_term = (mask * self._current.to(terms.device, terms.dtype)[:, None]).sum(0)
        return terms * per_term

    def epoch_end(self) -> None:
        """Record the epoch's mean weights and mean group losses (one host read)."""
        seen = len(self.epoch_losses)
        super().epoch_end()
        if self._weight_count and len(self.epoch_losses) > seen:
            mean = all_reduce_mean(self._weight_sums / self._weight_count).cpu().tolist()
            self.set_weights(*mean)
            self.record((math.nan, math.nan), self.epoch_losses[-1][:2])
        self._weight_sums, self._weight_count = None, 0
