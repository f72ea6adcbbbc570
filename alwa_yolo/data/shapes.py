"""The built-in demo set: coloured shapes on noisy backgrounds, generated deterministically with no network.

Classes differ in both shape and colour (a red circle, a green square, ...), objects vary in size and position, and
a ``clutter`` option adds distractor strokes and blobs for a harder configuration. The same seed gives the same
files on every machine (numpy's PCG64 stream and OpenCV's rasteriser), so runs on it are comparable.
"""

from __future__ import annotations

import math
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
    names: list[str] = field(init=False, default_factory=list)

    def __post_init__(self):
        if not 1 <= self.classes <= len(SHAPES):
            raise ValueError(f"shapes: classes must be 1..{len(SHAPES)}, got {self.classes}")
        if not 0 < self.min_size <= self.max_size < 1:
            raise ValueError(f"shapes: need 0 < min_size <= max_size < 1, got {self.min_size}, {self.max_size}")
        colours = list(COLOURS)
        object.__setattr__(self, "names", [f"{colours[i]}_{SHAPES[i]}" for i in range(self.classes)])


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


def _draw(img: np.ndarray, shape: str, colour: tuple, cx: float, cy: float, r: float, rng) -> np.ndarray:
    """Draw one object and return its tight xyxy box (from the drawn pixels, so labels match what is visible)."""
    mask = np.zeros(img.shape[:2], np.uint8)
    c, ri = (int(round(cx)), int(round(cy))), int(round(r))
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
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)


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
    s = cfg.imgsz
    img = _background(rng, s)
    _clutter(img, rng, cfg.clutter)
    colours = list(COLOURS.values())
    objects, placed = [], []
    for _ in range(int(rng.integers(1, cfg.max_objects + 1))):
        for _try in range(20):
            side = rng.uniform(cfg.min_size, cfg.max_size) * s
            r = side / 2
            cx, cy = rng.uniform(r, s - r), rng.uniform(r, s - r)
            if all(math.hypot(cx - px, cy - py) > 0.8 * (r + pr) for px, py, pr in placed):
                break
        else:
            continue
        cls = int(rng.integers(0, cfg.classes))
        box = _draw(img, SHAPES[cls], colours[cls], cx, cy, r, rng)
        placed.append((cx, cy, r))
        objects.append((cls, box))
    return img, objects


def generate(root: str | Path, cfg: ShapesConfig) -> Path:
    """Write ``images/{train,val}`` and ``labels/{train,val}`` under ``root`` (YOLO txt labels).

    Args:
        root: dataset folder to create; written to a temporary sibling first, then renamed, so an interrupted run
            never leaves a half-written set behind.
        cfg: what to generate.

    Returns:
        (Path): ``root``.
    """
    root = Path(root)
    tmp = root.with_name(f".{root.name}.partial-{np.random.SeedSequence().entropy % 10**8}")
    rng = np.random.default_rng(cfg.seed)
    for split, n in (("train", cfg.train), ("val", cfg.val)):
        (tmp / "images" / split).mkdir(parents=True, exist_ok=True)
        (tmp / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img, objects = make_image(cfg, rng)
            stem = f"{split}_{i:05d}"
            cv2.imwrite(str(tmp / "images" / split / f"{stem}.png"), img)
            lines = []
            for cls, (x1, y1, x2, y2) in objects:
                s = cfg.imgsz
                lines.append(f"{cls} {(x1 + x2) / 2 / s:.6f} {(y1 + y2) / 2 / s:.6f} {(x2 - x1) / s:.6f} {(y2 - y1) / s:.6f}")
            (tmp / "labels" / split / f"{stem}.txt").write_text("\n".join(lines) + "\n")
    root.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp.rename(root)
    except OSError:  # another process finished first: keep theirs (same seed, same files)
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return root
