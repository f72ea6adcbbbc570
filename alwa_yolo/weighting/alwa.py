"""ALWA as the authors released it (``alwa2``, ``alwa1``), and on unweighted statistics (``alwa2-raw``).

"Revisiting the Loss Weight Adjustment in Object Detection" (Yu, Shen, Hu, Yin, 2021, arXiv 2103.09488); the rule
is the one in the authors' mmdetection code (``docs/ALWA.md``): every ``interval`` iterations, with ``S`` the sample
std (ddof=1) of the *weighted* group losses ``w_g * sum_k g_k L_k`` in the window, if ``S_cls > S_reg`` set
``w_cls = S_reg / S_cls``. ``w_reg`` never changes and the weight is set, not multiplied.

One deliberate difference from the released code: a window whose statistics are zero, NaN or from fewer than two
values is skipped (weights unchanged, logged with ``skipped=1``). The released code would set ``w_cls = 0`` after a
window without foreground (``S_reg = 0``); the weighted classification std is then 0 and the rule can never raise
the weight again, so classification would be switched off for the rest of training.
"""

from __future__ import annotations

import torch

from .base import usable
from .updates import WeightUpdate
from .window import WindowedWeighting


class ALWA(WindowedWeighting):
    """Adaptive Loss Weight Adjustment, released rule ``alwa2``: compares sample stds of the weighted group losses.

    Args:
        groups: ALWA group of each loss term.
        interval: iterations per window (released default 100); must be at least 2 for a sample std.
    """

    name = "alwa2"
    records_weighted = True
    """The released code logs the group losses already multiplied by the current weights."""

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
        return self.record((s_cls, s_reg), means, skipped)


class ALWA1(ALWA):
    """ALWA, released rule ``alwa1``: compares mean + std (ddof=1) of the weighted group losses."""

    name = "alwa1"

    def statistic(self, mean: float, std: float) -> float:
        """``alwa1`` compares mean + sample std."""
        return mean + std


class ALWA2Raw(ALWA):
    """ALWA on unweighted group statistics: ``w_cls = min(1, S_reg / S_cls)`` with ``S`` from ``sum g_k L_k``.

    The released rule logs weighted losses, so a converged weight ``w*`` is reset to about 1 as soon as noise makes
    the weighted ``S_cls`` exceed ``S_reg`` again (``docs/ALWA.md``). Measuring the raw group losses removes that
    feedback: the weight tracks the current std ratio and can rise back towards 1 as well as fall.
    """

    name = "alwa2-raw"
    records_weighted = False

    def rule(self, s_cls: float, s_reg: float) -> float:
        """``min(1, S_reg / S_cls)``, recomputed every window."""
        return min(1.0, s_reg / s_cls) if s_cls > 0 else 1.0
