"""Each hand's joints in its own wrist frame, in the MANO convention dex-retargeting expects.

dex-retargeting 0.4.6 (example/vector_retargeting/single_hand_detector.py with
dex_retargeting.constants.OPERATOR2MANO_RIGHT / _LEFT) feeds its optimizers joints relative to
the wrist, rotated into this frame:

- z: from the wrist towards the middle finger base (MIDDLE_MCP);
- x: the normal of the palm plane through WRIST, INDEX_MCP and MIDDLE_MCP, pointing out of the
  palm (palmar side) for both hands;
- y = z cross x: towards the thumb side of the right hand, the little-finger side of the left.

The robot URDFs of dex-urdf put their base frames in this convention, which is why vector and
DexPilot retargeting need no further alignment. The same rotation is the orientation of the
/tf wrist frames, so joints_wrist are the joints' coordinates in those frames.
"""
from __future__ import annotations

import numpy as np

from interhand_ros.estimate import HandEstimate
from interhand_ros.skeleton import INDEX_MCP, MIDDLE_MCP, NUM_JOINTS, SIDES, WRIST

_MIN_NORM = 1e-9


def mano_rotation(joints: np.ndarray, side: str) -> np.ndarray | None:
    """3 x 3 rotation whose columns are the MANO wrist axes x, y, z in the joints' frame.

    None when the palm is degenerate (joints coincide or are collinear) or not finite.
    """
    if side not in SIDES:
        raise ValueError(f"side must be 'right' or 'left', got {side!r}")
    joints = np.asarray(joints, dtype=np.float64)
    wrist, index, middle = joints[WRIST], joints[INDEX_MCP], joints[MIDDLE_MCP]
    forward = middle - wrist
    towards_index = index - middle
    if not (np.isfinite(forward).all() and np.isfinite(towards_index).all()):
        return None
    forward_norm = np.linalg.norm(forward)
    if forward_norm < _MIN_NORM:
        return None
    z_axis = forward / forward_norm
    lateral = towards_index - np.dot(towards_index, z_axis) * z_axis  # in the palm plane
    lateral_norm = np.linalg.norm(lateral)
    if lateral_norm < _MIN_NORM:
        return None
    y_axis = lateral / lateral_norm if side == 'right' else -lateral / lateral_norm
    x_axis = np.cross(y_axis, z_axis)
    return np.column_stack([x_axis, y_axis, z_axis])


def joints_in_wrist_frame(joints: np.ndarray, side: str) -> np.ndarray:
    """(21, 3) joints relative to the wrist in the MANO wrist frame; all NaN if degenerate."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.shape != (NUM_JOINTS, 3):
        raise ValueError(f'joints must be ({NUM_JOINTS}, 3), got {joints.shape}')
    rotation = mano_rotation(joints, side)
    if rotation is None:
        return np.full((NUM_JOINTS, 3), np.nan)
    return (joints - joints[WRIST]) @ rotation


def rotation_to_quaternion(rotation: np.ndarray) -> np.ndarray:
    """Unit quaternion (x, y, z, w), ROS order, w >= 0, of a 3 x 3 rotation matrix."""
    from transforms3d.quaternions import mat2quat
    w, x, y, z = mat2quat(rotation)
    quaternion = np.array([x, y, z, w])
    return quaternion if w >= 0 else -quaternion


def wrist_pose(joints: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(position (3,), quaternion (x, y, z, w)) of the MANO wrist frame, or None if degenerate."""
    rotation = mano_rotation(joints, side)
    if rotation is None or not np.isfinite(joints[WRIST]).all():
        return None
    return np.asarray(joints[WRIST], dtype=np.float64).copy(), rotation_to_quaternion(rotation)


def wrist_frame_joints(hand: HandEstimate) -> np.ndarray:
    """(21, 3) joints of a HandEstimate in its MANO wrist frame, NaN where not valid."""
    valid = np.asarray(hand.valid, dtype=bool)
    joints = np.where(valid[:, None], np.asarray(hand.joints, dtype=np.float64), np.nan)
    return joints_in_wrist_frame(joints, hand.side)
