"""VOC -> YOLO converter: exact label files, summary counts, errors, idempotency and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from alwa_yolo.data.voc import convert_voc
from alwa_yolo.errors import ConversionError, InputNotFoundError
from helpers import ROOT


def _obj(name: str, box: tuple[int, int, int, int], difficult: int | None = 0) -> str:
    """One <object>; difficult=None leaves the tag out, as many VOC-style tools do."""
    diff = "" if difficult is None else f"<difficult>{difficult}</difficult>"
    xmin, ymin, xmax, ymax = box
    return (
        f"<object><name>{name}</name><pose>Unspecified</pose><truncated>0</truncated>{diff}"
        f"<bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin><xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox></object>"
    )


def _xml(filename: str, size: tuple[int, int] | None, objects: list[str]) -> str:
    """A VOC annotation; size=None leaves <size> out (the converter must read the image)."""
    size_xml = "" if size is None else f"<size><width>{size[0]}</width><height>{size[1]}</height></size>"
    return (
        f"<annotation><folder>VOC</folder><filename>{filename}</filename>{size_xml}"
        f"<segmented>0</segmented>{''.join(objects)}</annotation>"
    )


def _image(path: Path, width: int, height: int) -> None:
    """A tiny real JPEG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((height, width, 3), 127, np.uint8))


def _year(devkit: Path, year: str, images: dict[str, tuple[tuple[int, int], str]], sets: dict[str, list[str]]) -> None:
    """Write VOC<year>/{Annotations,JPEGImages,ImageSets/Main}; images: id -> ((w, h) on disk, xml text)."""
    root = devkit / f"VOC{year}"
    (root / "Annotations").mkdir(parents=True)
    (root / "ImageSets" / "Main").mkdir(parents=True)
    for image_id, ((w, h), xml) in images.items():
        _image(root / "JPEGImages" / f"{image_id}.jpg", w, h)
        (root / "Annotations" / f"{image_id}.xml").write_text(xml)
    for split, ids in sets.items():
        (root / "ImageSets" / "Main" / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))


@pytest.fixture
def devkit(tmp_path: Path) -> Path:
    """Two years; a difficult object, a box past the border, one fully outside, a missing <size>, an image without
    objects, a stale <filename>, objects without <difficult>."""
    dk = tmp_path / "VOCdevkit"
    _year(
        dk,
        "2007",
        {
            "000001": (
                (100, 50),
                _xml(
                    "000001.jpg",
                    (100, 50),
                    [
                        _obj("dog", (11, 6, 51, 26)),
                        _obj("person", (1, 1, 10, 10), difficult=1),
                        _obj("car", (81, 31, 121, 61)),  # past the right and bottom borders
                    ],
                ),
            ),
            "000002": (
                (64, 32),
                _xml(
                    "000002.jpg",
                    None,
                    [
                        _obj("cat", (17, 9, 49, 25)),
                        _obj("bottle", (70, 5, 90, 20)),  # entirely right of the 64 px wide image
                    ],
                ),
            ),
            "000003": ((40, 40), _xml("some_other_name.jpg", (40, 40), [])),  # stale <filename>, no objects
            "000004": ((100, 50), _xml("000004.jpg", (100, 50), [_obj("horse", (1, 1, 101, 51))])),
        },
        {"trainval": ["000001", "000002", "000003"], "test": ["000004"]},
    )
    _year(
        dk,
        "2012",
        {
            "2012_000001": (
                (200, 100),
                _xml(
                    "2012_000001.jpg",
                    (200, 100),
                    [
                        _obj("bird", (51, 26, 151, 76), difficult=None),
                        _obj("aeroplane", (1, 1, 21, 11), difficult=None),
                    ],
                ),
            ),
            "2012_000002": ((200, 100), _xml("2012_000002.jpg", (200, 100), [_obj("tvmonitor", (101, 51, 201, 101))])),
        },
        {"train": ["2012_000001"], "val": ["2012_000002"]},
    )
    return dk


# Hand-computed with Ultralytics' VOC.yaml arithmetic: x = (xmin + xmax) / 2 - 1, w = xmax - xmin (same for y),
# divided by the image size; clipped boxes are recomputed from the 0-based corners clipped to [0, size].
EXPECTED = {
    # dog (11): x (11+51)/2-1 = 30 -> .3, w 40 -> .4; y (6+26)/2-1 = 15 -> .3, h 20 -> .4 (100x50 image).
    # person: difficult, skipped. car (6): 0-based x 80..120 -> 80..100: xc 90 -> .9, w 20 -> .2;
    #   y 30..60 -> 30..50: yc 40 -> .8, h 20 -> .4.
    "trainval2007/000001.txt": "11 0.300000 0.300000 0.400000 0.400000\n6 0.900000 0.800000 0.200000 0.400000\n",
    # no <size>: 64x32 read from the JPEG. cat (7): x 16..48 -> xc 32/64 = .5, w .5; y 8..24 -> yc 16/32 = .5, h .5.
    # bottle: x 69..89 clips to 64..64, nothing left -> skipped.
    "trainval2007/000002.txt": "7 0.500000 0.500000 0.500000 0.500000\n",
    "trainval2007/000003.txt": "",
    # horse (12): x 0..100 on a 100 px image: touches the border, not clipped: .5 .5 1 1.
    "test2007/000004.txt": "12 0.500000 0.500000 1.000000 1.000000\n",
    # 200x100. bird (2): x 50..150 -> .5, .5; y 25..75 -> .5, .5. aeroplane (0): x 0..20 -> .05, .1; y 0..10 -> .05, .1.
    "train2012/2012_000001.txt": "2 0.500000 0.500000 0.500000 0.500000\n0 0.050000 0.050000 0.100000 0.100000\n",
    # tvmonitor (19): x 100..200 -> .75, .5; y 50..100 -> .75, .5.
    "val2012/2012_000002.txt": "19 0.750000 0.750000 0.500000 0.500000\n",
}


def _labels(dst: Path) -> dict[str, str]:
    """All label files under dst/labels as {"<split>/<name>": text}."""
    return {p.relative_to(dst / "labels").as_posix(): p.read_text() for p in sorted((dst / "labels").rglob("*.txt"))}


def test_labels_match_hand_computed(devkit: Path, tmp_path: Path) -> None:
    dst = tmp_path / "VOC"
    convert_voc(devkit, dst)
    assert _labels(dst) == EXPECTED
    images = sorted(p.relative_to(dst / "images").as_posix() for p in (dst / "images").rglob("*.jpg"))
    assert images == sorted(k.replace(".txt", ".jpg") for k in EXPECTED)  # 000003 found via its image-set id


def test_summary_counts(devkit: Path, tmp_path: Path) -> None:
    s = convert_voc(devkit, tmp_path / "VOC")
    assert (s["images"], s["objects"], s["empty_images"], s["clipped"]) == (6, 7, 1, 1)
    assert (s["skipped"], s["skipped_difficult"], s["skipped_unknown"], s["skipped_degenerate"]) == (2, 1, 0, 1)
    assert s["splits"] == {"trainval2007": 3, "test2007": 1, "train2012": 1, "val2012": 1}
    kept = {k: v for k, v in s["per_class"].items() if v}
    assert kept == {"aeroplane": 1, "bird": 1, "car": 1, "cat": 1, "dog": 1, "horse": 1, "tvmonitor": 1}
    assert len(s["per_class"]) == 20 and s["skipped_splits"] == []


def test_keep_difficult(devkit: Path, tmp_path: Path) -> None:
    s = convert_voc(devkit, tmp_path / "VOC", keep_difficult=True)
    # person (14): x (1+10)/2-1 = 4.5 -> .045, w 9 -> .09; y 4.5/50 -> .09, h 9/50 -> .18
    assert (tmp_path / "VOC/labels/trainval2007/000001.txt").read_text().splitlines()[1] == (
        "14 0.045000 0.090000 0.090000 0.180000"
    )
    assert s["skipped_difficult"] == 0 and s["objects"] == 8


def test_unknown_class_error_and_skip(devkit: Path, tmp_path: Path) -> None:
    xml = devkit / "VOC2012/Annotations/2012_000002.xml"
    xml.write_text(
        _xml("2012_000002.jpg", (200, 100), [_obj("unicorn", (1, 1, 5, 5)), _obj("tvmonitor", (101, 51, 201, 101))])
    )
    with pytest.raises(ConversionError) as err:
        convert_voc(devkit, tmp_path / "a")
    assert str(xml) in str(err.value) and "'unicorn'" in str(err.value) and "\n" not in str(err.value)

    s = convert_voc(devkit, tmp_path / "b", skip_unknown=True)
    assert s["skipped_unknown"] == 1 and s["objects"] == 7
    assert _labels(tmp_path / "b") == EXPECTED


def test_custom_classes_from_list_and_file(devkit: Path, tmp_path: Path) -> None:
    names_file = tmp_path / "names.txt"
    names_file.write_text("# my classes\ncar\n\ndog\n")
    for i, classes in enumerate(("car,dog", names_file, ["car", "dog"])):
        s = convert_voc(devkit, tmp_path / f"out{i}", classes=classes, skip_unknown=True)
        # unknown: person, cat, bottle, horse, bird, aeroplane, tvmonitor
        assert s["per_class"] == {"car": 1, "dog": 1} and s["skipped_unknown"] == 7
        assert (tmp_path / f"out{i}/labels/trainval2007/000001.txt").read_text() == (
            "1 0.300000 0.300000 0.400000 0.400000\n0 0.900000 0.800000 0.200000 0.400000\n"
        )


def test_idempotent(devkit: Path, tmp_path: Path) -> None:
    dst = tmp_path / "VOC"
    first = convert_voc(devkit, dst)
    files = {p: p.read_bytes() for p in sorted(dst.rglob("*")) if p.is_file()}
    second = convert_voc(devkit, dst)
    assert first == second
    assert {p: p.read_bytes() for p in sorted(dst.rglob("*")) if p.is_file()} == files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["VOC", "VOCdevkit"]


def test_malformed_and_missing_inputs(devkit: Path, tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="does not exist"):
        convert_voc(tmp_path / "nope", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConversionError, match="no VOC<year> folder"):
        convert_voc(tmp_path / "empty", tmp_path / "out")

    bad = devkit / "VOC2007/Annotations/000004.xml"
    bad.write_text("<annotation><size>")
    with pytest.raises(ConversionError, match="not valid XML") as err:
        convert_voc(devkit, tmp_path / "out")
    assert str(bad) in str(err.value)

    bad.write_text(_xml("000004.jpg", (100, 50), [_obj("horse", (1, 1, 101, 51))]))
    (devkit / "VOC2007/JPEGImages/000004.jpg").unlink()
    with pytest.raises(InputNotFoundError, match="000004"):
        convert_voc(devkit, tmp_path / "out")


def test_split_without_annotations_is_skipped(devkit: Path, tmp_path: Path) -> None:
    """VOC2012 test ships image lists without annotations: skip that split instead of failing."""
    (devkit / "VOC2012/ImageSets/Main/test.txt").write_text("2012_999999\n")
    s = convert_voc(devkit, tmp_path / "VOC")
    assert s["skipped_splits"] == ["test2012"] and s["images"] == 6


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "alwa_yolo.data", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )


def test_cli(devkit: Path, tmp_path: Path) -> None:
    dst = tmp_path / "VOC"
    ok = _cli("voc", "--src", str(devkit), "--dst", str(dst), "--keep-difficult")
    assert ok.returncode == 0, ok.stderr
    assert "6 images, 8 objects" in ok.stdout and "per class:" in ok.stdout
    assert _labels(dst)["trainval2007/000001.txt"].count("\n") == 3

    missing = _cli("voc", "--src", str(tmp_path / "missing"), "--dst", str(dst))
    assert missing.returncode == 2
    assert "Traceback" not in missing.stderr
    assert missing.stderr.startswith("error: ") and missing.stderr.strip().count("\n") == 0
    assert str(tmp_path / "missing") in missing.stderr


def _listing(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_failed_conversion_leaves_dst_as_it_was(devkit: Path, tmp_path: Path) -> None:
    """Every annotation is read before anything is written: a bad one late in the lists leaves an earlier conversion
    untouched and creates no new --dst."""
    dst = tmp_path / "VOC"
    convert_voc(devkit, dst)
    (dst / "labels" / "trainval2007" / "mine.txt").write_text("kept\n")  # a file the converter does not own
    before = _listing(dst)
    (devkit / "VOC2012/Annotations/2012_000002.xml").write_text("<annotation><size>")  # the last image converted
    with pytest.raises(ConversionError, match="not valid XML"):
        convert_voc(devkit, dst, keep_difficult=True)  # would change trainval2007/000001.txt if it wrote anything
    assert _listing(dst) == before
    with pytest.raises(ConversionError):
        convert_voc(devkit, tmp_path / "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["VOC", "VOCdevkit"]


def test_reconversion_keeps_other_files(devkit: Path, tmp_path: Path) -> None:
    dst = tmp_path / "VOC"
    convert_voc(devkit, dst)
    (dst / "images" / "trainval2007" / "extra.jpg").write_bytes(b"mine")
    convert_voc(devkit, dst, keep_difficult=True)
    assert (dst / "images" / "trainval2007" / "extra.jpg").read_bytes() == b"mine"
    assert _labels(dst)["trainval2007/000001.txt"].count("\n") == 3  # the new conversion is in place
    assert not [p for p in dst.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_binary_image_list_and_class_file(devkit: Path, tmp_path: Path) -> None:
    (devkit / "VOC2007/ImageSets/Main/test.txt").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ConversionError, match="test.txt: not a text file"):
        convert_voc(devkit, tmp_path / "VOC")
    (devkit / "VOC2007/ImageSets/Main/test.txt").write_text("000004\n")
    names = tmp_path / "names.bin"
    names.write_bytes(bytes(range(256)))
    with pytest.raises(ConversionError, match="names.bin is not a text file"):
        convert_voc(devkit, tmp_path / "VOC", classes=names)
    assert not (tmp_path / "VOC").exists()


def test_dst_that_cannot_be_created(devkit: Path, tmp_path: Path) -> None:
    from alwa_yolo.errors import UserError

    blocker = tmp_path / "file"
    blocker.write_text("a file\n")
    with pytest.raises(UserError, match="is a file, not a folder"):
        convert_voc(devkit, blocker / "VOC")
    with pytest.raises(UserError, match="is a file, not a folder"):
        convert_voc(devkit, blocker)


BCCD = ROOT.parent / "shared" / "datasets" / "BCCD"


@pytest.mark.skipif(not (BCCD / "Annotations").is_dir(), reason="BCCD is not beside the repository (../shared)")
def test_bccd_counts(tmp_path):
    """The real BCCD set (one VOC-layout folder, no year): counts per split and class as written, and what was
    skipped and why (two zero-width boxes, each also in trainval); benchmarks/README.md, "Real data", quotes them."""
    summary = convert_voc(BCCD, tmp_path, classes=["RBC", "WBC", "Platelets"])
    assert summary["splits"] == {"train": 205, "val": 87, "trainval": 292, "test": 72}
    assert (summary["skipped_degenerate"], summary["skipped_duplicate"], summary["clipped"]) == (4, 0, 0)
    assert summary["skipped_difficult"] == summary["skipped_unknown"] == summary["empty_images"] == 0
    expected = {"train": (2381, 214, 209), "val": (967, 87, 83), "trainval": (3348, 301, 292), "test": (805, 71, 69)}
    for split, per_class in expected.items():
        labels = sorted((tmp_path / "labels" / split).glob("*.txt"))
        ids = [int(line.split()[0]) for f in labels for line in f.read_text().splitlines()]
        assert len(labels) == len(list((tmp_path / "images" / split).iterdir())) == summary["splits"][split]
        assert tuple(ids.count(c) for c in range(3)) == per_class, split


def test_a_set_without_a_year_and_duplicate_boxes(tmp_path):
    """A folder holding Annotations/ and ImageSets/ itself is one VOC-layout set (BCCD and most sets published in
    VOC format): its splits are written as images/<split>; the same class and box twice in one image is written
    once and counted."""
    _year(tmp_path, "", {"a": ((64, 48), _xml("a.jpg", (64, 48), [_obj("cell", (5, 5, 20, 20))] * 2
                                                + [_obj("cell", (30, 10, 50, 40))]))}, {"train": ["a"]})  # fmt: skip
    summary = convert_voc(tmp_path / "VOC", tmp_path / "out", classes=["cell"])
    assert summary["splits"] == {"train": 1} and (summary["objects"], summary["skipped_duplicate"]) == (2, 1)
    assert len((tmp_path / "out" / "labels" / "train" / "a.txt").read_text().splitlines()) == 2
    assert (tmp_path / "out" / "images" / "train" / "a.jpg").is_file()
