"""interhand-quantize's data: the user's footage (image folder, video, ROS 2 bag, read by
interhand-run's readers) cropped as the node crops it (the node's per-frame chain, its roi
source tracking the fp32 result), split into calibration crops and held-out crops that keep what
lifting their result needs."""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import numpy as np

from interhand_ros.engine.estimator import InterNetEstimator, network_crop
from interhand_ros.geometry.box import Box
from interhand_ros.runner.cli import open_input
from interhand_ros.runner.inputs import camera_for, input_kind


@dataclass
class HeldOut:
    """One held-out crop with what lifting its result needs."""

    crop: np.ndarray
    box: Box
    inverse: np.ndarray
    camera: Any


def collect_crops(args: argparse.Namespace, reference: InterNetEstimator
                  ) -> tuple[np.ndarray, list[HeldOut]]:
    """(calibration crops, held-out crops) of the rois the node's per-frame chain gives each
    frame, its roi source tracking the fp32 estimate as in the node. No teleop stage: the
    filtered estimate would go unused (the roi tracks the raw one)."""
    from interhand_ros.processing.chain import FrameChain
    from interhand_ros.processing.roi import RoiConfig, RoiSource
    source = open_input(args.images, input_kind(args.images), args.fps)
    roi = RoiSource(RoiConfig(mode=args.roi))
    chain = FrameChain(reference, roi, teleop=None)
    calibration, held_out = [], []
    try:
        for index, frame in enumerate(source.frames()):
            if index >= args.max_frames:
                break
            camera = camera_for(frame, None, args.fov)[0]
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
