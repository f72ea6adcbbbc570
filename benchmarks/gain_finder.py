"""The gain finder (``python -m alwa_yolo.gains``): how stable its gains are, what they are worth, what they cost.

Stages (each resumable: a finished part's result file is reused):

- ``stability``: the gains found on the demo set, the hard set and (with ``--bccd``) BCCD from the COCO-derived
  checkpoint, for seeds 0, 1, 2 at 16 iterations (5 chunks each), and at 50 and 200 iterations (seed 0), CIoU and L1.
  Writes ``stability.md`` / ``stability.json``, with the seconds each took.
- ``value``: ``fixed`` trained from the found gains (seed 0, 16 iterations), and beside it, on the same machine,
  ``fixed`` from Ultralytics' gains and ``alwa-cal``, with the settings of the sweeps they repeat (``scratch-shapes``
  / ``scratch-hard``: 20 epochs from scratch, CIoU / L1 / SmoothL1; ``yolo26n-shapes``; the anchor head, whose
  gains are YOLOv5's box / obj / cls), 3 seeds. Writes
  ``value.md``: per configuration the found gains and the three rows' mAP50-95, paired per seed. (Gains mis-set by
  the user need no row of their own: the finder divides the gains out, so its yaml is the same from any gains.)

Usage:
    python benchmarks/gain_finder.py stability --bccd benchmarks/datasets/BCCD/BCCD.yaml
    python benchmarks/gain_finder.py value --jobs 2 [--configs shapes hard yolo26n]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from sweep import verdict  # noqa: E402

R = HERE / "results"
OUT = R / "gain-finder"
PRETRAINED = HERE / "weights" / "yolov8n-coco-smartrail.pt"

REGS = ["ciou", "l1", "smoothl1"]
VALUE = [
    # (name, the sweep folder whose settings it repeats, sweep arguments, reg losses, seeds)
    ("shapes", "scratch-shapes", ["--data", "data/shapes.yaml", "--epochs", "20"], REGS, [0, 1, 2]),
    ("hard", "scratch-hard", ["--data", "data/shapes-hard.yaml", "--epochs", "20"], REGS, [0, 1, 2]),
    ("yolo26n", "yolo26n-shapes", ["--data", "data/shapes.yaml", "--model", "yolo26n.yaml", "--epochs", "20",
                                   "--extra", "val=False"], ["ciou"], [0, 1, 2]),
    ("anchor", "-", ["--data", "data/shapes.yaml", "--model", "cfg/models/yolov8n-anchor.yaml", "--epochs", "20",
                     "--extra", "val=False"], ["ciou"], [0, 1, 2]),
]  # fmt: skip
"""The configurations whose fixed / alwa-cal rows exist already (deterministic per seed) and are paired with."""


def finder(data: str, model: str, reg: str, imgsz: int, batch: int, seed: int, iterations: int, chunks: int) -> dict:
    """One finder run in-process (the same function the command calls), as a JSON-able dict."""
    from alwa_yolo.data.resolve import resolve_data
    from alwa_yolo.gains import find_gains

    overrides = {"model": model, "data": str(resolve_data(data)), "reg_loss": reg, "imgsz": imgsz, "batch": batch,
                 "device": "cpu", "workers": 0, "seed": seed}  # fmt: skip
    e = find_gains(overrides, iterations=iterations, chunks=chunks, progress=False)
    return {"gains": e.gains, "spread": e.spread, "seconds": e.seconds, "iterations": iterations, "chunks": e.chunks,
            "seed": seed, "reg_loss": reg, "data": data, "model": model}  # fmt: skip


def stability(opt: argparse.Namespace) -> None:
    sets = [("demo", "data/shapes.yaml", "yolov8n.yaml", 128, 16), ("hard", "data/shapes-hard.yaml", "yolov8n.yaml",
            128, 16)]  # fmt: skip
    if opt.bccd:
        sets.append(("BCCD", opt.bccd, str(PRETRAINED), 320, 8))
    path = OUT / "stability.json"
    rows = json.loads(path.read_text()) if path.exists() else []
    done = {(r["set"], r["reg_loss"], r["seed"], r["iterations"]) for r in rows}
    plan = [(s, reg, seed, 16, 5) for s in sets for reg in ("ciou", "l1") for seed in (0, 1, 2)]
    plan += [(s, reg, 0, it, ch) for s in sets for reg in ("ciou", "l1") for it, ch in ((50, 5), (200, 2))]
    for (name, data, model, imgsz, batch), reg, seed, it, ch in plan:
        if (name, reg, seed, it) in done:
            continue
        print(f"--> {name} {reg} seed {seed} {it} x {ch}", flush=True)
        rows.append({"set": name, **finder(data, model, reg, imgsz, batch, seed, it, ch)})
        OUT.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rows, indent=1))
    lines = ["| set | box loss | seed | iterations x chunks | box | cls | dfl | spread (box / cls / dfl) | seconds |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for r in sorted(rows, key=lambda r: (r["set"], r["reg_loss"], r["iterations"], r["seed"])):
        g, s = r["gains"], r["spread"]
        lines.append(f"| {r['set']} | {r['reg_loss']} | {r['seed']} | {r['iterations']} x {r['chunks']} | "
                     f"{g['box']:.3g} | {g['cls']:.3g} | {g['dfl']:.3g} | {s['box']:.1%} / {s['cls']:.1%} / "
                     f"{s['dfl']:.1%} | {r['seconds']:.0f} |")  # fmt: skip
    cmd = "python benchmarks/gain_finder.py stability" + (f" --bccd {opt.bccd}" if opt.bccd else "")
    (OUT / "stability.md").write_text(f"Command: `{cmd}`\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))


def sweep(args: list[str], reg: str, weightings: list[str], seeds: list[int], out: Path, jobs: int, extra=()):
    """Train a grid with ``sweep.py`` (resumable) and return seed -> final mAP50-95 per weighting."""
    cmd = [sys.executable, str(HERE / "sweep.py"), *args, "--reg-losses", reg, "--weightings", *weightings,
           "--seeds", *map(str, seeds), "--jobs", str(jobs), "--out", str(out)]  # fmt: skip
    if extra:
        if "--extra" in cmd:
            cmd[cmd.index("--extra") + 1 : cmd.index("--extra") + 1] = list(extra)
        else:
            cmd += ["--extra", *extra]
    subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, "YOLO_OFFLINE": "1"})
    rows = json.loads((out / "results.json").read_text())
    return {w: {r["config"]["seed"]: r["mAP50-95"] for r in rows if r["config"]["weighting"] == w} for w in weightings}


def value(opt: argparse.Namespace) -> None:
    """``fixed`` from the found gains, paired per seed with ``fixed`` (Ultralytics' gains) and ``alwa-cal`` trained
    here too: runs are deterministic per seed on one machine only (results/reproduce-0.2), so the reference rows
    are re-run beside the found-gain ones instead of taken from another machine's tables."""
    lines = ["| configuration | found gains | fixed, Ultralytics' gains | fixed, found gains | "
             "found - Ultralytics' (per seed) | verdict | alwa-cal | found - alwa-cal (per seed) | verdict |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for name, _, args, regs, seeds in VALUE:
        if opt.configs and name not in opt.configs:
            continue
        model = args[args.index("--model") + 1] if "--model" in args else "yolov8n.yaml"
        data = args[args.index("--data") + 1]
        for reg in regs:
            out = OUT / "value" / f"{name}-{reg}"
            gains_file = out / "gains.json"
            if not gains_file.exists():
                out.mkdir(parents=True, exist_ok=True)
                gains_file.write_text(json.dumps(finder(data, model, reg, 128, 16, 0, 16, 5)))
            gains = json.loads(gains_file.read_text())["gains"]
            found = sweep(args, reg, ["fixed"], seeds, out, opt.jobs, [f"{k}={v:.3g}" for k, v in gains.items()])
            ref = sweep(args, reg, ["fixed", "alwa-cal"], seeds, out / "reference", opt.jobs)
            f, b, c = (np.array([d[s] for s in seeds]) for d in (found["fixed"], ref["fixed"], ref["alwa-cal"]))
            d1, d2 = f - b, f - c
            lines.append(
                f"| {name} {reg} | {', '.join(f'{k} {v:.3g}' for k, v in gains.items())} | {b.mean():.3f} ± "
                f"{b.std(ddof=1):.3f} | {f.mean():.3f} ± {f.std(ddof=1):.3f} | {d1.mean():+.3f} ("
                + " ".join(f"{x:+.3f}" for x in d1)
                + f") | {verdict(d1, b.std(ddof=1))} | {c.mean():.3f} ± "
                f"{c.std(ddof=1):.3f} | {d2.mean():+.3f} ("
                + " ".join(f"{x:+.3f}" for x in d2)
                + f") | {verdict(d2, c.std(ddof=1))} |"
            )
    cmd = "python benchmarks/gain_finder.py value" + (f" --configs {' '.join(opt.configs)}" if opt.configs else "")
    (OUT / "value.md").write_text(f"Command: `{cmd}`\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=("stability", "value"))
    parser.add_argument("--bccd", default="", help="BCCD's converted yaml (benchmarks/bccd_prepare.py), optional")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--configs", nargs="*", default=[], help="value: only these (shapes, hard, yolo26n)")
    opt = parser.parse_args(argv)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    stability(opt) if opt.stage == "stability" else value(opt)


if __name__ == "__main__":
    main()
