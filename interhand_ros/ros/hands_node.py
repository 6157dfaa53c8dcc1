"""The hands node: camera image (+ camera_info, depth + its camera_info, ROI) in, 3D hands out.

A thin rclpy adapter. Callbacks only pair messages and drop the newest frame into a one-slot
mailbox; an inference worker thread converts, estimates and publishes, so poses lag by about one
inference time under any camera rate. Every bad input is logged (throttled), reported on
/diagnostics, and the next good frame is processed.
"""
from __future__ import annotations

import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CameraInfo, Image, RegionOfInterest
from visualization_msgs.msg import MarkerArray

from interhand_msgs.msg import TwoHandPose
from interhand_ros.camera import CameraModel
from interhand_ros.drawing import draw_estimate
from interhand_ros.engine.options import DEPTH_MODES
from interhand_ros.estimate import Box, HandPoseEstimator
from interhand_ros.factory import EstimatorError, build_estimator
from interhand_ros.image_encoding import depth_to_array, image_to_rgb, rgb_to_image
from interhand_ros.markers import MarkerStyle, to_marker_array
from interhand_ros.messages import to_two_hand_pose
from interhand_ros.roi import RoiConfig, RoiSource
from interhand_ros.root_depth import DepthImage
from interhand_ros.ros.diagnostics import NodeHealth
from interhand_ros.ros.mailbox import LatestMailbox, Worker
from interhand_ros.ros.parameters import PARAMETERS, estimator_settings
from interhand_ros.ros.sync import LatestCameraInfo, StampSync, stamp_seconds

try:  # a ROS distro package; absent from the PyPI venv, where ros/sync.py pairs instead.
    import message_filters
except ImportError:  # pragma: no cover - depends on the install
    message_filters = None

SYNC_MODES = ('approximate', 'exact', 'latest')
REGISTRATION_TOLERANCE = 0.01  # relative: focal lengths, principal point (x image width)
TIME_JUMP = 1.0  # s; an image this much older than the newest one means the clock went back
# The node subscribes to depth only when told to, so the engine's 'auto' is not offered.
NODE_DEPTH_MODES = tuple(mode for mode in DEPTH_MODES if mode != 'auto')


def sensor_qos() -> QoSProfile:
    """REP-2003: sensor data is subscribed best effort; depth 1 so no stale frame waits.

    A new profile per call: QoS overrides are written into the profile object they are given.
    """
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                      reliability=ReliabilityPolicy.BEST_EFFORT)


def output_qos() -> QoSProfile:
    """REP-2003: outputs are reliable (a new profile per call, see sensor_qos)."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5,
                      reliability=ReliabilityPolicy.RELIABLE)


class StartupError(RuntimeError):
    """The node cannot start (bad parameter, checkpoint, device); the message says why."""


@dataclass
class Frame:
    """One paired input, waiting in the mailbox for the worker."""

    image: Image
    info: CameraInfo
    depth: Optional[Image] = None
    depth_info: Optional[CameraInfo] = None


def require_size(name: str, width: int, height: int, image_width: int,
                 image_height: int) -> None:
    """camera_info and depth must describe the image they are paired with."""
    if (width, height) != (image_width, image_height):
        raise ValueError(f'{name} is {width}x{height} but the image is '
                         f'{image_width}x{image_height}')


def require_registered(depth_camera: CameraModel, camera: CameraModel) -> None:
    """The depth image must be registered to the colour image: same size and intrinsics."""
    same_focal = all(abs(a - b) <= REGISTRATION_TOLERANCE * b for a, b in (
        (depth_camera.fx, camera.fx), (depth_camera.fy, camera.fy)))
    same_centre = all(abs(a - b) <= REGISTRATION_TOLERANCE * camera.width for a, b in (
        (depth_camera.cx, camera.cx), (depth_camera.cy, camera.cy)))
    if (depth_camera.width, depth_camera.height) != (camera.width, camera.height) or not (
            same_focal and same_centre):
        raise ValueError(
            'depth image is not registered to the colour image: depth camera_info '
            f'{depth_camera.width}x{depth_camera.height} fx={depth_camera.fx:.1f} '
            f'cx={depth_camera.cx:.1f} cy={depth_camera.cy:.1f}, colour {camera.width}x'
            f'{camera.height} fx={camera.fx:.1f} cx={camera.cx:.1f} cy={camera.cy:.1f} '
            '(use the depth topic aligned to the colour camera)')


def roi_msg_to_box(roi: RegionOfInterest) -> Optional[Box]:
    """RegionOfInterest -> Box; all zero (the message's 'full image') -> None."""
    if roi.width == 0 or roi.height == 0:
        return None
    return Box(float(roi.x_offset), float(roi.y_offset), float(roi.width), float(roi.height))


class HandsNode(Node):
    """rclpy node `hands`; estimator may be injected (tests), else built from parameters."""

    def __init__(self, estimator: Optional[HandPoseEstimator] = None,
                 parameter_overrides: Optional[list[Parameter]] = None,
                 node_name: str = 'hands') -> None:
        super().__init__(node_name, parameter_overrides=parameter_overrides or [])
        try:
            for spec in PARAMETERS:
                self.declare_parameter(spec.name, spec.default, ParameterDescriptor(
                    description=spec.description, read_only=spec.read_only))
            self.params = {spec.name: self.get_parameter(spec.name).value
                           for spec in PARAMETERS}
            self._validate_params()
            self._with_depth = self.params['depth.mode'] == 'depth_image'
            self.roi = self._make_roi_source()
            self.estimator = estimator or build_estimator(
                estimator_settings(self.params), self.get_logger().warning,
                'set -p checkpoint:=/path/to/snapshot_20.pth.tar')
        except (StartupError, EstimatorError, ParameterException) as error:
            super().destroy_node()
            raise StartupError(str(error)) from error
        self._last_log: dict[str, float] = {}
        self._frames_checked: set[str] = set()
        self.health = NodeHealth()
        self.marker_style = MarkerStyle(
            joint_diameter=self.params['markers.joint_diameter'],
            bone_width=self.params['markers.bone_width'],
            lifetime=self.params['markers.lifetime'],
            wrist_axes=self.params['markers.wrist_axes'])

        overrides = QoSOverridingOptions.with_default_policies()
        self.hands_pub = self.create_publisher(TwoHandPose, 'hands', output_qos(),
                                               qos_overriding_options=overrides)
        self.markers_pub = self.create_publisher(MarkerArray, 'hands/markers', output_qos(),
                                                 qos_overriding_options=overrides)
        self.debug_pub = self.create_publisher(Image, 'hands/debug_image', output_qos(),
                                               qos_overriding_options=overrides)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)

        self.mailbox: LatestMailbox[Frame] = LatestMailbox()
        self._subscribe_inputs(overrides)
        self.worker = Worker(self.mailbox, self._process, self._on_worker_error)
        self.worker.start()
        self.create_timer(self.params['diagnostics_period'], self._publish_diagnostics)
        self.get_logger().info(
            f"hands node ready: estimator {type(self.estimator).__name__}, sync "
            f"{self.params['sync']}, roi {self.params['roi.mode']}, depth "
            f"{self.params['depth.mode']}")

    # ---- set-up -------------------------------------------------------------------------
    def _validate_params(self) -> None:
        p = self.params
        checks = [
            (p['sync'] in SYNC_MODES, f"sync must be one of {SYNC_MODES}, got {p['sync']!r}"),
            (p['depth.mode'] in NODE_DEPTH_MODES,
             f"depth.mode must be one of {NODE_DEPTH_MODES}, got {p['depth.mode']!r}"),
            (p['sync_slop'] >= 0.0, f"sync_slop must be >= 0 s, got {p['sync_slop']}"),
            (p['sync_queue_size'] >= 1,
             f"sync_queue_size must be >= 1, got {p['sync_queue_size']}"),
            (0.0 <= p['presence_threshold'] <= 1.0,
             f"presence_threshold must be in [0, 1], got {p['presence_threshold']}"),
            (p['diagnostics_period'] > 0.0,
             f"diagnostics_period must be > 0 s, got {p['diagnostics_period']}"),
            (p['markers.lifetime'] >= 0.0,
             f"markers.lifetime must be >= 0 s, got {p['markers.lifetime']}"),
        ]
        for ok, reason in checks:
            if not ok:
                raise StartupError(reason)

    def _make_roi_source(self) -> RoiSource:
        p = self.params
        try:
            return RoiSource(RoiConfig(
                mode=p['roi.mode'], fixed=tuple(p['roi.fixed']),
                track_scale=p['roi.track_scale'], track_smoothing=p['roi.track_smoothing'],
                topic_max_age=p['roi.topic_max_age'],
                detector_min_confidence=p['roi.detector_min_confidence'],
                detect_every=p['roi.detect_every']))
        except (ValueError, ImportError) as error:
            raise StartupError(str(error)) from error

    def _subscribe_inputs(self, overrides: QoSOverridingOptions) -> None:
        self._seen = {'camera_info': 0, 'depth': 0, 'depth_info': 0}  # for diagnostics
        self._last_image_time = self._last_pair_time = time.monotonic()
        self._newest_stamp = -float('inf')
        if self.params['roi.mode'] == 'topic':
            self.create_subscription(RegionOfInterest, 'roi', self._on_roi, sensor_qos(),
                                     qos_overriding_options=overrides)
        if self.params['sync'] == 'latest':
            self._subscribe_latest(overrides)
        else:
            self._subscribe_synchronized(overrides)

    def _subscribe_latest(self, overrides: QoSOverridingOptions) -> None:
        """Each image (with its nearest depth + depth camera_info) + the cached camera_info."""
        p = self.params
        self._latest_info = LatestCameraInfo(p['max_info_age'])
        self.create_subscription(CameraInfo, 'camera_info', self._on_latest_info,
                                 sensor_qos(), qos_overriding_options=overrides)
        streams = [(Image, 'image', self._count_image)] + (
            [(Image, 'depth', self._count_depth),
             (CameraInfo, 'depth_info', self._count_depth_info)] if self._with_depth else [])
        self._sync = StampSync(len(streams), p['sync_queue_size'], p['sync_slop'],
                               self._on_image_and_depth)
        for stream, (msg_type, topic, count) in enumerate(streams):
            self.create_subscription(msg_type, topic, self._counted(count, stream),
                                     sensor_qos(), qos_overriding_options=overrides)

    def _subscribe_synchronized(self, overrides: QoSOverridingOptions) -> None:
        """Image, camera_info (and depth, depth_info) paired by stamp: approximate or exact."""
        p = self.params
        slop = p['sync_slop'] if p['sync'] == 'approximate' else 0.0
        topics = [(Image, 'image', self._count_image),
                  (CameraInfo, 'camera_info', self._count_info)] + (
            [(Image, 'depth', self._count_depth),
             (CameraInfo, 'depth_info', self._count_depth_info)] if self._with_depth else [])
        if message_filters is not None:  # pragma: no cover - only on a ROS install
            subscribers = []
            for msg_type, topic, count in topics:
                subscriber = message_filters.Subscriber(self, msg_type, topic,
                                                        qos_profile=sensor_qos(),
                                                        qos_overriding_options=overrides)
                subscriber.registerCallback(count)
                subscribers.append(subscriber)
            if p['sync'] == 'approximate':
                sync = message_filters.ApproximateTimeSynchronizer(
                    subscribers, p['sync_queue_size'], slop)
            else:
                sync = message_filters.TimeSynchronizer(subscribers, p['sync_queue_size'])
            sync.registerCallback(self._on_pair)
            self._message_filters = (subscribers, sync)
            return
        self._sync = StampSync(len(topics), p['sync_queue_size'], slop, self._on_pair)
        for stream, (msg_type, topic, count) in enumerate(topics):
            self.create_subscription(msg_type, topic, self._counted(count, stream),
                                     sensor_qos(), qos_overriding_options=overrides)

    def _counted(self, count: Callable[[Any], None], stream: int) -> Callable[[Any], None]:
        """Subscription callback: count the message (diagnostics), then pair it in self._sync."""

        def callback(msg: Any) -> None:
            count(msg)
            self._sync.add(stream, msg)
        return callback

    # ---- callbacks (executor thread): cheap, never block ----------------------------------
    def _count_image(self, _: Image) -> None:
        self._last_image_time = time.monotonic()
        self.health.received(self._last_image_time)

    def _count_info(self, _: CameraInfo) -> None:
        self._seen['camera_info'] += 1

    def _count_depth(self, _: Image) -> None:
        self._seen['depth'] += 1

    def _count_depth_info(self, _: CameraInfo) -> None:
        self._seen['depth_info'] += 1

    def _on_latest_info(self, info: CameraInfo) -> None:
        self._count_info(info)
        self._latest_info.add(info)

    def _on_image_and_depth(self, image: Image, depth: Optional[Image] = None,
                            depth_info: Optional[CameraInfo] = None) -> None:
        try:
            info = self._latest_info.lookup(image)
        except LookupError as error:
            self._report('camera_info', str(error))
            return
        self._on_pair(image, info, depth, depth_info)

    def _on_pair(self, image: Image, info: CameraInfo, depth: Optional[Image] = None,
                 depth_info: Optional[CameraInfo] = None) -> None:
        """Newest frame into the mailbox; a set slightly older than one already taken is dropped."""
        self._last_pair_time = time.monotonic()
        stamp = stamp_seconds(image)
        if self._newest_stamp - TIME_JUMP < stamp < self._newest_stamp:
            self.health.dropped()  # e.g. a late camera_info completing an old image
            return
        if stamp < self._newest_stamp:
            self.get_logger().info('image stamps jumped back (looped bag or restarted clock)')
        self._newest_stamp = stamp
        if self.mailbox.put(Frame(image, info, depth, depth_info)) is not None:
            self.health.dropped()

    def _on_roi(self, roi: RegionOfInterest) -> None:
        self.roi.set_external(roi_msg_to_box(roi), time.monotonic())

    # ---- worker thread -------------------------------------------------------------------
    def _process(self, frame: Frame) -> None:
        try:
            rgb, camera, depth = self._convert(frame)
        except ValueError as error:  # bad input: image, camera_info or depth
            self._report(type(error).__name__, str(error))
            return
        self._check_frame_id(frame.image.header.frame_id)
        estimate = self.estimator.estimate(rgb, camera, self.roi.crop(rgb, time.monotonic()),
                                           depth)
        self.roi.update(estimate)
        header = frame.image.header
        height, width = rgb.shape[:2]
        self.hands_pub.publish(to_two_hand_pose(estimate, header, width, height))
        if self.params['publish_markers'] and self.markers_pub.get_subscription_count() > 0:
            self.markers_pub.publish(to_marker_array(estimate, header, self.marker_style))
        if self.params['publish_debug_image'] and self.debug_pub.get_subscription_count() > 0:
            self.debug_pub.publish(rgb_to_image(draw_estimate(rgb, estimate), header))
        now = self.get_clock().now().nanoseconds * 1e-9
        self.health.published(time.monotonic(), now - stamp_seconds(frame.image),
                              estimate.inference_time)

    def _check_frame_id(self, frame_id: str) -> None:
        """Warn once per frame_id that does not look like a camera optical frame (REP-103)."""
        if 'optical' in frame_id or frame_id in self._frames_checked:
            return
        self._frames_checked.add(frame_id)
        self.get_logger().warning(
            f'image frame_id {frame_id!r} does not look like an optical frame: hands are '
            'published in it as if it were one (REP-103: z forward, x right, y down)')

    def _convert(self, frame: Frame) -> tuple[np.ndarray, CameraModel, Optional[DepthImage]]:
        """Validated RGB array, camera model and depth image of a frame (ValueError if bad)."""
        rgb = image_to_rgb(frame.image)
        height, width = rgb.shape[:2]
        camera = CameraModel.from_camera_info(frame.info, rectified=self.params['rectified'])
        require_size('camera_info', camera.width, camera.height, width, height)
        if frame.depth is None:
            return rgb, camera, None
        array = depth_to_array(frame.depth)
        require_size('depth image', array.shape[1], array.shape[0], width, height)
        require_registered(CameraModel.from_camera_info(
            frame.depth_info, rectified=self.params['rectified']), camera)
        return rgb, camera, DepthImage.from_array(array, frame.depth.encoding)

    def _on_worker_error(self, error: BaseException) -> None:
        if not self.context.ok():
            return  # shutting down: publishing into the closed context is expected to fail
        self._report('estimator', f'{type(error).__name__}: {error}',
                     detail=''.join(traceback.format_exception(error)))

    # ---- reporting -----------------------------------------------------------------------
    def _report(self, kind: str, reason: str, detail: str = '',
                frame_failed: bool = True) -> None:
        """Throttled warning per kind of problem + diagnostics (the next frame goes on)."""
        now = time.monotonic()
        self.health.error(now, reason, frame_failed)
        if now - self._last_log.get(kind, -float('inf')) >= self.params['log_throttle']:
            self._last_log[kind] = now
            self.get_logger().warning(f'frame skipped: {reason}' + (f'\n{detail}' if detail
                                                                    else ''))

    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        waiting = self._last_image_time - self._last_pair_time
        if ((self.params['sync'] != 'latest' or self._with_depth)
                and now - self._last_image_time < 1.0 < waiting):
            self._report('pairing', f'images arrive but none is paired: {self._unpaired_reason()}',
                         frame_failed=False)
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        array.status = [self.health.status(now, f'{self.get_name()}: hand pose estimation',
                                           self.get_fully_qualified_name())]
        self.diagnostics_pub.publish(array)

    def _unpaired_reason(self) -> str:
        if self._with_depth and not self._seen['depth']:
            return 'no depth image received (check the depth remap)'
        if self._with_depth and not self._seen['depth_info']:
            return 'no depth camera_info received (check the depth_info remap)'
        if not self._seen['camera_info']:
            return 'no camera_info received (check the camera_info remap)'
        partners = ('depth/depth_info' if self.params['sync'] == 'latest' else
                    'camera_info/depth/depth_info' if self._with_depth else 'camera_info')
        return (f"image and {partners} stamps differ by more than sync_slop "
                f"{self.params['sync_slop']} s (or use sync:=latest)")

    def destroy_node(self) -> None:
        self.worker.stop()
        self.roi.close()
        super().destroy_node()


def main(args: Optional[list[str]] = None) -> int:
    """Console entry point `hands_node`: spin until Ctrl-C; exit 1 when the node cannot start."""
    rclpy.init(args=args)
    try:
        node = HandsNode()
    except StartupError as error:
        rclpy.logging.get_logger('hands').fatal(f'cannot start: {error}')
        rclpy.try_shutdown()
        return 1
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        if rclpy.ok():
            raise
        # Ctrl-C shut the context down while a message was being taken: a shutdown, not a fault.
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
