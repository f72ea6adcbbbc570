"""The tables and plots of benchmarks/README.md's "Real data" section, from the BCCD result folders.

Reads what the ``real`` stage of run_suite.sh wrote (finished runs only; a part not run yet is said so) and writes
``benchmarks/results/bccd-summary.md`` and ``bccd-gains.png``: the fine-tune table with per-class AP50-95 and paired
differences against ``fixed``, the gain curve (Ultralytics' cls / box gain scaled, the default marked), and the
``model.tune()`` search with its best gains re-trained (paired per seed with the fine-tune table's ``fixed`` and
``alwa-cal``), the short-vs-long ranking check and YOLO26n from scratch.

Usage: python benchmarks/real_tables.py
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
CLASSES = ("RBC", "WBC", "Platelets")


def runs(folder: str) -> list[dict]:
    """Every finished run of ``results/<folder>``: its run folders' ``summary.json`` where they are (the machine
    that trained them), else the sweep's committed ``results.json``."""
    summaries = sorted((R / folder / "runs").glob("*/summary.json"))
    if summaries:
        return [json.loads(p.read_text()) for p in summaries]
    table = R / folder / "results.json"
    return json.loads(table.read_text()) if table.exists() else []


def key(s: dict) -> tuple:
    c = s["config"]
    return c["reg_loss"], c["weighting"]


def finetune_table(folder: str) -> list[str]:
    """One row per box loss x weighting: mAP50-95, per-class AP50-95, paired difference from fixed."""
    rows = runs(folder)
    if not rows:
        return [f"(`{folder}`: no finished run yet)"]
    by: dict[tuple, dict[int, dict]] = {}
    for s in rows:
        by.setdefault(key(s), {})[s["config"]["seed"]] = s
    out = ["| box loss | weighting | mAP50-95 mean ± sd | " + " | ".join(f"{c} AP50-95" for c in CLASSES)
           + " | paired diff vs fixed (per seed) | verdict | seeds |",
           "| --- " * (6 + len(CLASSES)) + "|"]  # fmt: skip
    for (reg, w), seeds in sorted(by.items(), key=lambda kv: (kv[0][0] != "ciou", kv[0][0], kv[0][1] != "fixed")):
        v = np.array([seeds[k]["mAP50-95"] for k in sorted(seeds)])
        per = [np.mean([seeds[k]["per_class"][c]["AP50-95"] for k in seeds]) for c in CLASSES]
        base = by.get((reg, "fixed"), {})
        common = sorted(set(seeds) & set(base))
        paired, call = "", ""
        if w != "fixed" and common:
            d = np.array([seeds[k]["mAP50-95"] - base[k]["mAP50-95"] for k in common])
            b = np.array([base[k]["mAP50-95"] for k in common])
            paired = f"{d.mean():+.3f} (" + " ".join(f"{x:+.3f}" for x in d) + ")"
            call = verdict(d, b.std(ddof=1) if len(b) > 1 else 0.0)
        sd = v.std(ddof=1) if len(v) > 1 else 0.0
        out.append(f"| {reg} | {w} | {v.mean():.3f} ± {sd:.3f} | " + " | ".join(f"{x:.3f}" for x in per)
                   + f" | {paired} | {call} | {len(v)} |")  # fmt: skip
    return out


def gain_curve() -> tuple[list[str], dict]:
    """``fixed`` at Ultralytics' cls / box gain scaled; x1 is the fine-tune table's fixed CIoU row."""
    base = [s for s in runs("bccd-finetune") if key(s) == ("ciou", "fixed")]
    curves: dict[str, dict[float, list[float]]] = {}
    for hyp in ("cls", "box"):
        pts: dict[float, list[float]] = {1.0: [s["mAP50-95"] for s in base]} if base else {}
        for s in runs(f"bccd-gains-{hyp}"):
            scale = float(s["config"][hyp]) / float(DEFAULT_CFG_DICT[hyp])
            pts.setdefault(round(scale, 6), []).append(s["mAP50-95"])
        curves[hyp] = pts
    lines = ["| gain | x1/4 | x1/2 | x1 (Ultralytics') | x2 | x4 |", "| --- | --- | --- | --- | --- | --- |"]
    for hyp, pts in curves.items():
        cells = []
        for m in (0.25, 0.5, 1.0, 2.0, 4.0):
            v = pts.get(m)
            cells.append(f"{np.mean(v):.3f} ± {np.std(v, ddof=1) if len(v) > 1 else 0:.3f} ({len(v)})" if v else "")
        lines.append(f"| {hyp} | " + " | ".join(cells) + " |")
    return lines, curves


def plot_curve(curves: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.8), tight_layout=True)
    for hyp, pts in curves.items():
        xs = sorted(pts)
        if not xs:
            continue
        ax.errorbar(xs, [np.mean(pts[x]) for x in xs], yerr=[np.std(pts[x]) for x in xs], marker="o", capsize=3,
                    label=f"fixed, {hyp} gain scaled")  # fmt: skip
    cal = [s["mAP50-95"] for s in runs("bccd-finetune") if key(s) == ("ciou", "alwa-cal")]
    if cal:
        ax.axhspan(min(cal), max(cal), color="tab:green", alpha=0.2, label="alwa-cal (any gains), seed range")
    ax.axvline(1.0, color="0.5", ls="--", lw=0.8, label="Ultralytics' gains")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("gain multiplier")
    ax.set_ylabel("final mAP50-95 (BCCD val)")
    ax.set_title("BCCD, COCO-derived YOLOv8n, 15 epochs at 320 px")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(R / "bccd-gains.png", dpi=120)
    plt.close(fig)


def ranking(short: str, long: str) -> list[str]:
    """Do the short runs order the weightings as the long ones do (mean mAP50-95 per box loss)?"""
    a, b = runs(short), runs(long)
    if not a:
        return [f"(`{short}`: no finished run yet)"]
    lines = []
    for reg in sorted({key(s)[0] for s in a}):
        order = {}
        for name, rows in ((short, a), (long, b)):
            means = {}
            for s in rows:
                if key(s)[0] == reg:
                    means.setdefault(key(s)[1], []).append(s["mAP50-95"])
            order[name] = " > ".join(w for w, _ in sorted(means.items(), key=lambda kv: -np.mean(kv[1])))
        lines.append(f"- {reg}: {order[short]} (10 epochs) vs {order[long]} (15 epochs)")
    return lines


def tune_table() -> list[str]:
    """The search (``tune_compare.py``'s table) and its best gains re-trained with fresh seeds, paired per seed with
    ``fixed`` (Ultralytics' gains) and ``alwa-cal`` of the fine-tune table (same data, epochs, seeds)."""
    md = R / "bccd-tune" / "tune.md"
    if not md.exists():
        return ["(`bccd-tune`: the search has not finished)"]
    lines = md.read_text().splitlines()[2:]  # the table and its notes, without the command line
    again = {s["config"]["seed"]: s["mAP50-95"] for s in runs("bccd-tune/retrain")}
    if not again:
        return lines
    lines += [
        "",
        "| re-trained best gains vs | mean ± sd | paired diff (per seed) | verdict |",
        "| --- | --- | --- | --- |",
    ]
    for w in ("fixed", "alwa-cal"):
        ref = {s["config"]["seed"]: s["mAP50-95"] for s in runs("bccd-finetune") if key(s) == ("ciou", w)}
        seeds = sorted(set(again) & set(ref))
        if not seeds:
            continue
        d = np.array([again[k] - ref[k] for k in seeds])
        r = np.array([ref[k] for k in seeds])
        lines.append(
            f"| {w} (CIoU) | {r.mean():.3f} ± {r.std(ddof=1) if len(r) > 1 else 0:.3f} | {d.mean():+.3f} ("
            + " ".join(f"{x:+.3f}" for x in d)
            + f") | {verdict(d, r.std(ddof=1) if len(r) > 1 else 0)} |"
        )
    return lines


def main() -> None:
    curve_lines, curves = gain_curve()
    text = [
        "Command: `python benchmarks/real_tables.py` (after `bash benchmarks/run_suite.sh real`)", "",
        "## Fine-tune (bccd-finetune)", "", *finetune_table("bccd-finetune"), "",
        "## Ultralytics' gains scaled, fixed, CIoU (bccd-gains-cls, bccd-gains-box; runs in brackets)", "",
        *curve_lines, "",
        "## model.tune() over box / cls / dfl (bccd-tune)", "", *tune_table(), "",
        "## 10-epoch fine-tunes (bccd-finetune-10ep)", "", *finetune_table("bccd-finetune-10ep"), "",
        *ranking("bccd-finetune-10ep", "bccd-finetune"), "",
        "## YOLO26n from scratch, 30 epochs (bccd-yolo26n-scratch)", "", *finetune_table("bccd-yolo26n-scratch"),
    ]  # fmt: skip
    (R / "bccd-summary.md").write_text("\n".join(text) + "\n")
    plot_curve(curves)
    print("\n".join(text))


if __name__ == "__main__":
    main()
