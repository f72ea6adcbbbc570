"""What ``train.py`` and ``val.py`` share: turning flags into Ultralytics arguments, and errors into one paragraph."""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, NoReturn

import yaml

from .errors import UserError
from .paths import resource


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors (a bad number, an unknown flag, a missing value) are one ``error:`` line and
    exit status 2, like every other bad input, instead of argparse's usage block followed by the error."""

    def error(self, message: str) -> NoReturn:
        """Report a command-line error the way :func:`run_cli` reports every other one."""
        _fail(f"{message} (see {self.prog} --help).")


def default_data() -> str:
    """The built-in demo set's yaml."""
    return resource("data/shapes.yaml")


def repo_path(path: str) -> str:
    """``path`` as given if it exists, else the repository's or the installed package's file (``paths.resource``)."""
    return resource(path)


def native_imgsz(data: str | Path | None, fallback: int = 640) -> int:
    """The image size a generated dataset was drawn at (128 for the demo set), else ``fallback``.

    Used when ``--img`` is not given, so the no-argument demo run trains at the set's own resolution while a VOC
    or COCO run gets Ultralytics' usual 640.
    """
    try:
        spec = yaml.safe_load(Path(data).read_text()).get("generate") or {}
        return int(spec.get("imgsz", fallback))
    except Exception:  # a broken yaml is reported, in full, by the dataset check that follows
        return fallback


def parse_extra(tokens: list[str], known_keys: set[str], flags: Sequence[str] = ()) -> dict[str, Any]:
    """Parse trailing ``key=value`` Ultralytics arguments (values as YAML scalars: ``true``, ``0.01``, ``[1, 2]``).

    Args:
        tokens: what the parser did not take.
        known_keys: Ultralytics' argument names.
        flags: the script's own flags, for a close-match hint on a mistyped one (``--epcohs``).

    Raises:
        UserError: for a token that is not ``key=value`` or a key Ultralytics does not know.
    """
    from difflib import get_close_matches

    out = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        key = key.lstrip("-").replace("-", "_")
        if not sep or not key:
            if token.startswith("-") and key in known_keys:  # a YOLOv5 habit: --patience 5
                hint = f" Ultralytics' argument '{key}' is passed as {key}=VALUE."
            elif token.startswith("--") and (close := get_close_matches(token.split("=")[0], flags, n=1)):
                hint = f" Did you mean {close[0]}?"
            else:
                hint = ""
            raise UserError(
                f"unrecognised argument '{token}'.{hint} Flags are listed by --help; any other Ultralytics training "
                "argument can be passed as key=value (e.g. lr0=0.005 mosaic=0)."
            )
        if key not in known_keys:
            close = get_close_matches(key, sorted(known_keys), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise UserError(
                f"unknown argument '{key}' in '{token}': not a flag of this script nor an Ultralytics argument.{hint} "
                "See --help, or https://docs.ultralytics.com/usage/cfg/ for Ultralytics' arguments."
            )
        out[key] = yaml.safe_load(value) if value else None
    return out


def load_hyp(path: str | None, known_keys: set[str]) -> dict[str, Any]:
    """Read a ``--hyp`` yaml of training arguments, checking it exists, parses and only holds known keys."""
    if not path:
        return {}
    file = Path(resource(path))
    if not file.exists():
        raise UserError(f"hyperparameter file '{path}' not found. Pass a yaml such as cfg/hyp/default.yaml.")
    try:
        hyp = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise UserError(
            f"hyperparameter file '{path}' is not a text file (not UTF-8: binary data?). Pass a yaml of training "
            "arguments such as cfg/hyp/default.yaml, or drop --hyp."
        ) from None
    except IsADirectoryError:
        raise UserError(f"hyperparameter file '{path}' is a folder. Pass a yaml, e.g. cfg/hyp/default.yaml.") from None
    except yaml.YAMLError as e:
        raise UserError(f"hyperparameter file '{path}' is not valid YAML ({e}). Fix it or drop --hyp.") from None
    if not isinstance(hyp, dict):
        raise UserError(f"hyperparameter file '{path}' must map argument names to values (key: value lines).")
    unknown = sorted(set(hyp) - known_keys)
    if unknown:
        raise UserError(f"hyperparameter file '{path}' has unknown key(s) {unknown}; see cfg/hyp/default.yaml.")
    return hyp


class RunDir(SimpleNamespace):
    """Where a new run will be written (``path``), and the nearest folder above it that exists already
    (``existing``): what a failed start may remove lies between the two, and only if this run created it."""


def planned_run_dir(
    project: str, name: str, exist_ok: bool | None, task: str, mode: str, save_dir: str | None = None
) -> RunDir:
    """The folder Ultralytics' trainer or validator will create for this run, computed as it computes it
    (``get_save_dir``), before it exists."""
    from ultralytics.cfg import get_save_dir

    args = SimpleNamespace(save_dir=save_dir, project=project, name=name, exist_ok=bool(exist_ok), task=task, mode=mode)
    path = get_save_dir(args)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return RunDir(path=path, existing=existing)


def remove_failed_start(run: RunDir | None, allowed: tuple[str, ...] = ()) -> None:
    """Remove the run folder a failed start created, and the empty folders made for it, so failures do not pile up
    ``exp``, ``exp-2``, ... Only a folder that did not exist before this run and holds no files but the ``allowed``
    ones Ultralytics writes when it starts (``args.yaml``) is removed: never an earlier run's files.

    Args:
        run: from :func:`planned_run_dir`, called before the run started; None does nothing.
        allowed: names of files directly in the run folder that a start writes.
    """
    if run is None or run.path == run.existing or not run.path.is_dir():
        return
    if any(p.name not in allowed or p.parent != run.path for p in run.path.rglob("*") if not p.is_dir()):
        return
    shutil.rmtree(run.path, ignore_errors=True)
    for folder in run.path.parents:  # e.g. the --project folder made with parents=True
        if folder == run.existing or not folder.is_dir() or any(folder.iterdir()):
            break
        folder.rmdir()


def run_cli(main: Callable[[], Any]) -> Any:
    """Run a script's ``main``; report a :class:`UserError` (or a file-system error) as one paragraph on stderr and
    exit with status 2, the argparse convention for bad usage, so scripts can tell it from a crash (a bug)."""
    try:
        return main()
    except UserError as e:
        _fail(str(e))
    except OSError as e:  # the disk, not the code: a folder that cannot be written, a full disk
        where = f" '{e.filename}'" if e.filename else ""
        _fail(f"{e.strerror or e}{where}. Check that the path exists, is writable and the disk has space.")
    except KeyboardInterrupt:
        print("\ninterrupted: checkpoints written so far are kept in the run's weights/ folder", file=sys.stderr)
        sys.exit(130)


def _fail(message: str) -> NoReturn:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(2)
