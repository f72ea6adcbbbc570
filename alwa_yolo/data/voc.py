"""Pascal VOC (VOCdevkit) to Ultralytics YOLO converter.

The layout written here is the one Ultralytics' own ``VOC.yaml`` expects (and ``data/VOC.yaml`` in this repo):
``DST/images/<split><year>/<id>.jpg`` next to ``DST/labels/<split><year>/<id>.txt``. The box arithmetic is the
one of the conversion script embedded in Ultralytics' ``VOC.yaml`` (VOC corners are 1-based pixel indices, so the
0-based box is ``[xmin - 1, xmax - 1]``), with one deliberate difference: boxes are clipped to the image, because
Ultralytics rejects a whole image's labels when one coordinate lies past 1.01.

Unlike that script, this converter never moves or downloads anything: images are hard-linked (copied when a link
is impossible) so the VOCdevkit stays intact, and every failure names the file at fault. Every annotation is read
and checked before anything is written, and the output is staged in a temporary folder and moved into place at the
end, so a failed conversion leaves ``DST`` as it was.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from alwa_yolo.errors import ConversionError, InputNotFoundError
from alwa_yolo.files import check_writable

VOC_CLASSES: tuple[str, ...] = (
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)
"""The 20 VOC classes in the devkit's (and Ultralytics') order, so class ids match published VOC models."""

IMAGE_SETS: tuple[str, ...] = ("train", "val", "trainval", "test")
"""The ``ImageSets/Main/<split>.txt`` lists converted when present."""

IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
"""Suffixes tried for ``JPEGImages/<id>`` when neither ``<id>.jpg`` nor the XML ``<filename>`` exists."""

_YEAR_DIR = re.compile(r"^VOC(\d{4})$")


@dataclass(frozen=True)
class VOCObject:
    """One ``<object>`` of a VOC annotation, with the raw 1-based pixel corners of its ``<bndbox>``."""

    name: str
    difficult: bool
    box: tuple[float, float, float, float]  # xmin, ymin, xmax, ymax


@dataclass(frozen=True)
class VOCAnnotation:
    """The parts of a VOC XML the converter needs; ``width``/``height`` are 0 when ``<size>`` is missing."""

    filename: str | None
    width: int
    height: int
    objects: tuple[VOCObject, ...]


@dataclass
class _Counts:
    """Running totals for the summary; kept mutable so the per-image helpers can update them."""

    images: int = 0
    objects: int = 0
    empty_images: int = 0
    skipped_difficult: int = 0
    skipped_unknown: int = 0
    skipped_degenerate: int = 0
    skipped_duplicate: int = 0
    clipped: int = 0
    per_class: dict[str, int] = field(default_factory=dict)
    splits: dict[str, int] = field(default_factory=dict)
    skipped_splits: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------- inputs


def resolve_classes(classes: str | os.PathLike | Sequence[str] | None) -> list[str]:
    """Turn the ``classes`` argument into an ordered list of names.

    The order defines the class ids, so it is kept exactly as given.

    Args:
        classes: None for the 20 VOC classes; a path to a file with one name per line (blank lines and ``#``
            comments ignored); a comma-separated string; or a sequence of names.

    Returns:
        The class names, index = class id.

    Raises:
        ConversionError: if the list is empty or names a class twice (ids would be ambiguous).
    """
    if classes is None:
        return list(VOC_CLASSES)
    if isinstance(classes, (str, os.PathLike)):
        path = Path(classes)
        if path.is_file():
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except UnicodeDecodeError:
                raise ConversionError(
                    f"class list file {path} is not a text file (not UTF-8); give one class name per line."
                ) from None
            names = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
        else:
            names = [n.strip() for n in str(classes).split(",") if n.strip()]
    else:
        names = [str(n).strip() for n in classes]
    if not names:
        raise ConversionError(f"the class list {classes!r} is empty; give names separated by commas or a file path.")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConversionError(
            f"the class list names {', '.join(duplicates)} more than once; class ids would be ambiguous."
        )
    return names


def find_year_dirs(src: Path) -> list[tuple[str, Path]]:
    """List the ``VOC<year>`` folders of a VOCdevkit (or ``src`` itself when it is one), sorted by year.

    A folder that holds ``Annotations/`` and ``ImageSets/`` itself is one VOC-layout set without a year (BCCD and
    most VOC-format sets published since): its year is ``""``, so its splits are written as ``images/train`` etc.

    Raises:
        InputNotFoundError: if ``src`` is missing.
        ConversionError: if it holds no ``VOC<year>`` folder, which usually means ``--src`` points one level too
            high or too low.
    """
    if not src.is_dir():
        raise InputNotFoundError(
            f"VOC source folder {src} does not exist. Pass --src the VOCdevkit folder that holds VOC2007/ and/or "
            "VOC2012/ (as unpacked from VOCtrainval_06-Nov-2007.tar and friends)."
        )
    if not _YEAR_DIR.match(src.name) and (src / "Annotations").is_dir() and (src / "ImageSets").is_dir():
        return [("", src)]
    candidates = [src] if _YEAR_DIR.match(src.name) else sorted(p for p in src.iterdir() if p.is_dir())
    found = [(m.group(1), p) for p in candidates if (m := _YEAR_DIR.match(p.name))]
    if not found:
        raise ConversionError(
            f"no VOC<year> folder (e.g. VOC2007, VOC2012) found in {src}, and it is not one VOC-layout set either "
            "(Annotations/ and ImageSets/ inside). Pass --src the VOCdevkit folder that contains the VOC<year> "
            "folders, or the folder that holds Annotations/, ImageSets/ and JPEGImages/."
        )
    return found


def read_image_ids(list_file: Path) -> list[str]:
    """Read an ``ImageSets/Main`` list: the first token of each non-empty line is an image id.

    Raises:
        ConversionError: the list is not text (a binary or corrupted file in place of the list).
    """
    try:
        text = list_file.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConversionError(
            f"{list_file}: not a text file (byte {e.start} is not UTF-8), so not an image-set list of one image id "
            "per line. Restore it from the VOC archive."
        ) from None
    return [line.split()[0] for line in text.splitlines() if line.strip()]


def _text(node: ET.Element | None, tag: str) -> str | None:
    """The stripped text of ``node/tag``, or None when absent or empty."""
    child = None if node is None else node.find(tag)
    return child.text.strip() if child is not None and child.text and child.text.strip() else None


def _number(node: ET.Element | None, tag: str, xml_path: Path) -> float | None:
    """Parse ``node/tag`` as a number; None when absent, an error naming the file when not numeric."""
    value = _text(node, tag)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise ConversionError(f"{xml_path}: <{tag}> is {value!r}, not a number.") from None


def parse_annotation(xml_path: Path) -> VOCAnnotation:
    """Read the filename, image size and objects of one VOC XML file.

    Raises:
        ConversionError: if the XML does not parse, or an object lacks a name or a complete ``<bndbox>``; the
            message names the file so the bad annotation can be fixed or removed.
    """
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as e:
        raise ConversionError(f"{xml_path}: not valid XML ({e}).") from None
    size = root.find("size")
    width, height = _number(size, "width", xml_path) or 0, _number(size, "height", xml_path) or 0
    objects = []
    for i, obj in enumerate(root.iter("object")):
        name = _text(obj, "name")
        if name is None:
            raise ConversionError(f"{xml_path}: <object> number {i + 1} has no <name>.")
        bndbox = obj.find("bndbox")
        corners = [_number(bndbox, tag, xml_path) for tag in ("xmin", "ymin", "xmax", "ymax")]
        if any(c is None for c in corners):
            raise ConversionError(
                f"{xml_path}: object '{name}' (number {i + 1}) needs <bndbox> with xmin, ymin, xmax and ymax."
            )
        difficult = _number(obj, "difficult", xml_path) or 0  # VOC-style tools often omit it: not difficult
        objects.append(VOCObject(name=name, difficult=difficult != 0, box=tuple(corners)))
    return VOCAnnotation(_text(root, "filename"), int(width), int(height), tuple(objects))


def find_image(voc_dir: Path, image_id: str, filename: str | None) -> Path:
    """Locate the image of ``image_id``: ``JPEGImages/<id>.jpg``, else the XML ``<filename>``, else another suffix.

    The image-set id wins over ``<filename>`` because the devkit itself (and Ultralytics' script) use the id, and
    ``<filename>`` is frequently stale in re-labelled VOC-style sets.

    Raises:
        InputNotFoundError: naming the paths tried.
    """
    images = voc_dir / "JPEGImages"
    tried = [images / f"{image_id}.jpg"]
    if filename:
        tried.append(images / Path(filename).name)
    tried += [images / f"{image_id}{s}" for s in IMAGE_SUFFIXES if s != ".jpg"]
    for path in tried:
        if path.is_file():
            return path
    raise InputNotFoundError(
        f"image for id '{image_id}' of {voc_dir.name} not found: tried {tried[0]}"
        + (f" and <filename> {tried[1].name}" if filename else "")
        + " (and other image suffixes)."
    )


def image_size(path: Path) -> tuple[int, int]:
    """Read ``(width, height)`` from the image itself, for XMLs whose ``<size>`` is missing or zero.

    PIL reads only the header, so this stays cheap; OpenCV is the fallback for formats PIL refuses.
    """
    try:
        from PIL import Image

        with Image.open(path) as im:
            return im.size
    except Exception:
        pass
    import cv2

    im = cv2.imread(str(path))
    if im is None:
        raise ConversionError(f"{path}: cannot read the image to get its size (the XML <size> is missing or zero).")
    return im.shape[1], im.shape[0]


# --------------------------------------------------------------------------------------------------- boxes


def _axis(lo: float, hi: float, size: int) -> tuple[float, float, bool]:
    """Centre and length in 0-based pixels of one axis of a VOC box, clipped to ``[0, size]``.

    Unclipped boxes use Ultralytics' VOC.yaml expression ``(lo + hi) / 2 - 1`` and ``hi - lo`` verbatim, so the
    floating-point result is bit-identical to its script; only clipped boxes are recomputed from clipped corners.
    """
    a, b = lo - 1, hi - 1  # 1-based pixel indices -> 0-based corners (Ultralytics' -1 offset)
    ca, cb = min(max(a, 0.0), size), min(max(b, 0.0), size)
    if (ca, cb) == (a, b):
        return (lo + hi) / 2.0 - 1, hi - lo, False
    return (ca + cb) / 2.0, cb - ca, True


def yolo_box(box: Sequence[float], width: int, height: int) -> tuple[tuple[float, float, float, float], bool] | None:
    """Convert VOC ``(xmin, ymin, xmax, ymax)`` to normalised YOLO ``(xc, yc, w, h)``.

    Returns:
        ``((xc, yc, w, h), clipped)``, or None when nothing of the box is left inside the image (or it has zero
        or negative size), since such a label would only teach the model noise.
    """
    xmin, ymin, xmax, ymax = box
    xc, w, clipped_x = _axis(xmin, xmax, width)
    yc, h, clipped_y = _axis(ymin, ymax, height)
    if w <= 0 or h <= 0:
        return None
    dw, dh = 1.0 / width, 1.0 / height  # same multiply-by-reciprocal as Ultralytics, for identical rounding
    return (xc * dw, yc * dh, w * dw, h * dh), clipped_x or clipped_y


def format_label(cls: int, xywh: Iterable[float]) -> str:
    """One YOLO label line with 6 decimals (sub-pixel for images up to ~10^6 px wide)."""
    return f"{cls} " + " ".join(f"{v:.6f}" for v in xywh)


# --------------------------------------------------------------------------------------------------- output


def link_or_copy(src: Path, dst: Path) -> None:
    """Place ``src`` at ``dst``: hard link when possible (no extra disk), else copy; overwrite what is there.

    Re-running is a no-op for files already linked, which keeps the converter idempotent and cheap.
    """
    if dst.exists():
        if os.path.samefile(src, dst):
            return
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:  # other filesystem, no hard-link support, permissions: fall back to a real copy
        shutil.copyfile(src, dst)


def _label_lines(
    ann: VOCAnnotation,
    xml_path: Path,
    class_index: dict[str, int],
    keep_difficult: bool,
    skip_unknown: bool,
    counts: _Counts,
) -> list[str]:
    """The YOLO lines of one annotation, updating the skip/clip counters."""
    lines = []
    seen: set[tuple[str, tuple[float, float, float, float]]] = set()
    for obj in ann.objects:
        if obj.name not in class_index:
            if skip_unknown:
                counts.skipped_unknown += 1
                continue
            raise ConversionError(
                f"{xml_path}: object class '{obj.name}' is not in the class list ({len(class_index)} classes: "
                f"{', '.join(class_index)}). Pass the full list with --classes, or --skip-unknown to drop such objects."
            )
        if obj.difficult and not keep_difficult:
            counts.skipped_difficult += 1
            continue
        if (obj.name, obj.box) in seen:  # the same object drawn twice would count twice as a target and in AP
            counts.skipped_duplicate += 1
            continue
        seen.add((obj.name, obj.box))
        converted = yolo_box(obj.box, ann.width, ann.height)
        if converted is None:
            counts.skipped_degenerate += 1
            continue
        xywh, clipped = converted
        counts.clipped += clipped
        counts.per_class[obj.name] += 1
        lines.append(format_label(class_index[obj.name], xywh))
    return lines


@dataclass(frozen=True)
class _Item:
    """One converted image: where its image and label go (``<split><year>/<id>``) and the label lines."""

    folder: str
    image_id: str
    image: Path
    lines: tuple[str, ...]


def _plan_split(
    voc_dir: Path,
    split: str,
    year: str,
    ids: list[str],
    class_index: dict[str, int],
    keep_difficult: bool,
    skip_unknown: bool,
    counts: _Counts,
) -> list[_Item]:
    """Read and convert one ``ImageSets/Main/<split>.txt`` in memory (nothing is written), updating the counts."""
    items = []
    for image_id in ids:
        xml_path = voc_dir / "Annotations" / f"{image_id}.xml"
        if not xml_path.is_file():
            raise InputNotFoundError(f"annotation {xml_path} listed in ImageSets/Main/{split}.txt does not exist.")
        ann = parse_annotation(xml_path)
        image = find_image(voc_dir, image_id, ann.filename)
        if ann.width <= 0 or ann.height <= 0:
            width, height = image_size(image)
            ann = VOCAnnotation(ann.filename, width, height, ann.objects)
        lines = _label_lines(ann, xml_path, class_index, keep_difficult, skip_unknown, counts)
        items.append(_Item(f"{split}{year}", image_id, image, tuple(lines)))
        counts.images += 1
        counts.objects += len(lines)
        counts.empty_images += not lines
    counts.splits[f"{split}{year}"] = len(ids)
    return items


def _write(items: list[_Item], folders: list[str], dst: Path) -> None:
    """Write the converted images and labels into ``dst``, staged in a temporary folder inside it and moved into
    place at the end; files of the same name are replaced, other files are kept. On any failure, what this call
    created is removed and ``dst`` is left as it was (apart from files already replaced, if the failure is in the
    final moves)."""
    if not folders:
        return
    made = [dst, dst / "images", dst / "labels", *(dst / kind / f for kind in ("images", "labels") for f in folders)]
    new = [p for p in made if not p.exists()]  # what a failure removes again
    dst.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".voc-convert-", dir=dst))  # same filesystem: the moves are renames
    try:
        for folder in folders:
            (staging / "images" / folder).mkdir(parents=True)
            (staging / "labels" / folder).mkdir(parents=True)
        for item in items:
            link_or_copy(item.image, staging / "images" / item.folder / f"{item.image_id}{item.image.suffix}")
            label = staging / "labels" / item.folder / f"{item.image_id}.txt"
            label.write_text("".join(f"{ln}\n" for ln in item.lines), encoding="utf-8")
        for kind in ("images", "labels"):
            for folder in folders:
                final = dst / kind / folder
                final.mkdir(parents=True, exist_ok=True)
                for file in (staging / kind / folder).iterdir():
                    os.replace(file, final / file.name)
    except BaseException:
        for path in sorted(new, key=lambda p: len(p.parts)):
            shutil.rmtree(path, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def convert_voc(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    classes: str | os.PathLike | Sequence[str] | None = None,
    keep_difficult: bool = False,
    skip_unknown: bool = False,
    splits: Sequence[str] = IMAGE_SETS,
) -> dict:
    """Convert every ``VOC<year>/ImageSets/Main/<split>.txt`` under ``src`` into Ultralytics' VOC layout in ``dst``.

    ``difficult`` objects are dropped by default because the VOC protocol ignores them at evaluation; training on
    them mostly adds ambiguous boxes. Images with no kept object still get an (empty) label file, so they count as
    background instead of "missing label". Re-running overwrites the same files.

    A split whose listed images have no annotation at all (the VOC2012 test set is released without them) is
    skipped and reported in ``skipped_splits``; a split with only some annotations missing is an error.

    Args:
        src: a VOCdevkit folder (holding ``VOC2007``, ``VOC2012``...), one ``VOC<year>`` folder, or one set in VOC
            layout without a year (``Annotations/``, ``ImageSets/Main/``, ``JPEGImages/``; written as ``<split>``).
        dst: dataset root to write ``images/`` and ``labels/`` into (the ``path:`` of ``data/VOC.yaml``).
        classes: class names defining the ids (see ``resolve_classes``); the 20 VOC classes by default.
        keep_difficult: keep objects marked ``<difficult>1</difficult>``.
        skip_unknown: drop (and count) objects whose class is not in ``classes`` instead of failing.
        splits: which image lists to convert when present.

    Returns:
        A summary: ``images``, ``objects``, ``skipped`` (total) and its parts ``skipped_difficult``,
        ``skipped_unknown``, ``skipped_degenerate`` (nothing left inside the image), ``skipped_duplicate`` (the same
        class and box again in one image), ``clipped``, ``empty_images``, ``per_class`` (name -> kept objects),
        ``splits`` (``<split><year>`` -> images), ``skipped_splits``, ``dst``.

    Raises:
        InputNotFoundError: missing ``src``, annotation or image.
        ConversionError: malformed input, unknown class, or no image list found.
        UserError: ``dst`` cannot be written (checked before anything is read).
    """

    src, dst = Path(src), Path(dst)
    check_writable(dst, "--dst")
    names = resolve_classes(classes)
    class_index = {n: i for i, n in enumerate(names)}
    counts = _Counts(per_class=dict.fromkeys(names, 0))
    jobs = []
    for year, voc_dir in find_year_dirs(src):
        for split in splits:
            list_file = voc_dir / "ImageSets" / "Main" / f"{split}.txt"
            if list_file.is_file():
                jobs.append((voc_dir, split, year, read_image_ids(list_file)))
    if not jobs:
        raise ConversionError(
            f"no ImageSets/Main/{{{','.join(splits)}}}.txt found in the VOC<year> folders of {src}; "
            "the VOCdevkit looks incomplete."
        )
    items, folders = [], []
    for voc_dir, split, year, ids in jobs:
        if ids and not any((voc_dir / "Annotations" / f"{i}.xml").is_file() for i in ids):
            counts.skipped_splits.append(f"{split}{year}")
            continue
        items += _plan_split(voc_dir, split, year, ids, class_index, keep_difficult, skip_unknown, counts)
        folders.append(f"{split}{year}")
    _write(items, folders, dst)
    skipped = counts.skipped_difficult + counts.skipped_unknown + counts.skipped_degenerate + counts.skipped_duplicate
    return {
        "images": counts.images,
        "objects": counts.objects,
        "skipped": skipped,
        "skipped_difficult": counts.skipped_difficult,
        "skipped_unknown": counts.skipped_unknown,
        "skipped_degenerate": counts.skipped_degenerate,
        "skipped_duplicate": counts.skipped_duplicate,
        "clipped": counts.clipped,
        "empty_images": counts.empty_images,
        "per_class": counts.per_class,
        "splits": counts.splits,
        "skipped_splits": counts.skipped_splits,
        "dst": str(dst),
    }


def format_summary(summary: dict) -> str:
    """Human-readable multi-line summary of ``convert_voc``'s result, printed by the CLI."""
    lines = [
        f"VOC -> YOLO in {summary['dst']}: {summary['images']} images, {summary['objects']} objects "
        f"({summary['empty_images']} images without objects, {summary['clipped']} boxes clipped to the image)",
        f"skipped objects: {summary['skipped']} (difficult {summary['skipped_difficult']}, unknown class "
        f"{summary['skipped_unknown']}, outside image/empty {summary['skipped_degenerate']}, duplicate "
        f"{summary['skipped_duplicate']})",
        "splits: " + ", ".join(f"{k} {v}" for k, v in summary["splits"].items()),
    ]
    if summary["skipped_splits"]:
        lines.append("splits without annotations (skipped): " + ", ".join(summary["skipped_splits"]))
    lines.append("per class: " + ", ".join(f"{k} {v}" for k, v in summary["per_class"].items()))
    return "\n".join(lines)
