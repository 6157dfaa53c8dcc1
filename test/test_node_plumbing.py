"""Pairing by stamp, one-slot mailbox worker and health reporting (no DDS needed)."""
import threading
import time
from types import SimpleNamespace

import pytest
from diagnostic_msgs.msg import DiagnosticStatus

from interhand_ros.processing.stamp_sync import LatestCameraInfo, PairingError, StampSync
from interhand_ros.ros.diagnostics import NodeHealth
from interhand_ros.ros.mailbox import LatestMailbox, Worker


def msg(stamp: float, frame: str = 'cam', tag: str = '') -> SimpleNamespace:
    sec = int(stamp)
    header = SimpleNamespace(frame_id=frame, stamp=SimpleNamespace(
        sec=sec, nanosec=int(round((stamp - sec) * 1e9))))
    return SimpleNamespace(header=header, tag=tag)


def tags(pairs):
    return [tuple(m.tag for m in pair) for pair in pairs]


def test_exact_sync_pairs_equal_stamps_only():
    out = []
    sync = StampSync(2, queue_size=5, slop=0.0, callback=lambda *m: out.append(m))
    sync.add(0, msg(1.0, tag='i1'))
    sync.add(1, msg(1.001, tag='c1'))
    assert out == []
    sync.add(1, msg(1.0, tag='c1x'))
    assert tags(out) == [('i1', 'c1x')]


def test_approximate_sync_takes_the_newest_match_and_drops_older_frames():
    out = []
    sync = StampSync(2, queue_size=5, slop=0.01, callback=lambda *m: out.append(m))
    for t, tag in ((1.0, 'i1'), (1.033, 'i2'), (1.066, 'i3')):
        sync.add(0, msg(t, tag=tag))
    sync.add(1, msg(1.0365, tag='c2'))  # closest to i2 (3.5 ms), within slop
    assert tags(out) == [('i2', 'c2')]
    assert sync.unmatched == 1  # i1 was dropped, never emitted
    sync.add(1, msg(1.067, tag='c3'))
    assert tags(out) == [('i2', 'c2'), ('i3', 'c3')]
    sync.add(1, msg(1.0, tag='late'))  # stale partner: nothing new to pair
    assert len(out) == 2


def test_three_streams_need_all_partners():
    out = []
    sync = StampSync(3, queue_size=3, slop=0.005, callback=lambda *m: out.append(m))
    sync.add(0, msg(2.0, tag='img'))
    sync.add(1, msg(2.0, tag='info'))
    assert out == []
    sync.add(2, msg(2.004, tag='depth'))
    assert tags(out) == [('img', 'info', 'depth')]


def test_single_stream_emits_every_message_and_bad_arguments_fail():
    out = []
    sync = StampSync(1, queue_size=1, slop=0.0, callback=lambda *m: out.append(m))
    sync.add(0, msg(1.0, tag='a'))
    sync.add(0, msg(2.0, tag='b'))
    assert tags(out) == [('a',), ('b',)]
    with pytest.raises(ValueError):
        StampSync(2, queue_size=0, slop=0.1, callback=print)


def test_latest_camera_info_by_frame_and_age():
    latest = LatestCameraInfo(max_age=1.0)
    with pytest.raises(PairingError, match="no camera_info received for frame 'cam'"):
        latest.lookup(msg(5.0))
    latest.add(msg(4.5, tag='info'))
    assert latest.lookup(msg(5.0)).tag == 'info'
    with pytest.raises(PairingError, match='1.500 s away'):
        latest.lookup(msg(6.0))
    with pytest.raises(PairingError, match="frames seen: 'cam'"):
        latest.lookup(msg(5.0, frame='other'))
    forever = LatestCameraInfo(max_age=0.0)
    forever.add(msg(0.0, tag='static'))
    assert forever.lookup(msg(1000.0)).tag == 'static'


def test_mailbox_keeps_only_the_newest_item():
    box = LatestMailbox()
    assert box.put(1) is None
    assert box.put(2) == 1
    assert box.take(timeout=0.01) == 2
    assert box.take(timeout=0.01) is None


WAIT = 15.0  # s: a generous deadline for what takes milliseconds on an idle CPU


def wait_until(condition) -> None:
    deadline = time.monotonic() + WAIT
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_worker_processes_newest_frames_and_survives_errors():
    box = LatestMailbox()
    handled, errors = [], []
    busy, gate = threading.Event(), threading.Event()

    def handle(item):
        busy.set()
        assert gate.wait(WAIT)
        if item == 'bad':
            raise ValueError('bad frame')
        handled.append(item)

    worker = Worker(box, handle, errors.append)
    worker.start()
    box.put('first')
    assert busy.wait(WAIT)  # the worker took 'first' and is blocked on it
    dropped = [box.put(i) for i in ('bad', 'stale', 'newest')]
    gate.set()
    wait_until(lambda: 'newest' in handled)
    assert handled == ['first', 'newest'] and dropped == [None, 'bad', 'stale']
    box.put('bad')
    wait_until(lambda: errors)
    assert [str(e) for e in errors] == ['bad frame']
    box.put('after')
    wait_until(lambda: 'after' in handled)
    worker.stop()
    assert handled[-1] == 'after'


def values(status):
    return {kv.key: kv.value for kv in status.values}


def test_health_levels_rates_and_counters():
    health = NodeHealth(window=5.0)
    assert health.status(0.0, 'hands', 'cam').level == DiagnosticStatus.WARN
    for i in range(10):
        health.received(100.0 + i * 0.1)
    health.published(101.0, latency=0.2, inference_time=0.15)
    health.dropped(3)
    status = health.status(101.0, 'hands', 'cam')
    assert status.level == DiagnosticStatus.OK, status.message
    v = values(status)
    assert float(v['input_rate_hz']) == pytest.approx(10.0)
    assert float(v['latency_mean_s']) == pytest.approx(0.2)
    assert v['frames_dropped'] == '3' and v['frames_published'] == '1'

    health.error(101.1, 'unsupported encoding yuv422')
    status = health.status(101.1, 'hands', 'cam')
    assert status.level == DiagnosticStatus.ERROR and 'yuv422' in status.message
    assert values(status)['frames_failed'] == '1'

    health.received(101.2)
    health.published(101.3, latency=0.1, inference_time=0.1)
    status = health.status(101.3, 'hands', 'cam')
    assert status.level == DiagnosticStatus.WARN and 'yuv422' in status.message
    assert health.status(110.0, 'hands', 'cam').message == 'no image received for 5 s'


def test_worker_finishes_items_in_order_on_a_second_thread_while_handling_the_next():
    """handle(n + 1) starts before finish(n) ends (the network is not kept waiting by the
    outputs); finishes run in the order handled, each once; an error in one is reported and
    the next goes on; stop() waits for the finish of the last item handled."""
    box = LatestMailbox()
    events, errors = [], []
    second_handled = threading.Event()

    def handle(item):
        events.append(('handle', item, threading.current_thread().name))
        if item == 2:
            second_handled.set()

        def finish():
            if item == 1:  # still finishing item 1 when item 2 is handled
                assert second_handled.wait(WAIT)
            if item == 3:
                raise RuntimeError('publish failed')
            events.append(('finish', item, threading.current_thread().name))
        return finish

    worker = Worker(box, handle, errors.append)
    worker.start()
    for item in (1, 2, 3, 4):
        box.put(item)
        wait_until(lambda item=item: any(e[:2] == ('handle', item) for e in events))
    worker.stop()
    handled = [e[1] for e in events if e[0] == 'handle']
    finished = [e[1] for e in events if e[0] == 'finish']
    assert handled == [1, 2, 3, 4] and finished == [1, 2, 4]
    assert [str(e) for e in errors] == ['publish failed']
    assert {e[2] for e in events if e[0] == 'handle'} == {'inference'}
    assert {e[2] for e in events if e[0] == 'finish'} == {'inference-output'}
    assert events.index(('handle', 2, 'inference')) < events.index(
        ('finish', 1, 'inference-output'))
    assert not worker.busy
