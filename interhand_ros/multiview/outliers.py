"""Observations that disagree with the other views, rejected per joint and then per view.

An observation is rejected when leaving it out makes the other views agree (the smallest worst
ray error among all the ways to leave one view out, and at most max_error_px / 2) while it lies
more than max_error_px from where they put the joint. That needs at least three views of the
joint: two rays always meet somewhere, so with two views a disagreement can be measured (the
fused confidence drops with it) but not blamed on one of them. The worst error of the remaining
views, not the left-out view's own error, picks the culprit: a bad view drags the all-view
point, and a point triangulated from a bad view and a good one can land far from a third, good
view. All joints and left-out views go through one batched triangulation per round, repeated
while three views of a joint remain. A view that loses more than max_fraction of a hand's
joints this way loses the whole hand (a bad view, not a bad joint) and is named with the reason.
"""
from __future__ import annotations

import numpy as np

from interhand_ros.multiview.stack import ViewStack
from interhand_ros.multiview.triangulation import ray_errors_px, triangulate

_MIN_VIEWS_TO_BLAME = 3


def reject_outliers(stack: ViewStack, side: int, max_error_px: float, max_fraction: float
                    ) -> dict[int, str]:
    """Drop the disagreeing observations of one side in place; returns view -> reason for the
    views that lost the hand."""
    observed_before = stack.weights[side] > 0
    count = len(stack.names)
    for _ in range(count - 2):
        weights, rays = stack.weights[side], stack.rays[side]
        blamable = np.count_nonzero(weights > 0, axis=0) >= _MIN_VIEWS_TO_BLAME
        if not blamable.any():
            break
        trial = np.repeat(weights[None][:, :, blamable], count, axis=0)  # (left out, V, j)
        trial[np.arange(count), np.arange(count)] = 0.0
        points = triangulate(stack.projections, rays[None][:, :, blamable], trial)
        errors = ray_errors_px(stack.projections, stack.focal_px, points,
                               rays[None][:, :, blamable])             # (left out, V, j)
        others = np.where(trial > 0, errors, 0.0).max(axis=1)           # (left out, j)
        others[~(weights[:, blamable] > 0)] = np.inf                    # only seen ones
        culprit = np.argmin(others, axis=0)
        columns = np.arange(culprit.size)
        own = errors[culprit, culprit, columns]
        guilty = (others[culprit, columns] <= max_error_px / 2) & (own > max_error_px)
        if not guilty.any():
            break
        stack.drop(side, culprit[guilty], np.flatnonzero(blamable)[guilty])
    lost = observed_before & (stack.weights[side] == 0)
    reasons = {}
    for view in np.flatnonzero(observed_before.any(axis=1)):
        fraction = lost[view].sum() / observed_before[view].sum()
        if fraction > max_fraction:
            stack.drop(side, view)
            reasons[int(view)] = (f'{fraction:.0%} of its joints more than {max_error_px:g} px '
                                  'from where the other views put them')
    return reasons
