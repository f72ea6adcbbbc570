"""Loss-weighting strategies: how a detector's loss terms are combined into the one scalar it minimises.

Every strategy sees the same thing each training iteration: the vector of gain-scaled loss terms
``g_k * L_k`` (box, cls, dfl, ... in the criterion's order) and the ALWA group of each term (``"cls"`` for
classification and objectness, ``"reg"`` for regression). It returns the weighted vector whose sum is the
training loss. Strategies are small classes behind :class:`LossWeighting`, selected by name through
:data:`WEIGHTINGS` (the ``--weighting`` flag), in the spirit of LibMTL.

The ALWA rules follow ``shared/ALWA.md`` (the authors' released mmdetection code): every ``interval``
iterations the standard deviations (``alwa2``) or mean + std (``alwa1``) of the two group losses over the
window are compared, and if classification's exceeds regression's, ``w_cls`` is *set* to ``S_reg / S_cls``.

The window is a running count / sum / sum of squares kept on the loss's device, so the per-iteration path never
synchronises with the host; the statistics are read, all-reduced across DDP ranks, only at an update.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.distributed as dist

GROUPS = ("cls", "reg")
"""The two ALWA groups: classification-like terms (cls, obj) and regression terms (box, dfl, l1)."""


@dataclass(frozen=True)
class WeightUpdate:
    """One ALWA update, as written to ``alwa.csv``.

    Attributes:
        iteration: training iterations seen when the update happened (1-based, counts every loss call in training).
        stat_cls: the statistic the rule compared for the classification group.
        stat_reg: the statistic the rule compared for the regression group.
        w_cls: classification weight after the update.
        w_reg: regression weight after the update.
        mean_cls: mean of the classification values in the window (as logged by the rule).
        mean_reg: mean of the regression values in the window.
    """

    iteration: int
    stat_cls: float
    stat_reg: float
    w_cls: float
    w_reg: float
    mean_cls: float
    mean_reg: float


class LossWeighting:
    """Base interface: turn gain-scaled loss terms into weighted terms, one training iteration at a time.

    Args:
        groups: the ALWA group (``"cls"`` or ``"reg"``) of each loss term, in the criterion's order.
    """

    name = "base"

    def __init__(self, groups: Sequence[str]):
        unknown = set(groups) - set(GROUPS)
        if unknown:
            raise ValueError(f"unknown loss group(s) {sorted(unknown)}; each term must be in one of {GROUPS}")
        self.groups = tuple(groups)
        self.w = {"cls": 1.0, "reg": 1.0}
        self.iteration = 0
        self.history: list[WeightUpdate] = []
        self._masks: dict[torch.device, torch.Tensor] = {}
        self._term_weights: torch.Tensor | None = None

    # --- what the criterion calls -------------------------------------------------------------------------------
    def __call__(self, terms: torch.Tensor, training: bool = True) -> torch.Tensor:
        """Weight one iteration's terms.

        Args:
            terms: (n_terms,) gain-scaled losses ``g_k * L_k`` with their autograd graph.
            training: whether this is a training iteration; validation losses are weighted but never observed.

        Returns:
            (torch.Tensor): (n_terms,) weighted terms; their sum is the loss the optimiser sees (before batch size).
        """
        weighted = terms * self.term_weights(terms)
        if training:
            self.iteration += 1
            self.observe(terms.detach(), weighted.detach())
        return weighted

    def term_weights(self, terms: torch.Tensor) -> torch.Tensor:
        """Per-term weights as a tensor on the terms' device (rebuilt only when the weights change)."""
        tw = self._term_weights
        if tw is None or tw.device != terms.device or tw.dtype != terms.dtype:
            tw = torch.tensor([self.w[g] for g in self.groups], device=terms.device, dtype=terms.dtype)
            self._term_weights = tw
        return tw

    def group_sums(self, terms: torch.Tensor) -> torch.Tensor:
        """(2,) sums of the terms of each group, cls first; a matrix product, so no host sync."""
        mask = self._masks.get(terms.device)
        if mask is None:
            mask = torch.tensor([[g == group for g in self.groups] for group in GROUPS], device=terms.device)
            self._masks[terms.device] = mask
        return mask.to(terms.dtype) @ terms

    def parameters(self) -> list[torch.nn.Parameter]:
        """Learnable parameters the optimiser must update (only uncertainty weighting has any)."""
        return []

    def observe(self, terms: torch.Tensor, weighted: torch.Tensor) -> None:
        """See one training iteration's detached terms before and after weighting (``self.iteration`` counts it)."""

    def set_weights(self, w_cls: float, w_reg: float) -> None:
        """Set the group weights; the per-term tensor is rebuilt lazily on the next call."""
        self.w = {"cls": float(w_cls), "reg": float(w_reg)}
        self._term_weights = None

    # --- what the trainer calls ---------------------------------------------------------------------------------
    def epoch_end(self, mean_terms: torch.Tensor | None) -> None:
        """Hook at the end of each training epoch, with the epoch's mean gain-scaled terms (used by DWA)."""

    def state_dict(self) -> dict:
        """Everything needed to continue exactly where training stopped (saved in checkpoints)."""
        return {
            "name": self.name,
            "w": dict(self.w),
            "iteration": self.iteration,
            "history": [u.__dict__ for u in self.history],
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`; refuses a state saved by a different strategy."""
        if state.get("name") != self.name:
            raise ValueError(f"checkpoint holds '{state.get('name')}' weighting state, this run uses '{self.name}'")
        self.set_weights(state["w"]["cls"], state["w"]["reg"])
        self.iteration = int(state["iteration"])
        self.history = [WeightUpdate(**u) for u in state.get("history", [])]


class FixedWeighting(LossWeighting):
    """Hand-set gains only (Ultralytics' own combination): both group weights stay 1.0."""

    name = "fixed"


class RunningWindow:
    """Count / sum / sum of squares of 2-vectors (one value per group), kept on the device until read.

    Float64 where the device has it, so ``sumsq - sum^2 / n`` keeps its digits over windows of hundreds of values.
    """

    def __init__(self):
        self.count = 0
        self.sums: torch.Tensor | None = None  # (2, 2): rows sum, sum of squares; columns cls, reg

    def add(self, values: torch.Tensor) -> None:
        """Append one (2,) vector of detached values; no host sync."""
        dtype = torch.float32 if values.device.type == "mps" else torch.float64
        v = values.to(dtype)
        if self.sums is None or self.sums.device != v.device:
            self.sums = torch.zeros(2, 2, dtype=dtype, device=v.device)
        self.sums += torch.stack((v, v * v))
        self.count += 1

    def read(self) -> tuple[int, list[float], list[float]]:
        """Pool the window over DDP ranks (if any) and return (n, means, sample stds with ddof=1); one sync."""
        buf = torch.zeros(3, 2, dtype=torch.float64) if self.sums is None else self.sums.new_zeros(3, 2)
        buf[0] = self.count
        if self.sums is not None:
            buf[1:] = self.sums
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(buf)
        n, s, ss = buf.double().cpu().tolist()
        n = n[0]
        means = [x / n if n else float("nan") for x in s]
        var = [max(q - x * x / n, 0.0) / (n - 1) if n > 1 else float("nan") for x, q in zip(s, ss)]
        return int(n), means, [math.sqrt(v) for v in var]

    def clear(self) -> None:
        """Start a new window."""
        self.count = 0
        if self.sums is not None:
            self.sums.zero_()

    def state_dict(self) -> dict:
        """Plain (cpu) copy of the window."""
        return {"count": self.count, "sums": None if self.sums is None else self.sums.detach().cpu().clone()}

    def load_state_dict(self, state: dict) -> None:
        """Restore a window; it moves to the loss's device on the next :meth:`add`."""
        self.count = int(state["count"])
        self.sums = state["sums"]


class ALWA(LossWeighting):
    """Adaptive Loss Weight Adjustment (Yu et al., 2021, arXiv 2103.09488), released rule ``alwa2``.

    Every ``interval`` iterations, with ``S`` the sample std (ddof=1) of the *weighted* group losses
    ``w_g * sum_k g_k L_k`` in the window: if ``S_cls > S_reg``, set ``w_cls = S_reg / S_cls``. ``w_reg`` never
    changes, and the weight is set, not multiplied: exactly the authors' mmdetection code.

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
        """Apply the rule to the current window, record it, and start a new window."""
        _, means, stds = self.window.read()
        s_cls, s_reg = (self.statistic(m, s) for m, s in zip(means, stds))
        self.set_weights(self.rule(s_cls, s_reg), self.w["reg"])
        update = WeightUpdate(self.iteration, s_cls, s_reg, self.w["cls"], self.w["reg"], *means)
        self.history.append(update)
        self.window.clear()
        return update

    def state_dict(self) -> dict:
        """Weights, counters, update history and the partly filled window."""
        return {**super().state_dict(), "interval": self.interval, "window": self.window.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        """Restore weights, history and the open window (the interval stays this run's)."""
        super().load_state_dict(state)
        self.window.load_state_dict(state["window"])


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


def _all_reduce_mean(x: torch.Tensor) -> torch.Tensor:
    """Average a tensor over DDP ranks (identity without a process group), so every rank sets the same weights."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        x = x.clone()
        dist.all_reduce(x)
        x /= dist.get_world_size()
    return x


class UncertaintyWeighting(LossWeighting):
    """Uncertainty weighting (Kendall, Gal, Cipolla, CVPR 2018), one learnable log-variance per ALWA group.

    ``loss = sum_g 0.5 * exp(-s_g) * L_g + 0.5 * s_g`` with ``s_g = log sigma_g^2`` learned by the optimiser
    (the trainer adds :meth:`parameters` to it, without weight decay), as in LibMTL. The reported weight of a group
    is ``0.5 * exp(-s_g)``, read once per epoch.
    """

    name = "uw"

    def __init__(self, groups: Sequence[str]):
        super().__init__(groups)
        self.log_vars = torch.nn.Parameter(torch.zeros(len(GROUPS)))
        self.set_weights(0.5, 0.5)

    def parameters(self) -> list[torch.nn.Parameter]:
        """The learnable log-variances, for the optimiser."""
        return [self.log_vars]

    def __call__(self, terms: torch.Tensor, training: bool = True) -> torch.Tensor:
        """``0.5 exp(-s_g) t_k + 0.5 s_g / n_g`` per term: the sum over terms is the UW loss."""
        if self.log_vars.device != terms.device:
            self.log_vars.data = self.log_vars.data.to(terms.device)
        mask = self.group_sums(torch.eye(len(self.groups), device=terms.device, dtype=terms.dtype))  # (2, n_terms)
        s = mask.T @ self.log_vars.to(terms.dtype)  # each term's group log-variance
        n = (mask.T @ mask.sum(1)).clamp(min=1)  # terms in each term's group
        if training:
            self.iteration += 1
        return 0.5 * torch.exp(-s) * terms + 0.5 * s / n

    def epoch_end(self, mean_terms: torch.Tensor | None) -> None:
        """Refresh the reported weights from the learned log-variances (one host read per epoch)."""
        w = (0.5 * torch.exp(-self.log_vars.detach())).cpu().tolist()
        self.set_weights(*w)

    def state_dict(self) -> dict:
        """Also the log-variances (their optimiser state is in the optimiser's)."""
        return {**super().state_dict(), "log_vars": self.log_vars.detach().cpu().clone()}

    def load_state_dict(self, state: dict) -> None:
        """Restore the log-variances in place, so the optimiser keeps pointing at the same tensor."""
        super().load_state_dict(state)
        self.log_vars.data.copy_(state["log_vars"].to(self.log_vars.device))


class DynamicWeightAverage(LossWeighting):
    """Dynamic weight average (Liu, Johns, Davison, CVPR 2019) over the two ALWA groups.

    ``w_g(t) = K exp(r_g(t-1) / T) / sum_i exp(r_i(t-1) / T)`` with ``r_g(t-1) = L_g(t-1) / L_g(t-2)`` the ratio of
    the group's mean loss over the last two epochs, ``K = 2`` groups and temperature ``T = 2``; weights are 1 for the
    first two epochs. Epoch means are averaged over DDP ranks.
    """

    name = "dwa"

    def __init__(self, groups: Sequence[str], temperature: float = 2.0):
        super().__init__(groups)
        self.temperature = float(temperature)
        self.epoch_losses: list[list[float]] = []  # per epoch: mean (cls, reg) group loss

    def epoch_end(self, mean_terms: torch.Tensor | None) -> None:
        """Record the epoch's mean group losses and set the weights for the next epoch."""
        if mean_terms is None:
            return
        g = _all_reduce_mean(self.group_sums(mean_terms.detach().float())).cpu().tolist()
        self.epoch_losses.append(g)
        if len(self.epoch_losses) >= 2:
            (c1, r1), (c2, r2) = self.epoch_losses[-2], self.epoch_losses[-1]
            ratios = torch.tensor([c2 / max(c1, 1e-12), r2 / max(r1, 1e-12)]) / self.temperature
            w = (len(GROUPS) * torch.softmax(ratios, 0)).tolist()
            self.set_weights(*w)
            self.history.append(WeightUpdate(self.iteration, *(ratios * self.temperature).tolist(), *w, *g))

    def state_dict(self) -> dict:
        """Also the per-epoch group losses the ratios come from."""
        return {**super().state_dict(), "epoch_losses": [list(x) for x in self.epoch_losses]}

    def load_state_dict(self, state: dict) -> None:
        """Restore weights and the epoch-loss history."""
        super().load_state_dict(state)
        self.epoch_losses = [list(x) for x in state.get("epoch_losses", [])]


WEIGHTINGS: dict[str, type[LossWeighting]] = {
    cls.name: cls for cls in (FixedWeighting, ALWA1, ALWA, ALWA2Raw, UncertaintyWeighting, DynamicWeightAverage)
}
"""Strategy name (the ``--weighting`` flag) -> class."""


def build_weighting(name: str, groups: Sequence[str], interval: int = 100) -> LossWeighting:
    """Make the strategy called ``name`` for terms in ``groups``.

    Raises:
        ValueError: for an unknown name (the message lists the choices) or an invalid interval.
    """
    if name not in WEIGHTINGS:
        raise ValueError(f"unknown weighting '{name}'; choose one of: {', '.join(WEIGHTINGS)}")
    cls = WEIGHTINGS[name]
    return cls(groups, interval=interval) if issubclass(cls, ALWA) else cls(groups)
