"""Import shim: autoanchor moved to :mod:`alwa_yolo.anchor.autoanchor`."""

from .anchor.autoanchor import autoanchor_callback, check_anchors, kmeans_anchors, labels_wh  # noqa: F401
