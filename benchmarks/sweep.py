"""Train a grid of weighting x box loss x gain scale x seed on one dataset and tabulate paired differences.

Each configuration runs in its own process (``run_one.py``) and leaves ``summary.json`` in its run folder; a
configuration whose summary exists is skipped, so an interrupted sweep resumes where it stopped (rerun the same
command), and ``--jobs 2`` trains two at a time (Ultralytics gives each CPU run one thread, so two use both cores of
a 2-core machine). ``results.md`` reports, per configuration, the final-epoch mAP50-95 (mean and standard deviation
over seeds) and its **paired difference** from ``fixed`` with the same box loss, gain scale and seed: the mean, the
per-seed values and a verdict, ``better`` / ``worse`` only when every seed moves the same way and the mean
difference exceeds the baseline's seed standard deviation, ``level`` otherwise. ``results.json`` keeps every run.

Usage (the commands behind benchmarks/README.md):
    python benchmarks/sweep.py --data data/shapes.yaml --epochs 20 --seeds 0 1 2 --jobs 2 \\
        --weightings fixed alwa2 alwa2-raw alwa-cal --out benchmarks/results/scratch-shapes
    python benchmarks/sweep.py --data data/shapes.yaml --model benchmarks/results/pretrain/weights/best.pt ...
    python benchmarks/sweep.py --scale cls=0.125,0.25,0.5,1,2,4,8 --adaptive-scales 0.125,1,8 --gains hyp ...
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import yaml
from ultralytics.cfg import DEFAULT_CFG_DICT

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REG_LOSSES = ("ciou", "l1", "smoothl1")


def configs(opt: argparse.Namespace) -> list[dict]:
    """The grid, one dict of trainer arguments per run (``gain_scale`` = (hyperparameter, multiplier) or None)."""
    scales: list[tuple[str, float] | None] = [None]
    if opt.scale:
        key, values = opt.scale.split("=")
        scales = [(key, float(v)) for v in values.split(",")]
    grid = []
    for reg in opt.reg_losses:
        for scale in scales:
            for w in opt.weightings:
                if scale and w != "fixed" and opt.adaptive_scales and scale[1] not in opt.adaptive_scales:
                    continue
                for seed in opt.seeds:
                    c = {"weighting": w, "reg_loss": reg, "seed": seed, "gains": "auto" if w == "fixed" else opt.gains}
                    if scale:
                        c[scale[0]] = head_gains(opt.model)[scale[0]] * scale[1]
                    grid.append({**c, "_scale": scale})
    return grid


def head_gains(model: str) -> dict:
    """The gains ``--scale`` multiplies: the head's own where it has them (RT-DETR's: box = GIoU 2, cls = class 1,
    dfl = L1 5), else Ultralytics' defaults."""
    if "rtdetr" in Path(str(model)).name:
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        from alwa_yolo.losses.rtdetr import RTDETR_GAINS

        return {**DEFAULT_CFG_DICT, **RTDETR_GAINS}
    return DEFAULT_CFG_DICT


def run_name(c: dict) -> str:
    scale = f"-{c['_scale'][0]}x{c['_scale'][1]:g}" if c.get("_scale") else ""
    return f"{c['weighting']}-{c['gains']}-{c['reg_loss']}{scale}-s{c['seed']}"


def train(c: dict, opt: argparse.Namespace) -> dict | None:
    """Train one configuration unless its summary exists; return the summary (None if the run failed)."""
    folder = Path(opt.out) / "runs" / run_name(c)
    summary = folder / "summary.json"
    if not summary.exists():
        if opt.table_only:
            return None
        overrides = {
            "model": opt.model, "data": opt.data, "epochs": opt.epochs, "imgsz": opt.img, "batch": opt.batch,
            "device": opt.device, "workers": opt.workers, "project": str(Path(opt.out).resolve() / "runs"),
            "name": run_name(c), "exist_ok": True, "plots": False, "alwa_interval": opt.alwa_interval,
            **{k: v for k, v in c.items() if not k.startswith("_")},
            **{k: yaml.safe_load(v) for k, v in (kv.split("=", 1) for kv in opt.extra)},
        }  # fmt: skip
        print(f"--> {run_name(c)}", flush=True)
        env = {**os.environ, "ALWA_YOLO_CPU_THREADS": os.environ.get("ALWA_YOLO_CPU_THREADS", str(opt.threads))}
        p = subprocess.run([sys.executable, str(HERE / "run_one.py"), json.dumps(overrides)], capture_output=True,
                           text=True, cwd=ROOT, env=env)  # fmt: skip
        if p.returncode != 0:
            print(f"FAILED {run_name(c)}:\n{p.stderr[-2000:]}", file=sys.stderr, flush=True)
            return None
        print(f"<-- {run_name(c)}: mAP50-95 {json.loads(summary.read_text())['mAP50-95']:.4f}", flush=True)
    return json.loads(summary.read_text())


def verdict(diffs: np.ndarray, baseline_sd: float) -> str:
    """``better`` / ``worse`` only when every seed moves the same way by more than the seed spread, else ``level``."""
    if len(diffs) >= 2 and abs(diffs.mean()) > baseline_sd:
        if (diffs > 0).all():
            return "better"
        if (diffs < 0).all():
            return "worse"
    return "level"


def table(results: list[tuple[dict, dict]], metric: str = "mAP50-95") -> str:
    """Markdown table, one row per configuration, seeds aggregated, paired against ``fixed``."""
    groups: dict[tuple, dict[int, dict]] = {}
    for c, s in results:
        groups.setdefault((c["reg_loss"], c["_scale"] and tuple(c["_scale"]), c["weighting"], c["gains"]), {})[
            c["seed"]
        ] = s
    lines = [
        f"| box loss | gain scale | weighting | gains | {metric} mean ± sd | paired diff vs fixed | per seed | verdict "
        "| final w_cls | seeds |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (reg, scale, w, g), runs in groups.items():
        v = np.array([runs[k][metric] for k in sorted(runs)])
        base = next((r for (r2, s2, w2, _), r in groups.items() if (r2, s2, w2) == (reg, scale, "fixed")), None)
        paired, per_seed, call = "", "", ""
        if base and w != "fixed":
            seeds = sorted(set(runs) & set(base))
            d = np.array([runs[k][metric] - base[k][metric] for k in seeds])
            if len(d):
                b = np.array([base[k][metric] for k in seeds])
                paired = f"{d.mean():+.3f}"
                per_seed = " ".join(f"{x:+.3f}" for x in d)
                call = verdict(d, b.std(ddof=1) if len(b) > 1 else 0.0)
        wcls = np.mean([runs[k]["w_final"]["cls"] for k in runs])
        sc = f"{scale[0]} x{scale[1]:g}" if scale else "1"
        lines.append(
            f"| {reg} | {sc} | {w} | {g} | {v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0:.3f} | {paired} "
            f"| {per_seed} | {call} | {wcls:.2f} | {len(v)} |"
        )
    return "\n".join(lines)


def plot_map(results: list[tuple[dict, dict]], out: Path, metric: str = "mAP50-95") -> None:
    """``map.png``: the metric per configuration, one dot per seed, lines joining a seed's runs (paired)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    regs = sorted({c["reg_loss"] for c, _ in results}, key=REG_LOSSES.index)
    ws = list(dict.fromkeys(c["weighting"] for c, _ in results))
    fig, axes = plt.subplots(1, len(regs), figsize=(3.2 * len(regs) + 1, 3.6), tight_layout=True, squeeze=False)
    for ax, reg in zip(axes[0], regs):
        for seed in sorted({c["seed"] for c, _ in results}):
            ys = [next((s[metric] for c, s in results if (c["reg_loss"], c["weighting"], c["seed"]) == (reg, w, seed)
                        and not c["_scale"]), np.nan) for w in ws]  # fmt: skip
            ax.plot(range(len(ws)), ys, "o-", color="0.7", lw=0.8, ms=4)
        means = [np.mean([s[metric] for c, s in results if (c["reg_loss"], c["weighting"]) == (reg, w)]) for w in ws]
        ax.plot(range(len(ws)), means, "D", color="tab:red", ms=7, label="mean")
        ax.set_xticks(range(len(ws)), ws, rotation=30)
        ax.set_title(reg)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"final {metric} (grey: one seed)")
    fig.savefig(out / "map.png", dpi=120)
    plt.close(fig)


def plot_scale(results: list[tuple[dict, dict]], out: Path, metric: str = "mAP50-95") -> None:
    """``robustness.png``: the metric against the gain multiplier, one line per weighting and box loss."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key = next(c["_scale"][0] for c, _ in results if c["_scale"])
    regs = sorted({c["reg_loss"] for c, _ in results}, key=REG_LOSSES.index)
    fig, axes = plt.subplots(1, len(regs), figsize=(4.5 * len(regs), 3.8), tight_layout=True, squeeze=False)
    for ax, reg in zip(axes[0], regs):
        for w in dict.fromkeys(c["weighting"] for c, _ in results):
            pts: dict[float, list[float]] = {}
            for c, s in results:
                if (c["reg_loss"], c["weighting"]) == (reg, w):
                    pts.setdefault(c["_scale"][1], []).append(s[metric])
            xs = sorted(pts)
            ax.errorbar(xs, [np.mean(pts[x]) for x in xs], yerr=[np.std(pts[x]) for x in xs], marker="o", capsize=3,
                        label=w)  # fmt: skip
        if all(c["_scale"][1] > 0 for c, _ in results):
            ax.set_xscale("log", base=2)
        else:  # a gain of 0 (the term off): linear near 0, log above
            ax.set_xscale("symlog", base=2, linthresh=0.25)
        ax.set_xlabel(f"{key} gain x (Ultralytics' {DEFAULT_CFG_DICT[key]:g} = 1)")
        ax.set_title(reg)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"final {metric}")
    axes[0][-1].legend(fontsize=8)
    fig.savefig(out / "robustness.png", dpi=120)
    plt.close(fig)


def parse_opt(argv: list[str] | None = None) -> argparse.Namespace:
    """The sweep's options (``argv`` None: the command line)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data/shapes.yaml")
    parser.add_argument("--model", default="yolov8n.yaml", help="model yaml (from scratch) or .pt (fine-tune)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--img", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--weightings", nargs="+", default=["fixed", "alwa2", "alwa2-raw", "alwa-cal"])
    parser.add_argument("--gains", default="auto", help="base gains of the adaptive strategies (fixed: hyp)")
    parser.add_argument("--reg-losses", nargs="+", default=list(REG_LOSSES))
    parser.add_argument("--scale", default="", help="gain robustness: KEY=m1,m2,... multiplies Ultralytics' KEY gain")
    parser.add_argument(
        "--adaptive-scales",
        type=lambda v: [float(x) for x in v.split(",")],
        default=None,
        help="with --scale: the multipliers the non-fixed weightings run at (default: all)",
    )
    parser.add_argument("--alwa-interval", type=int, default=100)
    parser.add_argument("--extra", nargs="*", default=[], help="more trainer arguments, key=value")
    parser.add_argument("--jobs", type=int, default=1, help="configurations trained at the same time")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per run (ALWA_YOLO_CPU_THREADS)")
    parser.add_argument("--metric", default="mAP50-95", help="summary key to tabulate (e.g. mask_mAP50-95)")
    parser.add_argument("--out", default=str(HERE / "results" / "sweep"))
    parser.add_argument("--table-only", action="store_true", help="tabulate finished runs, train nothing")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    opt = parse_opt(argv)
    out = Path(opt.out)
    out.mkdir(parents=True, exist_ok=True)
    grid = configs(opt)
    with ThreadPoolExecutor(max(1, opt.jobs)) as pool:
        summaries = list(pool.map(lambda c: train(c, opt), grid))
    results = [(c, s) for c, s in zip(grid, summaries) if s is not None]
    if not results:
        print("no finished runs to tabulate")
        return
    md = table(results, opt.metric)
    cmd = "python benchmarks/sweep.py " + " ".join(sys.argv[1:] if argv is None else argv)
    name = "results.md" if opt.metric == "mAP50-95" else f"results-{opt.metric}.md"
    (out / name).write_text(f"Command: `{cmd}`\n\n{md}\n")
    if opt.metric == "mAP50-95":
        slim = [{"config": c, **{k: v for k, v in s.items() if k != "item_trace"}} for c, s in results]
        (out / "results.json").write_text(json.dumps(slim, indent=1, default=str))
        plot_scale(results, out, opt.metric) if opt.scale else plot_map(results, out, opt.metric)
    print(md)


if __name__ == "__main__":
    main()
