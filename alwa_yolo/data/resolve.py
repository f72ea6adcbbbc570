"""Turn the ``--data`` argument into a dataset yaml Ultralytics can use, or a clear error saying what is wrong.

Ultralytics' own check downloads missing datasets, which fails (slowly) offline and words a typo as a download
problem. Here the yaml is read and checked first: it must exist, parse, be a mapping with ``train``, ``val`` and
``names`` (or ``nc``), and its image folders must exist, resolved exactly as Ultralytics resolves them. A yaml
with a ``generate:`` block (the built-in demo set) is generated into the cache folder on first use.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError
from ..files import check_writable
from ..paths import resource
from .shapes import FLIP_IDX, KPT_SHAPE, ShapesConfig, generate


def cache_dir() -> Path:
    """Where generated datasets go: ``$ALWA_YOLO_CACHE``, else ``~/.cache/alwa_yolo``."""
    return Path(os.environ.get("ALWA_YOLO_CACHE") or Path.home() / ".cache" / "alwa_yolo")


def load_data_yaml(file: Path) -> dict[str, Any]:
    """Read a dataset yaml, turning every way it can be broken into a :class:`UserError`."""
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(
            f"dataset yaml '{file}' is not a text file (not UTF-8: binary data, an image or an archive?). Pass a "
            "dataset yaml; data/shapes.yaml is a working example."
        ) from None
    except OSError as e:
        raise UserError(
            f"cannot read dataset yaml '{file}': {e.strerror}. Check the path and its permissions."
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        raise UserError(
            f"dataset yaml '{file}' is not valid YAML{at} ({getattr(e, 'problem', e)}). Fix the file; "
            "data/shapes.yaml is a working example."
        ) from None
    if not isinstance(data, dict):
        raise UserError(
            f"dataset yaml '{file}' must be a mapping with 'train', 'val' and 'names' keys, but it holds "
            f"{type(data).__name__} content. See data/shapes.yaml for the expected layout."
        )
    missing = [k for k in ("train", "val") if not data.get(k)]
    if data.get("names") is None and data.get("nc") is None:
        missing.append("names")
    if missing:
        raise UserError(
            f"dataset yaml '{file}' has no {', '.join(repr(k) for k in missing)} key: a dataset yaml needs 'train' "
            "and 'val' image folders (or list files) and the class 'names'. See data/shapes.yaml for the layout."
        )
    check_fields(data, file)
    return data


def check_fields(data: dict[str, Any], file: Path) -> None:
    """The checks Ultralytics' ``check_det_dataset`` makes of a dataset yaml's keys, made before anything starts.

    Ultralytics makes them only once the trainer has created its run folder, so a ``names:`` typo would leave an
    empty run behind; its own type table and class-name check are used, so the two cannot disagree.

    Raises:
        UserError: naming the key, the bad value and the form expected.
    """
    from ultralytics.data.utils import DATASET_KEY_TYPES
    from ultralytics.nn.autobackend import check_class_names

    for key, types in DATASET_KEY_TYPES.items():
        if data.get(key) is not None and not isinstance(data[key], types):
            words = {"str": "a string", "list": "a list", "dict": "a mapping"}
            expected = " or ".join(words.get(t.__name__, t.__name__) for t in types)
            hint = " of class names, e.g. names: [cat, dog] or names: {0: cat, 1: dog}" if key == "names" else ""
            raise UserError(
                f"dataset yaml '{file}': '{key}: {data[key]!r}' must be {expected}{hint}, not "
                f"{type(data[key]).__name__}."
            )
    nc = data.get("nc")
    if "nc" in data:
        try:  # Ultralytics accepts integer-like values ('10', 10.0)
            count = float(nc)
            ok = count == int(count) and count > 0 and not isinstance(nc, bool)
        except (TypeError, ValueError, OverflowError):
            ok = False
        if not ok:
            raise UserError(f"dataset yaml '{file}': 'nc: {nc!r}' must be the number of classes, a positive integer.")
        nc = int(count)
    names = data.get("names")
    if names is not None and nc is not None and len(names) != nc:
        raise UserError(
            f"dataset yaml '{file}': 'names' lists {len(names)} classes but 'nc: {nc}' says {nc}. Make them agree "
            "(or drop 'nc': it is taken from 'names')."
        )
    if names is not None:
        try:
            check_class_names(names)
        except (KeyError, ValueError, TypeError) as e:
            reason = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
            raise UserError(
                f"dataset yaml '{file}': bad 'names: {names!r}' ({reason}). Class ids must run 0..n-1, e.g. "
                "names: {0: cat, 1: dog}."
            ) from None


def dataset_root(data: dict[str, Any], file: Path) -> Path:
    """The dataset root as Ultralytics resolves it: ``path`` (relative to the current folder if it exists there,
    else to Ultralytics' ``datasets_dir``), or the yaml's own folder when ``path`` is absent."""
    path = Path(data.get("path") or file.parent)
    if not path.exists() and not path.is_absolute():
        from ultralytics.utils import DATASETS_DIR

        path = (DATASETS_DIR / path).resolve()
    return path


def check_image_paths(data: dict[str, Any], file: Path) -> None:
    """Fail with a readable message if the ``train`` / ``val`` folders (or list files) are not on disk."""
    root = dataset_root(data, file)
    for split in ("train", "val"):
        entries = data[split] if isinstance(data[split], list) else [data[split]]
        for entry in entries:
            p = (root / str(entry)).resolve()
            if not p.exists():
                hint = "" if "path" in data else " (no 'path:' key, so paths are relative to the yaml's folder)"
                raise UserError(
                    f"dataset images not found: '{split}: {entry}' in '{file}' resolves to '{p}', which does not "
                    f"exist{hint}. Point 'path:' at the dataset root (absolute, or relative to the current folder), "
                    "or convert your archives first (README, 'Training on VOC / COCO')."
                )


def generated_yaml(data: dict[str, Any], file: Path) -> Path:
    """Generate the set a ``generate:`` block describes (once, cached by its parameters) and return its yaml."""
    if not isinstance(data["generate"], dict):
        raise UserError(
            f"dataset yaml '{file}': 'generate: {data['generate']!r}' must be a mapping of generator settings, e.g. "
            "generate: {kind: shapes, classes: 4, train: 256, val: 64} (see data/shapes.yaml)."
        )
    spec = dict(data["generate"])
    kind = spec.pop("kind", "shapes")
    if kind != "shapes":
        raise UserError(f"dataset yaml '{file}': unknown generator '{kind}' (only 'shapes' exists).")
    try:
        cfg = ShapesConfig(**spec)
    except (TypeError, ValueError) as e:
        raise UserError(f"dataset yaml '{file}': bad 'generate:' block: {e}.") from None
    if cfg.task == "pose" and list(data.get("kpt_shape") or KPT_SHAPE) != KPT_SHAPE:
        raise UserError(
            f"dataset yaml '{file}': the generator writes kpt_shape {KPT_SHAPE} (centre, top, right, bottom, left; "
            f"x, y, visibility), the yaml says {data['kpt_shape']}. Remove 'kpt_shape' or set it to {KPT_SHAPE}."
        )
    given = data.get("names") if data.get("names") is not None else data.get("nc")
    count = len(given) if isinstance(given, (list, dict)) else given
    if count is not None and count != cfg.classes:
        raise UserError(
            f"dataset yaml '{file}': 'generate:' draws {cfg.classes} classes but 'names' / 'nc' give {count}. Make "
            "them agree: labels of a class without a name are dropped by Ultralytics."
        )
    digest = hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:8]
    root = cache_dir() / f"{data.get('path') or file.stem}-{digest}"
    if not (root / "data.yaml").exists():
        try:
            check_writable(cache_dir(), "the demo-set cache folder ($ALWA_YOLO_CACHE, else ~/.cache/alwa_yolo)")
        except UserError as e:
            raise UserError(f"{e} Set ALWA_YOLO_CACHE to a writable folder to generate '{file}' there.") from None
    if not root.exists():
        from ultralytics.utils import LOGGER

        LOGGER.info(f"Generating dataset ({cfg.train} train / {cfg.val} val images) in {root} ...")
        generate(root, cfg)
    out = root / "data.yaml"
    if not out.exists():
        resolved = {k: v for k, v in data.items() if k != "generate"}
        resolved.update(path=str(root), names=dict(enumerate(cfg.names)) if "names" not in data else data["names"])
        if cfg.task == "pose":  # what Ultralytics' pose dataset needs, as the generator writes it
            resolved.setdefault("kpt_shape", KPT_SHAPE)
            resolved.setdefault("flip_idx", FLIP_IDX)
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(yaml.safe_dump(resolved, sort_keys=False))
        tmp.replace(out)
    return out


def locate_data(data: str | Path) -> Path:
    """The dataset yaml ``--data`` names: the file (or alwa-yolo's own, :func:`~alwa_yolo.paths.resource`), or a
    yaml bundled with Ultralytics (``coco8.yaml``).

    Raises:
        UserError: nothing by that name exists.
    """
    if not data:
        raise UserError("no dataset given: pass --data with a dataset yaml, e.g. --data data/shapes.yaml")
    file = Path(resource(str(data)))  # also data/shapes.yaml from any folder, and from an installed wheel
    if not file.exists():
        if file.suffix not in {".yaml", ".yml"}:
            raise UserError(f"dataset '{data}' is not a yaml file. Pass a dataset yaml, e.g. --data data/shapes.yaml")
        from ultralytics.utils.checks import check_file

        bundled = check_file(str(data), hard=False) if not file.parent.name else ""
        if not bundled:
            raise UserError(
                f"dataset yaml '{data}' not found. Check the path (relative to the current folder: {Path.cwd()}); "
                "the built-in demo set is data/shapes.yaml."
            )
        file = Path(bundled)
    if file.is_dir():
        raise UserError(f"--data '{data}' is a folder. Pass the dataset's yaml file, e.g. --data data/shapes.yaml.")
    return file


def resolve_data(data: str | Path) -> Path | str:
    """Check ``--data`` and return the yaml path to hand to Ultralytics.

    Args:
        data: path to a dataset yaml, or the name of a dataset yaml bundled with Ultralytics.

    Returns:
        (Path | str): the yaml to train or validate on (for a generated set, the resolved copy in the cache).

    Raises:
        UserError: the yaml is missing, malformed, or points at folders that do not exist.
    """
    file = locate_data(data)
    data_dict = load_data_yaml(file)
    if data_dict.get("generate"):
        return generated_yaml(data_dict, file)
    if "download" in data_dict:
        try:
            check_image_paths(data_dict, file)
        except UserError as e:
            if not _offline():
                return str(file)  # an Ultralytics yaml that knows how to fetch its images: let it
            raise UserError(
                f"{e} The yaml has a 'download:' recipe, but downloads are off (YOLO_OFFLINE is set, or this machine "
                "is offline): fetch the dataset yourself and point 'path:' at it."
            ) from None
        return file
    check_image_paths(data_dict, file)
    return file


def _offline() -> bool:
    """Whether a download cannot happen: ``YOLO_OFFLINE`` is set, or no DNS answers (Ultralytics' own test)."""
    from ultralytics.utils import is_online

    return not is_online()
