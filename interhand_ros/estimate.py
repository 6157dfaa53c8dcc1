"""Plain data returned by every hand-pose estimator (InterNet engine, landmark fallback).

No ROS types here: the node converts these to interhand_msgs, the offline runner to JSON/CSV.
Units: metres and pixels of the ORIGINAL input image; 3D in the camera optical frame
(REP-103: x right, y down, z forward).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Protocol

import numpy as np

from interhand_ros.geometry.box import Box
from interhand_ros.geometry.wrist_frame import identity_quaternion
from interhand_ros.skeleton import NUM_JOINTS

if TYPE_CHECKING:  # annotations only: camera and root_depth import this module's types
    from interhand_ros.geometry.camera import CameraModel
    from interhand_ros.geometry.root_depth import DepthImage


class DepthSource(IntEnum):
    """How a hand's absolute root depth was obtained (= interhand_msgs/HandPose.DEPTH_*)."""

    NONE = 0
    DEPTH_IMAGE = 1
    HAND_SIZE = 2
    FIXED = 3
    OTHER_HAND = 4
    PNP = 5
    TRIANGULATED = 6   # several calibrated views (interhand_ros.multiview), world frame


class EstimatorKind(IntEnum):
    """Which estimator produced a result (= interhand_msgs/TwoHandPose.ESTIMATOR_*)."""

    INTERNET = 0
    LANDMARK = 1


@dataclass
class HandEstimate:
    """One hand. Arrays are in published joint order (skeleton.JOINT_NAMES)."""

    side: str                    # 'right' or 'left' (the subject's hand)
    presence: float              # probability the hand is in the crop, 0..1
    detected: bool               # presence >= threshold
    joints: np.ndarray = field(default_factory=lambda: np.full((NUM_JOINTS, 3), np.nan))  # m
    pixels: np.ndarray = field(default_factory=lambda: np.full((NUM_JOINTS, 2), np.nan))  # px
    confidence: np.ndarray = field(default_factory=lambda: np.zeros(NUM_JOINTS))          # 0..1
    valid: np.ndarray = field(default_factory=lambda: np.zeros(NUM_JOINTS, dtype=bool))
    wrist_position: np.ndarray = field(default_factory=lambda: np.full(3, np.nan))        # m
    wrist_quaternion: np.ndarray = field(default_factory=identity_quaternion)  # x,y,z,w (ROS)
    depth_source: DepthSource = DepthSource.NONE
    # Hand size relative to the mean adult hand (geometry/hand_scale.py): measured_scale from
    # this image's depth (NaN unless depth_source is DEPTH_IMAGE); calibrated_scale the
    # estimator's running estimate after this image (NaN while it has none).
    measured_scale: float = math.nan
    calibrated_scale: float = math.nan
    # Teleoperation (interhand_ros.teleop): the last pose kept while the hand is briefly lost,
    # not a measurement of this image; held_for: s since the image it was measured in.
    held: bool = False
    held_for: float = 0.0


@dataclass
class TwoHandEstimate:
    """Both hands of one image; a hand that is not detected is still present (detected=False)."""

    right: HandEstimate
    left: HandEstimate
    relative_root_depth: float       # m, left wrist depth minus right wrist depth (model output)
    relative_root_depth_valid: bool  # both hands detected
    right_to_left_root: np.ndarray   # (3,) m, left wrist minus right wrist; NaN unless both
    depth_source: DepthSource        # how the scene's absolute depth was anchored
    estimator: EstimatorKind
    roi: Box                         # image region looked at (InterNet: its crop's box), px
    inference_time: float = 0.0      # s
    # m, measured (left - right) root depth minus relative_root_depth: NaN unless both hands'
    # roots came from the depth image (a misregistered depth image or swapped sides show here)
    root_depth_disagreement: float = math.nan
    filtered: bool = False           # joints temporally filtered (interhand_ros.teleop)

    def hands(self) -> tuple[HandEstimate, HandEstimate]:
        return (self.right, self.left)


def check_rgb_image(image: np.ndarray) -> tuple[int, int]:
    """(height, width) of a valid estimator input; ValueError unless it is uint8 (H, W, 3)."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 \
            or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError('image must be an RGB uint8 array of shape (H, W, 3), got '
                         f'{getattr(image, "dtype", type(image))} {getattr(image, "shape", "")}')
    return image.shape[0], image.shape[1]


def no_checkpoint_message(how_to_pass: str) -> str:
    """What to log when no InterNet checkpoint is given; how_to_pass: the user's way to set it."""
    return ('No checkpoint given: InterNet is NOT loaded; using the bundled MediaPipe landmark '
            'fallback (single-hand landmarks lifted to 3D, no two-hand interaction model). To '
            'run InterNet, download the official pretrained snapshot_20.pth.tar (Google Drive '
            'links in the facebookresearch/InterHand2.6M README, "InterHand2.6M 5 fps v1.0 '
            f'H+M") or train one (python -m training.train), then {how_to_pass}.')


class HandPoseEstimator(Protocol):
    """What the node and the offline runner need from an estimator."""

    # True when it searches the whole image for hands itself (the MediaPipe fallback): a roi
    # detector in front of it would only add a second detector's cost.
    finds_hands: bool

    def estimate(self, image_rgb: np.ndarray, camera: CameraModel,
                 roi: Box | None = None,
                 depth: DepthImage | None = None) -> TwoHandEstimate:
        """Estimate both hands in an RGB uint8 (H, W, 3) image.

        roi: image region holding the hands (None: the whole image). depth: optional registered
        depth image.
        """
        ...

    def describe(self) -> str:
        """One line naming what runs (e.g. 'InterNet openvino fp32 on cpu (backend auto)'), for
        the node's log and its /diagnostics `estimator` value."""
        ...

    def close(self) -> None:
        """Free the model and its runtime; whoever built the estimator calls it once, last."""
        ...
