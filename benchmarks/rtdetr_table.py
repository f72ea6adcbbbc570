"""benchmarks/README.md's "RT-DETR" tables, from the finished runs of run_suite's ``rtdetr`` stage (a row or strategy
not run yet is left out).

- strategies: each strategy against ``fixed`` (RT-DETR's hard-coded gains), paired per seed;
- gain curve: ``fixed`` with one of RT-DETR's gains x1/4 or x4 against ``fixed`` at x1, and the default at x1 against
  each (its result does not depend on the gains it is given, tested: its x1 run is its run at every multiplier);
- the gain finder's gains trained with ``fixed`` against the hard-coded ones;
- per-class AP50-95 of ``fixed`` and the default (mean over seeds);
- whether the default's own seed-0 runs are ``loss-ratio``'s (``rtdetr-default``);
- BCCD (``rtdetr-bccd``): each strategy against ``fixed``, the class gain x4 with ``fixed``, and per-class AP50-95
  of every strategy.

Verdicts are :func:`sweep.verdict`'s: ``better`` / ``worse`` only when every seed moves the same way by more than the
seed spread of the reference. Writes ``results/rtdetr-summary.md`` and the part of benchmarks/README.md between the
markers below.

Usage: python benchmarks/rtdetr_table.py   (after ``bash benchmarks/run_suite.sh rtdetr``)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from sweep import verdict  # noqa: E402

from alwa_yolo.losses.rtdetr import RTDETR_GAINS  # noqa: E402

R = HERE / "results"
METRIC = "mAP50-95"
STRATEGIES = ("alwa-ref", "alwa2", "loss-ratio", "uw-so", "uw", "dwa")
LABELS = {
    "alwa-ref": "`alwa-ref` 0.4 (RT-DETR's gains kept)",
    "loss-ratio": "`loss-ratio` = `ref-ratio` = **the default since 0.5**",
}
"""How the tables name the runs: the ``alwa-ref`` runs were made before the default changed on RT-DETR; the default
since is ``ref-ratio``'s run, which at RT-DETR's gains is ``loss-ratio``'s (tested, and checked below)."""
DEFAULT = "loss-ratio"
"""The runs that are the default's since 0.5 (its result does not depend on the gains it is given, tested)."""
TERM = {"cls": "class", "box": "GIoU", "dfl": "L1"}
"""What each gain hyperparameter multiplies in RT-DETR's loss."""
MARKERS = ("<!-- rtdetr tables: begin (python benchmarks/rtdetr_table.py) -->", "<!-- rtdetr tables: end -->")


def runs(folder: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((R / folder / "runs").glob("*/summary.json"))]


def by_seed(rows: list[dict], weighting: str, gains: dict[str, float] | None = None) -> dict[int, dict]:
    """seed -> summary of ``weighting``'s runs whose gains are ``gains`` (None: RT-DETR's own)."""
    want = {**RTDETR_GAINS, **(gains or {})}
    return {
        s["config"]["seed"]: s
        for s in rows
        if s["config"]["weighting"] == weighting
        and all(float(s["config"].get(k, RTDETR_GAINS[k])) == v for k, v in want.items())
    }


def compare(runs_: dict[int, dict], base: dict[int, dict]) -> tuple[str, str]:
    """(``mean ± sd``, ``diff verdict``) of ``runs_`` against ``base`` on their common seeds."""
    seeds = sorted(set(runs_) & set(base))
    if not seeds:
        return "", ""
    v = np.array([runs_[k][METRIC] for k in seeds])
    d = v - np.array([base[k][METRIC] for k in seeds])
    b = np.array([base[k][METRIC] for k in seeds])
    call = verdict(d, b.std(ddof=1) if len(b) > 1 else 0.0)
    call = f"**{call}**" if call != "level" else call
    n = f" ({len(seeds)} seed{'s' if len(seeds) > 1 else ''})" if len(seeds) < 3 else ""
    sd = v.std(ddof=1) if len(v) > 1 else 0.0
    per = " ".join(f"{x:+.3f}" for x in d)
    return f"{v.mean():.3f} ± {sd:.3f}", f"{d.mean():+.3f} {call}{n} ({per})"


def tables() -> list[str]:
    core = runs("rtdetr-shapes")
    fixed = by_seed(core, "fixed")
    if not fixed:
        return ["(no finished run yet)"]
    v = np.array([fixed[k][METRIC] for k in sorted(fixed)])
    head = f"`fixed` (RT-DETR's gains: GIoU 2, class 1, L1 5): {METRIC} {v.mean():.3f} ± {v.std(ddof=1):.3f}"
    out = [f"{head} over {len(v)} seeds.", "", "| strategy | mAP50-95 | paired diff vs `fixed` (per seed) |"]
    out.append("| --- | --- | --- |")
    for s in STRATEGIES:
        value, diff = compare(by_seed(core, s), fixed)
        if value:
            out.append(f"| {LABELS.get(s, f'`{s}`')} | {value} | {diff} |")
    out += ["", "| `fixed` with | mAP50-95 | vs `fixed` at RT-DETR's gains | the default (x1 run) vs it |",
            "| --- | --- | --- | --- |"]  # fmt: skip
    default = by_seed(core, DEFAULT)
    for key in ("cls", "box", "dfl"):
        rows = runs(f"rtdetr-gains-{key}")
        for m in (0.25, 4.0):
            scaled = by_seed(rows, "fixed", {key: RTDETR_GAINS[key] * m})
            value, diff = compare(scaled, fixed)
            if value:
                _, recovered = compare(default, scaled)
                out.append(
                    f"| {TERM[key]} gain x{m:g} ({key}={RTDETR_GAINS[key] * m:g}) | {value} | {diff} | {recovered} |"
                )
    finder = runs("rtdetr-finder")
    found = next(iter(finder), None)
    if found:
        gains = {k: float(found["config"][k]) for k in RTDETR_GAINS if k in found["config"]}
        value, diff = compare(by_seed(finder, "fixed", gains), fixed)
        text = ", ".join(f"{TERM[k]} {v:g}" for k, v in gains.items())
        out += ["", f"The gain finder's gains ({text}) with `fixed`: {value}, {diff} against RT-DETR's gains."]
    names = list(next(iter(fixed.values()))["per_class"])
    out += ["", "| class | `fixed` AP50-95 | the default AP50-95 |", "| --- | --- | --- |"]
    for n in names:
        a = np.mean([r["per_class"][n]["AP50-95"] for r in fixed.values()])
        b = np.mean([r["per_class"][n]["AP50-95"] for r in default.values()]) if default else float("nan")
        out.append(f"| {n} | {a:.3f} | {b:.3f} |")
    return out + bccd() + check()


def check() -> list[str]:
    """Whether the default's own seed-0 runs (``run_suite.sh rtdetr-default``) are ``loss-ratio``'s: the same
    mAP50-95 and every iteration's loss items."""
    out = []
    for folder, name in (("rtdetr-shapes", "demo set"), ("rtdetr-bccd", "BCCD")):
        sub = "shapes" if folder == "rtdetr-shapes" else "bccd"
        mine = by_seed(runs(f"rtdetr-default-0.5/{sub}"), "alwa-ref").get(0)
        theirs = by_seed(runs(folder), DEFAULT).get(0)
        if mine and theirs:
            same = mine[METRIC] == theirs[METRIC] and mine["item_trace"] == theirs["item_trace"]
            out.append(f"{name}, seed 0: the default's run {'is' if same else 'is NOT'} `loss-ratio`'s "
                       f"({METRIC} {mine[METRIC]:.4f} / {theirs[METRIC]:.4f}, every iteration's loss items "
                       f"{'equal' if mine['item_trace'] == theirs['item_trace'] else 'different'}).")  # fmt: skip
    return ["", *out] if out else []


BCCD_STRATEGIES = ("fixed", "alwa-ref", "alwa2", "loss-ratio")


def bccd() -> list[str]:
    """The BCCD rows: strategies against ``fixed``, and per-class AP50-95 (mean over seeds) of each."""
    rows = runs("rtdetr-bccd")
    fixed = by_seed(rows, "fixed")
    if not fixed:
        return []
    out = ["", "BCCD (real images, 320 px, 15 epochs, backbone and neck from the COCO-derived YOLOv8n):", "",
           "| strategy | mAP50-95 | paired diff vs `fixed` (per seed) |", "| --- | --- | --- |"]  # fmt: skip
    v = np.array([fixed[k][METRIC] for k in sorted(fixed)])
    out.append(f"| `fixed` | {v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.3f} | |")
    for s in BCCD_STRATEGIES[1:]:
        value, diff = compare(by_seed(rows, s), fixed)
        if value:
            out.append(f"| {LABELS.get(s, f'`{s}`')} | {value} | {diff} |")
    scaled = by_seed(runs("rtdetr-bccd-gains-cls"), "fixed", {"cls": RTDETR_GAINS["cls"] * 4})
    value, diff = compare(scaled, fixed)
    if value:
        _, recovered = compare(by_seed(rows, DEFAULT), scaled)
        out += ["", f"`fixed` with the class gain x4 (cls=4) on BCCD: {value}, {diff} against RT-DETR's gains; the "
                f"default against it: {recovered}."]  # fmt: skip
    ran = [s for s in BCCD_STRATEGIES if by_seed(rows, s)]
    names = list(next(iter(fixed.values()))["per_class"])
    short = {"alwa-ref": "`alwa-ref` 0.4", DEFAULT: f"the default (`{DEFAULT}`)"}
    out += ["", "| class | " + " | ".join(short.get(s, f"`{s}`") for s in ran) + " |", "| --- |" + " --- |" * len(ran)]
    for n in names:
        cells = [np.mean([r["per_class"][n]["AP50-95"] for r in by_seed(rows, s).values()]) for s in ran]
        out.append(f"| {n} (AP50-95) | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    return out


def main() -> None:
    lines = tables()
    text = [
        "Command: `python benchmarks/rtdetr_table.py` (after `bash benchmarks/run_suite.sh rtdetr`)",
        "",
        *lines,
        "",
    ]
    (R / "rtdetr-summary.md").write_text("\n".join(text))
    readme = HERE / "README.md"
    body, (begin, end) = readme.read_text(), MARKERS
    if begin in body and end in body:
        body = body[: body.index(begin) + len(begin)] + "\n" + "\n".join(lines) + "\n" + body[body.index(end) :]
        readme.write_text(body)
    print("\n".join(text))


if __name__ == "__main__":
    main()
