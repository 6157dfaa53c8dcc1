"""MANO wrist frame (interhand_ros.teleop.wrist_frame) against dex-retargeting's convention."""
from __future__ import annotations

import numpy as np
import pytest
from transforms3d.euler import euler2mat

from interhand_ros.estimate import HandEstimate
from interhand_ros.messages import hand_to_msg
from interhand_ros.skeleton import NUM_JOINTS, SIDES
from interhand_ros.teleop.synthetic import hand_joints
from interhand_ros.teleop.wrist_frame import (
    joints_in_wrist_frame,
    mano_rotation,
    rotation_to_quaternion,
    wrist_frame_joints,
    wrist_pose,
)


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
    rotation = mano_rotation(hand_joints(side), side)
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


def test_degenerate_or_missing_palm_gives_nan_not_a_made_up_frame():
    flat = np.zeros((NUM_JOINTS, 3))
    assert mano_rotation(flat, 'right') is None
    assert np.isnan(joints_in_wrist_frame(flat, 'right')).all()
    joints = hand_joints('right')
    joints[9] = np.nan
    assert wrist_pose(joints, 'right') is None
    with pytest.raises(ValueError, match='side'):
        mano_rotation(hand_joints('right'), 'middle')


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
    assert np.isnan(wrist_frame_joints(missing)).all()
