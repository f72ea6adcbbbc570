"""COCO instances JSON to Ultralytics YOLO labels, through Ultralytics' own converter.

``ultralytics.data.converter.convert_coco`` does the box arithmetic (the released COCO labels were made with it),
this module only makes it safe to use as a dataset tool:

* it validates each JSON first, so a malformed file fails with a message naming it instead of a ``KeyError`` (or a
  ``TypeError`` for a category id that has no 80-class equivalent) deep inside Ultralytics;
* it converts into a private staging folder and then replaces ``DST/labels/<split>``: Ultralytics' function would
  otherwise create ``DST2``, ``DST3``... when ``DST`` exists, and it *appends* to label files, so running it twice
  into the same folder would duplicate every box;
* it feeds it only ``instances_*.json`` (``annotations_trainval2017.zip`` also holds captions and keypoints JSONs,
  which Ultralytics would try to convert too);
* it writes an empty label file for images without annotations, like the VOC converter.

What Ultralytics does with the annotations (8.4): ``iscrowd=1`` annotations are skipped (crowd regions are "ignore"
areas in COCO evaluation, not objects); boxes of zero width or height are skipped; identical boxes of one image are
written once; ids go 91 -> 80 (``cls91to80=True``); coordinates are written with ``%g`` (6 significant digits).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from alwa_yolo.errors import ConversionError, InputNotFoundError
from alwa_yolo.files import check_writable

SPLIT_PREFIX = "instances_"


def find_instance_jsons(src: Path) -> list[Path]:
    """The COCO instances files to convert: ``src`` itself if it is a file, else ``src/instances_*.json``.

    Raises:
        InputNotFoundError: if ``src`` is missing or holds no instances JSON.
    """
    if src.is_file():
        return [src]
    if not src.is_dir():
        raise InputNotFoundError(
            f"COCO annotations {src} do not exist. Pass --src the 'annotations' folder unpacked from "
            "annotations_trainval2017.zip (or one instances_*.json file)."
        )
    files = sorted(src.glob(f"{SPLIT_PREFIX}*.json"))
    if not files:
        raise InputNotFoundError(
            f"no {SPLIT_PREFIX}*.json file in {src}; pass the folder holding instances_val2017.json."
        )
    return files


def split_name(json_file: Path) -> str:
    """``instances_val2017.json`` -> ``val2017``: the labels sub-folder, matching ``images/val2017`` in coco.yaml."""
    return json_file.stem.removeprefix(SPLIT_PREFIX)


def _is_int(value: object) -> bool:
    """True for JSON integers (``bool`` excluded), the only id type Ultralytics' converter can format."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    """True for JSON numbers (``bool`` excluded)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_image(img: object, path: Path) -> None:
    """Raise ``ConversionError`` unless ``img`` is a COCO image record usable by the converter."""
    if not isinstance(img, dict) or not all(k in img for k in ("id", "file_name", "width", "height")):
        raise ConversionError(f"{path}: image record {str(img)[:80]} needs 'id', 'file_name', 'width' and 'height'.")
    if not _is_int(img["id"]) or not all(_is_number(img[k]) and img[k] > 0 for k in ("width", "height")):
        raise ConversionError(f"{path}: image {img['id']!r} needs an integer id and positive width and height.")
    name = img["file_name"]
    if not isinstance(name, str) or not name.strip() or Path(name).is_absolute() or ".." in Path(name).parts:
        raise ConversionError(
            f"{path}: image {img['id']!r} has file_name {name!r}; it must be the image's file name relative to the "
            "images folder, e.g. '000000000139.jpg'."
        )


def _check_annotation(ann: object, path: Path, image_ids: set[int], valid_categories: set[int] | None) -> None:
    """Raise ``ConversionError`` unless ``ann`` is a COCO box annotation the converter can write."""
    if not isinstance(ann, dict) or not all(k in ann for k in ("image_id", "bbox", "category_id")):
        raise ConversionError(f"{path}: annotation {str(ann)[:80]} needs 'image_id', 'bbox' and 'category_id'.")
    ident = ann.get("id", "?")
    if ann["image_id"] not in image_ids:
        raise ConversionError(f"{path}: annotation {ident} refers to image_id {ann['image_id']!r}, not in 'images'.")
    if not (isinstance(ann["bbox"], list) and len(ann["bbox"]) == 4 and all(map(_is_number, ann["bbox"]))):
        raise ConversionError(f"{path}: annotation {ident} has bbox {ann['bbox']!r}; COCO boxes are [x, y, w, h].")
    if not _is_int(ann["category_id"]):
        raise ConversionError(f"{path}: annotation {ident} has category_id {ann['category_id']!r}, not an integer.")
    crowd = bool(ann.get("iscrowd", False))
    if not crowd and valid_categories is not None and ann["category_id"] not in valid_categories:
        raise ConversionError(
            f"{path}: annotation {ident} has category_id {ann['category_id']!r}, which is not one of the 80 COCO "
            "detection categories (ids 1-90 minus the 10 unused ones); use cls91to80=False for a custom id scheme."
        )


def load_instances(path: Path, cls91to80: bool = True) -> dict:
    """Load and validate a COCO instances JSON, failing with a message that names the file.

    Validation happens before anything is written, so a bad file leaves the output untouched.

    Raises:
        ConversionError: invalid JSON, missing ``images``/``annotations``, or records the converter cannot handle.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ConversionError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}).") from None
    except UnicodeDecodeError:
        raise ConversionError(f"{path}: not a UTF-8 text file, so not a COCO JSON.") from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("images"), list)
        or not isinstance(data.get("annotations"), list)
    ):
        raise ConversionError(
            f"{path}: a COCO instances file needs 'images' and 'annotations' lists; found keys "
            f"{sorted(data) if isinstance(data, dict) else type(data).__name__}."
        )
    for img in data["images"]:
        _check_image(img, path)
    image_ids = {img["id"] for img in data["images"]}
    valid = _valid_91_categories() if cls91to80 else None
    for ann in data["annotations"]:
        _check_annotation(ann, path, image_ids, valid)
    return data


def _valid_91_categories() -> set[int]:
    """COCO category ids (1-based, 91 scheme) that Ultralytics' 91 -> 80 table maps to a class."""
    from ultralytics.data.converter import coco91_to_coco80_class

    return {i + 1 for i, c in enumerate(coco91_to_coco80_class()) if c is not None}


def _class_names(data: dict, cls91to80: bool) -> dict[int, str]:
    """Output class id -> category name, from the JSON's ``categories`` (for the summary only)."""
    from ultralytics.data.converter import coco91_to_coco80_class

    table = coco91_to_coco80_class()
    names = {}
    for cat in data.get("categories") or []:
        cid = cat.get("id") if isinstance(cat, dict) else None
        if not _is_int(cid) or cid < 1:
            continue
        out = (table[cid - 1] if cid <= len(table) else None) if cls91to80 else cid - 1
        if out is not None:
            names[out] = str(cat.get("name", out))
    return names


def _place(src: Path, dst: Path) -> None:
    """Make ``src`` visible at ``dst`` without copying a possibly 450 MB JSON when a link is possible."""
    for make in (os.link, os.symlink):
        try:
            make(src.resolve(), dst)
            return
        except OSError:
            continue
    shutil.copyfile(src, dst)


def _run_ultralytics(ann_dir: Path, out_dir: Path, cls91to80: bool) -> None:
    """Call ``ultralytics.data.converter.convert_coco`` with its INFO log (which names the staging folder) muted."""
    from ultralytics.data.converter import convert_coco as ultralytics_convert_coco

    logger = logging.getLogger("ultralytics")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        ultralytics_convert_coco(
            labels_dir=str(ann_dir),
            save_dir=str(out_dir),
            use_segments=False,
            use_keypoints=False,
            cls91to80=cls91to80,
            lvis=False,
        )
    finally:
        logger.setLevel(level)


def _count_labels(labels_dir: Path, names: dict[int, str]) -> tuple[int, int, dict[str, int]]:
    """Label files, label lines and per-class counts actually written (the summary reports the output, not intent)."""
    files = 0
    by_id: dict[int, int] = {}
    for txt in labels_dir.rglob("*.txt"):
        files += 1
        for line in txt.read_text(encoding="utf-8").splitlines():
            if line.strip():
                cls = int(line.split()[0])
                by_id[cls] = by_id.get(cls, 0) + 1
    per_class = {names.get(cls, str(cls)): by_id[cls] for cls in sorted(by_id)}
    return files, sum(by_id.values()), per_class


def convert_coco(src: str | os.PathLike, dst: str | os.PathLike, cls91to80: bool = True) -> dict:
    """Convert COCO instances JSON(s) to YOLO labels in ``dst/labels/<split>``, replacing earlier output.

    Images are not touched: unzip ``train2017.zip``/``val2017.zip`` into ``dst/images/`` (``dst/images/<split>`` is
    created empty as a reminder). Each ``dst/labels/<split>`` folder is rebuilt from scratch, so re-running gives
    exactly the same files.

    Args:
        src: the COCO ``annotations`` folder (``instances_*.json`` are used) or one instances JSON file.
        dst: dataset root (the ``path:`` of ``data/coco.yaml``).
        cls91to80: map the 91 COCO category ids to Ultralytics' 80 contiguous classes (the COCO standard); False
            writes ``category_id - 1`` for custom datasets.

    Returns:
        A summary with totals ``images``, ``label_files``, ``objects``, ``skipped`` (= ``skipped_crowd`` +
        ``skipped_other``: zero-size or duplicate boxes), ``per_class`` (name -> objects), ``splits`` (split -> the
        same numbers) and ``dst``.

    Raises:
        InputNotFoundError: ``src`` missing or without instances JSON.
        ConversionError: malformed JSON (nothing is written then).
        UserError: ``dst`` cannot be written (checked before anything is read).
    """

    src, dst = Path(src), Path(dst)
    check_writable(dst, "--dst")
    jsons = find_instance_jsons(src)
    datasets = {split_name(p): (p, load_instances(p, cls91to80)) for p in jsons}  # validate all before writing
    created = not dst.exists()
    dst.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".coco-convert-", dir=dst))  # same filesystem: the final move is a rename
    try:
        ann_dir, out_dir = staging / "annotations", staging / "out"  # out_dir must not exist: no incrementing
        ann_dir.mkdir()
        for split, (path, _) in datasets.items():
            _place(path, ann_dir / f"{SPLIT_PREFIX}{split}.json")
        _run_ultralytics(ann_dir, out_dir, cls91to80)
        splits = {split: _finish_split(split, data, out_dir, dst, cls91to80) for split, (_, data) in datasets.items()}
    except BaseException:
        if created:  # a failure leaves no half-made dataset folder behind
            shutil.rmtree(dst, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    totals = {
        k: sum(s[k] for s in splits.values())
        for k in ("images", "label_files", "objects", "skipped", "skipped_crowd", "skipped_other")
    }
    per_class: dict[str, int] = {}
    for s in splits.values():
        for name, n in s["per_class"].items():
            per_class[name] = per_class.get(name, 0) + n
    return {**totals, "per_class": per_class, "splits": splits, "dst": str(dst)}


def _finish_split(split: str, data: dict, out_dir: Path, dst: Path, cls91to80: bool) -> dict:
    """Add empty labels for unannotated images, move the split into ``dst/labels`` and summarise it."""
    produced = out_dir / "labels" / split
    produced.mkdir(parents=True, exist_ok=True)  # absent when the JSON has no annotation at all
    for img in data["images"]:
        (produced / img["file_name"]).with_suffix(".txt").parent.mkdir(parents=True, exist_ok=True)
        (produced / img["file_name"]).with_suffix(".txt").touch()
    final = dst / "labels" / split
    if final.is_dir():
        shutil.rmtree(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    produced.rename(final)
    (dst / "images" / split).mkdir(parents=True, exist_ok=True)
    files, objects, per_class = _count_labels(final, _class_names(data, cls91to80))
    crowd = sum(bool(a.get("iscrowd", False)) for a in data["annotations"])
    return {
        "images": len(data["images"]),
        "label_files": files,
        "objects": objects,
        "skipped": len(data["annotations"]) - objects,
        "skipped_crowd": crowd,
        "skipped_other": len(data["annotations"]) - crowd - objects,
        "per_class": per_class,
    }


def format_summary(summary: dict) -> str:
    """Human-readable multi-line summary of ``convert_coco``'s result, printed by the CLI."""
    lines = [
        f"COCO -> YOLO labels in {summary['dst']}: {summary['images']} images, {summary['objects']} objects "
        f"({summary['label_files']} label files)",
        f"skipped annotations: {summary['skipped']} (crowd {summary['skipped_crowd']}, zero-size or duplicate "
        f"{summary['skipped_other']})",
        "splits: "
        + ", ".join(f"{k} {v['images']} images / {v['objects']} objects" for k, v in summary["splits"].items()),
        "per class: " + ", ".join(f"{k} {v}" for k, v in summary["per_class"].items()),
    ]
    return "\n".join(lines)
