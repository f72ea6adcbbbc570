"""Does a dataset fit the model and can it train: its labels match the task, and each split has usable images.

Run by the pre-flight (:mod:`alwa_yolo.preflight`) before anything is written. The labels' kind is read from the
files (:mod:`.labels`); the usability scan reads each image and label the way Ultralytics' label cache does, without
writing one, so a dataset Ultralytics would reject (or shrink to nothing) fails here with its cause named.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError
from .labels import label_files_for, label_task, obb_row_problem
from .resolve import dataset_root, load_data_yaml, locate_data


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
