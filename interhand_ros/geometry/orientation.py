"""Wrist orientation from the palm plane, as documented in interhand_msgs/HandPose.msg.

Axes: x from the wrist towards the middle finger base, z the palm normal pointing out of the
palm side (for both hands), y = z cross x. The normal comes from the plane through the wrist,
index MCP and pinky MCP; its sign flips between hands because they are mirror images.
"""
from __future__ import annotations

import numpy as np
from transforms3d.quaternions import mat2quat

from interhand_ros.skeleton import INDEX_MCP, MIDDLE_MCP, PINKY_MCP, RIGHT, SIDES, WRIST

_MIN_NORM = 1e-9


def palm_rotation(joints: np.ndarray, side: str) -> np.ndarray | None:
    """3 x 3 rotation (columns x, y, z in the camera frame) or None if the palm is degenerate."""
    if side not in SIDES:
        raise ValueError(f"side must be 'right' or 'left', got {side!r}")
    wrist = joints[WRIST]
    to_index, to_pinky = joints[INDEX_MCP] - wrist, joints[PINKY_MCP] - wrist
    normal = np.cross(to_index, to_pinky) if side == RIGHT else np.cross(to_pinky, to_index)
    forward = joints[MIDDLE_MCP] - wrist
    if not (np.all(np.isfinite(normal)) and np.all(np.isfinite(forward))):
        return None
    normal_norm = np.linalg.norm(normal)
    if normal_norm < _MIN_NORM:
        return None
    z_axis = normal / normal_norm
    x_axis = forward - np.dot(forward, z_axis) * z_axis
    x_norm = np.linalg.norm(x_axis)
    if x_norm < _MIN_NORM:
        return None
    x_axis /= x_norm
    return np.column_stack([x_axis, np.cross(z_axis, x_axis), z_axis])


def palm_quaternion(joints: np.ndarray, side: str) -> np.ndarray | None:
    """Wrist orientation as a unit quaternion in ROS order (x, y, z, w), or None if degenerate."""
    rotation = palm_rotation(np.asarray(joints, dtype=np.float64), side)
    if rotation is None:
        return None
    w, x, y, z = mat2quat(rotation)
    quaternion = np.array([x, y, z, w])
    return quaternion if w >= 0 else -quaternion
