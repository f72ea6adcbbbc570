"""Evaluate a trained detector or segmenter: ``python val.py --weights best.pt --help``.

The implementation is :mod:`alwa_yolo.val` (also installed as the ``alwa-val`` command by ``pip install -e .``);
this file keeps the YOLOv5 habits: ``python val.py ...`` and, from Python, ``import val; val.run(weights=...)``.
"""

from alwa_yolo.val import *  # noqa: F403
from alwa_yolo.val import cli, main, parse_opt, run, summary  # noqa: F401

if __name__ == "__main__":
    cli()
