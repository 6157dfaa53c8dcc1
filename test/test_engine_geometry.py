"""Crop geometry (reference §4), camera model from CameraInfo, depth images, the wrist frame."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from transforms3d.euler import euler2mat
from transforms3d.quaternions import quat2mat

from interhand_ros.geometry.box import Box
from interhand_ros.geometry.camera import CameraInfoError, CameraModel, rays_to_camera
from interhand_ros.geometry.crop import (
    apply_affine,
    crop_image,
    crop_transform,
    square_and_enlarge,
)
from interhand_ros.geometry.root_depth import DepthImage
from interhand_ros.geometry.wrist_frame import wrist_quaternion, wrist_rotation
from interhand_ros.skeleton import INDEX_MCP, MIDDLE_MCP, NUM_JOINTS, PINKY_MCP, SIDES, WRIST

# -- crop ------------------------------------------------------------------------------------

def test_official_demo_box_worked_example():
    box = square_and_enlarge(Box(69, 137, 165, 153))
    assert (box.x, box.y, box.w, box.h) == (48.375, 110.375, 206.25, 206.25)
    transform, inverse = crop_transform(box)
    np.testing.assert_allclose(transform, [[1.241212, 0, -60.04364], [0, 1.241212, -136.99879]],
                               atol=1e-5)
    np.testing.assert_allclose(inverse, [[0.8056641, 0, 48.375], [0, 0.8056641, 110.375]],
                               atol=1e-6)


def test_tall_box_is_squared_around_its_centre():
    box = square_and_enlarge(Box(10, 20, 40, 100))
    assert box.w == box.h == 125.0
    assert box.center == (30.0, 70.0)


@pytest.mark.parametrize('bad', [Box(0, 0, 0, 10), Box(0, 0, 10, -1), Box(float('nan'), 0, 5, 5)])
def test_degenerate_boxes_are_rejected(bad):
    with pytest.raises(ValueError):
        square_and_enlarge(bad)


def test_rotated_crop_round_trips_points_and_maps_box_corners():
    box = Box(100, 50, 80, 80)
    transform, inverse = crop_transform(box, scale=1.1, rotation_deg=30.0)
    points = np.random.default_rng(0).uniform(0, 300, size=(50, 2))
    np.testing.assert_allclose(apply_affine(inverse, apply_affine(transform, points)), points,
                               atol=1e-3)
    np.testing.assert_allclose(apply_affine(transform, np.array(box.center)), [128, 128],
                               atol=1e-4)


def test_crop_image_samples_the_box_and_fills_outside_with_zeros():
    image = np.zeros((100, 200, 3), dtype=np.uint8)
    image[40:60, 90:110] = (255, 128, 0)
    transform, _ = crop_transform(Box(80, 30, 40, 40))  # box centred on the patch
    patch = crop_image(image, transform)
    assert patch.shape == (256, 256, 3)
    assert tuple(patch[128, 128]) == (255, 128, 0)
    assert tuple(patch[5, 5]) == (0, 0, 0)
    outside, _ = crop_transform(Box(-500, -500, 100, 100))
    assert not crop_image(image, outside).any()


# -- camera ------------------------------------------------------------------------------------

def _info(**overrides) -> SimpleNamespace:
    fields = dict(width=640, height=480, distortion_model='plumb_bob',
                  d=[-0.28, 0.07, 0.001, -0.0005, 0.0],
                  k=[600.0, 0, 320.5, 0, 605.0, 240.5, 0, 0, 1],
                  p=[580.0, 0, 322.0, 0, 0, 585.0, 238.0, 0, 0, 0, 1, 0],
                  binning_x=0, binning_y=0,
                  roi=SimpleNamespace(x_offset=0, y_offset=0, width=0, height=0))
    fields.update(overrides)
    return SimpleNamespace(**fields)


def test_raw_camera_uses_k_and_d_rectified_uses_p():
    raw = CameraModel.from_camera_info(_info(), rectified=False)
    assert (raw.fx, raw.fy, raw.cx, raw.cy) == (600.0, 605.0, 320.5, 240.5)
    assert raw.distortion is not None and raw.distortion[0] == -0.28
    rect = CameraModel.from_camera_info(_info(), rectified=True)
    assert (rect.fx, rect.fy, rect.cx, rect.cy) == (580.0, 585.0, 322.0, 238.0)
    assert rect.distortion is None


@pytest.mark.parametrize('model, d', [('plumb_bob', [-0.28, 0.07, 0.001, -0.0005, 0.0]),
                                      ('rational_polynomial', [0.5, -0.2, 0.001, 0.002, 0.01,
                                                               0.1, -0.05, 0.02]),
                                      ('equidistant', [0.05, -0.01, 0.002, -0.001])])
def test_distorted_projection_and_back_projection_round_trip(model, d):
    camera = CameraModel.from_camera_info(_info(distortion_model=model, d=d), rectified=False)
    points = np.array([[0.1, -0.05, 0.6], [-0.25, 0.15, 1.0], [0.0, 0.0, 0.4]])
    pixels = camera.camera_to_pixel(points)
    pinhole = CameraModel(camera.fx, camera.fy, camera.cx, camera.cy, 640, 480)
    ideal = pinhole.camera_to_pixel(points)
    assert np.max(np.abs(pixels - ideal)) > 1.0  # the distortion really moves the pixels
    np.testing.assert_allclose(rays_to_camera(camera.pixel_rays(pixels), points[:, 2]), points,
                               atol=1e-6)
    np.testing.assert_allclose(camera.undistort_pixels(pixels), ideal, atol=1e-3)


def test_resized_and_binned_images_scale_the_intrinsics():
    camera = CameraModel.from_camera_info(_info(), rectified=True)
    half = camera.scaled_to(320, 240)
    assert (half.fx, half.fy) == (290.0, 292.5)
    assert (half.cx, half.cy) == ((322.0 + 0.5) / 2 - 0.5, (238.0 + 0.5) / 2 - 0.5)
    binned = CameraModel.from_camera_info(_info(binning_x=2, binning_y=2), rectified=True)
    assert binned == half
    point = np.array([0.1, 0.05, 0.8])
    full_pixel = camera.camera_to_pixel(point)
    np.testing.assert_allclose(half.camera_to_pixel(point), (full_pixel + 0.5) / 2 - 0.5)
    assert camera.for_image(640, 480) is camera
    with pytest.raises(CameraInfoError, match='aspect'):
        camera.for_image(640, 240)


def test_roi_shifts_the_principal_point():
    roi = SimpleNamespace(x_offset=100, y_offset=40, width=320, height=240)
    camera = CameraModel.from_camera_info(_info(roi=roi), rectified=True)
    assert (camera.cx, camera.cy, camera.width, camera.height) == (222.0, 198.0, 320, 240)


@pytest.mark.parametrize('overrides, message', [
    (dict(k=[0.0] * 9), 'uncalibrated'),
    (dict(k=[600.0, 0, float('nan'), 0, 605.0, 240.5, 0, 0, 1]), 'NaN'),
    (dict(p=[0.0] * 12), 'P\\[0\\]'),
    (dict(width=0), 'size'),
    (dict(k=[600.0, 0, 320.0]), '9 K'),
    (dict(distortion_model='weird_model'), 'unsupported'),
])
def test_bad_camera_info_raises_camera_info_error(overrides, message):
    rectified = 'p' in overrides
    with pytest.raises(CameraInfoError, match=message):
        CameraModel.from_camera_info(_info(**overrides), rectified=rectified)


# -- depth image ---------------------------------------------------------------------------------

def test_depth_image_units_and_invalid_pixels():
    mm = np.array([[0, 1000], [1500, 65535]], dtype=np.uint16)
    depth = DepthImage.from_array(mm, '16UC1')
    assert np.isnan(depth.metres[0, 0])
    np.testing.assert_allclose(depth.metres[0, 1:], [1.0])
    np.testing.assert_allclose(depth.metres[1], [1.5, 65.535], rtol=1e-6)
    metres = np.array([[0.0, np.nan], [np.inf, 0.75]], dtype=np.float32)
    depth = DepthImage.from_array(metres, '32FC1')
    assert np.isnan(depth.metres[:1]).all() and np.isnan(depth.metres[1, 0])
    assert depth.metres[1, 1] == np.float32(0.75)


@pytest.mark.parametrize('array, encoding', [
    (np.zeros((4, 4), np.float32), '16UC1'), (np.zeros((4, 4), np.uint16), '32FC1'),
    (np.zeros((4, 4), np.uint8), 'mono8'), (np.zeros((4, 4, 3), np.uint16), '16UC1')])
def test_depth_image_rejects_wrong_encodings_and_shapes(array, encoding):
    with pytest.raises(ValueError):
        DepthImage.from_array(array, encoding)


def test_depth_window_keeps_only_valid_pixels_and_clips_at_the_border():
    metres = np.full((50, 50), np.nan, dtype=np.float32)
    metres[20:31, 20:31] = 0.6
    metres[25, 25] = 3.0  # a flying pixel
    depth = DepthImage(metres)
    window = depth.valid_around(np.array([25.2, 24.8]), 3)
    assert window.size == 49 and np.median(window) == pytest.approx(0.6)
    assert depth.valid_around(np.array([5.0, 5.0]), 3).size == 0
    metres[:3, :3] = 1.0
    assert depth.valid_around(np.array([0.0, 0.0]), 3).size == 9


# -- wrist frame -------------------------------------------------------------------------------

def _palm(side: str) -> np.ndarray:
    """Palm facing the camera (-z), fingers up (-y); the right thumb on image right (+x)."""
    joints = np.zeros((NUM_JOINTS, 3))
    mirror = 1.0 if side == 'right' else -1.0
    joints[WRIST] = (0.0, 0.0, 0.5)
    joints[INDEX_MCP] = (mirror * 0.02, -0.08, 0.5)
    joints[MIDDLE_MCP] = (0.0, -0.085, 0.5)
    joints[PINKY_MCP] = (mirror * -0.03, -0.07, 0.5)
    return joints


@pytest.mark.parametrize('side', SIDES)
def test_wrist_axes_follow_the_message_convention(side):
    rotation = wrist_rotation(_palm(side), side)
    np.testing.assert_allclose(rotation[:, 2], [0, -1, 0], atol=1e-9)   # towards middle MCP
    np.testing.assert_allclose(rotation[:, 0], [0, 0, -1], atol=1e-9)   # out of the palm
    np.testing.assert_allclose(rotation[:, 1], np.cross(rotation[:, 2], rotation[:, 0]))
    # y: image right for both palms shown: the right thumb's side, the left little finger's
    np.testing.assert_allclose(rotation[:, 1], [1, 0, 0], atol=1e-9)
    thumb_side = np.dot(_palm(side)[INDEX_MCP] - _palm(side)[PINKY_MCP], rotation[:, 1])
    assert (thumb_side > 0) == (side == 'right')


def test_quaternion_is_ros_ordered_and_follows_hand_rotation():
    rotation = euler2mat(0.3, -0.7, 1.1)
    joints = (_palm('right') - [0, 0, 0.5]) @ rotation.T + [0.1, 0.0, 0.7]
    quaternion = wrist_quaternion(joints, 'right')
    assert quaternion.shape == (4,) and quaternion[3] >= 0
    x, y, z, w = quaternion
    expected = rotation @ wrist_rotation(_palm('right'), 'right')
    np.testing.assert_allclose(quat2mat([w, x, y, z]), expected, atol=1e-9)


def test_degenerate_palm_gives_no_orientation():
    collinear = np.zeros((NUM_JOINTS, 3))
    collinear[:, 1] = np.linspace(0, 0.1, NUM_JOINTS)
    assert wrist_quaternion(collinear, 'left') is None
    assert wrist_quaternion(np.full((NUM_JOINTS, 3), np.nan), 'right') is None
