"""`interhand-run`: the estimators on a video file, an image folder or a ROS 2 bag, offline.

Outputs in --out: poses.jsonl (one TwoHandPose as JSON per frame, the message the node
publishes, plus frame/source fields), poses.csv (one row per hand per frame, metres and pixels),
an annotated video (annotated.mp4) or image folder (annotated/), and for bags a copy of the bag
with /hands (interhand_msgs/TwoHandPose) and /hands/markers (MarkerArray) added, so
`ros2 bag play` shows the results in RViz. Outputs are written in --out/.partial and moved into
--out only when the run is complete.
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import shutil
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

import cv2
import numpy as np

from interhand_ros.camera_yaml import (
    DEFAULT_HORIZONTAL_FOV_DEG,
    guess_camera_info,
    load_camera_yaml,
)
from interhand_ros.estimate import (
    HandPoseEstimator,
    TwoHandEstimate,
    no_checkpoint_message,
)
from interhand_ros.skeleton import JOINT_NAMES

LOG = logging.getLogger('interhand-run')
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
BAG_SUFFIXES = ('.db3', '.mcap')
POSE_TOPIC = '/hands'  # the node's topic names, so RViz set-ups work for both
MARKER_TOPIC = '/hands/markers'
IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
CAMERA_INFO_TYPE = 'sensor_msgs/msg/CameraInfo'
MAX_DEPTH_OFFSET_NS = 50_000_000  # a depth image pairs with an image up to 50 ms apart


class InputError(ValueError):
    """The input cannot be read (missing, unknown kind, no frames, no image topic)."""


@dataclass
class Frame:
    """One input image with what the estimate needs and what the outputs record."""

    index: int
    stamp_ns: int
    image_rgb: np.ndarray
    frame_id: str
    camera_info: Any = None        # CameraInfo-like, or None (then YAML or a FOV guess)
    name: str = ''                 # file name for image folders
    depth: Any = None              # DepthImage registered to the image, or None


# ----------------------------------------------------------------------------- inputs

def input_kind(path: Path) -> str:
    """'bag', 'folder' or 'video' for an existing path; raises InputError otherwise."""
    if not path.exists():
        raise InputError(f'input {path} does not exist')
    if path.is_dir():
        if (path / 'metadata.yaml').exists() or any(path.glob('*.db3')) or any(
                path.glob('*.mcap')):
            return 'bag'
        return 'folder'
    if path.suffix.lower() in BAG_SUFFIXES:
        return 'bag'
    return 'video'


def read_folder(path: Path, fps: float, depth_folder: Optional[Path] = None) -> Iterator[Frame]:
    """Images in name order; depth_folder: depth images with the same stems (16-bit mm PNG or
    32-bit float metres TIFF, REP-118 units)."""
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f'no images ({", ".join(IMAGE_SUFFIXES)}) in folder {path}')
    if depth_folder is not None and not depth_folder.is_dir():
        raise InputError(f'--depth {depth_folder} is not a folder of depth images')
    for index, file in enumerate(files):
        bgr = cv2.imread(str(file), cv2.IMREAD_COLOR)
        if bgr is None:
            LOG.warning('skipping unreadable image %s', file)
            continue
        depth = read_depth_file(depth_folder, file.stem) if depth_folder else None
        yield Frame(index, round(index * 1e9 / fps), cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB),
                    'camera_optical_frame', name=file.name, depth=depth)


def read_depth_file(folder: Path, stem: str) -> Any:
    """DepthImage from folder/stem.* (uint16: mm, float32: m), or None when there is none."""
    from interhand_ros.root_depth import DepthImage
    for file in sorted(folder.glob(f'{stem}.*')):
        array = cv2.imread(str(file), cv2.IMREAD_UNCHANGED)
        if array is None or array.ndim != 2:
            continue
        if array.dtype == np.uint16:
            return DepthImage.from_array(array, '16UC1')
        if array.dtype == np.float32:
            return DepthImage.from_array(array, '32FC1')
    LOG.warning('no 16-bit or float depth image for %s in %s', stem, folder)
    return None


def read_video(path: Path) -> Iterator[Frame]:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise InputError(f'cannot open {path} as a video (nor is it a bag or an image folder)')
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    index = 0
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            yield Frame(index, round(index * 1e9 / fps), cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB),
                        'camera_optical_frame')
            index += 1
    finally:
        capture.release()
    if index == 0:
        raise InputError(f'no frame could be decoded from {path}')


def video_frame_count(path: Path) -> Optional[int]:
    capture = cv2.VideoCapture(str(path))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    return count if count > 0 else None


def choose_topic(topics: dict[str, str], wanted_types: tuple[str, ...],
                 name: Optional[str], prefer: str = '') -> Optional[str]:
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
    if msgtype.endswith('CompressedImage'):
        bgr = cv2.imdecode(np.frombuffer(memoryview(msg.data), np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f'cannot decode compressed image ({msg.format})')
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    from interhand_ros.image_encoding import image_to_rgb
    return image_to_rgb(msg)


class BagInput:
    """Image (+ CameraInfo) messages of a ROS 2 bag, read with rosbags (no ROS install needed)."""

    def __init__(self, path: Path, image_topic: Optional[str],
                 camera_info_topic: Optional[str], depth_topic: Optional[str] = None) -> None:
        from rosbags.highlevel import AnyReader
        from rosbags.typesys import Stores, get_typestore
        self.path = path
        self.typestore = get_typestore(Stores.ROS2_KILTED)
        try:
            self.reader = AnyReader([path], default_typestore=self.typestore)
            self.reader.open()
        except Exception as error:  # rosbags raises several unrelated types
            raise InputError(f'cannot open bag {path}: {error}') from error
        topics = {c.topic: c.msgtype for c in self.reader.connections}
        self.image_topic = choose_topic(topics, IMAGE_TYPES, image_topic)
        if self.image_topic is None:
            raise InputError(f'bag {path} has no image topic (topics: {topics})')
        namespace = self.image_topic.rsplit('/', 1)[0] + '/'
        self.camera_info_topic = choose_topic(topics, (CAMERA_INFO_TYPE,), camera_info_topic,
                                              prefer=namespace)
        if depth_topic is not None and topics.get(depth_topic) != 'sensor_msgs/msg/Image':
            raise InputError(f'--depth {depth_topic} is not an Image topic of the bag '
                             f'(topics: {topics})')
        self.depth_topic = depth_topic
        self.image_count = sum(c.msgcount for c in self.reader.connections
                               if c.topic == self.image_topic)

    def frames(self) -> Iterator[Frame]:
        """Frames in bag order, each with the newest CameraInfo received before it and, with a
        depth topic, the depth image nearest in stamp (at most MAX_DEPTH_OFFSET_NS away; an
        image waits until a later depth arrives or bag time has moved past that offset)."""
        wanted = [c for c in self.reader.connections
                  if c.topic in (self.image_topic, self.camera_info_topic, self.depth_topic)]
        camera_info, index = None, 0
        waiting: deque[Frame] = deque()
        depths: deque[tuple[int, Any]] = deque(maxlen=4)  # (stamp, DepthImage), newest last
        for connection, timestamp, raw in self.reader.messages(connections=wanted):
            msg = self.reader.deserialize(raw, connection.msgtype)
            stamp = stamp_ns(msg.header.stamp) or timestamp
            if connection.topic == self.camera_info_topic:
                camera_info = msg
            elif connection.topic == self.depth_topic:
                depths.append((stamp, self._depth(msg, timestamp)))
            else:
                try:
                    rgb = bag_image_to_rgb(msg, connection.msgtype)
                except ValueError as error:
                    LOG.warning('skipping bad image at %d ns: %s', timestamp, error)
                    continue
                waiting.append(Frame(index, stamp, rgb, msg.header.frame_id, camera_info))
                index += 1
            while waiting and (self.depth_topic is None or stamp > waiting[0].stamp_ns
                               + MAX_DEPTH_OFFSET_NS or (depths and depths[-1][0] >=
                                                         waiting[0].stamp_ns)):
                yield _with_nearest_depth(waiting.popleft(), depths)
        while waiting:
            yield _with_nearest_depth(waiting.popleft(), depths)

    @staticmethod
    def _depth(msg: Any, timestamp: int) -> Any:
        from interhand_ros.image_encoding import depth_to_array
        from interhand_ros.root_depth import DepthImage
        try:
            return DepthImage.from_array(depth_to_array(msg), msg.encoding)
        except ValueError as error:
            LOG.warning('skipping bad depth image at %d ns: %s', timestamp, error)
            return None

    def close(self) -> None:
        self.reader.close()


def _with_nearest_depth(frame: Frame, depths: deque[tuple[int, Any]]) -> Frame:
    offsets = [(abs(stamp - frame.stamp_ns), depth) for stamp, depth in depths]
    offset, depth = min(offsets, key=lambda item: item[0], default=(0, None))
    frame.depth = depth if offset <= MAX_DEPTH_OFFSET_NS else None
    return frame


def stamp_ns(stamp: Any) -> int:
    """A builtin_interfaces/Time as integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


# ----------------------------------------------------------------------------- records

def message_to_dict(msg: Any) -> Any:
    """A ROS message as plain JSON-ready data; NaN / inf become None (JSON has no NaN)."""
    if hasattr(msg, 'get_fields_and_field_types'):
        return {name: message_to_dict(getattr(msg, name))
                for name in msg.get_fields_and_field_types()}
    if isinstance(msg, (list, tuple, np.ndarray)) or type(msg).__name__ == 'array':
        return [message_to_dict(item) for item in msg]
    if isinstance(msg, (bool, np.bool_)):
        return bool(msg)
    if isinstance(msg, (int, np.integer)):
        return int(msg)
    if isinstance(msg, (float, np.floating)):
        return float(msg) if math.isfinite(msg) else None
    return msg


CSV_COLUMNS = (['frame', 'stamp_ns', 'name', 'estimator', 'side', 'detected', 'presence',
                'depth_source', 'camera_guessed']
               + [f'{joint}_{axis}' for joint in JOINT_NAMES for axis in ('x', 'y', 'z')]
               + [f'{joint}_{axis}' for joint in JOINT_NAMES for axis in ('u', 'v')])


def csv_rows(frame: Frame, estimate: TwoHandEstimate, camera_guessed: bool) -> list[list]:
    """One row per hand: joints in metres (camera optical frame), pixels in the input image."""
    rows = []
    for hand in estimate.hands():
        joints = np.where(hand.valid[:, None], hand.joints, np.nan)
        pixels = np.where(hand.valid[:, None], hand.pixels, np.nan)
        rows.append([frame.index, frame.stamp_ns, frame.name, estimate.estimator.name.lower(),
                     hand.side, int(hand.detected), f'{hand.presence:.4f}',
                     hand.depth_source.name.lower(), int(camera_guessed)]
                    + [_number(v) for v in joints.ravel()] + [_number(v) for v in pixels.ravel()])
    return rows


def _number(value: float) -> str:
    return f'{value:.6g}' if math.isfinite(value) else ''


# ----------------------------------------------------------------------------- outputs

class OutputSet:
    """Outputs written in a staging folder (out/.partial), moved into out by commit() only when
    the run is complete, or deleted by discard()."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.staging = out_dir / '.partial'
        _remove(self.staging)
        self.staging.mkdir(parents=True)
        self._names: list[str] = []

    def path(self, name: str) -> Path:
        """Where to write output `name` (its final name, so suffixes and bag files match)."""
        self._names.append(name)
        return self.staging / name

    def commit(self) -> list[Path]:
        done = []
        for name in self._names:
            if (self.staging / name).exists():
                _remove(self.out_dir / name)
                os.replace(self.staging / name, self.out_dir / name)
                done.append(self.out_dir / name)
        _remove(self.staging)
        return done

    def discard(self) -> None:
        _remove(self.staging)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


class AnnotatedWriter:
    """Debug images (2D skeletons) as a video (fps given) or as an image folder (fps None)."""

    def __init__(self, path: Path, fps: Optional[float]) -> None:
        self.path, self.fps = path, fps
        self._video: Optional[cv2.VideoWriter] = None
        self._size = (0, 0)
        if fps is None:
            path.mkdir(parents=True)

    def write(self, frame: Frame, image_rgb: np.ndarray) -> None:
        bgr = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
        if self.fps is None:
            name = Path(frame.name).stem if frame.name else f'{frame.index:06d}'
            cv2.imwrite(str(self.path / f'{name}.jpg'), bgr)
            return
        if self._video is None:
            self._size = (bgr.shape[1], bgr.shape[0])
            self._video = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*'mp4v'),
                                          self.fps, self._size)
            if not self._video.isOpened():
                raise OSError(f'cannot write video {self.path}')
        if (bgr.shape[1], bgr.shape[0]) != self._size:  # a video has one frame size
            bgr = cv2.resize(bgr, self._size)
        self._video.write(bgr)

    def close(self) -> None:
        if self._video is not None:
            self._video.release()


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
        mcap = any(file.suffix == '.mcap' for file in _bag_files(source.path))
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

    def copy_input(self) -> None:
        """All messages of the input bag, unchanged."""
        for connection, timestamp, raw in self.source.reader.messages():
            self.writer.write(self._copies[connection.id], timestamp, raw)

    def write_result(self, stamp_ns: int, pose_msg: Any, marker_msg: Any) -> None:
        from rclpy.serialization import serialize_message  # only for the bag output
        self.writer.write(self._pose, stamp_ns, serialize_message(pose_msg))
        self.writer.write(self._markers, stamp_ns, serialize_message(marker_msg))

    def close(self) -> None:
        self.writer.close()


def _bag_files(path: Path) -> list[Path]:
    return [path] if path.is_file() else sorted(path.iterdir())


# ----------------------------------------------------------------------------- estimator

def make_estimator(checkpoint: Optional[Path], video: bool, mirrored: bool,
                   device: str = 'auto') -> HandPoseEstimator:
    """InterNet when a checkpoint is given, else the bundled landmark estimator (logged)."""
    if checkpoint is not None:
        from interhand_ros.engine.internet import EngineConfig, InterNetEstimator
        return InterNetEstimator(checkpoint, EngineConfig(device=device))
    LOG.warning(no_checkpoint_message('pass --checkpoint PATH'))
    from interhand_ros.landmark_estimator import LandmarkEstimator
    return LandmarkEstimator(mirrored=mirrored, video=video)


# ----------------------------------------------------------------------------- main

def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='interhand-run',
        description='Run the hand-pose estimator offline on a video file, an image folder or a '
                    'ROS 2 bag.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('input', type=Path,
                        help='video file, image folder, or ROS 2 bag (.db3 / .mcap or its folder)')
    parser.add_argument('--out', type=Path, required=True, help='output folder')
    parser.add_argument('--checkpoint', type=Path, default=None,
                        help='InterNet snapshot (e.g. snapshot_20.pth.tar); none: MediaPipe')
    parser.add_argument('--camera-info', type=Path, default=None,
                        help='camera_calibration YAML (else the bag camera_info, else a guess)')
    parser.add_argument('--fov', type=float, default=DEFAULT_HORIZONTAL_FOV_DEG,
                        help='horizontal field of view GUESS (deg) when no intrinsics are known')
    parser.add_argument('--depth', default=None,
                        help='registered depth: a bag Image topic, or for an image folder a '
                             'folder of same-named 16-bit mm PNG / float32 m TIFF depth images')
    parser.add_argument('--image-topic', default=None, help='bag image topic (default: by type)')
    parser.add_argument('--camera-info-topic', default=None, help='bag CameraInfo topic')
    parser.add_argument('--roi', choices=('full', 'detector', 'track'), default='detector',
                        help='InterNet crop source (the landmark estimator finds hands itself)')
    parser.add_argument('--fps', type=float, default=10.0,
                        help='frame rate of an image folder (time stamps only)')
    parser.add_argument('--mirrored', action='store_true',
                        help='input is a mirrored (selfie) view: keeps handedness as seen')
    parser.add_argument('--device', default='auto',
                        help='torch device for InterNet (auto: CUDA when present)')
    parser.add_argument('--max-frames', type=int, default=0, help='stop after N frames (0: all)')
    return parser.parse_args(argv)


def camera_for(frame: Frame, yaml_info: Any, fov: float) -> tuple[Any, bool]:
    """(CameraModel, guessed) for a frame: bag CameraInfo > YAML > field-of-view guess."""
    from interhand_ros.camera import CameraModel
    height, width = frame.image_rgb.shape[:2]
    info, guessed = frame.camera_info or yaml_info, False
    if info is None:
        info, guessed = guess_camera_info(width, height, fov), True
    return CameraModel.from_camera_info(info, rectified=False).for_image(width, height), guessed


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Process the input; returns a summary (frames, hands found per frame, outputs)."""
    from std_msgs.msg import Header
    from tqdm import tqdm

    from interhand_ros.drawing import draw_estimate
    from interhand_ros.markers import to_marker_array
    from interhand_ros.messages import to_two_hand_pose
    from interhand_ros.roi import RoiConfig, RoiSource

    kind = input_kind(args.input)
    yaml_info = load_camera_yaml(args.camera_info) if args.camera_info else None
    if args.depth and kind == 'video':
        raise InputError('--depth needs a bag (depth topic) or an image folder (depth folder)')
    bag = BagInput(args.input, args.image_topic, args.camera_info_topic, args.depth) \
        if kind == 'bag' else None
    outputs = OutputSet(args.out)
    fps: Optional[float] = None
    if kind == 'video':
        capture = cv2.VideoCapture(str(args.input))
        fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
        capture.release()
        frames, total = read_video(args.input), video_frame_count(args.input)
    elif kind == 'folder':
        depth_folder = Path(args.depth) if args.depth else None
        frames, total = read_folder(args.input, args.fps, depth_folder), None
    else:
        frames, total, fps = bag.frames(), bag.image_count, 30.0
    if args.max_frames > 0:
        total = min(total, args.max_frames) if total else args.max_frames

    estimator = make_estimator(args.checkpoint, video=kind != 'folder', mirrored=args.mirrored,
                               device=args.device)
    roi = RoiSource(RoiConfig(mode=args.roi)) if args.checkpoint is not None else None
    summary = {'input': str(args.input), 'kind': kind, 'frames': 0, 'hands_per_frame': [],
               'estimator': 'internet' if args.checkpoint else 'landmark',
               'camera_guessed': False, 'bad_frames': 0}
    annotated = AnnotatedWriter(outputs.path('annotated.mp4' if fps else 'annotated'), fps)
    bag_out = BagOutput(outputs.path(args.input.stem + '_hands'), bag) if bag else None
    try:
        with open(outputs.path('poses.jsonl'), 'w') as jsonl, \
                open(outputs.path('poses.csv'), 'w', newline='') as csv_file:
            table = csv.writer(csv_file)
            table.writerow(CSV_COLUMNS)
            for frame in tqdm(frames, total=total, unit='frame', desc='interhand-run'):
                if args.max_frames and summary['frames'] >= args.max_frames:
                    break
                try:
                    camera, guessed = camera_for(frame, yaml_info, args.fov)
                    crop = roi.crop(frame.image_rgb, frame.stamp_ns * 1e-9) if roi else None
                    estimate = estimator.estimate(frame.image_rgb, camera, crop, frame.depth)
                except ValueError as error:  # bad frame or CameraInfo: skipped, never fatal
                    LOG.warning('frame %d skipped: %s', frame.index, error)
                    summary['bad_frames'] += 1
                    continue
                summary['camera_guessed'] |= guessed
                if roi:
                    roi.update(estimate)
                header = Header(frame_id=frame.frame_id)
                header.stamp.sec, header.stamp.nanosec = divmod(frame.stamp_ns, 1_000_000_000)
                height, width = frame.image_rgb.shape[:2]
                pose = to_two_hand_pose(estimate, header, width, height)
                record = {'frame': frame.index, 'name': frame.name,
                          'camera_guessed': guessed, **message_to_dict(pose)}
                jsonl.write(json.dumps(record, allow_nan=False) + '\n')
                table.writerows(csv_rows(frame, estimate, guessed))
                annotated.write(frame, draw_estimate(frame.image_rgb, estimate))
                if bag_out:
                    bag_out.write_result(frame.stamp_ns, pose, to_marker_array(estimate, header))
                summary['frames'] += 1
                summary['hands_per_frame'].append(sum(h.detected for h in estimate.hands()))
        if summary['frames'] == 0:
            raise InputError(f'no frame of {args.input} could be processed')
        annotated.close()
        if bag_out:
            bag_out.copy_input()
            bag_out.close()
            bag_out = None
        summary['outputs'] = [str(p) for p in outputs.commit()]
        return summary
    except BaseException:
        annotated.close()
        if bag_out:
            bag_out.close()
        outputs.discard()
        raise
    finally:
        if bag:
            bag.close()
        if roi:
            roi.close()


def main(argv: Optional[list[str]] = None) -> int:
    logging.basicConfig(level=logging.INFO, format='%(name)s: %(levelname)s: %(message)s')
    args = parse_args(argv)
    try:
        summary = run(args)
    except (InputError, OSError, ValueError) as error:
        LOG.error('%s', error)
        return 2
    found = summary['hands_per_frame']
    LOG.info('%d frames, hands found per frame: %s; outputs: %s', summary['frames'],
             found if len(found) <= 20 else f'mean {np.mean(found):.2f}',
             ', '.join(summary['outputs']))
    if summary['camera_guessed']:
        LOG.warning('no intrinsics given: metric depth used a %.0f deg field-of-view GUESS '
                    '(pass --camera-info for real metres)', args.fov)
    return 0


if __name__ == '__main__':
    sys.exit(main())
