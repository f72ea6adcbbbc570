"""A real install: the wheel carries what the commands need, and they work from an empty folder.

The wheel is built from a copy of the files git tracks or would track (the checkout gets no ``build/``), installed
without its dependencies into a private ``--target`` folder (they are this environment's), and ``alwa-train`` /
``alwa-val`` run from an empty temporary folder, where nothing of the repository can be found: the demo set's yaml
and the model yamls must come from the wheel, and the run must land under that folder (``runs/train/exp``,
``runs/val/exp``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from helpers import ROOT


@pytest.mark.slow
def test_the_wheel_trains_and_validates_from_an_empty_folder(tmp_path):
    src = tmp_path / "src"
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for f in files:
        if (ROOT / f).is_file() and not f.startswith(("benchmarks/results/", "tests/")):
            (src / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, src / f)
    dist, site = tmp_path / "dist", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(src)], check=True)
    wheel = next(dist.glob("alwa_yolo-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "alwa_yolo/resources/data/shapes.yaml" in names and "alwa_yolo/resources/cfg/hyp/default.yaml" in names
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True)
    work = tmp_path / "empty"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "ALWA_YOLO_CACHE": str(tmp_path / "cache")}
    train = subprocess.run([str(site / "bin" / "alwa-train"), "--epochs", "1", "--img", "64", "--device", "cpu",
                            "--workers", "0", "fraction=0.25", "plots=False"], cwd=work, env=env, capture_output=True,
                           text=True, timeout=600)  # fmt: skip
    assert train.returncode == 0, train.stderr[-3000:]
    best = work / "runs" / "train" / "exp" / "weights" / "best.pt"
    assert best.is_file() and str(site) in train.stdout + train.stderr  # the installed code ran, not the checkout
    val = subprocess.run([str(site / "bin" / "alwa-val"), "--weights", str(best), "--img", "64", "--device", "cpu",
                          "--workers", "0", "--json", "summary.json"], cwd=work, env=env, capture_output=True,
                         text=True, timeout=600)  # fmt: skip
    assert val.returncode == 0, val.stderr[-3000:]
    assert (work / "runs" / "val" / "exp").is_dir() and (work / "summary.json").is_file()


def test_every_subpackage_is_in_the_wheel():
    """pyproject.toml lists the packages (the resource folders are mapped, so they cannot be found automatically):
    a new subpackage of alwa_yolo must be added there, or the wheel would lack it."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "alwa_yolo").rglob("__init__.py")}
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages in pyproject.toml"
