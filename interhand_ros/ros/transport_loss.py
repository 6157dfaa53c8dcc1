"""Samples the middleware lost before they reached the node, per input, and why.

A camera driver runs in its own process. Fast DDS (Kilted's default middleware) puts a sample in
shared memory only when it fits the publisher's segment (512 KB by default); a larger one (640x480
rgb8 is 921,600 bytes) goes over UDP loopback in 64 KB fragments and is dropped when the
receiver's socket buffer overflows: the node then sees a fraction of the frames, or none, while
the camera publishes at full rate. rclpy reports those samples through each subscription's
message_lost event; this module counts them (since activation, and per diagnostics period for
the image input) and words the warning that names the cause and the remedies.
"""
from __future__ import annotations

import functools
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from diagnostic_msgs.msg import KeyValue
from rclpy.event_handler import QoSMessageLostInfo, SubscriptionEventCallbacks

IMAGE = 'image'  # the image input (raw or compressed) whose loss is also given as a fraction
PACKAGE, PROFILE = 'interhand_ros', 'config/fastdds.xml'


@functools.cache
def dds_profile_path() -> str:
    """config/fastdds.xml as installed, for the warning's remedy: the ament index's share
    folder, else the Python prefix's (a venv used without AMENT_PREFIX_PATH)."""
    try:
        from ament_index_python.packages import get_package_share_directory
        return str(Path(get_package_share_directory(PACKAGE)) / PROFILE)
    except (ImportError, LookupError, OSError):  # not in the index; no AMENT_PREFIX_PATH
        installed = Path(sys.prefix) / 'share' / PACKAGE / PROFILE
        return str(installed) if installed.exists() else f'{PROFILE} of {PACKAGE}'


@dataclass(frozen=True)
class LossPeriod:
    """One diagnostics period: samples lost per input, images received, its length (s)."""

    lost: dict[str, int]
    images_received: int
    seconds: float

    @property
    def image_fraction(self) -> float:
        """lost / (lost + received) of the image input; 0 when nothing was sent."""
        lost = self.lost.get(IMAGE, 0)
        total = lost + self.images_received
        return lost / total if total else 0.0

    def summary(self) -> str:
        """'samples lost in transport in the last 1.0 s (image 28 = 93 % of images, ...)';
        empty when nothing was lost."""
        counts = ', '.join(f'{name} {count}' + (f' = {self.image_fraction:.0%} of images'
                                                if name == IMAGE else '')
                           for name, count in self.lost.items() if count)
        return (f'samples lost in transport in the last {self.seconds:.1f} s ({counts})'
                if counts else '')

    def warning(self, profile: str) -> str:
        """The summary, the cause in one sentence and the two remedies (empty: nothing lost)."""
        summary = self.summary()
        if not summary:
            return ''
        return (f"{summary}: Fast DDS sends a sample larger than the publisher's shared-memory "
                'segment (512 KB by default) over UDP, where it is dropped. Remedies: give the '
                "camera driver's process the profile "
                f'(FASTDDS_DEFAULT_PROFILES_FILE={profile}), or subscribe with '
                'image_transport:=compressed')


class TransportLoss:
    """Lost-sample counters of one activation's subscriptions (executor thread and readers)."""

    def __init__(self, now: float) -> None:
        self._lock = threading.Lock()
        self._total: dict[str, int] = {}
        self._period: dict[str, int] = {}
        self._images_received = 0
        self._period_start = now

    def events(self, name: str) -> SubscriptionEventCallbacks:
        """event_callbacks for the subscription of input `name` (create_subscription kwarg)."""
        with self._lock:
            self._total.setdefault(name, 0)
            self._period.setdefault(name, 0)

        def lost(info: QoSMessageLostInfo) -> None:
            with self._lock:
                self._total[name] += info.total_count_change
                self._period[name] += info.total_count_change
        return SubscriptionEventCallbacks(message_lost=lost)

    def image_received(self) -> int:
        """Count an arrived image; returns the images lost so far (one lock per image)."""
        with self._lock:
            self._images_received += 1
            return self._total.get(IMAGE, 0)

    def total(self, name: str = IMAGE) -> int:
        with self._lock:
            return self._total.get(name, 0)

    def close_period(self, now: float) -> LossPeriod:
        """The period since the previous call; the next one starts now."""
        with self._lock:
            period = LossPeriod(dict(self._period), self._images_received,
                                now - self._period_start)
            self._period = dict.fromkeys(self._period, 0)
            self._images_received, self._period_start = 0, now
        return period

    def values(self, last: LossPeriod | None) -> list[KeyValue]:
        """/diagnostics: images_lost_in_transport (since activation), images_lost_fraction
        (last period) and <input>_lost_in_transport for every other input."""
        with self._lock:
            totals = dict(self._total)
        values = [KeyValue(key='images_lost_in_transport', value=str(totals.pop(IMAGE, 0))),
                  KeyValue(key='images_lost_fraction',
                           value=f'{last.image_fraction:.3f}' if last else '0.000')]
        return values + [KeyValue(key=f'{name}_lost_in_transport', value=str(count))
                         for name, count in totals.items()]
