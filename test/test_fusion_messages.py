"""messages.from_two_hand_pose: the fusion node's decoder, the inverse of the published encoder.

An estimate with distinct values in every field goes through to_two_hand_pose, CDR
serialization and back; every field the message carries must come back (float32 fields to
float32 precision), and what it cannot carry comes back as NaN. Malformed messages are refused
with ValueError, never decoded into the wrong hand.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from estimate_builders import make_estimate
from rclpy.serialization import deserialize_message, serialize_message
from std_msgs.msg import Header

from interhand_msgs.msg import HandPose, TwoHandPose
from interhand_ros.estimate import DepthSource, EstimatorKind
from interhand_ros.geometry.box import Box
from interhand_ros.messages import from_two_hand_pose, to_two_hand_pose

ROI = Box(12.0, 34.0, 200.0, 150.0)  # whole pixels inside the image: the message keeps it


def encoded(estimate=None) -> TwoHandPose:
    estimate = estimate or make_estimate(roi=ROI)
    msg = to_two_hand_pose(estimate, Header(frame_id='cam1_optical_frame'), 640, 480)
    return deserialize_message(serialize_message(msg), TwoHandPose)


def test_round_trip_gives_back_every_field_the_message_carries():
    estimate = make_estimate(roi=ROI)
    estimate.left.held, estimate.left.held_for = True, 0.125
    estimate.filtered = True
    estimate.estimator = EstimatorKind.LANDMARK
    estimate.right.depth_source = DepthSource.PNP
    decoded = from_two_hand_pose(encoded(estimate))
    for original, back in zip(estimate.hands(), decoded.hands()):
        assert back.side == original.side and back.detected == original.detected
        np.testing.assert_array_equal(back.valid, original.valid)
        valid = original.valid
        np.testing.assert_allclose(back.joints[valid], original.joints[valid], rtol=0, atol=0)
        assert np.isnan(back.joints[~valid]).all()
        np.testing.assert_allclose(back.pixels, original.pixels, rtol=0, atol=0)
        np.testing.assert_allclose(back.confidence, original.confidence, rtol=1e-6)
        np.testing.assert_allclose(back.wrist_position, original.wrist_position, atol=0)
        np.testing.assert_allclose(back.wrist_quaternion, original.wrist_quaternion, atol=0)
        assert back.presence == pytest.approx(original.presence, rel=1e-6)
        assert back.depth_source == original.depth_source
        assert (back.held, back.held_for) == (original.held, pytest.approx(original.held_for))
        assert math.isnan(back.measured_scale) and math.isnan(back.calibrated_scale)
    assert decoded.right.depth_source == DepthSource.PNP
    assert decoded.estimator == EstimatorKind.LANDMARK and decoded.filtered
    assert decoded.relative_root_depth == pytest.approx(estimate.relative_root_depth, rel=1e-6)
    assert decoded.relative_root_depth_valid
    np.testing.assert_allclose(decoded.right_to_left_root, estimate.right_to_left_root)
    assert decoded.depth_source == estimate.depth_source
    assert decoded.roi == ROI
    assert decoded.inference_time == pytest.approx(estimate.inference_time, rel=1e-6)
    assert math.isnan(decoded.root_depth_disagreement)


def test_a_hand_not_detected_comes_back_not_detected_with_nothing_valid():
    decoded = from_two_hand_pose(encoded(make_estimate(left=False, roi=ROI)))
    assert decoded.right.detected and not decoded.left.detected
    assert not decoded.left.valid.any() and np.isnan(decoded.left.joints).all()
    assert not decoded.relative_root_depth_valid


def test_decoded_arrays_are_writable_copies():
    decoded = from_two_hand_pose(encoded())
    for hand in decoded.hands():
        for array in (hand.joints, hand.pixels, hand.confidence, hand.valid):
            assert array.flags.writeable and array.dtype != np.float32


@pytest.mark.parametrize('field, value, words', [
    ('side', 7, 'side'),
    ('depth_source', 99, 'DepthSource'),
])
def test_a_malformed_hand_is_refused(field, value, words):
    msg = encoded()
    setattr(msg.right, field, value)
    with pytest.raises(ValueError, match=words):
        from_two_hand_pose(msg)


def test_hands_under_each_others_field_are_refused():
    msg = encoded()
    msg.right.side, msg.left.side = HandPose.LEFT, HandPose.RIGHT
    with pytest.raises(ValueError, match='right/left'):
        from_two_hand_pose(msg)


def test_an_unknown_estimator_is_refused():
    msg = encoded()
    msg.estimator = 42
    with pytest.raises(ValueError, match='EstimatorKind'):
        from_two_hand_pose(msg)
