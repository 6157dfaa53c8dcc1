"""TwoHandEstimate -> TwoHandPose, MarkerArray and debug image."""
import math

import numpy as np
import pytest
from estimate_builders import make_estimate
from std_msgs.msg import Header
from visualization_msgs.msg import Marker

from interhand_msgs.msg import HandPose
from interhand_ros.geometry.box import Box
from interhand_ros.messages import box_to_roi, hand_to_msg, to_two_hand_pose
from interhand_ros.skeleton import BONES
from interhand_ros.visualization.drawing import draw_estimate
from interhand_ros.visualization.markers import (
    BONES_ID,
    HAND_COLOURS,
    JOINTS_ID,
    WRIST_AXES_ID,
    MarkerStyle,
    to_marker_array,
)


def header() -> Header:
    h = Header(frame_id='camera_color_optical_frame')
    h.stamp.sec, h.stamp.nanosec = 100, 200
    return h


def test_message_carries_every_field_of_both_hands():
    estimate = make_estimate(right=True, left=True)
    msg = to_two_hand_pose(estimate, header(), image_width=160, image_height=120)
    assert msg.header.frame_id == 'camera_color_optical_frame' and msg.header.stamp.sec == 100
    for hand, hand_msg, side in ((estimate.right, msg.right, HandPose.RIGHT),
                                 (estimate.left, msg.left, HandPose.LEFT)):
        assert hand_msg.side == side and hand_msg.detected
        assert hand_msg.presence == pytest.approx(hand.presence)
        assert hand_msg.depth_source == int(hand.depth_source)
        joints = np.array([[p.x, p.y, p.z] for p in hand_msg.joints])
        np.testing.assert_array_equal(joints, hand.joints)
        np.testing.assert_array_equal([[p.u, p.v] for p in hand_msg.pixels], hand.pixels)
        np.testing.assert_allclose(hand_msg.confidence, hand.confidence, rtol=1e-6)
        assert list(hand_msg.valid) == hand.valid.tolist()
        q = hand_msg.wrist_pose.orientation
        np.testing.assert_allclose([q.x, q.y, q.z, q.w], hand.wrist_quaternion)
        assert hand_msg.wrist_pose.position.z == pytest.approx(hand.wrist_position[2])
    assert msg.relative_root_depth == pytest.approx(0.02) and msg.relative_root_depth_valid
    expected = estimate.right_to_left_root
    assert [msg.right_to_left_root.x, msg.right_to_left_root.y,
            msg.right_to_left_root.z] == pytest.approx(expected.tolist())
    assert msg.inference_time == pytest.approx(0.123)
    # roi (-10, 20.5, 200, 150) clipped to the 160 x 120 image
    assert (msg.roi.x_offset, msg.roi.y_offset, msg.roi.width, msg.roi.height) == (0, 20, 160, 100)


def test_absent_hand_is_published_as_not_detected():
    msg = to_two_hand_pose(make_estimate(right=True, left=False), header(), 160, 120)
    assert msg.right.detected and not msg.left.detected
    assert not any(msg.left.valid) and math.isnan(msg.left.joints[0].x)
    assert not msg.relative_root_depth_valid and math.isnan(msg.right_to_left_root.x)


@pytest.mark.parametrize('box, expected', [
    (Box(10.4, 5.6, 20.0, 10.0), (10, 5, 21, 11)),
    (Box(-50, -50, 10, 10), (0, 0, 0, 0)),
    (Box(150, 110, 100, 100), (150, 110, 10, 10)),
])
def test_box_to_roi_clips_to_the_image(box, expected):
    roi = box_to_roi(box, 160, 120)
    assert (roi.x_offset, roi.y_offset, roi.width, roi.height) == expected


def test_marker_points_equal_the_valid_joints_and_bones():
    estimate = make_estimate(right=True, left=True)
    array = to_marker_array(estimate, header())
    by_key = {(m.ns, m.id): m for m in array.markers}
    assert set(by_key) == {('right', JOINTS_ID), ('right', BONES_ID),
                           ('left', JOINTS_ID), ('left', BONES_ID)}
    for hand in estimate.hands():
        joints = by_key[(hand.side, JOINTS_ID)]
        bones = by_key[(hand.side, BONES_ID)]
        assert joints.type == Marker.SPHERE_LIST and bones.type == Marker.LINE_LIST
        assert joints.header.frame_id == 'camera_color_optical_frame'
        np.testing.assert_array_equal([[p.x, p.y, p.z] for p in joints.points],
                                      hand.joints[hand.valid])
        drawn_bones = [(a, b) for a, b in BONES if hand.valid[a] and hand.valid[b]]
        assert len(bones.points) == 2 * len(drawn_bones)
        np.testing.assert_array_equal([[p.x, p.y, p.z] for p in bones.points[::2]],
                                      hand.joints[[a for a, _ in drawn_bones]])
        r, g, b, a = HAND_COLOURS[hand.side]
        assert (joints.color.r, joints.color.g, joints.color.b, joints.color.a) == \
            pytest.approx((r, g, b, a))
        for marker in (joints, bones):
            assert 0.0 < marker.lifetime.nanosec / 1e9 + marker.lifetime.sec < 1.0
            assert all(0.0 <= c <= 1.0 for c in (marker.color.r, marker.color.g,
                                                 marker.color.b, marker.color.a))
    assert len(by_key[('left', JOINTS_ID)].points) == 19  # joints 3 and 7 invalid
    assert HAND_COLOURS['right'] != HAND_COLOURS['left']


def test_undetected_hand_markers_are_deleted_and_axes_are_optional():
    array = to_marker_array(make_estimate(right=True, left=False), header(),
                            MarkerStyle(wrist_axes=True, axis_length=0.1))
    left = [m for m in array.markers if m.ns == 'left']
    assert {m.id for m in left} == {JOINTS_ID, BONES_ID, WRIST_AXES_ID}
    assert all(m.action == Marker.DELETE for m in left)
    axes = next(m for m in array.markers if m.ns == 'right' and m.id == WRIST_AXES_ID)
    assert len(axes.points) == 6 and len(axes.colors) == 6
    start, x_end = axes.points[0], axes.points[1]
    # quaternion: 0.3 rad about z -> x axis (cos 0.3, sin 0.3, 0) x 0.1 m
    assert (x_end.x - start.x, x_end.y - start.y, x_end.z - start.z) == pytest.approx(
        (0.1 * math.cos(0.3), 0.1 * math.sin(0.3), 0.0))


def test_debug_image_draws_skeletons_and_roi_without_touching_the_input():
    image = np.zeros((120, 160, 3), np.uint8)
    estimate = make_estimate(right=True, left=True, roi=Box(5, 5, 100, 100))
    drawn = draw_estimate(image, estimate)
    assert drawn.shape == image.shape and drawn.dtype == np.uint8
    assert not image.any()
    right_colour = np.array([255, 114, 0])
    wrist = np.round(estimate.right.pixels[0]).astype(int)
    assert (drawn[wrist[1], wrist[0]] == right_colour).all()
    assert drawn[5, 50].any() and drawn[50, 5].any()  # ROI box edges
    only_roi = draw_estimate(image, make_estimate(right=False, left=False,
                                                  roi=Box(5, 5, 100, 100)))
    assert (drawn != only_roi).any(axis=2).sum() > 100


def test_wrongly_sized_hand_arrays_are_an_error_not_a_short_message():
    estimate = make_estimate()
    estimate.right.confidence = estimate.right.confidence[:20]
    with pytest.raises(AssertionError, match='confidence'):
        hand_to_msg(estimate.right)
    estimate = make_estimate()
    estimate.left.joints = estimate.left.joints[:20]
    with pytest.raises(AssertionError, match='joints'):
        hand_to_msg(estimate.left)
