"""The README's commands are real: every ``python train.py`` / ``python val.py`` / ``python -m alwa_yolo.gains`` line
of its shell blocks parses and passes the pre-flight (every check that runs before training), with the user's own
files replaced by the test's (``my.yaml`` by a tiny dataset, a ``.pt`` Ultralytics ships by its yaml, which the
tests cannot download). Training itself is what the other tests run."""

from __future__ import annotations

import re
import shlex

import pytest

from helpers import ROOT

README = ROOT / "README.md"


def readme_commands() -> list[list[str]]:
    """The argument lists of the README's commands, in order: ``["train.py", "--data", ...]``."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    commands = []
    for line in (ln for block in blocks for ln in block.splitlines()):
        for part in line.split("&&"):
            argv = shlex.split(part, comments=True)
            if argv[:2] in (["python", "train.py"], ["python", "val.py"]):
                commands.append(argv[1:])
            elif argv[:3] == ["python", "-m", "alwa_yolo.gains"]:
                commands.append(["gains", *argv[3:]])
    return commands


def test_the_readme_has_the_commands_a_newcomer_needs():
    scripts = [c[0] for c in readme_commands()]
    assert scripts.count("train.py") >= 4 and "val.py" in scripts and "gains" in scripts
    assert ["train.py"] in readme_commands()  # the main job, no arguments


def substitute(argv: list[str], data: str) -> list[str]:
    """The user's files replaced by the test's: ``my.yaml`` -> the tiny set, ``yolov8n.pt`` -> ``yolov8n.yaml``."""
    out = []
    for a in argv:
        if a == "my.yaml":
            a = data
        elif re.fullmatch(r"(yolo|rtdetr)[\w-]*\.pt", a):
            a = a[:-3] + ".yaml"
        out.append(a)
    return out


@pytest.mark.parametrize("index", range(len(readme_commands())))
def test_each_readme_command_passes_its_checks(index, tiny_yaml, tmp_path, monkeypatch):
    import train
    import val
    from alwa_yolo import gains
    from alwa_yolo.preflight import check_training

    monkeypatch.chdir(tmp_path)  # a relative --project would go here
    script, *argv = substitute(readme_commands()[index], str(tiny_yaml))
    if script == "train.py":
        overrides = train.overrides_from(train.parse_opt(argv))
        assert check_training(overrides) in {"detect", "segment", "pose", "obb"}
    elif script == "gains":
        opt = gains.parse_opt(argv)
        check_training(train.overrides_from(opt, check_run_folder=False))
    else:  # val.py: its checks up to the weights, which are a run's best.pt the README names as an example
        opt = val.parse_opt(argv)
        val.check_opt(opt)
        assert opt.weights.endswith("best.pt")
