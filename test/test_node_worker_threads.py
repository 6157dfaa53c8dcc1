"""The node's worker as two threads (ros/mailbox.Worker, ros/pipeline.FramePipeline): the
network of the next frame runs while the output thread publishes the one before, and over DDS
every estimated frame is published once, in stamp order, the newest frame always answered."""
from __future__ import annotations

import time

import pytest

from test_node_ros import ScriptedEstimator

pytestmark = pytest.mark.usefixtures('ros')  # rclpy up for the module (conftest)


def stamp_ns(stamp) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def test_a_camera_faster_than_the_network_gets_each_estimate_published_once_in_order(
        harness_factory):
    estimator = ScriptedEstimator(delay=0.03)
    h = harness_factory(estimator, **{'roi.mode': 'full'})
    sent = []
    for _ in range(20):  # a 100 Hz camera: frames wait for the busy worker, most are replaced
        sent.append(h.send_good())
        time.sleep(0.01)
    h.wait_for_stamp(sent[-1], timeout=30.0)  # the newest frame is always taken at last
    h.wait_for(lambda: len(estimator.calls) == len(h.hands), 10.0,
               'every estimated frame published')
    published = [stamp_ns(m.header.stamp) for _, m in h.hands]
    assert published == sorted(set(published))  # in stamp order, none twice
    assert set(published) <= {stamp_ns(s) for s in sent}
    assert len(published) < len(sent)  # newest wins: frames that waited were replaced
