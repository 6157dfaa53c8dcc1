"""The fusion node's inputs: per view `<view>/hands/raw` and `<view>/camera_info`, checked.

Each view's TwoHandPose becomes a multiview.ViewObservation (its estimate, its camera from the
newest camera_info, world <- its optical frame from the transform buffer at its stamp), or a
ViewProblem whose `kind` names what is wrong (camera_info, transform, pose) and whose
message names the view and what to do. The node reports each problem (throttled log,
/diagnostics) and leaves that message out; the view's next good message is used again.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo

from interhand_msgs.msg import TwoHandPose
from interhand_ros.geometry.camera import CameraInfoError, CameraModel
from interhand_ros.geometry.transforms import TransformBuffer, TransformError
from interhand_ros.messages import from_two_hand_pose
from interhand_ros.multiview.observations import ObservationError, ViewObservation
from interhand_ros.ros.inputs import sensor_qos
from interhand_ros.ros.pipeline import output_qos
from interhand_ros.stamps import stamp_to_ns


class ViewProblem(ValueError):
    """One view's message cannot be fused; kind: 'camera_info', 'transform' or 'pose'."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind


@dataclass(frozen=True)
class ViewChecks:
    """What a view's message is checked against (the node's parameters, in ns)."""

    world_frame: str
    rectified: bool
    tf_tolerance_ns: int


def camera_of(view: str, info: Any, frame_id: str, rectified: bool) -> CameraModel:
    """The view's CameraModel; ViewProblem when camera_info is missing, of another frame or
    invalid (NaN, zero focal length, no size)."""
    if info is None:
        raise ViewProblem('camera_info', f'{view}: no camera_info received yet on '
                                         f'{view}/camera_info')
    if info.header.frame_id.lstrip('/') != frame_id:
        raise ViewProblem('camera_info', f"{view}: camera_info frame_id "
                                         f"{info.header.frame_id!r} is not the image's "
                                         f'{frame_id!r}: not this camera\'s calibration')
    try:
        return CameraModel.from_camera_info(info, rectified)
    except CameraInfoError as error:
        raise ViewProblem('camera_info', f'{view}: camera_info unusable: {error}') from error


def check_size(view: str, msg: TwoHandPose, camera: CameraModel) -> None:
    """ViewProblem when the pose's roi (clipped by the hands node to its image) reaches past the
    camera_info's image size: the calibration is of another resolution."""
    right, bottom = msg.roi.x_offset + msg.roi.width, msg.roi.y_offset + msg.roi.height
    if right > camera.width or bottom > camera.height:
        raise ViewProblem('camera_info', f'{view}: camera_info is {camera.width}x'
                                         f'{camera.height} but the pose comes from a larger '
                                         f'image (its roi reaches {right}x{bottom}): another '
                                         'size; publish the camera_info of the image streamed')


def check_pixels(view: str, msg: TwoHandPose) -> None:
    """ViewProblem for a valid joint with a non-finite pixel or position."""
    for hand in (msg.right, msg.left):
        for index, valid in enumerate(hand.valid):
            pixel, joint = hand.pixels[index], hand.joints[index]
            if valid and not np.all(np.isfinite((pixel.u, pixel.v, joint.x, joint.y,
                                                 joint.z))):
                side = 'right' if hand.side == hand.RIGHT else 'left'
                raise ViewProblem('pose', f'{view}: {side} joint {index} is marked valid but '
                                          'its pixel or position is not finite')


def observe(view: str, msg: TwoHandPose, info: Any, buffer: TransformBuffer,
            checks: ViewChecks) -> ViewObservation:
    """msg as a ViewObservation in checks.world_frame, or ViewProblem saying why not."""
    stamp = stamp_to_ns(msg.header.stamp)
    frame_id = msg.header.frame_id.lstrip('/')
    camera = camera_of(view, info, frame_id, checks.rectified)
    check_size(view, msg, camera)
    check_pixels(view, msg)
    try:
        world_from_camera = buffer.lookup(checks.world_frame, frame_id, stamp,
                                          checks.tf_tolerance_ns)
    except TransformError as error:
        raise ViewProblem('transform', f'{view}: {error}; publish the extrinsics '
                                       '(multi_camera.launch.py extrinsics:=FILE, or a '
                                       'static_transform_publisher)') from error
    try:
        return ViewObservation(view, stamp, camera, world_from_camera, from_two_hand_pose(msg))
    except (ObservationError, ValueError) as error:
        raise ViewProblem('pose', f'{view}: pose unusable: {error}') from error


class ViewInputs:
    """Subscriptions of every view; on_pose(view, msg) for each pose; each view's newest
    camera_info kept, and the stamps of its last `history` ones: the camera's frame period
    (a hands node that skips frames publishes fewer poses, the camera's driver every frame)."""

    def __init__(self, node: Node, views: list[str],
                 on_pose: Callable[[str, TwoHandPose], None], history: int = 31) -> None:
        self._node = node
        self.infos: dict[str, Any] = {}
        self.info_stamps: dict[str, deque[int]] = {view: deque(maxlen=history)
                                                    for view in views}
        self._subscriptions = []
        for view in views:
            self._subscriptions += [
                # reliable, as the hands node publishes it
                node.create_subscription(TwoHandPose, f'{view}/hands/raw',
                                         partial(on_pose, view), output_qos()),
                node.create_subscription(CameraInfo, f'{view}/camera_info',
                                         partial(self._on_info, view), sensor_qos()),
            ]

    def _on_info(self, view: str, info: CameraInfo) -> None:
        self.infos[view] = info
        self.info_stamps[view].append(stamp_to_ns(info.header.stamp))

    def destroy(self) -> None:
        for subscription in self._subscriptions:
            self._node.destroy_subscription(subscription)
        self._subscriptions = []

