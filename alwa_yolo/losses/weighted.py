"""The one seam between every criterion and the weighting strategies: term groups, base gains, the hand-off.

Every alwa-yolo criterion (anchor-free detection, segmentation, pose, OBB, end-to-end heads, the anchor-based head,
RT-DETR) hands its terms over one way: :meth:`WeightedCriterion.loss_terms` returns them as :class:`LossTerms` (the
gain-scaled terms ``g_k * L_k`` computed the way its stock Ultralytics / YOLOv5 counterpart computes them, the loss
items Ultralytics reports, the batch-size factor), and :meth:`WeightedCriterion.weighted_loss`, the one path for
every head, applies the strategy, the batch-size factor and the reporting gains. Under ``fixed`` a criterion whose
stock counterpart computes the loss itself returns that stock result (:meth:`WeightedCriterion.stock_result`, for
bit-identity) and the strategy observes the same terms, so ``fixed`` is logged the same way on every head.

The terms travel as a named vector: the criterion declares its loss item names once (``box_loss``, ``cls_loss``,
...; an end-to-end head names both branches' terms alike, so they share a weight), the strategy is built for, or
checked against, exactly those names (:class:`TermSpec`, :func:`build_strategy`), and every log column is named after
them. What differs between the criteria is only which terms they have; what those terms mean to a strategy is
decided here, once:

- :data:`TERM_GROUPS`: the ALWA group of each loss item name (classification C or localisation R);
- :data:`TERM_GAINS`: the hyperparameter that is each term's base gain (Ultralytics multiplies its third detection
  term by ``dfl`` whether it is DFL or YOLO26's L1 term, and the mask term by ``box``);
- :func:`base_gains`: those gains under ``--gains hyp`` (with a head's own defaults) or ``unit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from ultralytics.cfg import DEFAULT_CFG_DICT

from ..options import arg_value
from ..weighting import LossWeighting, build_weighting
from ..weighting.fixed import FixedWeighting

TERM_GROUPS = {
    "box_loss": "reg",
    "giou_loss": "reg",
    "dfl_loss": "reg",
    "l1_loss": "reg",
    "seg_loss": "reg",
    "sem_loss": "reg",
    "pose_loss": "reg",
    "kobj_loss": "reg",
    "rle_loss": "reg",
    "angle_loss": "reg",
    "cls_loss": "cls",
    "obj_loss": "cls",
}
"""ALWA group of each loss item name: classification C = {cls, obj}, localisation R = {box, dfl, l1, seg, sem, pose,
kobj, rle, angle, giou}.

The mask terms are localisation, by what they are rather than by their statistics, which do not separate them
(benchmarks/README.md, "YOLO26n and segmentation": their decay and their iteration-to-iteration changes sit apart
from both groups'). What decides is that, like box and dfl, they are computed on the assigned foreground only (0 in a
batch without objects, which the windows' usability guard relies on for the localisation group) and answer the
localisation question, *where* the object is, per pixel instead of per box.

The pose and OBB terms are localisation too. ``pose`` (the OKS-scaled distance of each keypoint to its target),
``rle`` (YOLO26-pose's likelihood of the same location) and ``angle`` (the rotated box's orientation) answer *where*
on the assigned foreground only. ``kobj`` (a BCE on whether each keypoint is visible) looks like a confidence, as
``obj`` is, but everything measured puts it with localisation (benchmarks/README.md, "Pose and OBB"): it is computed
on the assigned objects' keypoints only (0 without foreground, where ``obj`` and ``cls`` are not), it decays the
slowest of all terms, and its iteration-to-iteration changes move most with dfl's. A classification weight lowered
for a noisy class term would therefore also have damped a slow localisation-like term it does not govern. ``pose``
moves with box and cls about equally and decays like them; ``angle`` decays between box and dfl and moves more with
box than with cls.
"""

TERM_GAINS = {
    "box_loss": "box",
    "giou_loss": "box",
    "dfl_loss": "dfl",
    "l1_loss": "dfl",
    "seg_loss": "box",
    "sem_loss": "box",
    "pose_loss": "pose",
    "rle_loss": "rle",
    "angle_loss": "angle",
    "cls_loss": "cls",
    "obj_loss": "obj",
    "kobj_loss": "kobj",
}
"""The hyperparameter holding each term's base gain, as the stock criteria apply them (RT-DETR's GIoU term is its
IoU term, gained by ``box``; its L1 term by ``dfl``, as YOLO26's: :mod:`~alwa_yolo.losses.rtdetr`)."""


def base_gains(
    options: dict[str, Any], args: Any, keys: Sequence[str], head_defaults: dict[str, float] | None = None
) -> dict[str, float]:
    """The base gain of each hyperparameter in ``keys``: 1.0 under ``gains=unit``, else the training argument.

    Args:
        options: resolved alwa-yolo options (:func:`~alwa_yolo.options.resolve_options`).
        args: the training arguments (``box``, ``cls``, ``dfl``, ``obj``).
        keys: the gain hyperparameters to resolve.
        head_defaults: a head's own defaults (the anchor head's YOLOv5 gains), used where the argument is unset or
            still Ultralytics' default (tuned for a different head).
    """
    if options["gains"] == "unit":
        return dict.fromkeys(keys, 1.0)
    gains = {}
    for key in keys:
        value = arg_value(args, key)
        untouched = value is None or (key in DEFAULT_CFG_DICT and float(value) == float(DEFAULT_CFG_DICT[key]))
        gains[key] = float(head_defaults[key] if head_defaults and key in head_defaults and untouched else value)
    return gains


def shared_weighting(model: torch.nn.Module) -> LossWeighting | None:
    """The strategy the trainer gave this model (``model.loss_weighting``), which every criterion the model builds
    uses: Ultralytics rebuilds criteria (class weights, resume of an end-to-end head), and each rebuilt one gets the
    same object by construction. None outside the trainer."""
    return getattr(model, "loss_weighting", None)


def reference_gains(
    names: Sequence[str], head_defaults: dict[str, float] | None, reference: dict[str, float] | None
) -> list[float] | None:
    """The tuned gain of each term (``alwa-ref``'s reference): the head's own tuned gains where given, Ultralytics'
    defaults for a head that has no defaults of its own, and none for a head whose defaults are not tuned for it."""
    if reference is not None:
        return [float(reference[TERM_GAINS[n]]) for n in names]
    return None if head_defaults else [float(DEFAULT_CFG_DICT[TERM_GAINS[n]]) for n in names]


@dataclass(frozen=True)
class TermSpec:
    """A criterion's terms, as a strategy is built for them."""

    names: tuple[str, ...]
    """Each term's loss item name, in the criterion's order (an end-to-end head lists both branches')."""
    gains: tuple[float, ...]
    """Each term's base gain."""
    reference: tuple[float, ...] | None
    """Each term's tuned gain (``alwa-ref``'s reference; :func:`reference_gains`), or None."""
    device: torch.device | str = "cpu"
    """Where the criterion computes its terms."""
    groups_balanced: bool = True
    """Whether the reference gains also set the balance *between* the two groups: True where they were tuned for the
    head (Ultralytics' YOLO heads); False where only their balance inside each group is kept (RT-DETR, whose gains
    were set for another model and data), and the default balances the groups every iteration (``ref-ratio``)."""
    untuned: tuple[str, ...] = ()
    """Terms the head's gains were tuned without: added to Ultralytics' loss after the head's gains were tuned (OBB's
    angle term on YOLOv8 / YOLO11-obb, new with YOLO26 in Ultralytics 8.4). The default (``alwa-ref``) trains them
    at 0, as the head's tuning did."""

    @property
    def groups(self) -> tuple[str, ...]:
        """Each term's ALWA group (:data:`TERM_GROUPS`)."""
        return tuple(TERM_GROUPS[n] for n in self.names)


def build_strategy(options: dict[str, Any], spec: TermSpec) -> LossWeighting:
    """The one place a run's strategy is built: the ``--weighting`` strategy for ``spec``'s terms, from the resolved
    options. The trainer calls it once per run and hands the result to every criterion the model builds; a criterion
    built on its own (a test, a script) calls it the first time it needs one."""
    return build_weighting(
        options["weighting"],
        spec.groups,
        interval=options["alwa_interval"],
        term_names=spec.names,
        term_gains=list(spec.gains),
        reference_gains=None if spec.reference is None else list(spec.reference),
        groups_balanced=spec.groups_balanced,
        untuned_terms=spec.untuned,
    ).to(spec.device)


class LossTerms(NamedTuple):
    """One loss call's terms, as every criterion hands them to :meth:`WeightedCriterion.weighted_loss`."""

    values: torch.Tensor
    """The gain-scaled terms ``g_k * L_k``, without the batch-size factor, in the criterion's term order."""
    items: dict[str, torch.Tensor]
    """The loss items Ultralytics reports for this call, on the criterion's base gains
    (:meth:`~WeightedCriterion.report` puts them on Ultralytics' gains)."""
    batch_size: int
    """The factor Ultralytics multiplies the loss by (the batch size; 1 for RT-DETR, whose loss has none)."""


class WeightedCriterion:
    """Mixin for criteria whose gain-scaled terms are combined by a weighting strategy.

    A criterion resolves its options once (:func:`~alwa_yolo.options.resolve_options`) and its base gains
    (:func:`base_gains`), calls :meth:`setup_weighting` in its constructor and :meth:`weighted_loss` where its stock
    counterpart computes the loss. It provides two methods, the protocol every head follows:

    - ``loss_terms(preds, batch, **kwargs) -> LossTerms``: its terms, items and batch-size factor, computed with
      Ultralytics' own methods wherever they exist;
    - ``stock_result(preds, batch, **kwargs) -> (result, terms) | None``: under ``fixed``, the stock criterion's own
      result and the terms it was computed from, where the stock code multiplies or mixes the terms itself (so that
      ``fixed`` is the same arithmetic in the same order); None where :meth:`combine` under ``fixed`` already is
      (detection, the anchor head);

    and may override :meth:`assemble` (how the weighted terms are returned: a sum per term kind for end-to-end heads,
    a dict for RT-DETR). Validation (run under ``torch.inference_mode``) is weighted with the current weights but
    never observed by the strategy.

    Attributes:
        options: the resolved alwa-yolo options, read once.
        gains: base gain per hyperparameter (``box``, ``cls``, ...).
        weighting: the strategy.
    """

    options: dict[str, Any]
    gains: dict[str, float]

    def setup_weighting(
        self,
        options: dict[str, Any],
        gains: dict[str, float],
        names: Sequence[str],
        device: torch.device,
        args: Any = None,
        head_defaults: dict[str, float] | None = None,
        shared: LossWeighting | None = None,
        reference: dict[str, float] | None = None,
        groups_balanced: bool = True,
        untuned: Sequence[str] = (),
    ) -> None:
        """Declare the terms (:attr:`term_spec`) and take the run's strategy (``shared``: the trainer's, which the
        model carries as ``loss_weighting``). Without one (a criterion built outside the trainer: a test, a script)
        the same factory builds one when it is first needed (:attr:`weighting`).

        ``args`` and ``head_defaults`` give the gains the loss items are reported on (:meth:`report`).
        ``reference`` is the head's tuned gains, which ``alwa-ref`` trains on: Ultralytics' defaults unless given;
        none for a head whose ``head_defaults`` were not tuned for it (the anchor head). ``groups_balanced``:
        :attr:`TermSpec.groups_balanced`; ``untuned``: :attr:`TermSpec.untuned`.
        """
        self.options, self.gains = options, gains
        hyp = base_gains({**options, "gains": "hyp"}, args or {}, sorted(gains), head_defaults) if args else gains
        # a term switched off (base gain 0) is 0 under any reporting gain, as in the stock criterion
        self._report_factors = {n: hyp[TERM_GAINS[n]] / (gains[TERM_GAINS[n]] or 1.0) for n in names}
        if all(f == 1.0 for f in self._report_factors.values()):
            self._report_factors = {}
        ref = reference_gains(names, head_defaults, reference)
        self.term_spec = TermSpec(
            tuple(names),
            tuple(gains[TERM_GAINS[n]] for n in names),
            None if ref is None else tuple(ref),
            device,
            groups_balanced,
            tuple(untuned),
        )
        self._weighting = None
        if shared is not None:
            self.weighting = shared

    term_spec: TermSpec
    """The terms this criterion hands over, what the run's strategy is built for (:func:`build_strategy`)."""

    @property
    def weighting(self) -> LossWeighting:
        """The run's strategy: the one the trainer built and handed over, or, for a criterion on its own, one built
        by :func:`build_strategy` on first use."""
        if self._weighting is None:
            self.weighting = build_strategy(self.options, self.term_spec)
        return self._weighting

    @weighting.setter
    def weighting(self, strategy: LossWeighting) -> None:
        """Hand the criterion its strategy, which must be built for its terms.

        Raises:
            ValueError: the strategy weights other terms, or is another strategy than the options name.
        """
        spec, name = self.term_spec, self.options["weighting"]
        if strategy.names != spec.names or strategy.groups != spec.groups or strategy.name != name:
            raise ValueError(
                f"the run's {strategy.name} strategy weights terms {strategy.names}, this criterion has "
                f"{spec.names} ({name})"
            )
        strategy.base_gains = dict(zip(spec.names, spec.gains))  # for the picture
        self._weighting = strategy

    @property
    def stock_combination(self) -> bool:
        """True for ``fixed``: the criterion then returns exactly what its stock counterpart computes."""
        return type(self.weighting) is FixedWeighting

    def observe_stock(self, terms: torch.Tensor) -> None:
        """``fixed``'s path where the stock criterion computes the loss itself (for bit-identity: the same arithmetic
        in the same order): the strategy sees the gain-scaled terms without the batch-size factor afterwards, so
        ``alwa.csv`` / ``alwa.png`` log them as on every other head. Validation is not observed."""
        self.weighting(terms.detach(), training=torch.is_grad_enabled())

    def weighted_loss(self, preds: Any, batch: dict[str, Any], **kwargs: Any) -> Any:
        """The loss of every head: under ``fixed`` the stock result where the criterion has one (observed), else the
        terms weighted by the strategy, times the batch-size factor (:meth:`combine`), with the reported items
        (:meth:`report`), as :meth:`assemble` returns them."""
        if self.stock_combination:
            stock = self.stock_result(preds, batch, **kwargs)
            if stock is not None:
                result, terms = stock
                self.observe_stock(terms)
                return result
        terms = self.loss_terms(preds, batch, **kwargs)
        return self.assemble(self.combine(terms.values, terms.batch_size), self.report(terms.items))

    def assemble(self, weighted: torch.Tensor, items: dict[str, torch.Tensor]) -> Any:
        """What the criterion returns: the weighted terms (Ultralytics sums them) and the loss items."""
        return weighted, items

    def combine(self, terms: torch.Tensor, batch_size: int) -> torch.Tensor:
        """Weighted terms times batch size (Ultralytics sums them into the loss it back-propagates).

        A strategy that measures the box term against the head's native one (``alwa-ref``) is first handed the same
        terms with each box term computed by the native loss (:meth:`native_terms`), where the run's box loss is
        another one: on every iteration of such a run, so that every DDP rank takes the same path."""
        training = torch.is_grad_enabled()
        if training and getattr(self.weighting, "wants_native", False):
            native = self.native_terms(terms)
            if native is not None:
                self.weighting.note_native(native)
        return self.weighting(terms, training=training) * batch_size

    @property
    def box_replaced(self) -> bool:
        """Whether ``--reg-loss`` replaced the head's native box term (fixed for the run: the same on every rank)."""
        return getattr(getattr(self, "bbox_loss", None), "reg_loss", "ciou") != "ciou"

    def native_boxes(self) -> list[torch.Tensor] | None:
        """The gain-scaled native box term of each ``box_loss`` position, computed on this iteration's assigned
        boxes; None where there is none (the box term is the native one, or no box loss was computed yet)."""
        native = getattr(getattr(self, "bbox_loss", None), "last_native", None)
        return None if native is None else [self.gains["box"] * native]

    def native_terms(self, terms: torch.Tensor) -> torch.Tensor | None:
        """``terms`` with each ``box_loss`` replaced by the native box term (:meth:`native_boxes`; the run's own
        values until one has been computed); None where the box term is the native one."""
        if not self.box_replaced:
            return None
        native = terms.detach().clone()
        boxes = self.native_boxes()
        if boxes is not None:
            for i, value in zip([i for i, n in enumerate(self.weighting.names) if n == "box_loss"], boxes):
                native[i] = value
        return native

    def report(self, items: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The loss items on Ultralytics' gains (the hyp values, or the head's own), whatever the base gains.

        So ``box_loss`` / ``cls_loss`` / ``dfl_loss`` in the progress bar and ``results.csv`` are the numbers stock
        Ultralytics reports for the same model and batch, and comparable between strategies: a strategy that adapts
        from unit gains still logs ``7.5 * L_box``. With ``fixed`` (base gains = hyp) nothing is multiplied.
        """
        if not self._report_factors:
            return items
        return {k: v * self._report_factors.get(k, 1.0) for k, v in items.items()}
