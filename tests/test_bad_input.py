"""Bad input gets one clear paragraph naming the problem and the fix: exit status 2, no traceback, no hang, and
nothing written anywhere the run could have written.

:data:`ROWS` is the matrix of the issue "Reliability": one row per bad input, grouped in the issue's classes. Each
row runs ``train.py``, ``val.py`` or ``python -m alwa_yolo.data`` (in this process through the scripts' own
``run_cli``, which is what ``__main__`` runs; a few rows in a subprocess, to prove the exit status) and asserts:
exit status 2; one ``error:`` line, the last on stderr, naming the bad value; no "Traceback"; and the same recursive
listing before and after of every place the run could write to (its ``--project``, the demo-set cache
``$ALWA_YOLO_CACHE``, the dataset folders, the ``--dst`` / ``--json`` targets).

``docs/bad_input.md`` holds the matrix as a table; :func:`test_docs_table_matches_the_matrix` checks it is the one
``python tests/test_bad_input.py`` writes from :data:`ROWS`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pytest
import torch
import yaml

from helpers import ROOT, TRAIN_FAST, run_script

CLASSES = {
    1: "Weights alwa-yolo cannot train, or that do not fit the data",
    2: "Dataset folders that give nothing usable",
    3: "Files that are not text",
    4: "Places that cannot be written",
    5: "Errors Ultralytics would raise after creating the run folder",
    6: "Numbers that are not finite or not sensible",
    7: "--resume",
    8: "COCO records the converter cannot use",
    9: "Other bad input (paths, yaml, options)",
}
"""The issue's classes of bad input, by number."""


@dataclass(frozen=True)
class Row:
    """One bad input.

    Attributes:
        cls: the class in :data:`CLASSES`.
        script: ``train.py``, ``val.py``, ``gains`` (``python -m alwa_yolo.gains``), ``voc`` or ``coco``
            (``python -m alwa_yolo.data voc|coco``).
        args: the command line; ``{w.name}`` placeholders are attributes of :class:`World` (made on first use).
        says: what the ``error:`` line must contain (placeholders as in ``args``): at least the bad value.
        what: the input, in words, for docs/bad_input.md.
        env: environment variables for the run (placeholders as in ``args``).
        subprocess: run the script as a process (slower; proves the exit status of the real entry point).
        as_root: False where permission bits are the point (root ignores them): skipped when run as root.
    """

    cls: int
    script: str
    args: tuple[str, ...]
    says: tuple[str, ...]
    what: str
    env: dict[str, str] = field(default_factory=dict)
    subprocess: bool = False
    as_root: bool = True

    @property
    def id(self) -> str:
        """A readable test id."""
        return f"{self.cls}-{self.script}-{self.what}"[:90]


def T(cls: int, args: tuple[str, ...], says: tuple[str, ...] | str, what: str, **kw) -> Row:
    """A train.py row."""
    return Row(cls, "train.py", args, (says,) if isinstance(says, str) else says, what, **kw)


def V(cls: int, args: tuple[str, ...], says: tuple[str, ...] | str, what: str, **kw) -> Row:
    """A val.py row."""
    return Row(cls, "val.py", args, (says,) if isinstance(says, str) else says, what, **kw)


def G(cls: int, args: tuple[str, ...], says: tuple[str, ...] | str, what: str, **kw) -> Row:
    """A gain finder row (``python -m alwa_yolo.gains``)."""
    return Row(cls, "gains", args, (says,) if isinstance(says, str) else says, what, **kw)


def D(cls: int, script: str, args: tuple[str, ...], says: tuple[str, ...] | str, what: str, **kw) -> Row:
    """A converter row (``script`` is ``voc`` or ``coco``)."""
    return Row(cls, script, args, (says,) if isinstance(says, str) else says, what, **kw)


# fmt: off
ROWS: tuple[Row, ...] = (
    # 1. weights alwa-yolo cannot train, or that do not fit the data
    T(1, ("--weights", "{w.random_pt}"), ("random.pt", "not a readable PyTorch checkpoint"), "random bytes .pt"),
    T(1, ("--weights", "{w.text_pt}"), ("text.pt", "not a readable PyTorch checkpoint"), "text file .pt"),
    T(1, ("--weights", "{w.empty_pt}"), ("empty.pt", "empty file"), "0-byte .pt"),
    T(1, ("--weights", "{w.dict_pt}"), ("dict.pt", "not an Ultralytics checkpoint"), "dict saved with torch.save"),
    T(1, ("--weights", "{w.data}"), ("{w.data}", "dataset yaml"), "dataset yaml as --weights"),
    T(1, ("--weights", "yolov8n-cls.yaml"), ("yolov8n-cls.yaml", "classification model"), "yolov8n-cls.yaml"),
    T(1, ("--weights", "yolov8n-pose.yaml"), ("yolov8n-pose.yaml", "pose model", "has no 'kpt_shape'"),
      "pose model on a detection dataset"),
    T(1, ("--weights", "yolov8n-obb.yaml"), ("yolov8n-obb.yaml", "oriented-box (OBB) model", "axis-aligned box"),
      "OBB model on a detection dataset"),
    T(1, ("--weights", "yolov8n-obb.yaml", "--reg-loss", "l1"), ("--reg-loss l1", "oriented-box (OBB) model"),
      "--reg-loss for an OBB model"),
    T(1, ("--weights", "cfg/models/rtdetr-n.yaml", "--reg-loss", "giou"), ("--reg-loss giou", "RT-DETR model",
      "Hungarian matcher"), "--reg-loss for an RT-DETR model"),
    T(1, ("--weights", "yolov8-worldv2.yaml"), ("yolov8-worldv2.yaml", "WorldDetect"), "a YOLO-World model"),
    T(1, ("--weights", "{w.cls_pt}"), ("cls.pt", "classification model"), "classification checkpoint"),
    T(1, ("--weights", "{w.pose_pt}"), ("pose.pt", "pose model", "has no 'kpt_shape'"),
      "pose checkpoint on a detection dataset"),
    T(1, ("--weights", "{w.folder_pt}"), ("folder.pt", "is a folder"), "a folder named .pt"),
    T(1, ("--cfg", "yolov8n-cls.yaml"), "--cfg 'yolov8n-cls.yaml' is a classification model", "--cfg yolov8n-cls.yaml"),
    T(1, ("--cfg", "{w.data}"), ("--cfg '{w.data}'", "dataset yaml"), "--cfg a dataset yaml"),
    T(1, ("--cfg", "{w.tmp}/nope.yaml"), ("nope.yaml", "given to --cfg not found"), "--cfg a missing yaml"),
    T(1, ("--cfg", "{w.det_pt}"), ("--cfg takes a model yaml", "det.pt"), "--cfg a checkpoint"),
    T(1, ("--cfg", "yolov8n.yaml", "--weights", "{w.cls_pt}"), ("--weights '{w.cls_pt}'", "classification"),
      "--cfg with a classification --weights"),
    T(1, ("--weights", "yolov8n-seg.yaml"), ("segmentation model", "box labels only"),
      "segmentation model on a detection dataset"),
    T(1, ("--weights", "yolov8n.yaml", "--data", "{w.seg_data}"), ("detection model", "polygon"),
      "detection model on a segmentation dataset"),
    T(1, ("--weights", "yolov8n-seg.yaml", "--data", "{w.gen_ok}"), ("segmentation model", "{w.gen_ok}"),
      "segmentation model on a detection demo set (not generated)"),
    V(1, ("--weights", "{w.random_pt}"), ("random.pt", "not a readable PyTorch checkpoint"), "random bytes .pt"),
    V(1, ("--weights", "{w.text_pt}"), ("text.pt", "not a readable PyTorch checkpoint"), "text file .pt"),
    V(1, ("--weights", "{w.empty_pt}"), ("empty.pt", "empty file"), "0-byte .pt"),
    V(1, ("--weights", "{w.dict_pt}"), ("dict.pt", "not an Ultralytics checkpoint"), "dict saved with torch.save"),
    V(1, ("--weights", "{w.data}"), ("{w.data}", "trained .pt checkpoint"), "dataset yaml as --weights"),
    V(1, ("--weights", "yolov8n-cls.yaml"), ("yolov8n-cls.yaml", "trained .pt checkpoint"), "yolov8n-cls.yaml"),
    V(1, ("--weights", "{w.cls_pt}"), ("cls.pt", "classification model"), "classification checkpoint"),
    V(1, ("--weights", "{w.pose_pt}"), ("pose.pt", "pose model", "has no 'kpt_shape'"),
      "pose checkpoint on a detection dataset"),
    V(1, ("--weights", "{w.obb_pt}"), ("obb.pt", "oriented-box (OBB) model", "axis-aligned box"),
      "OBB checkpoint on a detection dataset"),
    V(1, ("--weights", "{w.seg_pt}"), ("seg.pt", "segmentation model", "box labels only"),
      "segmentation checkpoint on a detection dataset"),
    V(1, ("--data", "{w.seg_data}"), ("det.pt", "detection model", "polygon"),
      "detection checkpoint on a segmentation dataset"),
    V(1, ("--weights", "{w.random_pt}"), ("random.pt", "not a readable PyTorch checkpoint"),
      "random bytes .pt (subprocess)", subprocess=True),
    # 2. dataset folders that exist but give nothing usable
    T(2, ("--data", "{w.ds_empty_train}"), ("'train: images/train'", "holds no image files"), "empty train folder"),
    T(2, ("--data", "{w.ds_empty_val}"), ("'val: images/val'", "holds no image files"), "empty val folder"),
    T(2, ("--weights", "yolov8n-obb.yaml", "--data", "{w.ds_obb_three_corners}"),
      ("train_00001.txt:2", "7 values", "four corners"), "OBB label row with three corners (7 values)"),
    T(2, ("--data", "{w.ds_corrupt_train}"), ("no usable image", "'train: images/train'", "train_00000.png"),
      "every train image corrupt"),
    T(2, ("--data", "{w.ds_corrupt_val}"), ("no usable image", "'val: images/val'"), "every val image corrupt"),
    T(2, ("--data", "{w.ds_bad_labels}"), ("class ids up to 99", "names 3 classes", "Add the missing classes"),
      "every label's class id beyond the names"),
    T(2, ("--data", "{w.ds_fewer_names}"), ("class ids up to 2", "names 2 classes", "label files have a larger id"),
      "2 names, labels with ids 0-2"),
    T(2, ("--data", "{w.ds_half_malformed}"), ("16 of 32 images", "would be dropped", "a quarter or more"),
      "half the train labels malformed"),
    T(2, ("--data", "{w.ds_all_malformed}"), ("no usable image", "labels require 5 columns"),
      "every train label malformed"),
    T(2, ("--data", "{w.ds_binary_labels}"), ("no usable image", "train_00000"), "every label file binary"),
    T(2, ("--data", "{w.ds_no_train_labels}"), ("no label files", "'train: images/train'"), "no train label files"),
    T(2, ("--data", "{w.ds_no_val_labels}"), ("no label files", "'val: images/val'"), "no val label files"),
    T(2, ("--data", "{w.ds_list_of_nothing}"), ("holds no image files", "list.txt"), "image list naming no images"),
    T(2, ("--data", "{w.gen_negative}"), ("train must be an integer of at least 1", "-4"),
      "generate: block with a negative count"),
    T(2, ("--data", "{w.gen_zero}"), ("val must be an integer of at least 1", "got 0"), "generate: block with val: 0"),
    T(2, ("--data", "{w.gen_tiny_imgsz}"), ("imgsz must be an integer of at least 32", "got 8"),
      "generate: block with imgsz: 8"),
    T(2, ("--data", "{w.gen_not_mapping}"), ("'generate: True'", "must be a mapping"), "generate: yes"),
    T(2, ("--data", "{w.gen_names}"), ("draws 3 classes", "give 2"), "generate: 3 classes, 2 names"),
    V(2, ("--data", "{w.ds_corrupt_val}"), ("no usable image", "'val: images/val'"), "every val image corrupt"),
    V(2, ("--data", "{w.ds_no_val_labels}"), ("no label files", "'val: images/val'"), "no val label files"),
    V(2, ("--data", "{w.ds_empty_val}"), ("'val: images/val'", "holds no image files"), "empty val folder"),
    # 3. files that are not text
    T(3, ("--data", "{w.binary_yaml}"), ("binary.yaml", "not a text file"), "binary file as --data",
      subprocess=True),
    T(3, ("--hyp", "{w.binary_yaml}"), ("binary.yaml", "not a text file"), "binary --hyp"),
    T(3, ("--weights", "{w.binary_yaml}"), ("binary.yaml", "not a text file"), "binary model yaml as --weights"),
    V(3, ("--data", "{w.binary_yaml}"), ("binary.yaml", "not a text file"), "binary file as --data"),
    D(3, "voc", ("--src", "{w.devkit_binary_list}", "--dst", "{w.dst}"), ("trainval.txt", "not a text file"),
      "binary ImageSets list", subprocess=True),
    D(3, "voc", ("--src", "{w.devkit}", "--dst", "{w.dst}", "--classes", "{w.binary_yaml}"),
      ("binary.yaml", "not a text file"), "binary --classes file"),
    D(3, "coco", ("--src", "{w.coco_binary}", "--dst", "{w.dst}"), ("instances_val2017.json", "not a UTF-8 text"),
      "binary COCO json"),
    # 4. places that cannot be written
    T(4, ("--project", "{w.file}/runs"), ("{w.file}/runs", "is a file, not a folder"), "--project under a file",
      subprocess=True),
    T(4, ("--project", "{w.file}"), ("{w.file}", "is a file"), "--project is a file"),
    T(4, ("--project", "{w.tmp}", "--name", "a-file"), ("a-file", "is a file"), "--name is a file"),
    T(4, ("--data", "{w.gen_ok}",), ("{w.file}/cache", "is a file", "ALWA_YOLO_CACHE"),
      "demo-set cache ($ALWA_YOLO_CACHE) under a file", env={"ALWA_YOLO_CACHE": "{w.file}/cache"}),
    T(4, ("--project", "{w.readonly}/runs"), ("{w.readonly}/runs", "not writable"), "--project in a read-only folder",
      as_root=False),
    T(4, ("--data", "{w.gen_ok}",), ("{w.readonly}/cache", "not writable"), "demo-set cache in a read-only folder",
      env={"ALWA_YOLO_CACHE": "{w.readonly}/cache"}, as_root=False),
    V(4, ("--project", "{w.file}/runs"), ("{w.file}/runs", "is a file"), "--project under a file"),
    V(4, ("--json", "{w.file}/out.json"), ("--json '{w.file}/out.json'", "is a file"), "--json under a file",
      subprocess=True),
    V(4, ("--json", "{w.tmp}"), ("--json '{w.tmp}'", "is a folder"), "--json is a folder"),
    V(4, ("--json", "{w.readonly}/out.json"), ("{w.readonly}/out.json", "not writable"),
      "--json in a read-only folder", as_root=False),
    D(4, "voc", ("--src", "{w.devkit}", "--dst", "{w.file}/VOC"), ("--dst '{w.file}/VOC'", "is a file"),
      "voc --dst under a file"),
    D(4, "voc", ("--src", "{w.devkit}", "--dst", "{w.file}"), ("--dst '{w.file}'", "is a file"), "voc --dst is a file"),
    D(4, "coco", ("--src", "{w.coco_ok}", "--dst", "{w.file}/coco"), ("--dst '{w.file}/coco'", "is a file"),
      "coco --dst under a file"),
    D(4, "voc", ("--src", "{w.devkit}", "--dst", "{w.readonly}/VOC"), ("{w.readonly}/VOC", "not writable"),
      "voc --dst in a read-only folder", as_root=False),
    G(4, ("--out", "{w.data}"), ("--out '{w.data}'", "the command's --data input"), "gains --out the dataset yaml"),
    G(4, ("--out", "{w.hyp_unknown}", "--hyp", "{w.hyp_unknown}"), ("the command's --hyp input",),
      "gains --out the --hyp file"),
    G(4, ("--out", "{w.hyp_nan}", "cfg={w.hyp_nan}"), ("the command's cfg= input",), "gains --out the cfg= file"),
    G(4, ("--out", "{w.file}"), ("--out '{w.file}'", "not a gains yaml this tool wrote", "--overwrite"),
      "gains --out an existing file it did not write"),
    G(4, ("--out", "{w.readonly}/g.yaml"), ("{w.readonly}/g.yaml", "not writable"), "gains --out in a read-only folder",
      as_root=False),
    T(4, ("--exist-ok", "--name", "live", "--project", "{w.project_live}"), ("in use by another training",
      "live", "--name"), "a run folder a live training holds (--exist-ok)"),
    # 5. what Ultralytics rejects only after creating the run folder
    T(5, ("--data", "{w.names_nc_mismatch}"), ("'names' lists 3 classes", "'nc: 2'"), "names / nc mismatch"),
    T(5, ("--data", "{w.names_string}"), ("'names: 'abc''", "must be a list or a mapping"), "names a string"),
    T(5, ("--data", "{w.names_gap}"), ("bad 'names:", "class indices 0-2"), "names with a gap in the ids"),
    T(5, ("--data", "{w.nc_word}"), ("'nc: 'many''", "positive integer"), "nc not a number"),
    T(5, ("--data", "{w.path_number}"), ("'path: 12'", "must be a string"), "path a number"),
    T(5, ("--data", "coco8.yaml"), ("coco8", "downloads are off"), "a yaml that needs a download, offline"),
    T(5, ("--data", "{w.ds_corrupt_train}", "--exist-ok", "--name", "keep", "--project", "{w.project_with_run}"),
      "no usable image", "failure with --exist-ok on an existing run (kept)"),
    V(5, ("--data", "{w.names_string}"), ("'names: 'abc''", "must be a list or a mapping"), "names a string"),
    V(5, ("--data", "coco8.yaml"), ("coco8", "downloads are off"), "a yaml that needs a download, offline"),
    D(5, "voc", ("--src", "{w.devkit_bad_second}", "--dst", "{w.dst_existing}"), ("000002.xml", "not valid XML"),
      "voc: malformed XML after good ones, into an existing dataset"),
    # 6. numbers that are not finite or not sensible
    T(6, ("--smoothl1-beta", "nan"), ("--smoothl1-beta", "nan"), "--smoothl1-beta nan"),
    T(6, ("--smoothl1-beta", "inf"), ("--smoothl1-beta", "inf"), "--smoothl1-beta inf"),
    T(6, ("box=.nan",), ("box must be a number", "nan"), "box=.nan"),
    T(6, ("obj=.nan",), ("--obj must be a number", "nan"), "obj=.nan"),
    T(6, ("cls=-1",), ("cls must be a number of at least 0", "-1"), "cls=-1"),
    T(6, ("dfl=.inf",), ("dfl must be a number", "inf"), "dfl=.inf"),
    T(6, ("warmup_epochs=.nan",), ("warmup_epochs must be a finite number", "nan"), "warmup_epochs=.nan"),
    T(6, ("--batch-size", "0"), ("--batch-size", "got 0"), "--batch-size 0"),
    T(6, ("--workers", "-1"), ("--workers", "got -1"), "--workers -1"),
    T(6, ("--epochs", "0"), ("--epochs", "got 0"), "--epochs 0"),
    T(6, ("--epochs", "ten"), ("--epochs", "'ten'"), "--epochs ten", subprocess=True),
    T(6, ("--anchor-t", "1"), ("--anchor-t", "got 1.0"), "--anchor-t 1"),
    T(6, ("--seed", "-1"), ("--seed", "got -1"), "--seed -1"),
    T(6, ("--img", "0"), ("--img 0", "too small"), "--img 0"),
    T(6, ("--hyp", "{w.hyp_nan}"), ("lr0 must be a number greater than 0", "nan"), "lr0: .nan in a --hyp file"),
    V(6, ("--img", "0"), ("--img 0", "too small"), "--img 0"),
    V(6, ("--batch-size", "0"), ("--batch-size", "got 0"), "--batch-size 0"),
    V(6, ("--conf-thres", "2"), ("--conf-thres", "from 0 to 1", "got 2.0"), "--conf-thres 2", subprocess=True),
    V(6, ("--conf-thres", "nan"), ("--conf-thres", "nan"), "--conf-thres nan"),
    V(6, ("--iou-thres", "-1"), ("--iou-thres", "got -1.0"), "--iou-thres -1"),
    V(6, ("--workers", "-1"), ("--workers", "got -1"), "--workers -1"),
    V(6, ("--img", "abc"), ("--img", "'abc'"), "--img abc"),
    # 7. --resume
    T(7, ("--resume", "{w.tmp}/missing.pt"), ("missing.pt", "not found"), "--resume a missing file"),
    T(7, ("--resume", "{w.random_pt}"), ("--resume", "random.pt", "not a readable PyTorch checkpoint"),
      "--resume random bytes"),
    T(7, ("--resume", "{w.dict_pt}"), ("--resume", "dict.pt", "not an Ultralytics checkpoint"),
      "--resume a plain dict"),
    T(7, ("--resume", "{w.det_pt}"), ("det.pt", "finished run"), "--resume a finished run"),
    T(7, ("--resume", "{w.tmp}"), ("--resume", "is a folder"), "--resume a folder"),
    T(7, ("--resume",), ("found no weights/last.pt", "{w.project}"), "--resume with no run in --project"),
    # 8. COCO records the converter cannot use
    D(8, "coco", ("--src", "{w.coco_file_name_int}", "--dst", "{w.dst}"), ("image 1", "file_name 7"), "file_name 7"),
    D(8, "coco", ("--src", "{w.coco_file_name_null}", "--dst", "{w.dst}"), ("image 1", "file_name None"),
      "file_name null", subprocess=True),
    D(8, "coco", ("--src", "{w.coco_file_name_escape}", "--dst", "{w.dst}"), ("image 1", "'../x.jpg'"),
      "file_name outside the images folder"),
    G(6, ("--iterations", "1000000000"), ("--iterations must be from 2 to 1000", "1000000000"),
      "gains --iterations 1000000000"),
    G(6, ("--chunks", "500"), ("--chunks must be from 2 to 100", "500"), "gains --chunks 500"),
    # 9. other bad input
    T(9, ("--data", "{w.tmp}/nope.yaml"), ("nope.yaml", "not found"), "missing dataset yaml"),
    T(9, ("--data", "{w.malformed_yaml}"), ("malformed.yaml", "not valid YAML", "line 2"), "malformed yaml"),
    T(9, ("--data", "{w.list_yaml}"), ("list.yaml", "mapping"), "yaml holding a list"),
    T(9, ("--data", "{w.no_val_yaml}"), ("no_val.yaml", "'val'"), "yaml without val:"),
    T(9, ("--data", "{w.nowhere_yaml}"), ("nowhere", "does not exist"), "image folders that do not exist"),
    T(9, ("--data", "{w.tmp}",), ("{w.tmp}", "is a folder"), "a folder as --data"),
    T(9, ("--weights", "{w.tmp}/yolov8n.pt"), ("yolov8n.pt", "not found", "--weights yolov8n.yaml"), "missing .pt"),
    T(9, ("--weighting", "bogus"), "unknown weighting 'bogus'", "--weighting bogus"),
    T(9, ("--alwa-interval", "1"), ("--alwa-interval", "at least 2"), "--alwa-interval 1"),
    T(9, ("--reg-loss", "bogus"), "'bogus'", "--reg-loss bogus"),
    T(9, ("--gains", "huge"), "unknown gains 'huge'", "--gains huge"),
    T(9, ("--weights", "yolov8n.yaml", "model=yolo11n.yaml"), ("model=yolo11n.yaml", "--weights yolov8n.yaml",
      "two different models"), "model= and --weights naming two models"),
    T(9, ("mode=val",), ("mode=val", "val.py"), "mode=val to train.py"),
    T(9, ("resume=True",), ("resume=True", "--resume"), "resume= as a key"),
    T(9, ("task=pose",), ("task=pose", "yolov8n.yaml is a detect model"), "task= that is not the model's"),
    T(9, ("cfg={w.hyp_nan}", "--hyp", "{w.hyp_unknown}"), ("cfg=", "--hyp", "Pass one"), "cfg= and --hyp together"),
    T(9, ("lr00=0.1",), ("lr00", "Did you mean 'lr0'"), "lr00=0.1"),
    T(9, ("--no-such-flag",), ("--no-such-flag", "unrecognised argument"), "--no-such-flag"),
    T(9, ("--epcohs", "1"), ("'--epcohs'", "Did you mean --epochs?"), "--epcohs 1 (a typo of a flag)"),
    T(9, ("--patience", "5"), ("'--patience'", "patience=VALUE"), "--patience 5 (a YOLOv5 flag that is a key here)"),
    T(9, ("lr0=abc",), "lr0 must be a number greater than 0, got 'abc'", "lr0=abc"),
    T(9, ("--device", "7"), "Invalid CUDA 'device=7'", "--device 7", subprocess=True),
    T(9, ("--hyp", "{w.tmp}/nope.yaml"), ("nope.yaml", "not found"), "missing --hyp"),
    T(9, ("--hyp", "{w.hyp_unknown}"), ("hyp_unknown.yaml", "unknown key", "bogus_key"), "--hyp with an unknown key"),
    V(9, ("--weights", "{w.tmp}/missing.pt"), ("missing.pt", "not found"), "missing .pt"),
    V(9, ("mode=train",), ("mode=train", "train.py"), "mode=train to val.py"),
    V(9, ("max_dett=5",), ("max_dett", "Did you mean 'max_det'"), "max_dett=5 (a typo of an Ultralytics key)"),
    V(9, ("--weights", "{w.project_with_run}/keep"), ("is a folder", "val.py evaluates", "keep/weights/best.pt"),
      "a run folder as --weights"),
    T(9, ("--weights", "{w.file}"), ("a-file", "is a file, not a .pt checkpoint or a model yaml"),
      "--weights an existing file of another kind"),
    V(9, ("--task", "test"), "no 'test:' split", "--task test without a test split"),
    V(9, ("--no-such-flag",), ("--no-such-flag", "unrecognised argument"), "--no-such-flag"),
    D(9, "voc", ("--src", "{w.tmp}/missing", "--dst", "{w.dst}"), ("{w.tmp}/missing", "does not exist"),
      "missing VOC source"),
    D(9, "coco", ("--src", "{w.tmp}/missing", "--dst", "{w.dst}"), ("{w.tmp}/missing", "do not exist"),
      "missing COCO source"),
)
# fmt: on


# --------------------------------------------------------------------------------------------------- the inputs


@dataclass
class Shared:
    """Inputs made once per session: checkpoints of each kind, a detection and a segmentation dataset."""

    data: Path  # the tiny detection set's resolved yaml (in the session cache)
    seg_data: Path  # a tiny segmentation set's resolved yaml
    checkpoints: Path  # det.pt (a real, finished run's), cls.pt, pose.pt, obb.pt, seg.pt

    @property
    def roots(self) -> list[Path]:
        """The shared folders a bad run could write into (dataset label caches, checkpoints)."""
        return [Path(yaml.safe_load(p.read_text())["path"]) for p in (self.data, self.seg_data)] + [self.checkpoints]


@pytest.fixture(scope="session")
def shared(tiny_data, tmp_path_factory) -> Shared:
    from ultralytics.nn.tasks import ClassificationModel, OBBModel, PoseModel, SegmentationModel

    from alwa_yolo.data.resolve import resolve_data

    seg_yaml = tmp_path_factory.mktemp("bad-input-seg") / "seg.yaml"
    seg_yaml.write_text(
        "path: bad-input-seg\ntrain: images/train\nval: images/val\nnames: [a, b, c]\n"
        "generate: {kind: shapes, classes: 3, train: 4, val: 2, imgsz: 64, task: segment, seed: 3}\n"
    )
    ckpts = tmp_path_factory.mktemp("bad-input-checkpoints")
    shutil.copyfile(ROOT / "tests" / "data" / "anchor-v0.1-layout.pt", ckpts / "det.pt")  # 3 classes, finished
    for name, cls, cfg in (
        ("cls", ClassificationModel, "yolov8n-cls.yaml"),
        ("pose", PoseModel, "yolov8n-pose.yaml"),
        ("obb", OBBModel, "yolov8n-obb.yaml"),
        ("seg", SegmentationModel, "yolov8n-seg.yaml"),
    ):
        torch.save({"model": cls(cfg, nc=3, verbose=False), "epoch": -1}, ckpts / f"{name}.pt")
    return Shared(tiny_data, Path(resolve_data(seg_yaml)), ckpts)


class World:
    """The inputs of one row, made in its own folder on first use (``{w.random_pt}`` in a row makes the file)."""

    def __init__(self, tmp: Path, shared: Shared):
        self.tmp, self.shared = tmp, shared
        self.inputs = tmp / "inputs"
        self.inputs.mkdir()
        self.project, self.cache, self.dst = tmp / "runs", tmp / "cache", tmp / "out"  # not made: must stay absent
        (tmp / "a-file").write_text("a regular file\n")
        self.readonly_dirs: list[Path] = []

    def _write(self, name: str, content: str | bytes) -> Path:
        path = self.inputs / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
        return path

    # shared
    @property
    def data(self) -> Path:
        return self.shared.data

    @property
    def seg_data(self) -> Path:
        return self.shared.seg_data

    @property
    def det_pt(self) -> Path:
        return self.shared.checkpoints / "det.pt"

    @property
    def cls_pt(self) -> Path:
        return self.shared.checkpoints / "cls.pt"

    @property
    def pose_pt(self) -> Path:
        return self.shared.checkpoints / "pose.pt"

    @property
    def obb_pt(self) -> Path:
        return self.shared.checkpoints / "obb.pt"

    @property
    def seg_pt(self) -> Path:
        return self.shared.checkpoints / "seg.pt"

    # files that are not what they claim
    @cached_property
    def file(self) -> Path:
        return self.tmp / "a-file"

    @cached_property
    def random_pt(self) -> Path:
        return self._write("random.pt", os.urandom(4096))

    @cached_property
    def text_pt(self) -> Path:
        return self._write("text.pt", "these are not the weights you are looking for\n")

    @cached_property
    def empty_pt(self) -> Path:
        return self._write("empty.pt", b"")

    @cached_property
    def dict_pt(self) -> Path:
        path = self.inputs / "dict.pt"
        torch.save({"weights": torch.zeros(3), "note": "not a model"}, path)
        return path

    @cached_property
    def folder_pt(self) -> Path:
        (self.inputs / "folder.pt").mkdir()
        return self.inputs / "folder.pt"

    @cached_property
    def binary_yaml(self) -> Path:
        return self._write("binary.yaml", bytes(range(256)) * 4)

    @cached_property
    def readonly(self) -> Path:
        path = self.tmp / "read-only"
        path.mkdir()
        path.chmod(0o555)
        self.readonly_dirs.append(path)
        return path

    # dataset yamls
    def _data_yaml(self, name: str, **keys) -> Path:
        spec = {"path": str(Path(yaml.safe_load(self.data.read_text())["path"])), "train": "images/train"}
        spec.update(val="images/val", names=["red_circle", "green_square", "blue_triangle"])
        spec.update(keys)
        return self._write(name, yaml.safe_dump({k: v for k, v in spec.items() if v is not None}, sort_keys=False))

    @cached_property
    def names_nc_mismatch(self) -> Path:
        return self._data_yaml("mismatch.yaml", nc=2)

    @cached_property
    def names_string(self) -> Path:
        return self._data_yaml("names_string.yaml", names="abc")

    @cached_property
    def names_gap(self) -> Path:
        return self._data_yaml("names_gap.yaml", names={0: "a", 2: "c", 3: "d"})

    @cached_property
    def nc_word(self) -> Path:
        return self._data_yaml("nc_word.yaml", names=None, nc="many")

    @cached_property
    def path_number(self) -> Path:
        return self._write("path_number.yaml", "path: 12\ntrain: images/train\nval: images/val\nnames: [a]\n")

    @cached_property
    def malformed_yaml(self) -> Path:
        return self._write("malformed.yaml", "train: [a, b\nval: x\n")

    @cached_property
    def list_yaml(self) -> Path:
        return self._write("list.yaml", "- just\n- a list\n")

    @cached_property
    def no_val_yaml(self) -> Path:
        return self._write("no_val.yaml", "train: images/train\nnames: [a]\n")

    @cached_property
    def nowhere_yaml(self) -> Path:
        return self._write(
            "nowhere.yaml", f"path: {self.tmp / 'nowhere'}\ntrain: images/train\nval: images/val\nnames: [a]\n"
        )

    @cached_property
    def hyp_nan(self) -> Path:
        return self._write("hyp_nan.yaml", "lr0: .nan\n")

    @cached_property
    def hyp_unknown(self) -> Path:
        return self._write("hyp_unknown.yaml", "bogus_key: 1\n")

    # generate: blocks (the cache must stay empty)
    def _gen(self, name: str, names: str = "[a, b, c]", **generate) -> Path:
        spec = {"kind": "shapes", "classes": 3, "train": 4, "val": 2, "imgsz": 64, **generate}
        body = ", ".join(f"{k}: {v}" for k, v in spec.items())
        return self._write(
            name, f"path: {name[:-5]}\ntrain: images/train\nval: images/val\nnames: {names}\ngenerate: {{{body}}}\n"
        )

    @cached_property
    def gen_ok(self) -> Path:
        return self._gen("gen_ok.yaml")

    @cached_property
    def gen_negative(self) -> Path:
        return self._gen("gen_negative.yaml", train=-4)

    @cached_property
    def gen_zero(self) -> Path:
        return self._gen("gen_zero.yaml", val=0)

    @cached_property
    def gen_tiny_imgsz(self) -> Path:
        return self._gen("gen_tiny_imgsz.yaml", imgsz=8)

    @cached_property
    def gen_names(self) -> Path:
        return self._gen("gen_names.yaml", names="[a, b]")

    @cached_property
    def gen_not_mapping(self) -> Path:
        return self._write(
            "gen_not_mapping.yaml", "path: x\ntrain: images/train\nval: images/val\nnames: [a]\ngenerate: yes\n"
        )

    # broken copies of the tiny dataset
    def _dataset(self, name: str, change) -> Path:
        src = Path(yaml.safe_load(self.data.read_text())["path"])
        root = self.inputs / name
        shutil.copytree(src, root, ignore=shutil.ignore_patterns("*.cache", "data.yaml"))
        change(root)
        return self._data_yaml(f"{name}.yaml", path=str(root))

    @staticmethod
    def _empty(folder: Path) -> None:
        for f in folder.iterdir():
            f.unlink()

    @staticmethod
    def _overwrite(folder: Path, content: bytes) -> None:
        for f in folder.iterdir():
            f.write_bytes(content)

    @cached_property
    def ds_empty_train(self) -> Path:
        return self._dataset("empty_train", lambda r: self._empty(r / "images" / "train"))

    @cached_property
    def ds_empty_val(self) -> Path:
        return self._dataset("empty_val", lambda r: self._empty(r / "images" / "val"))

    @cached_property
    def ds_corrupt_train(self) -> Path:
        return self._dataset("corrupt_train", lambda r: self._overwrite(r / "images" / "train", b"not a png"))

    @cached_property
    def ds_corrupt_val(self) -> Path:
        return self._dataset("corrupt_val", lambda r: self._overwrite(r / "images" / "val", b"not a png"))

    @cached_property
    def ds_bad_labels(self) -> Path:
        return self._dataset("bad_labels", lambda r: self._overwrite(r / "labels" / "train", b"99 0.5 0.5 0.2 0.2\n"))

    @cached_property
    def ds_fewer_names(self) -> Path:
        return self._data_yaml("fewer_names.yaml", names=["red_circle", "green_square"])

    @staticmethod
    def _malform(folder: Path, every: int) -> None:
        for i, f in enumerate(sorted(folder.iterdir())):
            if i % every == 0:
                f.write_text("0 0.5 0.5 0.2\n")  # 4 columns: Ultralytics drops the image

    @cached_property
    def ds_half_malformed(self) -> Path:
        return self._dataset("half_malformed", lambda r: self._malform(r / "labels" / "train", 2))

    @cached_property
    def ds_all_malformed(self) -> Path:
        return self._dataset("all_malformed", lambda r: self._malform(r / "labels" / "train", 1))

    @cached_property
    def ds_binary_labels(self) -> Path:
        return self._dataset("binary_labels", lambda r: self._overwrite(r / "labels" / "train", bytes(range(256))))

    @cached_property
    def ds_no_train_labels(self) -> Path:
        return self._dataset("no_train_labels", lambda r: shutil.rmtree(r / "labels" / "train"))

    @cached_property
    def ds_no_val_labels(self) -> Path:
        return self._dataset("no_val_labels", lambda r: shutil.rmtree(r / "labels" / "val"))

    @cached_property
    def ds_list_of_nothing(self) -> Path:
        self._write("list.txt", "./notes.md\n./readme.txt\n")
        val = Path(yaml.safe_load(self.data.read_text())["path"]) / "images" / "val"
        return self._data_yaml("list_of_nothing.yaml", path=str(self.inputs), train="list.txt", val=str(val))

    @cached_property
    def ds_obb_three_corners(self) -> Path:
        """The tiny set with four-corner (OBB) labels, one of whose rows has only three corners."""

        def to_corners(root: Path) -> None:
            for f in sorted((root / "labels").rglob("*.txt")):
                rows = [[float(v) for v in line.split()] for line in f.read_text().splitlines() if line.strip()]
                corners = [(c, x - w / 2, y - h / 2, x + w / 2, y - h / 2, x + w / 2, y + h / 2, x - w / 2, y + h / 2)
                           for c, x, y, w, h in rows]  # fmt: skip
                f.write_text("".join(f"{int(r[0])} " + " ".join(f"{v:.4f}" for v in r[1:]) + "\n" for r in corners))
            bad = root / "labels" / "train" / "train_00001.txt"
            lines = bad.read_text().splitlines()
            lines.append(" ".join(lines[0].split()[:7]))  # a second row with three corners
            bad.write_text("\n".join(lines) + "\n")

        return self._dataset("obb_three_corners", to_corners)

    @cached_property
    def project_live(self) -> Path:
        """A run folder whose lock names a live process on this machine (this test's parent)."""
        import socket

        from alwa_yolo.run_lock import LOCK_NAME

        run = self.tmp / "live-runs" / "live"
        run.mkdir(parents=True)
        lock = {"pid": os.getppid(), "host": socket.gethostname(), "started": "earlier"}
        (run / LOCK_NAME).write_text(json.dumps(lock))
        return self.tmp / "live-runs"

    @cached_property
    def project_with_run(self) -> Path:
        run = self.tmp / "kept" / "keep" / "weights"
        run.mkdir(parents=True)
        (run / "best.pt").write_bytes(b"precious")
        return self.tmp / "kept"

    # VOC and COCO sources
    def _devkit(self, name: str, images: dict[str, str], list_text: str | bytes | None = None) -> Path:
        import cv2
        import numpy as np

        root = self.inputs / name / "VOC2007"
        for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
            (root / sub).mkdir(parents=True)
        for image_id, xml in images.items():
            cv2.imwrite(str(root / "JPEGImages" / f"{image_id}.jpg"), np.full((20, 30, 3), 127, np.uint8))
            (root / "Annotations" / f"{image_id}.xml").write_text(xml)
        listing = list_text if list_text is not None else "".join(f"{i}\n" for i in images)
        target = root / "ImageSets" / "Main" / "trainval.txt"
        target.write_bytes(listing) if isinstance(listing, bytes) else target.write_text(listing)
        return self.inputs / name

    @staticmethod
    def _xml(image_id: str) -> str:
        return (
            f"<annotation><filename>{image_id}.jpg</filename><size><width>30</width><height>20</height></size>"
            "<object><name>dog</name><difficult>0</difficult><bndbox><xmin>2</xmin><ymin>2</ymin><xmax>20</xmax>"
            "<ymax>15</ymax></bndbox></object></annotation>"
        )

    @cached_property
    def devkit(self) -> Path:
        return self._devkit("devkit", {"000001": self._xml("000001")})

    @cached_property
    def devkit_binary_list(self) -> Path:
        return self._devkit("devkit_binary", {"000001": self._xml("000001")}, b"\xff\xfe\x00\x81binary\x00\x9c")

    @cached_property
    def devkit_bad_second(self) -> Path:
        return self._devkit("devkit_bad", {"000001": self._xml("000001"), "000002": "<annotation><size>"})

    @cached_property
    def dst_existing(self) -> Path:
        """A dataset converted earlier: a failed conversion into it must leave it as it was."""
        dst = self.tmp / "VOC"
        for kind, name in (("images", "000009.jpg"), ("labels", "000009.txt")):
            (dst / kind / "trainval2007").mkdir(parents=True)
            (dst / kind / "trainval2007" / name).write_text("earlier conversion\n")
        return dst

    def _coco(self, name: str, content: str | bytes) -> Path:
        return self._write(f"{name}/instances_val2017.json", content).parent

    def _coco_image(self, file_name) -> Path:
        images = [{"id": 1, "file_name": file_name, "width": 10, "height": 10}]
        ann = [{"id": 5, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "iscrowd": 0}]
        return json.dumps({"images": images, "annotations": ann, "categories": [{"id": 1, "name": "person"}]})

    @cached_property
    def coco_ok(self) -> Path:
        return self._coco("coco_ok", self._coco_image("a.jpg"))

    @cached_property
    def coco_binary(self) -> Path:
        return self._coco("coco_binary", b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe binary")

    @cached_property
    def coco_file_name_int(self) -> Path:
        return self._coco("coco_int", self._coco_image(7))

    @cached_property
    def coco_file_name_null(self) -> Path:
        return self._coco("coco_null", self._coco_image(None))

    @cached_property
    def coco_file_name_escape(self) -> Path:
        return self._coco("coco_escape", self._coco_image("../x.jpg"))

    def fill(self, text: str) -> str:
        """``text`` with its ``{w.name}`` placeholders filled in (making the inputs they name)."""
        return text.format(w=self)

    def watched(self) -> list[Path]:
        """Every place a run of a row could write to: this row's folder (its --project, cache, --dst, --json and
        dataset copies live there), the shared datasets and checkpoints."""
        return [self.tmp, *self.shared.roots]


def listing(roots: list[Path]) -> set[str]:
    """Every file and folder below ``roots`` (and whether each root exists)."""
    out = set()
    for root in roots:
        out.add(f"{root}: {'exists' if root.exists() else 'absent'}")
        out.update(str(p) for p in root.rglob("*"))
    return out


TRAIN_BASE = ("--epochs", "1", "--img", "64", "--device", "cpu", "--workers", "0")
"""Flags every train.py row starts with (a row's own flags follow and win): a row that got through would be short."""


def command(row: Row, w: World) -> list[str]:
    """The row's full command line (without the interpreter), placeholders filled."""
    if row.script == "train.py":
        base = (*TRAIN_BASE, "--project", str(w.project), "--data", str(w.data))
    elif row.script == "val.py":
        base = ("--device", "cpu", "--workers", "0", "--project", str(w.project), "--data", str(w.data))
        base += ("--weights", str(w.det_pt))
    elif row.script == "gains":
        base = ("--device", "cpu", "--workers", "0", "--data", str(w.data), "--out", str(w.dst / "gains.yaml"))
    else:
        base = (row.script,)
    return [*base, *(w.fill(a) for a in row.args)]


def run_row(row: Row, argv: list[str], env: dict[str, str], monkeypatch, capfd) -> tuple[int, str, str]:
    """Run the row's script; return its exit status, stdout and stderr."""
    if row.subprocess:
        module = {"voc": "alwa_yolo.data", "coco": "alwa_yolo.data", "gains": "alwa_yolo.gains"}.get(row.script)
        args = ["-m", module, *argv] if module else [row.script, *argv]
        p = run_script(*args, env=env, timeout=120)
        return p.returncode, p.stdout, p.stderr
    import train
    import val
    from alwa_yolo import gains
    from alwa_yolo.cli import run_cli
    from alwa_yolo.data.__main__ import main as data_main

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    entry = {
        "train.py": lambda: run_cli(lambda: train.main(train.parse_opt(argv))),
        "val.py": lambda: run_cli(lambda: val.main(val.parse_opt(argv))),
        "gains": lambda: run_cli(lambda: gains.main(gains.parse_opt(argv))),
    }.get(row.script, lambda: data_main(argv))
    capfd.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        entry()
    out, err = capfd.readouterr()
    return exit_info.value.code, out, err


def assert_one_paragraph(code: int, out: str, err: str, says: list[str]) -> str:
    """Exit status 2, no traceback, one ``error:`` line, the last on stderr, containing each of ``says``."""
    assert code == 2, (out + err)[-3000:]
    assert "Traceback" not in out + err, (out + err)[-3000:]
    lines = [ln for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], err[-3000:]
    for needle in says:
        assert needle in errors[0], errors[0]
    return errors[0]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_input(row: Row, shared: Shared, tmp_path: Path, monkeypatch, capfd) -> None:
    if not row.as_root and os.geteuid() == 0:
        pytest.skip("permission bits do not stop root")
    w = World(tmp_path, shared)
    try:
        argv = command(row, w)
        env = {"ALWA_YOLO_CACHE": str(w.cache), **{k: w.fill(v) for k, v in row.env.items()}}
        says = [w.fill(s) for s in row.says]
        before = listing(w.watched())
        t0 = time.time()
        code, out, err = run_row(row, argv, env, monkeypatch, capfd)
        assert time.time() - t0 < 90  # no hang, no download retries
        assert_one_paragraph(code, out, err, says)
        assert listing(w.watched()) == before  # nothing new, nothing lost
    finally:
        for path in w.readonly_dirs:
            path.chmod(0o755)


# --------------------------------------------------------------------------------------------------- beyond the matrix


def test_missing_weights_fails_fast(tiny_yaml, tmp_path):
    """A missing .pt is not looked for online (Ultralytics would retry a download)."""
    t0 = time.time()
    p = run_script(
        "train.py",
        "--data",
        str(tiny_yaml),
        "--weights",
        str(tmp_path / "yolov8n.pt"),
        "--project",
        str(tmp_path),
        *TRAIN_FAST,
    )
    assert_one_paragraph(p.returncode, p.stdout, p.stderr, ["yolov8n.pt", "not found", "--weights yolov8n.yaml"])
    assert time.time() - t0 < 60
    assert list(tmp_path.iterdir()) == []


def test_val_bad_device(tiny_data, tmp_path):
    ckpt = ROOT / "tests" / "data" / "anchor-v0.1-layout.pt"
    p = run_script(
        "val.py", "--weights", str(ckpt), "--data", str(tiny_data), "--device", "7", "--project", str(tmp_path)
    )
    assert_one_paragraph(p.returncode, p.stdout, p.stderr, ["Invalid CUDA 'device=7'"])
    assert list(tmp_path.iterdir()) == []


def _fail_inside_ultralytics(monkeypatch, error: Exception) -> None:
    """Make Ultralytics' own dataset check fail after the trainer created its run folder, as an nc / names error
    that alwa-yolo's checks did not catch would."""
    from ultralytics.models.yolo.detect import DetectionTrainer

    def get_dataset(self):
        raise error

    monkeypatch.setattr(DetectionTrainer, "get_dataset", get_dataset)


def test_failed_start_leaves_no_run_folder(tiny_data, tmp_path, monkeypatch, capfd):
    """An error raised inside Ultralytics after it made ``exp/`` (args.yaml, an empty weights/) removes them again,
    so repeated failures do not pile up exp, exp-2, exp-3; the --project folder it made goes too."""
    import train
    from alwa_yolo.cli import run_cli

    _fail_inside_ultralytics(monkeypatch, SyntaxError("data.yaml 'names' length 3 and 'nc: 2' must match."))
    project = tmp_path / "new" / "runs"
    argv = [*TRAIN_BASE, "--data", str(tiny_data), "--project", str(project)]
    for _ in range(2):
        with pytest.raises(SystemExit) as e:
            run_cli(lambda: train.main(train.parse_opt(argv)))
        out, err = capfd.readouterr()
        assert_one_paragraph(e.value.code, out, err, ["Ultralytics rejected the configuration", "'nc: 2'"])
        assert list(tmp_path.iterdir()) == []


def test_failed_start_keeps_an_existing_run(tiny_data, tmp_path, monkeypatch, capfd):
    """With --exist-ok the run folder existed before: a failed start removes nothing from it, nor a sibling."""
    import train
    from alwa_yolo.cli import run_cli

    _fail_inside_ultralytics(monkeypatch, RuntimeError("No valid images found"))
    (tmp_path / "exp" / "weights").mkdir(parents=True)
    (tmp_path / "exp" / "weights" / "best.pt").write_bytes(b"precious")
    (tmp_path / "exp-2").mkdir()
    before = listing([tmp_path])
    for extra in (["--exist-ok"], []):  # the existing exp/, then a new exp-3/ that is removed again
        argv = [*TRAIN_BASE, "--data", str(tiny_data), "--project", str(tmp_path), "--name", "exp", *extra]
        with pytest.raises(SystemExit) as e:
            run_cli(lambda argv=argv: train.main(train.parse_opt(argv)))
        out, err = capfd.readouterr()
        assert_one_paragraph(e.value.code, out, err, ["No valid images found"])
        assert listing([tmp_path]) - {str(tmp_path / "exp" / "args.yaml")} == before
    assert (tmp_path / "exp" / "weights" / "best.pt").read_bytes() == b"precious"


def test_setup_failure_in_train_is_one_paragraph(tiny_data, tmp_path, monkeypatch, capfd):
    """An input error Ultralytics finds while building the dataloaders (after the run folder exists) is reported as
    one paragraph and the folder removed; an error once training has started is a crash, and its folder is kept."""
    import train
    from alwa_yolo import callbacks
    from alwa_yolo.cli import run_cli
    from alwa_yolo.trainer import ALWADetectionTrainer

    def get_dataloader(self, *args, **kwargs):
        raise ValueError("No labels found in /somewhere/train.cache.")

    with monkeypatch.context() as patch:
        patch.setattr(ALWADetectionTrainer, "get_dataloader", get_dataloader)
        argv = [*TRAIN_BASE, "--data", str(tiny_data), "--project", str(tmp_path), "fraction=0.25", "plots=False"]
        with pytest.raises(SystemExit) as e:
            run_cli(lambda: train.main(train.parse_opt(argv)))
        out, err = capfd.readouterr()
        assert_one_paragraph(e.value.code, out, err, ["could not start training", "No labels found"])
        assert list(tmp_path.iterdir()) == []

    def crash(trainer):
        raise RuntimeError("a bug in the first epoch")

    monkeypatch.setitem(callbacks.callbacks, "on_train_epoch_start", [crash])
    with pytest.raises(RuntimeError, match="a bug in the first epoch"):  # not turned into a user error
        run_cli(lambda: train.main(train.parse_opt(argv)))
    assert (tmp_path / "exp" / "args.yaml").is_file() and (tmp_path / "exp" / "alwa.csv").is_file()


@pytest.mark.parametrize(
    "script, argv, says",
    [
        ("train.py", [*TRAIN_BASE, "--project", "{ro}/runs"], "'{ro}' is not writable"),
        ("train.py", [*TRAIN_BASE, "--data", "{gen}"], "'{ro}' is not writable"),  # the demo-set cache
        ("val.py", ["--weights", "{det}", "--json", "{ro}/out.json"], "'{ro}' is not writable"),
        ("val.py", ["--weights", "{det}", "--project", "{ro}"], "--project (with --name) '{ro}/exp'"),
    ],
)
def test_read_only_folders_as_any_user(script, argv, says, shared, tmp_path, monkeypatch, capfd):
    """The non-root rows' read-only folders, simulated where the tests run as root (who may write anyway): the
    permission check (``os.access`` on the nearest existing folder) refuses before anything is written."""
    import train
    import val
    from alwa_yolo import cli

    ro = tmp_path / "read-only"
    ro.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != ro and real_access(path, mode))
    w = World(tmp_path, shared)
    monkeypatch.setenv("ALWA_YOLO_CACHE", str(ro / "cache"))
    fill = {"ro": ro, "gen": w.gen_ok, "det": w.det_pt}
    argv = ["--device", "cpu", "--project", str(w.project), "--data", str(shared.data)] + [
        a.format(**fill) for a in argv
    ]
    before = listing(w.watched())
    main = train if script == "train.py" else val
    with pytest.raises(SystemExit) as e:
        cli.run_cli(lambda: main.main(main.parse_opt(argv)))
    out, err = capfd.readouterr()
    assert_one_paragraph(e.value.code, out, err, [says.format(**fill)])
    assert listing(w.watched()) == before


@pytest.mark.slow
def test_broken_labels_and_images_are_skipped_with_their_names(tiny_data, tmp_path):
    """Ultralytics' own skip-and-warn for a few broken files among good ones (under ``resolve.DROP_SHARE``): an
    out-of-range box, a malformed line and an unreadable image, each named, and training goes on. (A class id
    beyond the names is a yaml / labels disagreement, refused before training: the matrix above.)"""
    root = Path(yaml.safe_load(tiny_data.read_text())["path"])
    copy = tmp_path / "broken"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("*.cache", "data.yaml"))
    (copy / "labels" / "train" / "train_00001.txt").write_text("0 1.7 0.5 0.2 0.2\n")  # centre past the border
    (copy / "labels" / "train" / "train_00002.txt").write_text("0 0.5 0.5 0.2\n")  # 4 columns
    (copy / "images" / "train" / "train_00003.png").write_bytes(b"not a png")
    data = tmp_path / "broken.yaml"
    data.write_text(f"path: {copy}\ntrain: images/train\nval: images/val\nnames: [a, b, c]\n")
    p = run_script(
        "train.py",
        *TRAIN_BASE,
        *TRAIN_FAST,
        "--data",
        str(data),
        "--batch-size",
        "4",
        "--project",
        str(tmp_path),
        "--name",
        "b",
        "fraction=0.5",
    )
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-3000:]
    for name in ("train_00001", "train_00002", "train_00003"):
        assert name in out
    assert (tmp_path / "b" / "weights" / "best.pt").is_file()


@pytest.mark.slow
def test_pth_checkpoint_trains_and_validates(tiny_data, tmp_path, capfd):
    """A real checkpoint named .pth works in both scripts (Ultralytics' loaders accept only the .pt suffix)."""
    import train
    import val

    pth = tmp_path / "model.pth"
    shutil.copyfile(ROOT / "tests" / "data" / "anchor-v0.1-layout.pt", pth)
    result = val.run(
        weights=str(pth), data=str(tiny_data), device="cpu", workers=0, project=str(tmp_path / "v"), no_plots=True
    )
    assert result["images"] == 16
    opt = train.parse_opt(
        [
            *TRAIN_BASE,
            "--data",
            str(tiny_data),
            "--weights",
            str(pth),
            "--project",
            str(tmp_path / "t"),
            "--batch-size",
            "8",
            "fraction=0.25",
            "val=False",
            "plots=False",
        ]
    )
    run = train.main(opt)
    assert (run / "weights" / "last.pt").is_file()
    assert pth.read_bytes() == (ROOT / "tests" / "data" / "anchor-v0.1-layout.pt").read_bytes()  # untouched


def test_hyp_file_beats_defaults_and_loses_to_flags(tiny_data, tmp_path):
    """Precedence, lowest first: train.py's defaults, a --hyp file, the flags given, key=value."""
    import train

    hyp = tmp_path / "hyp.yaml"
    hyp.write_text("epochs: 2\nweighting: fixed\nlr0: 0.02\n")
    base = ["--data", str(tiny_data), "--project", str(tmp_path / "runs")]
    args = train.overrides_from(train.parse_opt([*base, "--hyp", str(hyp)]))
    assert (args["epochs"], args["weighting"], args["lr0"]) == (2, "fixed", 0.02)
    args = train.overrides_from(train.parse_opt([*base, "--hyp", str(hyp), "--epochs", "5", "--weighting", "alwa1"]))
    assert (args["epochs"], args["weighting"], args["lr0"]) == (5, "alwa1", 0.02)
    args = train.overrides_from(train.parse_opt([*base, "--hyp", str(hyp), "--epochs", "5", "epochs=7", "lr0=0.03"]))
    assert (args["epochs"], args["lr0"]) == (7, 0.03)
    args = train.overrides_from(train.parse_opt(base))
    assert (args["epochs"], args["weighting"]) == (30, "alwa-ref")  # no hyp: the script's defaults
    assert list(tmp_path.iterdir()) == [hyp]  # overrides_from writes nothing


@pytest.mark.slow
def test_resume_honours_safe_flags_and_names_the_others(tiny_data, tmp_path, caplog, monkeypatch):
    """An interrupted run resumed with flags: --batch-size is honoured; --weighting and --epochs are ignored with one
    warning line that names them and says why; Ultralytics' own warning does not repeat them."""
    import train
    from alwa_yolo.trainer import ALWADetectionTrainer

    args = dict(
        model="yolov8n.yaml",
        data=str(tiny_data),
        epochs=2,
        imgsz=64,
        batch=8,
        device="cpu",
        workers=0,
        project=str(tmp_path),
        name="r",
        weighting="alwa2",
        plots=False,
        val=False,
        fraction=0.5,
    )
    first = ALWADetectionTrainer(overrides=args)

    def stop_after_one(trainer):
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C after epoch 1 was saved

    first.add_callback("on_fit_epoch_end", stop_after_one)
    with pytest.raises(KeyboardInterrupt):
        first.train()
    last = tmp_path / "r" / "weights" / "last.pt"
    caplog.clear()

    flags = ["--resume", str(last), "--batch-size", "4", "--weighting", "fixed", "--epochs", "5", "--workers", "0"]
    import ultralytics.utils.patches as patches

    from alwa_yolo.preflight import check_training

    reads = []
    real_load = patches.torch_load
    monkeypatch.setattr(patches, "torch_load", lambda *a, **k: reads.append(a[0]) or real_load(*a, **k))
    overrides = train.overrides_from(train.parse_opt(flags))
    check_training(dict(overrides), "--resume")  # what train.py's main asks next: the checkpoint's task
    assert len(reads) == 1  # the pre-flight reads the checkpoint once (Ultralytics reads it once more to resume)
    monkeypatch.undo()
    assert overrides["batch"] == 4 and "weighting" not in overrides and "epochs" not in overrides
    resumed = ALWADetectionTrainer(overrides=overrides)
    assert resumed.args.batch == 4 and resumed.batch_size == 4
    assert (resumed.args.weighting, resumed.args.epochs) == ("alwa2", 2)
    messages = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    warnings = [m for m in messages if "resume" in m.lower() and "ignor" in m.lower()]
    assert len(warnings) == 1 and "\n" not in warnings[0], messages
    assert "--weighting fixed" in warnings[0] and "--epochs 5" in warnings[0] and "keeps the settings" in warnings[0]
    assert "--batch-size" not in warnings[0]


# --------------------------------------------------------------------------------------------------- the docs


DOC = ROOT / "docs" / "bad_input.md"
BEGIN, END = "<!-- matrix: begin (python tests/test_bad_input.py writes this part) -->", "<!-- matrix: end -->"


def render_matrix() -> str:
    """The part of docs/bad_input.md made from :data:`ROWS`: the counts and one table per class."""
    scripts = {"train.py": "train.py", "val.py": "val.py", "gains": "gains", "voc": "data voc", "coco": "data coco"}
    n, sub, non_root = len(ROWS), sum(r.subprocess for r in ROWS), sum(not r.as_root for r in ROWS)
    out = [
        BEGIN,
        "",
        f"**{n} bad inputs tested: each exits with status 2 and one `error:` paragraph naming the bad value, with "
        f"no traceback and nothing written.** {sub} rows run the script as a subprocess, the rest run in-process "
        f"through the same `run_cli`. {non_root} rows are about permission bits, which do not stop root: a run as "
        f"root skips them and checks the other {n - non_root}.",
        "",
        "In the last column `{...}` stands for a path the test makes: `{file}` a regular file, `{tmp}` the row's "
        "folder, `{project}` its `--project`, `{data}` / `{seg_data}` the tiny detection / segmentation dataset's "
        "yaml, `{readonly}` a read-only folder, any other the row's input file of that name.",
        "",
        "| class | inputs |",
        "| --- | --- |",
        *(f"| {c}. {CLASSES[c]} | {sum(r.cls == c for r in ROWS)} |" for c in CLASSES),
        "",
    ]
    for c, title in CLASSES.items():
        out += [f"### {c}. {title}", "", "| script | input | the `error:` line says |", "| --- | --- | --- |"]
        for r in (r for r in ROWS if r.cls == c):
            says = ", ".join(f"`{s.replace('{w.', '{')}`".replace("|", "\\|") for s in r.says)
            what = r.what + (" (subprocess)" if r.subprocess and "subprocess" not in r.what else "")
            what += " (non-root only)" if not r.as_root else ""
            out.append(f"| {scripts[r.script]} | {what.replace('|', chr(92) + '|')} | {says} |")
        out.append("")
    out.append(END)
    return "\n".join(out)


def test_docs_table_matches_the_matrix():
    text = DOC.read_text()
    assert BEGIN in text and END in text, "docs/bad_input.md lacks the matrix markers"
    block = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert block == render_matrix(), "docs/bad_input.md is stale: run python tests/test_bad_input.py"


if __name__ == "__main__":  # python tests/test_bad_input.py: rewrite the matrix part of docs/bad_input.md
    text = DOC.read_text() if DOC.exists() else f"{BEGIN}\n{END}\n"
    start, stop = text.index(BEGIN), text.index(END) + len(END)
    DOC.write_text(text[:start] + render_matrix() + text[stop:])
    print(f"wrote {DOC}", file=sys.stderr)
