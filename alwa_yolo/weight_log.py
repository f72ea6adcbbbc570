"""What a run writes about its loss weights: ``alwa.csv`` (one row per update) and ``alwa.png``.

Driven by the trainer's callbacks (:mod:`alwa_yolo.callbacks`). Per iteration it only appends a device tensor to a
list (no host sync); the list is copied to the host once per epoch, and the picture is drawn once, at the end.
Both files describe the whole run, also after ``--resume``: ``alwa.csv`` is rewritten from the checkpoint's update
history when a run resumes (so rows an interrupted run wrote after its last checkpoint disappear), and ``alwa.png``
draws the weights from that history and the group losses from the per-epoch means the checkpoint keeps.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from .weighting import LossWeighting, WeightUpdate
from .weighting.base import csv_columns

COLOURS = {"cls": "tab:orange", "reg": "tab:blue"}
"""The two groups' colours; a strategy logged per term takes the next colours of matplotlib's cycle."""


def colour(unit: str, index: int) -> str:
    """A unit's line colour: orange / blue for the groups, else matplotlib's default cycle, skipping those two."""
    others = ["tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray", "tab:olive", "tab:cyan"]
    return COLOURS.get(unit) or others[index % len(others)]


class WeightLog:
    """Collects the weight and group-loss trajectories of one run and writes them into its folder.

    Args:
        save_dir: the run folder (``alwa.csv`` and ``alwa.png`` go there).
    """

    def __init__(self, save_dir: Path):
        self.csv_path = Path(save_dir) / "alwa.csv"
        self.png_path = Path(save_dir) / "alwa.png"
        self._pending: list[torch.Tensor] = []  # per-iteration (units,) losses, still on the device
        self.iterations: list[int] = []
        self.unit_losses: list[np.ndarray] = []  # host copies, one (units,) row per iteration
        self.weights: list[tuple[float, ...]] = []  # the weights each iteration's loss was computed with, per unit
        self._in_effect: tuple[float, ...] = ()
        self.updates_written = 0

    def start(self, weighting: LossWeighting, resumed: bool) -> None:
        """Begin a run: write ``alwa.csv`` afresh with the updates the strategy already holds (none, or on resume
        the checkpoint's whole history). The columns come from the strategy's units (groups or term names)."""
        self._in_effect = tuple(weighting.unit_weights().values())
        with open(self.csv_path, "w", newline="") as f:
            csv.writer(f).writerow(csv_columns(weighting.units))
        self.updates_written = 0
        self.write_new_updates(weighting)

    def batch_end(self, weighting: LossWeighting) -> None:
        """Record one training iteration and write any update it triggered (host-side bookkeeping only)."""
        if weighting.last_unit_losses is None:
            return
        self._pending.append(weighting.last_unit_losses.detach().float())
        self.iterations.append(weighting.iteration)
        self.weights.append(self._in_effect)  # an update at this iteration applies from the next one
        self._in_effect = tuple(weighting.unit_weights().values())
        self.write_new_updates(weighting)

    def write_new_updates(self, weighting: LossWeighting) -> None:
        """Append the updates made since the last call to ``alwa.csv``."""
        new = weighting.history[self.updates_written :]
        if new:
            with open(self.csv_path, "a", newline="") as f:
                w = csv.writer(f)
                for u in new:
                    row = u.row()
                    stats = (f"{row[c]:.6g}" for c in csv_columns(weighting.units)[2:-1])
                    w.writerow([u.iteration, u.epoch, *stats, int(u.skipped)])
            self.updates_written = len(weighting.history)

    def epoch_end(self, weighting: LossWeighting | None = None) -> None:
        """Write updates made at the epoch's end (DWA's) and copy the epoch's group losses to the host at once."""
        if weighting is not None:
            self.write_new_updates(weighting)
            self._in_effect = tuple(weighting.unit_weights().values())
        if self._pending:
            self.unit_losses.extend(torch.stack(self._pending).cpu().numpy())
            self._pending.clear()

    def plot(self, weighting: LossWeighting, title: str = "", gains: str = "") -> Path | None:
        """Draw ``alwa.png``: the weights (top, with the calibrated ``gains`` if any) and the losses of the same units
        (bottom: the two groups, or each term) against training iterations."""
        self.epoch_end()
        if not self.iterations and not weighting.history and not weighting.epoch_losses:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (ax_w, ax_l) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True, tight_layout=True)
        self._plot_weights(ax_w, weighting.history, weighting.units)
        if gains:
            ax_w.text(0.99, 0.04, f"calibrated gains: {gains}", transform=ax_w.transAxes, ha="right", fontsize=8,
                      bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "0.8"})  # fmt: skip
        ax_w.set_title(title or "loss weights and group losses")
        self._plot_losses(ax_l, weighting.epoch_losses, weighting.units, weighting.log_by)
        ax_l.set_xlabel("iteration")
        fig.savefig(self.png_path, dpi=120)
        plt.close(fig)
        return self.png_path

    def _plot_weights(self, ax, history: list[WeightUpdate], units: tuple[str, ...]) -> None:
        """Weights as steps: before this process started, from the update history; then as recorded here."""
        first = self.iterations[0] if self.iterations else None
        top = 1.05
        for j, g in enumerate(units):
            xs, ys = [], []
            for u in history:
                if first is None or u.iteration < first:
                    xs.append(u.iteration)
                    ys.append(u.weights[g])
            if self.iterations:
                xs += self.iterations
                ys += [w[j] for w in self.weights]
            if xs:
                ax.step(xs, ys, where="post", color=colour(g, j), lw=2, label=f"w_{g}")
                top = max(top, max(ys) * 1.05)
        skipped = [u.iteration for u in history if u.skipped]
        if skipped:
            ax.plot(skipped, [0.02 * top] * len(skipped), "x", color="tab:red", label="window skipped")
        ax.set_ylabel("weight")
        ax.set_ylim(0, top)
        ax.legend(loc="lower left", fontsize=8)
        ax.grid(alpha=0.3)

    def _plot_losses(self, ax, epoch_losses: list[list[float]], units: tuple[str, ...], log_by: str) -> None:
        """Per-iteration unit losses (light) with a moving average, and the whole run's epoch means (dots)."""
        kind = "group" if log_by == "group" else "term"
        if self.unit_losses:
            losses = np.asarray(self.unit_losses)
            it = np.asarray(self.iterations[-len(losses) :])
            k = max(1, len(losses) // 50)
            for j, g in enumerate(units):
                ax.plot(it, losses[:, j], color=colour(g, j), alpha=0.2, lw=1)
                smooth = np.convolve(losses[:, j], np.ones(k) / k, mode="valid")
                ax.plot(it[k - 1 :], smooth, color=colour(g, j), lw=2, label=f"{g} {kind} (gain-scaled)")
        if epoch_losses and len(epoch_losses[0]) > len(units):
            rows = np.asarray(epoch_losses)
            for j, g in enumerate(units):
                ax.plot(rows[:, -1], rows[:, j], "o", ms=3, color=colour(g, j), label=f"{g} epoch mean")
        ax.set_yscale("log")
        ax.set_ylabel("loss")
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(alpha=0.3, which="both")


def calibrated_gains(weighting: LossWeighting) -> str:
    """``box 4.97, cls 0.47, dfl 1.48``: the per-term gains a calibrating strategy found (its ``calibration()``), in
    the units of Ultralytics' hand-set gains, so a user can compare them with box 7.5 / cls 0.5 / dfl 1.5; '' for
    strategies without a calibration or before it finished."""
    return ", ".join(f"{name.removesuffix('_loss')} {g:.3g}" for name, g in weighting.calibration().items())
