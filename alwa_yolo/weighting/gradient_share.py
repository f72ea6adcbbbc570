"""``alwa-grad``: ``alwa-ref`` with the chosen box loss given the native loss's *gradient* share, not its value share.

Why a new strategy. ``alwa-ref`` carries Ultralytics' tuned balance over to another box loss by matching loss
values: over calibration the chosen term's gain becomes ``7.5 * mean(CIoU) / mean(chosen)``. Loss values are a poor
exchange rate between box losses of different shapes. Early in training, when most predicted boxes barely overlap
their targets, ``1 - CIoU`` saturates near 1 while an L1 distance in grid cells is large, so the value ratio gives
L1 a small gain; yet the pull each loss exerts on a predicted box (its gradient) does not saturate the same way:
CIoU's is about the inverse of the box's size, L1's a constant per coordinate. What the optimiser feels is the
gradient, so here the gain is set to make the chosen term pull on the predicted boxes as hard as CIoU did under the
tuned gain: ``7.5 * mean(|dCIoU/dboxes|) / mean(|dchosen/dboxes|)`` (each iteration's gradient ratio weighted by the
chosen term's value, through :meth:`~alwa_yolo.losses.detection.RegressionBboxLoss.native_measure`).

Everything else is ``alwa-ref``'s: the reference gains, equal start sizes where no reference exists, the rule. With
the native box loss (CIoU, the default) nothing is measured and the run is ``alwa-ref``'s, bit for bit.
"""

from __future__ import annotations

from .reference import ReferenceALWA


class GradientShareALWA(ReferenceALWA):
    """``alwa-ref`` whose box share is measured on gradients (module docstring)."""

    name = "alwa-grad"
    share_by = "gradient"
    """How the criterion measures the native box term it hands over (:meth:`note_native`)."""
