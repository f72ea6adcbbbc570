"""Network modules alwa-yolo adds to Ultralytics' own: the YOLOv5-style anchor-based head.

Nothing is registered into Ultralytics here. ``parse_model`` cannot build a head it does not know even if the name
were injected into ``ultralytics.nn.tasks``' globals: for a multi-input layer (``from: [15, 18, 21]``) of a class
outside its hard-coded head set it computes ``ch[f]`` with a list index and fails. So
:class:`~alwa_yolo.anchor_model.AnchorDetectionModel` hands Ultralytics the backbone and neck rows and builds the
head row itself; pickled checkpoints find these classes by module path, with no import side effects needed.
"""

from .anchor_head import AnchorDetect

__all__ = ["AnchorDetect"]
