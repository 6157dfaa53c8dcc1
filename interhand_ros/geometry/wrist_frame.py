"""The wrist frame of a hand: the MANO convention dex-retargeting expects, written once.

dex-retargeting 0.4.6 (example/vector_retargeting/single_hand_detector.py with
dex_retargeting.constants.OPERATOR2MANO_RIGHT / _LEFT) feeds its optimizers joints relative to
the wrist, rotated into this frame:

- z: from the wrist towards the middle finger base (MIDDLE_MCP);
- x: the normal of the palm plane through WRIST, INDEX_MCP and MIDDLE_MCP, pointing out of the
  palm (palmar side) for both hands;
- y = z cross x: towards the thumb side of the right hand, the little-finger side of the left.

The robot URDFs of dex-urdf put their base frames in this convention, which is why vector and
DexPilot retargeting need no further alignment. The same frame is HandPose.wrist_pose, the
/tf wrist frames, hands/<side>/wrist and the wrist markers, so joints_in_wrist_frame gives the
joints' coordinates in all of them. Quaternions are ROS-ordered (x, y, z, w) with w >= 0.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from transforms3d.quaternions import mat2quat, quat2mat

from interhand_ros.skeleton import INDEX_MCP, MIDDLE_MCP, NUM_JOINTS, RIGHT, SIDES, WRIST

_MIN_NORM = 1e-9


def wrist_rotation(joints: ArrayLike, side: str) -> np.ndarray | None:
    """3 x 3 rotation whose columns are the wrist axes x, y, z in the joints' frame.

    None when the palm is degenerate (joints coincide or are collinear) or not finite.
    """
    if side not in SIDES:
        raise ValueError(f"side must be 'right' or 'left', got {side!r}")
    points = np.asarray(joints, dtype=np.float64)
    wrist, index, middle = points[WRIST], points[INDEX_MCP], points[MIDDLE_MCP]
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
    y_axis = lateral / lateral_norm if side == RIGHT else -lateral / lateral_norm
    x_axis = np.cross(y_axis, z_axis)
    return np.column_stack([x_axis, y_axis, z_axis])


def rotation_to_quaternion(rotation: np.ndarray) -> np.ndarray:
    """Unit quaternion (x, y, z, w), ROS order, w >= 0, of a 3 x 3 rotation matrix."""
    w, x, y, z = mat2quat(rotation)
    quaternion = np.array([x, y, z, w])
    return quaternion if w >= 0 else -quaternion


def quaternion_to_rotation(quaternion: ArrayLike) -> np.ndarray:
    """3 x 3 rotation matrix of a ROS-ordered quaternion (x, y, z, w)."""
    x, y, z, w = np.asarray(quaternion, dtype=np.float64)
    return np.asarray(quat2mat((w, x, y, z)))


def identity_quaternion() -> np.ndarray:
    """(x, y, z, w) of no rotation: the orientation of a hand whose wrist frame is degenerate."""
    return np.array([0.0, 0.0, 0.0, 1.0])


def wrist_quaternion(joints: ArrayLike, side: str) -> np.ndarray | None:
    """The wrist frame's orientation as a quaternion (x, y, z, w), or None if degenerate."""
    rotation = wrist_rotation(joints, side)
    return None if rotation is None else rotation_to_quaternion(rotation)


def wrist_pose(joints: ArrayLike, side: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(position (3,), quaternion (x, y, z, w)) of the wrist frame, or None if degenerate."""
    points = np.asarray(joints, dtype=np.float64)
    quaternion = wrist_quaternion(points, side)
    if quaternion is None or not np.isfinite(points[WRIST]).all():
        return None
    return points[WRIST].copy(), quaternion


def joints_in_wrist_frame(joints: ArrayLike, side: str,
                          valid: ArrayLike | None = None) -> np.ndarray:
    """(21, 3) joints relative to the wrist in its wrist frame, metres.

    NaN where valid (per joint, default all) is false; all NaN if the palm is degenerate.
    """
    points = np.asarray(joints, dtype=np.float64)
    if points.shape != (NUM_JOINTS, 3):
        raise ValueError(f'joints must be ({NUM_JOINTS}, 3), got {points.shape}')
    if valid is not None:
        points = np.where(np.asarray(valid, dtype=bool)[:, None], points, np.nan)
    rotation = wrist_rotation(points, side)
    if rotation is None:
        return np.full((NUM_JOINTS, 3), np.nan)
    return (points - points[WRIST]) @ rotation
