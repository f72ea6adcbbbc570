"""Import shim: the anchor head moved to :mod:`alwa_yolo.anchor.head`.

Checkpoints written before the move pickle ``alwa_yolo.nn.anchor_head.AnchorDetect`` by module path.
"""

from ..anchor.head import AnchorDetect

__all__ = ["AnchorDetect"]
