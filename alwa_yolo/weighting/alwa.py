"""ALWA as the authors released it (``alwa2``, ``alwa1``), and on unweighted statistics (``alwa2-raw``).

"Revisiting the Loss Weight Adjustment in Object Detection" (Yu, Shen, Hu, Yin, 2021, arXiv 2103.09488); the rule
is the one in the authors' mmdetection code (``shared/ALWA.md``): every ``interval`` iterations, with ``S`` the sample
std (ddof=1) of the *weighted* group losses ``w_g * sum_k g_k L_k`` in the window, if ``S_cls > S_reg`` set
``w_cls = S_reg / S_cls``. ``w_reg`` never changes and the weight is set, not multiplied.

One deliberate difference from the released code: a window whose statistics are zero, NaN or from fewer than two
values is skipped (weights unchanged, logged with ``skipped=1``). The released code would set ``w_cls = 0`` after a
window without foreground (``S_reg = 0``); the weighted classification std is then 0 and the rule can never raise
the weight again, so classification would be switched off for the rest of training.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .base import LossWeighting, WeightUpdate, distributed, usable
from .window import RunningWindow


class ALWA(LossWeighting):
    """Adaptive Loss Weight Adjustment, released rule ``alwa2``: compares sample stds of the weighted group losses.

    Args:
        groups: ALWA group of each loss term.
        interval: iterations per window (released default 100); must be at least 2 for a sample std.
    """

    name = "alwa2"
    records_weighted = True
    """The released code logs the group losses already multiplied by the current weights."""

    def __init__(self, groups: Sequence[str], interval: int = 100):
        super().__init__(groups)
        if int(interval) < 2:
            raise ValueError(f"ALWA interval must be at least 2 iterations (a sample std needs two), got {interval}")
        self.interval = int(interval)
        self.window = RunningWindow()
        self._pooled_window: tuple[int, dict] | None = None  # (iteration, state) taken at epoch end under DDP

    @classmethod
    def from_options(cls, groups: Sequence[str], options: dict[str, Any]) -> ALWA:
        """The window length is ``--alwa-interval``."""
        return cls(groups, interval=options["alwa_interval"])

    def statistic(self, mean: float, std: float) -> float:
        """``alwa2`` compares standard deviations."""
        return std

    def rule(self, s_cls: float, s_reg: float) -> float:
        """The released update: only ever lowers classification, setting (not multiplying) its weight."""
        return s_reg / s_cls if s_cls > s_reg else self.w["cls"]

    def observe(self, terms: torch.Tensor, weighted: torch.Tensor) -> None:
        """Add this iteration to the window; at the end of a window, read it (one sync) and update."""
        self.window.add(self.group_sums(weighted if self.records_weighted else terms))
        if self.window.count >= self.interval:
            self.update()

    def update(self) -> WeightUpdate:
        """Apply the rule to the current window (unless its statistics are unusable), record it, start a new one."""
        n, means, stds = self.window.read()
        s_cls, s_reg = (self.statistic(m, s) for m, s in zip(means, stds))
        skipped = not usable(n, s_cls, s_reg)
        if not skipped:
            self.set_weights(self.rule(s_cls, s_reg), self.w["reg"])
        self.window.clear()
        return self.record(s_cls, s_reg, means, skipped)

    def epoch_end(self) -> None:
        """Record the epoch's losses; under DDP also keep the pooled open window (a collective every rank runs here)
        for the checkpoint."""
        super().epoch_end()
        if distributed():
            self._pooled_window = (self.iteration, self.window.state_dict(pooled=True))

    def to(self, device: torch.device | str) -> ALWA:
        """Move the open window to ``device``."""
        self.window.to(device)
        return self

    def state_dict(self) -> dict:
        """Weights, counters, update history and the open window (pooled over DDP ranks, see :meth:`epoch_end`)."""
        pooled = self._pooled_window
        window = pooled[1] if pooled and pooled[0] == self.iteration else self.window.state_dict()
        return {**super().state_dict(), "interval": self.interval, "window": window}

    def load_state_dict(self, state: dict) -> None:
        """Restore weights, history and the open window (the interval stays this run's)."""
        from ultralytics.utils import RANK

        super().load_state_dict(state)
        world = torch.distributed.get_world_size() if distributed() else 1
        self.window.load_state_dict(state["window"], rank=RANK, world=world)


class ALWA1(ALWA):
    """ALWA, released rule ``alwa1``: compares mean + std (ddof=1) of the weighted group losses."""

    name = "alwa1"

    def statistic(self, mean: float, std: float) -> float:
        """``alwa1`` compares mean + sample std."""
        return mean + std


class ALWA2Raw(ALWA):
    """ALWA on unweighted group statistics: ``w_cls = min(1, S_reg / S_cls)`` with ``S`` from ``sum g_k L_k``.

    The released rule logs weighted losses, so a converged weight ``w*`` is reset to about 1 as soon as noise makes
    the weighted ``S_cls`` exceed ``S_reg`` again (``shared/ALWA.md``). Measuring the raw group losses removes that
    feedback: the weight tracks the current std ratio and can rise back towards 1 as well as fall.
    """

    name = "alwa2-raw"
    records_weighted = False

    def rule(self, s_cls: float, s_reg: float) -> float:
        """``min(1, S_reg / S_cls)``, recomputed every window."""
        return min(1.0, s_reg / s_cls) if s_cls > 0 else 1.0
