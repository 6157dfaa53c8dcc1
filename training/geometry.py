"""InterHand2.6M camera conventions (millimetres, pinhole without distortion), vectorised.

The dataset stores per-camera `campos` (camera centre in world) and `camrot` (world -> camera
rotation); the official code maps X_cam = R (X_world - campos) and projects with a 1e-8 guard
on z. Kept here, not in interhand_ros.geometry.camera, because these are per-sample dataset
parameters in mm rather than one calibrated ROS camera in metres.
"""
from __future__ import annotations

import numpy as np

_Z_EPS = 1e-8


def world_to_camera(points_world: np.ndarray, camrot: np.ndarray,
                    campos: np.ndarray) -> np.ndarray:
    """(..., K, 3) world mm -> camera mm: R (X - C); camrot (..., 3, 3), campos (..., 1, 3)."""
    return (points_world - campos) @ np.swapaxes(camrot, -1, -2)


def camera_to_pixel(points_cam: np.ndarray, focal: np.ndarray,
                    princpt: np.ndarray) -> np.ndarray:
    """(..., 3) camera mm -> (..., 2) pixels."""
    z = points_cam[..., 2:3] + _Z_EPS
    return points_cam[..., :2] / z * focal + princpt


def pixel_to_camera(pixels_depth: np.ndarray, focal: np.ndarray,
                    princpt: np.ndarray) -> np.ndarray:
    """(..., 3) of (u, v, z mm) -> (..., 3) camera mm (the official pixel2cam)."""
    xy = (pixels_depth[..., :2] - princpt) / focal * pixels_depth[..., 2:3]
    return np.concatenate([xy, pixels_depth[..., 2:3]], axis=-1)
