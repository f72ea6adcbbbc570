"""Train a YOLO model whose loss weights are set by a weighting strategy: ``python train.py --help``.

The implementation is :mod:`alwa_yolo.train` (also installed as the ``alwa-train`` command by ``pip install -e .``);
this file keeps the YOLOv5 habits: ``python train.py ...`` and, from Python, ``import train; train.run(epochs=3)``.
"""

from alwa_yolo.train import *  # noqa: F403
from alwa_yolo.train import cli, main, overrides_from, parse_opt, run  # noqa: F401

if __name__ == "__main__":
    cli()
