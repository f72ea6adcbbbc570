"""Loss-weighting strategies: how a detector's loss terms are combined into the one scalar it minimises.

One small class per strategy, each in its own module, behind :class:`~alwa_yolo.weighting.base.LossWeighting`;
:data:`WEIGHTINGS` maps the ``--weighting`` name to the class (in the spirit of LibMTL's ``weighting/``). Adding a
strategy is one module plus one line below.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .alwa import ALWA, ALWA1, ALWA2Raw
from .base import GROUPS, LossWeighting
from .calibrated import CalibratedALWA
from .calibrated_aux import AuxiliaryRatioALWA
from .dwa import DynamicWeightAverage
from .fixed import FixedWeighting
from .loss_ratio import LossRatioWeighting
from .reference import ReferenceALWA
from .reference_ratio import ReferenceLossRatio
from .updates import WeightUpdate
from .uw import UncertaintyWeighting
from .uw_so import SoftOptimalUncertaintyWeighting
from .window import RunningWindow, WindowedWeighting

WEIGHTINGS: dict[str, type[LossWeighting]] = {
    cls.name: cls
    for cls in (
        FixedWeighting,
        ALWA1,
        ALWA,
        ALWA2Raw,
        UncertaintyWeighting,
        DynamicWeightAverage,
        CalibratedALWA,
        AuxiliaryRatioALWA,
        ReferenceALWA,
        LossRatioWeighting,
        ReferenceLossRatio,
        SoftOptimalUncertaintyWeighting,
    )
}
"""Strategy name (the ``--weighting`` flag) -> class."""


def build_weighting(name: str, groups: Sequence[str], interval: int = 100, **options: Any) -> LossWeighting:
    """Make the strategy called ``name`` for terms in ``groups``.

    Args:
        name: a key of :data:`WEIGHTINGS`.
        groups: the ALWA group of each loss term, in the criterion's order.
        interval: iterations per window, for the strategies that keep one (``--alwa-interval``).
        **options: further resolved training options a strategy may read (see ``from_options``).

    Raises:
        ValueError: for an unknown name (the message lists the choices) or an invalid interval.
    """
    if name not in WEIGHTINGS:
        raise ValueError(f"unknown weighting '{name}'; choose one of: {', '.join(WEIGHTINGS)}")
    return WEIGHTINGS[name].from_options(groups, {"alwa_interval": interval, **options})


__all__ = [
    "ALWA",
    "ALWA1",
    "GROUPS",
    "WEIGHTINGS",
    "ALWA2Raw",
    "AuxiliaryRatioALWA",
    "CalibratedALWA",
    "DynamicWeightAverage",
    "FixedWeighting",
    "LossRatioWeighting",
    "LossWeighting",
    "ReferenceALWA",
    "ReferenceLossRatio",
    "RunningWindow",
    "SoftOptimalUncertaintyWeighting",
    "UncertaintyWeighting",
    "WeightUpdate",
    "WindowedWeighting",
    "build_weighting",
]
