"""interhand-quantize's data: the user's footage (image folder, video, ROS 2 bag, read by
interhand-run's readers) cropped as the node crops it (the node's per-frame chain, its roi
source tracking the fp32 result), split into calibration crops and held-out crops that keep what
lifting their result needs."""
from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from interhand_ros.engine.estimator import InterNetEstimator, network_crop
from interhand_ros.geometry.box import Box


@dataclass
class HeldOut:
    """One held-out crop with what lifting its result needs."""

    crop: np.ndarray
    box: Box
    inverse: np.ndarray
    camera: Any


def open_frames(path: Path, fps: float) -> tuple[Iterator[Any], Any]:
    """(frames, source with close()) of a folder / video / bag, read by interhand-run's readers."""
    from interhand_ros.runner.inputs import FolderInput, VideoInput, input_kind
    kind = input_kind(path)
    if kind == 'video':
        source: Any = VideoInput(path)
    elif kind == 'folder':
        source = FolderInput(path, fps)
    else:
        from interhand_ros.runner.bag import BagInput
        source = BagInput(path, None, None)
    return source.frames(), source


def camera_of(frame: Any, fov: float) -> Any:
    from interhand_ros.geometry.camera import CameraModel
    from interhand_ros.geometry.camera_yaml import guess_camera_info
    height, width = frame.image_rgb.shape[:2]
    info = frame.camera_info or guess_camera_info(width, height, fov)
    return CameraModel.from_camera_info(info, rectified=False).for_image(width, height)


def collect_crops(args: argparse.Namespace, reference: InterNetEstimator
                  ) -> tuple[np.ndarray, list[HeldOut]]:
    """(calibration crops, held-out crops) of the rois the node's per-frame chain gives each
    frame, its roi source tracking the fp32 estimate as in the node. No teleop stage: the
    filtered estimate would go unused (the roi tracks the raw one)."""
    from interhand_ros.processing.chain import FrameChain
    from interhand_ros.processing.roi import RoiConfig, RoiSource
    frames, source = open_frames(args.images, args.fps)
    roi = RoiSource(RoiConfig(mode=args.roi))
    chain = FrameChain(reference, roi, teleop=None)
    calibration, held_out = [], []
    try:
        for index, frame in enumerate(frames):
            if index >= args.max_frames:
                break
            camera = camera_of(frame, args.fov)
            result = chain.process(frame.image_rgb, camera, frame.stamp_ns * 1e-9)
            crop, square, inverse = network_crop(frame.image_rgb, result.roi)
            if index % args.held_out_every == args.held_out_every - 1:
                held_out.append(HeldOut(crop, square, inverse, camera))
            else:
                calibration.append(crop)
    finally:
        roi.close()
        source.close()
    if not calibration or not held_out:
        raise ValueError(f'{args.images} gave {len(calibration)} calibration and '
                         f'{len(held_out)} held-out frames; need at least one of each '
                         f'(every {args.held_out_every}th frame is held out)')
    return np.stack(calibration), held_out
