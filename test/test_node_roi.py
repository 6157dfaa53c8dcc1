"""Crop sources: full, fixed, track (grow, smooth, re-initialise), topic (max age), detector."""
from dataclasses import astuple

import numpy as np
import pytest
from estimate_builders import make_estimate

from interhand_ros.geometry.box import Box, clip_box
from interhand_ros.processing.roi import RoiConfig, RoiSource

IMAGE = np.zeros((120, 160, 3), np.uint8)


def test_full_mode_uses_the_whole_image():
    assert RoiSource(RoiConfig(mode='full')).roi_for(IMAGE, now=0.0) is None


def test_fixed_mode_is_clipped_to_the_image():
    source = RoiSource(RoiConfig(mode='fixed', fixed=(100.0, -10.0, 100.0, 50.0)))
    assert source.roi_for(IMAGE, now=0.0) == Box(100.0, 0.0, 60.0, 40.0)


@pytest.mark.parametrize('config', [
    dict(mode='nonsense'), dict(mode='fixed', fixed=(0.0, 0.0, 0.0, 10.0)),
    dict(mode='track', track_smoothing=0.0), dict(mode='track', track_scale=0.5),
    dict(mode='topic', topic_max_age=0.0), dict(mode='detector', detect_every=0),
])
def test_bad_config_is_rejected_with_the_parameter_name(config):
    with pytest.raises(ValueError, match='roi'):
        RoiConfig(**config)


def test_track_follows_joints_smooths_and_reinitialises_when_lost():
    source = RoiSource(RoiConfig(mode='track', track_scale=1.0, track_smoothing=0.5))
    assert source.roi_for(IMAGE, 0.0) is None  # nothing tracked yet: whole image
    first = make_estimate(right=True, left=False)
    source.update(first)
    pixels = first.right.pixels
    low, high = pixels.min(axis=0), pixels.max(axis=0)
    box = source.roi_for(IMAGE, 0.0)
    assert (box.x, box.y, box.x + box.w, box.y + box.h) == pytest.approx(
        (low[0], low[1], high[0], high[1]))

    moved = make_estimate(right=True, left=False)
    moved.right.pixels = pixels + np.array([20.0, 10.0])
    source.update(moved)
    box = source.roi_for(IMAGE, 0.0)
    assert (box.x, box.y) == pytest.approx((low[0] + 10.0, low[1] + 5.0))  # halfway

    source.update(make_estimate(right=False, left=False))
    assert source.roi_for(IMAGE, 0.0) is None


def test_track_grows_the_joint_box():
    source = RoiSource(RoiConfig(mode='track', track_scale=2.0, track_smoothing=1.0))
    estimate = make_estimate(right=True, left=False)
    source.update(estimate)
    big = RoiSource(RoiConfig(mode='track', track_scale=1.0, track_smoothing=1.0))
    big.update(estimate)
    grown, tight = source.roi_for(np.zeros((1000, 1000, 3), np.uint8), 0.0), big.roi_for(
        np.zeros((1000, 1000, 3), np.uint8), 0.0)
    assert grown.w == pytest.approx(2 * tight.w) and grown.center == pytest.approx(tight.center)


def test_topic_box_expires_after_max_age():
    source = RoiSource(RoiConfig(mode='topic', topic_max_age=0.5))
    assert source.roi_for(IMAGE, now=10.0) is None
    source.set_external(Box(10, 20, 30, 40), now=10.0)
    assert source.roi_for(IMAGE, now=10.4) == Box(10, 20, 30, 40)
    assert source.roi_for(IMAGE, now=10.6) is None


class CountingDetector:
    """Stands in for MediaPipe: fixed boxes, counts its calls."""

    made: list = []

    def __init__(self, min_confidence):
        CountingDetector.made.append(min_confidence)
        self.boxes = [Box(10, 10, 20, 20), Box(50, 40, 10, 10)]
        self.calls = 0

    def detect(self, image_rgb):
        self.calls += 1
        return self.boxes


def test_detector_mode_takes_the_union_of_hand_boxes_and_is_lazy():
    CountingDetector.made = []
    RoiSource(RoiConfig(mode='full'), detector_factory=CountingDetector)
    assert CountingDetector.made == []
    source = RoiSource(RoiConfig(mode='detector', detector_min_confidence=0.7),
                       detector_factory=CountingDetector)
    assert CountingDetector.made == [0.7]
    assert source.roi_for(IMAGE, 0.0) == Box(10, 10, 50, 40)


def test_detector_mode_tracks_between_detections_and_redetects_when_lost():
    source = RoiSource(RoiConfig(mode='detector', detect_every=3, track_scale=1.0,
                                 track_smoothing=1.0), detector_factory=CountingDetector)
    detector = source._detector
    estimate = make_estimate(right=True, left=False)
    pixels = estimate.right.pixels
    low, high = pixels.min(axis=0), pixels.max(axis=0)
    joint_box = clip_box(Box(low[0], low[1], *(high - low)), IMAGE.shape[1], IMAGE.shape[0])
    tracked = pytest.approx((joint_box.x, joint_box.y, joint_box.w, joint_box.h))

    assert source.roi_for(IMAGE, 0.0) == Box(10, 10, 50, 40)   # frame 0: detected
    source.update(estimate)
    assert astuple(source.roi_for(IMAGE, 0.0)) == tracked     # frames 1, 2: tracked joints
    source.update(estimate)
    assert astuple(source.roi_for(IMAGE, 0.0)) == tracked
    source.update(estimate)
    assert detector.calls == 1
    assert source.roi_for(IMAGE, 0.0) == Box(10, 10, 50, 40)   # frame 3: due again
    assert detector.calls == 2

    source.update(make_estimate(right=False, left=False))  # hands lost
    detector.boxes = []
    assert source.roi_for(IMAGE, 0.0) is None                 # detects at once, finds nothing
    assert source.roi_for(IMAGE, 0.0) is None                 # and keeps detecting every frame
    assert detector.calls == 4


def test_clip_box_outside_the_image_is_none():
    assert clip_box(Box(200, 200, 10, 10), 160, 120) is None
    assert clip_box(Box(float('nan'), 0, 10, 10), 160, 120) is None
