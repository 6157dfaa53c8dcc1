"""Fallback estimator: MediaPipe landmarks lifted to metric 3D (real photos, synthetic data)."""
from pathlib import Path

import numpy as np
import pytest

from interhand_ros.estimate import DepthSource, EstimatorKind
from interhand_ros.geometry.box import Box
from interhand_ros.geometry.camera import CameraModel
from interhand_ros.geometry.camera_yaml import guess_camera_info
from interhand_ros.landmarks.detection import LandmarkHand
from interhand_ros.landmarks.landmark_estimator import (
    PoseLiftError,
    assign_sides,
    lift_to_camera,
    translation_for_fixed_rotation,
)
from interhand_ros.skeleton import MIDDLE_MCP, NUM_JOINTS, WRIST

DATA = Path(__file__).resolve().parents[1] / '..' / 'shared' / 'data'
HAND_PHOTO = DATA / 'hands' / 'handSrc.jpg'
PALM_PHOTO = DATA / 'hands' / 'Histogram_Comparison_Source_0.jpg'


def _synthetic_hand(seed: int = 0) -> np.ndarray:
    """21 points spread like a hand (about 18 cm), centred on the origin, metres."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(-0.09, 0.09, size=(NUM_JOINTS, 3)) * (1.0, 1.0, 0.2)
    return points - points.mean(axis=0)


def _project(points: np.ndarray, intrinsics) -> np.ndarray:
    fx, fy, cx, cy = intrinsics
    return np.c_[fx * points[:, 0] / points[:, 2] + cx, fy * points[:, 1] / points[:, 2] + cy]


INTRINSICS = (600.0, 600.0, 320.0, 240.0)


def test_translation_is_recovered_exactly_for_a_known_pose():
    world = _synthetic_hand()
    translation = np.array([0.1, -0.05, 0.6])
    pixels = _project(world + translation, INTRINSICS)
    np.testing.assert_allclose(translation_for_fixed_rotation(world, pixels, INTRINSICS),
                               translation, atol=1e-9)
    np.testing.assert_allclose(lift_to_camera(world, pixels, INTRINSICS), world + translation,
                               atol=1e-6)


def test_lift_recovers_a_rotated_hand():
    world = _synthetic_hand(1)
    angle = np.radians(20)
    rotation = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0],
                         [-np.sin(angle), 0, np.cos(angle)]])
    truth = world @ rotation.T + (0.0, 0.05, 0.5)
    lifted = lift_to_camera(world, _project(truth, INTRINSICS), INTRINSICS)
    assert np.abs(lifted - truth).max() < 1e-4


def test_lift_rejects_bad_input():
    world = _synthetic_hand()
    with pytest.raises(ValueError):
        lift_to_camera(world[:5], np.zeros((5, 2)), INTRINSICS)
    pixels = _project(world + (0, 0, 0.5), INTRINSICS)
    pixels[3] = np.nan
    with pytest.raises(PoseLiftError):
        lift_to_camera(world, pixels, INTRINSICS)


def _landmark_hand(side: str, score: float) -> LandmarkHand:
    return LandmarkHand(side, score, np.zeros((NUM_JOINTS, 2)), np.zeros((NUM_JOINTS, 3)))


def test_assign_sides_keeps_one_hand_per_side():
    right, also_right = _landmark_hand('right', 0.9), _landmark_hand('right', 0.7)
    assert assign_sides([also_right, right]) == [('right', right), ('left', also_right)]
    left = _landmark_hand('left', 0.8)
    assert assign_sides([left, right]) == [('right', right), ('left', left)]
    assert assign_sides([]) == []


def _read_rgb(path: Path) -> np.ndarray:
    import cv2
    return np.ascontiguousarray(cv2.imread(str(path))[:, :, ::-1])


def _camera(image: np.ndarray, fov: float = 60.0) -> CameraModel:
    height, width = image.shape[:2]
    return CameraModel.from_camera_info(guess_camera_info(width, height, fov), rectified=False)


@pytest.fixture(scope='module')
def estimator():
    pytest.importorskip('mediapipe', reason='mediapipe (bundled hand models) not installed')
    from interhand_ros.landmarks.landmark_estimator import LandmarkEstimator
    landmark_estimator = LandmarkEstimator()
    yield landmark_estimator
    landmark_estimator.close()


needs_photos = pytest.mark.skipif(not HAND_PHOTO.exists(),
                                  reason=f'shared hand photos not present under {DATA}')


@needs_photos
def test_real_photo_gives_a_metric_hand_in_front_of_the_camera(estimator):
    image = _read_rgb(HAND_PHOTO)
    camera = _camera(image, fov=45.0)  # a close-up: the hand fills the 640 x 480 frame
    result = estimator.estimate(image, camera)
    assert result.estimator == EstimatorKind.LANDMARK
    assert result.depth_source == DepthSource.PNP
    detected = [hand for hand in result.hands() if hand.detected]
    assert len(detected) == 1
    hand = detected[0]
    # Palm towards the camera, thumb up, fingers to the right: the subject's LEFT hand
    # (MediaPipe itself says "Right", as it assumes a mirrored selfie image).
    assert hand.side == 'left'
    assert hand.joints.shape == (NUM_JOINTS, 3) and np.isfinite(hand.joints).all()
    assert hand.valid.all() and hand.depth_source == DepthSource.PNP
    assert 0.2 < hand.joints[:, 2].min() and hand.joints[:, 2].max() < 1.5
    np.testing.assert_array_equal(hand.wrist_position, hand.joints[WRIST])
    palm_length = np.linalg.norm(hand.joints[MIDDLE_MCP] - hand.joints[WRIST])
    assert 0.06 < palm_length < 0.13  # adult wrist to middle-finger base, metres
    # The 3D joints project back onto the 2D landmarks (a few pixels of model disagreement).
    reprojected = camera.camera_to_pixel(hand.joints)
    assert np.abs(reprojected - hand.pixels).mean() < 0.03 * image.shape[1]
    missing = result.right
    assert not missing.detected and not missing.valid.any()
    assert not result.relative_root_depth_valid


@needs_photos
def test_depth_scales_with_the_focal_length(estimator):
    image = _read_rgb(PALM_PHOTO)
    near = estimator.estimate(image, _camera(image, fov=60.0))
    far = estimator.estimate(image, _camera(image, fov=30.0))
    near_hand, far_hand = near.left, far.left
    assert near_hand.detected and far_hand.detected
    ratio = far_hand.wrist_position[2] / near_hand.wrist_position[2]
    expected = np.tan(np.radians(30)) / np.tan(np.radians(15))  # focal length ratio
    assert ratio == pytest.approx(expected, rel=0.05)


@needs_photos
def test_palm_facing_the_camera_has_its_normal_towards_the_camera(estimator):
    from transforms3d.quaternions import quat2mat
    image = _read_rgb(PALM_PHOTO)  # open left hand, palm towards the camera, fingers up
    hand = estimator.estimate(image, _camera(image)).left
    assert hand.detected
    x, y, z, w = hand.wrist_quaternion
    rotation = quat2mat([w, x, y, z])
    assert rotation[2, 0] < -0.5    # palm normal (x axis) points back at the camera
    assert rotation[1, 2] < -0.5    # wrist -> middle finger (z axis) points up the image
    assert rotation[0, 1] > 0.5     # y: a left palm's little-finger side, image right


@needs_photos
def test_mirrored_option_keeps_mediapipe_label():
    pytest.importorskip('mediapipe', reason='mediapipe (bundled hand models) not installed')
    from interhand_ros.landmarks.landmark_estimator import LandmarkEstimator
    mirrored = LandmarkEstimator(mirrored=True)
    image = _read_rgb(HAND_PHOTO)
    assert mirrored.estimate(image, _camera(image)).right.detected
    mirrored.close()


@needs_photos
def test_roi_limits_the_search_and_keeps_original_pixels(estimator):
    image = _read_rgb(HAND_PHOTO)
    camera = _camera(image)
    full = estimator.estimate(image, camera)
    cropped = estimator.estimate(image, camera, roi=Box(-20, 0, 600, 470))
    assert cropped.roi == Box(0, 0, 580, 470)
    # Handedness of this photo is uncertain for MediaPipe (score ~0.65): compare by detection.
    [full_hand] = [hand for hand in full.hands() if hand.detected]
    [cropped_hand] = [hand for hand in cropped.hands() if hand.detected]
    assert np.abs(cropped_hand.pixels - full_hand.pixels).mean() < 10.0
    empty = estimator.estimate(image, camera, roi=Box(600, 420, 40, 60))
    assert not empty.left.detected and not empty.right.detected
    assert empty.depth_source == DepthSource.NONE
    with pytest.raises(ValueError):
        estimator.estimate(image, camera, roi=Box(2000, 0, 10, 10))


def test_bad_frame_is_a_clear_error(estimator):
    camera = CameraModel(500.0, 500.0, 50.0, 50.0, 100, 100)
    with pytest.raises(ValueError, match='uint8'):
        estimator.estimate(np.zeros((100, 100, 3), np.float32), camera)


@needs_photos
def test_depth_image_sets_the_distance_and_keeps_the_projection(estimator):
    from interhand_ros.geometry.root_depth import DepthImage
    image = _read_rgb(HAND_PHOTO)
    camera = _camera(image)
    plain = estimator.estimate(image, camera).left
    wall = DepthImage.from_array(np.full(image.shape[:2], 700, np.uint16), '16UC1')  # 0.7 m
    measured = estimator.estimate(image, camera, depth=wall)
    hand = measured.left
    assert hand.detected and hand.depth_source == DepthSource.DEPTH_IMAGE
    assert measured.depth_source == DepthSource.DEPTH_IMAGE
    assert hand.wrist_position[2] == pytest.approx(0.7, abs=0.03)
    np.testing.assert_allclose(camera.camera_to_pixel(hand.joints),
                               camera.camera_to_pixel(plain.joints), atol=1e-6)
    holes = DepthImage.from_array(np.zeros(image.shape[:2], np.uint16), '16UC1')
    fallback = estimator.estimate(image, camera, depth=holes).left
    assert fallback.depth_source == DepthSource.PNP
    np.testing.assert_allclose(fallback.joints, plain.joints, atol=1e-9)
