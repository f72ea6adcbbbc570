"""The docs say what the code is: docs/architecture.md names every module of the package and nothing that is gone,
and the flag table in docs/usage.md is the options table."""

from __future__ import annotations

import re

from alwa_yolo.options import TRAIN_OPTIONS, flag_table
from helpers import ROOT


def test_the_architecture_map_names_every_module_and_only_real_ones():
    text = (ROOT / "docs" / "architecture.md").read_text()
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "alwa_yolo").rglob("*.py")}
    named = set(re.findall(r"`(alwa_yolo/[\w/]+\.py)`", text))
    assert modules <= named, f"docs/architecture.md lacks {sorted(modules - named)}"
    assert named <= modules, f"docs/architecture.md names modules that do not exist: {sorted(named - modules)}"


def test_the_flag_table_is_generated_from_the_options_table():
    """docs/usage.md's table of train.py flags is ``python -m alwa_yolo.options`` verbatim, so it cannot drift."""
    usage = (ROOT / "docs" / "usage.md").read_text()
    assert flag_table() in usage, "docs/usage.md flag table is stale: paste the output of python -m alwa_yolo.options"
    assert all(f"`{o.flags[0]}`" in flag_table() for o in TRAIN_OPTIONS if o.flags)


def test_version_is_the_changelogs_newest_release():
    """pyproject.toml, ``alwa_yolo.__version__`` and CHANGELOG.md's first release heading name one version."""
    import alwa_yolo

    project = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    newest = re.search(r"^## (\d+\.\d+\.\d+)", (ROOT / "CHANGELOG.md").read_text(), re.M).group(1)
    assert project == alwa_yolo.__version__ == newest
