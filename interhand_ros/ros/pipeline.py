"""The node's worker side: one frame in, hands, markers and debug image out.

Runs on the worker's two threads (ros/mailbox.Worker): conversion, roi and network on the
inference thread, the teleop stage and the outputs on the output thread while the next
frame's network already runs (same results for the same frames: processing/chain.py). A bad
frame (image, camera_info or depth that does not describe one registered camera) raises
ValueError in conversion: reported, skipped, the next frame goes on. Settings are read from
the node's live parameter dict on every frame, so the run-time safe ones (markers.*,
publish_*, max_image_pixels) apply from the next frame on. Each published frame's time per
stage (STAGES) goes to /diagnostics, so the cost around the network is visible as deployed
(the benchmark reads it).
"""
from __future__ import annotations

import dataclasses
import functools
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import Image
from visualization_msgs.msg import MarkerArray

from interhand_msgs.msg import TwoHandPose
from interhand_ros.estimate import HandPoseEstimator, TwoHandEstimate
from interhand_ros.geometry.box import Box
from interhand_ros.image_encoding import rgb_to_image
from interhand_ros.messages import to_two_hand_pose
from interhand_ros.processing.chain import CHAIN_STAGES, FrameChain, StageClock
from interhand_ros.processing.roi import RoiSource
from interhand_ros.ros.diagnostics import NodeHealth, Reporter
from interhand_ros.ros.frames import Frame, convert
from interhand_ros.ros.teleop_outputs import TeleopOutputs
from interhand_ros.stamps import header_seconds
from interhand_ros.teleop.stage import TeleopStage
from interhand_ros.visualization.drawing import draw_estimate
from interhand_ros.visualization.markers import MarkerStyle, to_marker_array

# Where a frame's time goes, in order: image stamp to the worker taking it (transport, pairing,
# waiting in the mailbox), message to RGB array, the per-frame chain's stages (roi, the
# estimator, the teleop stage: processing/chain.py), then building and publishing every output.
STAGES = ('receive', 'convert', *CHAIN_STAGES, 'publish')


def output_qos() -> QoSProfile:
    """REP-2003: outputs are reliable (a new profile per call: overrides write into it)."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5,
                      reliability=ReliabilityPolicy.RELIABLE)


class PoseOutputs:
    """What every hands publisher has (hands, markers, wrist poses and /tf), for one
    activation; destroy() removes them. The hands node adds its debug image (Outputs), the
    fusion node its world-frame publishing (ros/fusion_outputs.py)."""

    def __init__(self, node: Node, params: Mapping[str, Any]) -> None:
        self._node = node
        self._overrides = QoSOverridingOptions.with_default_policies()
        self.teleop = TeleopOutputs(node, output_qos(), params['tf.prefix'], params['tf.publish'])
        self.hands = self._publisher(TwoHandPose, 'hands')
        self.markers = self._publisher(MarkerArray, 'hands/markers')

    def _publisher(self, message_type: type, topic: str) -> Publisher:
        return self._node.create_publisher(message_type, topic, output_qos(),
                                           qos_overriding_options=self._overrides)

    def _publishers(self) -> tuple[Publisher, ...]:
        return self.hands, self.markers

    def destroy(self) -> None:
        for publisher in self._publishers():
            self._node.destroy_publisher(publisher)
        self.teleop.destroy()


class Outputs(PoseOutputs):
    """The hands node's publishers: the pose outputs and the debug image."""

    def __init__(self, node: Node, params: Mapping[str, Any]) -> None:
        super().__init__(node, params)
        self.debug = self._publisher(Image, 'hands/debug_image')

    def _publishers(self) -> tuple[Publisher, ...]:
        return *super()._publishers(), self.debug


def marker_style(params: Mapping[str, Any]) -> MarkerStyle:
    return MarkerStyle(joint_diameter=params['markers.joint_diameter'],
                       bone_width=params['markers.bone_width'],
                       lifetime=params['markers.lifetime'],
                       wrist_axes=params['markers.wrist_axes'])


def set_presence_threshold(estimator: HandPoseEstimator, value: float) -> None:
    """Change a built estimator's presence threshold; ValueError when it fixes it at build.

    The InterNet engine reads `config.presence_threshold` on every frame, so a new config with
    the new value takes effect at the next frame; MediaPipe's confidence is fixed when it loads.
    """
    config = getattr(estimator, 'config', None)
    if not (dataclasses.is_dataclass(config) and hasattr(config, 'presence_threshold')):
        raise ValueError(f'{type(estimator).__name__} fixes its presence threshold when it is '
                         'built: clean up the node (lifecycle), set it, configure again')
    estimator.config = dataclasses.replace(config, presence_threshold=value)  # type: ignore


class FramePipeline:
    """Converts a frame's messages, runs them through the per-frame chain (roi, estimator,
    teleop stage) and publishes the result (called by the mailbox Worker: process() on its
    inference thread, the function it returns on its output thread)."""

    def __init__(self, estimator: HandPoseEstimator, roi: RoiSource, outputs: Outputs,
                 params: Mapping[str, Any], report: Reporter, health: NodeHealth,
                 now: Callable[[], float],
                 warn: Callable[[str], object], context_ok: Callable[[], bool]) -> None:
        self.outputs, self.params = outputs, params
        self._report, self._health = report, health
        self._now, self._warn, self._context_ok = now, warn, context_ok
        self._frames_checked: set[str] = set()
        self._reset_due = False
        self.chain = FrameChain(estimator, roi,
                                TeleopStage.from_params(params))  # filter, hold, stable sides

    def reset_tracking(self) -> None:
        """The camera clock went back (executor thread): the worker resets the chain's roi
        tracking and teleop stage before the next frame."""
        self._reset_due = True

    def process(self, frame: Frame) -> Callable[[], None] | None:
        """The inference thread's half of a frame: convert, roi, network; returns the rest
        (teleop stage, publishing) for the worker's output thread, None for a bad frame."""
        clock = StageClock()
        stamp = header_seconds(frame.image)
        clock.times['receive'] = self._now() - stamp
        reset = self._reset_due
        if reset:
            self._reset_due = False
            self.chain.reset_roi()
        try:
            rgb, camera, depth = convert(frame, self.params['rectified'],
                                         self.params['max_image_pixels'])
        except ValueError as error:  # bad input: image, camera_info or depth
            self._report(type(error).__name__, str(error))
            return self.chain.reset_teleop if reset else None
        self._check_frame_id(frame.image.header.frame_id)
        clock.lap('convert')
        # the roi source's clock is monotonic: that of the roi topic's set_external
        roi, raw = self.chain.estimate(rgb, camera, stamp, depth, time.monotonic(), clock)
        return functools.partial(self._publish, frame, rgb, roi, raw, reset, clock)

    def _publish(self, frame: Frame, rgb: np.ndarray, roi: Box | None, raw: TwoHandEstimate,
                 reset: bool, clock: StageClock) -> None:
        """The output thread's half: teleop stage, then every output, in frame order."""
        p = self.params
        clock.resume()  # the wait for this thread belongs to no stage
        if reset:
            self.chain.reset_teleop()
        stamp = header_seconds(frame.image)
        estimate = self.chain.finish(roi, raw, stamp, clock).estimate
        header = frame.image.header
        height, width = rgb.shape[:2]
        hands = to_two_hand_pose(estimate, header, width, height)
        # counted before it goes out: a bad frame a subscriber sends in reply is newer
        self._health.published(time.monotonic(), self._now() - stamp, estimate.inference_time)
        self._health.depth_measured(raw)
        self.outputs.hands.publish(hands)
        self.outputs.teleop.publish(estimate, header)
        self.outputs.teleop.publish_raw(raw, header, width, height)
        if p['publish_markers'] and self.outputs.markers.get_subscription_count() > 0:
            self.outputs.markers.publish(to_marker_array(estimate, header, marker_style(p)))
        if p['publish_debug_image'] and self.outputs.debug.get_subscription_count() > 0:
            self.outputs.debug.publish(rgb_to_image(draw_estimate(rgb, estimate), header))
        clock.lap('publish')
        self._health.stage_times(clock.times)

    def on_error(self, error: BaseException) -> None:
        if not self._context_ok():
            return  # shutting down: publishing into the closed context is expected to fail
        self._report('estimator', f'{type(error).__name__}: {error}',
                     detail=''.join(traceback.format_exception(error)))

    def _check_frame_id(self, frame_id: str) -> None:
        """Warn once per frame_id that does not look like a camera optical frame (REP-103)."""
        if 'optical' in frame_id or frame_id in self._frames_checked:
            return
        self._frames_checked.add(frame_id)
        self._warn(f'image frame_id {frame_id!r} does not look like an optical frame: hands are '
                   'published in it as if it were one (REP-103: z forward, x right, y down)')
