"""``alwa-recipe`` (experimental): ``alwa-ref`` on the recipe the head's gains were tuned in.

Why a variant. ``alwa-ref`` trains every term on Ultralytics' default gain for its hyperparameter, which is the tuned
balance of the head where the head was tuned with that term. One term was not: Ultralytics 8.4 added OBB's angle
term (``sin^2`` of twice the angle error, gain ``angle`` 1.0) with YOLO26, and applies it to every OBB head, while
YOLOv8 / YOLO11-obb's gains were tuned, and their weights released, in 8.3, whose OBB loss had no angle term (the
rotated box's probIoU carries the angle). On those heads the angle gain is a setting nobody tuned for them, and on
the OBB demo set a lower one trains better rotated boxes than 1.0 (benchmarks/README.md, "Default").

So the reference here is the head's recipe: a term the head's gains were tuned without
(:attr:`~alwa_yolo.losses.weighted.TermSpec.untuned`, which the criterion declares) trains at 0, as in that
recipe; every other term, and every other head (YOLO26-obb was tuned with the angle term), is ``alwa-ref``'s,
bit for bit (tested). It runs under its own name until its measurements say whether it replaces ``alwa-ref``'s
reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .reference import ReferenceALWA
from .reference_ratio import ReferenceLossRatio


class RecipeReferenceALWA(ReferenceALWA):
    """``alwa-ref`` with the head's untuned terms at a reference gain of 0 (module docstring)."""

    name = "alwa-recipe"

    @classmethod
    def from_options(cls, groups: Sequence[str], options: dict[str, Any]) -> ReferenceALWA | ReferenceLossRatio:
        """``alwa-ref``'s options, the reference of each term in ``untuned_terms`` set to 0."""
        untuned, names = set(options.get("untuned_terms", ())), options.get("term_names")
        reference = options.get("reference_gains")
        if untuned and reference is not None and names is not None:
            reference = [0.0 if n in untuned else r for n, r in zip(names, reference)]
        return super().from_options(groups, {**options, "reference_gains": reference})
