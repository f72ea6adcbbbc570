"""The code style pyproject.toml declares (ruff, 120 columns), checked with the pinned ruff as part of the tests, so
the README's test command and CI check it too."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT


def ruff(*args: str) -> subprocess.CompletedProcess:
    beside = Path(sys.executable).with_name("ruff")  # the pinned one requirements.txt installs into the venv
    exe = str(beside) if beside.exists() else shutil.which("ruff") or "ruff"
    return subprocess.run([exe, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", [("check", "."), ("format", "--check", ".")], ids=["check", "format"])
def test_ruff(args):
    p = ruff(*args)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
