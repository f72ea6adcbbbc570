"""``alwa-cal``: ALWA on calibrated term magnitudes, the strategy that needs no base gains.

Why a new strategy. From unit gains the released rule lands below Ultralytics' tuned gains (benchmarks/README.md)
for reasons its design cannot reach: a two-group rule cannot change the balance *inside* a group (box : dfl stays
1 : 1 from unit gains, tuned is 5 : 1), one noisy window sets the weight (set-not-multiply on weighted statistics
oscillates), a window without foreground switches classification off, and a 100-iteration window never acts in a
short fine-tune. What the tuned gains actually encode was measured on the demo set: Ultralytics' box 7.5, cls 0.5,
dfl 1.5 make the three terms start at nearly the same size (5.9, 4.4, 4.3 in the first 16 iterations of a YOLOv8n
run; from unit gains they start at 0.8, 8.7, 2.8). So:

1. **Calibrate** (the first :data:`CALIBRATION` iterations, the weights refined every iteration on the device): each
   term ``k`` is divided by the running mean of its raw value ``L_k`` over those iterations and multiplied by the
   mean of those means, so every term starts at the same magnitude and the total keeps the raw terms' size. The base
   gains cancel out (``g_k L_k`` is divided by ``g_k`` first), so the result is the same from unit gains, from
   Ultralytics' gains or from gains mis-set by any factor, and from any box loss's units (CIoU, L1 in grid cells).
   The paper's findings hold by construction: classification, the largest raw term, gets the smallest weight
   (weights below 1); the spread between weights is what equal start magnitudes need, no more (the gap bounded);
   and the calibration is frozen, so a term that decays faster (classification, usually) contributes less over
   time, as the paper found good weights do.
2. **Adapt** (every ``interval`` iterations afterwards): ALWA's rule on the *calibrated, unweighted* group losses, so
   the statistics do not feed back on the weight: if classification fluctuates more than localisation, its target
   is ``S_reg / S_cls``, bounded below by ``1 / BOUND``; the weight moves geometrically halfway to the target each
   window (smoothing across windows instead of setting from one noisy window) and back up towards 1 when
   classification is steadier. Windows whose statistics are unusable are skipped.

Terms with the same name (the two branches of an end-to-end head) share one calibration, so Ultralytics' one-to-many
/ one-to-one mix is kept. If a whole group is zero throughout calibration (no foreground yet), calibration goes on
until it has values; a term that never has any (a head's unused semantic term) is left unscaled (gain 1 on its
raw value). The only host reads are at the end of calibration and at each window's end; under DDP the calibration
sums and the windows are pooled, so every rank holds the same weights.

On the benchmark sets the calibration does nearly all the work (benchmarks/README.md, the ablation: switching the
rule off hardly moves mAP); the rule is the bounded safeguard for classification turning noisier later in training.
What it does not do: beat well-tuned gains. Equal start sizes weight the box term less than Ultralytics' gains do
(they start box larger than the other terms with CIoU), which costs mAP in very short runs from scratch and is gone
in longer ones; and a term a head keeps small on purpose (YOLO26's l1) is raised to the others' size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as dist

from .base import gain_divisor, usable
from .collectives import distributed
from .updates import WeightUpdate
from .window import WindowedWeighting

CALIBRATION = 16
"""Values of each term whose mean sets the calibration (the first 16 iterations; under DDP the ranks' values are
pooled, so 16 / world iterations): the first windows' iteration-to-iteration spread is about 5 % of the mean, so 16
values pin the mean to about 1.5 %, and a 120-iteration fine-tune trains on calibrated weights from its 17th iteration
on (refined every iteration before)."""

BOUND = 4.0
"""The rule never sets classification below 1/4 of its calibrated weight (the paper: the gap stays bounded)."""

SMOOTHING = 0.5
"""Each window moves ``log w_cls`` this fraction of the way to the window's target."""


class CalibratedALWA(WindowedWeighting):
    """ALWA on calibrated per-term magnitudes (see the module docstring for why each step is there).

    Args:
        groups: ALWA group of each loss term.
        interval: iterations per rule window after calibration (``--alwa-interval``).
        term_names: each term's name; terms with the same name share a calibration. Default: all distinct.
        term_gains: each term's base gain ``g_k`` (divided out, so the strategy is independent of the gains).
    """

    name = "alwa-cal"
    calibration_length = CALIBRATION
    """Values of each term the calibration averages (the gain finder sets its own, :mod:`alwa_yolo.gains`)."""
    default_gains = "hyp"
    """Irrelevant to the result (the gains cancel); ``hyp`` keeps the logged loss items equal to ``fixed``'s."""

    def __init__(
        self,
        groups: Sequence[str],
        interval: int = 100,
        term_names: Sequence[str] | None = None,
        term_gains: Sequence[float] | None = None,
    ):
        names = list(term_names) if term_names is not None else [str(i) for i in range(len(groups))]
        super().__init__(groups, interval, names)
        unique = list(self.term_names)
        self._name_groups = [self.group_of[u] for u in unique]
        self._tie = torch.tensor([[n == u for n in names] for u in unique], dtype=torch.float64)  # (names, terms)
        self._gains = torch.tensor(list(term_gains) if term_gains is not None else [1.0] * len(groups))
        self._divisor = gain_divisor(self._gains)  # what :meth:`divide_gains` divides by
        self.calibration_sums = torch.zeros(len(unique), dtype=torch.float64)  # raw sums of each name's values
        self.calibration_counts = torch.zeros(len(unique), dtype=torch.float64)  # iterations with a value > 0
        self.calibrating = True
        self.scale = torch.ones(len(groups), dtype=torch.float64)  # per-term calibration factor (incl. 1 / g_k)

    @classmethod
    def from_options(cls, groups: Sequence[str], options: dict[str, Any]) -> CalibratedALWA:
        """Window length ``--alwa-interval``; term names and gains from the criterion (the seam passes them)."""
        return cls(groups, options["alwa_interval"], options.get("term_names"), options.get("term_gains"))

    def __call__(self, terms: torch.Tensor, training: bool = True) -> torch.Tensor:
        """Weight one iteration's terms; while calibrating, the iteration's own values join the calibration first,
        so even the first iteration is weighted independently of the base gains."""
        if training and self.calibrating:
            self.calibrate(terms.detach())
        return super().__call__(terms, training)

    def weight(self, terms: torch.Tensor) -> torch.Tensor:
        """Calibrated terms times the group weights."""
        return terms * (self.scale.to(terms.device, terms.dtype) * self.term_weights(terms))

    def observe(self, terms: torch.Tensor, weighted: torch.Tensor) -> None:
        """After :data:`CALIBRATION` iterations, fill the rule's window (device ops only, until a window is read)."""
        if self.calibrating and self.iteration == self.calibration_length:
            self.calibrating = not self.calibrated()
        if self.iteration > self.calibration_length:
            self.window.add(self.group_sums(terms * self.scale.to(terms.device, terms.dtype)))
            if self.window.count >= self.interval:
                self.update()

    def calibrated(self) -> bool:
        """Whether calibration can stop (one host read): every term has its values or has shown none, and each
        group has a calibrated term (a start without foreground keeps calibrating until boxes appear)."""
        counts = self.calibration_counts.cpu()
        done = (counts >= self.calibration_length) | (counts == 0)
        groups_done = {g for g, c in zip(self._name_groups, counts) if c >= self.calibration_length}
        return bool(done.all()) and groups_done == set(self._name_groups)

    def calibrate(self, terms: torch.Tensor) -> None:
        """Add this iteration's raw terms to the calibration and recompute the per-term scale, on the device."""
        dev = terms.device
        tie = self._tie.to(dev)
        raw = tie @ self.divide_gains(terms.double())  # (names,) raw value of each name, summed over its terms
        counted = self.calibration_counts.to(dev) < self.calibration_length
        seen = (raw > 0) & counted
        sums = self.calibration_sums.to(dev) + torch.where(seen, raw, torch.zeros_like(raw))
        counts = self.calibration_counts.to(dev) + seen.double()
        if distributed():  # pool the ranks' values so every rank computes the same scale
            pooled = torch.stack((sums - self.calibration_sums.to(dev), counts - self.calibration_counts.to(dev)))
            dist.all_reduce(pooled)
            sums, counts = self.calibration_sums.to(dev) + pooled[0], self.calibration_counts.to(dev) + pooled[1]
        self.calibration_sums, self.calibration_counts = sums, counts
        has = counts > 0
        means = torch.where(has, sums / counts.clamp(min=1), torch.ones_like(sums))
        self.scale = self.divide_gains(tie.T @ self.name_gains(means, has))

    def divide_gains(self, values: torch.Tensor) -> torch.Tensor:
        """Each term's ``values / g_k``, and 0 for a term whose base gain is 0 (:func:`~.base.gain_divisor`)."""
        return values / self._divisor.to(values.device)

    def name_gains(self, means: torch.Tensor, has: torch.Tensor) -> torch.Tensor:
        """Each name's effective gain on its raw loss: the mean of the means over its own mean, so every name with
        values starts at the same size (1 for a name without values yet)."""
        target = (means * has).sum() / has.sum().clamp(min=1)
        return torch.where(has, target / means, torch.ones_like(means))

    def update(self) -> WeightUpdate:
        """Move ``w_cls`` halfway (in log space) to ``clip(S_reg / S_cls, 1 / BOUND, 1)``, unless unusable."""
        n, means, stds = self.window.read()
        if self.calibrating:
            self.calibrating = not self.calibrated()
        s_cls, s_reg = stds
        skipped = not usable(n, s_cls, s_reg)
        if not skipped:
            target = min(1.0, max(1.0 / BOUND, s_reg / s_cls)) if s_cls > 0 else 1.0
            w = math.exp((1 - SMOOTHING) * math.log(self.w["cls"]) + SMOOTHING * math.log(target))
            self.set_weights(w, self.w["reg"])
        self.window.clear()
        return self.record((s_cls, s_reg), means, skipped)

    def to(self, device: torch.device | str) -> CalibratedALWA:
        """Move the calibration (with the constants it is computed from) and the window to ``device``."""
        self._tie, self._gains, self.scale = self._tie.to(device), self._gains.to(device), self.scale.to(device)
        self._divisor = self._divisor.to(device)
        self.calibration_sums = self.calibration_sums.to(device)
        self.calibration_counts = self.calibration_counts.to(device)
        return super().to(device)

    def calibration(self) -> dict[str, float]:
        """The effective gain of each term on its raw loss, ``g_k * scale_k``, by name (one host read): what
        calibration found in place of hand-tuned gains; empty while still calibrating."""
        if self.calibrating:
            return {}
        return dict(zip(self.names, (self.scale * self._gains.to(self.scale)).tolist()))

    def state_dict(self) -> dict:
        """Weights, calibration, history and the open window (pooled under DDP)."""
        return {
            **super().state_dict(),
            "calibrating": self.calibrating,
            "calibration_sums": self.calibration_sums.detach().cpu().clone(),
            "calibration_counts": self.calibration_counts.detach().cpu().clone(),
            "scale": self.scale.detach().cpu().clone(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore weights, calibration, history and the open window.

        The calibration goes to the strategy's current device (where :meth:`to` put it): the scale is used every
        iteration, and a CPU copy would be copied to the GPU again each time, a sync per iteration after a resume.
        """
        super().load_state_dict(state)
        device = self.scale.device
        self.calibrating = bool(state["calibrating"])
        self.calibration_sums = state["calibration_sums"].to(device, copy=True)
        self.calibration_counts = state["calibration_counts"].to(device, copy=True)
        self.scale = state["scale"].to(device, copy=True)
