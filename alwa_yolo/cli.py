"""What ``train.py`` and ``val.py`` share: turning flags into Ultralytics arguments, and errors into one paragraph."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import yaml

from .errors import UserError

ROOT = Path(__file__).resolve().parent.parent
"""The repository root: default dataset and config paths are relative to it, not to the current folder."""


def default_data() -> str:
    """The built-in demo set's yaml."""
    return str(ROOT / "data" / "shapes.yaml")


def repo_path(path: str) -> str:
    """``path`` as given if it exists, else relative to the repository (``data/shapes.yaml`` from any folder)."""
    if path and not Path(path).exists() and (ROOT / path).exists():
        return str(ROOT / path)
    return path


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


def parse_extra(tokens: list[str], known_keys: set[str]) -> dict[str, Any]:
    """Parse trailing ``key=value`` Ultralytics arguments (values as YAML scalars: ``true``, ``0.01``, ``[1, 2]``).

    Raises:
        UserError: for a token that is not ``key=value`` or a key Ultralytics does not know.
    """
    out = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        key = key.lstrip("-").replace("-", "_")
        if not sep or not key:
            raise UserError(
                f"unrecognised argument '{token}'. Flags are listed by --help; any other Ultralytics training "
                "argument can be passed as key=value (e.g. lr0=0.005 mosaic=0)."
            )
        if key not in known_keys:
            from difflib import get_close_matches

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
    file = Path(path)
    if not file.exists() and (ROOT / path).exists():
        file = ROOT / path
    if not file.exists():
        raise UserError(f"hyperparameter file '{path}' not found. Pass a yaml such as cfg/hyp/default.yaml.")
    try:
        hyp = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as e:
        raise UserError(f"hyperparameter file '{path}' is not valid YAML ({e}). Fix it or drop --hyp.") from None
    if not isinstance(hyp, dict):
        raise UserError(f"hyperparameter file '{path}' must map argument names to values (key: value lines).")
    unknown = sorted(set(hyp) - known_keys)
    if unknown:
        raise UserError(f"hyperparameter file '{path}' has unknown key(s) {unknown}; see cfg/hyp/default.yaml.")
    return hyp


def check_weights(weights: str, flag: str = "--weights") -> None:
    """Fail fast, with the fix, for a weights file that is not there (Ultralytics would try to download it).

    Args:
        weights: the value given.
        flag: the flag it came from, named in the message.

    Raises:
        UserError: the ``.pt`` is missing, or the model yaml is neither a file nor one Ultralytics ships.
    """
    if not weights:
        return
    path = Path(weights)
    if path.suffix in {".pt", ".pth"}:
        if not path.is_file():
            raise UserError(
                f"{flag} file '{weights}' not found. Pass the path of an existing .pt (e.g. a run's "
                "weights/best.pt), download official weights yourself (e.g. yolov8n.pt from "
                "https://github.com/ultralytics/assets/releases) and pass their path, or train from scratch "
                "with a model yaml: --weights yolov8n.yaml."
            )
        return
    if path.suffix in {".yaml", ".yml"}:
        if path.is_file():
            return
        from ultralytics.nn.tasks import yaml_model_load

        try:
            yaml_model_load(weights)
            return
        except Exception:
            pass
    what = "a .pt checkpoint to fine-tune or a model yaml" if flag == "--weights" else "a model yaml"
    raise UserError(
        f"model '{weights}' given to {flag} not found: {flag} takes {what} to train from scratch (a file, or a "
        "name Ultralytics ships such as yolov8n.yaml or yolo11s.yaml)."
    )


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


def _fail(message: str) -> None:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(2)
