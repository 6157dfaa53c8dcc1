"""The hands node with frame_grid.period over real DDS: a node slower than its camera serves
the first frame of each slot of the shared stamp grid (processing/frame_grid.py)."""
from __future__ import annotations

import time

import pytest
from builtin_interfaces.msg import Time

from interhand_ros.stamps import header_seconds

from test_node_ros import WAIT, ScriptedEstimator, camera_info, image

pytestmark = pytest.mark.usefixtures('ros')

PERIOD, DELAY = 0.05, 0.12  # a 20 Hz camera; the node needs 120 ms: slots of 4 frames or more


def test_a_slow_node_serves_the_first_frame_of_each_grid_slot(harness_factory) -> None:
    harness = harness_factory(ScriptedEstimator(DELAY), **{'frame_grid.period': PERIOD})
    first = round(harness.now() / PERIOD / 8) * 8  # a tick on every level's slot start
    served: list[int] = []  # ticks of the stamps published, in order
    tick, deadline = first, time.monotonic() + 4 * WAIT
    while len(served) < 8:
        assert time.monotonic() < deadline, f'only {len(served)} frames served'
        stamp_ns = tick * round(PERIOD * 1e9)
        stamp = Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
        harness.send(image(stamp), camera_info(stamp))
        tick += 1
        sent = tick - first  # each frame reaches the node before the next (depth-1 readers)
        harness.wait_for(lambda sent=sent: harness.node.health.frames_received >= sent and
                         harness.node.inputs.seen['camera_info'] >= sent, WAIT, 'the frame')
        time.sleep(PERIOD)
        served = [round(header_seconds(msg) / PERIOD) for _, msg in harness.hands]
    # the first frames come before the node measured its busy time (every frame a slot)
    settled = served[3:]
    assert all(t % 4 == 0 for t in settled), [t - first for t in served]
    assert len({t // 4 for t in settled}) == len(settled)  # one frame per slot
    status = harness.diagnostics[-1]
    values = {kv.key: kv.value for kv in status.values}
    assert float(values['frame_grid_slot_s']) >= DELAY
    assert int(values['frames_skipped_for_grid']) > 0


def test_without_the_grid_the_node_reports_no_slot(harness_factory) -> None:
    harness = harness_factory(ScriptedEstimator())
    harness.send_until(harness.send_good, lambda: harness.hands and harness.diagnostics,
                       'hands and diagnostics')
    values = {kv.key: kv.value for kv in harness.diagnostics[-1].values}
    assert values['frame_grid_slot_s'] == '0' and values['frames_skipped_for_grid'] == '0'
