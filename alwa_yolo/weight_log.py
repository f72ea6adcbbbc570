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
from .weighting.updates import csv_columns, unit_name

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
        self._pending_terms: list[torch.Tensor] = []  # per-iteration (2, names): terms and weighted terms, on device
        self.term_values: list[np.ndarray] = []  # host copies of those
        self.calibration_end: int | None = None  # the iteration calibration ended at, if this process saw it
        self._calibrating: bool | None = None

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
        if weighting.last_weighted is not None:
            pair = (weighting.last_terms, weighting.last_weighted)
            self._pending_terms.append(torch.stack([weighting.name_sums(t.float()) for t in pair]))
        calibrating = getattr(weighting, "calibrating", None)
        if self._calibrating and calibrating is False:
            self.calibration_end = weighting.iteration
        self._calibrating = calibrating
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
        if self._pending_terms:
            self.term_values.extend(torch.stack(self._pending_terms).cpu().numpy())
            self._pending_terms.clear()

    def plot(self, weighting: LossWeighting, title: str = "", gains: str = "") -> Path | None:
        """Draw ``alwa.png``, three panels against training iterations: each term's effective gain on its raw loss
        (base gain x what the strategy made of it: calibration and weight) with the base gain it replaced dashed,
        calibration's end and every rule update marked; each term's share of the loss the optimiser saw; and the
        losses of the logged units (the two groups, or each term). ``gains`` (the calibrated gains, as text) goes in
        the title. Readable from a handful of iterations to a long run: integer ticks, legends beside the axes."""
        self.epoch_end()
        if not self.iterations and not weighting.history and not weighting.epoch_losses:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator, ScalarFormatter

        fig, axes = plt.subplots(3, 1, figsize=(10, 9), sharex=True, layout="constrained")
        ax_g, ax_s, ax_l = axes
        # A learned strategy (uw) adds a term of its own, so weighted / raw is no gain: its weights are drawn as they
        # are; so is a resumed run's, whose earlier iterations only its update history holds.
        resumed = bool(self.iterations) and self.iterations[0] > 1
        per_iteration = bool(self.term_values) and not weighting.learnable
        if per_iteration and not resumed:
            self._plot_gains(ax_g, weighting)
        else:
            self._plot_weights(ax_g, weighting.history, weighting.units)
        if per_iteration:
            self._plot_shares(ax_s, weighting)
        else:
            ax_s.set_axis_off()
        ax_g.set_title((title or "loss weighting") + (f"\ncalibrated gains: {gains}" if gains else ""), fontsize=10)
        self._plot_losses(ax_l, weighting.epoch_losses, weighting.units, weighting.log_by)
        ax_l.set_xlabel("iteration")
        for ax in axes:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
            for axis in (ax.yaxis,):
                formatter = ScalarFormatter()
                formatter.set_scientific(False)
                axis.set_major_formatter(formatter)
                axis.set_minor_formatter(plt.NullFormatter())
            if ax.get_legend_handles_labels()[0]:
                ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)
        fig.savefig(self.png_path, dpi=120)
        plt.close(fig)
        return self.png_path

    def _term_arrays(self, weighting: LossWeighting) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(iterations, terms, weighted terms) per name, for the iterations this process recorded."""
        values = np.asarray(self.term_values)  # (n, 2, names)
        it = np.asarray(self.iterations[-len(values) :])
        return it, values[:, 0, :], values[:, 1, :]

    def _plot_gains(self, ax, weighting: LossWeighting) -> None:
        """Each term's effective gain per iteration (solid) against its base gain (dashed); markers for the end of
        calibration and for every rule update (a cross where the window was skipped)."""
        it, terms, weighted = self._term_arrays(weighting)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(terms != 0, weighted / terms, np.nan)
        top, bottom = 0.0, np.inf
        for j, name in enumerate(weighting.term_names):
            base = weighting.base_gains.get(name, 1.0)
            effective = base * factor[:, j]
            c = colour(unit_name(name), j + 2)
            marker = "o" if len(it) < 30 else None  # a short run's few iterations stay visible
            ax.step(it, effective, where="post", color=c, lw=2, marker=marker, ms=4, label=f"{unit_name(name)}")
            ax.axhline(base, color=c, lw=1, ls="--", alpha=0.7)
            finite = effective[np.isfinite(effective) & (effective > 0)]
            if finite.size:
                top, bottom = max(top, finite.max(), base), min(bottom, finite.min(), base)
        ax.plot([], [], color="0.4", ls="--", lw=1, label="base gain (replaced)")
        if self.calibration_end is not None:
            ax.axvline(self.calibration_end, color="0.3", ls=":", lw=1.5, label="calibrated")
        updates = [u for u in weighting.history if it[0] <= u.iteration <= it[-1]]
        if updates:
            ax.plot([u.iteration for u in updates if not u.skipped], [top * 1.3] * sum(not u.skipped for u in updates),
                    "v", color="0.2", ms=5, label="rule window (an update)")  # fmt: skip
            skipped = [u.iteration for u in updates if u.skipped]
            if skipped:
                ax.plot(skipped, [top * 1.3] * len(skipped), "x", color="tab:red", label="window skipped")
        if np.isfinite(bottom) and top > 0:
            ax.set_yscale("log")
            ax.set_ylim(bottom / 1.5, top * 1.6)
        ax.set_ylabel("effective gain")
        ax.grid(alpha=0.3, which="both")

    def _plot_shares(self, ax, weighting: LossWeighting) -> None:
        """Each term's share of the weighted loss per iteration (a moving average over 1/100 of the run)."""
        it, _, weighted = self._term_arrays(weighting)
        total = weighted.sum(1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(total > 0, weighted / total, np.nan)
        k = max(1, len(share) // 100)
        kernel = np.ones(k) / k
        smooth = np.stack([np.convolve(np.nan_to_num(share[:, j]), kernel, mode="same") for j in range(share.shape[1])])
        labels = [unit_name(n) for n in weighting.term_names]
        colours = [colour(unit_name(n), j + 2) for j, n in enumerate(weighting.term_names)]
        if len(it) < 30:  # a short run: one bar per iteration
            bottom = np.zeros(len(it))
            for row, label, c in zip(share.T, labels, colours):
                ax.bar(it, np.nan_to_num(row), bottom=bottom, color=c, alpha=0.8, width=0.8, label=label)
                bottom += np.nan_to_num(row)
        else:
            ax.stackplot(it, smooth, labels=labels, colors=colours, alpha=0.8, step="post")
        ax.set_ylim(0, 1)
        ax.set_ylabel("share of the loss")
        ax.grid(alpha=0.3)

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
        ax.grid(alpha=0.3)

    def _plot_losses(self, ax, epoch_losses: list[list[float]], units: tuple[str, ...], log_by: str) -> None:
        """Per-iteration unit losses (light) with a moving average, and the whole run's epoch means (dots)."""
        kind = "group" if log_by == "group" else "term"
        if self.unit_losses:
            losses = np.asarray(self.unit_losses)
            it = np.asarray(self.iterations[-len(losses) :])
            k = max(1, len(losses) // 50)
            marker = "o" if len(losses) < 30 else None
            for j, g in enumerate(units):
                ax.plot(it, losses[:, j], color=colour(g, j), alpha=0.2, lw=1)
                smooth = np.convolve(losses[:, j], np.ones(k) / k, mode="valid")
                ax.plot(it[k - 1 :], smooth, color=colour(g, j), lw=2, marker=marker, ms=4,
                        label=f"{g} {kind} (gain-scaled)")  # fmt: skip
        if epoch_losses and len(epoch_losses[0]) > len(units):
            rows = np.asarray(epoch_losses)
            for j, g in enumerate(units):
                ax.plot(rows[:, -1], rows[:, j], "o", ms=3, color=colour(g, j), label=f"{g} epoch mean")
        lines = [y for line in ax.get_lines() for y in np.asarray(line.get_ydata(), float).ravel() if y > 0]
        if lines and max(lines) / min(lines) > 10:  # a log axis only where it spans a decade (else few tick labels)
            ax.set_yscale("log")
        ax.set_ylabel("loss")
        ax.grid(alpha=0.3, which="both")


def calibrated_gains(weighting: LossWeighting) -> str:
    """``box 4.97, cls 0.47, dfl 1.48``: the per-term gains a calibrating strategy found (its ``calibration()``), in
    the units of Ultralytics' hand-set gains, so a user can compare them with box 7.5 / cls 0.5 / dfl 1.5; '' for
    strategies without a calibration or before it finished."""
    return ", ".join(f"{name.removesuffix('_loss')} {g:.3g}" for name, g in weighting.calibration().items())
