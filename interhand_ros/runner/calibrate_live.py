"""interhand-calibrate --live: grab board views from running cameras over ROS 2.

Each camera's Image topic (and the CameraInfo beside it) is subscribed; images are grouped by
stamp (processing/stamp_sync.StampSync, the node's own pairing); a group is kept when at least
two cameras see the board and the board has moved since the last kept group (near-duplicate
views add no constraint). The only rclpy import of the tool (see .importlinter).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from interhand_ros.calibration.detection import BoardDetector, Detection
from interhand_ros.calibration.intrinsics import Intrinsics
from interhand_ros.calibration.solve import CameraViews
from interhand_ros.image_encoding import image_to_rgb
from interhand_ros.processing.stamp_sync import StampSync
from interhand_ros.runner.calibrate_inputs import LOG, lens_of
from interhand_ros.runner.inputs import InputError

MIN_MOVE_PX = 20.0   # mean corner motion (in some camera) that makes a new view worth keeping
QUEUE = 5


def topics_of(camera: str) -> tuple[str, str]:
    """(image topic, camera_info topic): a namespace gets image_raw and camera_info in it; an
    image topic gets the camera_info beside it."""
    camera = '/' + camera.strip('/')
    leaf = camera.rsplit('/', 1)[-1]
    if 'image' in leaf:
        return camera, camera.rsplit('/', 1)[0] + '/camera_info'
    return camera + '/image_raw', camera + '/camera_info'


def moved(previous: dict[str, Detection], current: dict[str, Detection]) -> bool:
    """True when some camera sees the board's common corners move by MIN_MOVE_PX on average."""
    for name, now in current.items():
        before = previous.get(name)
        if before is None:
            return True
        common, mine, theirs = np.intersect1d(now.ids, before.ids, return_indices=True)
        if len(common) < 4 or np.mean(np.linalg.norm(
                now.corners[mine] - before.corners[theirs], axis=1)) >= MIN_MOVE_PX:
            return True
    return False


class LiveGrabber:
    """Subscriptions, stamp pairing and the keep rule; spin() until enough views or time out."""

    def __init__(self, cameras: dict[str, str], detector: BoardDetector, wanted: int,
                 slop_s: float) -> None:
        self.names, self.detector, self.wanted = list(cameras), detector, wanted
        self.node = rclpy.create_node('interhand_calibrate')
        self.infos: dict[str, Any] = {}
        self.sizes: dict[str, tuple[int, int]] = {}
        self.frame_ids: dict[str, str] = {}
        self.kept: list[dict[str, Detection]] = []
        self.groups = 0
        self.sync = StampSync(len(self.names), QUEUE, slop_s, self._on_group)
        for index, (name, camera) in enumerate(cameras.items()):
            image_topic, info_topic = topics_of(camera)
            self.node.create_subscription(
                Image, image_topic, lambda msg, i=index: self.sync.add(i, msg),
                qos_profile_sensor_data)
            self.node.create_subscription(CameraInfo, info_topic, self._keeper(name),
                                          qos_profile_sensor_data)
            LOG.info('%s: listening on %s (+ %s)', name, image_topic, info_topic)

    def _keeper(self, name: str) -> Callable[[CameraInfo], None]:
        """Keeps the camera's newest CameraInfo (its lens, unless --intrinsics)."""
        def keep(info: CameraInfo) -> None:
            self.infos[name] = info
        return keep

    def _on_group(self, *images: Image) -> None:
        self.groups += 1
        found: dict[str, Detection] = {}
        for name, msg in zip(self.names, images):
            self.sizes[name] = (msg.width, msg.height)
            self.frame_ids[name] = msg.header.frame_id
            try:
                detection = self.detector.detect(image_to_rgb(msg))
            except ValueError as error:
                LOG.warning('%s: skipping an image: %s', name, error)
                continue
            if detection is not None:
                found[name] = detection
        if len(found) >= 2 and (not self.kept or moved(self.kept[-1], found)):
            self.kept.append(found)
            LOG.info('view %d/%d: %s see the board', len(self.kept), self.wanted,
                     ', '.join(sorted(found)))

    def spin(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.kept) < self.wanted and time.monotonic() < deadline:
            rclpy.spin_once(self.node, timeout_sec=0.1)

    def views(self) -> list[CameraViews]:
        missing = [name for name in self.names if name not in self.sizes]
        if missing:
            raise InputError(f'{", ".join(missing)}: no image arrived at the same time as the '
                             f'other cameras\' ({self.groups} groups paired): check the topics '
                             f'(ros2 topic list) and that the cameras\' clocks agree')
        return [CameraViews(name, self.frame_ids[name], self.sizes[name],
                            {i: group[name] for i, group in enumerate(self.kept)
                             if name in group}, self.groups, self._lens(name))
                for name in self.names]

    def _lens(self, name: str) -> Intrinsics | None:
        return lens_of(name, self.infos.get(name))

    def close(self) -> None:
        self.node.destroy_node()


def grab_live(cameras: dict[str, str], detector: BoardDetector, wanted: int, timeout_s: float,
              slop_s: float) -> list[CameraViews]:
    """Board views from live topics: up to `wanted` groups where >= 2 cameras see the board."""
    rclpy.init()
    try:
        grabber = LiveGrabber(cameras, detector, wanted, slop_s)
        try:
            grabber.spin(timeout_s)
            LOG.info('kept %d views of %d paired groups', len(grabber.kept), grabber.groups)
            return grabber.views()
        finally:
            grabber.close()
    finally:
        rclpy.try_shutdown()
