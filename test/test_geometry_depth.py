"""Metric hands from a depth image: each hand measured, the skin-to-joint offset, outlier
rejection, the self-calibrated hand scale and its use when a hand's depth is missing."""
from __future__ import annotations

import math

import numpy as np
import pytest
from test_engine_estimator import checkpoint  # noqa: F401 - the random-weight fixture
from test_engine_roundtrip import merge_to_model_joints, pinhole, synthetic_hand
from transforms3d.euler import euler2mat

from interhand_ros.engine.estimator import (
    EngineConfig,
    InterNetEstimator,
    NetworkResult,
    lift_two_hands,
)
from interhand_ros.estimate import DepthSource, EstimatorKind, HandEstimate, TwoHandEstimate
from interhand_ros.geometry.box import Box
from interhand_ros.geometry.camera import CameraModel
from interhand_ros.geometry.crop import apply_affine, crop_transform, square_and_enlarge
from interhand_ros.geometry.hand_scale import MIN_CALIBRATION_FRAMES, HandScaleCalibrator
from interhand_ros.geometry.root_depth import (
    SURFACE_OFFSET_M,
    DepthImage,
    root_depth_from_depth_image,
    root_depth_from_hand_size,
    scale_at_depth,
)
from interhand_ros.ros.diagnostics import NodeHealth
from interhand_ros.skeleton import LEFT, RIGHT, SIDES, WRIST

RIGHT_DEPTH, LEFT_DEPTH = 0.55, 0.68


def two_hands(rng: np.random.Generator, scale: float = 1.0,
              depths: tuple[float, float] = (RIGHT_DEPTH, LEFT_DEPTH)) -> dict[str, np.ndarray]:
    """Both hands, fingers up, side by side, wrists at the given depths (m)."""
    hands = {}
    for side, x, depth in ((RIGHT, -0.07, depths[0]), (LEFT, 0.07, depths[1])):
        rotation = euler2mat(*rng.uniform(-0.3, 0.3, 3)) @ euler2mat(0.0, 0.0, -np.pi / 2)
        hands[side] = synthetic_hand(rng, side, scale) @ rotation.T + [x, 0.03, depth]
    return hands


def hands_box(camera: CameraModel, hands: dict[str, np.ndarray]) -> Box:
    """The box around both hands' joints in the image (the roi a detector would give)."""
    pixels = camera.camera_to_pixel(np.concatenate([hands[RIGHT], hands[LEFT]]))
    low, high = pixels.min(axis=0), pixels.max(axis=0)
    return Box(low[0], low[1], *(high - low))


def exact_network_output(camera: CameraModel, hands: dict[str, np.ndarray],
                         relative_root_m: float) -> tuple[NetworkResult, np.ndarray, Box]:
    """A perfect network's output for these hands, except the given relative root depth."""
    box = square_and_enlarge(hands_box(camera, hands))
    transform, inverse = crop_transform(box)
    joints = merge_to_model_joints(hands[RIGHT], hands[LEFT])
    crop_xy = apply_affine(transform, camera.camera_to_pixel(joints))
    relative = merge_to_model_joints(hands[RIGHT][:, 2] - hands[RIGHT][WRIST, 2],
                                     hands[LEFT][:, 2] - hands[LEFT][WRIST, 2])
    result = NetworkResult(crop_xy, relative, np.ones(42), relative_root_m, np.ones(2))
    return result, inverse, box


def skin_depth_image(camera: CameraModel, hands: list[np.ndarray], offset_m: float,
                     radius_px: int = 9, background_m: float | None = None) -> np.ndarray:
    """Depth (m, NaN = no data) of discs around every joint, offset_m in front of the joint
    along its ray (the skin a depth camera sees), far joints drawn first."""
    metres = np.full((camera.height, camera.width), np.nan if background_m is None
                     else background_m, dtype=np.float32)
    v, u = np.ogrid[:camera.height, :camera.width]
    joints = np.concatenate(hands)
    for joint in joints[np.argsort(-joints[:, 2])]:
        (pu, pv), ray_norm = camera.camera_to_pixel(joint), np.linalg.norm(joint / joint[2])
        metres[(u - pu) ** 2 + (v - pv) ** 2 <= radius_px ** 2] = joint[2] - offset_m / ray_norm
    return metres


def wrist_errors(estimate: TwoHandEstimate, hands: dict[str, np.ndarray]) -> dict[str, float]:
    return {h.side: abs(h.joints[WRIST, 2] - hands[h.side][WRIST, 2]) for h in estimate.hands()}


def test_each_hand_lands_at_its_own_measured_depth_despite_a_wrong_relative_root_depth():
    camera = pinhole()
    hands = two_hands(np.random.default_rng(1))
    wrong = 0.0  # the truth is LEFT_DEPTH - RIGHT_DEPTH = 0.13 m
    result, inverse, box = exact_network_output(camera, hands, wrong)
    depth = DepthImage(skin_depth_image(camera, list(hands.values()), SURFACE_OFFSET_M))
    estimate = lift_two_hands(result, inverse, camera, depth,
                              EngineConfig(depth_mode='depth_image'), box)
    assert [h.depth_source for h in estimate.hands()] == [DepthSource.DEPTH_IMAGE] * 2
    assert max(wrist_errors(estimate, hands).values()) < 0.002
    assert estimate.right_to_left_root[2] == pytest.approx(LEFT_DEPTH - RIGHT_DEPTH, abs=0.004)
    assert estimate.root_depth_disagreement == pytest.approx(LEFT_DEPTH - RIGHT_DEPTH, abs=0.004)
    for hand in estimate.hands():  # mean-size hands: the measured scale is 1
        assert hand.measured_scale == pytest.approx(1.0, abs=0.01)


def test_surface_offset_moves_the_root_from_the_skin_to_the_joint():
    camera = pinhole()
    hands = two_hands(np.random.default_rng(2))
    result, inverse, box = exact_network_output(camera, hands, LEFT_DEPTH - RIGHT_DEPTH)
    depth = DepthImage(skin_depth_image(camera, list(hands.values()), 0.02))
    with_offset = lift_two_hands(result, inverse, camera, depth,
                                 EngineConfig(surface_offset_m=0.02), box)
    assert max(wrist_errors(with_offset, hands).values()) < 0.002
    without = lift_two_hands(result, inverse, camera, depth,
                             EngineConfig(surface_offset_m=0.0), box)
    for side, error in wrist_errors(without, hands).items():  # the skin: ~2 cm too near
        assert error == pytest.approx(0.02, abs=0.003)
        assert getattr(without, side).joints[WRIST, 2] < hands[side][WRIST, 2]


def test_background_and_other_hand_pixels_are_rejected():
    """Windows at the palm joints hit the background (1.5 m); the other hand's fingers, 4 cm
    nearer, cover most of two of the left hand's palm windows; 2 mm sensor noise. The robust
    fit keeps each hand's own pixels; the plain median of window medians does not."""
    camera = pinhole()
    hands = two_hands(np.random.default_rng(3), depths=(0.50, 0.60))
    metres = skin_depth_image(camera, [hands[LEFT], hands[RIGHT]], 0.0, background_m=1.5)
    v, u = np.ogrid[:480, :640]
    for joint in (WRIST, 5):
        pu, pv = camera.camera_to_pixel(hands[LEFT][joint]) + (3, 0)
        metres[(u - pu) ** 2 + (v - pv) ** 2 <= 10 ** 2] = hands[LEFT][joint, 2] - 0.04
    metres += np.random.default_rng(0).normal(0, 0.002, metres.shape).astype(np.float32)
    depth = DepthImage(metres)
    errors = {}
    for side in SIDES:
        pixels = camera.camera_to_pixel(hands[side])
        relative = hands[side][:, 2] - hands[side][WRIST, 2]
        for reject in (True, False):
            value = root_depth_from_depth_image(depth, pixels, relative, (640, 480), 12,
                                                rays=camera.pixel_rays(pixels),
                                                reject_outliers=reject)
            assert value is not None
            errors[side, reject] = abs(value - hands[side][WRIST, 2])
    assert errors[RIGHT, True] < 0.0015 and errors[LEFT, True] < 0.0015, errors
    assert errors[RIGHT, False] > 0.005, errors  # the background pulls the plain median off


def test_offset_needs_rays_and_an_empty_window_measures_nothing():
    camera = pinhole()
    hands = two_hands(np.random.default_rng(4))
    pixels = camera.camera_to_pixel(hands[RIGHT])
    empty = DepthImage(np.full((480, 640), np.nan, np.float32))
    relative = np.zeros(21)
    assert root_depth_from_depth_image(empty, pixels, relative, (640, 480), 5,
                                       rays=camera.pixel_rays(pixels), surface_offset_m=0.01,
                                       reject_outliers=True) is None
    with pytest.raises(ValueError, match='rays'):
        root_depth_from_depth_image(empty, pixels, relative, (640, 480), 5, surface_offset_m=0.01)


@pytest.mark.parametrize('scale', [0.85, 1.0, 1.15])
def test_scale_at_depth_inverts_the_hand_size_prior_on_noisy_input(scale):
    rng = np.random.default_rng(int(scale * 100))
    joints = two_hands(rng, scale)[RIGHT]
    rays = joints[:, :2] / joints[:, 2:] + rng.normal(0, 0.004, (21, 2))
    relative = joints[:, 2] - joints[WRIST, 2] + rng.normal(0, 0.008, 21)
    measured = scale_at_depth(rays, relative, RIGHT_DEPTH)
    assert measured is not None and abs(measured / scale - 1) < 0.15
    assert root_depth_from_hand_size(rays, relative, measured) == pytest.approx(RIGHT_DEPTH,
                                                                                rel=2e-3)
    exact = scale_at_depth(joints[:, :2] / joints[:, 2:], joints[:, 2] - joints[WRIST, 2],
                           RIGHT_DEPTH)
    assert exact == pytest.approx(scale, rel=1e-6)
    assert scale_at_depth(np.full((21, 2), np.nan), relative, 0.5) is None
    assert scale_at_depth(rays, relative, math.nan) is None


def test_depth_hole_falls_back_to_the_prior_with_the_calibrated_scale():
    """A small hand (0.85): the right hand's depth is lost. Calibrated, the prior places it
    within 2 %; uncalibrated it takes the other hand's root + the (wrong) relative depth."""
    camera = pinhole()
    rng = np.random.default_rng(5)
    calibrator = HandScaleCalibrator(min_frames=5)
    for _ in range(6):  # frames with depth: the calibration
        hands = two_hands(rng, 0.85)
        result, inverse, box = exact_network_output(camera, hands, LEFT_DEPTH - RIGHT_DEPTH)
        depth = DepthImage(skin_depth_image(camera, list(hands.values()), SURFACE_OFFSET_M))
        estimate = lift_two_hands(result, inverse, camera, depth, EngineConfig(), box,
                                  calibrator.scales())
        calibrator.update(estimate.hands())
    assert calibrator.scale(RIGHT) == pytest.approx(0.85, rel=0.01)
    assert estimate.right.calibrated_scale == calibrator.scale(RIGHT)
    hands = two_hands(rng, 0.85)
    result, inverse, box = exact_network_output(camera, hands, 0.05)  # 8 cm wrong
    depth = DepthImage(skin_depth_image(camera, [hands[LEFT]], SURFACE_OFFSET_M))  # right: hole
    config = EngineConfig(depth_mode='depth_image')
    calibrated = lift_two_hands(result, inverse, camera, depth, config, box, calibrator.scales())
    assert calibrated.right.depth_source == DepthSource.HAND_SIZE
    assert calibrated.left.depth_source == DepthSource.DEPTH_IMAGE
    assert wrist_errors(calibrated, hands)[RIGHT] < 0.02 * RIGHT_DEPTH
    assert math.isnan(calibrated.root_depth_disagreement)
    fresh = lift_two_hands(result, inverse, camera, depth, config, box)
    assert fresh.right.depth_source == DepthSource.OTHER_HAND
    assert wrist_errors(fresh, hands)[RIGHT] == pytest.approx(0.08, abs=0.003)
    mean_prior = lift_two_hands(result, inverse, camera, None, EngineConfig(), box)
    assert wrist_errors(mean_prior, hands)[RIGHT] > 0.10 * RIGHT_DEPTH  # the mean hand: far


def _hand(side: str, measured: float) -> HandEstimate:
    return HandEstimate(side=side, presence=1.0, detected=True, measured_scale=measured)


def test_calibrator_median_ignores_a_swapped_minority_and_implausible_values():
    calibrator = HandScaleCalibrator(window=20, min_frames=10)
    values = [0.9 + 0.01 * k for k in range(-2, 3)] * 2  # 10 frames around 0.9
    for index, value in enumerate(values[:9]):
        calibrator.observe(RIGHT, value)
        assert calibrator.scale(RIGHT) is None, index  # not before min_frames
    calibrator.observe(RIGHT, values[9])
    for bad in (1.1, 1.12, 1.11, 5.0, 0.1, math.nan, None):  # 3 swapped frames, junk
        calibrator.observe(RIGHT, bad)
    assert calibrator.scale(RIGHT) == pytest.approx(0.9, abs=0.011)
    assert calibrator.scale(LEFT) is None and calibrator.scales() == {RIGHT: calibrator.scale(
        RIGHT)}
    for _ in range(20):  # a new user: the window forgets the old one
        calibrator.observe(RIGHT, 1.1)
    assert calibrator.scale(RIGHT) == pytest.approx(1.1)
    estimate = TwoHandEstimate(
        right=_hand(RIGHT, 1.1), left=_hand(LEFT, math.nan), relative_root_depth=0.0,
        relative_root_depth_valid=True, right_to_left_root=np.zeros(3),
        depth_source=DepthSource.DEPTH_IMAGE, estimator=EstimatorKind.INTERNET, roi=Box(0, 0, 1, 1))
    calibrator.update(estimate.hands())
    assert estimate.right.calibrated_scale == pytest.approx(1.1)
    assert math.isnan(estimate.left.calibrated_scale)
    with pytest.raises(ValueError):
        HandScaleCalibrator(window=5, min_frames=6)


def test_diagnostics_report_the_disagreement_and_each_hands_scale():
    health = NodeHealth(window=5.0)
    status = {kv.key: kv.value for kv in health.status(0.0, 'hands', 'x').values}
    assert status['root_depth_disagreement_m'] == 'nan' and status['hand_scale_left'] == 'nan'
    for now, disagreement in ((1.0, 0.03), (1.5, 0.04), (2.0, math.nan)):
        estimate = TwoHandEstimate(
            right=_hand(RIGHT, 1.0), left=_hand(LEFT, 1.0), relative_root_depth=0.0,
            relative_root_depth_valid=True, right_to_left_root=np.zeros(3),
            depth_source=DepthSource.DEPTH_IMAGE, estimator=EstimatorKind.INTERNET,
            roi=Box(0, 0, 1, 1), root_depth_disagreement=disagreement)
        estimate.right.calibrated_scale = 0.93
        health.depth_measured(estimate, now)
    status = {kv.key: kv.value for kv in health.status(2.0, 'hands', 'x').values}
    assert status['root_depth_disagreement_m'] == '0.04'
    assert status['hand_scale_right'] == '0.93' and status['hand_scale_left'] == 'nan'
    status = {kv.key: kv.value for kv in health.status(9.0, 'hands', 'x').values}
    assert status['root_depth_disagreement_m'] == 'nan'  # older than the window


def test_the_estimator_calibrates_while_measured_and_uses_it_when_depth_is_lost(
        checkpoint, monkeypatch):  # noqa: F811 - the fixture imported above
    """InterNetEstimator keeps the calibration between frames (network output replaced by a
    perfect one of a small hand): after MIN_CALIBRATION_FRAMES frames with depth, a frame
    whose right hand has no depth places it by the calibrated prior; without calibration by
    the other hand + a wrong relative root depth."""
    camera = pinhole()
    rng = np.random.default_rng(6)
    calibrating = InterNetEstimator(checkpoint, EngineConfig(
        device='cpu', backend='torch', presence_threshold=0.0, depth_mode='depth_image'))
    plain = InterNetEstimator(checkpoint, EngineConfig(
        device='cpu', backend='torch', presence_threshold=0.0, depth_mode='depth_image',
        calibrate_hand_scale=False))
    image = np.zeros((480, 640, 3), np.uint8)
    for frame in range(MIN_CALIBRATION_FRAMES + 1):
        hands = two_hands(rng, 0.88)
        lost = frame == MIN_CALIBRATION_FRAMES
        result, _, _ = exact_network_output(camera, hands, 0.05 if lost else 0.13)
        depth = DepthImage(skin_depth_image(camera, [hands[LEFT]] if lost else
                                            list(hands.values()), SURFACE_OFFSET_M))
        estimates = {}
        for name, estimator in (('calibrating', calibrating), ('plain', plain)):
            monkeypatch.setattr(estimator, 'infer', lambda crops, r=result: [r] * len(crops))
            estimates[name] = estimator.estimate(image, camera, hands_box(camera, hands), depth)
        if frame == MIN_CALIBRATION_FRAMES - 1:
            assert estimates['calibrating'].right.calibrated_scale == pytest.approx(0.88,
                                                                                    rel=0.01)
            assert math.isnan(estimates['plain'].right.calibrated_scale)
    assert estimates['calibrating'].right.depth_source == DepthSource.HAND_SIZE
    assert wrist_errors(estimates['calibrating'], hands)[RIGHT] < 0.02 * RIGHT_DEPTH
    assert estimates['plain'].right.depth_source == DepthSource.OTHER_HAND
    assert wrist_errors(estimates['plain'], hands)[RIGHT] == pytest.approx(0.08, abs=0.003)
