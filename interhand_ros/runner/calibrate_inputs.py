"""interhand-calibrate's recorded inputs: each camera's board detections from an image folder,
a video, or a bag's image topic (live topics: calibrate_live.py).

Images are detected as they are read and dropped, so a long recording needs no memory. Folders
and videos pair cameras by frame index (the same index was taken at the same time); a bag's
topics pair by header stamp within `slop` on the timeline of the camera with most frames.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from interhand_ros.calibration.detection import BoardDetector, Detection
from interhand_ros.calibration.intrinsics import CalibrationError, Intrinsics
from interhand_ros.calibration.solve import CameraViews
from interhand_ros.runner.bag import BagInput
from interhand_ros.runner.inputs import FolderInput, InputError, InputFrame, VideoInput, input_kind

LOG = logging.getLogger('interhand-calibrate')


def parse_named(values: list[str], flag: str, default_names: bool = False) -> dict[str, str]:
    """{'cam1': 'DIR'} from ['cam1=DIR']; with default_names a bare '/ns/topic' is named by its
    namespace's last part."""
    named: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition('=')
        if not sep:
            if not default_names:
                raise InputError(f'{flag} takes NAME=VALUE items, got {value!r}')
            rest = value
            parts = [p for p in value.split('/') if p]
            name = parts[-2] if len(parts) > 1 and 'image' in parts[-1] else parts[-1]
        if not name or not rest or name in named:
            raise InputError(f'{flag}: {value!r} needs a unique camera name and a value')
        named[name] = rest
    return named


def lens_of(name: str, info: Any) -> Intrinsics | None:
    """The camera_info's lens, or None (then it is estimated) when it is unusable."""
    if info is None:
        return None
    try:
        return Intrinsics.from_camera_info(info)
    except CalibrationError as error:
        LOG.warning('%s: %s; estimating its intrinsics', name, error)
        return None


def _views(name: str, frames: Iterable[InputFrame], detector: BoardDetector,
           frame_id: str | None, lens: Intrinsics | None,
           index_of: Any = None) -> tuple[CameraViews, list[int]]:
    """CameraViews of one camera's frames (and their stamps, for pairing bags)."""
    detections: dict[int, Detection] = {}
    stamps: list[int] = []
    size, seen_id, info = (0, 0), '', None
    for frame in frames:
        height, width = frame.image_rgb.shape[:2]
        if size not in ((0, 0), (width, height)):
            raise InputError(f'{name}: image size changed from {size[0]}x{size[1]} to '
                             f'{width}x{height} at frame {frame.index}')
        size, seen_id = (width, height), seen_id or frame.frame_id
        info = info or frame.camera_info
        stamps.append(frame.stamp_ns)
        found = detector.detect(frame.image_rgb)
        if found is not None:
            detections[len(stamps) - 1] = found
    if not stamps:
        raise InputError(f'{name}: no frames could be read')
    LOG.info('%s: board found in %d of %d frames', name, len(detections), len(stamps))
    views = CameraViews(name, frame_id or seen_id, size, detections, len(stamps),
                        lens if lens is not None else lens_of(name, info))
    return views, stamps


def file_views(name: str, path: Path, detector: BoardDetector, frame_id: str,
               lens: Intrinsics | None) -> CameraViews:
    """One camera's image folder or video, frames indexed in order."""
    kind = input_kind(path)
    if kind == 'bag':
        raise InputError(f'{name}: {path} is a bag: use --bag with --topics')
    source = FolderInput(path, 30.0) if kind == 'folder' else VideoInput(path)
    try:
        return _views(name, source.frames(), detector, frame_id, lens)[0]
    finally:
        source.close()


def bag_views(path: Path, topics: dict[str, str], detector: BoardDetector,
              frame_ids: dict[str, str], lenses: dict[str, Intrinsics], slop_s: float
              ) -> list[CameraViews]:
    """Every camera's image topic of one bag, frame indices paired by stamp."""
    cameras: list[CameraViews] = []
    stamp_lists: list[np.ndarray] = []
    for name, topic in topics.items():
        bag = BagInput(path, topic, None)
        try:
            if bag.camera_info_topic and not bag.camera_info_topic.startswith(
                    topic.rsplit('/', 1)[0] + '/'):
                bag.camera_info_topic = None  # another camera's: not this one's lens
            views, times = _views(name, bag.frames(), detector, frame_ids.get(name),
                                  lenses.get(name))
        finally:
            bag.close()
        cameras.append(views)
        stamp_lists.append(np.asarray(times, dtype=np.int64))
    timeline = stamp_lists[int(np.argmax([len(s) for s in stamp_lists]))]
    for views, stamps in zip(cameras, stamp_lists):
        views.detections = _reindex(views.detections, stamps, timeline, round(slop_s * 1e9))
    return cameras


def _reindex(detections: dict[int, Detection], times: np.ndarray, timeline: np.ndarray,
             slop_ns: int) -> dict[int, Detection]:
    """Detections indexed by the nearest timeline stamp within slop; others get indices past
    the timeline (one camera's view: still useful for its lens)."""
    result: dict[int, Detection] = {}
    extra = len(timeline)
    for index, detection in detections.items():
        nearest = int(np.argmin(np.abs(timeline - times[index])))
        if abs(int(timeline[nearest]) - int(times[index])) <= slop_ns and nearest not in result:
            result[nearest] = detection
        else:
            result[extra] = detection
            extra += 1
    return result
