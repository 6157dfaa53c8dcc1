"""Teleoperation ROS outputs over real DDS: the retarget node and the hands node's wrist
PoseStamped + /tf publisher (interhand_ros.ros.teleop_outputs)."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import pytest
import rclpy
from custom_robot import TWO_FINGER_LIMITS, two_finger_robot
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import PoseStamped
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import Header
from teleop_support import URDF_DIR, urdf_limits
from tf2_msgs.msg import TFMessage

from interhand_msgs.msg import TwoHandPose
from interhand_ros.estimate import DepthSource, EstimatorKind, HandEstimate, TwoHandEstimate
from interhand_ros.geometry.box import Box
from interhand_ros.geometry.wrist_frame import wrist_pose
from interhand_ros.messages import to_two_hand_pose
from interhand_ros.skeleton import NUM_JOINTS, SIDES
from tools.synthetic_hands import hand_joints

needs_urdfs = pytest.mark.skipif(not URDF_DIR.is_dir(), reason=f'{URDF_DIR} absent')
QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
WAIT = 15.0  # s: a generous deadline for what takes milliseconds on an idle CPU


pytestmark = pytest.mark.usefixtures('ros')  # rclpy up for the module (conftest)


def hand(side: str, detected: bool = True, held: bool = False) -> HandEstimate:
    if not detected:
        return HandEstimate(side=side, presence=0.0, detected=False)
    joints = hand_joints(side, (-0.1 if side == 'right' else 0.1, 0.0, 0.5))
    return HandEstimate(side=side, presence=0.9, detected=True, joints=joints,
                        valid=np.ones(NUM_JOINTS, bool), wrist_position=joints[0].copy(),
                        depth_source=DepthSource.HAND_SIZE, held=held,
                        held_for=0.1 if held else 0.0)


def estimate(right: HandEstimate, left: HandEstimate) -> TwoHandEstimate:
    return TwoHandEstimate(right=right, left=left, relative_root_depth=0.0,
                           relative_root_depth_valid=False,
                           right_to_left_root=np.full(3, np.nan),
                           depth_source=DepthSource.HAND_SIZE, estimator=EstimatorKind.LANDMARK,
                           roi=Box(0, 0, 640, 480))


class Spinner:
    """Nodes spun on a background executor; records messages per topic."""

    def __init__(self, *nodes) -> None:
        self.probe = rclpy.create_node('teleop_probe')
        self.received: dict[str, list] = {}
        self.executor = SingleThreadedExecutor()
        for node in (*nodes, self.probe):
            self.executor.add_node(node)
        self.nodes = nodes
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def listen(self, msg_type, topic: str, qos=QOS) -> list:
        store = self.received.setdefault(topic, [])
        self.probe.create_subscription(msg_type, topic, store.append, qos)
        return store

    def wait_for_discovery(self, publisher, *topics: str) -> None:
        """publisher's readers and the probe's readers of topics matched: a message sent
        before would be lost."""
        readers = [s for s in self.probe.subscriptions if s.topic_name in topics]
        assert len(readers) == len(topics), topics
        self.wait_for(lambda: publisher.get_subscription_count() > 0
                      and all(r.get_publisher_count() > 0 for r in readers), WAIT, 'discovery')

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.01)
        raise AssertionError(f'timed out waiting for {what}')

    def close(self) -> None:
        self.executor.shutdown()
        self.thread.join(2.0)
        for node in (*self.nodes, self.probe):
            node.destroy_node()


def header(sec: int, nanosec: int = 0) -> Header:
    h = Header(frame_id='camera_color_optical_frame')
    h.stamp.sec, h.stamp.nanosec = sec, nanosec
    return h


@needs_urdfs
def test_retarget_node_commands_fresh_hands_only_with_the_input_stamp():
    from interhand_ros.ros.retarget_node import RetargetNode
    node = RetargetNode(parameter_overrides=[
        Parameter('robot_right', value='leap_hand'), Parameter('urdf_dir', value=str(URDF_DIR)),
        Parameter('diagnostics_period', value=0.1)])
    spin = Spinner(node)
    try:
        right_states = spin.listen(JointState, 'retarget/right/joint_states')
        left_states = spin.listen(JointState, 'retarget/left/joint_states')
        diagnostics = spin.listen(DiagnosticArray, '/diagnostics')
        publisher = spin.probe.create_publisher(TwoHandPose, 'hands', QOS)
        spin.wait_for_discovery(publisher, '/retarget/right/joint_states', '/diagnostics')
        fresh = to_two_hand_pose(estimate(hand('right'), hand('left')), header(7, 250), 640, 480)
        publisher.publish(fresh)
        spin.wait_for(lambda: right_states, WAIT, 'a right JointState')
        state = right_states[0]
        assert (state.header.stamp.sec, state.header.stamp.nanosec) == (7, 250)
        limits = urdf_limits('leap_hand', 'right')
        assert len(state.name) == 16 and set(state.name) == set(limits)
        for name, value in zip(state.name, state.position):
            assert limits[name][0] <= value <= limits[name][1], name
        # A held right hand and a lost one: no command, and /diagnostics says why.
        publisher.publish(to_two_hand_pose(estimate(hand('right', held=True), hand('left')),
                                           header(8), 640, 480))
        publisher.publish(to_two_hand_pose(estimate(hand('right', detected=False),
                                                    hand('left')), header(9), 640, 480))
        spin.wait_for(lambda: any(
            'lost' in s.message and s.level == DiagnosticStatus.WARN
            for d in diagnostics for s in d.status if 'right hand -> leap_hand' in s.name),
            WAIT, 'a lost-hand diagnostic')
        # a fresh pose again: handled after those two (one topic, in order), so any command
        # they gave would have come before its own
        publisher.publish(to_two_hand_pose(estimate(hand('right'), hand('left')), header(10),
                                           640, 480))
        spin.wait_for(lambda: any(s.header.stamp.sec == 10 for s in right_states), WAIT,
                      'the JointState of stamp 10')
        assert [s.header.stamp.sec for s in right_states] == [7, 10]
        assert not left_states  # robot_left '' skips the left hand
    finally:
        spin.close()


def test_retarget_node_drives_a_robot_of_our_own_from_its_config(tmp_path):
    """A two-finger URDF and position config written by the test, on both sides over DDS."""
    from interhand_ros.ros.retarget_node import RetargetNode
    config = two_finger_robot(tmp_path / 'robot')
    node = RetargetNode(parameter_overrides=[
        Parameter('config_right', value=str(config)), Parameter('config_left', value=str(config)),
        Parameter('urdf_dir', value=str(tmp_path / 'robot')),
        Parameter('diagnostics_period', value=0.1)])
    spin = Spinner(node)
    try:
        states = {side: spin.listen(JointState, f'retarget/{side}/joint_states')
                  for side in SIDES}
        diagnostics = spin.listen(DiagnosticArray, '/diagnostics')
        publisher = spin.probe.create_publisher(TwoHandPose, 'hands', QOS)
        spin.wait_for_discovery(publisher, *(f'/retarget/{side}/joint_states' for side in SIDES),
                                '/diagnostics')
        publisher.publish(to_two_hand_pose(estimate(hand('right'), hand('left')), header(3, 9),
                                           640, 480))
        spin.wait_for(lambda: all(states.values()), WAIT, 'a JointState for each side')
        for side in SIDES:
            state = states[side][0]
            assert (state.header.stamp.sec, state.header.stamp.nanosec) == (3, 9)
            assert list(state.name) == list(TWO_FINGER_LIMITS)
            for name, value in zip(state.name, state.position):
                lower, upper = TWO_FINGER_LIMITS[name]
                assert lower <= value <= upper, (side, name, value)
            assert max(state.position) > 0.05  # the relaxed hand's fingers flex the robot's
        spin.wait_for(lambda: any(
            s.level == DiagnosticStatus.OK for d in diagnostics for s in d.status
            if 'left hand -> two_finger' in s.name), WAIT, 'an OK two_finger diagnostic')
    finally:
        spin.close()


@pytest.mark.parametrize('params, problem', [
    ({'robot_right': 'r2d2_hand', 'urdf_dir': str(URDF_DIR)}, 'unknown robot'),
    ({'robot_right': 'leap_hand', 'urdf_dir': '/nonexistent/hands'}, 'leap_hand_right.urdf'),
    ({'robot_right': 'leap_hand'}, 'urdf_dir'),
    ({}, 'no robot hand'),
    ({'robot_right': 'leap_hand', 'urdf_dir': str(URDF_DIR), 'retargeting_type': 'x'},
     'retargeting type'),
])
def test_retarget_node_refuses_to_start_naming_the_problem(params, problem):
    from interhand_ros.ros.retarget_node import RetargetNode, StartupError
    with pytest.raises(StartupError, match=problem):
        RetargetNode(parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])


@pytest.mark.parametrize('params, problem', [
    ({'robot_right': 'leap_hand', 'config_right': 'CONFIG'}, 'right hand: .* not both'),
    ({'config_left': 'ROBOT/absent.yml'}, 'absent.yml not found'),
    ({'config_left': 'ROBOT/bad.yml'}, 'bad.yml cannot be read'),
    ({'config_right': 'CONFIG', 'urdf_dir': '/nonexistent'}, 'two_finger.urdf .* not found'),
])
def test_retarget_node_refuses_a_bad_robot_config_naming_the_problem(tmp_path, params,
                                                                      problem):
    from interhand_ros.ros.retarget_node import RetargetNode, StartupError
    config = two_finger_robot(tmp_path)
    (tmp_path / 'bad.yml').write_text('retargeting: [type: vector\n')
    values = {'urdf_dir': str(tmp_path), **params}
    values = {k: v.replace('CONFIG', str(config)).replace('ROBOT', str(tmp_path))
              for k, v in values.items()}
    with pytest.raises(StartupError, match=problem):
        RetargetNode(parameter_overrides=[Parameter(k, value=v) for k, v in values.items()])


def test_wrist_pose_and_tf_carry_the_image_stamp_and_skip_held_hands():
    from interhand_ros.ros.teleop_outputs import TeleopOutputs
    node = rclpy.create_node('teleop_outputs_host')
    outputs = TeleopOutputs(node, QOS, tf_prefix='op_')
    spin = Spinner(node)
    try:
        right = spin.listen(PoseStamped, 'hands/right/wrist')
        left = spin.listen(PoseStamped, 'hands/left/wrist')
        tf = spin.listen(TFMessage, '/tf', outputs.tf_pub.qos_profile)
        spin.wait_for(lambda: outputs.tf_pub.get_subscription_count() > 0
                      and all(pub.get_subscription_count() > 0
                              for pub in outputs.wrist_pubs.values()), WAIT, 'discovery')
        both = estimate(hand('right'), hand('left'))
        outputs.publish(both, header(11, 500))
        spin.wait_for(lambda: right and left and tf, WAIT, 'wrist poses and /tf')
        position, quaternion = wrist_pose(both.right.joints, 'right')
        got = right[0]
        assert (got.header.stamp.sec, got.header.stamp.nanosec) == (11, 500)
        assert got.header.frame_id == 'camera_color_optical_frame'
        np.testing.assert_allclose([got.pose.position.x, got.pose.position.y,
                                    got.pose.position.z], position)
        np.testing.assert_allclose([got.pose.orientation.x, got.pose.orientation.y,
                                    got.pose.orientation.z, got.pose.orientation.w], quaternion)
        frames = {t.child_frame_id: t for t in tf[0].transforms}
        assert set(frames) == {'op_right_wrist', 'op_left_wrist'}
        assert all(t.header.frame_id == 'camera_color_optical_frame'
                   and t.header.stamp.sec == 11 for t in frames.values())
        outputs.publish(estimate(hand('right', held=True), hand('left', detected=False)),
                        header(12))
        outputs.publish(both, header(13))  # sent after 12: any output of 12 comes before
        spin.wait_for(lambda: all(m and m[-1].header.stamp.sec == 13 for m in (right, left))
                      and tf and tf[-1].transforms[0].header.stamp.sec == 13, WAIT,
                      'the outputs of stamp 13')
        assert [m.header.stamp.sec for m in right] == [m.header.stamp.sec for m in left] == \
            [m.transforms[0].header.stamp.sec for m in tf] == [11, 13]
    finally:
        spin.close()
