"""interhand_msgs on a real ROS 2 runtime: constants, fixed-size arrays, serialization, DDS.

Every field of the message under test holds a distinct non-default value, so a field that is
dropped, truncated or swapped anywhere on the way shows up as an inequality.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.serialization import deserialize_message, serialize_message

from interhand_msgs.msg import HandPose, Point2D, TwoHandPose
from interhand_ros.estimate import DepthSource, EstimatorKind
from interhand_ros.skeleton import JOINT_NAMES, NUM_JOINTS

RECEIVE_TIMEOUT_S = 60.0  # generous: a loaded CI machine starts Python slowly


def filled_hand(side: int, offset: float) -> HandPose:
    """A HandPose whose every field differs from its default and from the other hand's."""
    hand = HandPose(side=side, presence=0.25 + offset, detected=True,
                    depth_source=HandPose.DEPTH_HAND_SIZE)
    for i in range(NUM_JOINTS):
        hand.joints[i].x = offset + 0.001 * i
        hand.joints[i].y = offset - 0.002 * i
        hand.joints[i].z = 0.5 + offset + 0.003 * i
        hand.pixels[i] = Point2D(u=100.5 + i + offset, v=200.25 - i)
    hand.confidence = np.linspace(0.05, 0.95, NUM_JOINTS, dtype=np.float32) + np.float32(offset)
    hand.valid = [i % 3 != 0 for i in range(NUM_JOINTS)]
    hand.wrist_pose.position = hand.joints[HandPose.WRIST]
    hand.wrist_pose.orientation.x = 0.5
    hand.wrist_pose.orientation.y = -0.5
    hand.wrist_pose.orientation.z = 0.5
    hand.wrist_pose.orientation.w = 0.5 + offset
    return hand


def filled_two_hand_pose() -> TwoHandPose:
    """Float32 fields hold values exact in float32, so equality survives serialization."""
    msg = TwoHandPose(relative_root_depth=-0.0390625, relative_root_depth_valid=True,
                      depth_source=HandPose.DEPTH_IMAGE,
                      estimator=TwoHandPose.ESTIMATOR_LANDMARK, inference_time=0.046875)
    msg.header.stamp.sec = 1_700_000_123
    msg.header.stamp.nanosec = 456_789
    msg.header.frame_id = 'camera_color_optical_frame'
    msg.right = filled_hand(HandPose.RIGHT, 0.0)
    msg.left = filled_hand(HandPose.LEFT, 0.125)
    msg.right_to_left_root.x = 0.21
    msg.right_to_left_root.y = -0.03
    msg.right_to_left_root.z = -0.0375
    msg.roi.x_offset, msg.roi.y_offset, msg.roi.width, msg.roi.height = 12, 34, 560, 410
    msg.roi.do_rectify = True
    return msg


@pytest.fixture(scope='module')
def ros_context():
    context = rclpy.Context()
    rclpy.init(context=context)
    yield context
    rclpy.shutdown(context=context)


def spin_until(executor: SingleThreadedExecutor, done, timeout_s: float, tick=None) -> None:
    """Spin until done() is true; call tick() (e.g. publish) every 100 ms meanwhile."""
    deadline = time.monotonic() + timeout_s
    next_tick = 0.0
    while not done() and time.monotonic() < deadline:
        if tick is not None and time.monotonic() >= next_tick:
            tick()
            next_tick = time.monotonic() + 0.1
        executor.spin_once(timeout_sec=0.02)


def stop_child(child: subprocess.Popen) -> str:
    """SIGTERM (then SIGKILL if it hangs on a loaded machine); returns what it printed."""
    child.terminate()
    try:
        return child.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        child.kill()
        return child.communicate()[0]


def unique_topic(name: str) -> str:
    return f'/foundation_test/{name}_{uuid.uuid4().hex[:8]}'


def test_joint_constants_name_the_published_order():
    assert HandPose.NUM_JOINTS == NUM_JOINTS == len(JOINT_NAMES)
    for index, name in enumerate(JOINT_NAMES):
        assert getattr(HandPose, name.upper()) == index, name


def test_depth_and_estimator_constants_match_the_python_enums():
    for source in DepthSource:
        constant = source.name if source.name.startswith('DEPTH_') else f'DEPTH_{source.name}'
        assert getattr(HandPose, constant) == source.value, constant
    for estimator in EstimatorKind:
        assert getattr(TwoHandPose, f'ESTIMATOR_{estimator.name}') == estimator.value
    assert (HandPose.RIGHT, HandPose.LEFT) == (0, 1)


def test_fixed_size_arrays_have_21_entries_and_checked_messages_reject_other_lengths():
    hand = HandPose()
    assert len(hand.joints) == len(hand.pixels) == len(hand.valid) == NUM_JOINTS
    assert hand.confidence.shape == (NUM_JOINTS,) and hand.confidence.dtype == np.float32
    # rclpy checks field values only on request (check_fields / ROS_PYTHON_CHECK_FIELDS=1).
    checked = HandPose(check_fields=True)
    with pytest.raises(AssertionError, match='size of 21'):
        checked.confidence = np.zeros(NUM_JOINTS - 1, dtype=np.float32)
    with pytest.raises(AssertionError, match='length 21'):
        checked.valid = [True] * (NUM_JOINTS + 1)
    with pytest.raises(AssertionError, match='length 21'):
        checked.joints = checked.joints[:-1]


def test_serialize_deserialize_gives_back_equal_values():
    msg = filled_two_hand_pose()
    data = serialize_message(msg)
    back = deserialize_message(data, TwoHandPose)
    assert back == msg
    assert back is not msg
    np.testing.assert_array_equal(back.left.confidence, msg.left.confidence)
    assert back.left.pixels[20].u == pytest.approx(100.5 + 20 + 0.125)
    # A changed field must change the bytes (the comparison above is not vacuous).
    msg.left.valid[7] = not msg.left.valid[7]
    assert serialize_message(msg) != data


def test_round_trip_between_two_nodes_in_one_process(ros_context):
    topic = unique_topic('in_process')
    publisher_node = Node('foundation_publisher', context=ros_context)
    subscriber_node = Node('foundation_subscriber', context=ros_context)
    received: list[TwoHandPose] = []
    subscriber_node.create_subscription(TwoHandPose, topic, received.append, 10)
    publisher = publisher_node.create_publisher(TwoHandPose, topic, 10)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(publisher_node)
    executor.add_node(subscriber_node)
    sent = filled_two_hand_pose()
    try:
        spin_until(executor, lambda: bool(received), RECEIVE_TIMEOUT_S,
                   tick=lambda: publisher.publish(sent))
    finally:
        executor.shutdown()
        publisher_node.destroy_node()
        subscriber_node.destroy_node()
    assert received, f'no TwoHandPose arrived on {topic} within {RECEIVE_TIMEOUT_S} s'
    assert received[0] == filled_two_hand_pose()


def test_round_trip_through_a_separate_process(ros_context):
    """Publish here, a child process echoes each message back unchanged, compare here."""
    to_child, from_child = unique_topic('to_child'), unique_topic('from_child')
    child = subprocess.Popen([sys.executable, __file__, to_child, from_child],
                             env=os.environ.copy(), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    node = Node('foundation_echo_client', context=ros_context)
    received: list[TwoHandPose] = []
    node.create_subscription(TwoHandPose, from_child, received.append, 10)
    publisher = node.create_publisher(TwoHandPose, to_child, 10)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    sent = filled_two_hand_pose()
    try:
        spin_until(executor, lambda: bool(received) or child.poll() is not None,
                   RECEIVE_TIMEOUT_S, tick=lambda: publisher.publish(sent))
    finally:
        executor.shutdown()
        node.destroy_node()
        output = stop_child(child)
    assert received, f'no echo from the child process; its output:\n{output}'
    assert received[0] == filled_two_hand_pose()
    assert received[0].header.frame_id == 'camera_color_optical_frame'


def echo(in_topic: str, out_topic: str) -> None:
    """Child-process side of the test above: republish every TwoHandPose unchanged."""
    rclpy.init()
    node = Node('foundation_echo')
    publisher = node.create_publisher(TwoHandPose, out_topic, 10)
    node.create_subscription(TwoHandPose, in_topic, publisher.publish, 10)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass


if __name__ == '__main__':
    echo(*sys.argv[1:3])
