"""The gain finder (``python -m alwa_yolo.gains``): how stable its gains are, what they are worth, what they cost.

Stages (each resumable: a finished part's result file is reused):

- ``stability``: the gains found on the demo set, the hard set and (with ``--bccd``) BCCD from the COCO-derived
  checkpoint, for seeds 0, 1, 2 at 16 iterations (5 chunks each), and at 50 and 200 iterations (seed 0), CIoU and L1.
  Writes ``stability.md`` / ``stability.json``, with the seconds each took.
- ``value``: ``fixed`` trained from the found gains (seed 0, 16 iterations), and beside it, on the same machine,
  ``fixed`` from Ultralytics' gains and the in-run calibration the finder repeats (``alwa-cal``; ``alwa-cal-aux``
  for ``--auxiliary ratio``), with the settings of the sweeps they repeat (``scratch-shapes`` / ``scratch-hard``:
  20 epochs from scratch, CIoU / L1 / SmoothL1; ``yolo26n-shapes-aux``; the anchor head, whose gains are YOLOv5's
  box / obj / cls; the pose-obb stage's YOLO11n-pose / -obb; ``bccd-finetune``, CIoU and L1), 3 seeds. Writes
  ``value.md``: per configuration the found gains and the three rows' mAP50-95 (pose: box and keypoints), paired
  per seed. (Gains mis-set by the user need no row of their own: the finder divides the gains out, so its yaml is
  the same from any gains; ``tests/test_gains.py::test_mis_set_gains_give_the_same_yaml``.)

Usage:
    python benchmarks/gain_finder.py stability --bccd benchmarks/datasets/BCCD/BCCD.yaml
    python benchmarks/gain_finder.py value --jobs 2 [--configs shapes hard yolo26n anchor bccd ...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from sweep import run_name, verdict  # noqa: E402

R = HERE / "results"
OUT = R / "gain-finder"
PRETRAINED = HERE / "weights" / "yolov8n-coco-smartrail.pt"
BCCD = HERE / "datasets" / "BCCD" / "BCCD.yaml"  # benchmarks/bccd_prepare.py's output

REGS = ["ciou", "l1", "smoothl1"]
BOX = ("mAP50-95", "box")
POSE = ("pose_mAP50-95", "keypoints")


class Value(NamedTuple):
    """One configuration of the value table: the sweep whose settings it repeats and what it is compared with."""

    name: str
    args: list[str]  # sweep.py arguments
    regs: list[str]
    auxiliary: str = "calibrate"  # the finder's --auxiliary; the in-run strategy compared with follows from it
    metrics: tuple = (BOX,)
    seeds: tuple = (0, 1, 2)
    imgsz: int = 128  # the finder's, the sweep's own --img / --batch
    batch: int = 16
    reuse: str = ""  # a run_suite.sh sweep of the same settings whose reference runs are copied, not re-run


SHAPES20 = ["--data", "data/shapes.yaml", "--epochs", "20"]
VALUE = [
    Value("shapes", SHAPES20, REGS),  # scratch-shapes
    Value("hard", ["--data", "data/shapes-hard.yaml", "--epochs", "20"], REGS),  # scratch-hard
    Value("yolo26n", [*SHAPES20, "--model", "yolo26n.yaml", "--extra", "val=False"], ["ciou"],
          reuse="yolo26n-shapes-aux"),
    Value("yolo26n-ratio", [*SHAPES20, "--model", "yolo26n.yaml", "--extra", "val=False"], ["ciou"], "ratio",
          reuse="yolo26n-shapes-aux"),
    Value("anchor", [*SHAPES20, "--model", "cfg/models/yolov8n-anchor.yaml", "--extra", "val=False"], ["ciou"]),
    Value("pose", ["--data", "data/shapes-pose.yaml", "--model", "yolo11n-pose.yaml", "--epochs", "20", "--extra",
                   "val=False"], ["ciou"], "ratio", (BOX, POSE), reuse="pose-yolo11n-pose"),
    Value("obb", ["--data", "data/shapes-obb.yaml", "--model", "yolo11n-obb.yaml", "--epochs", "20", "--extra",
                  "val=False"], ["ciou"], "ratio", reuse="obb-yolo11n-obb"),
    Value("bccd", ["--data", str(BCCD), "--img", "320", "--batch", "8", "--model", str(PRETRAINED), "--epochs", "15",
                   "--extra", "val=False"], ["ciou", "l1"], imgsz=320, batch=8, reuse="bccd-finetune"),
]  # fmt: skip
"""The value table's configurations (``--configs`` picks by name). ``shapes`` / ``hard`` repeat ``scratch-shapes`` /
``scratch-hard``; a configuration with ``reuse`` copies that sweep's runs as its reference rows when they exist
(the same settings on the same machine train the same bits: ``results/gain-finder/bccd-reproduce`` re-ran one)."""
IN_RUN = {"calibrate": "alwa-cal", "ratio": "alwa-cal-aux"}
"""The finder's ``--auxiliary`` -> the strategy whose in-run calibration it is (the comparison's third row)."""


def finder(data: str, model: str, reg: str, imgsz: int, batch: int, seed: int, iterations: int, chunks: int,
           auxiliary: str = "calibrate") -> dict:  # fmt: skip
    """One finder run in-process (the same function the command calls), as a JSON-able dict."""
    from alwa_yolo.data.resolve import resolve_data
    from alwa_yolo.gain_finder import find_gains

    overrides = {"model": model, "data": str(resolve_data(data)), "reg_loss": reg, "imgsz": imgsz, "batch": batch,
                 "device": "cpu", "workers": 0, "seed": seed}  # fmt: skip
    e = find_gains(overrides, iterations=iterations, chunks=chunks, auxiliary=auxiliary, progress=False)
    return {"gains": e.gains, "spread": e.spread, "seconds": e.seconds, "iterations": iterations, "chunks": e.chunks,
            "seed": seed, "reg_loss": reg, "data": data, "model": model, "auxiliary": auxiliary}  # fmt: skip


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
    """Train a grid with ``sweep.py`` (resumable) and return weighting -> seed -> the run's summary."""
    cmd = [sys.executable, str(HERE / "sweep.py"), *args, "--reg-losses", reg, "--weightings", *weightings,
           "--seeds", *map(str, seeds), "--jobs", str(jobs), "--out", str(out.relative_to(ROOT))]  # fmt: skip
    if extra:
        if "--extra" in cmd:
            cmd[cmd.index("--extra") + 1 : cmd.index("--extra") + 1] = list(extra)
        else:
            cmd += ["--extra", *extra]
    subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, "YOLO_OFFLINE": "1"})
    rows = json.loads((out / "results.json").read_text())
    return {w: {r["config"]["seed"]: r for r in rows if r["config"]["weighting"] == w} for w in weightings}


def reuse(src: Path, dst: Path, weightings: list[str], reg: str, seeds: list[int]) -> None:
    """Copy the finished runs of another sweep with the same settings (``sweep.py`` then skips them)."""
    for w in weightings:
        for seed in seeds:
            name = run_name({"weighting": w, "gains": "auto", "reg_loss": reg, "seed": seed})
            if (src / name / "summary.json").exists() and not (dst / name / "summary.json").exists():
                shutil.copytree(src / name, dst / name, dirs_exist_ok=True)


def value(opt: argparse.Namespace) -> None:
    """``fixed`` from the found gains, paired per seed with ``fixed`` (Ultralytics' gains) and the in-run strategy
    (``alwa-cal``, or ``alwa-cal-aux`` for ``--auxiliary ratio``) trained here too: runs are deterministic per seed
    on one machine only (results/reproduce-0.2), so the reference rows are re-run beside the found-gain ones (or
    copied from a sweep of the same settings on this machine) instead of taken from another machine's tables."""
    lines = ["| configuration | found gains | fixed, Ultralytics' gains | fixed, found gains | "
             "found - Ultralytics' (per seed) | verdict | in-run calibration | found - in-run (per seed) | verdict |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for v in VALUE:
        if opt.configs and v.name not in opt.configs:
            continue
        model = v.args[v.args.index("--model") + 1] if "--model" in v.args else "yolov8n.yaml"
        data = v.args[v.args.index("--data") + 1]
        seeds = list(v.seeds)
        for reg in v.regs:
            out = OUT / "value" / f"{v.name}-{reg}"
            gains_file = out / "gains.json"
            if not gains_file.exists():
                out.mkdir(parents=True, exist_ok=True)
                gains_file.write_text(json.dumps(finder(data, model, reg, v.imgsz, v.batch, 0, 16, 5, v.auxiliary)))
            gains = json.loads(gains_file.read_text())["gains"]
            in_run = IN_RUN[v.auxiliary]
            found = sweep(v.args, reg, ["fixed"], seeds, out, opt.jobs, [f"{k}={g:.3g}" for k, g in gains.items()])
            if v.reuse:
                reuse(R / v.reuse / "runs", out / "reference" / "runs", ["fixed", in_run], reg, seeds)
            ref = sweep(v.args, reg, ["fixed", in_run], seeds, out / "reference", opt.jobs)
            for metric, label in v.metrics:
                f, b, c = (np.array([d[s][metric] for s in seeds]) for d in (found["fixed"], ref["fixed"], ref[in_run]))
                d1, d2 = f - b, f - c
                name = f"{v.name} {reg}" + (f" ({label})" if len(v.metrics) > 1 else "")
                lines.append(
                    f"| {name} | {', '.join(f'{k} {g:.3g}' for k, g in gains.items())} | {b.mean():.3f} ± "
                    f"{b.std(ddof=1):.3f} | {f.mean():.3f} ± {f.std(ddof=1):.3f} | {d1.mean():+.3f} ("
                    + " ".join(f"{x:+.3f}" for x in d1)
                    + f") | {verdict(d1, b.std(ddof=1))} | {in_run} {c.mean():.3f} ± "
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
    names = ", ".join(v.name for v in VALUE)
    parser.add_argument("--configs", nargs="*", default=[], help=f"value: only these ({names})")
    opt = parser.parse_args(argv)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    stability(opt) if opt.stage == "stability" else value(opt)


if __name__ == "__main__":
    main()
