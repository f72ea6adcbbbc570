"""Train every weighting x base gains x regression loss x seed on one dataset and tabulate the results.

Each configuration runs in its own process (``run_one.py``) and leaves ``summary.json`` in its run folder; a
configuration whose summary exists is skipped, so an interrupted sweep resumes where it stopped. The table
(``results.md``) reports the final-epoch mAP50 / mAP50-95 as mean +- half-range over seeds, the final weights and
the median seconds per iteration; ``map.png`` and ``weights.png`` plot them.

Usage (the commands behind benchmarks/README.md):
    python benchmarks/sweep.py --data data/shapes.yaml --epochs 8 --seeds 0 1 --out benchmarks/results/shapes
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WEIGHTINGS = ("fixed", "alwa1", "alwa2", "alwa2-raw", "uw", "dwa")
REG_LOSSES = ("ciou", "l1", "smoothl1")


def configs(opt) -> list[dict]:
    """The grid: ``fixed`` on Ultralytics' gains and (``--unit-fixed``) on unit gains; adaptive ones on ``--gains``."""
    out = []
    for reg in opt.reg_losses:
        for w in opt.weightings:
            gains_list = ["hyp", "unit"] if (w == "fixed" and opt.unit_fixed) else (["hyp"] if w == "fixed" else opt.gains)
            for gains in gains_list:
                for seed in opt.seeds:
                    out.append({"weighting": w, "gains": gains, "reg_loss": reg, "seed": seed})
    return out


def run_name(c: dict) -> str:
    return f"{c['weighting']}-{c['gains']}-{c['reg_loss']}-s{c['seed']}"


def train(c: dict, opt) -> dict | None:
    """Train one configuration unless its summary exists; return the summary (None if the run failed)."""
    folder = Path(opt.out) / "runs" / run_name(c)
    summary = folder / "summary.json"
    if not summary.exists():
        overrides = {
            "model": opt.model, "data": opt.data, "epochs": opt.epochs, "imgsz": opt.img, "batch": opt.batch,
            "device": opt.device, "workers": 0, "project": str(Path(opt.out).resolve() / "runs"), "name": run_name(c),
            "exist_ok": True, "plots": False, "alwa_interval": opt.alwa_interval, "deterministic": True, **c,
        }
        print(f"--> {run_name(c)}", flush=True)
        p = subprocess.run([sys.executable, str(HERE / "run_one.py"), json.dumps(overrides)], capture_output=True,
                           text=True)
        if p.returncode != 0:
            print(p.stderr[-2000:], file=sys.stderr)
            return None
    return json.loads(summary.read_text())


def table(results: list[tuple[dict, dict]]) -> str:
    """Markdown table, one row per configuration, seeds aggregated."""
    groups: dict[tuple, list[dict]] = {}
    for c, s in results:
        groups.setdefault((c["reg_loss"], c["weighting"], c["gains"]), []).append(s)
    lines = [
        "| reg loss | weighting | base gains | mAP50 | mAP50-95 | final w_cls / w_reg | windows S_cls > S_reg | s/it | seeds |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (reg, w, g), ss in groups.items():
        def mr(key):
            v = np.array([s[key] for s in ss])
            return f"{v.mean():.3f} ± {(v.max() - v.min()) / 2:.3f}"

        wc = np.mean([s["w_final"]["cls"] for s in ss])
        wr = np.mean([s["w_final"]["reg"] for s in ss])
        n_up = np.mean([len(s["updates"]) for s in ss])
        fired = np.mean([sum(u["stat_cls"] > u["stat_reg"] for u in s["updates"]) for s in ss])
        upd = f"{fired:.1f} of {n_up:.0f}" if w.startswith("alwa") else "-"
        sit = np.median([s["median_s_per_it"] for s in ss])
        lines.append(f"| {reg} | {w} | {g} | {mr('mAP50')} | {mr('mAP50-95')} | {wc:.2f} / {wr:.2f} | {upd} "
                     f"| {sit:.3f} | {len(ss)} |")
    return "\n".join(lines)


def plots(results: list[tuple[dict, dict]], out: Path) -> None:
    """map.png: mAP50-95 per configuration with the seed spread; weights.png: w_cls per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({(c["reg_loss"], c["weighting"], c["gains"]) for c, _ in results})
    vals = [[s["mAP50-95"] for c, s in results if (c["reg_loss"], c["weighting"], c["gains"]) == k] for k in keys]
    fig, ax = plt.subplots(figsize=(max(6, len(keys) * 0.5), 4), tight_layout=True)
    for i, v in enumerate(vals):
        ax.plot([i] * len(v), v, "o", color="tab:blue", alpha=0.6)
        ax.plot([i - 0.3, i + 0.3], [np.mean(v)] * 2, color="k")
    ax.set_xticks(range(len(keys)), ["/".join(k) for k in keys], rotation=70, fontsize=7)
    ax.set_ylabel("final mAP50-95")
    ax.grid(alpha=0.3)
    fig.savefig(out / "map.png", dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(1, len({c["reg_loss"] for c, _ in results}), figsize=(12, 3.5), tight_layout=True,
                             squeeze=False)
    for ax, reg in zip(axes[0], sorted({c["reg_loss"] for c, _ in results})):
        for c, s in results:
            if c["reg_loss"] == reg and s.get("w_cls_per_epoch") and c["seed"] == min(x["seed"] for x, _ in results):
                ax.plot(range(1, len(s["w_cls_per_epoch"]) + 1), s["w_cls_per_epoch"], label=f"{c['weighting']}/{c['gains']}")
        ax.set_title(f"w_cls per epoch ({reg})")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.savefig(out / "weights.png", dpi=120)
    plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data/shapes.yaml")
    parser.add_argument("--model", default="yolov8n.yaml")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--img", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--weightings", nargs="+", default=list(WEIGHTINGS))
    parser.add_argument("--gains", nargs="+", default=["unit"], help="base gains of the adaptive strategies")
    parser.add_argument("--unit-fixed", action="store_true", help="also run fixed on unit gains")
    parser.add_argument("--reg-losses", nargs="+", default=list(REG_LOSSES))
    parser.add_argument("--alwa-interval", type=int, default=100)
    parser.add_argument("--out", default=str(HERE / "results" / "shapes"))
    parser.add_argument("--table-only", action="store_true", help="tabulate finished runs, train nothing")
    opt = parser.parse_args(argv)
    out = Path(opt.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for c in configs(opt):
        done = (Path(opt.out) / "runs" / run_name(c) / "summary.json").exists()
        s = train(c, opt) if (done or not opt.table_only) else None
        if s is not None:
            results.append((c, s))
    md = table(results)
    cmd = "python benchmarks/sweep.py " + " ".join(sys.argv[1:] if argv is None else argv)
    (out / "results.md").write_text(f"Command: `{cmd}`\n\n{md}\n")
    (out / "results.json").write_text(json.dumps([{"config": c, **s} for c, s in results], indent=1))
    plots(results, out)
    print(md)


if __name__ == "__main__":
    main()
