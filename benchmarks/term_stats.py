"""Which group a loss term belongs with, from the loss statistics: how each term decays and what it moves with.

Reads the per-iteration loss items (``item_trace``) that ``run_one.py`` stores in each run's ``summary.json`` and, per
term, reports the ratio of its last-epoch to its first-epoch mean (how fast it decays: the paper's first finding is
that classification decays faster than regression) and the correlation of its iteration-to-iteration changes with
each other term's (which terms fluctuate together, i.e. are driven by the same predictions). Used to decide the ALWA
group of the segmentation mask term (``alwa_yolo/losses/weighted.py``).

Usage:
    python benchmarks/term_stats.py benchmarks/results/seg-shapes/runs/fixed-auto-ciou-s* \
        --out benchmarks/results/seg-terms
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="run folders with a summary.json holding item_trace")
    parser.add_argument("--out", default="benchmarks/results/seg-terms")
    opt = parser.parse_args(argv)
    decays, corrs, names = [], [], None
    for run in opt.runs:
        s = json.loads((Path(run) / "summary.json").read_text())
        names = [n for n in s["loss_names"]]
        trace = np.asarray(s["item_trace"])
        keep = trace.std(0) > 0  # drop terms that are constant (e.g. a semantic term a head does not have)
        trace, names = trace[:, keep], [n for n, k in zip(names, keep) if k]
        per_epoch = len(trace) // s["epochs"]
        decays.append(trace[-per_epoch:].mean(0) / trace[:per_epoch].mean(0))
        corrs.append(np.corrcoef(np.diff(trace, axis=0).T))
    decay, corr = np.mean(decays, 0), np.mean(corrs, 0)
    lines = [f"Command: `python benchmarks/term_stats.py {' '.join(sys.argv[1:] if argv is None else argv)}`", "",
             f"{len(opt.runs)} run(s). Last-epoch mean / first-epoch mean of each term (lower: decays faster), and the",
             "correlation of iteration-to-iteration changes between terms (mean over runs):", "",
             "| term | last / first epoch | " + " | ".join(f"corr. with {n}" for n in names) + " |",
             "| --- | --- | " + " | ".join("---" for _ in names) + " |"]  # fmt: skip
    for i, n in enumerate(names):
        lines.append(f"| {n} | {decay[i]:.3f} | " + " | ".join(f"{corr[i, j]:+.2f}" for j in range(len(names))) + " |")
    out = Path(opt.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "terms.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
