"""Each view's left/right labels checked against the other views; a swapped view is swapped back.

A network can swap the two hands in one view (the most reported multi-view complaint). Pairing
one view's 'right' with the others' 'left' then triangulates consistently, while its own labels
do not. When any view disagrees with the rest (median ray error above label_margin_px), every
labelling of the views is scored (up to MAX_SEARCH views: 2^(V-1) labellings, the first view
held) by the median ray error of each view and side against the points the labelling
triangulates; an observation no other view can be paired with costs max_reprojection_px.
The lowest cost wins if it beats the views' own labels by label_margin_px per view.

Geometry alone says which views disagree, not which side is right: the smaller group is the
swapped one. A tie (two views, or two against two) is settled by the last fused wrists when
recent, else by each hand's chirality (fingers curl towards the palm, whose normal
index x pinky points palmar for a right hand), else the views with the higher confidence keep
their labels.
"""
from __future__ import annotations

import itertools
import warnings

import numpy as np

from interhand_ros.multiview.stack import ViewStack
from interhand_ros.multiview.triangulation import ray_errors_px, triangulate
from interhand_ros.skeleton import INDEX_MCP, PINKY_MCP, WRIST

MAX_SEARCH = 8
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
    flips = np.array([(0, *rest) for rest in itertools.product((0, 1), repeat=len(views) - 1)])
    costs = _costs(stack, views, flips, unmatched_px)
    if costs[0] <= margin_px * len(views):  # the views agree
        return []
    best = int(np.argmin(costs))
    if costs[0] - costs[best] < margin_px:
        return []
    group = [views[i] for i in np.flatnonzero(flips[best])]
    others = [v for v in views if v not in group]
    if len(group) != len(others):
        return group if len(group) < len(others) else others
    return _settle_tie(stack, group, others, previous)


def _costs(stack: ViewStack, views: list[int], flips: np.ndarray, unmatched_px: float
           ) -> np.ndarray:
    """(A,) summed cost of each labelling (rows of flips, one column per view)."""
    rays, weights = stack.rays[:, views], stack.weights[:, views]
    side = np.where(flips[:, None, :] == 1, 1 - np.arange(2)[None, :, None],
                    np.arange(2)[None, :, None])           # (A, 2, V): which side to read
    column = np.arange(len(views))[None, None, :]
    relabelled_rays = rays[side, column]                   # (A, 2, V, J, 2)
    relabelled_weights = weights[side, column]             # (A, 2, V, J)
    projections = stack.projections[views]
    points = triangulate(projections, relabelled_rays, relabelled_weights)
    errors = ray_errors_px(projections, stack.focal_px[views], points, relabelled_rays)
    observed = relabelled_weights > 0
    errors = np.where(np.isfinite(errors), np.minimum(errors, 10 * unmatched_px), unmatched_px)
    errors = np.where(observed, errors, np.nan)
    with warnings.catch_warnings():  # a view that sees no joint of a side: an all-NaN row
        warnings.simplefilter('ignore', RuntimeWarning)
        medians = np.nanmedian(errors, axis=-1)            # (A, 2, V)
    return np.nansum(medians, axis=(1, 2))


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
