"""What the fuser takes from one camera: its estimate, its calibration and its pose (no ROS).

A ViewObservation is checked when it is built, so a bad transform or a malformed estimate is a
clear ObservationError naming the view instead of a crash deep inside the triangulation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from interhand_ros.estimate import HandEstimate, TwoHandEstimate
from interhand_ros.geometry.camera import CameraModel
from interhand_ros.skeleton import NUM_JOINTS

_ROTATION_TOLERANCE = 1e-4


class ObservationError(ValueError):
    """A view's observation cannot be used: bad pose, camera or estimate arrays."""


@dataclass(frozen=True)
class ViewObservation:
    """One view of one instant.

    name: the view's namespace (e.g. '/cam1'). stamp_ns: its image stamp. camera: from its
    CameraInfo (raw image: K and D). world_from_camera: 4 x 4, metres, the camera's optical
    frame -> the world frame. estimate: the view's own unfiltered estimate; pixels are distorted
    pixels of the original image, joints its own 3D in its optical frame.
    """

    name: str
    stamp_ns: int
    camera: CameraModel
    world_from_camera: np.ndarray
    estimate: TwoHandEstimate

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ObservationError(f'a view needs a non-empty name, got {self.name!r}')
        if not isinstance(self.camera, CameraModel):
            raise ObservationError(f'{self.name}: camera must be a CameraModel, '
                                   f'got {type(self.camera).__name__}')
        pose = np.array(self.world_from_camera, dtype=np.float64)
        check_pose(self.name, pose)
        pose.flags.writeable = False
        object.__setattr__(self, 'world_from_camera', pose)
        for hand in self.estimate.hands():
            check_hand(self.name, hand)

    @property
    def rotation(self) -> np.ndarray:
        """3 x 3 rotation, optical frame -> world."""
        return self.world_from_camera[:3, :3]

    @property
    def position(self) -> np.ndarray:
        """(3,) the camera's optical centre in the world frame, m."""
        return self.world_from_camera[:3, 3]


def check_pose(name: str, pose: np.ndarray) -> None:
    """ObservationError unless pose is a finite 4 x 4 rigid transform."""
    if pose.shape != (4, 4) or not np.all(np.isfinite(pose)):
        raise ObservationError(f'{name}: world_from_camera must be a finite 4 x 4 matrix, '
                               f'got shape {pose.shape}')
    rotation = pose[:3, :3]
    if not np.allclose(pose[3], (0.0, 0.0, 0.0, 1.0)) or \
            not np.allclose(rotation.T @ rotation, np.eye(3), atol=_ROTATION_TOLERANCE) or \
            np.linalg.det(rotation) < 0:
        raise ObservationError(f'{name}: world_from_camera is not a rigid transform '
                               '(rotation not orthonormal, or last row not 0 0 0 1)')


def check_hand(name: str, hand: HandEstimate) -> None:
    """ObservationError unless the hand's arrays have the published shapes."""
    shapes = {'joints': (NUM_JOINTS, 3), 'pixels': (NUM_JOINTS, 2),
              'confidence': (NUM_JOINTS,), 'valid': (NUM_JOINTS,)}
    for field, shape in shapes.items():
        value = np.asarray(getattr(hand, field))
        if value.shape != shape:
            raise ObservationError(f'{name}: {hand.side} hand {field} must have shape {shape}, '
                                   f'got {value.shape}')
