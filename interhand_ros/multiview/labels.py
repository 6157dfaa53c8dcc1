"""Each view's left/right labels checked against the other views; a swapped view is swapped back.

A network can swap the two hands in one view (the most reported multi-view complaint). Pairing one
view's 'right' with the others' 'left' then triangulates consistently, while its own labels do not.
When any view disagrees with the rest (median ray error above label_margin_px, or own 3D more than
SHAPE_MARGIN_M from the others'), every labelling of the views is scored (up to MAX_SEARCH views:
2^(V-1) labellings, the first view held) by the median ray error of each view and side against the
points the labelling triangulates (an observation no other view can be paired with costs
max_reprojection_px), plus how far each view's own wrist-relative 3D (world frame) lies from the
other views' for that side: two cameras side by side see two hands side by side along the same
epipolar lines, where rays alone barely tell the pairings apart, while a right hand's shape is not a
left hand's. The lowest cost wins if it beats the views' own labels by label_margin_px.

Geometry alone says which views disagree, not which side is right: the smaller group is the swapped
one. A tie (two views, or two against two) is settled by the last fused wrists when recent, else by
each hand's chirality (fingers curl towards the palm, whose normal index x pinky points palmar for a
right hand), else the views with the higher confidence keep their labels.
"""
from __future__ import annotations

import itertools

import numpy as np

from interhand_ros.multiview.stack import ViewStack
from interhand_ros.multiview.triangulation import (
    lengths,
    masked_median,
    ray_errors_px,
    triangulate,
)
from interhand_ros.skeleton import INDEX_MCP, PINKY_MCP, WRIST

MAX_SEARCH = 8
# the views' own 3D (wrist-relative, world frame) of one hand agree within about this
SHAPE_MARGIN_M = 0.03
SHAPE_PX_PER_M = 400.0   # weight of the own-3D disagreement in the labelling cost: 10 mm = 4 px
# the joints beyond each finger's base: their offset from the palm plane says which side curls
_FINGER_JOINTS = np.array([3, 4, 6, 7, 8, 10, 11, 12, 14, 15, 16, 18, 19, 20])
_CHIRALITY_MARGIN_M = 0.005


def find_swapped(stack: ViewStack, unmatched_px: float, margin_px: float,
                 previous: dict[int, np.ndarray] | None = None) -> list[int]:
    """Indices of the views whose labels are swapped (not yet swapped back).

    previous: side index -> the last fused wrist (world), if recent.
    """
    views = [v for v in range(len(stack.names)) if stack.weights[:, v].any()]
    if len(views) < 2 or len(views) > MAX_SEARCH:
        return []
    reprojection, shape = _disagreement(stack, views, stack.rays[None][:, :, views],
                                        stack.weights[None][:, :, views],
                                        stack.own[None][:, :, views], unmatched_px)
    if not np.any(reprojection > margin_px) and not np.any(shape > SHAPE_MARGIN_M):  # NaN: no
        return []  # the views agree: the usual case, one triangulation
    flips = np.array([(0, *rest) for rest in itertools.product((0, 1), repeat=len(views) - 1)])
    side = np.where(flips[:, None, :] == 1, 1 - np.arange(2)[None, :, None],
                    np.arange(2)[None, :, None])           # (A, 2, V): which side to read
    column = np.array(views)[None, None, :]
    reprojection, shape = _disagreement(stack, views, stack.rays[side, column],
                                        stack.weights[side, column], stack.own[side, column],
                                        unmatched_px)
    costs = np.nansum(reprojection + SHAPE_PX_PER_M * np.where(np.isnan(shape), 0.0, shape),
                      axis=(1, 2))
    best = int(np.argmin(costs))
    if costs[0] - costs[best] < margin_px:
        return []
    group = [views[i] for i in np.flatnonzero(flips[best])]
    others = [v for v in views if v not in group]
    if len(group) != len(others):
        return group if len(group) < len(others) else others
    return _settle_tie(stack, group, others, previous)


def _disagreement(stack: ViewStack, views: list[int], rays: np.ndarray, weights: np.ndarray,
                  own: np.ndarray, unmatched_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Per labelling, side and view (A, 2, V), given each labelling's rays (A, 2, V, J, 2),
    weights and own 3D of the views: the median ray error against the labelling's
    triangulation (px; NaN: not seen), and the median distance of the view's own
    wrist-relative 3D from the other views' mean (m; NaN: not seen or no other view)."""
    seen = weights > 0
    projections = stack.projections[views]
    points = triangulate(projections, rays, weights)
    errors = ray_errors_px(projections, stack.focal_px[views], points, rays)
    errors = np.where(np.isfinite(errors), np.minimum(errors, 10 * unmatched_px), unmatched_px)
    relative = own - own[..., WRIST:WRIST + 1, :]
    usable = seen & np.isfinite(relative).all(axis=-1)
    relative = np.where(usable[..., None], relative, 0.0)
    count = usable.sum(axis=2, keepdims=True)
    others = (relative.sum(axis=2, keepdims=True) - relative) \
        / np.maximum(count - usable, 1)[..., None]
    distance = lengths(relative - others)
    shape = masked_median(distance, usable & (count - usable > 0))
    return masked_median(errors, seen), shape


def _settle_tie(stack: ViewStack, group: list[int], others: list[int],
                previous: dict[int, np.ndarray] | None) -> list[int]:
    """Which of two equal groups to swap back."""
    as_labelled = _hands(stack, others, group)   # both sides if `group` is swapped back
    if previous:
        keep = _distance(as_labelled, previous)
        flip = _distance(as_labelled[::-1], previous)
        if np.isfinite(keep) and np.isfinite(flip) and abs(keep - flip) > 0.02:
            return group if keep < flip else others
    handedness = chirality(as_labelled[0]) - chirality(as_labelled[1])
    if np.isfinite(handedness) and abs(handedness) > _CHIRALITY_MARGIN_M:
        return group if handedness > 0 else others
    trust = {tuple(g): float(stack.weights[:, g].sum()) for g in (group, others)}
    return group if trust[tuple(others)] >= trust[tuple(group)] else others


def _hands(stack: ViewStack, keep: list[int], swap: list[int]) -> list[np.ndarray]:
    """Both sides' triangulated joints (J, 3) with the views of `swap` swapped back."""
    views = keep + swap
    rays, weights = stack.rays[:, views].copy(), stack.weights[:, views].copy()
    rays[:, len(keep):], weights[:, len(keep):] = rays[::-1, len(keep):], weights[::-1, len(keep):]
    points = triangulate(stack.projections[views], rays, weights)
    return [points[0], points[1]]


def _distance(hands: list[np.ndarray], previous: dict[int, np.ndarray]) -> float:
    total = 0.0
    for side, wrist in previous.items():
        total += float(np.linalg.norm(hands[side][WRIST] - wrist))
    return total


def chirality(joints: np.ndarray) -> float:
    """m: how far the fingers sit on the side of the palm normal index x pinky (from the wrist):
    positive for a right hand that curls its fingers, negative for a left one; NaN if unknown."""
    normal = np.cross(joints[INDEX_MCP] - joints[WRIST], joints[PINKY_MCP] - joints[WRIST])
    length = np.linalg.norm(normal)
    if not np.isfinite(length) or length < 1e-9:
        return float('nan')
    offsets = (joints[_FINGER_JOINTS] - joints[WRIST]) @ (normal / length)
    offsets = offsets[np.isfinite(offsets)]
    return float(np.median(offsets)) if offsets.size else float('nan')
