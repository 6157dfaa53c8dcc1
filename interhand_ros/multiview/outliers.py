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
from interhand_ros.skeleton import SIDES

_MIN_VIEWS_TO_BLAME = 3


def reject_outliers(stack: ViewStack, max_error_px: float, max_fraction: float
                    ) -> dict[int, list[str]]:
    """Drop the disagreeing observations of both sides in place; returns view -> reasons
    ('right hand: ...') for the views that lost a hand."""
    observed_before = stack.weights > 0                                  # (2, V, J)
    count = len(stack.names)
    every = np.arange(count)
    for _ in range(count - 2):
        weights = stack.weights
        blamable = np.count_nonzero(weights > 0, axis=1) >= _MIN_VIEWS_TO_BLAME   # (2, J)
        if not blamable.any():
            break
        trial = np.repeat(weights[:, None], count, axis=1)              # (2, left out, V, J)
        trial[:, every, every] = 0.0
        rays = stack.rays[:, None]
        points = triangulate(stack.projections, rays, trial)             # (2, left out, J, 3)
        errors = ray_errors_px(stack.projections, stack.focal_px, points, rays)
        others = np.where(trial > 0, errors, 0.0).max(axis=2)           # (2, left out, J)
        others[~(weights > 0)] = np.inf                                 # only seen ones
        culprit = np.argmin(others, axis=1)                             # (2, J)
        sides, joints = np.indices(culprit.shape)
        own = errors[sides, culprit, culprit, joints]
        guilty = blamable & (others[sides, culprit, joints] <= max_error_px / 2) & \
            (own > max_error_px)
        if not guilty.any():
            break
        stack.weights[sides[guilty], culprit[guilty], joints[guilty]] = 0.0
    lost = observed_before & (stack.weights == 0)
    reasons: dict[int, list[str]] = {}
    for side, view in zip(*np.nonzero(observed_before.any(axis=2))):
        fraction = lost[side, view].sum() / observed_before[side, view].sum()
        if fraction > max_fraction:
            stack.drop(int(side), int(view))
            reasons.setdefault(int(view), []).append(
                f'{SIDES[side]} hand: {fraction:.0%} of its joints more than {max_error_px:g} '
                'px from where the other views put them')
    return reasons
