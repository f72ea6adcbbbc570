"""The interface every loss-weighting strategy implements (the record of an update: :mod:`.updates`; the DDP
collectives: :mod:`.collectives`).

A strategy sees, every training iteration, a *named vector*: the gain-scaled loss terms ``g_k * L_k`` of the
criterion, in its order, with a name (``box_loss``, ``cls_loss``, ...) and an ALWA group (``"cls"`` for
classification and objectness, ``"reg"`` for localisation) for each position, both declared once when the strategy
is built. It returns the weighted vector whose sum is the training loss. Weights are held per term name; ALWA's two
group weights are a view over them (:attr:`LossWeighting.w`, :meth:`LossWeighting.set_weights`). Terms that share a
name (the two branches of an end-to-end head) share a weight.

What a strategy logs (``alwa.csv``, ``results.csv``, ``alwa.png``) is per *unit*: the two groups for the strategies
whose rule reads group statistics (:attr:`LossWeighting.log_by` ``"group"``, every released rule), or each term
name for a strategy that weights terms one by one (``"term"``); the columns come from those names.

A strategy never calls ``backward`` and never reads a tensor back to the host between its updates, so a GPU never
waits on it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from .collectives import all_reduce_mean
from .updates import WeightUpdate, unit_name

GROUPS = ("cls", "reg")
"""The two ALWA groups: classification-like terms (cls, obj) and localisation terms (box, dfl, l1, seg)."""


def gain_divisor(gains: torch.Tensor) -> torch.Tensor:
    """The base gains as a float64 divisor for the strategies that divide them out: a gain of 0 (the term switched
    off, which stock Ultralytics accepts) becomes infinity, so the term divides to 0 and stays off instead of 0 / 0.
    Any other gain divides exactly as itself."""
    gains = gains.to(torch.float64)
    return torch.where(gains > 0, gains, torch.inf)


def usable(n: float, s_cls: float, s_reg: float) -> bool:
    """Whether a window's statistics can drive an update: two or more values, finite, and ``S_reg > 0``.

    A window without foreground makes every localisation term exactly 0, so ``S_reg = 0``, and a rule of the form
    ``w_cls = S_reg / S_cls`` would set ``w_cls = 0``; a rule that then reads *weighted* values sees a classification
    std of 0 forever and can never raise the weight again. A NaN loss makes every statistic NaN. Such windows are
    skipped. (``S_cls = 0`` is harmless: classification is perfectly steady and the rules leave or restore it at 1.)
    """
    return n >= 2 and math.isfinite(s_cls) and math.isfinite(s_reg) and s_reg > 0


class LossWeighting:
    """Base interface: turn gain-scaled loss terms into weighted terms, one training iteration at a time.

    Subclasses set :attr:`name` (the ``--weighting`` value) and override :meth:`observe` (window statistics),
    :meth:`epoch_end` (per-epoch rules) or :meth:`weight` (learned weights). Weights are per term name
    (:attr:`weights`); :meth:`set_weights` and :attr:`w` are the two-group view ALWA's rules use.

    Args:
        groups: the ALWA group (``"cls"`` or ``"reg"``) of each loss term, in the criterion's order.
        names: the name of each loss term (``box_loss``, ...); terms with one name share a weight and must share a
            group. Default: ``term0``, ``term1``, ... (a strategy built outside a criterion).
    """

    name = "base"
    learnable = False
    """Whether the strategy has parameters the optimiser trains (:meth:`parameters`)."""
    default_gains = "unit"
    """Base gains under ``--gains auto``: ``"unit"`` (1.0 each, the paper's setting) or ``"hyp"`` (Ultralytics')."""
    log_by = "group"
    """What the logs show: ``"group"`` (``w_cls`` / ``w_reg``, the group statistics) or ``"term"`` (one column per
    term name, ``w_box`` / ``w_cls`` / ``w_dfl``, for a strategy that weights the terms one by one)."""

    def __init__(self, groups: Sequence[str], names: Sequence[str] | None = None):
        unknown = set(groups) - set(GROUPS)
        if unknown:
            raise ValueError(f"unknown loss group(s) {sorted(unknown)}; each term must be in one of {GROUPS}")
        self.groups = tuple(groups)
        self.names = tuple(names) if names is not None else tuple(f"term{i}" for i in range(len(self.groups)))
        if len(self.names) != len(self.groups):
            raise ValueError(f"{len(self.names)} term names for {len(self.groups)} terms")
        self.group_of = dict(zip(self.names, self.groups))
        if len(set(zip(self.names, self.groups))) != len(self.group_of):
            raise ValueError(f"terms that share a name must share a group: {list(zip(self.names, self.groups))}")
        self.term_names = tuple(self.group_of)
        """Each distinct term name once, in order: the keys of :attr:`weights`."""
        self.weights = dict.fromkeys(self.term_names, 1.0)
        """The weight of each term name (every position with that name)."""
        self.iteration = 0
        self.epoch = 0  # set by the trainer at each epoch start, stamped on updates
        self.history: list[WeightUpdate] = []
        self.epoch_losses: list[list[float]] = []  # per epoch: the mean loss of each unit (pooled), iteration
        self.base_gains: dict[str, float] = {}  # each term name's base gain, set by the criterion (for the picture)
        self.last_terms: torch.Tensor | None = None  # (n_terms,) the last training iteration's terms, on device
        self.last_weighted: torch.Tensor | None = None  # (n_terms,) the same after weighting
        self.last_group_losses: torch.Tensor | None = None  # (2,) group sums of the last training iteration, on device
        self.last_unit_losses: torch.Tensor | None = None  # (units,) the same per logged unit (the groups' by default)
        self._epoch_sums: torch.Tensor | None = None  # (units,) running sum of this epoch's unit losses, on device
        self._epoch_count = 0
        self._masks: dict[tuple[str, torch.device], torch.Tensor] = {}
        self._term_weights: torch.Tensor | None = None

    @classmethod
    def from_options(cls, groups: Sequence[str], options: dict[str, Any]) -> LossWeighting:
        """Build from the resolved training options; strategies with options of their own override this."""
        return cls(groups, names=options.get("term_names"))

    # --- the units the logs show ---------------------------------------------------------------------------------
    @property
    def units(self) -> tuple[str, ...]:
        """The logged units: :data:`GROUPS`, or each term name without ``_loss`` (:attr:`log_by`)."""
        return GROUPS if self.log_by == "group" else tuple(unit_name(n) for n in self.term_names)

    def unit_weights(self) -> dict[str, float]:
        """The weights now in force, per logged unit (what ``alwa.csv`` and ``results.csv`` record)."""
        if self.log_by == "group":
            return self.w
        return {unit_name(n): w for n, w in self.weights.items()}

    # --- the weights -------------------------------------------------------------------------------------------
    @property
    def w(self) -> dict[str, float]:
        """The two-group view ``{"cls": w_cls, "reg": w_reg}``: the weight of each group's terms (their mean, for a
        strategy that gives a group's terms different weights; 1.0 for a group without terms)."""
        view = {}
        for group in GROUPS:
            ws = [w for n, w in self.weights.items() if self.group_of[n] == group]
            view[group] = ws[0] if len(set(ws)) == 1 else (sum(ws) / len(ws) if ws else 1.0)
        return view

    def set_weights(self, w_cls: float, w_reg: float) -> None:
        """Set every classification term's weight to ``w_cls`` and every localisation term's to ``w_reg``."""
        by_group = {"cls": float(w_cls), "reg": float(w_reg)}
        self.set_term_weights({n: by_group[g] for n, g in self.group_of.items()})

    def set_term_weights(self, weights: Mapping[str, float]) -> None:
        """Set the weights of the named terms (others keep theirs); the per-term tensor is rebuilt lazily."""
        unknown = set(weights) - set(self.weights)
        if unknown:
            raise ValueError(f"no loss term(s) {sorted(unknown)}; this criterion has {list(self.term_names)}")
        self.weights.update({n: float(w) for n, w in weights.items()})
        self._term_weights = None

    # --- what the criterion calls -------------------------------------------------------------------------------
    def __call__(self, terms: torch.Tensor, training: bool = True) -> torch.Tensor:
        """Weight one iteration's terms.

        Args:
            terms: (n_terms,) gain-scaled losses ``g_k * L_k`` with their autograd graph, in the declared order.
            training: whether this is a training iteration; validation losses are weighted but never observed.

        Returns:
            (torch.Tensor): (n_terms,) weighted terms; their sum is the loss the optimiser sees (before batch size).
        """
        weighted = self.weight(terms)
        if training:
            self.iteration += 1
            seen = terms.detach()
            self.last_terms, self.last_weighted = seen, weighted.detach()
            self.last_group_losses = self.group_sums(seen)
            self.last_unit_losses = self.last_group_losses if self.log_by == "group" else self.unit_sums(seen)
            wide = self.last_unit_losses.to(torch.float32 if seen.device.type == "mps" else torch.float64)
            self._epoch_sums = wide if self._epoch_sums is None else self._epoch_sums + wide
            self._epoch_count += 1
            self.observe(seen, weighted.detach())
        return weighted

    def weight(self, terms: torch.Tensor) -> torch.Tensor:
        """The weighted terms (each term times its name's weight); learned strategies override this."""
        return terms * self.term_weights(terms)

    def term_weights(self, terms: torch.Tensor) -> torch.Tensor:
        """Per-position weights as a tensor on the terms' device (rebuilt only when the weights change).

        Built from a cached 0/1 matrix and the weights as Python scalars, so the iteration after an update copies
        nothing from the host (``torch.tensor(..., device=cuda)`` is a blocking copy, a sync on a GPU).
        """
        tw = self._term_weights
        if tw is None or tw.device != terms.device or tw.dtype != terms.dtype:
            tie = self.name_matrix(terms)
            tw = sum(tie[i] * self.weights[n] for i, n in enumerate(self.term_names))
            self._term_weights = tw
        return tw

    def _matrix(self, kind: str, like: torch.Tensor) -> torch.Tensor:
        mask = self._masks.get((kind, like.device))
        if mask is None:
            rows = GROUPS if kind == "group" else self.term_names
            keys = self.groups if kind == "group" else self.names
            mask = torch.tensor([[k == row for k in keys] for row in rows], device=like.device)
            self._masks[(kind, like.device)] = mask
        return mask.to(like.dtype)

    def group_matrix(self, like: torch.Tensor) -> torch.Tensor:
        """(2, n_terms) 0/1 matrix, row g marks the terms of group ``GROUPS[g]`` (cached per device)."""
        return self._matrix("group", like)

    def name_matrix(self, like: torch.Tensor) -> torch.Tensor:
        """(names, n_terms) 0/1 matrix, row i marks the positions named ``term_names[i]`` (cached per device)."""
        return self._matrix("name", like)

    def group_sums(self, terms: torch.Tensor) -> torch.Tensor:
        """(2,) sums of the terms of each group, cls first; device ops, so no host sync.

        A product and a sum rather than a matrix product: the trainer calls the strategy inside ``autocast``, which
        would run a matmul in half precision and round the sums the windows read (bf16 keeps 8 bits).
        """
        return (self.group_matrix(terms) * terms).sum(1)

    def name_sums(self, terms: torch.Tensor) -> torch.Tensor:
        """(names,) sums of the terms of each term name (the two branches of an end-to-end head together)."""
        return (self.name_matrix(terms) * terms).sum(1)

    def unit_sums(self, terms: torch.Tensor) -> torch.Tensor:
        """(units,) sums of the terms of each logged unit (the groups, or each term name)."""
        if self.log_by == "group":
            return self.group_sums(terms)
        return self.name_sums(terms)

    def parameters(self) -> list[torch.nn.Parameter]:
        """Learnable parameters the optimiser must update (only uncertainty weighting has any)."""
        return []

    def calibration(self) -> dict[str, float]:
        """Per-term gains a calibrating strategy found, by term name; empty for the others (and before it is done)."""
        return {}

    def observe(self, terms: torch.Tensor, weighted: torch.Tensor) -> None:
        """See one training iteration's detached terms before and after weighting (``self.iteration`` counts it)."""

    # --- what the trainer calls ---------------------------------------------------------------------------------
    def epoch_end(self) -> None:
        """Hook at the end of each training epoch, called on every DDP rank.

        The base class records the epoch's mean loss of each unit, as it observed them (averaged over ranks; one
        host read per epoch): ``alwa.png`` draws the whole run's loss curve from them after a resume, and DWA sets
        its weights from them.
        """
        if self._epoch_count:
            means = all_reduce_mean(self._epoch_sums / self._epoch_count)
            self.epoch_losses.append([*means.cpu().tolist(), self.iteration])
        self._epoch_sums, self._epoch_count = None, 0

    def record(self, stats: Sequence[float], means: Sequence[float], skipped: bool = False) -> WeightUpdate:
        """Append an update with the weights now in force to :attr:`history` and return it.

        Args:
            stats: the statistic the rule compared, one per unit (:attr:`units`, in order).
            means: the mean loss of each unit over the period the rule looked at.
            skipped: the period was unusable and the weights were left alone.
        """
        units = self.units
        if len(stats) != len(units) or len(means) != len(units):
            raise ValueError(f"{self.name} records {len(stats)} stats / {len(means)} means for units {units}")
        update = WeightUpdate(
            self.iteration,
            dict(zip(units, map(float, stats))),
            self.unit_weights(),
            dict(zip(units, map(float, means))),
            skipped=skipped,
            epoch=self.epoch,
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
            "weights": dict(self.weights),
            "w": self.w,
            "iteration": self.iteration,
            "epoch": self.epoch,
            "history": [u.row() for u in self.history],
            "epoch_losses": [list(x) for x in self.epoch_losses],
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`; refuses a state saved by a different strategy or for other terms.

        A state without per-term weights (alwa-yolo 0.1) restores the two group weights it holds.
        """
        if state.get("name") != self.name:
            raise ValueError(f"checkpoint holds '{state.get('name')}' weighting state, this run uses '{self.name}'")
        if "weights" in state:
            if set(state["weights"]) != set(self.term_names):
                raise ValueError(
                    f"checkpoint's weighting state is for terms {sorted(state['weights'])}, this run's criterion "
                    f"has {sorted(self.term_names)}"
                )
            self.set_term_weights(state["weights"])
        else:
            self.set_weights(state["w"]["cls"], state["w"]["reg"])
        self.iteration = int(state["iteration"])
        self.epoch = int(state.get("epoch", 0))
        self.history = [WeightUpdate.from_row(u, self.units) for u in state.get("history", [])]
        self.epoch_losses = [list(x) for x in state.get("epoch_losses", [])]
