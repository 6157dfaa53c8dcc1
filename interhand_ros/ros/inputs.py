"""The node's inputs while active: subscriptions, pairing by stamp, and what a camera driver does.

Pairing goes through message_filters (ApproximateTimeSynchronizer / TimeSynchronizer) when it is
importable, as on every ROS install, else through processing/stamp_sync.StampSync; the node's
tests run both.
Every image is checked on arrival, before it can wait in a pairing queue: a zero stamp or an
image over max_image_pixels is refused, a stamp far behind the newest one (looped bag, restarted
camera clock) resets the pairing queues and the ROI tracker, and the first image after a stall
is reported. A camera_info whose size changes is reported as a reconfigured driver.
Every subscription counts the samples the middleware lost (ros/transport_loss): a camera in
another process whose images exceed Fast DDS's shared memory loses most of them on the way, and
the node says so instead of blaming the camera.
Callbacks run on the executor thread and only hand a Frame on (on_frame).
"""
from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CameraInfo, Image, RegionOfInterest

from interhand_ros.processing.stamp_sync import (
    PAIRINGS,
    TIME_JUMP,
    LatestCameraInfo,
    StampGuard,
    StampSync,
)
from interhand_ros.ros.diagnostics import NodeHealth, Reporter
from interhand_ros.ros.frames import Frame, refusal, roi_msg_to_box
from interhand_ros.ros.transport_loss import IMAGE, LossPeriod, TransportLoss, dds_profile_path
from interhand_ros.stamps import header_seconds


def default_pairing() -> str:
    """message_filters where it is installed (every ROS install), else our StampSync."""
    return 'message_filters' if importlib.util.find_spec('message_filters') else 'stamp_sync'


def sensor_qos() -> QoSProfile:
    """REP-2003: sensor data is subscribed best effort; depth 1 so no stale frame waits.

    A new profile per call: QoS overrides are written into the profile object they are given.
    """
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                      reliability=ReliabilityPolicy.BEST_EFFORT)


class Stream(NamedTuple):
    """One paired input: its name (loss counts), message type, topic, arrival check."""

    name: str
    msg_type: Any
    topic: str
    accept: Callable[[Any], bool]


class _MessageFiltersPairing:
    """message_filters synchronizer over gated subscribers (a refused image never enters it)."""

    def __init__(self, node: Node, streams: list[Stream], exact: bool, queue_size: int,
                 slop: float, callback: Callable[..., None], overrides: QoSOverridingOptions,
                 loss: TransportLoss) -> None:
        import message_filters
        self.subscriptions = []
        gates = []
        for name, msg_type, topic, accept in streams:
            # message_filters.Subscriber passes its keyword arguments to create_subscription
            subscriber = message_filters.Subscriber(node, msg_type, topic,
                                                    qos_profile=sensor_qos(),
                                                    qos_overriding_options=overrides,
                                                    event_callbacks=loss.events(name))
            gate = message_filters.SimpleFilter()
            subscriber.registerCallback(
                lambda msg, accept=accept, gate=gate: gate.signalMessage(msg) if accept(msg)
                else None)
            self.subscriptions.append(subscriber.sub)
            gates.append(gate)
        self._sync = (message_filters.TimeSynchronizer(gates, queue_size) if exact else
                      message_filters.ApproximateTimeSynchronizer(gates, queue_size, slop))
        self._sync.registerCallback(callback)

    def discard_newer(self, limit: float) -> None:
        limit_ns = limit * 1e9
        with self._sync.lock:
            for queue in self._sync.queues:
                for stamp in [stamp for stamp in queue if stamp > limit_ns]:
                    del queue[stamp]


class _StampSyncPairing:
    """processing/stamp_sync.StampSync behind plain subscriptions."""

    def __init__(self, node: Node, streams: list[Stream], exact: bool, queue_size: int,
                 slop: float, callback: Callable[..., None], overrides: QoSOverridingOptions,
                 loss: TransportLoss) -> None:
        self._sync = StampSync(len(streams), queue_size, 0.0 if exact else slop, callback)
        self.subscriptions = [
            node.create_subscription(stream.msg_type, stream.topic,
                                     self._adder(index, stream.accept), sensor_qos(),
                                     qos_overriding_options=overrides,
                                     event_callbacks=loss.events(stream.name))
            for index, stream in enumerate(streams)]

    def _adder(self, stream: int, accept: Callable[[Any], bool]) -> Callable[[Any], None]:
        def add(msg: Any) -> None:
            if accept(msg):
                self._sync.add(stream, msg)
        return add

    def discard_newer(self, limit: float) -> None:
        self._sync.discard_newer(limit)


class Inputs:
    """Subscriptions of one activation; destroy() removes them."""

    def __init__(self, node: Node, params: Mapping[str, Any], on_frame: Callable[[Frame], None],
                 report: Reporter, health: NodeHealth, pairing: str,
                 on_time_jump: Callable[[], None], on_roi: Callable[[Any, float], None],
                 image_type: Any = Image, image_topic: str = 'image') -> None:
        if pairing not in PAIRINGS:
            raise ValueError(f'pairing must be one of {PAIRINGS}, got {pairing!r}')
        self._node, self._params, self._on_frame = node, params, on_frame
        self._report, self._health, self._on_time_jump = report, health, on_time_jump
        self._guard = StampGuard()
        self._with_depth = params['depth.mode'] == 'depth_image'
        self._latest = params['sync'] == 'latest'
        self.seen = {'camera_info': 0, 'depth': 0, 'depth_info': 0}  # for the unpaired reason
        self._info_sizes: dict[str, tuple[int, int]] = {}
        self._last_image: float | None = None
        self._last_image_time = self._last_pair_time = self._activated = time.monotonic()
        self.loss = TransportLoss(self._activated)
        self.last_loss_period: LossPeriod | None = None
        self._lost_at_last_image = 0
        overrides = QoSOverridingOptions.with_default_policies()
        self._subscriptions: list = []
        if params['roi.mode'] == 'topic':
            self._subscriptions.append(node.create_subscription(
                RegionOfInterest, 'roi', lambda roi: on_roi(roi_msg_to_box(roi),
                                                            time.monotonic()),
                sensor_qos(), qos_overriding_options=overrides,
                event_callbacks=self.loss.events('roi')))

        streams = [Stream(IMAGE, image_type, image_topic, self._accept_image)]
        if self._latest:
            self._latest_info = LatestCameraInfo(params['max_info_age'])
            self._subscriptions.append(node.create_subscription(
                CameraInfo, 'camera_info', self._on_latest_info, sensor_qos(),
                qos_overriding_options=overrides, event_callbacks=self.loss.events('camera_info')))
            callback: Callable[..., None] = self._on_image_and_depth
        else:
            streams.append(Stream('camera_info', CameraInfo, 'camera_info',
                                  self._counter('camera_info')))
            callback = self.on_pair
        if self._with_depth:
            streams += [Stream('depth', Image, 'depth', self._counter('depth')),
                        Stream('depth_info', CameraInfo, 'depth_info',
                               self._counter('depth_info'))]
        # one stream (latest mode without depth) needs no synchronizer: StampSync passes it on
        kind = (_MessageFiltersPairing if pairing == 'message_filters' and len(streams) > 1
                else _StampSyncPairing)
        self._pairing = kind(node, streams, params['sync'] == 'exact', params['sync_queue_size'],
                             params['sync_slop'], callback, overrides, self.loss)
        self._subscriptions += self._pairing.subscriptions

    @property
    def subscriptions(self) -> list:
        return list(self._subscriptions)

    def destroy(self) -> None:
        for subscription in self._subscriptions:
            self._node.destroy_subscription(subscription)
        self._subscriptions = []

    # ---- arrival checks (executor thread) ------------------------------------------------
    def _accept_image(self, image: Any) -> bool:
        now = time.monotonic()
        lost_total = self.loss.image_received()
        if self._last_image is not None and now - self._last_image > self._params['stall_timeout']:
            lost = lost_total - self._lost_at_last_image
            cause = (f'{lost} lost in transport meanwhile' if lost else
                     'camera restarted or stalled')
            self._report.fault('camera', f'images resumed after {now - self._last_image:.1f} s '
                               f'without any ({cause})')
        self._last_image, self._lost_at_last_image = now, lost_total
        self._health.received(now)
        reason = refusal(image, self._params['max_image_pixels'])
        if reason is not None:
            self._report('image', reason)
            return False
        self._last_image_time = now
        stamp = header_seconds(image)
        back = self._guard.received(stamp)
        if back:
            self._pairing.discard_newer(stamp + TIME_JUMP)
            self._on_time_jump()
            self._report.fault('time', f'image stamps jumped back {back:.1f} s (looped bag or '
                               'restarted camera clock): pairing queues and ROI tracking reset')
        return True

    def _counter(self, name: str) -> Callable[[Any], bool]:
        def count(msg: Any) -> bool:
            self.seen[name] += 1
            if name == 'camera_info':
                self._check_info_size(msg)
            return True
        return count

    def _check_info_size(self, info: CameraInfo) -> None:
        size = (int(info.width), int(info.height))
        frame = info.header.frame_id
        before = self._info_sizes.get(frame)
        self._info_sizes[frame] = size
        if before is not None and before != size:
            self._report.fault('camera_info_size', f'camera_info of {frame!r} changed from '
                               f'{before[0]}x{before[1]} to {size[0]}x{size[1]} (driver '
                               'reconfigured)')

    def _on_latest_info(self, info: CameraInfo) -> None:
        self._counter('camera_info')(info)
        self._latest_info.add(info)

    # ---- pairing results -----------------------------------------------------------------
    def _on_image_and_depth(self, image: Any, depth: Image | None = None,
                            depth_info: CameraInfo | None = None) -> None:
        try:
            info = self._latest_info.lookup(image)
        except LookupError as error:
            self._report('camera_info', str(error))
            return
        self.on_pair(image, info, depth, depth_info)

    def on_pair(self, image: Any, info: CameraInfo, depth: Image | None = None,
                depth_info: CameraInfo | None = None) -> None:
        """A complete set: on to the worker, unless older than a set already taken."""
        self._last_pair_time = time.monotonic()
        if not self._guard.take(header_seconds(image)):
            self._health.dropped()  # e.g. a late camera_info completing an old image
            return
        self._on_frame(Frame(image, info, depth, depth_info))

    # ---- diagnostics ---------------------------------------------------------------------
    def check_inputs(self, now: float) -> None:
        """Periodic (diagnostics timer): samples lost in transport this period; a camera that
        stopped, or whose images are all lost on the way; images arriving but none paired for
        over a second (say which partner is missing)."""
        self.last_loss_period = self.loss.close_period(now)
        warning = self.last_loss_period.warning(dds_profile_path())
        if warning:
            self._report.warn('transport', warning)
        since = self._activated if self._last_image is None else self._last_image
        lost = self.loss.total() - self._lost_at_last_image
        if now - since > self._params['stall_timeout'] and (lost or self._last_image is not None):
            cause = (f'{lost} images lost in transport meanwhile (camera in another process: see '
                     'the transport warning)' if lost else 'camera stopped? (waiting for it)')
            self._report.warn('stall', f'no image for {now - since:.1f} s: {cause}')
        waiting = self._last_image_time - self._last_pair_time
        if ((not self._latest or self._with_depth)
                and now - self._last_image_time < 1.0 < waiting):
            self._report('pairing', f'images arrive but none is paired: {self._unpaired_reason()}',
                         frame_failed=False)

    def _unpaired_reason(self) -> str:
        if self._with_depth and not self.seen['depth']:
            return 'no depth image received (check the depth remap)'
        if self._with_depth and not self.seen['depth_info']:
            return 'no depth camera_info received (check the depth_info remap)'
        if not self.seen['camera_info']:
            return 'no camera_info received (check the camera_info remap)'
        partners = ('depth/depth_info' if self._latest else
                    'camera_info/depth/depth_info' if self._with_depth else 'camera_info')
        return (f"image and {partners} stamps differ by more than sync_slop "
                f"{self._params['sync_slop']} s (or use sync:=latest)")

