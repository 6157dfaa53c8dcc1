"""Boxes in image pixels: the geometric type of every roi, and the helpers that make them.

Pure maths (numpy only), shared by the roi source, the detector and the landmark fallback.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Box:
    """Axis-aligned box in image pixels: top-left corner (x, y), width w, height h."""

    x: float
    y: float
    w: float
    h: float

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2.0, self.y + self.h / 2.0)


def clip_box(box: Box, width: int, height: int) -> Box | None:
    """The part of box inside a width x height image, or None when nothing of it is inside."""
    x0, y0 = max(box.x, 0.0), max(box.y, 0.0)
    x1, y1 = min(box.x + box.w, float(width)), min(box.y + box.h, float(height))
    if not np.isfinite((x0, y0, x1, y1)).all() or x1 <= x0 or y1 <= y0:
        return None
    return Box(x0, y0, x1 - x0, y1 - y0)


def box_around_points(points: np.ndarray, scale: float = 1.0) -> Box:
    """Bounding box of finite (N, 2) pixel points, grown by `scale` per axis about its centre."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    points = points[np.isfinite(points).all(axis=1)]
    if len(points) == 0:
        raise ValueError('no finite points to box')
    low, high = points.min(axis=0), points.max(axis=0)
    centre, size = (low + high) / 2.0, (high - low) * scale
    return Box(float(centre[0] - size[0] / 2), float(centre[1] - size[1] / 2),
               float(size[0]), float(size[1]))


def union_box(boxes: Sequence[Box]) -> Box:
    """Smallest box holding every box: InterNet takes one roi with all hands that interact."""
    if len(boxes) == 0:
        raise ValueError('union_box needs at least one box')
    for box in boxes:
        if not all(np.isfinite((box.x, box.y, box.w, box.h))) or box.w < 0 or box.h < 0:
            raise ValueError(f'invalid box {box}')
    x0 = min(box.x for box in boxes)
    y0 = min(box.y for box in boxes)
    x1 = max(box.x + box.w for box in boxes)
    y1 = max(box.y + box.h for box in boxes)
    return Box(x0, y0, x1 - x0, y1 - y0)


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when they do not overlap or are empty)."""
    width = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    height = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    intersection = max(width, 0.0) * max(height, 0.0)
    union = a.w * a.h + b.w * b.h - intersection
    return intersection / union if union > 0 else 0.0
