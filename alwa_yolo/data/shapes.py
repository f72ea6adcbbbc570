"""The built-in demo set: coloured shapes on noisy backgrounds, generated deterministically with no network.

Classes differ in both shape and colour (a red circle, a green square, ...), objects vary in size and position, and
a ``clutter`` option adds distractor strokes and blobs for a harder configuration. The same seed gives the same
files on every machine (numpy's PCG64 stream and OpenCV's rasteriser), so runs on it are comparable.

With ``task="segment"`` the same images get instance-segmentation labels instead of boxes: one polygon per object,
traced from the mask the object was drawn with (see :func:`mask_polygon`). Segment mode makes exactly the same random
draws as detect mode, so a seed gives the same images in both; only the label lines differ. So does
``task="pose"``: each object's box plus :data:`KPT_SHAPE` keypoints, its centre and the four points one radius
above, right of, below and left of it (edge midpoints of a square, points on a circle), all visible.

``task="obb"`` draws its own set: elongated rectangles (even classes) and ellipses (odd classes) at any angle,
labelled with the four corners of their rotated rectangle (``cls x1 y1 x2 y2 x3 y3 x4 y4``, normalised: the
YOLO-OBB form of DOTA's labels), so the angle is something to learn.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

SHAPES = ("circle", "square", "triangle", "diamond", "cross", "ring", "star", "hexagon")
COLOURS = {  # BGR
    "red": (40, 40, 220),
    "green": (50, 190, 50),
    "blue": (220, 90, 30),
    "yellow": (30, 210, 230),
    "magenta": (200, 50, 200),
    "cyan": (210, 200, 40),
    "orange": (20, 130, 245),
    "white": (235, 235, 235),
}
TASKS = ("detect", "segment", "pose", "obb")
KPT_SHAPE = [5, 3]
"""Keypoints of ``task="pose"``: centre, top, right, bottom, left; (x, y, visibility)."""
FLIP_IDX = [0, 1, 4, 3, 2]
"""The keypoint each one becomes in a left-right flipped image (right and left swap)."""
OBB_SHAPES = ("rectangle", "ellipse")
"""``task="obb"``: class i is ``OBB_SHAPES[i % 2]`` in colour ``list(COLOURS)[i]``."""


@dataclass(frozen=True)
class ShapesConfig:
    """Parameters of a generated set (the ``generate:`` block of a dataset yaml).

    Attributes:
        classes: number of classes (class i is shape ``SHAPES[i]`` in colour ``list(COLOURS)[i]``), at most 8.
        train: number of training images.
        val: number of validation images.
        imgsz: image side in pixels.
        min_size: smallest object side as a fraction of the image.
        max_size: largest object side as a fraction of the image.
        max_objects: objects per image are drawn uniformly from 1..max_objects.
        clutter: distractor strokes and blobs per image (0 for none).
        seed: random seed; the same config always gives the same files.
        task: ``"detect"`` writes ``cls x y w h`` box labels, ``"segment"`` writes ``cls x1 y1 ... xn yn`` polygons
            (Ultralytics' segmentation format) for the same images, ``"pose"`` the boxes with keypoints
            (``cls x y w h`` then ``x y v`` per keypoint); ``"obb"`` draws rotated shapes with their corners.
    """

    classes: int = 4
    train: int = 256
    val: int = 64
    imgsz: int = 128
    min_size: float = 0.12
    max_size: float = 0.45
    max_objects: int = 4
    clutter: int = 0
    seed: int = 0
    task: str = "detect"
    names: list[str] = field(init=False, default_factory=list)

    def __post_init__(self):
        # counts first: a negative or zero count would otherwise be written to the cache as an empty, unusable set
        for name, low in (("classes", 1), ("train", 1), ("val", 1), ("imgsz", 32), ("max_objects", 1), ("clutter", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"shapes: {name} must be an integer of at least {low}, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"shapes: seed must be a non-negative integer, got {self.seed!r}")
        for name in ("min_size", "max_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"shapes: {name} must be a number, got {value!r}")
        if not 1 <= self.classes <= len(SHAPES):
            raise ValueError(f"shapes: classes must be 1..{len(SHAPES)}, got {self.classes}")
        if not 0 < self.min_size <= self.max_size < 1:
            raise ValueError(f"shapes: need 0 < min_size <= max_size < 1, got {self.min_size}, {self.max_size}")
        if self.task not in TASKS:
            raise ValueError(f"shapes: task must be one of {', '.join(map(repr, TASKS))}, got {self.task!r}")
        colours = list(COLOURS)
        shape = (lambda i: OBB_SHAPES[i % 2]) if self.task == "obb" else SHAPES.__getitem__
        object.__setattr__(self, "names", [f"{colours[i]}_{shape(i)}" for i in range(self.classes)])


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    """Vertices of a regular-ish polygon shape, rotated by ``angle``."""
    if shape == "triangle":
        k, radii = 3, [r]
    elif shape == "diamond":
        k, radii = 4, [r]
    elif shape == "hexagon":
        k, radii = 6, [r]
    else:  # star
        k, radii = 10, [r, r * 0.45]
    pts = []
    for i in range(k):
        a = angle + 2 * math.pi * i / k
        rr = radii[i % len(radii)]
        pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
    return np.round(np.asarray(pts)).astype(np.int32)


def _draw(
    img: np.ndarray, shape: str, colour: tuple, cx: float, cy: float, r: float, rng
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one object; return its tight xyxy box (from the drawn pixels, so labels match what is visible) and the
    anti-aliased uint8 mask it was blended with (for polygon labels)."""
    mask = np.zeros(img.shape[:2], np.uint8)
    c, ri = (round(cx), round(cy)), round(r)  # Python floats: round() gives int
    if shape == "circle":
        cv2.circle(mask, c, ri, 255, -1, cv2.LINE_AA)
    elif shape == "ring":
        cv2.circle(mask, c, ri, 255, max(2, ri // 3), cv2.LINE_AA)
    elif shape == "square":
        cv2.rectangle(mask, (c[0] - ri, c[1] - ri), (c[0] + ri, c[1] + ri), 255, -1)
    elif shape == "cross":
        t = max(2, ri // 3)
        cv2.rectangle(mask, (c[0] - ri, c[1] - t), (c[0] + ri, c[1] + t), 255, -1)
        cv2.rectangle(mask, (c[0] - t, c[1] - ri), (c[0] + t, c[1] + ri), 255, -1)
    else:
        cv2.fillPoly(mask, [_polygon(shape, cx, cy, r, rng.uniform(0, 2 * math.pi))], 255, cv2.LINE_AA)
    jitter = rng.integers(-25, 26, 3)
    col = np.clip(np.asarray(colour) + jitter, 0, 255).astype(np.float32)
    alpha = (mask.astype(np.float32) / 255.0)[..., None]
    img[:] = (img * (1 - alpha) + col * alpha).astype(np.uint8)
    ys, xs = np.nonzero(mask > 127)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32), mask


def _background(rng, s: int) -> np.ndarray:
    """A smooth two-colour gradient with pixel noise: objects never sit on a flat colour."""
    a, b = rng.integers(30, 140, 3), rng.integers(30, 140, 3)
    t = np.linspace(0, 1, s, dtype=np.float32)
    grad = t[None, :, None] if rng.random() < 0.5 else t[:, None, None]
    img = a * (1 - grad) + b * grad + rng.normal(0, 8, (s, s, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _clutter(img: np.ndarray, rng, n: int) -> None:
    """Distractors: grey strokes and small dim blobs that belong to no class."""
    s = img.shape[0]
    for _ in range(n):
        grey = tuple(int(x) for x in rng.integers(60, 200, 3))
        if rng.random() < 0.5:
            p1, p2 = rng.integers(0, s, 2), rng.integers(0, s, 2)
            cv2.line(img, tuple(int(v) for v in p1), tuple(int(v) for v in p2), grey, int(rng.integers(1, 3)))
        else:
            c = tuple(int(v) for v in rng.integers(0, s, 2))
            cv2.ellipse(img, c, (int(rng.integers(2, 6)), int(rng.integers(2, 6))), 0, 0, 360, grey, -1)


def make_image(cfg: ShapesConfig, rng) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
    """One image and its (class, xyxy box) objects; objects may overlap only slightly."""
    img, objects, _ = make_image_with_masks(cfg, rng)
    return img, objects


def make_image_with_masks(cfg: ShapesConfig, rng) -> tuple[np.ndarray, list[tuple[int, np.ndarray]], list[np.ndarray]]:
    """:func:`make_image` plus each object's full drawn mask (uint8, image-sized, 255 inside), in object order.

    The masks cost no random draws, so this consumes ``rng`` exactly as :func:`make_image` does. A mask is the
    whole object even where a later object slightly overlaps it, like the box.
    """
    img, objects, masks, _ = make_sample(cfg, rng)
    return img, objects, masks


def make_sample(cfg: ShapesConfig, rng) -> tuple[np.ndarray, list, list[np.ndarray], list[np.ndarray]]:
    """One image: its (class, xyxy box) objects, their masks, and each object's geometry in pixels: its
    :data:`KPT_SHAPE` keypoints ``(5, 2)`` (every task but ``obb``; no random draws) or, for ``obb``, the four
    corners ``(4, 2)`` of its rotated rectangle."""
    s = cfg.imgsz
    img = _background(rng, s)
    _clutter(img, rng, cfg.clutter)
    colours = list(COLOURS.values())
    obb = cfg.task == "obb"
    objects, masks, geometry, placed = [], [], [], []
    for _ in range(int(rng.integers(1, cfg.max_objects + 1))):
        for _try in range(20):
            side = rng.uniform(cfg.min_size, cfg.max_size) * s
            aspect = rng.uniform(0.3, 0.65) if obb else 1.0
            r = math.hypot(side, side * aspect) / 2 if obb else side / 2  # the circle the object fits in
            cx, cy = rng.uniform(r, s - r), rng.uniform(r, s - r)
            if all(math.hypot(cx - px, cy - py) > 0.8 * (r + pr) for px, py, pr in placed):
                break
        else:
            continue
        cls = int(rng.integers(0, cfg.classes))
        if obb:
            angle = float(rng.uniform(0, 180))
            box, mask, corners = _draw_rotated(img, OBB_SHAPES[cls % 2], colours[cls], cx, cy, side, aspect, angle, rng)
            geometry.append(corners)
        else:
            box, mask = _draw(img, SHAPES[cls], colours[cls], cx, cy, r, rng)
            geometry.append(np.array([[cx, cy], [cx, cy - r], [cx + r, cy], [cx, cy + r], [cx - r, cy]], np.float32))
        placed.append((cx, cy, r))
        objects.append((cls, box))
        masks.append(mask)
    return img, objects, masks, geometry


def _draw_rotated(
    img: np.ndarray, shape: str, colour: tuple, cx: float, cy: float, length: float, aspect: float, angle: float, rng
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw a rectangle or ellipse ``length`` x ``length * aspect`` turned by ``angle`` degrees; return its tight
    box, its mask and the four corners of its rotated rectangle (``cv2.boxPoints`` order)."""
    mask = np.zeros(img.shape[:2], np.uint8)
    rect = ((cx, cy), (length, length * aspect), angle)
    corners = cv2.boxPoints(rect).astype(np.float32)
    if shape == "rectangle":
        cv2.fillPoly(mask, [np.round(corners).astype(np.int32)], 255, cv2.LINE_AA)
    else:
        cv2.ellipse(mask, rect, 255, -1, cv2.LINE_AA)
    jitter = rng.integers(-25, 26, 3)
    col = np.clip(np.asarray(colour) + jitter, 0, 255).astype(np.float32)
    alpha = (mask.astype(np.float32) / 255.0)[..., None]
    img[:] = (img * (1 - alpha) + col * alpha).astype(np.uint8)
    ys, xs = np.nonzero(mask > 127)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32), mask, corners


def _bridge(outer: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Splice ``hole`` into ``outer`` through a zero-width cut between their closest vertices.

    The result walks the outer contour to the cut, around the hole the opposite way, and back along the cut, so an
    even-odd or non-zero fill (``cv2.fillPoly``, Ultralytics' ``polygon2mask``) leaves the hole empty and the cut,
    which lies inside the object, adds no area. This is how Ultralytics' COCO converter (``merge_multi_segment``)
    joins multi-part segments into the one polygon a YOLO label line can hold.
    """
    if (cv2.contourArea(outer, oriented=True) > 0) == (cv2.contourArea(hole, oriented=True) > 0):
        hole = hole[::-1]
    d = ((outer[:, None, :].astype(np.float64) - hole[None, :, :]) ** 2).sum(-1)
    i, j = np.unravel_index(int(d.argmin()), d.shape)
    hole = np.roll(hole, -j, axis=0)
    return np.concatenate([outer[: i + 1], hole, hole[:1], outer[i:]])


def mask_polygon(mask: np.ndarray, epsilon: float = 0.3) -> np.ndarray:
    """The outline of a drawn object as one polygon, in pixel-centre coordinates (pixel ``(x, y)`` covers
    ``[x, x + 1) x [y, y + 1)``, so its centre is ``(x + 0.5, y + 0.5)``).

    The polygon is traced from the pixels the box label also comes from (``mask > 127``): the largest external
    contour, through its boundary pixels' centres, so it lies half a pixel inside the box on every side and
    ``cv2.fillPoly`` of it (as Ultralytics' ``polygon2mask`` rasterises training masks) gives back the mask's
    pixels. ``cv2.approxPolyDP`` with ``epsilon`` 0.3 px drops the collinear vertices (about half of them) and, on
    every shape and size tried, no vertex that carries a pixel; 0.5 px would halve them again but loses corner
    pixels of small objects (IoU down to ~0.9).
    Holes of the contour (the ``ring``'s inside) are bridged into it with a zero-width cut (see :func:`_bridge`)
    rather than dropped, so a ring's polygon does not claim the background in its middle.

    Args:
        mask: uint8 object mask (255 inside), as from :func:`make_image_with_masks`.
        epsilon: ``approxPolyDP`` tolerance in pixels; 0 keeps every contour vertex.

    Returns:
        (np.ndarray): ``(n, 2)`` float32 x, y vertices in pixels, ``n >= 3``.

    Raises:
        ValueError: the mask has no pixel above 127.
    """
    binary = (mask > 127).astype(np.uint8)
    contours, hierarchy = cv2.findContours(binary, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)

    def simplify(c: np.ndarray) -> np.ndarray:
        approx = cv2.approxPolyDP(c, epsilon, True) if epsilon > 0 else c
        return (approx if len(approx) >= 3 else c).reshape(-1, 2)

    outer_ids = [k for k in range(len(contours)) if hierarchy[0][k][3] < 0]
    if not outer_ids:  # nothing above the threshold: no outline to trace
        raise ValueError("mask_polygon: empty mask")
    k = max(outer_ids, key=lambda k: (cv2.contourArea(contours[k]), len(contours[k])))
    poly = simplify(contours[k])
    if len(poly) < 3 or cv2.contourArea(poly) == 0:  # a dot or a one-pixel line: outline its pixels' box instead
        ys, xs = np.nonzero(binary)
        x1, y1, x2, y2 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float32)
    child = hierarchy[0][k][2]  # RETR_CCOMP: the holes of contour k are its child and the child's siblings
    while child >= 0:
        hole = simplify(contours[child])
        if len(hole) >= 3:
            poly = _bridge(poly, hole)
        child = hierarchy[0][child][0]
    return poly.astype(np.float32) + 0.5


def _label_line(cls: int, box: np.ndarray, mask: np.ndarray, cfg: ShapesConfig, geometry: np.ndarray) -> str:
    """One YOLO label line: ``cls x y w h`` for detect, ``cls x1 y1 ... xn yn`` (normalised, in [0, 1]) for segment,
    the box and ``x y 2`` per keypoint for pose, ``cls x1 y1 ... x4 y4`` (the rotated rectangle) for obb."""
    s = cfg.imgsz
    if cfg.task in ("segment", "obb"):
        xy = np.clip((mask_polygon(mask) if cfg.task == "segment" else geometry) / s, 0.0, 1.0)
        return f"{cls} " + " ".join(f"{v:.6f}" for v in xy.ravel())
    x1, y1, x2, y2 = box
    line = f"{cls} {(x1 + x2) / 2 / s:.6f} {(y1 + y2) / 2 / s:.6f} {(x2 - x1) / s:.6f} {(y2 - y1) / s:.6f}"
    if cfg.task == "pose":
        line += "".join(f" {x:.6f} {y:.6f} 2" for x, y in np.clip(geometry / s, 0.0, 1.0))
    return line


def iter_samples(
    cfg: ShapesConfig,
) -> Iterator[tuple[str, str, np.ndarray, list[tuple[int, np.ndarray]], list[np.ndarray]]]:
    """Every image of the set in file order, as ``(split, stem, image, objects, masks)``.

    This is the one random stream :func:`generate` writes from, so it also re-creates a written set's objects and
    masks (e.g. to check its labels) without reading any file.
    """
    for split, stem, img, objects, masks, _ in _iter_full(cfg):
        yield split, stem, img, objects, masks


def _iter_full(cfg: ShapesConfig) -> Iterator[tuple]:
    """:func:`iter_samples` with each object's geometry (:func:`make_sample`) as a sixth item."""
    rng = np.random.default_rng(cfg.seed)
    for split, n in (("train", cfg.train), ("val", cfg.val)):
        for i in range(n):
            img, objects, masks, geometry = make_sample(cfg, rng)
            yield split, f"{split}_{i:05d}", img, objects, masks, geometry


def generate(root: str | Path, cfg: ShapesConfig) -> Path:
    """Write ``images/{train,val}`` and ``labels/{train,val}`` under ``root`` (YOLO txt labels, boxes or polygons).

    Args:
        root: dataset folder to create; written to a temporary sibling first, then renamed, so an interrupted run
            never leaves a half-written set behind.
        cfg: what to generate.

    Returns:
        (Path): ``root``.
    """
    root = Path(root)
    tmp = root.with_name(f".{root.name}.partial-{np.random.SeedSequence().entropy % 10**8}")
    for split in ("train", "val"):  # made even when empty, as before
        (tmp / "images" / split).mkdir(parents=True, exist_ok=True)
        (tmp / "labels" / split).mkdir(parents=True, exist_ok=True)
    for split, stem, img, objects, masks, geometry in _iter_full(cfg):
        cv2.imwrite(str(tmp / "images" / split / f"{stem}.png"), img)
        lines = [_label_line(cls, box, m, cfg, g) for (cls, box), m, g in zip(objects, masks, geometry)]
        (tmp / "labels" / split / f"{stem}.txt").write_text("\n".join(lines) + "\n")
    root.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp.rename(root)
    except OSError:  # another process finished first: keep theirs (same seed, same files)
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return root
