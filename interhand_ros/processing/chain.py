"""One stream's per-frame chain: roi -> estimate -> roi update -> teleop stage.

The hands node (ros/pipeline.py), interhand-run (runner/cli.py) and interhand-quantize
(runner/quantize_footage.py) all run their frames through FrameChain, so the roi a frame gets,
what the roi source learns from it and the estimate published for it cannot drift apart between
them (test_oob_runner checks that runner and node publish the same poses). The callers only
adapt: a message or a file frame in, their own outputs out.

One thread per chain: the node calls it on its inference worker only (a reset asked for by the
executor thread is applied by the worker before the next frame).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from interhand_ros.estimate import HandPoseEstimator, TwoHandEstimate
from interhand_ros.geometry.box import Box
from interhand_ros.processing.roi import RoiSource
from interhand_ros.teleop.stage import TeleopStage

if TYPE_CHECKING:
    from interhand_ros.geometry.camera import CameraModel
    from interhand_ros.geometry.root_depth import DepthImage

# The chain's stages, in order, as laps of a StageClock: the roi source's decision, the
# estimator (crop, network, lifting), then the roi update and the teleop stage (filter, hold,
# stable sides).
CHAIN_STAGES = ('roi', 'estimate', 'teleop')


class StageClock:
    """Seconds between consecutive laps, by stage name (perf_counter: a few µs per lap)."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.times[stage] = now - self._last
        self._last = now


@dataclass(frozen=True)
class FrameResult:
    """One frame through the chain."""

    roi: Box | None            # the roi the estimator was given (None: the whole image)
    raw: TwoHandEstimate       # the estimator's own result (the node publishes it as raw)
    estimate: TwoHandEstimate  # after the teleop stage: what the outputs publish


class FrameChain:
    """Owns one stream's roi source, estimator and teleop stage, and runs a frame through them.

    roi None: the estimator always sees the whole image (the landmark fallback finding hands
    itself). teleop None: the estimator's result is the result (interhand-quantize only needs
    the roi decisions the node would make, which track the unfiltered estimate).
    """

    def __init__(self, estimator: HandPoseEstimator, roi: RoiSource | None,
                 teleop: TeleopStage | None) -> None:
        self.estimator, self.roi, self.teleop = estimator, roi, teleop

    def process(self, image_rgb: np.ndarray, camera: CameraModel, stamp_s: float,
                depth: DepthImage | None = None, now: float | None = None,
                clock: StageClock | None = None) -> FrameResult:
        """Estimate one frame stamped stamp_s (s, the image's own clock; in stamp order).

        now: the roi source's clock, that of its set_external (default: stamp_s). clock: laps
        CHAIN_STAGES into the caller's clock (its previous lap starts the roi stage). A bad
        image, camera or depth raises ValueError before the roi source or teleop stage learn
        anything from the frame.
        """
        clock = clock if clock is not None else StageClock()
        roi = None
        if self.roi is not None:
            roi = self.roi.roi_for(image_rgb, stamp_s if now is None else now)
        clock.lap('roi')
        raw = self.estimator.estimate(image_rgb, camera, roi, depth)
        clock.lap('estimate')
        if self.roi is not None:
            self.roi.update(raw)
        estimate = self.teleop.apply(raw, stamp_s) if self.teleop is not None else raw
        clock.lap('teleop')
        return FrameResult(roi, raw, estimate)

    def reset(self) -> None:
        """The stream's clock went back (looped bag, restarted camera): the next frame's roi
        does not follow the old frames and the teleop stage keeps no state from them."""
        if self.roi is not None:
            self.roi.reset()
        if self.teleop is not None:
            self.teleop.reset()
