"""benchmarks/README.md's "Default" table: every strategy against ``fixed`` on every row of the run_suite ``default``
stage, paired per seed, from the finished runs' ``summary.json`` (a row or strategy not run yet is left out).

Each cell is the paired difference from ``fixed`` (mean over seeds, Ultralytics' gains, the same box loss) and the
verdict of :func:`sweep.verdict`: ``better`` / ``worse`` only when every seed moves the same way by more than the
seed spread of ``fixed``. The mis-set rows pair ``fixed`` at the mis-set gain with each strategy's x1 run of the
same seed: alwa-ref's result does not depend on the base gains (``tests/test_weighting_reference.py``), so its x1
run is its run at every multiplier. Writes ``results/default-summary.md`` and the table of benchmarks/README.md's
"Default" section.

Usage: python benchmarks/default_table.py   (after ``bash benchmarks/run_suite.sh default``)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sweep import verdict  # noqa: E402

R = HERE / "results"
STRATEGIES = ("alwa-ref", "alwa-cal", "loss-ratio", "uw-so", "uw", "dwa", "alwa2")
"""The columns, the default first."""

GAIN_KEYS = ("box", "cls", "dfl", "angle", "kobj", "pose", "rle")
"""The gains a mis-set row scales (a run with any of them off Ultralytics' default is not an x1 run)."""

GAIN_FREE = ("alwa-ref", "alwa-cal")
"""Strategies whose run does not depend on the base gains (tested), so their x1 run is their run at a mis-set gain."""

KEYPOINTS = "pose_mAP50-95"
"""The keypoint metric of a pose row."""

MASKS = "mask_mAP50-95"
"""The mask metric of a segmentation row."""

# (row label, folder, metric, box loss, folder of the fixed runs it is paired with, their gain scale)
ROWS = (
    ("YOLOv8n detect, CIoU", "default-shapes", "mAP50-95", "ciou", None, None),
    ("YOLOv8n detect, L1", "default-shapes", "mAP50-95", "l1", None, None),
    ("YOLOv8n detect, CIoU, 10 epochs", "default-short", "mAP50-95", "ciou", None, None),
    ("YOLOv8n detect, L1, 10 epochs", "default-short", "mAP50-95", "l1", None, None),
    ("YOLO11n detect", "default-yolo11n", "mAP50-95", "ciou", None, None),
    ("YOLO26n detect", "default-yolo26n", "mAP50-95", "ciou", None, None),
    ("YOLOv10n detect", "default-yolov10n", "mAP50-95", "ciou", None, None),
    ("anchor head (YOLOv5 gains)", "default-anchor", "mAP50-95", "ciou", None, None),
    ("YOLO11n-seg, box", "default-yolo11n-seg", "mAP50-95", "ciou", None, None),
    ("YOLO11n-seg, masks", "default-yolo11n-seg", MASKS, "ciou", None, None),
    ("YOLO26n-seg, box", "default-yolo26n-seg", "mAP50-95", "ciou", None, None),
    ("YOLO26n-seg, masks", "default-yolo26n-seg", MASKS, "ciou", None, None),
    ("YOLO11n-pose, box", "default-pose-yolo11n", "mAP50-95", "ciou", None, None),
    ("YOLO11n-pose, keypoints", "default-pose-yolo11n", KEYPOINTS, "ciou", None, None),
    ("YOLO26n-pose, box", "default-pose-yolo26n", "mAP50-95", "ciou", None, None),
    ("YOLO26n-pose, keypoints", "default-pose-yolo26n", KEYPOINTS, "ciou", None, None),
    ("YOLO11n-obb", "default-obb-yolo11n", "mAP50-95", "ciou", None, None),
    ("YOLO26n-obb", "default-obb-yolo26n", "mAP50-95", "ciou", None, None),
    ("YOLO11n-pose fine-tune, box", "default-pose-finetune", "mAP50-95", "ciou", None, None),
    ("YOLO11n-pose fine-tune, keypoints", "default-pose-finetune", KEYPOINTS, "ciou", None, None),
    ("YOLO11n-obb fine-tune", "default-obb-finetune", "mAP50-95", "ciou", None, None),
    ("BCCD fine-tune, CIoU", "default-bccd", "mAP50-95", "ciou", None, None),
    ("BCCD fine-tune, L1", "default-bccd", "mAP50-95", "l1", None, None),
)
"""The rows on Ultralytics' gains, then :data:`MIS_SET` (fixed at a mis-set gain)."""

KEYPOINT_GAINS = ("pose", "kobj", "rle")
"""Gains whose mis-set rows report the keypoints' mAP50-95 (the others: the boxes')."""

# (head, folder of the x1 runs, folder of the fixed runs at the mis-set gain, hyperparameter, the term's name);
# each x1/4 and x4
MIS_SET_GAINS = (
    ("YOLOv8n detect", "default-shapes", "default-shapes-box", "box", "box"),
    ("YOLOv8n detect", "default-shapes", "default-shapes-cls", "cls", "cls"),
    ("YOLOv8n detect", "default-shapes", "default-shapes-dfl", "dfl", "dfl"),
    ("YOLO26n detect", "default-yolo26n", "default-yolo26n-l1", "dfl", "l1"),  # YOLO26's l1 term: the dfl gain
    ("YOLO11n-obb", "default-obb-yolo11n", "default-obb-angle", "angle", "angle"),
    ("YOLO11n-pose keypoints", "default-pose-yolo11n", "default-pose-pose", "pose", "pose"),
    ("YOLO11n-pose keypoints", "default-pose-yolo11n", "default-pose-kobj", "kobj", "kobj"),
    ("YOLO26n-pose keypoints", "default-pose-yolo26n", "default-pose-yolo26n-rle", "rle", "rle"),
)
MIS_SET = tuple(
    (f"{head}, {term} gain {'x1/4' if m < 1 else 'x4'}", x1,
     KEYPOINTS if gain in KEYPOINT_GAINS else "mAP50-95", "ciou", folder, (gain, m))
    for head, x1, folder, gain, term in MIS_SET_GAINS
    for m in (0.25, 4.0)
)  # fmt: skip


def runs(folder: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((R / folder / "runs").glob("*/summary.json"))]


def select(rows: list[dict], reg: str, weighting: str, scale: tuple[str, float] | None) -> dict[int, dict]:
    """seed -> summary for one strategy, box loss and gain scale (None: Ultralytics' gains)."""
    from ultralytics.cfg import DEFAULT_CFG_DICT

    out = {}
    for s in rows:
        c = s["config"]
        if c["weighting"] != weighting or c.get("reg_loss", "ciou") != reg:
            continue
        if scale is None and any(k in c and c[k] != DEFAULT_CFG_DICT[k] for k in GAIN_KEYS):
            continue
        if scale is not None and float(c.get(scale[0], -1)) != DEFAULT_CFG_DICT[scale[0]] * scale[1]:
            continue
        out[c["seed"]] = s
    return out


def paired(runs_: dict[int, dict], base: dict[int, dict], metric: str) -> tuple[list[int], np.ndarray]:
    """The seeds both ran and, per seed, ``runs_`` minus ``base``."""
    seeds = sorted(set(runs_) & set(base))
    return seeds, np.array([runs_[k][metric] - base[k][metric] for k in seeds])


def compare(runs_: dict[int, dict], base: dict[int, dict], metric: str) -> str:
    seeds, d = paired(runs_, base, metric)
    if not seeds:
        return ""
    b = np.array([base[k][metric] for k in seeds])
    call = verdict(d, b.std(ddof=1) if len(b) > 1 else 0.0)
    call = f"**{call}**" if call != "level" else call
    return f"{d.mean():+.3f} {call}" + (f" ({len(seeds)} seeds)" if len(seeds) < 3 else "")


def head_to_head(default: dict[int, dict], peer: dict[int, dict], spread: float, metric: str) -> str:
    """The default against a peer, paired per seed: ``ahead`` / ``behind`` by the same rule as against ``fixed``
    (every seed one way, the mean beyond ``fixed``'s seed spread), else ``level``; "" without common seeds."""
    seeds, d = paired(default, peer, metric)
    if not seeds:
        return ""
    call = verdict(d, spread)
    return {"better": "ahead", "worse": "behind"}.get(call, call)


def table() -> tuple[list[str], list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """The markdown lines; per row, (row, strategy, verdict against fixed) and (row, peer, the default against it)."""
    heads = [f"`{s}`" + (" (default)" if s == "alwa-ref" else "") for s in STRATEGIES]
    lines = ["| row | `fixed` mAP50-95 | " + " | ".join(heads) + " |",
             "| --- " * (2 + len(STRATEGIES)) + "|"]  # fmt: skip
    verdicts, duels = [], []
    for label, folder, metric, reg, base_folder, scale in ROWS + MIS_SET:
        rows = runs(folder)
        base = select(runs(base_folder) if base_folder else rows, reg, "fixed", scale)
        if not base:
            continue
        v = np.array([base[k][metric] for k in sorted(base)])
        cells = []
        for s in STRATEGIES:
            if scale is not None and s not in GAIN_FREE:  # its x1 run does not stand for the mis-set gain
                cells.append("")
                continue
            cell = compare(select(rows, reg, s, None), base, metric)
            cells.append(cell)
            if cell:
                verdicts.append((label, s, cell.split()[1].strip("*")))
        sd = v.std(ddof=1) if len(v) > 1 else 0.0
        lines.append(f"| {label} | {v.mean():.3f} ± {sd:.3f} | " + " | ".join(cells) + " |")
        if scale is not None:  # the head-to-head is on Ultralytics' gains only
            continue
        default = select(rows, reg, STRATEGIES[0], None)
        for peer in STRATEGIES[1:]:
            if call := head_to_head(default, select(rows, reg, peer, None), sd, metric):
                duels.append((label, peer, call))
    return lines, verdicts, duels


def main() -> None:
    lines, verdicts, duels = table()
    count = {s: {k: sum(1 for _, s2, c in verdicts if s2 == s and c == k) for k in ("better", "level", "worse")}
             for s in STRATEGIES}  # fmt: skip
    summary = ["| strategy | rows better | level | worse |", "| --- | --- | --- | --- |"]
    summary += [f"| `{s}` | {c['better']} | {c['level']} | {c['worse']} |" for s, c in count.items() if sum(c.values())]
    summary += ["", "| the default against | rows ahead | level | behind |", "| --- | --- | --- | --- |"]
    for peer in STRATEGIES[1:]:
        calls = [c for _, p, c in duels if p == peer]
        if calls:
            summary.append(f"| `{peer}` | {calls.count('ahead')} | {calls.count('level')} | {calls.count('behind')} |")
    text = ["Command: `python benchmarks/default_table.py` (after `bash benchmarks/run_suite.sh default`)", "",
            *lines, "", *summary, ""]  # fmt: skip
    (R / "default-summary.md").write_text("\n".join(text))
    readme = HERE / "README.md"  # the "Default" section carries the same table, between its markers
    body, (begin, end) = readme.read_text(), MARKERS
    if begin in body and end in body:
        table_text = "\n".join([*lines, "", *summary])
        body = body[: body.index(begin) + len(begin)] + "\n" + table_text + "\n" + body[body.index(end) :]
        readme.write_text(body)
    print("\n".join(text))


MARKERS = ("<!-- default table: begin (python benchmarks/default_table.py) -->", "<!-- default table: end -->")
"""Where benchmarks/README.md's "Default" section holds the table this script writes."""


if __name__ == "__main__":
    main()
