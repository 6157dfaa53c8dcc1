"""The hands node's teleoperation stage: stable sides, then filtering with the hold policy.

One call per image, in stamp order: `TeleopStage.apply(estimate, stamp_s)`. The estimator's
estimate is left untouched (publish it as the raw pose); the result is a new TwoHandEstimate.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from interhand_ros.estimate import EstimatorKind, TwoHandEstimate
from interhand_ros.skeleton import SIDES
from interhand_ros.teleop.filtering import FilterConfig, HandSmoother
from interhand_ros.teleop.identity import IdentityConfig, SideTracker, rebuild


class TeleopStage:
    """Identity (landmark fallback only) + One Euro filtering of each side."""

    def __init__(self, filter_config: FilterConfig = FilterConfig(),
                 identity_config: IdentityConfig = IdentityConfig()) -> None:
        filter_config.check()
        self.filter_config = filter_config
        self.sides = SideTracker(identity_config)
        self.smoothers = {side: HandSmoother(filter_config) for side in SIDES}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> TeleopStage:
        """From the hands node's parameter values (filter.*, identity.*); ValueError if bad."""
        return cls(
            FilterConfig(enabled=params['filter.enabled'], min_cutoff=params['filter.min_cutoff'],
                         beta=params['filter.beta'], d_cutoff=params['filter.d_cutoff'],
                         hold_s=params['filter.hold_s']),
            IdentityConfig(switch_frames=params['identity.switch_frames'],
                           gate_m=params['identity.gate'], max_gap_s=params['identity.max_gap']))

    def reset(self) -> None:
        """Forget every earlier frame, as if just built: a new stream starts (the node's input
        restarted, a bag looped): no held hand, no filter state, no side track."""
        self.sides = SideTracker(self.sides.config)
        self.smoothers = {side: HandSmoother(self.filter_config) for side in SIDES}

    def apply(self, estimate: TwoHandEstimate, stamp_s: float) -> TwoHandEstimate:
        """The estimate to publish for the image stamped stamp_s (seconds)."""
        if estimate.estimator == EstimatorKind.LANDMARK:
            estimate = self.sides.assign(estimate, stamp_s)
        if not self.filter_config.enabled:
            return estimate
        right = self.smoothers['right'].update(estimate.right, stamp_s)
        left = self.smoothers['left'].update(estimate.left, stamp_s)
        return replace(rebuild(estimate, right, left), filtered=True)
