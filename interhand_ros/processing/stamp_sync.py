"""Pairing image, camera_info and depth by header stamp, and the camera clock going back.

message_filters (a ROS distro package, not on PyPI) is the node's default pairing when
importable; StampSync is the path without it (and the bag runner's), and the node's tests run
both. StampSync and LatestCameraInfo favour the newest frame: a match makes every older message
of every stream useless, so they are dropped, never queued. StampGuard tells a looped bag or a
restarted camera clock (stamps far back) from a late, slightly older pair.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from interhand_ros.stamps import header_seconds

TIME_JUMP = 1.0  # s; an image this much older than the newest one means the clock went back
PAIRINGS = ('message_filters', 'stamp_sync')  # the node's two pairing implementations


class StampSync:
    """Emits one message per stream whose stamps all lie within `slop` s (0: exact match).

    Stream 0 is the driving stream (the image): on every arrival the newest stream-0 message that
    has a partner within slop in every other stream is emitted, with the nearest partners.
    """

    def __init__(self, num_streams: int, queue_size: int, slop: float,
                 callback: Callable[..., None]) -> None:
        if num_streams < 1 or queue_size < 1 or slop < 0.0:
            raise ValueError(f'need num_streams >= 1, queue_size >= 1, slop >= 0; got '
                             f'{num_streams}, {queue_size}, {slop}')
        self._queues: list[deque[tuple[float, Any]]] = [
            deque(maxlen=queue_size) for _ in range(num_streams)]
        self._slop = slop
        self._callback = callback
        self.unmatched = 0  # driving-stream messages dropped without a partner

    def add(self, stream: int, msg: Any) -> None:
        queue = self._queues[stream]
        if stream == 0 and len(queue) == queue.maxlen:
            self.unmatched += 1
        queue.append((header_seconds(msg), msg))
        self._emit_newest_match()

    def _emit_newest_match(self) -> None:
        for stamp, msg in reversed(self._queues[0]):
            nearest = [self._nearest(queue, stamp) for queue in self._queues[1:]]
            partners = [p for p in nearest if p is not None]
            if len(partners) < len(nearest):
                continue
            self._drop_up_to(0, stamp)
            for index, (partner_stamp, _) in enumerate(partners, start=1):
                self._drop_up_to(index, partner_stamp)
            self._callback(msg, *(partner for _, partner in partners))
            return

    def _nearest(self, queue: Sequence[tuple[float, Any]],
                 stamp: float) -> tuple[float, Any] | None:
        best = min(queue, key=lambda item: abs(item[0] - stamp), default=None)
        return best if best is not None and abs(best[0] - stamp) <= self._slop + 1e-9 else None

    def discard_newer(self, limit: float) -> None:
        """Forget messages stamped after `limit` s (the clock went back: they never match)."""
        for index, queue in enumerate(self._queues):
            self._queues[index] = deque((item for item in queue if item[0] <= limit),
                                        maxlen=queue.maxlen)

    def _drop_up_to(self, stream: int, stamp: float) -> None:
        queue = self._queues[stream]
        while queue and queue[0][0] <= stamp:
            dropped_stamp, _ = queue.popleft()
            if stream == 0 and dropped_stamp < stamp:
                self.unmatched += 1


class PairingError(LookupError):
    """No usable camera_info for an image (the reason is in the message)."""


class LatestCameraInfo:
    """The `latest` sync mode: the most recent CameraInfo per frame_id, used up to max_age s.

    The age is the image stamp minus the info stamp; max_age <= 0 accepts any age (a static
    camera_info published once).
    """

    def __init__(self, max_age: float) -> None:
        self._max_age = max_age
        self._latest: dict[str, Any] = {}

    def add(self, info: Any) -> None:
        self._latest[info.header.frame_id] = info

    def lookup(self, image: Any) -> Any:
        frame = image.header.frame_id
        info = self._latest.get(frame)
        if info is None:
            known = ', '.join(repr(f) for f in self._latest) or 'none'
            raise PairingError(f'no camera_info received for frame {frame!r} '
                               f'(camera_info frames seen: {known})')
        age = header_seconds(image) - header_seconds(info)
        if self._max_age > 0.0 and abs(age) > self._max_age:
            raise PairingError(f'latest camera_info for frame {frame!r} is {age:.3f} s away from '
                               f'the image stamp (sync.max_info_age {self._max_age} s)')
        return info


class StampGuard:
    """Watches image stamps: a jump back of more than `jump` s starts a new timeline.

    received(): every image, on arrival; returns how far the clock went back (0.0: it did not).
    take(): every paired frame; False for a pair slightly older than one already taken (a late
    camera_info completing an old image), which would publish poses out of order.
    """

    def __init__(self, jump: float = TIME_JUMP) -> None:
        self.jump = jump
        self._newest_received = -math.inf
        self._newest_taken = -math.inf

    def received(self, stamp: float) -> float:
        back = self._newest_received - stamp
        if back > self.jump:
            self._newest_received, self._newest_taken = stamp, -math.inf
            return back
        self._newest_received = max(self._newest_received, stamp)
        return 0.0

    def take(self, stamp: float) -> bool:
        if self._newest_taken - self.jump < stamp < self._newest_taken:
            return False
        self._newest_taken = stamp
        return True
