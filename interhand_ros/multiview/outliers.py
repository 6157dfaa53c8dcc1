"""Observations that disagree with the other views, rejected per joint and then per view.

Only possible where at least three views see a joint: two rays always meet somewhere, so with
two views a disagreement can be measured (the fused confidence drops with it) but not blamed on
one of them. For each joint whose worst ray error exceeds the limit, every view is left out in
turn (all joints and candidates in one batched triangulation) and the observation whose absence
brings the others' worst error lowest is dropped, if that makes them agree (or halves their
worst error); repeated while three views remain. A view that loses more than max_fraction of a
hand's joints this way loses the whole hand (a bad view, not a bad joint) and is named with the
reason.
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
    projections, focal, rays = stack.projections, stack.focal_px, stack.rays[side]
    observed_before = stack.weights[side] > 0
    for _ in range(len(stack.names) - 2):
        weights = stack.weights[side]
        observed = weights > 0
        points = triangulate(projections, rays, weights)
        errors = np.where(observed, ray_errors_px(projections, focal, points, rays), 0.0)
        suspect = (observed.sum(axis=0) >= _MIN_VIEWS_TO_BLAME) & \
            (errors.max(axis=0) > max_error_px)
        if not suspect.any():
            break
        joints = np.flatnonzero(suspect)
        count = len(stack.names)
        trial = np.repeat(weights[None, :, joints], count, axis=0)     # (V_left_out, V, j)
        trial[np.arange(count), np.arange(count)] = 0.0
        trial_points = triangulate(projections, rays[None, :, joints], trial)
        trial_errors = ray_errors_px(projections, focal, trial_points, rays[None, :, joints])
        trial_errors = np.where(trial > 0, trial_errors, 0.0).max(axis=1)   # (V_left_out, j)
        trial_errors[~observed[:, joints]] = np.inf
        culprit = np.argmin(trial_errors, axis=0)
        remaining = trial_errors[culprit, np.arange(joints.size)]
        better = (remaining <= max_error_px) | (remaining < 0.5 * errors.max(axis=0)[joints])
        if not better.any():
            break
        stack.drop(side, culprit[better], joints[better])
    lost = observed_before & (stack.weights[side] == 0)
    reasons = {}
    for view in np.flatnonzero(observed_before.any(axis=1)):
        fraction = lost[view].sum() / observed_before[view].sum()
        if fraction > max_fraction:
            stack.drop(side, view)
            reasons[int(view)] = (f'{fraction:.0%} of its joints more than {max_error_px:g} px '
                                  'from where the other views put them')
    return reasons
