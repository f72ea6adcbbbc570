"""Where alwa-yolo's own files are: the repository in a checkout, the installed package in a wheel.

``data/`` (the demo-set and dataset yamls) and ``cfg/`` (model and hyp yamls) sit at the top of the repository; a
wheel carries them as package data under ``alwa_yolo/resources/`` (``pyproject.toml``). :func:`resource` finds a
path given relative to either, so ``--data data/shapes.yaml`` works from a checkout, from any folder, and after
``pip install alwa-yolo``. Runs are written under the current folder (``runs/train/exp``, ``runs/val/exp``), never
next to the code.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The repository (in a checkout; site-packages in an installed wheel)."""

RESOURCES = Path(__file__).resolve().parent / "resources"
"""``data/`` and ``cfg/`` inside an installed wheel."""

RUNS = {"train": ("runs/train", "exp"), "val": ("runs/val", "exp")}
"""The run-folder layout of every entry point (YOLOv5's): ``--project`` and ``--name`` defaults, relative to the
current folder. The Python API's trainers use the ``train`` one when no ``project`` is given."""


def resource(path: str) -> str:
    """``path`` as given if it exists; else the repository's or the installed package's file of that name
    (``data/shapes.yaml`` from any folder); else ``path`` unchanged (the caller reports it missing)."""
    if not path or Path(path).exists():
        return path
    for base in (ROOT, RESOURCES):
        if (base / path).exists():
            return str(base / path)
    return path
