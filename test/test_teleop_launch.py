"""launch/teleop.launch.py run by launch.LaunchService: the hands node (landmark fallback) and
the retarget node as processes; a real photo played as a camera gives a LEAP Hand JointState,
and with config_right / config_left one of a robot written by the test (its own URDF).
"""
from __future__ import annotations

import uuid

import pytest
from custom_robot import TWO_FINGER_LIMITS, two_finger_robot
from rclpy.qos import QoSProfile
from sensor_msgs.msg import JointState
from teleop_support import URDF_DIR, urdf_limits
from test_node_launch_run import (  # noqa: F401 - ament_env is a fixture
    DDS_VARIABLE,
    REPO_PROFILE,
    ament_env,
    process_environments,
    run_launch_file,
)
from test_node_launch_run import Camera as HandsCamera
from test_node_launch_run import pytestmark as launch_requirements

from interhand_ros.skeleton import SIDES

pytestmark = [*launch_requirements,
              pytest.mark.skipif(not URDF_DIR.is_dir(), reason=f'{URDF_DIR} absent')]


class Camera(HandsCamera):
    """Plays the photo until JointStates arrive on either side: received holds (side, msg)."""

    spin_period = 0.3  # s

    def __init__(self, camera: str, on_done) -> None:
        super().__init__(camera, '', on_done)

    def subscribe(self, node, qos: QoSProfile) -> None:
        for side in SIDES:
            node.create_subscription(JointState, f'/retarget/{side}/joint_states',
                                     lambda msg, side=side: self.received.append((side, msg)),
                                     qos)

    def stamp_of(self, item):
        return item[1].header.stamp


def test_teleop_launch_turns_a_photo_into_a_leap_hand_joint_state(ament_env):  # noqa: F811
    camera = f'/teleop_test_{uuid.uuid4().hex[:8]}/color'
    record, environments = process_environments()
    return_code, exits, player = run_launch_file(
        'teleop.launch.py', {'camera': camera, 'robot': 'leap_hand', 'urdf_dir': str(URDF_DIR),
                             'use_rviz': 'false'},
        lambda done: Camera(camera, on_done=done), [record])
    assert player.received, f'no JointState after {len(player.sent)} photos'
    assert not player.unanswered, \
        f'{len(player.unanswered)} of {player.checked_frames} photos lost after the first answer'
    side, state = player.received[0]
    assert state.header.stamp in player.sent
    limits = urdf_limits('leap_hand', side)
    assert len(state.name) == 16 and set(state.name) == set(limits)
    assert all(limits[n][0] <= v <= limits[n][1] for n, v in zip(state.name, state.position))
    # both processes run with the profile exported here (test/conftest.py)
    profiles = [env.get(DDS_VARIABLE) for env in environments.values()]
    assert profiles == [REPO_PROFILE] * 2
    assert return_code == 0
    assert len(exits) == 2 and set(exits.values()) == {0}, exits


def test_teleop_launch_drives_a_robot_of_our_own_from_config_arguments(ament_env,  # noqa: F811
                                                                        tmp_path):
    """config_right / config_left: the sides take the test's two-finger robot, not the default
    robot name (the node would refuse a side with both)."""
    config = two_finger_robot(tmp_path / 'robot')
    camera = f'/teleop_test_{uuid.uuid4().hex[:8]}/color'
    return_code, exits, player = run_launch_file(
        'teleop.launch.py', {'camera': camera, 'config_right': str(config),
                             'config_left': str(config), 'urdf_dir': str(tmp_path / 'robot'),
                             'use_rviz': 'false'},
        lambda done: Camera(camera, on_done=done))
    assert player.received, f'no JointState after {len(player.sent)} photos'
    _, state = player.received[0]
    assert list(state.name) == list(TWO_FINGER_LIMITS)
    assert all(TWO_FINGER_LIMITS[n][0] <= v <= TWO_FINGER_LIMITS[n][1]
               for n, v in zip(state.name, state.position))
    assert return_code == 0
    assert len(exits) == 2 and set(exits.values()) == {0}, exits
