"""Faults a camera driver produces, over real DDS: each is survived, reported on /diagnostics
with a throttled log, and good frames are served before and after it.

Reconfigured driver (camera_info size changes mid-stream), a camera that stops and starts again
(new publishers), stamps that jump backwards (a bag played in a loop), an image far larger than
expected, and a frame stamped zero. Pairing faults run on both pairing paths.
"""
from __future__ import annotations

import resource
import time

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

from test_node_ros import HEIGHT, WAIT, WIDTH, camera_info, image

pytestmark = pytest.mark.usefixtures('ros')  # rclpy up for the module (conftest)


def served_stamps(h) -> list:
    return [m.header.stamp for _, m in h.hands]


def mentions(status, text: str) -> bool:
    """The status's message or its last_fault mentions text."""
    last_fault = {kv.key: kv.value for kv in status.values}.get('last_fault', '')
    return text in status.message or text in last_fault


def test_camera_info_size_change_mid_stream(harness_factory, pairing):
    h = harness_factory(pairing=pairing)
    h.wait_for_stamp(h.send_good())
    big = (2 * WIDTH, 2 * HEIGHT)
    stamp = h.stamp()  # the driver switched resolution: camera_info first, image still old
    h.send(image(stamp), camera_info(stamp, width=big[0], height=big[1]))
    h.wait_for_report(f'changed from {WIDTH}x{HEIGHT} to {big[0]}x{big[1]}')
    h.wait_for_error(f'camera_info is {big[0]}x{big[1]} but the image is {WIDTH}x{HEIGHT}')
    assert stamp not in served_stamps(h)
    stamp = h.stamp()
    h.send(image(stamp, width=big[0], height=big[1]), camera_info(stamp, width=big[0],
                                                                  height=big[1]))
    h.wait_for_stamp(stamp)
    shape, camera, _, _ = h.estimator.calls[-1]
    assert shape == (big[1], big[0], 3) and (camera.width, camera.height) == big


def test_camera_that_stops_and_starts_again(harness_factory, pairing, capfd):
    # a throttle no test run outlasts: the count below cannot depend on how long it takes
    h = harness_factory(pairing=pairing, stall_timeout=0.5, log_throttle=600.0)
    h.wait_for_stamp(h.send_good())
    # the camera stops: /diagnostics says so on three periods, each one logging (throttled)
    h.wait_for(lambda: sum('no image received for 0.5 s' in s.message
                           for s in h.diagnostics) >= 3, WAIT, 'the stall reported 3 times')
    assert capfd.readouterr().err.count('camera stopped? (waiting for it)') == 1  # throttled
    # the driver restarts: new publishers (new DDS writers) on the same topics
    h.probe.destroy_publisher(h.image_pub)
    h.probe.destroy_publisher(h.info_pub)
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    h.image_pub = h.probe.create_publisher(Image, 'image', qos)
    h.info_pub = h.probe.create_publisher(CameraInfo, 'camera_info', qos)
    h.wait_for_discovery()
    h.wait_for_stamp(h.send_good())
    h.wait_for_report('images resumed after')
    h.wait_for_stamp(h.send_good())


def test_looped_bag_resets_pairing_and_tracking_instead_of_sticking(harness_factory, pairing):
    """Queues full of camera_info from before the loop must not hold the new stamps out."""
    h = harness_factory(pairing=pairing, **{'roi.mode': 'track'})
    h.wait_for_stamp(h.send_good())
    h.wait_for_stamp(h.send_good())
    assert h.estimator.calls[-1][2] is not None  # tracking: the roi follows the last hands
    for queued in range(1, 9):  # camera_info that never pairs, filling the pairing queue
        stamp = h.stamp()
        stamp.nanosec = (stamp.nanosec + 500_000_000) % 10**9
        h.info_pub.publish(camera_info(stamp))
        # each one received before the next (the node's reader keeps only the newest)
        h.wait_for(lambda queued=queued: h.node.inputs.seen['camera_info'] >= 2 + queued,
                   WAIT, f'unpaired camera_info {queued} received')
    loop_start = h.stamp().sec - 60
    served_before, calls_before = len(h.hands), len(h.estimator.calls)
    for i in range(20):  # the bag starts again, 60 s back
        stamp = Time(sec=loop_start + i // 10, nanosec=(i % 10) * 100_000_000)
        h.send(image(stamp), camera_info(stamp))
        time.sleep(0.05)
        if len(h.hands) > served_before:
            break
    h.wait_for(lambda: len(h.hands) > served_before, WAIT, 'a pose after the loop')
    assert h.hands[-1][1].header.stamp.sec < loop_start + 2
    h.wait_for_report('image stamps jumped back')
    assert h.estimator.calls[calls_before][2] is None  # tracking reset: whole image, no old box
    h.wait_for_stamp(h.send_good())  # the clock jumps forward again: served


def rss_mb() -> float:
    with open('/proc/self/statm') as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def test_image_far_larger_than_expected_is_refused_and_memory_stays_bounded(harness_factory):
    h = harness_factory(max_image_pixels=640 * 480)
    h.wait_for_stamp(h.send_good())
    width, height = 1920, 1080  # 6.2 MB each
    huge = image(h.stamp(), width=width, height=height)
    rss, huge_stamps = [], []
    for i in range(24):
        stamp = h.stamp()
        huge.header.stamp = stamp
        huge_stamps.append(stamp)
        h.send(huge, camera_info(stamp, width=width, height=height))
        time.sleep(0.05)
        if i % 4 == 3:
            rss.append(rss_mb())
    status = h.wait_for_error(f'image {width}x{height} ({width * height} px) exceeds '
                              f'max_image_pixels {640 * 480}')
    assert 'refused before conversion' in status.message
    assert all(call[0] != (height, width, 3) for call in h.estimator.calls)
    h.wait_for_stamp(h.send_good())
    # keeping the refused frames would add 24 x 6.2 MB; allow DDS buffers to settle
    assert rss[-1] - rss[1] < 40.0, f'RSS grew: {np.round(rss, 1)} MB'
    assert not set(map(str, huge_stamps)) & set(map(str, served_stamps(h)))


def test_frame_stamped_zero_is_refused_without_resetting_the_clock(harness_factory, capfd):
    h = harness_factory(log_throttle=600.0)  # the count below cannot depend on the CPU's pace
    h.wait_for_stamp(h.send_good())
    for _ in range(5):
        h.send(image(Time()), camera_info(Time()))
        time.sleep(0.02)
    status = h.wait_for_error('image header.stamp is zero')
    assert 'driver does not stamp' in status.message
    assert Time() not in served_stamps(h)
    h.wait_for_stamp(h.send_good())
    # a status from after that frame: a jump would have been recorded when its image arrived
    h.wait_for(lambda: any(int({kv.key: kv.value for kv in s.values}['frames_published']) >= 2
                           for s in h.diagnostics), WAIT, 'a status counting both frames')
    assert not any(mentions(s, 'jumped back') for s in h.diagnostics)
    log = capfd.readouterr().err
    assert log.count('image header.stamp is zero') == 1  # throttled: once per log_throttle
