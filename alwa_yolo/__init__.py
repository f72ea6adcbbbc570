"""alwa-yolo: YOLO training on Ultralytics with loss weights set by ALWA instead of by hand.

ALWA is "Adaptive Loss Weight Adjustment" from "Revisiting the Loss Weight Adjustment in Object Detection"
(Yu et al., 2021). See README.md and docs/ALWA.md.
"""

__version__ = "0.4.0"

from .errors import UserError
from .weighting import WEIGHTINGS, LossWeighting, build_weighting


def __getattr__(name: str):
    """Import the trainer lazily: ``import alwa_yolo`` stays cheap for the converters and the strategies."""
    if name == "ALWADetectionTrainer":
        from .trainer import ALWADetectionTrainer

        return ALWADetectionTrainer
    raise AttributeError(f"module 'alwa_yolo' has no attribute '{name}'")


__all__ = ["WEIGHTINGS", "ALWADetectionTrainer", "LossWeighting", "UserError", "__version__", "build_weighting"]
