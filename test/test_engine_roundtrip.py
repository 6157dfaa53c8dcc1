"""Synthetic round trip: known 3D hands + camera -> the 2.5D heatmaps a perfect InterNet would
output -> the engine's decoding and lifting -> the 3D joints back, within the quantization bound.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from transforms3d.euler import euler2mat

from interhand_ros.engine.decoding import decode_heatmaps, metres_to_depth_bins
from interhand_ros.engine.estimator import EngineConfig, NetworkResult, lift_two_hands
from interhand_ros.estimate import DepthSource
from interhand_ros.geometry.box import Box
from interhand_ros.geometry.camera import CameraModel
from interhand_ros.geometry.crop import apply_affine, crop_transform, square_and_enlarge
from interhand_ros.geometry.root_depth import (
    MEAN_BONE_LENGTHS_M,
    DepthImage,
    root_depth_from_hand_size,
)
from interhand_ros.geometry.wrist_frame import wrist_quaternion, wrist_rotation
from interhand_ros.skeleton import BONES, NUM_JOINTS, ROS_TO_INTERHAND, SIDES, WRIST

SIGMA = 2.5
VOXEL_PX = 256 / 64              # crop pixels per heatmap voxel
DEPTH_HALF_BIN_M = 0.4 / 64 / 2  # half a depth bin, metres
# base-joint directions in the palm plane (degrees from wrist->middle MCP), thumb first
_BASE_ANGLES = np.radians([40.0, 12.0, 0.0, -11.0, -22.0])


def synthetic_hand(rng: np.random.Generator, side: str, scale: float = 1.0) -> np.ndarray:
    """A posed hand with the mean bone lengths, wrist at the origin, published joint order.

    Local frame of the right hand: x towards the fingers, y towards the thumb, z out of the back
    of the hand; fingers flex by random angles towards -z, the palm side. The left hand is its
    mirror image (y flipped).
    """
    joints = np.zeros((NUM_JOINTS, 3))
    lengths = MEAN_BONE_LENGTHS_M * scale
    for finger in range(5):
        angle = _BASE_ANGLES[finger]
        direction = np.array([np.cos(angle), np.sin(angle), 0.0])
        lateral = np.array([-np.sin(angle), np.cos(angle), 0.0])
        position = np.zeros(3)
        for level in range(4):
            bone = 4 * finger + level
            if level > 0:
                flexion = rng.uniform(0.0, np.radians(50.0))
                direction = (np.cos(flexion) * direction
                             + np.sin(flexion) * np.cross(lateral, direction))
            position = position + lengths[bone] * direction
            joints[BONES[bone][1]] = position
    if side == 'left':
        joints[:, 1] *= -1.0
    return joints


@dataclass
class Scene:
    camera: CameraModel
    right: np.ndarray        # (21, 3) metres, camera frame
    left: np.ndarray
    box: Box                 # hand box in the image (before squaring)


def make_scene(rng: np.random.Generator, camera: CameraModel, root_depth: float,
               pixel_map=lambda uv: uv) -> Scene:
    rotation = euler2mat(*rng.uniform(-0.6, 0.6, 3)) @ euler2mat(0.0, 0.0, -np.pi / 2)
    right = synthetic_hand(rng, 'right') @ rotation.T + [-0.06, 0.0, root_depth]
    rotation = euler2mat(*rng.uniform(-0.6, 0.6, 3)) @ euler2mat(0.0, 0.0, -np.pi / 2)
    left = synthetic_hand(rng, 'left') @ rotation.T + [0.07, 0.02, root_depth + rng.uniform(
        -0.08, 0.08)]
    pixels = pixel_map(camera.camera_to_pixel(np.concatenate([right, left])))
    low, high = pixels.min(axis=0), pixels.max(axis=0)
    return Scene(camera, right, left, Box(low[0], low[1], *(high - low)))


def merge_to_model_joints(right: np.ndarray, left: np.ndarray) -> np.ndarray:
    """Inverse of skeleton.split_model_joints: two (21, ...) published-order arrays -> (42, ...)."""
    return np.concatenate([right[ROS_TO_INTERHAND], left[ROS_TO_INTERHAND]], axis=0)


def perfect_network_output(scene: Scene, pixel_map=lambda uv: uv,
                           refine: bool = False) -> tuple[NetworkResult, np.ndarray, Box]:
    """Heatmaps with Gaussian peaks at the true voxels, decoded by the engine's decoder."""
    box = square_and_enlarge(scene.box)
    transform, inverse = crop_transform(box)
    joints = merge_to_model_joints(scene.right, scene.left)
    crop_xy = apply_affine(transform, pixel_map(scene.camera.camera_to_pixel(joints)))
    root_z = np.repeat([scene.right[WRIST, 2], scene.left[WRIST, 2]], NUM_JOINTS)
    z_bins = metres_to_depth_bins(torch.from_numpy(joints[:, 2] - root_z))
    centres = torch.cat([torch.from_numpy(crop_xy / VOXEL_PX), z_bins[:, None]], 1).float()
    assert (centres >= 0).all() and (centres < 63).all(), 'scene must fit the 2.5D volume'
    grid = torch.arange(64, dtype=torch.float32)
    gx, gy, gz = (torch.exp(-(grid - centres[:, i, None]) ** 2 / (2 * SIGMA ** 2))
                  for i in range(3))
    heatmaps = 255.0 * gz[:, :, None, None] * gy[:, None, :, None] * gx[:, None, None, :]
    decoded = decode_heatmaps(heatmaps.unsqueeze(0), refine=refine)
    result = NetworkResult(
        crop_xy=decoded.crop_xy[0].double().numpy(),
        depth_rel_m=decoded.depth_rel_m[0].double().numpy(),
        confidence=decoded.confidence[0].double().numpy(),
        relative_root_m=float(scene.left[WRIST, 2] - scene.right[WRIST, 2]),
        presence=np.array([0.97, 0.93]))
    return result, inverse, box


def quantization_bound(joints: np.ndarray, camera: CameraModel, box: Box,
                       pixel_slack: float = 1.0) -> np.ndarray:
    """Per-joint 3D error bound of the official argmax (half a voxel per axis), metres."""
    pixel_error = 0.5 * VOXEL_PX * box.w / 256 * pixel_slack
    ray = np.abs(joints[:, :2] / joints[:, 2:])
    depth = joints[:, 2] + DEPTH_HALF_BIN_M
    lateral_x = depth * pixel_error / camera.fx + ray[:, 0] * DEPTH_HALF_BIN_M
    lateral_y = depth * pixel_error / camera.fy + ray[:, 1] * DEPTH_HALF_BIN_M
    return np.sqrt(lateral_x ** 2 + lateral_y ** 2 + DEPTH_HALF_BIN_M ** 2) + 1e-9


def pinhole(width: int = 640, height: int = 480, focal: float = 600.0,
            distortion=None) -> CameraModel:
    k = np.array([[focal, 0, width / 2 - 0.5], [0, focal, height / 2 - 0.5], [0, 0, 1]])
    return CameraModel.from_intrinsics(k, width, height, distortion)


def assert_hands_recovered(estimate, scene: Scene, box: Box, pixel_slack: float = 1.0):
    for hand, truth in ((estimate.right, scene.right), (estimate.left, scene.left)):
        assert hand.detected and hand.valid.all()
        error = np.linalg.norm(hand.joints - truth, axis=1)
        bound = quantization_bound(truth, scene.camera, box, pixel_slack)
        assert np.all(error <= bound), (hand.side, error.max(), bound.min())


@pytest.mark.parametrize('distortion', [None, np.array([-0.3, 0.09, 0.001, -0.001, 0.0])])
@pytest.mark.parametrize('seed', [0, 1])
def test_fixed_depth_round_trip_recovers_joints_within_quantization(distortion, seed):
    rng = np.random.default_rng(seed)
    camera = pinhole(distortion=distortion)
    scene = make_scene(rng, camera, root_depth=0.5)
    result, inverse, box = perfect_network_output(scene)
    config = EngineConfig(depth_mode='fixed', fixed_depth_m=float(scene.right[WRIST, 2]))
    estimate = lift_two_hands(result, inverse, camera, None, config, box)
    slack = 1.0 if distortion is None else 1.5  # undistortion stretches the pixel error
    assert_hands_recovered(estimate, scene, box, slack)
    assert estimate.right.depth_source == DepthSource.FIXED
    assert estimate.left.depth_source == DepthSource.OTHER_HAND
    assert estimate.depth_source == DepthSource.FIXED
    np.testing.assert_allclose(estimate.right_to_left_root,
                               estimate.left.joints[WRIST] - estimate.right.joints[WRIST])
    pixels = camera.camera_to_pixel(scene.right)
    assert np.abs(estimate.right.pixels - pixels).max() <= 0.5 * VOXEL_PX * box.w / 256 + 1e-6


def test_refinement_recovers_joints_far_below_the_quantization_bound():
    rng = np.random.default_rng(5)
    camera = pinhole()
    scene = make_scene(rng, camera, root_depth=0.6)
    result, inverse, box = perfect_network_output(scene, refine=True)
    config = EngineConfig(depth_mode='fixed', fixed_depth_m=float(scene.right[WRIST, 2]))
    estimate = lift_two_hands(result, inverse, camera, None, config, box)
    for hand, truth in ((estimate.right, scene.right), (estimate.left, scene.left)):
        assert np.linalg.norm(hand.joints - truth, axis=1).max() < 1e-4


def _depth_image_of(scene: Scene, width: int, height: int, radius: int = 4) -> DepthImage:
    """A 16UC1 depth image (another resolution) with discs of each joint's depth, else 0."""
    depth_mm = np.zeros((height, width), dtype=np.uint16)
    scale = np.array([width / scene.camera.width, height / scene.camera.height])
    for joints in (scene.right, scene.left):
        pixels = scene.camera.camera_to_pixel(joints) * scale
        order = np.argsort(-joints[:, 2])  # far first, near joints drawn over them
        for (u, v), z in zip(pixels[order], joints[order, 2]):
            yy, xx = np.ogrid[:height, :width]
            depth_mm[(xx - u) ** 2 + (yy - v) ** 2 <= radius ** 2] = round(z * 1000)
    return DepthImage.from_array(depth_mm, '16UC1')


@pytest.mark.parametrize('mode', ['auto', 'depth_image'])
def test_depth_image_round_trip(mode):
    rng = np.random.default_rng(11)
    camera = pinhole()
    scene = make_scene(rng, camera, root_depth=0.7)
    result, inverse, box = perfect_network_output(scene)
    depth = _depth_image_of(scene, 320, 240)
    config = EngineConfig(depth_mode=mode, surface_offset_m=0.0)  # the discs lie at the joints
    estimate = lift_two_hands(result, inverse, camera, depth, config, box)
    assert estimate.right.depth_source == estimate.left.depth_source == DepthSource.DEPTH_IMAGE
    # each measured root inherits at most the depth quantization (+1 mm of the 16UC1 encoding)
    for hand, truth in ((estimate.right, scene.right), (estimate.left, scene.left)):
        assert abs(hand.joints[WRIST, 2] - truth[WRIST, 2]) <= DEPTH_HALF_BIN_M + 1e-3
    assert abs(estimate.root_depth_disagreement) <= 2 * DEPTH_HALF_BIN_M + 2e-3
    assert_hands_recovered(estimate, scene, box, pixel_slack=1.5)

    right_missing = NetworkResult(result.crop_xy, result.depth_rel_m, result.confidence,
                                  result.relative_root_m, np.array([0.1, 0.9]))
    alone = lift_two_hands(right_missing, inverse, camera, depth, config, box)
    assert not alone.right.detected and not alone.right.valid.any()
    assert alone.left.depth_source == DepthSource.DEPTH_IMAGE
    assert abs(alone.left.joints[WRIST, 2] - scene.left[WRIST, 2]) <= DEPTH_HALF_BIN_M + 1e-3
    assert not alone.relative_root_depth_valid and np.isnan(alone.right_to_left_root).all()


def test_without_valid_depth_falls_back_and_depth_image_mode_refuses_no_depth_image():
    rng = np.random.default_rng(12)
    camera = pinhole()
    scene = make_scene(rng, camera, root_depth=0.7)
    result, inverse, box = perfect_network_output(scene)
    empty = DepthImage.from_array(np.zeros((480, 640), np.uint16), '16UC1')
    for mode in ('auto', 'depth_image'):  # a hole in the depth image: the hand-size prior
        hole = lift_two_hands(result, inverse, camera, empty, EngineConfig(depth_mode=mode), box)
        assert hole.right.depth_source == DepthSource.HAND_SIZE and hole.right.valid.all()
        assert hole.left.depth_source == DepthSource.OTHER_HAND
        assert np.isnan(hole.root_depth_disagreement)
    strict = lift_two_hands(result, inverse, camera, None, EngineConfig(depth_mode='depth_image'),
                            box)
    assert strict.right.detected and not strict.right.valid.any()
    assert strict.right.depth_source == strict.left.depth_source == DepthSource.NONE
    assert np.isnan(strict.right.joints).all()


@pytest.mark.parametrize('root_depth', [0.3, 0.6, 1.0, 1.5])
def test_hand_size_mode_recovers_root_depth_within_a_few_percent(root_depth):
    """Mean-size hands in random poses, through the official (quantized) decoding."""
    rng = np.random.default_rng(int(root_depth * 100))
    camera = pinhole(1280, 720, focal=900.0)
    errors = []
    for _ in range(3):
        scene = make_scene(rng, camera, root_depth)
        result, inverse, box = perfect_network_output(scene)
        estimate = lift_two_hands(result, inverse, camera, None,
                                  EngineConfig(depth_mode='hand_size'), box)
        assert estimate.right.depth_source == DepthSource.HAND_SIZE
        errors.append(abs(estimate.right.joints[WRIST, 2] / scene.right[WRIST, 2] - 1.0))
    assert max(errors) < 0.04, errors


def test_hand_size_solver_is_exact_on_exact_input_and_follows_hand_scale():
    rng = np.random.default_rng(7)
    for depth in (0.3, 0.8, 1.5):
        for scale in (0.85, 1.0, 1.15):
            rotation = euler2mat(*rng.uniform(-1.0, 1.0, 3))
            joints = synthetic_hand(rng, 'right', scale) @ rotation.T + [0.05, -0.03, depth]
            rays = joints[:, :2] / joints[:, 2:]
            relative = joints[:, 2] - depth
            assert root_depth_from_hand_size(rays, relative, scale) == pytest.approx(depth,
                                                                                     rel=1e-9)
            # assuming the mean size puts a small hand too far and a large one too near
            assumed_mean = root_depth_from_hand_size(rays, relative, 1.0)
            if scale != 1.0:
                assert np.sign(assumed_mean - depth) == np.sign(1.0 - scale)


def test_hand_size_solver_handles_degenerate_input():
    no_depth = np.zeros(NUM_JOINTS)
    assert root_depth_from_hand_size(np.full((NUM_JOINTS, 2), np.nan), no_depth) is None
    assert root_depth_from_hand_size(np.zeros((NUM_JOINTS, 2)), np.zeros(NUM_JOINTS)) is None
    with pytest.raises(ValueError):
        root_depth_from_hand_size(np.zeros((NUM_JOINTS, 2)), np.zeros(NUM_JOINTS), 0.0)


@pytest.mark.parametrize('side', SIDES)
def test_palm_normal_points_to_the_side_the_fingers_curl_to(side):
    """Wrist frame convention against hand anatomy: its x, the palm normal, points where the
    fingers curl; z runs along the middle finger; y to the right thumb, the left little finger."""
    joints = synthetic_hand(np.random.default_rng(3), side)
    rotation = wrist_rotation(joints, side)
    np.testing.assert_allclose(rotation[:, 0], [0.0, 0.0, -1.0], atol=1e-9)
    np.testing.assert_allclose(rotation[:, 2], [1.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(rotation[:, 1], [0.0, 1.0, 0.0], atol=1e-9)
    curled_tips = joints[[8, 12, 16, 20], 2]
    assert np.all(curled_tips < 0)
    assert (np.dot(joints[1], rotation[:, 1]) > 0) == (side == 'right')  # thumb CMC


def test_lifted_hands_carry_the_wrist_frame_of_their_joints():
    camera = pinhole()
    scene = make_scene(np.random.default_rng(5), camera, root_depth=0.6)
    result, inverse, box = perfect_network_output(scene)
    estimate = lift_two_hands(result, inverse, camera, None, EngineConfig(), box)
    for hand in estimate.hands():
        assert hand.detected and hand.valid.all()
        np.testing.assert_allclose(hand.wrist_quaternion, wrist_quaternion(hand.joints, hand.side))
