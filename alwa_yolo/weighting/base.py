"""The interface every loss-weighting strategy implements, and the record of one weight update.

A strategy sees, every training iteration, the vector of gain-scaled loss terms ``g_k * L_k`` (box, cls, dfl, ...
in the criterion's order) and the group of each term (``"cls"`` for classification and objectness, ``"reg"`` for
localisation), and returns the weighted vector whose sum is the training loss. It never calls ``backward`` and never
reads a tensor back to the host between its updates, so a GPU never waits on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

GROUPS = ("cls", "reg")
"""The two ALWA groups: classification-like terms (cls, obj) and localisation terms (box, dfl, l1, seg)."""


@dataclass(frozen=True)
class WeightUpdate:
    """One weight update, as written to ``alwa.csv``.

    Attributes:
        iteration: training iterations seen when the update happened (1-based, counts every training loss call).
        stat_cls: the statistic the strategy's rule compared for the classification group (NaN for strategies whose
            rule compares no window statistic, e.g. DWA).
        stat_reg: the same for the regression group.
        w_cls: classification weight after the update.
        w_reg: regression weight after the update.
        mean_cls: mean of the classification group loss over the period the update looked at (a window, an epoch),
            as the strategy observed it (the released ALWA rules observe weighted losses, every other strategy the
            gain-scaled, unweighted ones).
        mean_reg: the same for the regression group.
        skipped: the period's statistics were unusable (zero, NaN, too few values) and the weights were left alone.
        epoch: the training epoch (1-based) in which the update happened.
    """

    iteration: int
    stat_cls: float
    stat_reg: float
    w_cls: float
    w_reg: float
    mean_cls: float
    mean_reg: float
    skipped: bool = False
    epoch: int = 0


def usable(n: float, s_cls: float, s_reg: float) -> bool:
    """Whether a window's statistics can drive an update: two or more values, finite, and ``S_reg > 0``.

    A window without foreground makes every localisation term exactly 0, so ``S_reg = 0``, and a rule of the form
    ``w_cls = S_reg / S_cls`` would set ``w_cls = 0``; a rule that then reads *weighted* values sees a classification
    std of 0 forever and can never raise the weight again. A NaN loss makes every statistic NaN. Such windows are
    skipped. (``S_cls = 0`` is harmless: classification is perfectly steady and the rules leave or restore it at 1.)
    """
    return n >= 2 and math.isfinite(s_cls) and math.isfinite(s_reg) and s_reg > 0


def distributed() -> bool:
    """True inside a DDP process group with more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def all_reduce_mean(x: torch.Tensor) -> torch.Tensor:
    """Average a tensor over DDP ranks (identity without a process group), so every rank holds the same state."""
    if distributed():
        x = x.clone()
        dist.all_reduce(x)
        x /= dist.get_world_size()
    return x


class LossWeighting:
    """Base interface: turn gain-scaled loss terms into weighted terms, one training iteration at a time.

    Subclasses set :attr:`name` (the ``--weighting`` value) and override :meth:`observe` (window statistics),
    :meth:`epoch_end` (per-epoch rules) or ``__call__`` (learned weights). Weights are per group, ``self.w``.

    Args:
        groups: the ALWA group (``"cls"`` or ``"reg"``) of each loss term, in the criterion's order.
    """

    name = "base"
    learnable = False
    """Whether the strategy has parameters the optimiser trains (:meth:`parameters`)."""
    default_gains = "unit"
    """Base gains under ``--gains auto``: ``"unit"`` (1.0 each, the paper's setting) or ``"hyp"`` (Ultralytics')."""

    def __init__(self, groups: Sequence[str]):
        unknown = set(groups) - set(GROUPS)
        if unknown:
            raise ValueError(f"unknown loss group(s) {sorted(unknown)}; each term must be in one of {GROUPS}")
        self.groups = tuple(groups)
        self.w = {"cls": 1.0, "reg": 1.0}
        self.iteration = 0
        self.epoch = 0  # set by the trainer at each epoch start, stamped on updates
        self.history: list[WeightUpdate] = []
        self.epoch_losses: list[list[float]] = []  # per epoch: mean cls, mean reg group loss (pooled), iteration
        self.last_group_losses: torch.Tensor | None = None  # (2,) group sums of the last training iteration, on device
        self._epoch_sums: torch.Tensor | None = None  # (2,) running sum of this epoch's group losses, on device
        self._epoch_count = 0
        self._masks: dict[torch.device, torch.Tensor] = {}
        self._term_weights: torch.Tensor | None = None

    @classmethod
    def from_options(cls, groups: Sequence[str], options: dict[str, Any]) -> LossWeighting:
        """Build from the resolved training options; strategies with options of their own override this."""
        return cls(groups)

    # --- what the criterion calls -------------------------------------------------------------------------------
    def __call__(self, terms: torch.Tensor, training: bool = True) -> torch.Tensor:
        """Weight one iteration's terms.

        Args:
            terms: (n_terms,) gain-scaled losses ``g_k * L_k`` with their autograd graph.
            training: whether this is a training iteration; validation losses are weighted but never observed.

        Returns:
            (torch.Tensor): (n_terms,) weighted terms; their sum is the loss the optimiser sees (before batch size).
        """
        weighted = self.weight(terms)
        if training:
            self.iteration += 1
            seen = terms.detach()
            self.last_group_losses = self.group_sums(seen)
            wide = self.last_group_losses.to(torch.float32 if seen.device.type == "mps" else torch.float64)
            self._epoch_sums = wide if self._epoch_sums is None else self._epoch_sums + wide
            self._epoch_count += 1
            self.observe(seen, weighted.detach())
        return weighted

    def weight(self, terms: torch.Tensor) -> torch.Tensor:
        """The weighted terms (``w_group * term``); learned strategies override this."""
        return terms * self.term_weights(terms)

    def term_weights(self, terms: torch.Tensor) -> torch.Tensor:
        """Per-term weights as a tensor on the terms' device (rebuilt only when the weights change).

        Built from the cached group matrix and the weights as Python scalars, so the iteration after an update copies
        nothing from the host (``torch.tensor(..., device=cuda)`` is a blocking copy, a sync on a GPU).
        """
        tw = self._term_weights
        if tw is None or tw.device != terms.device or tw.dtype != terms.dtype:
            mask = self.group_matrix(terms)
            tw = mask[0] * self.w[GROUPS[0]] + mask[1] * self.w[GROUPS[1]]
            self._term_weights = tw
        return tw

    def group_matrix(self, like: torch.Tensor) -> torch.Tensor:
        """(2, n_terms) 0/1 matrix, row g marks the terms of group ``GROUPS[g]`` (cached per device)."""
        mask = self._masks.get(like.device)
        if mask is None:
            mask = torch.tensor([[g == group for g in self.groups] for group in GROUPS], device=like.device)
            self._masks[like.device] = mask
        return mask.to(like.dtype)

    def group_sums(self, terms: torch.Tensor) -> torch.Tensor:
        """(2,) sums of the terms of each group, cls first; device ops, so no host sync.

        A product and a sum rather than a matrix product: the trainer calls the strategy inside ``autocast``, which
        would run a matmul in half precision and round the sums the windows read (bf16 keeps 8 bits).
        """
        return (self.group_matrix(terms) * terms).sum(1)

    def parameters(self) -> list[torch.nn.Parameter]:
        """Learnable parameters the optimiser must update (only uncertainty weighting has any)."""
        return []

    def calibration(self) -> dict[str, float]:
        """Per-term gains a calibrating strategy found, by term name; empty for the others (and before it is done)."""
        return {}

    def observe(self, terms: torch.Tensor, weighted: torch.Tensor) -> None:
        """See one training iteration's detached terms before and after weighting (``self.iteration`` counts it)."""

    def set_weights(self, w_cls: float, w_reg: float) -> None:
        """Set the group weights; the per-term tensor is rebuilt lazily on the next call."""
        self.w = {"cls": float(w_cls), "reg": float(w_reg)}
        self._term_weights = None

    # --- what the trainer calls ---------------------------------------------------------------------------------
    def epoch_end(self) -> None:
        """Hook at the end of each training epoch, called on every DDP rank.

        The base class records the epoch's mean group losses, as it observed them (averaged over ranks; one host
        read per epoch): ``alwa.png`` draws the whole run's loss curve from them after a resume, and DWA sets its
        weights from them.
        """
        if self._epoch_count:
            means = all_reduce_mean(self._epoch_sums / self._epoch_count)
            self.epoch_losses.append([*means.cpu().tolist(), self.iteration])
        self._epoch_sums, self._epoch_count = None, 0

    def record(self, stat_cls: float, stat_reg: float, means: list[float], skipped: bool = False) -> WeightUpdate:
        """Append an update with the weights now in force to :attr:`history` and return it."""
        update = WeightUpdate(
            self.iteration, stat_cls, stat_reg, self.w["cls"], self.w["reg"], *means, skipped=skipped, epoch=self.epoch
        )
        self.history.append(update)
        return update

    def to(self, device: torch.device | str) -> LossWeighting:
        """Move device-side state (windows, learned parameters) to ``device``; returns self."""
        return self

    def state_dict(self) -> dict:
        """Everything needed to continue exactly where training stopped (saved in checkpoints)."""
        return {
            "name": self.name,
            "w": dict(self.w),
            "iteration": self.iteration,
            "epoch": self.epoch,
            "history": [u.__dict__ for u in self.history],
            "epoch_losses": [list(x) for x in self.epoch_losses],
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`; refuses a state saved by a different strategy."""
        if state.get("name") != self.name:
            raise ValueError(f"checkpoint holds '{state.get('name')}' weighting state, this run uses '{self.name}'")
        self.set_weights(state["w"]["cls"], state["w"]["reg"])
        self.iteration = int(state["iteration"])
        self.epoch = int(state.get("epoch", 0))
        self.history = [WeightUpdate(**u) for u in state.get("history", [])]
        self.epoch_losses = [list(x) for x in state.get("epoch_losses", [])]
