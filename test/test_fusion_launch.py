"""launch/multi_camera.launch.py through the real launch.LaunchService: two cameras, one
hands node each (the landmark fallback: no checkpoint), the fusion node, and the extrinsics
YAML published on /tf_static by the calibration's extrinsics_publisher.

The two cameras are a stereo pair made from one real photo: /cam2 sits 5 cm right of /cam1
(same orientation) and sees the photo moved left by f * 0.05 / 0.5 px, as a camera there sees
a hand 0.5 m away. Both are placed 5 m from the world origin by the YAML, so fused hands near
(5, 0, 0.5) can only come from the extrinsics applied through the launch file.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from test_node_launch_run import (  # noqa: F401 - ament_env is a fixture
    RECEIVE_TIMEOUT_S,
    RosThread,
    ament_env,  # noqa: F401 - a fixture, used by name
    photo_messages,
    pytestmark,
    run_launch_file,
)
from tf2_msgs.msg import TFMessage

from interhand_msgs.msg import TwoHandPose
from interhand_ros.estimate import DepthSource
from interhand_ros.messages import from_two_hand_pose

FOCAL, BASELINE_M, DEPTH_M = 600.0, 0.05, 0.5  # photo_messages' focal length
SHIFT_PX = round(FOCAL * BASELINE_M / DEPTH_M)  # 60 px
RIG = np.array([5.0, 0.0, 0.0])  # /cam1's optical centre in the world frame
FUSED_POSES = 3


def extrinsics_file(path) -> str:
    cameras = {f'cam{i}': {'frame_id': f'cam{i}_color_optical_frame',
                           'translation': (RIG + [BASELINE_M * (i - 1), 0.0, 0.0]).tolist(),
                           'rotation': [0.0, 0.0, 0.0, 1.0], 'reprojection_error_px': 0.3}
               for i in (1, 2)}
    path.write_text(yaml.safe_dump({'world_frame': 'world', 'cameras': cameras}))
    return str(path)


class StereoCamera(RosThread):
    """Plays the photo pair on /cam1 and /cam2 (one stamp per pair) until fused poses come."""

    def __init__(self, on_done) -> None:
        super().__init__(on_done)
        self.received: list[TwoHandPose] = []
        self.static: list = []
        self.tf: list = []
        self.sent: list = []

    def triangulated(self) -> int:
        """Fused poses with a triangulated hand (a pair where one hands node found no hand,
        or whose camera_info the fusion node did not have yet, is one view's own hands)."""
        return sum(DepthSource.TRIANGULATED in (msg.right.depth_source, msg.left.depth_source)
                   for msg in self.received)

    def work(self, node, executor) -> None:
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        publishers = {view: (node.create_publisher(Image, f'{view}/image_raw', qos),
                             node.create_publisher(CameraInfo, f'{view}/camera_info', qos))
                      for view in ('/cam1', '/cam2')}
        node.create_subscription(TwoHandPose, '/hands', self.received.append, qos)
        node.create_subscription(TFMessage, '/tf', lambda m: self.tf.extend(m.transforms),
                                 QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        node.create_subscription(TFMessage, '/tf_static', lambda m: self.static.extend(
            m.transforms), QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                                      durability=DurabilityPolicy.TRANSIENT_LOCAL))
        deadline = time.monotonic() + RECEIVE_TIMEOUT_S
        while self.triangulated() < FUSED_POSES and time.monotonic() < deadline:
            if all(p.get_subscription_count() > 0 for pair in publishers.values() for p in pair):
                stamp = node.get_clock().now().to_msg()
                for index, (image_pub, info_pub) in enumerate(publishers.values()):
                    image, info = photo_messages(stamp, f'cam{index + 1}_color_optical_frame')
                    if index == 1:  # the right camera: the scene moved left by the disparity
                        rows = np.frombuffer(bytes(image.data), np.uint8).reshape(
                            image.height, image.width, 3)
                        image.data = np.concatenate(
                            [rows[:, SHIFT_PX:], np.repeat(rows[:, -1:], SHIFT_PX, axis=1)],
                            axis=1).tobytes()
                    info_pub.publish(info)
                    image_pub.publish(image)
                self.sent.append(stamp)
            end = time.monotonic() + 1.0  # one pair per second: both hands nodes keep up
            while time.monotonic() < end and self.triangulated() < FUSED_POSES:
                executor.spin_once(timeout_sec=0.05)


@pytest.mark.usefixtures('ament_env')
def test_two_cameras_and_their_extrinsics_give_fused_hands_in_the_world_frame(tmp_path):
    return_code, exits, player = run_launch_file(
        'multi_camera.launch.py',
        {'cameras': '[/cam1, /cam2]', 'extrinsics': extrinsics_file(tmp_path / 'rig.yaml'),
         # one photo pair per second, each taking its hands node a while on a busy CPU: a
         # view stays live between pairs, and a pair waits for its slower half
         'view_timeout': '5.0', 'max_wait': '3.0'},
        StereoCamera)
    assert player.triangulated() >= FUSED_POSES, \
        f'{player.triangulated()} triangulated of {len(player.received)} fused poses after ' \
        f'{len(player.sent)} photo pairs'
    assert {(t.header.frame_id, t.child_frame_id) for t in player.static} >= {
        ('world', 'cam1_color_optical_frame'), ('world', 'cam2_color_optical_frame')}
    for msg in player.received:
        assert msg.header.frame_id == 'world'
        assert msg.header.stamp in player.sent  # the pair's stamp
        hands = [hand for hand in from_two_hand_pose(msg).hands() if hand.detected]
        assert hands, 'the photo shows hands'
        for hand in hands:  # in front of the rig: the extrinsics applied
            offset = hand.wrist_position - RIG
            assert abs(offset[0]) < 0.4 and abs(offset[1]) < 0.4, hand.wrist_position
            if hand.depth_source == DepthSource.TRIANGULATED:  # about 0.5 m away
                assert 0.25 < offset[2] < 1.0, hand.wrist_position
            else:  # one view's own 3D: the landmark model's depth of this close-up photo
                assert 0.0 < offset[2] < 1.0 and hand.depth_source == DepthSource.PNP
    # /tf holds the fused wrists only: the cameras' own are on <camera>/hands/tf
    assert {t.header.frame_id for t in player.tf} == {'world'}, player.tf
    assert return_code == 0
    assert set(exits.values()) == {0}, exits  # both hands nodes, fusion, extrinsics publisher
    assert len(exits) == 4, exits


def test_launch_arguments_are_hands_launch_s_and_the_fusion_node_s_and_documented():
    from launch.actions import DeclareLaunchArgument
    from launch.launch_description_sources.python_launch_file_utilities import (
        load_python_launch_file_as_module,
    )
    launch_dir = Path(__file__).resolve().parents[1] / 'launch'

    def declared(name: str) -> set[str]:
        module = load_python_launch_file_as_module(str(launch_dir / name))
        return {entity.name for entity in module.generate_launch_description().entities
                if isinstance(entity, DeclareLaunchArgument)}
    multi, hands = declared('multi_camera.launch.py'), declared('hands.launch.py')
    per_camera = {'camera', 'namespace', 'use_rviz', 'frame'}
    assert hands - per_camera <= multi  # checkpoint, backend, precision, params_file, ...
    own = multi - (hands - per_camera)
    assert own == {'cameras', 'extrinsics', 'namespace', 'fusion_params_file', 'robot',
                   'urdf_dir', 'camera_fps', 'world_frame', 'sync_tolerance', 'max_wait',
                   'view_timeout'}
    docs = (launch_dir.parent / 'docs' / 'fusion.md').read_text()
    assert all(f'`{name}`' in docs for name in own), own
