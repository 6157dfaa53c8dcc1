"""What the calibration needs of rigid transforms beyond geometry/transforms.py (matrix_from,
invert): rotation vectors (OpenCV's and the bundle adjustment's parameters) and averaging.
4x4 matrices; T_a_b maps points in frame b to frame a."""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation


def transform(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """4x4 from a rotation (3x3 matrix or rotation vector) and a translation."""
    matrix = np.eye(4)
    rotation = np.asarray(rotation, dtype=np.float64)
    matrix[:3, :3] = rotation if rotation.shape == (3, 3) else Rotation.from_rotvec(
        rotation.reshape(3)).as_matrix()
    matrix[:3, 3] = np.asarray(translation, dtype=np.float64).reshape(3)
    return matrix


def to_vector(matrix: np.ndarray) -> np.ndarray:
    """(6,) rotation vector then translation."""
    return np.concatenate([Rotation.from_matrix(matrix[:3, :3]).as_rotvec(), matrix[:3, 3]])


def from_vector(vector: np.ndarray) -> np.ndarray:
    return transform(vector[:3], vector[3:6])


def quaternion_xyzw(matrix: np.ndarray) -> np.ndarray:
    """The rotation as [qx, qy, qz, qw] (geometry_msgs order), qw >= 0."""
    quaternion = Rotation.from_matrix(matrix[:3, :3]).as_quat()
    return -quaternion if quaternion[3] < 0 else quaternion


def rotation_angle_deg(matrix: np.ndarray) -> float:
    """Angle of the rotation part in degrees (0 for identity)."""
    return float(np.degrees(Rotation.from_matrix(matrix[:3, :3]).magnitude()))


def robust_mean(matrices: list[np.ndarray]) -> np.ndarray:
    """One transform from several estimates of it: the rotations and translations farthest from
    the median dropped (views where PnP was poor), the rest averaged."""
    rotations = Rotation.from_matrix(np.stack([m[:3, :3] for m in matrices]))
    translations = np.stack([m[:3, 3] for m in matrices])
    median_t = np.median(translations, axis=0)
    distance = np.linalg.norm(translations - median_t, axis=1)
    keep = distance <= max(np.median(distance) * 3.0, 1e-9)
    angles = (rotations * rotations[keep].mean().inv()).magnitude()
    keep &= angles <= max(np.median(angles) * 3.0, 1e-9)
    return transform(rotations[keep].mean().as_matrix(), translations[keep].mean(axis=0))
