"""The command line as documented: the README's flag table is the options table, and the installed commands are the
scripts."""

from __future__ import annotations

import importlib
import sys

import pytest

from alwa_yolo.options import TRAIN_OPTIONS, flag_table
from helpers import ROOT, run_script


def test_readme_flag_table_is_generated_from_the_options_table():
    """The README's table of train.py flags is ``python -m alwa_yolo.options`` verbatim, so it cannot drift."""
    readme = (ROOT / "README.md").read_text()
    assert flag_table() in readme, "README flag table is stale: paste the output of python -m alwa_yolo.options"
    assert all(f"`{o.flags[0]}`" in flag_table() for o in TRAIN_OPTIONS if o.flags)


def test_every_flag_is_in_the_help():
    text = run_script("train.py", "--help").stdout
    for o in TRAIN_OPTIONS:
        for flag in o.flags:
            assert flag in text, flag


@pytest.mark.slow
@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib")
@pytest.mark.parametrize("script", ["train", "val"])
def test_installed_commands_are_the_scripts(script):
    """``pip install -e .`` installs alwa-train / alwa-val pointing at the functions the root scripts call."""
    import tomllib

    entry = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"][f"alwa-{script}"]
    module, func = entry.split(":")
    target = getattr(importlib.import_module(module), func)
    assert target is importlib.import_module(script).cli
    assert run_script(f"{script}.py", "--help").stdout == run_script("-m", module, "--help").stdout.replace(
        f"{module.rsplit('.', 1)[-1]}.py", f"{script}.py"
    )


def test_model_key_is_what_yolo_train_trains(tiny_data):
    """``model=`` (Ultralytics' key, from the command line, a --hyp file or ``train.run``) chooses the model as
    ``yolo train model=...`` does; it was silently replaced by the default --weights before."""
    import train

    args = train.overrides_from(train.parse_opt(["model=yolo11n-pose.yaml", "--data", str(tiny_data)]))
    assert (args["model"], args["pretrained"]) == ("yolo11n-pose.yaml", False)
    args = train.overrides_from(train.parse_opt(["--weights", "yolo11n.yaml", "model=yolo11n.yaml"]))
    assert args["model"] == "yolo11n.yaml"
