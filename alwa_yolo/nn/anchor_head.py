"""Import shim for checkpoints that pickle ``alwa_yolo.nn.anchor_head.AnchorDetect``; see :mod:`alwa_yolo.anchor`."""

from ..anchor.head import AnchorDetect  # noqa: F401
