"""Builders of hand estimates with known values, shared by the node tests (a helper module, not
a test file: pytest does not collect it)."""
from __future__ import annotations

import numpy as np

from interhand_ros.estimate import DepthSource, EstimatorKind, HandEstimate, TwoHandEstimate
from interhand_ros.geometry.box import Box
from interhand_ros.skeleton import NUM_JOINTS


def make_hand(side: str, detected: bool = True, offset: float = 0.0,
              invalid: tuple[int, ...] = ()) -> HandEstimate:
    """A detected hand: joints spread around (offset, 0, 0.5) m, pixels around (100+, 80)."""
    if not detected:
        return HandEstimate(side=side, presence=0.1, detected=False)
    rng = np.random.default_rng(3 if side == 'right' else 4)
    joints = np.array([offset, 0.0, 0.5]) + rng.uniform(-0.05, 0.05, size=(NUM_JOINTS, 3))
    pixels = np.array([100.0 + 200 * offset, 80.0]) + rng.uniform(-30, 30, size=(NUM_JOINTS, 2))
    valid = np.ones(NUM_JOINTS, dtype=bool)
    valid[list(invalid)] = False
    joints[~valid] = np.nan
    angle = 0.3
    return HandEstimate(
        side=side, presence=0.9, detected=True, joints=joints, pixels=pixels,
        confidence=rng.uniform(0.5, 1.0, NUM_JOINTS), valid=valid,
        wrist_position=joints[0].copy(),
        wrist_quaternion=np.array([0.0, 0.0, np.sin(angle / 2), np.cos(angle / 2)]),
        depth_source=DepthSource.HAND_SIZE)


def make_estimate(right: bool = True, left: bool = True,
                  roi: Box = Box(-10.0, 20.5, 200.0, 150.0)) -> TwoHandEstimate:
    right_hand = make_hand('right', right, offset=-0.1)
    left_hand = make_hand('left', left, offset=0.1, invalid=(3, 7))
    both = right and left
    return TwoHandEstimate(
        right=right_hand, left=left_hand, relative_root_depth=0.02 if both else 0.0,
        relative_root_depth_valid=both,
        right_to_left_root=(left_hand.joints[0] - right_hand.joints[0]) if both
        else np.full(3, np.nan),
        depth_source=DepthSource.HAND_SIZE, estimator=EstimatorKind.INTERNET, roi=roi,
        inference_time=0.123)
