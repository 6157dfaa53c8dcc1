"""One stream's per-frame chain: roi -> estimate -> roi update -> teleop stage.

The hands node (ros/pipeline.py), interhand-run (runner/cli.py) and interhand-quantize
(runner/quantize_footage.py) all run their frames through FrameChain, so the roi a frame gets,
what the roi source learns from it and the estimate published for it cannot drift apart between
them (test_oob_runner checks that runner and node publish the same poses). The callers only
adapt: a message or a file frame in, their own outputs out.

The chain runs in two halves, estimate() (roi, estimator, roi update) then finish() (teleop
stage), each called in frame order from one thread: the node runs the first half of the next
frame on its inference thread while its output thread finishes and publishes the previous one
(ros/mailbox.Worker), so the teleop stage and publishing stay off the network's critical path;
process() runs both at once. The roi of a frame depends only on the frames estimated before it,
so both ways give the same results for the same frames.
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
# estimator (crop, network, lifting) with the roi update (a box of the joints: µs), then the
# teleop stage (filter, hold, stable sides).
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

    def resume(self) -> None:
        """Start the next lap now: the time since the last lap (waiting for another thread)
        belongs to no stage."""
        self._last = time.perf_counter()


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
        roi, raw = self.estimate(image_rgb, camera, stamp_s, depth, now, clock)
        return self.finish(roi, raw, stamp_s, clock)

    def estimate(self, image_rgb: np.ndarray, camera: CameraModel, stamp_s: float,
                 depth: DepthImage | None = None, now: float | None = None,
                 clock: StageClock | None = None) -> tuple[Box | None, TwoHandEstimate]:
        """The first half of process(): (the roi given to the estimator, its result); the
        roi source has learnt from the frame, the teleop stage not yet (finish())."""
        clock = clock if clock is not None else StageClock()
        roi = None
        if self.roi is not None:
            roi = self.roi.roi_for(image_rgb, stamp_s if now is None else now)
        clock.lap('roi')
        raw = self.estimator.estimate(image_rgb, camera, roi, depth)
        if self.roi is not None:
            self.roi.update(raw)
        clock.lap('estimate')
        return roi, raw

    def finish(self, roi: Box | None, raw: TwoHandEstimate, stamp_s: float,
               clock: StageClock | None = None) -> FrameResult:
        """The second half of process(): the teleop stage on an estimate() result, in the same
        frame order."""
        estimate = self.teleop.apply(raw, stamp_s) if self.teleop is not None else raw
        if clock is not None:
            clock.lap('teleop')
        return FrameResult(roi, raw, estimate)

    def reset(self) -> None:
        """The stream's clock went back (looped bag, restarted camera): the next frame's roi
        does not follow the old frames and the teleop stage keeps no state from them."""
        self.reset_roi()
        self.reset_teleop()

    def reset_roi(self) -> None:
        """reset()'s first half, from the thread calling estimate()."""
        if self.roi is not None:
            self.roi.reset()

    def reset_teleop(self) -> None:
        """reset()'s second half, from the thread calling finish(), before the first frame
        estimated after reset_roi()."""
        if self.teleop is not None:
            self.teleop.reset()
