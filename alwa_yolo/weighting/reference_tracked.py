"""``alwa-share``: ``alwa-ref`` with the box loss's share of the native loss kept all run, not only at the start.

Why a new strategy. ``alwa-ref`` gives a non-native box loss (``--reg-loss l1``, ...) the share the native CIoU term
has under the tuned box gain, measured over the calibration iterations: gain ``7.5 * mean(CIoU) / mean(L1)``. The
ratio of the two losses on the same assigned boxes is not a constant of the loss pair, though: early in training
from scratch most predicted boxes do not overlap their targets, CIoU saturates near 1 while L1 in grid cells grows
with the distance, and the ratio is small; as boxes start to overlap both shrink with the error and the ratio
rises (measured on the demo set: L1's share-matched gain goes from about 1.5 in the first iterations to about 5
after 160). A gain frozen at the start keeps L1 under its share for the rest of the run; benchmarks/README.md,
"Default", measures what that costs in short runs.

Here the ratio is tracked after calibration, as exponentially decayed sums over about a calibration's length of
iterations (the calibration's sums are where the tracking starts, so the gain moves on without a jump), and the
box term's gain follows it every iteration. Everything else is ``alwa-ref``'s: the reference gains on every
other term, the same rule on the same statistics, ``alwa-cal`` where a head has no reference. Where the run's box
loss is the native one the two losses are the same values, the ratio is 1 exactly, and the run is
``alwa-ref``'s bit for bit (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as dist

from .collectives import distributed
from .reference import ReferenceALWA
from .reference_ratio import ReferenceLossRatio


class TrackedReferenceALWA(ReferenceALWA):
    """``alwa-ref`` whose box share follows the native : chosen loss ratio all run (module docstring)."""

    name = "alwa-share"

    def __init__(
        self,
        groups: Sequence[str],
        interval: int = 100,
        term_names: Sequence[str] | None = None,
        term_gains: Sequence[float] | None = None,
        reference_gains: Sequence[float] | None = None,
    ):
        super().__init__(groups, interval, term_names, term_gains, reference_gains)
        self.decay = 1.0 - 1.0 / self.calibration_length
        self.tracked_native: torch.Tensor | None = None  # decayed raw sums of each name under the native loss
        self.tracked_chosen: torch.Tensor | None = None  # ... and under the run's loss, on the same predictions

    @classmethod
    def from_options(cls, groups: Sequence[str], options: dict[str, Any]) -> TrackedReferenceALWA | ReferenceLossRatio:
        """``alwa-ref``'s options; on a head whose reference does not balance the groups (RT-DETR, which has no
        choice of box loss to track), ``alwa-ref``'s run there under this name."""
        strategy = super().from_options(groups, options)
        strategy.name = cls.name
        return strategy

    @property
    def wants_native(self) -> bool:
        """The native box term every training iteration (the ratio is tracked all run)."""
        return self._reference is not None

    def __call__(self, terms: torch.Tensor, training: bool = True) -> torch.Tensor:
        """After calibration, this iteration's native : chosen values join the tracked ratio before weighting."""
        if training and self._reference is not None and not self.calibrating:
            self.track(terms.detach())
        return super().__call__(terms, training)

    def track(self, terms: torch.Tensor) -> None:
        """Decay the tracked sums, add this iteration's raw values (names with a value > 0) and set the scale."""
        dev = terms.device
        tie, gains = self._tie.to(dev), self._gains.to(dev, torch.float64)
        native = self._native if self._native is not None else terms
        self._native = None
        raw, raw_native = tie @ (terms.double() / gains), tie @ (native.to(dev).double() / gains)
        seen = raw > 0
        zero = torch.zeros_like(raw)
        added = torch.stack((torch.where(seen, raw_native, zero), torch.where(seen, raw, zero), seen.double()))
        if distributed():  # every rank tracks the pooled values, so every rank sets the same scale
            dist.all_reduce(added)
        kept = added[2] > 0  # a name decays only where it has values this iteration
        if self.tracked_native is None:
            self.tracked_native, self.tracked_chosen = self.native_sums.to(dev), self.calibration_sums.to(dev)
        factor = torch.where(kept, self.decay, 1.0).double()
        tracked = torch.stack((self.tracked_native.to(dev), self.tracked_chosen.to(dev))) * factor + added[:2]
        self.tracked_native, self.tracked_chosen = tracked[0], tracked[1]
        has = self.tracked_chosen > 0
        ratio = torch.where(
            has, self.tracked_native / self.tracked_chosen.clamp(min=1e-300), torch.ones_like(self.tracked_chosen)
        )
        self.applied = self._reference_scale(ratio)

    def to(self, device: torch.device | str) -> TrackedReferenceALWA:
        """Also the tracked sums."""
        if self.tracked_native is not None:
            self.tracked_native, self.tracked_chosen = self.tracked_native.to(device), self.tracked_chosen.to(device)
        return super().to(device)

    def state_dict(self) -> dict:
        """``alwa-ref``'s state plus the tracked sums."""
        tracked = None
        if self.tracked_native is not None:
            tracked = torch.stack((self.tracked_native, self.tracked_chosen)).detach().cpu().clone()
        return {**super().state_dict(), "tracked": tracked}

    def load_state_dict(self, state: dict) -> None:
        """Restore, on the strategy's current device."""
        super().load_state_dict(state)
        tracked = state["tracked"]
        if tracked is None:
            self.tracked_native = self.tracked_chosen = None
        else:
            tracked = tracked.to(self.applied.device, copy=True)
            self.tracked_native, self.tracked_chosen = tracked[0], tracked[1]
