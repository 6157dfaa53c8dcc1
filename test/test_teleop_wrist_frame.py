"""The one wrist frame (interhand_ros.geometry.wrist_frame) against dex-retargeting's MANO
convention, and the same frame in every output: wrist_pose, joints_wrist, filtered hands."""
from __future__ import annotations

import numpy as np
import pytest
from transforms3d.euler import euler2mat

from interhand_ros.estimate import HandEstimate
from interhand_ros.geometry.wrist_frame import (
    joints_in_wrist_frame,
    quaternion_to_rotation,
    rotation_to_quaternion,
    wrist_pose,
    wrist_quaternion,
    wrist_rotation,
)
from interhand_ros.messages import hand_to_msg
from interhand_ros.skeleton import NUM_JOINTS, SIDES
from interhand_ros.teleop.filtering import FilterConfig, HandSmoother
from interhand_ros.teleop.identity import with_side
from tools.synthetic_hands import hand_joints


def dex_retargeting_frame_joints(joints: np.ndarray, side: str) -> np.ndarray:
    """What dex-retargeting's video example feeds its optimizer, written from its definition:
    the wrist-relative joints in the palm frame [x: middle MCP -> wrist, y: palm-plane normal,
    z = x cross y with z towards the index], then times OPERATOR2MANO of the side."""
    constants = pytest.importorskip('dex_retargeting.constants')
    relative = joints - joints[0]
    wrist, index, middle = relative[0], relative[5], relative[9]
    x = (wrist - middle) / np.linalg.norm(wrist - middle)
    normal = np.cross(index - wrist, middle - wrist)
    normal /= np.linalg.norm(normal)
    z = np.cross(x, normal)
    if np.dot(z, index - middle) < 0:
        normal, z = -normal, -z
    frame = np.column_stack([x, normal, z])
    hand_type = constants.HandType[side]
    return relative @ frame @ constants.OPERATOR2MANO[hand_type]


@pytest.mark.parametrize('side', SIDES)
def test_axes_of_a_palm_shown_to_the_camera_are_as_documented(side):
    rotation = wrist_rotation(hand_joints(side), side)
    x, y, z = rotation.T
    assert np.dot(z, [0, -1, 0]) > 0.99          # fingers up the image
    assert np.dot(x, [0, 0, -1]) > 0.99          # out of the palm, towards the camera
    assert np.dot(y, [1, 0, 0]) > 0.99           # image right for both palms shown...
    thumb = joints_in_wrist_frame(hand_joints(side), side)[4]
    assert (thumb[1] > 0.02) == (side == 'right')  # ...the right thumb's side, the left pinky's
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-12)
    assert np.linalg.det(rotation) == pytest.approx(1.0)


@pytest.mark.parametrize('side', SIDES)
@pytest.mark.parametrize('angles', [(0.0, 0.0, 0.0), (0.3, -1.1, 2.0), (2.5, 0.4, -0.7)])
def test_joints_match_dex_retargetings_operator2mano_and_ignore_the_hands_pose(side, angles):
    rotation = euler2mat(*angles)
    joints = hand_joints(side) @ rotation.T + np.array([0.1, -0.05, 0.3])
    ours = joints_in_wrist_frame(joints, side)
    np.testing.assert_allclose(ours, dex_retargeting_frame_joints(joints, side), atol=1e-12)
    np.testing.assert_allclose(ours, joints_in_wrist_frame(hand_joints(side), side),
                               atol=1e-12)


def test_wrist_pose_quaternion_rotates_wrist_frame_joints_back_to_the_camera():
    from transforms3d.quaternions import quat2mat
    joints = hand_joints('left') @ euler2mat(0.2, 0.5, -0.3).T
    position, (qx, qy, qz, qw) = wrist_pose(joints, 'left')
    back = joints_in_wrist_frame(joints, 'left') @ quat2mat([qw, qx, qy, qz]).T + position
    np.testing.assert_allclose(back, joints, atol=1e-12)
    assert qw >= 0
    np.testing.assert_allclose(rotation_to_quaternion(np.eye(3)), [0, 0, 0, 1])
    np.testing.assert_allclose(wrist_quaternion(joints, 'left'), [qx, qy, qz, qw])


@pytest.mark.parametrize('angles', [(0.0, 0.0, 0.0), (0.3, -1.1, 2.0), (2.5, 0.0, 0.0)])
def test_quaternion_is_ros_ordered_with_w_not_negative_and_converts_back(angles):
    rotation = euler2mat(*angles)
    x, y, z, w = quaternion = rotation_to_quaternion(rotation)
    assert w >= 0 and np.linalg.norm(quaternion) == pytest.approx(1.0)
    np.testing.assert_allclose(quaternion_to_rotation(quaternion), rotation, atol=1e-12)
    half = angles[0] / 2  # a rotation about x alone: (sin(a/2), 0, 0, cos(a/2))
    if angles[1:] == (0.0, 0.0):
        np.testing.assert_allclose([x, y, z, w], [np.sin(half), 0, 0, np.cos(half)], atol=1e-12)


def test_degenerate_or_missing_palm_gives_nan_not_a_made_up_frame():
    flat = np.zeros((NUM_JOINTS, 3))
    assert wrist_rotation(flat, 'right') is None
    assert wrist_quaternion(flat, 'right') is None
    assert np.isnan(joints_in_wrist_frame(flat, 'right')).all()
    joints = hand_joints('right')
    joints[9] = np.nan
    assert wrist_pose(joints, 'right') is None
    with pytest.raises(ValueError, match='side'):
        wrist_rotation(hand_joints('right'), 'middle')


def test_message_carries_wrist_frame_joints_nan_where_invalid():
    joints = hand_joints('right')
    valid = np.ones(NUM_JOINTS, bool)
    valid[20] = False
    hand = HandEstimate(side='right', presence=1.0, detected=True, joints=joints, valid=valid,
                        wrist_position=joints[0], held=True, held_for=0.1)
    msg = hand_to_msg(hand)
    received = np.array([[p.x, p.y, p.z] for p in msg.joints_wrist])
    expected = joints_in_wrist_frame(joints, 'right')
    np.testing.assert_allclose(received[:20], expected[:20])
    assert np.isnan(received[20]).all()
    assert msg.held and msg.held_for == pytest.approx(0.1)
    missing = HandEstimate(side='left', presence=0.0, detected=False)
    assert np.isnan(joints_in_wrist_frame(missing.joints, 'left', missing.valid)).all()


@pytest.mark.parametrize('side', SIDES)
def test_wrist_pose_of_the_message_is_the_frame_of_joints_wrist_after_filtering(side):
    """One frame: the filter's wrist_quaternion (what HandPose.wrist_pose carries) rotates the
    message's joints_wrist back onto its joints, and equals the /tf frame (wrist_pose)."""
    joints = hand_joints(side) @ euler2mat(0.4, -0.2, 1.3).T + np.array([0.05, 0.0, 0.1])
    measured = HandEstimate(side=side, presence=1.0, detected=True, joints=joints,
                            valid=np.ones(NUM_JOINTS, bool), wrist_position=joints[0])
    smoothed = HandSmoother(FilterConfig()).update(measured, 1.0)
    msg = hand_to_msg(smoothed)
    q = msg.wrist_pose.orientation
    rotation = quaternion_to_rotation([q.x, q.y, q.z, q.w])
    in_wrist = np.array([[p.x, p.y, p.z] for p in msg.joints_wrist])
    position = np.array([msg.wrist_pose.position.x, msg.wrist_pose.position.y,
                         msg.wrist_pose.position.z])
    np.testing.assert_allclose(in_wrist @ rotation.T + position, smoothed.joints, atol=1e-6)
    np.testing.assert_allclose([q.x, q.y, q.z, q.w], wrist_pose(smoothed.joints, side)[1],
                               atol=1e-6)


def test_relabelled_hand_gets_the_wrist_frame_of_its_new_side():
    joints = hand_joints('right')
    hand = HandEstimate(side='right', presence=1.0, detected=True, joints=joints,
                        valid=np.ones(NUM_JOINTS, bool), wrist_position=joints[0],
                        wrist_quaternion=wrist_quaternion(joints, 'right'))
    left = with_side(hand, 'left')
    np.testing.assert_allclose(left.wrist_quaternion, wrist_quaternion(joints, 'left'))
    x, y, z = quaternion_to_rotation(left.wrist_quaternion).T
    assert np.dot(z, [0, -1, 0]) > 0.99 and np.dot(x, [0, 0, -1]) < -0.99  # a left hand's back
