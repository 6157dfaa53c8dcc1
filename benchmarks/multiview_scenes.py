"""Synthetic multi-camera two-hand scenes of known truth (benchmarks/multiview_accuracy.py and the
multi-view tests).

World frame z up. The hands (benchmarks/depth_accuracy.posed_hand: one user's scale, random finger
flexion towards the palm) are posed by depth_accuracy.place_hand in a frontal frame whose viewer
looks along world +x; the cameras stand on the hands' front side, 0.5-1.2 m away, spread in azimuth,
above them, each looking at the hands. Each camera is a 640 x 480 view (f 540-660 px) with mild
plumb_bob distortion. A view's estimate is what InterNet would give: 2D joints with Gaussian pixel
noise, relative joint depths with 10 mm noise, the relative root depth with the paper's MRRPE,
lifted by the package's own lift_two_hands with the hand-size prior (its own 3D, the single-view
answer).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from benchmarks.depth_accuracy import ROOT_NOISE_M, place_hand, posed_hand, rotation
from interhand_ros.engine.estimator import EngineConfig, NetworkResult, lift_two_hands
from interhand_ros.estimate import TwoHandEstimate
from interhand_ros.geometry.box import Box
from interhand_ros.geometry.camera import CameraModel
from interhand_ros.geometry.crop import apply_affine, crop_transform, square_and_enlarge
from interhand_ros.multiview.observations import ViewObservation
from interhand_ros.skeleton import LEFT, NUM_JOINTS, RIGHT, ROS_TO_INTERHAND, SIDES, WRIST
from tools.synthetic_scene import look_at

WIDTH, HEIGHT = 640, 480
RELATIVE_DEPTH_NOISE_M = 0.010
# frontal frame (x right, y down, z away from the viewer) -> world (x forward, y left, z up)
WORLD_FROM_FRONT = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
_MARGIN_PX = 10
# depth_accuracy.posed_hand flexes the fingers towards its +z, the side its thumb axis makes
# dorsal: mirrored here so that each side's hand has that side's chirality (fingers flex
# towards the palm), which the label check reads (labels.chirality)
_PALMAR_FLEXION = np.array([1.0, 1.0, -1.0])


@dataclass
class ViewSpec:
    """What to do to one view: its hands' truth shifted by motion (m), a hand missing, its
    labels swapped, outlier joints, a wrong extrinsic rotation (deg)."""

    motion_m: np.ndarray = field(default_factory=lambda: np.zeros(3))
    missing: tuple[str, ...] = ()
    swapped: bool = False
    outlier_fraction: float = 0.0
    outlier_px: float = 50.0
    extrinsic_error_deg: float = 0.0


def camera(rng: np.random.Generator) -> CameraModel:
    focal = rng.uniform(540.0, 660.0)
    k = np.array([[focal, 0, WIDTH / 2 - 0.5 + rng.normal(0, 5)],
                  [0, focal, HEIGHT / 2 - 0.5 + rng.normal(0, 5)], [0, 0, 1]])
    distortion = np.array([rng.uniform(-0.12, 0.08), rng.uniform(-0.05, 0.1),
                           *rng.normal(0, 5e-4, 2), 0.0])
    return CameraModel.from_intrinsics(k, WIDTH, HEIGHT, distortion)


def hands(rng: np.random.Generator, scale: float) -> dict[str, np.ndarray]:
    """Both hands' (21, 3) world joints, right wrist near the origin."""
    right_wrist = rng.normal(0.0, 0.03, 3)
    left_wrist = right_wrist + [rng.uniform(0.06, 0.16), rng.normal(0, 0.03),
                                rng.uniform(-0.08, 0.08)]
    front = {side: place_hand(rng, posed_hand(rng, scale, side) * _PALMAR_FLEXION, wrist)
             for side, wrist in ((RIGHT, right_wrist), (LEFT, left_wrist))}
    return {side: joints @ WORLD_FROM_FRONT.T for side, joints in front.items()}


def rig(rng: np.random.Generator, count: int, target: np.ndarray, distance: tuple[float, float],
        spread_deg: float) -> list[tuple[CameraModel, np.ndarray]]:
    """count cameras on the front side, azimuths spread over about spread_deg, 10-45 deg up."""
    centre = rng.uniform(-15, 15)
    azimuths = np.linspace(-spread_deg / 2, spread_deg / 2, count) + centre \
        + rng.normal(0, 6, count)
    cameras = []
    for azimuth in np.radians(azimuths):
        elevation = np.radians(rng.uniform(10, 45))
        direction = np.array([-np.cos(azimuth) * np.cos(elevation),
                              np.sin(azimuth) * np.cos(elevation), np.sin(elevation)])
        position = target + rng.uniform(*distance) * direction
        pose = look_at(position, target + rng.normal(0, 0.03, 3))
        cameras.append((camera(rng), pose))
    return cameras


def visible(cameras: list[tuple[CameraModel, np.ndarray]], joints: dict[str, np.ndarray]
            ) -> bool:
    for model, pose in cameras:
        for points in joints.values():
            optical = (points - pose[:3, 3]) @ pose[:3, :3]
            pixels = model.camera_to_pixel(optical)
            if np.any(optical[:, 2] < 0.2) or np.any(pixels < _MARGIN_PX) or \
                    np.any(pixels > (WIDTH - _MARGIN_PX, HEIGHT - _MARGIN_PX)):
                return False
    return True


def view_estimate(rng: np.random.Generator, model: CameraModel, pose: np.ndarray,
                  joints: dict[str, np.ndarray], pixel_noise: float, spec: ViewSpec
                  ) -> TwoHandEstimate:
    """The view's own estimate of the (moved) hands, as InterNet + the hand-size prior."""
    optical = {side: (joints[side] + spec.motion_m - pose[:3, 3]) @ pose[:3, :3]
               for side in SIDES}
    pixels = {side: model.camera_to_pixel(optical[side]) for side in SIDES}
    both = np.concatenate(list(pixels.values()))
    low, high = both.min(axis=0), both.max(axis=0)
    box = square_and_enlarge(Box(low[0], low[1], *(high - low)))
    transform, inverse = crop_transform(box)
    order = (LEFT, RIGHT) if spec.swapped else (RIGHT, LEFT)
    crop_xy, depth_rel = [], []
    for side in order:
        noisy = pixels[side] + rng.normal(0, pixel_noise, pixels[side].shape)
        outliers = rng.random(NUM_JOINTS) < spec.outlier_fraction
        angle = rng.uniform(0, 2 * np.pi, NUM_JOINTS)
        noisy[outliers] += spec.outlier_px * np.column_stack([np.cos(angle),
                                                              np.sin(angle)])[outliers]
        crop_xy.append(apply_affine(transform, noisy)[ROS_TO_INTERHAND])
        relative = optical[side][:, 2] - optical[side][WRIST, 2]
        depth_rel.append((relative + rng.normal(0, RELATIVE_DEPTH_NOISE_M, NUM_JOINTS))
                         [ROS_TO_INTERHAND])
    root = optical[order[1]][WRIST, 2] - optical[order[0]][WRIST, 2] + rng.normal(0, ROOT_NOISE_M)
    presence = np.array([0.0 if side in spec.missing else 0.95 for side in order])
    result = NetworkResult(np.concatenate(crop_xy), np.concatenate(depth_rel),
                           np.full(2 * NUM_JOINTS, 0.9), float(root), presence)
    return lift_two_hands(result, inverse, model, None, EngineConfig(depth_mode='hand_size'), box)


def observations(rng: np.random.Generator, cameras: list[tuple[CameraModel, np.ndarray]],
                 joints: dict[str, np.ndarray], pixel_noise: float,
                 specs: dict[int, ViewSpec], stamp_ns: int = 0) -> list[ViewObservation]:
    views = []
    for index, (model, pose) in enumerate(cameras):
        spec = specs.get(index, ViewSpec())
        estimate = view_estimate(rng, model, pose, joints, pixel_noise, spec)
        given = pose.copy()
        if spec.extrinsic_error_deg:
            axis = rng.normal(size=3)
            given[:3, :3] = rotation(axis, np.radians(spec.extrinsic_error_deg)) @ pose[:3, :3]
        views.append(ViewObservation(f'/cam{index + 1}', stamp_ns, model, given, estimate))
    return views


def mpjpe_mm(estimate_joints: np.ndarray, truth: np.ndarray) -> float:
    """Mean per-joint position error over the finite joints, mm (NaN if none)."""
    error = np.linalg.norm(estimate_joints - truth, axis=1)
    error = error[np.isfinite(error)]
    return float(np.mean(error)) * 1e3 if error.size else float('nan')
