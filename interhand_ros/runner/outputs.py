"""interhand-run's outputs, staged in out/.partial and moved into out only when the run is done.

poses.jsonl: one TwoHandPose as JSON per frame (the message the node publishes) plus
frame / name / camera_guessed; poses.csv: one row per hand per frame (metres and pixels);
annotated.mp4 or annotated/: the debug images; for bags a copy of the bag with the pose and
marker topics (runner/bag.py).
"""
from __future__ import annotations

import csv
import json
import math
import os
import shutil
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np

from interhand_ros.estimate import TwoHandEstimate
from interhand_ros.runner.inputs import InputFrame
from interhand_ros.skeleton import JOINT_NAMES


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


def csv_rows(frame: InputFrame, estimate: TwoHandEstimate, camera_guessed: bool) -> list[list]:
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

    def __init__(self, path: Path, fps: float | None) -> None:
        self.path, self.fps = path, fps
        self._video: cv2.VideoWriter | None = None
        self._size = (0, 0)
        if fps is None:
            path.mkdir(parents=True)

    def write(self, frame: InputFrame, image_rgb: np.ndarray) -> None:
        bgr = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
        if self.fps is None:
            name = Path(frame.name).stem if frame.name else f'{frame.index:06d}'
            cv2.imwrite(str(self.path / f'{name}.jpg'), bgr)
            return
        if self._video is None:
            self._size = (bgr.shape[1], bgr.shape[0])
            self._video = cv2.VideoWriter(str(self.path), cv2.VideoWriter.fourcc(*'mp4v'),
                                          self.fps, self._size)
            if not self._video.isOpened():
                raise OSError(f'cannot write video {self.path}')
        if (bgr.shape[1], bgr.shape[0]) != self._size:  # a video has one frame size
            bgr = cv2.resize(bgr, self._size)
        self._video.write(bgr)

    def close(self) -> None:
        if self._video is not None:
            self._video.release()


class RecordWriter:
    """poses.jsonl and poses.csv, one record (and one row per hand) per processed frame."""

    def __init__(self, outputs: OutputSet) -> None:
        self._jsonl: IO[str] = open(outputs.path('poses.jsonl'), 'w')
        self._csv_file: IO[str] = open(outputs.path('poses.csv'), 'w', newline='')
        self._table = csv.writer(self._csv_file)
        self._table.writerow(CSV_COLUMNS)

    def write(self, frame: InputFrame, estimate: TwoHandEstimate, pose: Any,
              camera_guessed: bool) -> None:
        record = {'frame': frame.index, 'name': frame.name, 'camera_guessed': camera_guessed,
                  **message_to_dict(pose)}
        self._jsonl.write(json.dumps(record, allow_nan=False) + '\n')
        self._table.writerows(csv_rows(frame, estimate, camera_guessed))

    def close(self) -> None:
        self._jsonl.close()
        self._csv_file.close()
