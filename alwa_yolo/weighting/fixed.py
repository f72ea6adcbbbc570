"""Hand-set gains only: the stock Ultralytics combination, the baseline every strategy is measured against."""

from __future__ import annotations

from .base import LossWeighting


class FixedWeighting(LossWeighting):
    """Both group weights stay 1.0: the loss is ``sum_k g_k L_k`` with the base gains (Ultralytics' by default)."""

    name = "fixed"
    default_gains = "hyp"
