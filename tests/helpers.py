"""Helpers the test modules share (fixtures live in conftest.py): paths, running the scripts, reading CSVs."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The repository root."""

TRAIN_FAST = ["--device", "cpu", "--workers", "0", "plots=False", "val=True"]
"""Flags that keep a test training run small on the CPU."""


def run_script(*args: str, cwd: Path | None = None, timeout: float = 600, env: dict | None = None):
    """Run ``python <args>`` from the repository (or ``cwd``) and return the completed process."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def read_csv(path: Path) -> list[dict]:
    """Rows of a CSV as dicts, keys stripped (Ultralytics pads its ``results.csv`` header)."""
    with open(path) as f:
        return [{k.strip(): v for k, v in row.items()} for row in csv.DictReader(f)]
