"""HandEstimates in the world frame: a triangulated hand, one view's own hand, no hand.

A world-frame hand has no image, so its pixels are NaN; its wrist pose is recomputed from the
world joints (the MANO wrist frame, geometry/wrist_frame) so markers, /tf and the teleop stage
use it unchanged.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from interhand_ros.estimate import DepthSource, HandEstimate
from interhand_ros.geometry.wrist_frame import identity_quaternion, wrist_quaternion
from interhand_ros.multiview.observations import ViewObservation
from interhand_ros.skeleton import NUM_JOINTS, WRIST

_SINGLE_OBSERVATION_FACTOR = 0.5   # a joint one view saw: half that view's confidence


def not_seen(side: str) -> HandEstimate:
    return HandEstimate(side=side, presence=0.0, detected=False)


def triangulated_hand(side: str, joints: np.ndarray, presence: float, confidence: np.ndarray,
                      views_per_joint: np.ndarray, errors_px: np.ndarray,
                      max_error_px: float) -> HandEstimate:
    """A fused hand. confidence (J,): the mean confidence of the observations used; errors_px
    (J,): their RMS reprojection error. The fused confidence falls linearly to 0 at
    max_error_px and is halved for a joint only one view saw."""
    valid = np.isfinite(joints).all(axis=1) & (views_per_joint >= 1)
    agreement = np.clip(1.0 - np.where(np.isnan(errors_px), 0.0, errors_px) / max_error_px,
                        0.0, 1.0)
    fused = np.where(views_per_joint >= 2, 1.0, _SINGLE_OBSERVATION_FACTOR) * agreement
    fused = np.where(valid, np.clip(confidence * fused, 0.0, 1.0), 0.0)
    joints = np.where(valid[:, None], joints, np.nan)
    return _world_hand(HandEstimate(
        side=side, presence=presence, detected=True, joints=joints, confidence=fused,
        valid=valid, depth_source=DepthSource.TRIANGULATED))


def view_hand(view: ViewObservation, hand: HandEstimate, side: str) -> HandEstimate:
    """A view's own hand (labelled `side`: a swapped view's hand changes side) in the world
    frame; its depth source stays the view's own."""
    joints = np.asarray(hand.joints, dtype=np.float64) @ view.rotation.T + view.position
    return _world_hand(replace(hand, side=side, joints=joints, held=False, held_for=0.0,
                               confidence=np.array(hand.confidence, dtype=np.float64),
                               valid=np.array(hand.valid, dtype=bool)))


def _world_hand(hand: HandEstimate) -> HandEstimate:
    quaternion = wrist_quaternion(np.where(hand.valid[:, None], hand.joints, np.nan), hand.side)
    hand.pixels = np.full((NUM_JOINTS, 2), np.nan)
    hand.wrist_position = hand.joints[WRIST].copy() if hand.valid[WRIST] else np.full(3, np.nan)
    hand.wrist_quaternion = identity_quaternion() if quaternion is None else quaternion
    hand.measured_scale = hand.calibrated_scale = float('nan')
    return hand
