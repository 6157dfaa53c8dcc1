"""Self-calibrated hand size: each hand's scale relative to the mean adult hand, from depth.

While a hand's root is measured by the depth image, every frame gives one measurement of its
scale (root_depth.scale_at_depth: the scale at which the hand-size prior would put it at the
measured depth). HandScaleCalibrator keeps a running median of the last `window` measurements
per side, so the prior continues with the user's own hand when that hand's depth drops out.

Identity: the calibrator sees the estimator's own side labels (InterNet's hand type), before
the teleop stage's identity tracking, which relabels only the landmark fallback's hands (that
fallback places hands by PnP and does not use this prior). A frame whose sides the network
swapped puts one hand's scale into the other side's window: the median ignores such frames
while they are a minority, and a person's two hands differ by only 1-2 % anyway. Measurements
outside SCALE_LIMITS are not counted. The window forgets a previous user after `window`
frames; the state belongs to one estimator (so one node) and goes with it at lifecycle cleanup.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from typing import Protocol

import numpy as np

from interhand_ros.skeleton import SIDES

CALIBRATION_WINDOW = 300      # frames (10 s at 30 Hz)
MIN_CALIBRATION_FRAMES = 15   # measurements before the estimate is used (0.5 s at 30 Hz)
SCALE_LIMITS = (0.6, 1.6)     # adult hands lie within about +-15 % of the mean


class ScaledHand(Protocol):
    """What the calibrator reads and writes on a hand (estimate.HandEstimate has these)."""

    side: str
    measured_scale: float
    calibrated_scale: float


class HandScaleCalibrator:
    """Running median of each side's measured hand scale (not thread-safe: one owner)."""

    def __init__(self, window: int = CALIBRATION_WINDOW,
                 min_frames: int = MIN_CALIBRATION_FRAMES) -> None:
        if not 1 <= min_frames <= window:
            raise ValueError(f'need 1 <= min_frames <= window, got {min_frames}, {window}')
        self.min_frames = min_frames
        self._measured: dict[str, deque[float]] = {side: deque(maxlen=window) for side in SIDES}

    def observe(self, side: str, scale: float | None) -> None:
        """One frame's measurement of this side's scale (None / NaN / implausible: ignored)."""
        if scale is not None and math.isfinite(scale) and \
                SCALE_LIMITS[0] <= scale <= SCALE_LIMITS[1]:
            self._measured[side].append(float(scale))

    def scale(self, side: str) -> float | None:
        """The calibrated scale of this side, None until min_frames measurements were seen."""
        measured = self._measured[side]
        return float(np.median(measured)) if len(measured) >= self.min_frames else None

    def scales(self) -> dict[str, float]:
        """The calibrated sides and their scales."""
        return {side: value for side in SIDES if (value := self.scale(side)) is not None}

    def update(self, hands: Iterable[ScaledHand]) -> None:
        """Observe each hand's measured_scale, then record the running calibrated_scale on it."""
        for hand in hands:
            self.observe(hand.side, hand.measured_scale)
            hand.calibrated_scale = self.scale(hand.side) or math.nan
