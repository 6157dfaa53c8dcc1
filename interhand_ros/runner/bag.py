"""ROS 2 bags for interhand-run, read and written with rosbags (no ROS install needed).

BagInput pairs image, camera_info and depth with the node's own pairing code
(processing/stamp_sync.py), so a bag gives the frames the node would have received live;
BagOutput writes a copy of the bag with the node's pose and marker topics added.
"""
from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from interhand_ros.processing.stamp_sync import LatestCameraInfo, PairingError, StampSync
from interhand_ros.runner.inputs import InputError, InputFrame
from interhand_ros.settings import DEFAULTS, SYNC_MODES
from interhand_ros.stamps import stamp_to_ns

LOG = logging.getLogger('interhand-run')
POSE_TOPIC = '/hands'  # the node's topic names, so RViz set-ups work for both
MARKER_TOPIC = '/hands/markers'
IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
CAMERA_INFO_TYPE = 'sensor_msgs/msg/CameraInfo'
BAG_FPS = 30.0  # frame rate of the annotated video of a bag (its stamps need not be regular)


def choose_topic(topics: dict[str, str], wanted_types: tuple[str, ...],
                 name: str | None, prefer: str = '') -> str | None:
    """Topic named `name`, else the only / preferred one of the wanted types (not depth)."""
    if name:
        if name not in topics:
            raise InputError(f'topic {name} is not in the bag (topics: {sorted(topics)})')
        return name
    candidates = sorted(t for t, kind in topics.items()
                        if kind in wanted_types and 'depth' not in t.lower())
    if not candidates:
        return None
    preferred = [t for t in candidates if prefer and t.startswith(prefer)]
    return (preferred or candidates)[0]


def bag_image_to_rgb(msg: Any, msgtype: str) -> np.ndarray:
    """RGB uint8 of a bag Image or CompressedImage, by the node's own conversion."""
    from interhand_ros.image_encoding import compressed_to_rgb, image_to_rgb
    if msgtype.endswith('CompressedImage'):
        return compressed_to_rgb(msg)
    return image_to_rgb(msg)


class BagInput:
    """Image (+ CameraInfo, + depth) messages of a ROS 2 bag, paired as the node pairs them.

    sync 'latest' (default): each image with the newest CameraInfo of its frame_id (any age; a
    bag may hold camera_info at a lower rate); 'approximate' / 'exact': image and CameraInfo
    paired by stamp within slop / exactly. A depth topic is always paired by stamp within slop.
    An image with no partner is dropped, as the node drops it.
    """

    fps: float | None = BAG_FPS

    def __init__(self, path: Path, image_topic: str | None,
                 camera_info_topic: str | None, depth_topic: str | None = None,
                 sync: str = 'latest', slop: float = DEFAULTS['sync_slop'],
                 queue_size: int = DEFAULTS['sync_queue_size']) -> None:
        from rosbags.highlevel import AnyReader
        from rosbags.typesys import Stores, get_typestore
        if sync not in SYNC_MODES:
            raise InputError(f'sync must be one of {SYNC_MODES}, got {sync!r}')
        self.path, self.sync, self.queue_size = path, sync, queue_size
        self.slop = 0.0 if sync == 'exact' else slop
        self.typestore = get_typestore(Stores.ROS2_KILTED)
        try:
            self.reader = AnyReader([path], default_typestore=self.typestore)
            self.reader.open()
        except Exception as error:  # rosbags raises several unrelated types
            raise InputError(f'cannot open bag {path}: {error}') from error
        topics = {c.topic: c.msgtype for c in self.reader.connections}
        image = choose_topic(topics, IMAGE_TYPES, image_topic)
        if image is None:
            raise InputError(f'bag {path} has no image topic (topics: {topics})')
        self.image_topic, self.image_type = image, topics[image]
        namespace = image.rsplit('/', 1)[0] + '/'
        self.camera_info_topic = choose_topic(topics, (CAMERA_INFO_TYPE,), camera_info_topic,
                                              prefer=namespace)
        if depth_topic is not None and topics.get(depth_topic) != 'sensor_msgs/msg/Image':
            raise InputError(f'--depth {depth_topic} is not an Image topic of the bag '
                             f'(topics: {topics})')
        self.depth_topic = depth_topic
        self.total: int | None = sum(c.msgcount for c in self.reader.connections
                                        if c.topic == image)

    def frames(self) -> Iterator[InputFrame]:
        """Frames in bag order as the pairing emits them (index counts decoded images)."""
        latest = LatestCameraInfo(0.0) if self.sync == 'latest' else None
        streams = [self.image_topic]
        if latest is None and self.camera_info_topic:
            streams.append(self.camera_info_topic)
        if self.depth_topic:
            streams.append(self.depth_topic)
        paired: list[tuple[Any, ...]] = []
        pairing = StampSync(len(streams), self.queue_size, self.slop,
                            lambda *msgs: paired.append(msgs))
        wanted = [c for c in self.reader.connections
                  if c.topic in streams or c.topic == self.camera_info_topic]
        index, told = 0, False
        for connection, timestamp, raw in self.reader.messages(connections=wanted):
            msg: Any = self.reader.deserialize(raw, connection.msgtype)
            if stamp_to_ns(msg.header.stamp) == 0:  # some recorders leave stamps empty
                sec, nanosec = divmod(timestamp, 1_000_000_000)
                msg.header.stamp = type(msg.header.stamp)(sec=sec, nanosec=nanosec)
            if latest is not None and connection.topic == self.camera_info_topic:
                latest.add(msg)
                continue
            pairing.add(streams.index(connection.topic), msg)
            while paired:
                messages = dict(zip(streams, paired.pop(0)))
                image = messages[self.image_topic]
                info = messages.get(self.camera_info_topic or '')
                if latest is not None and self.camera_info_topic:
                    try:
                        info = latest.lookup(image)
                    except PairingError as error:
                        if not told:
                            LOG.warning('%s: using --camera-info or a guess', error)
                            told = True
                frame = self._frame(index, image, info, messages.get(self.depth_topic or ''))
                if frame is not None:
                    index += 1
                    yield frame

    def _frame(self, index: int, image: Any, info: Any, depth_msg: Any) -> InputFrame | None:
        stamp = stamp_to_ns(image.header.stamp)
        try:
            rgb = bag_image_to_rgb(image, self.image_type)
        except ValueError as error:
            LOG.warning('skipping bad image at %d ns: %s', stamp, error)
            return None
        depth = self._depth(depth_msg, stamp) if depth_msg is not None else None
        return InputFrame(index, stamp, rgb, image.header.frame_id, info, depth=depth)

    @staticmethod
    def _depth(msg: Any, stamp: int) -> Any:
        from interhand_ros.geometry.root_depth import DepthImage
        from interhand_ros.image_encoding import depth_to_array
        try:
            return DepthImage.from_array(depth_to_array(msg), msg.encoding)
        except ValueError as error:
            LOG.warning('skipping bad depth image at %d ns: %s', stamp, error)
            return None

    def close(self) -> None:
        self.reader.close()


def interhand_msg_definitions() -> dict[str, str]:
    """interhand_msgs .msg texts by type name, from the installed share directory."""
    prefixes = [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    for prefix in prefixes + [sys.prefix]:
        folder = Path(prefix) / 'share' / 'interhand_msgs' / 'msg'
        files = sorted(folder.glob('*.msg'))
        if files:
            return {f'interhand_msgs/msg/{f.stem}': f.read_text() for f in files}
    raise FileNotFoundError('interhand_msgs is not installed (no share/interhand_msgs/msg/*.msg '
                            'under AMENT_PREFIX_PATH or the Python prefix)')


class BagOutput:
    """A copy of the input bag with the pose and marker topics added (same storage format)."""

    def __init__(self, path: Path, source: BagInput) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import get_types_from_msg
        typestore = source.typestore
        for name, text in interhand_msg_definitions().items():
            typestore.register(get_types_from_msg(text, name))
        files = [source.path] if source.path.is_file() else sorted(source.path.iterdir())
        mcap = any(file.suffix == '.mcap' for file in files)
        plugin = StoragePlugin.MCAP if mcap else StoragePlugin.SQLITE3
        self.source = source
        self.writer = Writer(path, version=9, storage_plugin=plugin)
        self.writer.open()
        self._copies = {c.id: self.writer.add_connection(c.topic, c.msgtype, typestore=typestore)
                        for c in source.reader.connections}
        self._pose = self.writer.add_connection(POSE_TOPIC, 'interhand_msgs/msg/TwoHandPose',
                                                typestore=typestore)
        self._markers = self.writer.add_connection(
            MARKER_TOPIC, 'visualization_msgs/msg/MarkerArray', typestore=typestore)

    def write_result(self, stamp_ns: int, pose_msg: Any, marker_msg: Any) -> None:
        from rclpy.serialization import serialize_message  # only for the bag output
        self.writer.write(self._pose, stamp_ns, serialize_message(pose_msg))
        self.writer.write(self._markers, stamp_ns, serialize_message(marker_msg))

    def finish(self) -> None:
        """Copy every message of the input bag, unchanged, and close the bag."""
        for connection, timestamp, raw in self.source.reader.messages():
            self.writer.write(self._copies[connection.id], timestamp, raw)
        self.close()

    def close(self) -> None:
        self.writer.close()
