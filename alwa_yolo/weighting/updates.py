"""One weight update as ``alwa.csv`` records it, and the names of its columns.

The strategies append :class:`WeightUpdate` records to their history; the weight log writes them as rows
(:func:`csv_columns`), and checkpoints keep the history as the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


def unit_name(term: str) -> str:
    """The log name of a term: ``box_loss`` -> ``box`` (the columns read ``w_box``, like Ultralytics' gain names)."""
    return term.removesuffix("_loss")


@dataclass(frozen=True)
class WeightUpdate:
    """One weight update, as written to ``alwa.csv``: one value per logged unit (group or term) for each field.

    Attributes:
        iteration: training iterations seen when the update happened (1-based, counts every training loss call).
        stats: per unit, the statistic the strategy's rule compared (NaN for strategies whose rule compares no window
            statistic, e.g. DWA).
        weights: per unit, the weight after the update.
        means: per unit, the mean loss over the period the update looked at (a window, an epoch), as the strategy
            observed it (the released ALWA rules observe weighted losses, every other strategy the gain-scaled,
            unweighted ones).
        skipped: the period's statistics were unusable (zero, NaN, too few values) and the weights were left alone.
        epoch: the training epoch (1-based) in which the update happened.
    """

    iteration: int
    stats: dict[str, float] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    means: dict[str, float] = field(default_factory=dict)
    skipped: bool = False
    epoch: int = 0

    # The two-group fields of an update logged per group (every released rule's), as ALWA's formulas name them.
    stat_cls = property(lambda self: self.stats["cls"])
    stat_reg = property(lambda self: self.stats["reg"])
    w_cls = property(lambda self: self.weights["cls"])
    w_reg = property(lambda self: self.weights["reg"])
    mean_cls = property(lambda self: self.means["cls"])
    mean_reg = property(lambda self: self.means["reg"])

    def row(self) -> dict[str, Any]:
        """The flat ``alwa.csv`` row, ``{iteration, epoch, stat_<unit>..., w_<unit>..., mean_<unit>..., skipped}``
        (also how checkpoints keep the history: a checkpoint of alwa-yolo 0.1 holds the same keys)."""
        return {
            "iteration": self.iteration,
            "epoch": self.epoch,
            **{f"stat_{u}": v for u, v in self.stats.items()},
            **{f"w_{u}": v for u, v in self.weights.items()},
            **{f"mean_{u}": v for u, v in self.means.items()},
            "skipped": self.skipped,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any], units: Sequence[str]) -> WeightUpdate:
        """Inverse of :meth:`row` for the strategy's ``units``."""

        def values(prefix: str) -> dict[str, float]:
            return {u: float(row[f"{prefix}_{u}"]) for u in units}

        return cls(
            int(row["iteration"]),
            values("stat"),
            values("w"),
            values("mean"),
            skipped=bool(row.get("skipped", False)),
            epoch=int(row.get("epoch", 0)),
        )


def csv_columns(units: Sequence[str]) -> tuple[str, ...]:
    """``alwa.csv``'s header for these units: the statistic each unit's rule compared, the weights after the update,
    the means over the period the update looked at, and whether the period was unusable (weights left alone)."""
    return ("iteration", "epoch", *(f"{k}_{u}" for k in ("stat", "w", "mean") for u in units), "skipped")
