"""A known two-hand scene seen by known cameras, for the fusion tests (no rclpy, no model).

Both hands move slowly in front of a ring of cameras (world frame z up, REP-103); every view's
estimate is what a hands node would publish for it: distorted pixels of the known 3D joints
(plus seeded noise), its own 3D with a depth-scale error (the hand-size prior's), confidences.
Every process that builds the scene with the same arguments gets the same cameras and the same
hands at a stamp, so separate view processes agree with the test that checks the fused output.
Faults: labels swapped, pixels shifted (an outlier view).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from interhand_ros.estimate import DepthSource, EstimatorKind, HandEstimate, TwoHandEstimate
from interhand_ros.geometry.box import Box
from interhand_ros.geometry.transforms import apply, invert
from interhand_ros.geometry.wrist_frame import identity_quaternion, wrist_quaternion
from interhand_ros.skeleton import LEFT, NUM_JOINTS, RIGHT, SIDES
from tools.synthetic_hands import hand_joints

WORLD = 'world'
WIDTH, HEIGHT, FOCAL = 640, 480, 520.0
DISTORTION = np.array([-0.08, 0.03, 0.0005, -0.0003, 0.0])  # plumb_bob, a webcam's order
CENTRE = np.array([0.0, 0.0, 1.0])  # m, where the hands are (above a table)
AZIMUTHS_DEG = (180.0, 140.0, 220.0, 110.0)  # around the hands' palms (they face -x)
RADIUS, RISE = 0.7, 0.35  # m from the hands, and above them
OWN_DEPTH_SCALE = 1.04  # a view's own 3D: 4 % too far (the hand-size prior's typical error)
# The hands' pose in the world: as a camera looking along +x would see them (optical frame:
# x right = -y world, y down = -z world, z forward = +x world), palms towards that camera.
_WORLD_FROM_POSE = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


@dataclass(frozen=True)
class SceneCamera:
    """A camera of the scene: pinhole K + plumb_bob distortion, world <- optical frame."""

    name: str
    frame_id: str
    world_from_camera: np.ndarray
    k: np.ndarray

    def camera_info_fields(self) -> dict:
        """sensor_msgs/CameraInfo fields (raw image: K and D; P without distortion)."""
        p = np.hstack([self.k, np.zeros((3, 1))])
        return {'width': WIDTH, 'height': HEIGHT, 'distortion_model': 'plumb_bob',
                'd': DISTORTION.tolist(), 'k': self.k.ravel().tolist(),
                'r': np.eye(3).ravel().tolist(), 'p': p.ravel().tolist()}

    def project(self, world_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(pixels (N, 2) distorted, points (N, 3) in the optical frame)."""
        points = apply(invert(self.world_from_camera), world_points)
        pixels, _ = cv2.projectPoints(points, np.zeros(3), np.zeros(3), self.k, DISTORTION)
        return pixels.reshape(-1, 2), points


def look_at(position: np.ndarray, target: np.ndarray, roll_deg: float = 0.0) -> np.ndarray:
    """world <- optical frame (z forward, y down) of a camera at position looking at target,
    image up = world z, turned by roll_deg about its optical axis (the one look_at of the
    synthetic scenes, the multi-view benchmark and the ChArUco renderer)."""
    forward = (target - position) / np.linalg.norm(target - position)
    right = np.cross(forward, (0.0, 0.0, 1.0))
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    cos, sin = np.cos(np.radians(roll_deg)), np.sin(np.radians(roll_deg))
    roll = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
    pose = np.eye(4)
    pose[:3, :3] = np.column_stack([right, down, forward]) @ roll
    pose[:3, 3] = position
    return pose


def cameras(count: int) -> list[SceneCamera]:
    """cam1..camN on the ring (at most len(AZIMUTHS_DEG))."""
    k = np.array([[FOCAL, 0.0, WIDTH / 2 - 0.5], [0.0, FOCAL, HEIGHT / 2 - 0.5], [0, 0, 1]])
    result = []
    for index, azimuth in enumerate(np.deg2rad(AZIMUTHS_DEG[:count]), start=1):
        position = CENTRE + np.array([RADIUS * np.cos(azimuth), RADIUS * np.sin(azimuth), RISE])
        result.append(SceneCamera(f'cam{index}', f'cam{index}_color_optical_frame',
                                  look_at(position, CENTRE), k))
    return result


def hands_at(t_s: float) -> dict[str, np.ndarray]:
    """Side -> (21, 3) world joints at time t_s (s): wrists 24 cm apart, bobbing 5 cm at 0.5 Hz."""
    bob = 0.05 * np.sin(2 * np.pi * 0.5 * t_s)
    result = {}
    for side, lateral in ((RIGHT, -0.12), (LEFT, 0.12)):
        local = hand_joints(side, wrist=(0.0, 0.0, 0.0)) @ _WORLD_FROM_POSE.T
        result[side] = local + CENTRE + np.array([0.0, lateral, bob - 0.08])
    return result


def view_estimate(camera: SceneCamera, t_s: float, noise_px: float = 0.5, seed: int = 0,
                  swap: bool = False, shift_px: float = 0.0) -> TwoHandEstimate:
    """What a hands node on `camera` publishes for the instant t_s (seeded noise)."""
    rng = np.random.default_rng([seed, int(round(t_s * 1e3)) % 2**31, int(camera.name[3:])])
    hands = {}
    for side, world in hands_at(t_s).items():
        pixels, points = camera.project(world)
        pixels = pixels + rng.normal(0.0, noise_px, pixels.shape) + shift_px
        own = points * OWN_DEPTH_SCALE
        quaternion = wrist_quaternion(own, side)
        hands[side] = HandEstimate(
            side=side, presence=0.95, detected=True, joints=own, pixels=pixels,
            confidence=np.full(NUM_JOINTS, 0.9), valid=np.ones(NUM_JOINTS, dtype=bool),
            wrist_position=own[0].copy(),
            wrist_quaternion=identity_quaternion() if quaternion is None else quaternion,
            depth_source=DepthSource.HAND_SIZE)
    if swap:
        hands = {RIGHT: replace(hands[LEFT], side=RIGHT), LEFT: replace(hands[RIGHT], side=LEFT)}
    every = np.vstack([hands[side].pixels for side in SIDES])
    low = np.clip(np.floor(every.min(axis=0)) - 20, 0, None)
    high = np.minimum(np.ceil(every.max(axis=0)) + 20, (WIDTH, HEIGHT))
    right_to_left = hands[LEFT].joints[0] - hands[RIGHT].joints[0]
    return TwoHandEstimate(
        right=hands[RIGHT], left=hands[LEFT], relative_root_depth=float(right_to_left[2]),
        relative_root_depth_valid=True, right_to_left_root=right_to_left,
        depth_source=DepthSource.HAND_SIZE, estimator=EstimatorKind.INTERNET,
        roi=Box(float(low[0]), float(low[1]), float(high[0] - low[0]), float(high[1] - low[1])))
