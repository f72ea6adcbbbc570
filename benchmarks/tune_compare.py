"""Search cost: Ultralytics' own ``model.tune()`` searching box / cls / dfl gains, against one adaptive run.

Runs ``YOLO(model).tune(...)`` (stock trainer, stock genetic search over the three gains only, ``--trials`` trials of
``--epochs`` epochs each, seed 0) with the optimiser every other benchmark uses, Ultralytics' ``auto``: ``tune()``
otherwise switches to AdamW at lr0 0.01, with which its first trial (Ultralytics' gains) reached 0.682 mAP50-95 in 10
epochs on the demo set where the auto-optimiser runs reach about 0.45, a comparison of optimisers, not of gains. Then
reads ``tune_results.ndjson`` and writes ``tune.md`` and ``tune.png``: the best mAP50-95 found so far against the
training iterations spent, with the adaptive runs of the same length (their ``summary.json`` from a sweep, e.g. the
robustness sweep at scale 1) as points at one trial's cost. Resumable: the tuner resumes from its ndjson.

Usage:
    python benchmarks/tune_compare.py --data data/shapes.yaml --epochs 10 --trials 8 \\
        --adaptive benchmarks/results/robustness-cls/runs/alwa-cal-hyp-ciou-clsx1-s0 --out benchmarks/results/tune
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alwa_yolo.data.resolve import resolve_data

SPACE = {"box": (0.5, 20.0), "cls": (0.05, 4.0), "dfl": (0.1, 6.0)}
"""The search space: Ultralytics' default ranges for the three gains (``Tuner.space``), nothing else mutated."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data/shapes.yaml")
    parser.add_argument("--model", default="yolov8n.yaml")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--img", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--adaptive", nargs="*", default=[], help="run folders (with summary.json) to compare")
    parser.add_argument("--out", default="benchmarks/results/tune")
    parser.add_argument("--table-only", action="store_true")
    parser.add_argument("--retrain-seeds", type=int, nargs="*", default=[],
                        help="re-train the best trial's gains with these seeds (fixed, val at the last epoch only): "
                        "the best of N noisy trials is biased upwards")  # fmt: skip
    opt = parser.parse_args(argv)
    out = Path(opt.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    log = out / "tune" / "tune_results.ndjson"
    done = len([x for x in log.read_text().splitlines() if x.strip()]) if log.exists() else 0
    if not opt.table_only and done < opt.trials:
        from ultralytics import YOLO

        # resume=True is what makes Ultralytics' Tuner reuse tune/ and continue from its ndjson; without it the
        # tuner increments to tune-2/ and starts the search again from trial 1 (exist_ok alone does not do it)
        YOLO(opt.model).tune(
            resume=done > 0,
            data=str(resolve_data(opt.data)), epochs=opt.epochs, iterations=opt.trials, space=SPACE, imgsz=opt.img,
            batch=opt.batch, device=opt.device, workers=0, plots=False, save=False, val=True, seed=0,
            optimizer="auto",  # tune() defaults to AdamW at lr0 0.01; every run compared here uses Ultralytics' auto
            project=str(out), name="tune", exist_ok=True,
        )  # fmt: skip
    records = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
    trials = [
        (r["hyperparameters"], next(iter(r["datasets"].values()), {}).get("metrics/mAP50-95(B)", 0.0)) for r in records
    ]
    adaptive = [json.loads((Path(p) / "summary.json").read_text()) for p in opt.adaptive]
    it = adaptive[0]["iterations"] if adaptive else 0  # same data and epochs: one trial costs what one run costs
    rows = ["| trial | box | cls | dfl | mAP50-95 | best so far | training iterations so far |",
            "| --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    best = 0.0
    curve = []
    for i, (hyp, m) in enumerate(trials, 1):
        best = max(best, m)
        curve.append((i * it, best))
        rows.append(
            f"| {i} | {hyp['box']:.3g} | {hyp['cls']:.3g} | {hyp['dfl']:.3g} | {m:.3f} | {best:.3f} | {i * it} |"
        )
    lines = [f"Command: `python benchmarks/tune_compare.py {' '.join(sys.argv[1:] if argv is None else argv)}`", "",
             *rows, ""]  # fmt: skip
    for s in adaptive:
        c = s["config"]
        lines.append(f"- one `{c['weighting']}` run (seed {c['seed']}, gains {c.get('gains')}): mAP50-95 "
                     f"{s['mAP50-95']:.3f} after {s['iterations']} iterations")  # fmt: skip
    if opt.retrain_seeds and trials:
        lines += ["", *retrain(opt, out, max(trials, key=lambda t: t[1]), adaptive, it, len(trials))]
    (out / "tune.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4), tight_layout=True)
    ax.step([0] + [x for x, _ in curve], [0] + [y for _, y in curve], where="post", label="model.tune(): best so far")
    ax.plot([x for x, _ in curve], [m for _, m in trials], "o", color="tab:blue", alpha=0.4, label="tune() trial")
    for s in adaptive:
        ax.plot(s["iterations"], s["mAP50-95"], "D", ms=8, label=f"one {s['config']['weighting']} run, seed "
                f"{s['config']['seed']}")  # fmt: skip
    ax.set_xlabel("training iterations spent")
    ax.set_ylabel("mAP50-95")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(out / "tune.png", dpi=120)
    plt.close(fig)


def retrain(opt: argparse.Namespace, out: Path, best: tuple[dict, float], adaptive: list[dict], it: int, n: int):
    """Train ``fixed`` from the best trial's gains with fresh seeds (``sweep.py``, resumable); the report lines."""
    import subprocess

    import numpy as np

    hyp, found = best
    gains = [f"{k}={hyp[k]:.6g}" for k in SPACE]
    cmd = [sys.executable, str(Path(__file__).parent / "sweep.py"), "--data", opt.data, "--model", opt.model,
           "--img", str(opt.img), "--batch", str(opt.batch), "--epochs", str(opt.epochs), "--device", opt.device,
           "--weightings", "fixed", "--reg-losses", "ciou", "--seeds", *map(str, opt.retrain_seeds), "--jobs", "2",
           "--extra", "val=False", *gains, "--out", str(out / "retrain")]  # fmt: skip
    subprocess.run(cmd, check=True)
    runs = json.loads((out / "retrain" / "results.json").read_text())
    again = np.array([r["mAP50-95"] for r in runs])
    ada = np.array([s["mAP50-95"] for s in adaptive])
    lines = [
        f"Best trial: {', '.join(gains)}: mAP50-95 {found:.3f} in the search; re-trained with seeds "
        f"{' '.join(map(str, opt.retrain_seeds))}: {again.mean():.3f} ± {again.std(ddof=1):.3f} "
        f"({' '.join(f'{x:.3f}' for x in again)}), {n} trials = {n * it} training iterations.",
    ]
    if len(ada):
        lines.append(f"The adaptive runs above: {ada.mean():.3f} ± {ada.std(ddof=1) if len(ada) > 1 else 0:.3f}, "
                     f"{it} training iterations each (1/{n} of the search).")  # fmt: skip
    return lines


if __name__ == "__main__":
    main()
