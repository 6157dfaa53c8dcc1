"""interhand-run's inputs: what a path is, the frames of a video file or an image folder, and
the camera of a frame (interhand-quantize reads its footage with these and cli.open_input).

(ROS 2 bags are read by runner/bag.py.) Every input offers the same small interface: frames(),
total (frame count or None), fps (the annotated video's frame rate; None: write an image
folder) and close().
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from interhand_ros.geometry.camera_yaml import guess_camera_info

LOG = logging.getLogger('interhand-run')
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
BAG_SUFFIXES = ('.db3', '.mcap')
DEFAULT_FRAME_ID = 'camera_optical_frame'  # files carry no frame id


class InputError(ValueError):
    """The input cannot be read (missing, unknown kind, no frames, no image topic)."""


@dataclass
class InputFrame:
    """One input image with what the estimate needs and what the outputs record."""

    index: int
    stamp_ns: int
    image_rgb: np.ndarray
    frame_id: str
    camera_info: Any = None        # CameraInfo-like, or None (then YAML or a FOV guess)
    name: str = ''                 # file name for image folders
    depth: Any = None              # DepthImage registered to the image, or None


class Input(Protocol):
    """What the command line reads frames from."""

    total: int | None
    fps: float | None

    def frames(self) -> Iterator[InputFrame]: ...

    def close(self) -> None: ...


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


def _stamp_ns(index: int, fps: float) -> int:
    return round(index * 1e9 / fps)


class FolderInput:
    """Images in name order; depth_folder: depth images with the same stems (16-bit mm PNG or
    32-bit float metres TIFF, REP-118 units). Stamps follow `fps`."""

    fps: float | None = None  # annotated output: an image folder, one image per input

    def __init__(self, path: Path, fps: float, depth_folder: Path | None = None) -> None:
        self.files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise InputError(f'no images ({", ".join(IMAGE_SUFFIXES)}) in folder {path}')
        if depth_folder is not None and not depth_folder.is_dir():
            raise InputError(f'--depth {depth_folder} is not a folder of depth images')
        self.stamp_fps = fps
        self.depth_folder = depth_folder
        self.total: int | None = len(self.files)

    def frames(self) -> Iterator[InputFrame]:
        for index, file in enumerate(self.files):
            bgr = cv2.imread(str(file), cv2.IMREAD_COLOR)
            if bgr is None:
                LOG.warning('skipping unreadable image %s', file)
                continue
            depth = read_depth_file(self.depth_folder, file.stem) if self.depth_folder else None
            yield InputFrame(index, _stamp_ns(index, self.stamp_fps),
                             cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), DEFAULT_FRAME_ID,
                             name=file.name, depth=depth)

    def close(self) -> None:
        pass


def read_depth_file(folder: Path, stem: str) -> Any:
    """DepthImage from folder/stem.* (uint16: mm, float32: m), or None when there is none."""
    from interhand_ros.geometry.root_depth import DepthImage
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


class VideoInput:
    """The frames of a video file, opened once (frame rate, count and frames from one capture)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.capture = cv2.VideoCapture(str(path))
        if not self.capture.isOpened():
            raise InputError(f'cannot open {path} as a video (nor is it a bag or an image folder)')
        self.fps: float | None = self.capture.get(cv2.CAP_PROP_FPS) or 30.0
        count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.total: int | None = count if count > 0 else None

    def frames(self) -> Iterator[InputFrame]:
        fps = self.fps or 30.0
        index = 0
        while True:
            ok, bgr = self.capture.read()
            if not ok:
                break
            yield InputFrame(index, _stamp_ns(index, fps), cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB),
                             DEFAULT_FRAME_ID)
            index += 1
        if index == 0:
            raise InputError(f'no frame could be decoded from {self.path}')

    def close(self) -> None:
        self.capture.release()


def camera_for(frame: InputFrame, yaml_info: Any, fov: float) -> tuple[Any, bool]:
    """(CameraModel, guessed) for a frame: bag CameraInfo > YAML > field-of-view guess."""
    from interhand_ros.geometry.camera import CameraModel
    height, width = frame.image_rgb.shape[:2]
    info, guessed = frame.camera_info or yaml_info, False
    if info is None:
        info, guessed = guess_camera_info(width, height, fov), True
    return CameraModel.from_camera_info(info, rectified=False).for_image(width, height), guessed
