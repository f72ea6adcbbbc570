"""The YOLOv5-style anchor-based head with objectness, on a YOLOv8 backbone and neck, as one package.

- :mod:`.head`: :class:`AnchorDetect`, the head module (3 anchors per level, YOLOv5 decoding);
- :mod:`.model`: :class:`AnchorDetectionModel`, which builds it from a model yaml whose last row is ``AnchorDetect``;
- :mod:`.loss`: :class:`AnchorDetectionLoss`, YOLOv5's ``ComputeLoss`` through alwa-yolo's weighting seam;
- :mod:`.autoanchor`: re-fits the anchors to a dataset before training when they recall too few boxes.
"""

from .head import AnchorDetect
from .loss import AnchorDetectionLoss
from .model import AnchorDetectionModel, is_anchor_cfg

__all__ = ["AnchorDetect", "AnchorDetectionLoss", "AnchorDetectionModel", "is_anchor_cfg"]
