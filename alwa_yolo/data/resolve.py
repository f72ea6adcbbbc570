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
from .shapes import ShapesConfig, generate


def cache_dir() -> Path:
    """Where generated datasets go: ``$ALWA_YOLO_CACHE``, else ``~/.cache/alwa_yolo``."""
    return Path(os.environ.get("ALWA_YOLO_CACHE") or Path.home() / ".cache" / "alwa_yolo")


def load_data_yaml(file: Path) -> dict[str, Any]:
    """Read a dataset yaml, turning every way it can be broken into a :class:`UserError`."""
    try:
        text = file.read_text(encoding="utf-8")
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
    return data


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
    spec = dict(data["generate"])
    kind = spec.pop("kind", "shapes")
    if kind != "shapes":
        raise UserError(f"dataset yaml '{file}': unknown generator '{kind}' (only 'shapes' exists).")
    try:
        cfg = ShapesConfig(**spec)
    except (TypeError, ValueError) as e:
        raise UserError(f"dataset yaml '{file}': bad 'generate:' block: {e}.") from None
    digest = hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:8]
    root = cache_dir() / f"{data.get('path') or file.stem}-{digest}"
    if not root.exists():
        from ultralytics.utils import LOGGER

        LOGGER.info(f"Generating dataset ({cfg.train} train / {cfg.val} val images) in {root} ...")
        generate(root, cfg)
    out = root / "data.yaml"
    if not out.exists():
        resolved = {k: v for k, v in data.items() if k != "generate"}
        resolved.update(path=str(root), names=dict(enumerate(cfg.names)) if "names" not in data else data["names"])
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(yaml.safe_dump(resolved, sort_keys=False))
        tmp.replace(out)
    return out


def resolve_data(data: str | Path) -> Path | str:
    """Check ``--data`` and return the yaml path to hand to Ultralytics.

    Args:
        data: path to a dataset yaml, or the name of a dataset yaml bundled with Ultralytics.

    Returns:
        (Path | str): the yaml to train or validate on (for a generated set, the resolved copy in the cache).

    Raises:
        UserError: the yaml is missing, malformed, or points at folders that do not exist.
    """
    if not data:
        raise UserError("no dataset given: pass --data with a dataset yaml, e.g. --data data/shapes.yaml")
    file = Path(data)
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
    data_dict = load_data_yaml(file)
    if data_dict.get("generate"):
        return generated_yaml(data_dict, file)
    if "download" in data_dict and not os.environ.get("YOLO_OFFLINE"):
        return str(file)  # an Ultralytics yaml that knows how to fetch its images: let it
    check_image_paths(data_dict, file)
    return file


def check_dataset_task(data: str | Path, task: str, model: str) -> None:
    """Refuse a dataset whose labels do not fit the model's task, before training.

    Ultralytics would train a segmentation model on box labels until its first mask loss fails, and a detection
    model on polygon labels silently as boxes; both are almost always the wrong file passed, so both are errors.

    Args:
        data: the resolved dataset yaml.
        task: the model's task, ``"detect"`` or ``"segment"``.
        model: the model file, named in the message.

    Raises:
        UserError: the training labels are polygons for a detection model, or boxes for a segmentation model.
    """
    from .labels import label_files_for, label_task

    file = Path(data)
    spec = load_data_yaml(file)
    root = dataset_root(spec, file)
    entries = spec["train"] if isinstance(spec["train"], list) else [spec["train"]]
    found = label_task(f for entry in entries for f in label_files_for(root / str(entry)))
    if found is None or found == task:
        return
    if task == "segment":
        raise UserError(
            f"'{model}' is a segmentation model but the dataset '{data}' has box labels only (5 numbers per line). "
            "Train a detection model on it (e.g. --weights yolov8n.yaml), or use a dataset with polygon labels "
            "(e.g. --data data/shapes-seg.yaml)."
        )
    raise UserError(
        f"'{model}' is a detection model but the dataset '{data}' has polygon (segmentation) labels. Train a "
        "segmentation model on it (e.g. --weights yolov8n-seg.yaml), or use a dataset with box labels."
    )
