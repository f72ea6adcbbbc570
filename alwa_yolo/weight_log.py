"""What a run writes about its loss weights: ``alwa.csv`` (one row per update) and ``alwa.png``.

Attached to the trainer as Ultralytics callbacks. Per iteration it only appends device tensors to a list (no host
sync); they are copied to the host once per epoch, and the picture is drawn once, at the end of training.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from .weighting import GROUPS, LossWeighting, WeightUpdate

CSV_COLUMNS = ("iteration", "epoch", "stat_cls", "stat_reg", "w_cls", "w_reg", "mean_cls", "mean_reg")
"""``alwa.csv`` columns: the statistic each group's rule compared, the weights after the update, window means."""


class WeightLog:
    """Collects the weight and group-loss trajectories of one run and writes them into its folder.

    Args:
        save_dir: the run folder (``alwa.csv`` and ``alwa.png`` go there).
    """

    def __init__(self, save_dir: Path):
        self.csv_path = Path(save_dir) / "alwa.csv"
        self.png_path = Path(save_dir) / "alwa.png"
        self._pending: list[torch.Tensor] = []  # per-iteration (2,) group losses, still on the device
        self.iterations: list[int] = []
        self.group_losses: list[np.ndarray] = []  # host copies, one (2,) row per iteration
        self.weights: list[tuple[float, float]] = []  # the weights each iteration's loss was computed with
        self._in_effect = (1.0, 1.0)
        self.updates_written = 0

    def start(self, weighting: LossWeighting, resumed: bool) -> None:
        """Begin a run: a fresh ``alwa.csv`` header, or (on resume) continue after the updates already written."""
        self.updates_written = len(weighting.history)
        self._in_effect = (weighting.w["cls"], weighting.w["reg"])
        if not resumed or not self.csv_path.exists():
            with open(self.csv_path, "w", newline="") as f:
                csv.writer(f).writerow(CSV_COLUMNS)
            self.append_rows(weighting.history, epoch=0)

    def batch_end(self, weighting: LossWeighting, loss_items: dict, epoch: int) -> None:
        """Record one training iteration and write any update it triggered (host-side bookkeeping only)."""
        terms = torch.stack([v.detach() for v in loss_items.values()])
        self._pending.append(weighting.group_sums(terms.to(torch.float32)))
        self.iterations.append(weighting.iteration)
        self.weights.append(self._in_effect)  # an update at this iteration applies from the next one
        self._in_effect = (weighting.w["cls"], weighting.w["reg"])
        self.write_new_updates(weighting, epoch)

    def write_new_updates(self, weighting: LossWeighting, epoch: int) -> None:
        """Append the updates made since the last call to ``alwa.csv``."""
        if len(weighting.history) > self.updates_written:
            self.append_rows(weighting.history[self.updates_written :], epoch)
            self.updates_written = len(weighting.history)

    def epoch_end(self, weighting: LossWeighting | None = None, epoch: int = 0) -> None:
        """Write updates made at the epoch's end (DWA's) and copy the epoch's group losses to the host at once."""
        if weighting is not None:
            self.write_new_updates(weighting, epoch)
            self._in_effect = (weighting.w["cls"], weighting.w["reg"])
        if self._pending:
            self.group_losses.extend(torch.stack(self._pending).cpu().numpy())
            self._pending.clear()

    def append_rows(self, updates: list[WeightUpdate], epoch: int) -> None:
        """Append updates to ``alwa.csv``; ``epoch`` is 1-based like ``results.csv``."""
        if not updates:
            return
        with open(self.csv_path, "a", newline="") as f:
            w = csv.writer(f)
            for u in updates:
                w.writerow([u.iteration, epoch, *(f"{getattr(u, c):.6g}" for c in CSV_COLUMNS[2:])])

    def plot(self, title: str = "") -> Path | None:
        """Draw ``alwa.png``: the weights (top) and the two gain-scaled group losses (bottom) against iterations."""
        self.epoch_end()
        if not self.iterations:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        it = np.asarray(self.iterations[-len(self.group_losses) :]) if self.group_losses else np.asarray([])
        w = np.asarray(self.weights)
        fig, (ax_w, ax_l) = plt.subplots(2, 1, figsize=(8, 6), sharex=True, tight_layout=True)
        colours = {"cls": "tab:orange", "reg": "tab:blue"}
        for j, g in enumerate(GROUPS):
            ax_w.step(self.iterations, w[:, j], where="post", color=colours[g], lw=2, label=f"w_{g}")
        ax_w.set_ylabel("weight")
        ax_w.set_ylim(0, max(1.05, float(w.max()) * 1.05))
        ax_w.legend(loc="lower left")
        ax_w.grid(alpha=0.3)
        ax_w.set_title(title or "loss weights and group losses")
        if self.group_losses:
            losses = np.asarray(self.group_losses)
            k = max(1, len(losses) // 50)
            for j, g in enumerate(GROUPS):
                ax_l.plot(it, losses[:, j], color=colours[g], alpha=0.25, lw=1)
                smooth = np.convolve(losses[:, j], np.ones(k) / k, mode="valid")
                ax_l.plot(it[k - 1 :], smooth, color=colours[g], lw=2, label=f"{g} group (g_k-scaled)")
                weighted = losses[:, j] * w[-len(losses) :, j]
                if not np.allclose(weighted, losses[:, j]):
                    ws = np.convolve(weighted, np.ones(k) / k, mode="valid")
                    ax_l.plot(it[k - 1 :], ws, "--", color=colours[g], lw=1.5, label=f"w_{g} x {g} group")
            ax_l.set_yscale("log")
            ax_l.legend(loc="upper right", fontsize=8)
        ax_l.set_xlabel("iteration")
        ax_l.set_ylabel("loss")
        ax_l.grid(alpha=0.3, which="both")
        fig.savefig(self.png_path, dpi=120)
        plt.close(fig)
        return self.png_path
