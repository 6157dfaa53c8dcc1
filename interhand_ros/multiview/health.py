"""Which view keeps disagreeing with the others: a moved camera or a stale calibration.

One group's reprojection errors say little (a bad frame, an occlusion); a view whose median
error over the last `window` groups stays above warn_px and at least twice every other view's
median has moved or needs recalibrating (calibration issue 22, item 6). The fused joints share
a small disagreement out among all views (a camera turned by 1.5 degrees: about 11 px for it,
3 px for the others), so the others are compared by ratio, not held to a fixed limit. Needs
three views: with two, both disagree equally and neither can be blamed.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Mapping

import numpy as np

_RATIO = 2.0   # the view's median error over the worst other view's


class DisagreementTracker:
    """Fed each group's FusionResult.reprojection_error_px (one owner)."""

    def __init__(self, window: int = 90, min_samples: int = 30, warn_px: float = 8.0) -> None:
        if not 1 <= min_samples <= window or not warn_px > 0:
            raise ValueError(f'need 1 <= min_samples <= window and warn_px > 0, got '
                             f'{min_samples}, {window}, {warn_px}')
        self.window, self.min_samples, self.warn_px = window, min_samples, warn_px
        self._errors: dict[str, deque[float]] = {}

    def update(self, errors_px: Mapping[str, float]) -> dict[str, str]:
        """Record one group's FusionResult.reprojection_error_px; returns warnings()."""
        for view, error in errors_px.items():
            if np.isfinite(error):
                self._errors.setdefault(view, deque(maxlen=self.window)).append(float(error))
        return self.warnings()

    def medians(self) -> dict[str, float]:
        """View -> median error over its window, px (views with min_samples or more)."""
        return {view: float(np.median(errors)) for view, errors in self._errors.items()
                if len(errors) >= self.min_samples}

    def warnings(self) -> dict[str, str]:
        """View -> the WARN line, for each view consistently off while the others agree."""
        medians = self.medians()
        lines = {}
        for view, median in medians.items():
            others = [value for name, value in medians.items() if name != view]
            if len(others) >= 2 and median > self.warn_px and \
                    median >= _RATIO * max(others):
                lines[view] = (f'{view.lstrip("/")} disagrees with the others by {median:.0f} '
                               'px: recalibrate or check that it did not move')
        return lines

    def reset(self) -> None:
        self._errors.clear()
