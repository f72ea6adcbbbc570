"""``ref-ratio``: the loss-ratio balance between the two groups, on the head's tuned balance inside them.

Why a new strategy. On RT-DETR the peer ``loss-ratio`` (localisation weighted to the classification loss's value
every iteration, Oksuz et al. 2021) was ahead of RT-DETR's hard-coded gains, and so of the 0.4 default, which kept
them (benchmarks/README.md, "RT-DETR"); this is the default's run on RT-DETR since. ``loss-ratio`` itself is not
robust to the gains it is given: the balance *inside* the localisation group (GIoU : L1 on RT-DETR, box : dfl on
YOLO) is the run's, so a mis-set gain moves it.
Here each term's base gain is divided out and its reference gain (the head's tuned one, ``alwa-ref``'s) applied
first, as ``alwa-ref`` does, and then the two groups are balanced as ``loss-ratio`` balances them:
``w_reg = L_cls / L_reg`` on those terms, every iteration. So the run is the same from any gains, and with the
reference gains as base gains it is ``loss-ratio``'s run, bit for bit (tested). Where a head has no reference
(the anchor head) the run's gains stay, as under ``loss-ratio``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .base import gain_divisor
from .loss_ratio import LossRatioWeighting


class ReferenceLossRatio(LossRatioWeighting):
    """``loss-ratio`` on the reference gains (module docstring).

    Args:
        groups: ALWA group of each loss term.
        names: each term's name.
        term_gains: each term's base gain (divided out where there is a reference).
        reference_gains: each term's tuned gain; None: the run's gains are kept.
    """

    name = "ref-ratio"

    def __init__(
        self,
        groups: Sequence[str],
        names: Sequence[str] | None = None,
        term_gains: Sequence[float] | None = None,
        reference_gains: Sequence[float] | None = None,
    ):
        super().__init__(groups, names)
        self.reference = None if reference_gains is None or term_gains is None else list(reference_gains)
        if self.reference is None:
            self.scale = None
        else:
            reference = torch.tensor(list(reference_gains), dtype=torch.float64)
            self.scale = reference / gain_divisor(torch.tensor(list(term_gains), dtype=torch.float64))

    @classmethod
    def from_options(cls, groups: Sequence[str], options: dict[str, Any]) -> ReferenceLossRatio:
        """Term names, base gains and reference gains from the criterion (the seam passes them)."""
        return cls(groups, options.get("term_names"), options.get("term_gains"), options.get("reference_gains"))

    def weight(self, terms: torch.Tensor) -> torch.Tensor:
        """The terms on their reference gains, then ``loss-ratio``'s group weights."""
        if self.scale is not None:
            terms = terms * self.scale.to(terms.device, terms.dtype)
        return super().weight(terms)

    def calibration(self) -> dict[str, float]:
        """The effective gain of each term on its raw loss before the group weights (the reference gains)."""
        return {} if self.reference is None else dict(zip(self.names, map(float, self.reference)))

    def to(self, device: torch.device | str) -> ReferenceLossRatio:
        """Also the reference scale."""
        if self.scale is not None:
            self.scale = self.scale.to(device)
        return super().to(device)


class DefaultReferenceRatio(ReferenceLossRatio):
    """The default (``alwa-ref``) on a head whose reference gains do not balance the two groups (RT-DETR):
    ``ref-ratio``'s run under the default's name (:meth:`~alwa_yolo.weighting.reference.ReferenceALWA.from_options`)."""

    name = "alwa-ref"
    head_note = (
        "on this head: its tuned gains inside each group, the two groups balanced every iteration (ref-ratio's run; "
        "README, 'Weighting strategies')"
    )
    """What the run's log says about the default on this head."""
