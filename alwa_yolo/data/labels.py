"""What kind of YOLO labels a dataset holds: boxes (detect) or polygons (segment), read from a sample of its files.

Ultralytics refuses a detection dataset for a segmentation model only after scanning every label into its cache,
and takes a segmentation dataset for a detector silently (it trains on the polygons' boxes). The trainer reads a few
label files first with :func:`label_task`, so it can refuse either mismatch at once, saying which model fits.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path


def _file_task(file: Path) -> str | None:
    """``"segment"``, ``"detect"`` or ``None`` (no objects, or not a label file) for one YOLO txt label file.

    Ultralytics' rule (``verify_image_label``): a line with more than 6 values (class and at least 3 x, y points) is
    a polygon, 5 values a box. A file whose rows are all one kind is that kind; a mix, another row length (Ultralytics
    rejects those as corrupt) or text that is not numbers (a binary file, a wrong file) says nothing, so it is
    skipped rather than raised on: this check only decides which error message the user sees.
    """
    try:
        text = file.read_text(encoding="utf-8-sig")
        rows = [[float(v) for v in line.split()] for line in text.splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if rows and all(len(r) > 6 for r in rows):
        return "segment"
    if rows and all(len(r) == 5 for r in rows):
        return "detect"
    return None


OBB_VALUES = 9
"""Values in an oriented-box label row: the class and four corners (x1 y1 ... x4 y4)."""


def obb_row_problem(file: str | Path) -> str | None:
    """The first row of an oriented-box label file that is not a class and four corners, as ``file:line: ...``.

    Ultralytics reads any row of more than 6 values as a polygon and trains an OBB model on its minimum-area
    rectangle, so a row with three corners (7 values) or a stray value trains silently on a box nobody drew; a
    label file must hold exactly :data:`OBB_VALUES` values per row. None for a good (or empty, unreadable) file:
    unreadable files are Ultralytics' verifier's to report.
    """
    try:
        lines = Path(file).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for number, line in enumerate(lines, start=1):
        values = line.split()
        if values and len(values) != OBB_VALUES:
            return (
                f"{file}:{number}: {len(values)} values, where an oriented box is a class and four corners "
                f"({OBB_VALUES} values: class x1 y1 x2 y2 x3 y3 x4 y4)"
            )
    return None


def label_task(label_files: Iterable[Path], sample: int = 50) -> str | None:
    """The task a dataset's labels are for, judged from up to ``sample`` label files that hold objects.

    Files are read in the given order; missing, empty (background images), unreadable and binary files are skipped
    and do not count towards ``sample``. Pose labels (box plus keypoints) also have more than 6 values per row and
    read as ``"segment"``: this tells boxes from polygons, not from keypoints.

    Args:
        label_files: YOLO txt label files, e.g. from :func:`label_files_for`.
        sample: how many files with objects to read at most; enough to judge a dataset without reading all of it.

    Returns:
        (str | None): ``"segment"`` if every sampled file holds polygons; ``"detect"`` if any holds boxes (a set
            that mixes the two trains only as detection: Ultralytics refuses it for segmentation and drops the
            polygons for detection); ``None`` if the sample has no labelled object, so nothing can be said.
    """
    segments = 0  # files of polygons read so far
    for file in label_files:
        if segments >= sample:
            break
        task = _file_task(Path(file))
        if task == "detect":  # one file of boxes settles it (see Returns)
            return task
        segments += task == "segment"
    return "segment" if segments else None


def label_files_for(images_dir: Path) -> list[Path]:
    """The label files Ultralytics pairs with the images under ``images_dir``, found as Ultralytics finds them.

    Images are every file with an image suffix below the folder (recursively, as ``BaseDataset.get_img_files``
    globs), or the lines of an image-list ``.txt`` file (``./`` relative to the list); each maps to its label with
    Ultralytics' own ``img2label_paths`` (the last ``/images/`` path component becomes ``/labels/``, the suffix
    ``.txt``), so the files checked are the ones training will read. The labels need not exist.

    Args:
        images_dir: an images folder (e.g. ``<root>/images/train``) or an image-list text file.

    Returns:
        (list[Path]): one label path per image, in sorted image order; empty if ``images_dir`` does not exist.
    """
    from ultralytics.data.utils import IMG_FORMATS, img2label_paths

    images_dir = Path(images_dir)
    if images_dir.is_dir():
        files = glob.glob(str(Path(glob.escape(str(images_dir))) / "**" / "*.*"), recursive=True)
    elif images_dir.is_file():
        try:
            lines = images_dir.read_text(encoding="utf-8-sig").strip().splitlines()
        except (OSError, UnicodeDecodeError):
            return []
        parent = str(images_dir.parent) + os.sep
        files = [x.replace("./", parent, 1) if x.startswith("./") else x for x in lines]
    else:
        return []
    images = sorted(x.replace("/", os.sep) for x in files if x.rpartition(".")[-1].lower() in IMG_FORMATS)
    return [Path(p) for p in img2label_paths(images)]
