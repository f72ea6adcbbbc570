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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError
from ..files import check_writable
from ..paths import resource
from .labels import label_files_for, label_task, obb_row_problem
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


def check_dataset_task(data: str | Path, task: str, model: str) -> None:
    """Refuse a dataset whose labels do not fit the model's task, before training.

    Ultralytics would train a segmentation model on box labels until its first mask loss fails, a detection model on
    polygon labels silently as boxes, and a pose model only after finding no ``kpt_shape``; each is almost always the
    wrong file passed, so each is an error here. A pose set is one whose yaml has ``kpt_shape``; an OBB model needs
    four-corner labels (``cls x1 y1 ... x4 y4``), which read like 4-point polygons, so only axis-aligned box labels
    are refused for it.

    Args:
        data: the dataset yaml, resolved or not (a ``generate:`` block is read before the set is generated, so a
            mismatch leaves nothing in the cache).
        task: the model's task: ``"detect"``, ``"segment"``, ``"pose"`` or ``"obb"``.
        model: the model file, named in the message.

    Raises:
        UserError: the dataset's labels are for another task.
    """
    file = locate_data(data)
    spec = load_data_yaml(file)
    generated = spec["generate"].get("task", "detect") if isinstance(spec.get("generate"), dict) else None
    pose_set = "kpt_shape" in spec or generated == "pose"
    if task == "pose" or pose_set:
        if task == "pose" and not pose_set:
            raise UserError(
                f"'{model}' is a pose model but the dataset '{data}' has no 'kpt_shape' (keypoints per object, e.g. "
                "kpt_shape: [17, 3]), so it is not a pose dataset. Add kpt_shape (and flip_idx) to the yaml if its "
                "labels carry keypoints, or train a detection model on it (e.g. --weights yolov8n.yaml)."
            )
        if task != "pose":
            raise UserError(
                f"'{model}' is a {TASK_NAMES.get(task, task)} model but the dataset '{data}' is a pose dataset (its "
                "yaml has 'kpt_shape'). Train a pose model on it (e.g. --weights yolo11n-pose.yaml)."
            )
        return
    if generated is not None:  # not generated yet: the block says which labels it will write
        found = generated if generated in ("detect", "segment", "obb") else None  # a bad value: resolve_data says
    else:
        root = dataset_root(spec, file)
        entries = spec["train"] if isinstance(spec["train"], list) else [spec["train"]]
        found = label_task(f for entry in entries for f in label_files_for(root / str(entry)))
    if task == "obb":
        if found in ("detect", "segment") and (found == "detect" or generated is not None):
            kind = "axis-aligned box labels (5 numbers per line)" if found == "detect" else "polygon labels"
            raise UserError(
                f"'{model}' is an oriented-box (OBB) model but the dataset '{data}' has {kind}. OBB labels are the "
                "four corners of each rotated box, 'cls x1 y1 x2 y2 x3 y3 x4 y4' (Ultralytics' DOTA converter writes "
                "them; e.g. --data data/shapes-obb.yaml), or train a detection model on it (--weights yolov8n.yaml)."
            )
        return
    if found == "obb":
        raise UserError(
            f"'{model}' is a {TASK_NAMES.get(task, task)} model but the dataset '{data}' has oriented-box (OBB) "
            "labels. Train an OBB model on it (e.g. --weights yolo11n-obb.yaml)."
        )
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
        "segmentation model on it (e.g. --weights yolov8n-seg.yaml), an OBB model if they are four-corner rotated "
        "boxes (e.g. --weights yolo11n-obb.yaml), or use a dataset with box labels."
    )


TASK_NAMES = {"detect": "detection", "segment": "segmentation", "pose": "pose", "obb": "oriented-box (OBB)"}
"""How errors name each Ultralytics task."""


def image_files(images: Path) -> list[str]:
    """The images Ultralytics reads for one ``train:`` / ``val:`` entry: image files anywhere below a folder, or
    the lines of an image-list ``.txt`` (``./`` relative to the list), as ``BaseDataset.get_img_files`` finds them."""
    import glob

    from ultralytics.data.utils import IMG_FORMATS

    if images.is_dir():
        files = glob.glob(str(Path(glob.escape(str(images))) / "**" / "*.*"), recursive=True)
    elif images.is_file():
        try:
            lines = images.read_text(encoding="utf-8-sig").strip().splitlines()
        except (OSError, UnicodeDecodeError):
            return []
        parent = str(images.parent) + os.sep
        files = [x.replace("./", parent, 1) if x.startswith("./") else x for x in lines]
    else:
        return []
    return sorted(x.replace("/", os.sep) for x in files if x.rpartition(".")[-1].lower() in IMG_FORMATS)


def _prescreen(im_file: str) -> str:
    """What Ultralytics' ``verify_image_label`` would do to an image beyond reading it: ``"ok"`` (nothing),
    ``"repair"`` (a JPEG without its end marker, which it rewrites: training repairs it, so it counts as usable) or
    ``"unreadable"`` (Pillow cannot identify it, and Ultralytics would try to pip-install a HEIF plugin).

    Reading the file here, with Pillow itself, lets the check below call Ultralytics' verifier only on images it
    neither rewrites nor installs anything for, so the check writes nothing and patches nothing.
    """
    from PIL import Image

    try:
        tail = b"\xff\xd9"
        if im_file.lower().endswith((".jpg", ".jpeg")):
            with open(im_file, "rb") as f:
                f.seek(-2, os.SEEK_END)
                tail = f.read()
        with Image.open(im_file) as im:  # Pillow's own open: identifies the file, decodes nothing
            im.verify()
    except Exception:  # any failure to identify or verify: Ultralytics would not load it either
        return "unreadable"
    return "ok" if tail == b"\xff\xd9" else "repair"


DROP_SHARE = 0.25
"""The share of a split's images Ultralytics may drop (unreadable, or labels it rejects) before training stops with
the count instead: a few broken files among good ones are skipped with Ultralytics' warning, naming each, but a
quarter or more means the dataset is wrong (a converter bug, the wrong folder), not a few files."""


@dataclass
class SplitScan:
    """What one split's images and labels hold, as Ultralytics would judge them (see :func:`scan_split`)."""

    unreadable: int = 0
    bad_labels: int = 0
    unlabelled: int = 0
    first: str = ""  # the first problem found, for the error message
    max_class: int = -1  # the largest class id in any label file
    over_names: int = 0  # label files with a class id beyond the yaml's names
    over_example: str = ""
    malformed: str = ""  # the first oriented-box row that is not a class and four corners (file:line: ...)
    candidates: list[tuple[str, str]] = field(default_factory=list)  # (image, label) pairs that passed

    @property
    def dropped(self) -> int:
        return self.unreadable + self.bad_labels


def _max_class(lb: str) -> int:
    """The largest class id in a label file (first column), -1 when none parses (the verifier says why)."""
    ids = []
    try:
        with open(lb, encoding="utf-8-sig") as f:
            for line in f:
                if tok := line.split()[:1]:
                    ids.append(int(float(tok[0])))
    except (OSError, UnicodeDecodeError, ValueError):
        return -1
    return max(ids, default=-1)


def scan_split(
    images: list[str],
    nc: int,
    need_labels: bool,
    single_cls: bool,
    kpt_shape: Sequence[int] | None = None,
    obb: bool = False,
) -> SplitScan:
    """Read every image header and every label file of a split, the way Ultralytics' cache step will (a pose set's
    labels with its ``kpt_shape``, as its pose dataset reads them).

    Images get :func:`_prescreen`; labels get Ultralytics' own ``verify_image_label`` against a small stand-in
    image (in a temporary folder), so exactly its label rules apply and no image is decoded twice. About 0.2 ms an
    image on a 2-core machine: 20 s for COCO's 118k training images.
    """
    import tempfile

    from PIL import Image
    from ultralytics.data.utils import img2label_paths, verify_image_label

    scan = SplitScan()
    with tempfile.TemporaryDirectory(prefix="alwa-yolo-check-") as tmp:
        standin = str(Path(tmp) / "standin.png")
        Image.new("RGB", (32, 32)).save(standin)
        for im, lb in zip(images, img2label_paths(images)):
            if not os.path.isfile(lb):
                scan.unlabelled += 1  # background to Ultralytics; a problem only if no image has labels
                if need_labels:
                    continue
            elif not single_cls and (top := _max_class(lb)) >= 0:
                scan.max_class = max(scan.max_class, top)
                if top >= nc:
                    scan.over_names += 1
                    scan.over_example = scan.over_example or lb
            if _prescreen(im) == "unreadable":
                scan.unreadable += 1
                scan.first = scan.first or f"{im}: not an image Pillow can read"
                continue
            if os.path.isfile(lb):
                keypoint, nkpt, ndim = _keypoints(kpt_shape)
                *_, bad, msg = verify_image_label((standin, lb, "", keypoint, nc, nkpt, ndim, single_cls))
                if bad:
                    scan.bad_labels += 1
                    scan.first = scan.first or " ".join(msg.replace(standin, im).split())
                    continue
                if obb and not scan.malformed and (problem := obb_row_problem(lb)):
                    scan.malformed = problem
            scan.candidates.append((im, lb))
    return scan


def _keypoints(kpt_shape: Sequence[int] | None) -> tuple[bool, int, int]:
    """``verify_image_label``'s keypoint arguments for a ``kpt_shape``: (keypoint, nkpt, ndim)."""
    return (False, 0, 0) if not kpt_shape else (True, int(kpt_shape[0]), int(kpt_shape[1]))


def _usable(im: str, lb: str, nc: int, single_cls: bool, kpt_shape: Sequence[int] | None = None) -> bool:
    """Ultralytics' full check of one image and its label (a JPEG it would repair counts as usable: verifying it
    would rewrite the file)."""
    from ultralytics.data.utils import verify_image_label

    keypoint, nkpt, ndim = _keypoints(kpt_shape)
    return _prescreen(im) == "repair" or not verify_image_label((im, lb, "", keypoint, nc, nkpt, ndim, single_cls))[-2]


def check_dataset_usable(
    data: str | Path,
    splits: Sequence[str] = ("train", "val"),
    need_labels: Sequence[str] = (),
    single_cls: bool = False,
    obb: bool = False,
) -> None:
    """Refuse a split that Ultralytics would refuse only after creating the run folder (no images, or not one
    usable image with its label), and one it would train on only in part: class ids beyond the yaml's names, or a
    quarter or more of its images dropped (:data:`DROP_SHARE`); for an oriented-box model (``obb``), also any label
    row that is not a class and four corners, which Ultralytics would train on silently
    (:func:`~alwa_yolo.data.labels.obb_row_problem`).

    Every image header and label file is read (:func:`scan_split`); the first image that passes is then checked
    in full with Ultralytics' ``verify_image_label``. Broken files among good ones are left to Ultralytics,
    which skips each with a warning naming it.

    Args:
        data: the resolved dataset yaml.
        splits: the splits that will be read (``train`` and ``val`` for training, one split for validation).
        need_labels: the splits that need at least one label file (training's; a ``--save-json`` run may
            predict on an unlabelled split).
        single_cls: Ultralytics' ``single_cls``: any class id is then valid.

    Raises:
        UserError: naming the split, its folder, the counts and the first problem found.
    """
    from ultralytics.data.utils import img2label_paths

    file = Path(data)
    spec = load_data_yaml(file)
    root = dataset_root(spec, file)
    names = spec.get("names")
    nc = len(names) if names is not None else int(float(spec["nc"]))
    for split in splits:
        if not spec.get(split):
            raise UserError(f"dataset yaml '{file}' has no '{split}:' split. Add one, or use another split.")
        entries = spec[split] if isinstance(spec[split], list) else [spec[split]]
        where = f"'{split}: {spec[split]}' in '{file}'"
        images = [im for entry in entries for im in image_files((root / str(entry)).resolve())]
        if not images:
            folders = ", ".join(f"'{(root / str(e)).resolve()}'" for e in entries)
            raise UserError(
                f"dataset images not found: {where} resolves to {folders}, which holds no image files. Put the "
                "images there (jpg, png, ...), or point the yaml at the folder that has them."
            )
        kpt = spec.get("kpt_shape")
        scan = scan_split(images, nc, split in need_labels, single_cls, kpt_shape=kpt, obb=obb)
        if scan.malformed:
            raise UserError(
                f"an oriented-box label of {where} is malformed: {scan.malformed}. Ultralytics would train on the "
                "smallest rectangle around whatever points the row has, without a warning; fix the row (or remove "
                "the file). alwa-yolo stops at the first such row."
            )
        if scan.over_names:
            raise UserError(
                f"the labels of {where} use class ids up to {scan.max_class}, but the yaml names {nc} classes "
                f"(ids 0-{nc - 1}): {scan.over_names} of {len(images)} label files have a larger id (e.g. "
                f"'{scan.over_example}'), and Ultralytics would drop each of those images. Add the missing classes "
                f"to 'names:' in '{file}', or fix the labels' class ids."
            )
        if not any(_usable(im, lb, nc, single_cls, kpt) for im, lb in scan.candidates):
            example = img2label_paths(images[:1])[0]
            if not scan.dropped and not scan.candidates:
                raise UserError(
                    f"no label files for the {len(images)} images of {where}: Ultralytics looks for each "
                    f"image's labels at the same path under 'labels/' with a .txt suffix (e.g. '{example}'). "
                    "Convert or copy the labels there (python -m alwa_yolo.data voc|coco converts VOC and COCO)."
                )
            bad = scan.dropped + len(scan.candidates)
            also = f", and {scan.unlabelled} have no label file (e.g. '{example}')" if scan.unlabelled else ""
            first = scan.first or "an image Ultralytics' verifier rejects"
            raise UserError(
                f"no usable image in {where}: {bad} of {len(images)} images are unreadable or have invalid "
                f"labels{also}. The first: {first}. Fix or replace the files (Ultralytics skips "
                "bad images with a warning, but needs at least one good image with its label)."
            )
        if scan.dropped >= DROP_SHARE * len(images):
            raise UserError(
                f"{scan.dropped} of {len(images)} images of {where} would be dropped ({scan.unreadable} unreadable, "
                f"{scan.bad_labels} with labels Ultralytics rejects), {scan.dropped / len(images):.0%}: training "
                f"would go on with the rest. The first: {scan.first}. Fix the files or the yaml; alwa-yolo stops "
                f"when a quarter or more of a split would be dropped."
            )
