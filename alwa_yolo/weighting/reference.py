"""``alwa-ref``: ALWA on the balance Ultralytics' tuned gains give the head, carried over to any box loss.

Why a new strategy. ``alwa-cal`` starts every term at the same size. That matches Ultralytics' tuned gains on the
three main detection terms, and nowhere else: pose's keypoint-visibility term, OBB's angle term and YOLO26's l1
term are kept small on purpose, and the tuned gains start the box term above the others. Both cost mAP
(benchmarks/README.md, "Default"). What a tuned gain encodes is the *share* of the loss a term should have on the
head it was tuned for; what goes wrong when a user changes the box loss (L1 in grid cells instead of ``1 - CIoU``)
or mis-sets a gain is that the share moves, not that the share was wrong. So the calibration target here is that
share, not equal sizes:

1. **Reference gains.** Each term's effective gain on its raw loss is Ultralytics' default for its hyperparameter
   (``DEFAULT_CFG``: box 7.5, cls 0.5, dfl 1.5, pose 12, kobj 1, angle 1, rle 1), whatever the run's base gains:
   a mis-set ``box`` / ``cls`` / ``angle`` in the hyp cancels out, as under ``alwa-cal``. The reference is the
   recipe the head's gains were tuned in: a term the head was tuned without (the criterion declares it,
   :attr:`~alwa_yolo.losses.weighted.TermSpec.untuned`) trains at 0, as in that recipe. One term is: Ultralytics
   8.4 added OBB's angle term (gain ``angle`` 1.0) with YOLO26 and applies it to every OBB head, while YOLOv8 /
   YOLO11-obb's gains were tuned, and their weights released, in 8.3, whose OBB loss had no angle term (the rotated
   box's probIoU carries the angle). On those heads the angle gain is a setting nobody tuned for them; on the OBB
   demo set a lower one trains better rotated boxes (benchmarks/README.md, "Default"; the rule was measured as
   ``alwa-recipe``). YOLO26-obb was tuned with it and keeps it.
2. **The box loss keeps its share.** Where the run's box term is not the head's native one (``--reg-loss l1``,
   ``smoothl1``, ``giou``, ...), the criterion also hands over the native CIoU term it computed on the same
   assigned boxes (:meth:`note_native`); over the calibration iterations the box term's gain becomes
   ``7.5 * mean(CIoU) / mean(chosen)``, so the new loss starts with the share CIoU had under the tuned gain (the
   paper's second question: change the regression loss, keep its share, not its gain). Both losses are measured on
   the same predictions, so a moving target (a fine-tune's first steps) moves both alike. The ratio is no constant
   of the loss pair: from scratch, while predicted boxes do not yet overlap their targets, CIoU saturates and L1 in
   grid cells grows with the distance, so the ratio rises as boxes start to fit. The gain therefore keeps following
   it after calibration, as exponentially decayed sums over about a calibration's length of iterations that start
   from the calibration's sums (no jump). A gain frozen at the start left L1 under its share for the rest of
   the run, which cost short runs (benchmarks/README.md, "Default"; the rule was measured as ``alwa-share``).
3. **The rule** is ``alwa-cal``'s, on the same equal-size calibrated statistics (so its decisions are scale-free
   and identical in kind): it only ever lowers classification, bounded, smoothed.

Where no tuned reference exists (the anchor-based head: Ultralytics has none, and YOLOv5's gains belong to another
normalisation) the strategy falls back to ``alwa-cal`` exactly: equal start sizes.

Where the reference keeps its balance inside each group but was not tuned for the balance between them (RT-DETR:
its gains are hard-coded from another model and data, and measured on the small RT-DETR they weight classification
too little; benchmarks/README.md, "RT-DETR"), the default is ``ref-ratio``'s run: the reference gains inside each
group, the two groups balanced every iteration.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as dist

from .calibrated import CalibratedALWA
from .collectives import distributed
from .reference_ratio import DefaultReferenceRatio, ReferenceLossRatio


class ReferenceALWA(CalibratedALWA):
    """ALWA on Ultralytics' tuned balance per head (module docstring), ``alwa-cal`` where there is no reference.

    Args:
        groups: ALWA group of each loss term.
        interval: iterations per rule window after calibration (``--alwa-interval``).
        term_names: each term's name; terms with the same name share a calibration.
        term_gains: each term's base gain ``g_k`` (divided out, so the run's hyp gains do not matter).
        reference_gains: each term's tuned gain (Ultralytics' default for its hyperparameter); None where the head
            has no tuned reference (then equal start sizes, as ``alwa-cal``).
    """

    name = "alwa-ref"
    head_note = ""
    """What the run's log says about the default on this head (a term trained at 0), if anything."""

    def __init__(
        self,
        groups: Sequence[str],
        interval: int = 100,
        term_names: Sequence[str] | None = None,
        term_gains: Sequence[float] | None = None,
        reference_gains: Sequence[float] | None = None,
    ):
        super().__init__(groups, interval, term_names, term_gains)
        n_names = self._tie.shape[0]
        self._reference = None if reference_gains is None else torch.tensor(list(reference_gains), dtype=torch.float64)
        self.native_sums = torch.zeros(n_names, dtype=torch.float64)  # raw native-loss sums over the same values
        self._native: torch.Tensor | None = None  # this iteration's terms as the native box loss gives them
        self.applied = self._reference_scale(torch.ones(n_names, dtype=torch.float64))
        self.decay = 1.0 - 1.0 / self.calibration_length
        self.tracked_native: torch.Tensor | None = None  # decayed raw sums of each name under the native loss
        self.tracked_chosen: torch.Tensor | None = None  # ... and under the run's loss, on the same predictions

    @classmethod
    def from_options(cls, groups: Sequence[str], options: dict[str, Any]) -> ReferenceALWA | ReferenceLossRatio:
        """``alwa-cal``'s options plus the head's reference gains (the seam passes them), each term in
        ``untuned_terms`` at 0; on a head whose reference does not balance the groups (``groups_balanced`` False:
        RT-DETR), ``ref-ratio``'s balance under this name."""
        reference, names = options.get("reference_gains"), options.get("term_names") or ()
        off = sorted(set(names) & set(options.get("untuned_terms", ()))) if reference is not None else []
        if off:
            options = {**options, "reference_gains": [0.0 if n in off else r for n, r in zip(names, reference)]}
        if not options.get("groups_balanced", True):
            return DefaultReferenceRatio.from_options(groups, options)
        strategy = cls(
            groups,
            options["alwa_interval"],
            options.get("term_names"),
            options.get("term_gains"),
            options.get("reference_gains"),
        )
        if off:
            terms = ", ".join(n.removesuffix("_loss") for n in off)
            strategy.head_note = (
                f"on this head: the {terms} term trains at 0, as in the recipe the head's gains were tuned in, "
                "which had no such term (docs/ALWA.md, 'Reference gains')"
            )
        return strategy

    def note_native(self, native: torch.Tensor) -> None:
        """The next iteration's terms with each box term computed by the head's native loss (same gain, same
        assigned boxes); the criterion calls it before the strategy where the run's box loss is not the native one."""
        self._native = native.detach()

    @property
    def wants_native(self) -> bool:
        """Whether the criterion should hand over the native box term (every training iteration where there is a
        reference: the share is measured during calibration and tracked after it)."""
        return self._reference is not None

    def __call__(self, terms: torch.Tensor, training: bool = True) -> torch.Tensor:
        """After calibration, this iteration's native : chosen values join the tracked ratio before weighting."""
        if training and self._reference is not None and not self.calibrating:
            self.track(terms.detach())
        return super().__call__(terms, training)

    def calibrate(self, terms: torch.Tensor) -> None:
        """``alwa-cal``'s calibration (for the rule's statistics), and the native : chosen ratio of each name."""
        counts_before = self.calibration_counts.to(terms.device)
        super().calibrate(terms)
        if self._reference is None:
            return
        dev = terms.device
        raw, raw_native = self._raw_pair(terms, self._native if self._native is not None else terms)
        seen = (raw > 0) & (counts_before < self.calibration_length)
        added = torch.where(seen, raw_native, torch.zeros_like(raw_native))
        if distributed():
            dist.all_reduce(added)
        self.native_sums = self.native_sums.to(dev) + added
        self._native = None
        has = self.calibration_counts > 0
        ratio = torch.where(has, self.native_sums / self.calibration_sums.clamp(min=1e-300), torch.ones_like(added))
        self.applied = self._reference_scale(ratio)

    def track(self, terms: torch.Tensor) -> None:
        """Decay the tracked sums of the names with a value this iteration, add the values, set the scale. Where the
        box loss is the native one the criterion hands nothing over, and nothing moves."""
        if self._native is None:
            return
        dev = terms.device
        (raw, raw_native), self._native = self._raw_pair(terms, self._native), None
        seen = raw > 0
        zero = torch.zeros_like(raw)
        added = torch.stack((torch.where(seen, raw_native, zero), torch.where(seen, raw, zero), seen.double()))
        if distributed():  # every rank tracks the pooled values, so every rank sets the same scale
            dist.all_reduce(added)
        if self.tracked_native is None:
            self.tracked_native, self.tracked_chosen = self.native_sums.to(dev), self.calibration_sums.to(dev)
        factor = torch.where(added[2] > 0, self.decay, 1.0).double()
        tracked = torch.stack((self.tracked_native.to(dev), self.tracked_chosen.to(dev))) * factor + added[:2]
        self.tracked_native, self.tracked_chosen = tracked[0], tracked[1]
        has = self.tracked_chosen > 0
        ratio = torch.where(
            has, self.tracked_native / self.tracked_chosen.clamp(min=1e-300), torch.ones_like(self.tracked_chosen)
        )
        self.applied = self._reference_scale(ratio)

    def _raw_pair(self, terms: torch.Tensor, native: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each name's raw value (base gains divided out) under the run's box loss and under the native one."""
        tie = self._tie.to(terms.device)
        return tie @ self.divide_gains(terms.double()), tie @ self.divide_gains(native.to(terms.device).double())

    def _reference_scale(self, ratio: torch.Tensor) -> torch.Tensor:
        """Per-term factor on the gain-scaled terms: ``reference_k * ratio_k / g_k`` (the calibration's scale
        where there is no reference)."""
        if self._reference is None:
            return self.scale
        dev = ratio.device
        return self.divide_gains(self._reference.to(dev) * (self._tie.to(dev).T @ ratio))

    def weight(self, terms: torch.Tensor) -> torch.Tensor:
        """Terms on their reference gains times the group weights."""
        scale = self.applied if self._reference is not None else self.scale
        return terms * (scale.to(terms.device, terms.dtype) * self.term_weights(terms))

    def to(self, device: torch.device | str) -> ReferenceALWA:
        """Also the reference scale, the native sums and the tracked sums."""
        self.applied, self.native_sums = self.applied.to(device), self.native_sums.to(device)
        if self._reference is not None:  # read every iteration while the share is tracked: no copy per iteration
            self._reference = self._reference.to(device)
        if self.tracked_native is not None:
            self.tracked_native, self.tracked_chosen = self.tracked_native.to(device), self.tracked_chosen.to(device)
        return super().to(device)

    def calibration(self) -> dict[str, float]:
        """The effective gain of each term on its raw loss (the reference gains, box's share-matched)."""
        if self._reference is None:
            return super().calibration()
        if self.calibrating:
            return {}
        return dict(zip(self.names, (self.applied * self._gains.to(self.applied)).tolist()))

    def state_dict(self) -> dict:
        """``alwa-cal``'s state plus the native sums, the tracked sums and the applied scale."""
        tracked = None
        if self.tracked_native is not None:
            tracked = torch.stack((self.tracked_native, self.tracked_chosen)).detach().cpu().clone()
        return {
            **super().state_dict(),
            "native_sums": self.native_sums.detach().cpu().clone(),
            "applied": self.applied.detach().cpu().clone(),
            "tracked": tracked,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore, on the strategy's current device."""
        super().load_state_dict(state)
        device = self.scale.device
        self.native_sums = state["native_sums"].to(device, copy=True)
        self.applied = state["applied"].to(device, copy=True)
        tracked = state.get("tracked")  # absent from a 0.4 checkpoint: tracking starts from its calibration sums
        if tracked is None:
            self.tracked_native = self.tracked_chosen = None
        else:
            tracked = tracked.to(device, copy=True)
            self.tracked_native, self.tracked_chosen = tracked[0], tracked[1]
