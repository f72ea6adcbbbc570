"""The tables of benchmarks/README.md's "Pose and OBB" section, from the pose-obb stage's result folders.

Reads what ``bash benchmarks/run_suite.sh pose-obb`` wrote (finished runs only; a part not run yet is said so) and
writes ``benchmarks/results/pose-obb-summary.md``: per model, box (rotated-box for OBB) and keypoint mAP50-95 with
paired differences from ``fixed`` and each adaptive strategy's calibrated gains; the task's own gain scaled (x1/4,
x4; x1 is the model table's row, the same runs); the fine-tunes of the pretrained checkpoints.

Usage: python benchmarks/pose_obb_tables.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from ultralytics.cfg import DEFAULT_CFG_DICT

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sweep import verdict  # noqa: E402

R = HERE / "results"
METRICS = {"pose": (("box", "mAP50-95"), ("keypoint", "pose_mAP50-95")), "obb": (("rotated box", "mAP50-95"),)}
ORDER = ("fixed", "alwa-cal", "alwa-cal-aux", "alwa2")


def runs(folder: str) -> list[dict]:
    """Every finished run's ``summary.json`` under ``results/<folder>/runs``."""
    return [json.loads(p.read_text()) for p in sorted((R / folder / "runs").glob("*/summary.json"))]


def by_weighting(rows: list[dict]) -> dict[str, dict[int, dict]]:
    """weighting -> seed -> summary."""
    out: dict[str, dict[int, dict]] = {}
    for s in rows:
        out.setdefault(s["config"]["weighting"], {})[s["config"]["seed"]] = s
    return out


def cell(values: np.ndarray) -> str:
    return f"{values.mean():.3f} ± {values.std(ddof=1) if len(values) > 1 else 0:.3f}"


def paired(runs_: dict[int, dict], base: dict[int, dict], metric: str) -> tuple[str, str]:
    """The paired difference (mean and per seed) and its verdict against ``base``, on the seeds both have."""
    seeds = sorted(set(runs_) & set(base))
    if not seeds:
        return "", ""
    d = np.array([runs_[k][metric] - base[k][metric] for k in seeds])
    b = np.array([base[k][metric] for k in seeds])
    text = f"{d.mean():+.3f} (" + " ".join(f"{x:+.3f}" for x in d) + ")"
    return text, verdict(d, b.std(ddof=1) if len(b) > 1 else 0.0)


def gains(runs_: dict[int, dict]) -> str:
    """Mean calibrated effective gain of each term over the seeds (alwa-cal, alwa-cal-aux), in hyp units."""
    cals = [s["calibration"] for s in runs_.values() if s.get("calibration")]
    if not cals:
        return ""
    names = list(cals[0])
    return ", ".join(f"{n.removesuffix('_loss')} {np.mean([c[n] for c in cals]):.3g}" for n in names)


def model_table(folder: str, task: str) -> list[str]:
    """One row per weighting: each metric's mean ± sd, paired diff from ``fixed`` and verdict; calibrated gains."""
    ws = by_weighting(runs(folder))
    if not ws:
        return [f"(`{folder}`: no finished run yet)"]
    metrics = METRICS[task]
    head = "| weighting | " + " | ".join(f"{m} mAP50-95 | paired diff (per seed) | verdict" for m, _ in metrics)
    lines = [head + " | calibrated gains | seeds |", "| --- " * (3 + 3 * len(metrics)) + "|"]
    base = ws.get("fixed", {})
    for w in sorted(ws, key=lambda w: ORDER.index(w) if w in ORDER else len(ORDER)):
        cells = []
        for _, key in metrics:
            v = np.array([ws[w][k][key] for k in sorted(ws[w])])
            diff, call = paired(ws[w], base, key) if w != "fixed" else ("", "")
            cells.append(f"{cell(v)} | {diff} | {'**' + call + '**' if call in ('worse', 'better') else call}")
        lines.append(f"| {w} | " + " | ".join(cells) + f" | {gains(ws[w])} | {len(ws[w])} |")
    return lines


def robustness_table(folder: str, base_folder: str, task: str, hyp: str) -> list[str]:
    """Each weighting at x1/4, x1 (the model table's runs) and x4 of Ultralytics' ``hyp`` gain."""
    rows = runs(folder)
    if not rows:
        return [f"(`{folder}`: no finished run yet)"]
    base = by_weighting(runs(base_folder))
    metrics = METRICS[task]
    lines = [f"| weighting | {hyp} gain | " + " | ".join(f"{m} mAP50-95 | paired diff vs fixed x1" for m, _ in metrics)
             + " | seeds |", "| --- " * (3 + 2 * len(metrics)) + "|"]  # fmt: skip
    scaled: dict[tuple[str, float], dict[int, dict]] = {}
    for s in rows:
        c = s["config"]
        scaled.setdefault((c["weighting"], round(float(c[hyp]) / float(DEFAULT_CFG_DICT[hyp]), 6)), {})[c["seed"]] = s
    for w in ORDER:
        for m in (0.25, 1.0, 4.0):
            got = base.get(w) if m == 1.0 else scaled.get((w, m))
            if not got:
                continue
            cells = []
            for _, key in metrics:
                v = np.array([got[k][key] for k in sorted(got)])
                diff, call = paired(got, base.get("fixed", {}), key) if (w, m) != ("fixed", 1.0) else ("", "")
                cells.append(f"{cell(v)} | {diff} {call}".rstrip())
            lines.append(f"| {w} | x{m:g} | " + " | ".join(cells) + f" | {len(got)} |")
    return lines


def main() -> None:
    text = ["Command: `python benchmarks/pose_obb_tables.py` (after `bash benchmarks/run_suite.sh pose-obb`)", ""]
    for task in ("pose", "obb"):
        for model in (f"yolo11n-{task}", f"yolo26n-{task}"):
            text += [f"## {model}, from scratch, 20 epochs ({task}-{model})", "", *model_table(f"{task}-{model}", task),
                     ""]  # fmt: skip
    text += ["## YOLO11n-pose, pose gain x1/4, x4 (pose-gains)", "",
             *robustness_table("pose-gains", "pose-yolo11n-pose", "pose", "pose"), "",
             "## YOLO11n-obb, angle gain x1/4, x4 (obb-gains)", "",
             *robustness_table("obb-gains", "obb-yolo11n-obb", "obb", "angle"), ""]  # fmt: skip
    for task in ("pose", "obb"):
        text += [f"## YOLO11n-{task} fine-tuned 10 epochs from the {task}-pretrain checkpoint ({task}-finetune)", "",
                 *model_table(f"{task}-finetune", task), ""]  # fmt: skip
    (R / "pose-obb-summary.md").write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
