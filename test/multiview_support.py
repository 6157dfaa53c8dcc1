"""Exact multi-view observations of known hands, shared by the multi-view tests (a helper
module, not a test file: pytest does not collect it)."""
from __future__ import annotations

import numpy as np

from interhand_ros.estimate import DepthSource, EstimatorKind, HandEstimate, TwoHandEstimate
from interhand_ros.geometry.box import Box
from interhand_ros.geometry.camera import CameraModel
from interhand_ros.multiview.observations import ViewObservation
from interhand_ros.skeleton import LEFT, NUM_JOINTS, RIGHT, SIDES
from tools.synthetic_hands import hand_joints
from tools.synthetic_scene import look_at

DISTORTED = CameraModel.from_intrinsics(
    np.array([[600.0, 0, 318.0], [0, 605.0, 243.0], [0, 0, 1]]), 640, 480,
    np.array([-0.1, 0.05, 0.001, -0.001, 0.0]))


def world_hands() -> dict[str, np.ndarray]:
    """Two relaxed hands side by side near the world origin (world: z up; hands facing -x)."""
    front_to_world = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    return {RIGHT: hand_joints(RIGHT, wrist=(-0.08, 0.05, 0.0)) @ front_to_world.T,
            LEFT: hand_joints(LEFT, wrist=(0.08, 0.05, 0.02)) @ front_to_world.T}


def rig(count: int, distance: float = 0.7, spread_deg: float = 100.0
        ) -> list[np.ndarray]:
    """world_from_camera of `count` cameras in front of the hands, spread in azimuth."""
    poses: list[np.ndarray] = []
    for azimuth in np.radians(np.linspace(-spread_deg / 2, spread_deg / 2, count)):
        elevation = np.radians(20.0 + 5.0 * len(poses))
        direction = np.array([-np.cos(azimuth) * np.cos(elevation),
                              np.sin(azimuth) * np.cos(elevation), np.sin(elevation)])
        poses.append(look_at(distance * direction, np.array([0.0, 0.0, -0.05])))
    return poses


def observed_hand(side: str, joints_world: np.ndarray, pose: np.ndarray,
                  camera: CameraModel) -> HandEstimate:
    """What a perfect estimator reports for this hand: exact pixels and its own 3D."""
    optical = (joints_world - pose[:3, 3]) @ pose[:3, :3]
    return HandEstimate(side=side, presence=0.95, detected=True, joints=optical,
                        pixels=camera.camera_to_pixel(optical),
                        confidence=np.full(NUM_JOINTS, 0.9),
                        valid=np.ones(NUM_JOINTS, dtype=bool), wrist_position=optical[0],
                        depth_source=DepthSource.HAND_SIZE)


def views(hands: dict[str, np.ndarray], poses: list[np.ndarray],
          camera: CameraModel = DISTORTED, stamp_ns: int = 1_000_000_000
          ) -> list[ViewObservation]:
    out = []
    for index, pose in enumerate(poses):
        seen = {side: observed_hand(side, hands[side], pose, camera) if side in hands
                else HandEstimate(side=side, presence=0.05, detected=False) for side in SIDES}
        estimate = TwoHandEstimate(
            right=seen[RIGHT], left=seen[LEFT], relative_root_depth=0.0,
            relative_root_depth_valid=False, right_to_left_root=np.full(3, np.nan),
            depth_source=DepthSource.HAND_SIZE, estimator=EstimatorKind.INTERNET,
            roi=Box(0.0, 0.0, 640.0, 480.0))
        out.append(ViewObservation(f'/cam{index + 1}', stamp_ns, camera, pose, estimate))
    return out


def swapped(view: ViewObservation) -> ViewObservation:
    """The same view with its network's left/right labels exchanged."""
    estimate = view.estimate
    right, left = estimate.left, estimate.right
    right.side, left.side = RIGHT, LEFT
    return ViewObservation(view.name, view.stamp_ns, view.camera, view.world_from_camera,
                           TwoHandEstimate(right=right, left=left, relative_root_depth=0.0,
                                           relative_root_depth_valid=False,
                                           right_to_left_root=np.full(3, np.nan),
                                           depth_source=estimate.depth_source,
                                           estimator=estimate.estimator, roi=estimate.roi))
