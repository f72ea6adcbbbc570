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


def val_py_and_stock(data_yaml: Path, best: Path, tmp_path: Path, stock_class: str = "YOLO") -> tuple[dict, object]:
    """``val.py``'s JSON summary of ``best`` on ``data_yaml`` (64 pixels, CPU) and what stock Ultralytics'
    ``<stock_class>(best).val()`` returns for the same weights and data, for the tests that compare them."""
    import json

    import ultralytics

    from alwa_yolo.data.resolve import resolve_data

    out = tmp_path / "val.json"
    p = run_script("val.py", "--data", str(data_yaml), "--weights", str(best), "--img", "64", "--json", str(out),
                   "--device", "cpu", "--project", str(tmp_path), "--no-plots")  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    stock = getattr(ultralytics, stock_class)(str(best)).val(
        data=str(resolve_data(data_yaml)), imgsz=64, device="cpu", plots=False, project=str(tmp_path), name="stock"
    )
    return json.loads(out.read_text()), stock
