"""Import shim: the anchor-based model moved to :mod:`alwa_yolo.anchor.model`.

Kept because checkpoints written before the move pickle ``alwa_yolo.anchor_model.AnchorDetectionModel`` by module
path; unpickling them imports this module and finds the same class.
"""

from .anchor.model import AnchorDetectionModel, is_anchor_cfg  # noqa: F401
