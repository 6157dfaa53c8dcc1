"""The hands node over real DDS (in-process executor thread): outputs, bad inputs, overload.

A scripted estimator stands in for the network here so every check is exact and fast; the real
InterNet engine runs through the node in test_node_engine.py.
"""
from __future__ import annotations

import math
import resource
import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np
import pytest
import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from estimate_builders import make_estimate
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, RegionOfInterest
from visualization_msgs.msg import MarkerArray

from interhand_msgs.msg import TwoHandPose
from interhand_ros.geometry.box import Box
from interhand_ros.ros.hands_node import HandsNode, StartupError
from interhand_ros.stamps import header_seconds

WIDTH, HEIGHT = 64, 48
# s: deadline for an event that takes milliseconds on an idle machine; the suite shares a
# 2-core CPU with other jobs, and a passing test never waits this long
WAIT = 15.0


class ScriptedEstimator:
    """Returns a fixed two-hand estimate after `delay` s and records what it was given."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[tuple] = []
        self.closed = False

    def estimate(self, image_rgb, camera, roi=None, depth=None):
        self.calls.append((image_rgb.shape, camera, roi, depth))
        time.sleep(self.delay)
        estimate = make_estimate(right=True, left=True, roi=roi or Box(0, 0, WIDTH, HEIGHT))
        estimate.inference_time = self.delay
        return estimate

    finds_hands = False

    def describe(self) -> str:
        return f'scripted estimator ({self.delay} s)'

    def close(self) -> None:
        self.closed = True


def camera_info(stamp, frame='cam_optical', width=WIDTH, height=HEIGHT, fx=50.0) -> CameraInfo:
    info = CameraInfo(width=width, height=height, distortion_model='plumb_bob')
    info.header.stamp, info.header.frame_id = stamp, frame
    info.k = [fx, 0.0, width / 2, 0.0, fx, height / 2, 0.0, 0.0, 1.0]
    info.p = [fx, 0.0, width / 2, 0.0, 0.0, fx, height / 2, 0.0, 0.0, 0.0, 1.0, 0.0]
    info.d = [0.0] * 5
    return info


def image(stamp, frame='cam_optical', width=WIDTH, height=HEIGHT, encoding='rgb8',
          channels=3, dtype=np.uint8) -> Image:
    pixels = (np.arange(height * width * channels) % 251).astype(dtype)
    msg = Image(width=width, height=height, encoding=encoding,
                step=width * channels * np.dtype(dtype).itemsize, data=pixels.tobytes())
    msg.header.stamp, msg.header.frame_id = stamp, frame
    return msg


class Harness:
    """The node under test plus a probe node publishing inputs and recording outputs."""

    def __init__(self, estimator, pairing: str | None = None, estimator_factory=None,
                 **params) -> None:
        self.estimator = estimator
        factory = {} if estimator_factory is None else {'estimator_factory': estimator_factory}
        self.node = HandsNode(estimator=estimator, pairing=pairing, parameter_overrides=[
            Parameter(name, value=value) for name, value in params.items()], **factory)
        self.probe = rclpy.create_node('probe')
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.image_pub = self.probe.create_publisher(Image, 'image', qos)
        self.info_pub = self.probe.create_publisher(CameraInfo, 'camera_info', qos)
        self.depth_pub = self.probe.create_publisher(Image, 'depth', qos)
        self.depth_info_pub = self.probe.create_publisher(CameraInfo, 'depth_info', qos)
        self.roi_pub = self.probe.create_publisher(RegionOfInterest, 'roi', qos)
        self.hands: list[tuple[float, TwoHandPose]] = []
        self.markers: deque[MarkerArray] = deque(maxlen=20)
        self.debug: deque[Image] = deque(maxlen=5)  # large: keep memory flat
        self.diagnostics: list[DiagnosticStatus] = []
        self.probe.create_subscription(
            TwoHandPose, 'hands', lambda m: self.hands.append((self.now(), m)), qos)
        self.probe.create_subscription(MarkerArray, 'hands/markers',
                                       lambda m: self.markers.append(m), qos)
        self.probe.create_subscription(Image, 'hands/debug_image',
                                       lambda m: self.debug.append(m), qos)
        self.probe.create_subscription(
            DiagnosticArray, '/diagnostics',
            lambda m: self.diagnostics.extend(s for s in m.status if 'hands' in s.name), qos)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.executor.add_node(self.probe)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()
        if self.node.state == 'active':  # autostart; else the test drives the lifecycle
            self.wait_for_discovery()

    def wait_for_discovery(self) -> None:
        """Every probe publisher on a topic the node subscribes to is matched, and the probe
        listens to hands: a message sent before its reader matched would be lost."""
        subscribed = ({s.topic_name for s in self.node.inputs.subscriptions}
                      if self.node.inputs is not None else set())
        publishers = [p for p in self.probe.publishers if p.topic_name in subscribed]
        self.wait_for(lambda: all(p.get_subscription_count() > 0 for p in publishers)
                      and self.node.hands_pub.get_subscription_count() > 0, WAIT, 'discovery')

    def now(self) -> float:
        return self.probe.get_clock().now().nanoseconds * 1e-9

    def stamp(self):
        return self.probe.get_clock().now().to_msg()

    def send(self, img: Image, info: CameraInfo | None = None,
             depth: Image | None = None, depth_info: CameraInfo | None = None) -> None:
        for publisher, msg in ((self.info_pub, info), (self.depth_pub, depth),
                               (self.depth_info_pub, depth_info)):
            if msg is not None:
                publisher.publish(msg)
        self.image_pub.publish(img)

    def send_good(self):
        stamp = self.stamp()
        self.send(image(stamp), camera_info(stamp))
        return stamp

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f'timed out waiting for {what}')
            time.sleep(0.01)

    def send_until(self, send: Callable[[], object], done: Callable[[], object], what: str,
                   timeout: float = WAIT) -> None:
        """send() every 50 ms (a 20 Hz camera) until done(): for what the node reports only
        while images keep arriving (e.g. none paired for over a second)."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f'timed out waiting for {what}')
            send()
            time.sleep(0.05)

    def wait_for_stamp(self, stamp, timeout: float = WAIT) -> TwoHandPose:
        def found():
            return any(m.header.stamp == stamp for _, m in self.hands)
        self.wait_for(found, timeout, f'hands message stamped {stamp}')
        return next(m for _, m in self.hands if m.header.stamp == stamp)

    def error_status(self, text: str) -> DiagnosticStatus | None:
        """The first ERROR status received whose message mentions text, if any."""
        return next((s for s in self.diagnostics
                     if s.level == DiagnosticStatus.ERROR and text in s.message), None)

    def wait_for_error(self, text: str, timeout: float = WAIT) -> DiagnosticStatus:
        self.wait_for(lambda: self.error_status(text) is not None, timeout,
                      f'diagnostics ERROR mentioning {text!r}')
        status = self.error_status(text)
        assert status is not None
        return status

    def wait_for_report(self, text: str, timeout: float = WAIT) -> DiagnosticStatus:
        """A WARN or ERROR status whose message or last_fault mentions text (a survived fault)."""
        def mentions(status: DiagnosticStatus) -> bool:
            last_fault = {kv.key: kv.value for kv in status.values}.get('last_fault', '')
            return status.level in (DiagnosticStatus.WARN, DiagnosticStatus.ERROR) and (
                text in status.message or text in last_fault)
        self.wait_for(lambda: any(mentions(s) for s in self.diagnostics), timeout,
                      f'diagnostics WARN/ERROR mentioning {text!r}')
        return next(s for s in self.diagnostics if mentions(s))

    def close(self) -> None:
        if self.node.worker is not None:
            self.node.worker.stop()  # no publishing while the executor winds down
        self.executor.shutdown()
        self.thread.join(2.0)
        self.node.destroy_node()
        self.probe.destroy_node()


pytestmark = pytest.mark.usefixtures('ros')  # rclpy up for the module (conftest)




def test_outputs_follow_the_image_header_and_markers_match_joints(harness_factory):
    h = harness_factory()
    h.wait_for(lambda: h.node.markers_pub.get_subscription_count() > 0
               and h.node.debug_pub.get_subscription_count() > 0, WAIT, 'probe subscriptions')
    stamp = h.send_good()
    msg = h.wait_for_stamp(stamp)
    assert msg.header.frame_id == 'cam_optical'
    assert msg.right.detected and msg.left.detected
    assert len(msg.right.joints) == 21 and len(msg.left.pixels) == 21
    assert (msg.roi.width, msg.roi.height) == (WIDTH, HEIGHT)
    h.wait_for(lambda: any(m.markers and m.markers[0].header.stamp == stamp
                           for m in h.markers), WAIT, 'markers')
    h.wait_for(lambda: any(d.header.stamp == stamp for d in h.debug), WAIT, 'debug image')
    markers = next(m for m in h.markers if m.markers[0].header.stamp == stamp)
    for hand_msg, side in ((msg.right, 'right'), (msg.left, 'left')):
        joints = next(m for m in markers.markers if m.ns == side and m.id == 0)
        assert joints.header.frame_id == 'cam_optical'
        expected = [(p.x, p.y, p.z) for p, ok in zip(hand_msg.joints, hand_msg.valid) if ok]
        assert [(p.x, p.y, p.z) for p in joints.points] == expected
    debug = next(d for d in h.debug if d.header.stamp == stamp)
    assert (debug.width, debug.height, debug.encoding) == (WIDTH, HEIGHT, 'rgb8')
    assert debug.header.frame_id == 'cam_optical'
    shape, camera, roi, depth = h.estimator.calls[-1]
    assert shape == (HEIGHT, WIDTH, 3) and roi is None and depth is None
    assert (camera.fx, camera.cx, camera.width) == (50.0, WIDTH / 2, WIDTH)
    h.wait_for(lambda: any(s.level == DiagnosticStatus.OK for s in h.diagnostics), WAIT,
               'diagnostics OK')


def test_markers_and_debug_image_only_when_subscribed(harness_factory):
    h = harness_factory()
    h.probe.destroy_subscription(next(s for s in h.probe.subscriptions
                                      if s.topic_name == '/hands/markers'))
    h.probe.destroy_subscription(next(s for s in h.probe.subscriptions
                                      if s.topic_name == '/hands/debug_image'))
    h.wait_for(lambda: h.node.markers_pub.get_subscription_count() == 0
               and h.node.debug_pub.get_subscription_count() == 0, WAIT, 'unsubscribe')
    h.wait_for_stamp(h.send_good())
    assert not h.markers and not h.debug


def bad_inputs():
    """(name, make the bad message set from a stamp, text expected in the error)."""
    return [
        ('unsupported encoding', lambda s: (image(s, encoding='8UC5', channels=5),
                                            camera_info(s)), 'unsupported encoding'),
        ('data length', lambda s: (_truncated(image(s)), camera_info(s)), 'data length'),
        ('zero size', lambda s: (image(s, width=0), camera_info(s)), 'zero-size'),
        ('uncalibrated', lambda s: (image(s), camera_info(s, fx=0.0)), 'uncalibrated'),
        ('NaN', lambda s: (image(s), _with_nan(camera_info(s))), 'NaN'),
        ('info size', lambda s: (image(s), camera_info(s, width=2 * WIDTH,
                                                      height=2 * HEIGHT)), 'camera_info is'),
    ]


def _truncated(msg: Image) -> Image:
    msg.data = bytes(msg.data)[:-5]
    return msg


def _with_nan(info: CameraInfo) -> CameraInfo:
    info.k[2] = math.nan
    return info


def test_each_bad_input_is_reported_and_the_next_good_frame_is_processed(harness_factory):
    h = harness_factory()
    for name, make_bad, text in bad_inputs():
        bad_stamp = h.stamp()
        h.send(*make_bad(bad_stamp))
        status = h.wait_for_error(text)
        assert status.level == DiagnosticStatus.ERROR, name
        good = h.send_good()
        h.wait_for_stamp(good)
        assert not any(m.header.stamp == bad_stamp for _, m in h.hands), name
    failed = int({kv.key: kv.value for kv in h.diagnostics[-1].values}['frames_failed'])
    assert failed >= len(bad_inputs())


def test_missing_camera_info_is_reported(harness_factory, pairing):
    h = harness_factory(pairing=pairing)
    h.send_until(lambda: h.send(image(h.stamp())),
                 lambda: h.error_status('no camera_info received'), 'no camera_info reported')
    h.wait_for_stamp(h.send_good())


def test_latest_sync_uses_cached_info_of_the_same_frame(harness_factory, pairing):
    h = harness_factory(pairing=pairing, sync='latest', max_info_age=0.0)
    h.info_pub.publish(camera_info(h.stamp()))
    h.wait_for(lambda: h.node.inputs.seen['camera_info'], WAIT, 'the camera_info cached')
    stamp = h.stamp()
    h.send(image(stamp))
    h.wait_for_stamp(stamp)
    h.send(image(h.stamp(), frame='other_optical'))
    h.wait_for_error("no camera_info received for frame 'other_optical'")


@pytest.mark.parametrize('sync', ['approximate', 'latest'])
def test_depth_of_another_size_or_camera_is_rejected_and_good_depth_used(harness_factory, sync,
                                                                         pairing):
    h = harness_factory(pairing=pairing, sync=sync, **{'depth.mode': 'depth_image'})

    def send(depth_size=(WIDTH, HEIGHT), info_size=(WIDTH, HEIGHT), fx=50.0):
        stamp = h.stamp()
        depth = image(stamp, width=depth_size[0], height=depth_size[1], encoding='16UC1',
                      channels=1, dtype=np.uint16)
        h.send(image(stamp), camera_info(stamp), depth,
               camera_info(stamp, width=info_size[0], height=info_size[1], fx=fx))
        return stamp

    send(depth_size=(WIDTH // 2, HEIGHT // 2), info_size=(WIDTH // 2, HEIGHT // 2))
    h.wait_for_error('depth image is 32x24')
    send(fx=80.0)  # same size, but the depth camera's intrinsics: not registered
    h.wait_for_error('depth image is not registered to the colour image')
    stamp = send()
    h.wait_for_stamp(stamp)
    metres = h.estimator.calls[-1][3].metres
    assert metres.shape == (HEIGHT, WIDTH) and np.nanmax(metres) == pytest.approx(0.25)


def test_estimator_exception_is_reported_and_the_node_keeps_going(harness_factory):
    class FailingOnce(ScriptedEstimator):
        def estimate(self, *args, **kwargs):
            if not self.calls:
                self.calls.append(None)
                raise RuntimeError('simulated estimator failure')
            return super().estimate(*args, **kwargs)

    h = harness_factory(FailingOnce())
    h.send_good()
    h.wait_for_error('simulated estimator failure')
    h.wait_for_stamp(h.send_good())


def test_roi_topic_box_is_given_to_the_estimator(harness_factory):
    h = harness_factory(**{'roi.mode': 'topic'})
    box = Box(4.0, 6.0, 20.0, 30.0)
    deadline = time.monotonic() + WAIT
    while True:  # a frame sent right behind the box may reach the node before it
        h.roi_pub.publish(RegionOfInterest(x_offset=4, y_offset=6, width=20, height=30))
        msg = h.wait_for_stamp(h.send_good())
        if h.estimator.calls[-1][2] == box:
            break
        assert time.monotonic() < deadline, f'roi never given: {h.estimator.calls[-1][2]}'
    assert (msg.roi.x_offset, msg.roi.y_offset, msg.roi.width, msg.roi.height) == (4, 6, 20, 30)


def test_bad_parameters_fail_at_start_with_the_parameter_name():
    with pytest.raises(StartupError, match='sync must be one of'):
        HandsNode(estimator=ScriptedEstimator(),
                  parameter_overrides=[Parameter('sync', value='sometimes')])
    with pytest.raises(StartupError, match='roi.fixed'):
        HandsNode(estimator=ScriptedEstimator(),
                  parameter_overrides=[Parameter('roi.mode', value='fixed')])


def rss_mb() -> float:
    with open('/proc/self/statm') as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def test_overload_keeps_pose_age_bounded_and_memory_flat(harness_factory):
    inference = 0.15  # s, the real-size model's forward on this CPU
    h = harness_factory(ScriptedEstimator(delay=inference))
    width, height = 320, 240
    frame, info = image(h.stamp(), width=width, height=height), camera_info(
        h.stamp(), width=width, height=height)
    rss, sent = [], []  # every frame's stamp (s)
    deadline = time.monotonic() + 60.0
    next_frame = time.monotonic()
    # a 30 Hz camera for 4 s, longer if a busy CPU has not let the node publish 24 poses yet
    while len(sent) < 120 or len(h.hands) < 24:
        assert time.monotonic() < deadline, f'only {len(h.hands)} poses out of {len(sent)} frames'
        stamp = h.stamp()
        frame.header.stamp = info.header.stamp = stamp
        h.send(frame, info)
        sent.append(stamp.sec + stamp.nanosec * 1e-9)
        if len(sent) % 15 == 0:
            rss.append(rss_mb())
        next_frame = max(next_frame + 1 / 30, time.monotonic())  # late: no burst to catch up
        time.sleep(max(0.0, next_frame - time.monotonic()))
    # a pose's age in camera frames: those sent after its image and before it arrived. Newest
    # frame each time: the wait for the worker (< 1 inference) + 1 inference + DDS, 5 to 9
    # frames; a queue would add 3.5 frames per pose (over 30 by the tenth). Counted in frames,
    # a pause of the whole process on a busy CPU adds nothing.
    stamps = np.array(sent)
    ages = [int(np.sum((stamps > header_seconds(m)) & (stamps <= received)))
            for received, m in list(h.hands)]
    steady = ages[len(ages) // 4:]
    assert np.percentile(steady, 90) <= 15, f'pose age in frames: {steady}'
    assert max(steady) <= 30, f'pose age grew: {steady}'
    assert np.mean(steady[-5:]) - np.mean(steady[:5]) < 10, f'pose age grew: {steady}'
    # after warm-up (2 s); keeping one 320x240 frame per published pose would add > 5 MB
    assert rss[-1] - rss[3] < 4.0, f'RSS grew: {np.round(rss, 1)} MB'
    counts = {kv.key: kv.value for kv in h.diagnostics[-1].values}
    dropped, published = int(counts['frames_dropped']), int(counts['frames_published'])
    assert dropped > published, f'frames must be dropped, not queued: {counts}'


def test_wrongly_typed_parameter_fails_at_start():
    with pytest.raises(StartupError, match='device'):
        HandsNode(estimator=ScriptedEstimator(),
                  parameter_overrides=[Parameter('device', value=3)])


def test_exact_sync_reports_stamps_that_never_match(harness_factory, pairing):
    h = harness_factory(pairing=pairing, sync='exact')

    def send_unmatched():
        stamp = h.stamp()
        h.send(image(stamp), camera_info(Time(sec=stamp.sec,
                                              nanosec=(stamp.nanosec + 1_000_000) % 10**9)))
    h.send_until(send_unmatched, lambda: h.error_status('stamps differ by more than sync_slop'),
                 'unmatched stamps reported')
    assert not h.hands
    h.wait_for_stamp(h.send_good())


def test_qos_is_rep2003_and_overridable_per_topic():
    overridden = HandsNode(estimator=ScriptedEstimator(), parameter_overrides=[
        Parameter('qos_overrides./image.subscription.reliability', value='reliable')])
    plain = HandsNode(estimator=ScriptedEstimator(), node_name='hands_plain')
    try:
        def reliability(node):
            return {s.topic_name: s.qos_profile.reliability for s in node.subscriptions}
        assert reliability(overridden) == {'/image': ReliabilityPolicy.RELIABLE,
                                           '/camera_info': ReliabilityPolicy.BEST_EFFORT}
        assert set(reliability(plain).values()) == {ReliabilityPolicy.BEST_EFFORT}
        assert all(s.qos_profile.depth == 1 for s in plain.subscriptions)
        assert plain.hands_pub.qos_profile.reliability == ReliabilityPolicy.RELIABLE
    finally:
        overridden.destroy_node()
        plain.destroy_node()


def test_non_optical_frame_id_is_warned_about_once(harness_factory, capfd):
    h = harness_factory()
    for _ in range(2):
        stamp = h.stamp()
        h.send(image(stamp, frame='camera_link'), camera_info(stamp, frame='camera_link'))
        h.wait_for_stamp(stamp)  # warned (or not) before the frame's hands are published
    log = capfd.readouterr().err
    assert log.count("image frame_id 'camera_link' does not look like an optical frame") == 1


@pytest.mark.parametrize('sync', ['approximate', 'latest'])
def test_missing_depth_is_reported(harness_factory, sync, pairing):
    h = harness_factory(pairing=pairing, sync=sync, **{'depth.mode': 'depth_image'})

    def send(with_depth: bool) -> None:
        stamp = h.stamp()
        depth = image(stamp, encoding='16UC1', channels=1, dtype=np.uint16)
        h.send(image(stamp), camera_info(stamp), depth if with_depth else None)
    h.send_until(lambda: send(False), lambda: h.error_status('no depth image received'),
                 'missing depth reported')
    assert not h.hands
    h.send_until(lambda: send(True),  # depth now, but without its camera_info
                 lambda: h.error_status('no depth camera_info received'),
                 'missing depth camera_info reported')
    assert not h.hands


def test_a_pair_older_than_the_last_taken_frame_is_dropped(harness_factory, pairing):
    h = harness_factory(ScriptedEstimator(delay=0.3), pairing=pairing)
    first = h.send_good()
    h.wait_for(lambda: h.estimator.calls, WAIT, 'worker busy with the first frame')
    newer, older = h.stamp(), Time(sec=first.sec, nanosec=first.nanosec)
    h.node.inputs.on_pair(image(newer), camera_info(newer))
    h.node.inputs.on_pair(image(older), camera_info(older))  # completes late, after a newer one
    h.wait_for_stamp(newer)
    later = h.send_good()  # its hands come after any the older pair could have given
    h.wait_for_stamp(later)
    assert [m.header.stamp for _, m in h.hands] == [first, newer, later]


def test_stamps_jumping_back_like_a_looped_bag_are_served(harness_factory, pairing):
    h = harness_factory(pairing=pairing)
    h.wait_for_stamp(h.send_good())
    earlier = h.stamp()
    earlier.sec -= 60
    h.send(image(earlier), camera_info(earlier))
    h.wait_for_stamp(earlier)
