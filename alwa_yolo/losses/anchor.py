"""Import shim: the anchor-based criterion moved to :mod:`alwa_yolo.anchor.loss`."""

from ..anchor.loss import LOSS_NAMES, AnchorDetectionLoss, anchor_gains, build_targets  # noqa: F401
