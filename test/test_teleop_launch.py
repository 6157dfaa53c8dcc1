"""launch/teleop.launch.py run by launch.LaunchService: the hands node (landmark fallback) and
the retarget node as processes; a real photo played as a camera gives a LEAP Hand JointState.
"""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from rclpy.qos import QoSProfile
from sensor_msgs.msg import JointState
from teleop_support import URDF_DIR, urdf_limits
from test_node_launch_run import PHOTO, REPO, ament_env  # noqa: F401
from test_node_launch_run import Camera as HandsCamera
from test_node_launch_run import pytestmark as launch_requirements

from interhand_ros.skeleton import SIDES

RECEIVE_TIMEOUT_S = 180.0
pytestmark = [*launch_requirements,
              pytest.mark.skipif(not URDF_DIR.is_dir(), reason=f'{URDF_DIR} absent')]


class Camera(HandsCamera):
    """Plays the photo until a JointState arrives on either side: received holds (side, msg)."""

    spin_period = 0.3  # s

    def __init__(self, camera: str, on_done) -> None:
        super().__init__(camera, '', on_done)

    def subscribe(self, node, qos: QoSProfile) -> None:
        for side in SIDES:
            node.create_subscription(JointState, f'/retarget/{side}/joint_states',
                                     lambda msg, side=side: self.received.append((side, msg)),
                                     qos)


def test_teleop_launch_turns_a_photo_into_a_leap_hand_joint_state(ament_env):  # noqa: F811
    from ament_index_python.packages import get_package_share_directory
    from launch.actions import IncludeLaunchDescription, RegisterEventHandler
    from launch.event_handlers import OnProcessExit
    from launch.launch_description_sources import PythonLaunchDescriptionSource

    from launch import LaunchDescription, LaunchService

    launch_file = Path(get_package_share_directory('interhand_ros')) / 'launch' / \
        'teleop.launch.py'
    assert launch_file.resolve() == (REPO / 'launch' / 'teleop.launch.py').resolve()
    camera = f'/teleop_test_{uuid.uuid4().hex[:8]}/color'
    exits: dict[str, int] = {}
    service = LaunchService()
    service.include_launch_description(LaunchDescription([
        RegisterEventHandler(OnProcessExit(on_exit=lambda event, _: exits.__setitem__(
            event.action.name, event.returncode))),
        IncludeLaunchDescription(PythonLaunchDescriptionSource(str(launch_file)),
                                 launch_arguments={'camera': camera, 'robot': 'leap_hand',
                                                   'urdf_dir': str(URDF_DIR),
                                                   'use_rviz': 'false'}.items()),
    ]))
    player = Camera(camera, on_done=service.shutdown)
    player.start()
    return_code = service.run()
    player.join(10.0)
    assert player.error is None, player.error
    assert player.received, f'no JointState after {len(player.sent)} photos'
    side, state = player.received[0]
    assert state.header.stamp in player.sent
    limits = urdf_limits('leap_hand', side)
    assert len(state.name) == 16 and set(state.name) == set(limits)
    assert all(limits[n][0] <= v <= limits[n][1] for n, v in zip(state.name, state.position))
    assert return_code == 0
    assert len(exits) == 2 and set(exits.values()) == {0}, exits
