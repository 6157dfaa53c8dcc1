"""Teleoperation end to end over real DDS: a real hand photo played as a 30 Hz camera with
per-frame pixel noise, through the hands node (landmark fallback, in process) and the retarget
node. Filtered joints jitter far less than the raw ones (hands/raw = what filter.enabled:=false
publishes), wrist PoseStamped and /tf carry the image stamp, and the retarget node answers with
a LEAP Hand JointState."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from builtin_interfaces.msg import Time
from geometry_msgs.msg import PoseStamped
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, JointState
from teleop_support import URDF_DIR, urdf_limits
from tf2_msgs.msg import TFMessage

from interhand_msgs.msg import HandPose, TwoHandPose
from interhand_ros.processing.factory import build_estimator
from interhand_ros.ros.teleop_outputs import tf_qos
from interhand_ros.settings import DEFAULTS, estimator_settings
from interhand_ros.skeleton import SIDES

from test_node_ros import Harness, camera_info

PHOTO = Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'hands' / 'handSrc.jpg'
pytestmark = [pytest.mark.skipif(not PHOTO.exists(), reason=f'test photo {PHOTO} is absent'),
              pytest.mark.skipif(not URDF_DIR.is_dir(), reason=f'{URDF_DIR} absent'),
              pytest.mark.usefixtures('ros')]  # rclpy up for the module (conftest)
FRAMES, SETTLE = 36, 8          # frames sent; the first SETTLE are the filter converging
NOISE = 6.0                     # per-frame pixel noise, std in 0..255
TIMEOUT = 30.0                  # s per answer: the landmark estimator on a shared 2-core CPU
FRAME = 'camera_color_optical_frame'
QOS = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)


def noisy_frames(count: int) -> list[np.ndarray]:
    bgr = cv2.imread(str(PHOTO)).astype(np.float64)
    rng = np.random.default_rng(5)
    return [np.clip(bgr + rng.normal(0.0, NOISE, bgr.shape), 0, 255).astype(np.uint8)
            for _ in range(count)]


def stamp_at(index: int) -> Time:
    """30 Hz stamps: the filter runs in stamp time, whatever the processing rate here."""
    nanoseconds = 1_000_000_000_000 + index * 1_000_000_000 // 30
    return Time(sec=nanoseconds // 1_000_000_000, nanosec=nanoseconds % 1_000_000_000)


def image_msg(bgr: np.ndarray, stamp: Time) -> Image:
    height, width = bgr.shape[:2]
    msg = Image(width=width, height=height, encoding='bgr8', step=width * 3, data=bgr.tobytes())
    msg.header.stamp, msg.header.frame_id = stamp, FRAME
    return msg


def measured_hand(msg: TwoHandPose) -> HandPose | None:
    found = [hand for hand in (msg.right, msg.left) if hand.detected and not hand.held]
    return found[0] if len(found) == 1 else None


def jitter_mm(hands: list[HandPose]) -> float:
    joints = np.array([[[p.x, p.y, p.z] for p in hand.joints] for hand in hands])
    return float(np.sqrt(np.mean(np.sum(np.diff(joints, axis=0) ** 2, axis=-1)))) * 1e3


def run(frames: list[np.ndarray], retarget: bool = False, **params):
    """Plays the frames one at a time (each answered before the next) through a fresh node."""
    from interhand_ros.ros.retarget_node import RetargetNode
    estimator = build_estimator(estimator_settings(dict(DEFAULTS)), lambda _: None)
    harness = Harness(estimator, diagnostics_period=0.5, **params)
    retargeter = None
    try:
        probe = harness.probe
        raw: list[TwoHandPose] = []
        wrists: list[PoseStamped] = []
        transforms: list[TFMessage] = []
        states: list[tuple[str, JointState]] = []
        probe.create_subscription(TwoHandPose, 'hands/raw', raw.append, QOS)
        for side in SIDES:
            probe.create_subscription(PoseStamped, f'hands/{side}/wrist', wrists.append, QOS)
            probe.create_subscription(JointState, f'retarget/{side}/joint_states',
                                      lambda m, side=side: states.append((side, m)), QOS)
        probe.create_subscription(TFMessage, '/tf', transforms.append, tf_qos())
        if retarget:
            retargeter = RetargetNode(parameter_overrides=[
                Parameter('robot_right', value='leap_hand'),
                Parameter('robot_left', value='leap_hand'),
                Parameter('urdf_dir', value=str(URDF_DIR))])
            harness.executor.add_node(retargeter)
        outputs = harness.node.outputs
        assert outputs is not None  # autostart: active
        teleop = outputs.teleop
        harness.wait_for(lambda: all(pub.get_subscription_count() > 0 for pub in (
            teleop.raw_pub, *teleop.wrist_pubs.values(), teleop.tf_pub) if pub is not None),
            TIMEOUT, 'discovery of hands/raw, the wrist poses and /tf')
        sent = []
        for index, bgr in enumerate(frames):
            stamp = stamp_at(index)
            harness.send(image_msg(bgr, stamp), camera_info(stamp, frame=FRAME,
                                                            width=bgr.shape[1],
                                                            height=bgr.shape[0], fx=600.0))
            harness.wait_for_stamp(stamp, timeout=TIMEOUT)
            sent.append(stamp)
        if retarget:
            harness.wait_for(lambda: bool(states), TIMEOUT, 'a retargeted JointState')
        harness.wait_for(lambda: len(raw) >= len(frames), TIMEOUT, 'every raw pose')
        if measured_hand(harness.wait_for_stamp(sent[-1])) is not None:
            harness.wait_for(lambda: any(w.header.stamp == sent[-1] for w in wrists), TIMEOUT,
                             "the last frame's wrist pose")
        by_stamp = {(m.header.stamp.sec, m.header.stamp.nanosec): m for _, m in harness.hands}
        filtered = [by_stamp[(s.sec, s.nanosec)] for s in sent]
        return filtered, raw, wrists, transforms, states, sent
    finally:
        if retargeter is not None:
            harness.executor.remove_node(retargeter)
            retargeter.destroy_node()
        harness.close()


def test_noisy_photo_filtered_jitters_far_less_and_robot_outputs_carry_the_image_stamp():
    filtered, raw, wrists, transforms, states, sent = run(
        noisy_frames(FRAMES), retarget=True, **{'tf.prefix': 'op_'})
    assert all(msg.filtered for msg in filtered) and not any(msg.filtered for msg in raw)
    pairs = [(measured_hand(f), measured_hand(r)) for f, r in zip(filtered, raw)][SETTLE:]
    pairs = [(f, r) for f, r in pairs if f is not None and r is not None and f.side == r.side]
    assert len(pairs) >= FRAMES - SETTLE - 3, 'the hand was lost in too many noisy frames'
    raw_jitter = jitter_mm([r for _, r in pairs])
    filtered_jitter = jitter_mm([f for f, _ in pairs])
    assert raw_jitter > 0.3, f'the noise moved the raw hand by only {raw_jitter:.2f} mm'
    assert filtered_jitter < raw_jitter / 4.0, (raw_jitter, filtered_jitter)

    sent_stamps = {(s.sec, s.nanosec) for s in sent}
    assert wrists and all((w.header.stamp.sec, w.header.stamp.nanosec) in sent_stamps
                          and w.header.frame_id == FRAME for w in wrists)
    children = {t.child_frame_id for message in transforms for t in message.transforms}
    assert children and children <= {'op_right_wrist', 'op_left_wrist'}
    assert all((t.header.stamp.sec, t.header.stamp.nanosec) in sent_stamps
               and t.header.frame_id == FRAME for m in transforms for t in m.transforms)
    last = filtered[-1]
    hand = measured_hand(last)
    assert hand is not None
    wrist = next(w for w in wrists if w.header.stamp == last.header.stamp)
    np.testing.assert_allclose([wrist.pose.position.x, wrist.pose.position.y,
                                wrist.pose.position.z],
                               [hand.joints[0].x, hand.joints[0].y, hand.joints[0].z])

    side, state = states[0]
    assert (state.header.stamp.sec, state.header.stamp.nanosec) in sent_stamps
    limits = urdf_limits('leap_hand', side)
    assert len(state.name) == 16 and set(state.name) == set(limits)
    assert all(limits[n][0] <= v <= limits[n][1] for n, v in zip(state.name, state.position))


def test_filter_off_publishes_the_raw_estimate():
    filtered, raw, *_ = run(noisy_frames(4), **{'filter.enabled': False})
    for published, unfiltered in zip(filtered, raw):
        assert not published.filtered
        for side in SIDES:
            a, b = getattr(published, side), getattr(unfiltered, side)
            assert a.detected == b.detected and not a.held
            np.testing.assert_array_equal([[p.x, p.y, p.z] for p in a.joints],
                                          [[p.x, p.y, p.z] for p in b.joints])
