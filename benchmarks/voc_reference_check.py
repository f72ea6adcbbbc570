"""Check the VOC converter against a real VOC-format annotation set that this project did not write.

The set: the Pascal VOC XML tree-crown annotations shipped in the ``deepforest`` wheel (Weecology; 4 aerial images,
951 hand-drawn boxes, ``deepforest/data/*.xml`` + ``*.png``), plus deepforest's own CSV parse of ``OSBS_029.xml``.
Nothing is downloaded here; fetch the wheel once (in any throwaway environment) and pass it in::

    python -m venv /tmp/dfenv && /tmp/dfenv/bin/pip download --no-deps deepforest==2.1.0 -d /tmp/df
    python benchmarks/voc_reference_check.py --deepforest /tmp/df/deepforest-2.1.0-py3-none-any.whl

Three independent checks of ``python -m alwa_yolo.data voc`` output, line for line:

1. Ultralytics' own conversion code: the ``convert_label`` function of the ``download:`` script in the installed
   ``ultralytics/cfg/datasets/VOC.yaml``, executed as is (not copied) on the same XMLs. Every value must agree to
   the 6 written decimals; boxes past the border are compared after clipping the reference's corners to [0, 1].
2. deepforest's CSV of OSBS_029 (pixel corners as deepforest read them): our normalised boxes, mapped back to VOC
   1-based pixel corners, must be within one pixel.
3. Ultralytics' dataset loader check (``verify_image_label``) must accept every image/label pair (no "corrupt").

Exit status 0 when all checks pass, 1 otherwise.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp(prefix="yolo-cfg-"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import xml.etree.ElementTree as ET

from alwa_yolo.data.voc import convert_voc

YEAR = "2019"  # any 4 digits: the converter wants a VOC<year> folder
TOL = 5e-7  # half a unit of the 6th decimal


def extract_data(source: Path, work: Path) -> Path:
    """The folder holding deepforest's ``*.xml``/``*.png``/``*.csv``: from a wheel, or as given."""
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as whl:
            members = [
                m for m in whl.namelist() if m.startswith("deepforest/data/") and m.endswith((".xml", ".png", ".csv"))
            ]
            whl.extractall(work / "wheel", members)
        return work / "wheel" / "deepforest" / "data"
    return source / "deepforest" / "data" if (source / "deepforest" / "data").is_dir() else source


def build_devkit(data: Path, devkit: Path) -> list[str]:
    """A VOCdevkit with the XMLs verbatim and the PNGs as images; returns the image ids.

    The images keep their ``.png`` suffix and OSBS_029.xml's ``<filename>`` says ``OSBS_029.tif``, which exercises
    the converter's image lookup (image-set id first, any suffix).
    """
    root = devkit / f"VOC{YEAR}"
    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    ids = sorted(x.stem for x in data.glob("*.xml") if (data / f"{x.stem}.png").is_file())
    for i in ids:
        shutil.copyfile(data / f"{i}.xml", root / "Annotations" / f"{i}.xml")
        shutil.copyfile(data / f"{i}.png", root / "JPEGImages" / f"{i}.png")
    (root / "ImageSets" / "Main" / "test.txt").write_text("".join(f"{i}\n" for i in ids))
    return ids


def class_names(devkit: Path) -> list[str]:
    """All object names of the set, sorted (they define the class ids for both converters)."""
    names = {o.findtext("name").strip() for x in devkit.rglob("*.xml") for o in ET.parse(x).getroot().iter("object")}
    return sorted(names)


def ultralytics_convert_label():
    """Ultralytics' ``convert_label`` from the installed VOC.yaml's ``download:`` script (the part before
    ``# Download``), executed in a namespace of its own; returns it with the ``yaml`` dict it reads names from."""
    import ultralytics
    import yaml

    cfg = Path(ultralytics.__file__).parent / "cfg" / "datasets" / "VOC.yaml"

    script = yaml.safe_load(cfg.read_text())["download"].split("# Download")[0]
    namespace: dict = {"yaml": {}}
    exec(compile(script, str(cfg), "exec"), namespace)
    return namespace["convert_label"], namespace["yaml"]


def clip_xywh(v: list[float]) -> list[float]:
    """Clip a normalised centre/size box to the image, as the converter documents it does."""
    x1, x2 = min(max(v[0] - v[2] / 2, 0.0), 1.0), min(max(v[0] + v[2] / 2, 0.0), 1.0)
    y1, y2 = min(max(v[1] - v[3] / 2, 0.0), 1.0), min(max(v[1] + v[3] / 2, 0.0), 1.0)
    return [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]


def check_against_ultralytics(devkit: Path, dst: Path, ids: list[str], names: list[str], work: Path) -> list[str]:
    """Check 1; returns problems (empty when all lines agree)."""
    convert_label, yaml_ns = ultralytics_convert_label()
    yaml_ns["names"] = dict(enumerate(names))
    problems, lines, exact, clipped = [], 0, 0, 0
    for i in ids:
        ref_file = work / f"ref_{i}.txt"
        convert_label(devkit, ref_file, YEAR, i)
        ref = [ln.split() for ln in ref_file.read_text().splitlines()]
        ours = [ln.split() for ln in (dst / "labels" / f"test{YEAR}" / f"{i}.txt").read_text().splitlines()]
        if len(ref) != len(ours):
            problems.append(f"{i}: {len(ours)} lines, Ultralytics {len(ref)}")
            continue
        for n, (r, o) in enumerate(zip(ref, ours)):
            lines += 1
            rv, ov = [float(x) for x in r[1:]], [float(x) for x in o[1:]]
            if any(
                x < 0 or x > 1 for x in (rv[0] - rv[2] / 2, rv[0] + rv[2] / 2, rv[1] - rv[3] / 2, rv[1] + rv[3] / 2)
            ):
                clipped += 1
                rv = clip_xywh(rv)
            exact += [f"{x:.6f}" for x in rv] == o[1:]
            if r[0] != o[0] or max(abs(a - b) for a, b in zip(rv, ov)) > TOL:
                problems.append(f"{i} line {n + 1}: ours {' '.join(o)} vs Ultralytics {' '.join(r)}")
    print(
        f"[1] Ultralytics VOC.yaml convert_label: {lines} boxes compared, {exact} identical after 6-decimal "
        f"rounding, {clipped} past the border (compared clipped), {len(problems)} mismatches"
    )
    return problems


def check_against_csv(data: Path, dst: Path, names: list[str]) -> list[str]:
    """Check 2: deepforest's CSV of OSBS_029 vs our labels mapped back to 1-based pixel corners."""
    csv_file = data / "OSBS_029.csv"
    if not csv_file.is_file():
        print("[2] deepforest CSV: OSBS_029.csv not found, skipped")
        return []
    rows = list(csv.DictReader(csv_file.open()))
    ours = (dst / "labels" / f"test{YEAR}" / "OSBS_029.txt").read_text().splitlines()
    size = (
        int(ET.parse(data / "OSBS_029.xml").getroot().findtext("size/width")),
        int(ET.parse(data / "OSBS_029.xml").getroot().findtext("size/height")),
    )
    problems, worst = [], 0.0
    if len(rows) != len(ours):
        return [f"OSBS_029: {len(ours)} label lines, CSV {len(rows)} rows"]
    for n, (row, line) in enumerate(zip(rows, ours)):
        cls, xc, yc, w, h = line.split()
        xc, yc, w, h = float(xc) * size[0], float(yc) * size[1], float(w) * size[0], float(h) * size[1]
        back = (xc - w / 2 + 1, yc - h / 2 + 1, xc + w / 2 + 1, yc + h / 2 + 1)  # 0-based -> VOC 1-based
        want = tuple(float(row[k]) for k in ("xmin", "ymin", "xmax", "ymax"))
        err = max(abs(a - b) for a, b in zip(back, want))
        worst = max(worst, err)
        if names[int(cls)] != row["label"] or err > 1.0:
            problems.append(f"OSBS_029 row {n + 1}: ours {back} {names[int(cls)]} vs CSV {want} {row['label']}")
    print(
        f"[2] deepforest OSBS_029.csv: {len(rows)} boxes, largest corner difference {worst:.4f} px, "
        f"{len(problems)} beyond 1 px"
    )
    return problems


def check_loader(dst: Path, ids: list[str], names: list[str]) -> list[str]:
    """Check 3: Ultralytics' own image/label verification accepts every converted pair."""
    from ultralytics.data.utils import verify_image_label

    problems = []
    for i in ids:
        im = next((dst / "images" / f"test{YEAR}").glob(f"{i}.*"))
        lb = dst / "labels" / f"test{YEAR}" / f"{i}.txt"
        result = verify_image_label((str(im), str(lb), "", False, len(names), 0, 0, False))
        if result[0] is None or result[8]:  # corrupt
            problems.append(f"{i}: Ultralytics rejects the pair: {result[-1]}")
    print(f"[3] Ultralytics verify_image_label: {len(ids)} pairs, {len(problems)} rejected")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Run the three checks and print a report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--deepforest",
        type=Path,
        required=True,
        help="deepforest wheel (.whl), unpacked wheel, or its deepforest/data folder",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = extract_data(args.deepforest, work)
        ids = build_devkit(data, work / "VOCdevkit")
        names = class_names(work / "VOCdevkit")
        summary = convert_voc(work / "VOCdevkit", work / "out", classes=names)
        print(
            f"converted {summary['images']} images ({', '.join(ids)}), {summary['objects']} boxes, classes "
            f"{summary['per_class']}, clipped {summary['clipped']}, skipped {summary['skipped']}"
        )
        problems = (
            check_against_ultralytics(work / "VOCdevkit", work / "out", ids, names, work)
            + check_against_csv(data, work / "out", names)
            + check_loader(work / "out", ids, names)
        )
    for p in problems[:20]:
        print("MISMATCH", p)
    print("OK" if not problems else f"FAILED: {len(problems)} problems")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
