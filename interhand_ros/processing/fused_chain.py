"""One group of views -> the hands to publish: fusion, view health, teleop stage, in that order.

The multi-view counterpart of chain.FrameChain, the same for the fusion node and interhand-run
on a multi-camera bag: the fuser puts the group's hands in the world frame, the health tracker
watches each view's reprojection error over time, and the teleop stage (stable sides, One Euro
filter, hold) runs once, after fusion, on the fused hands.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from interhand_ros.estimate import TwoHandEstimate
from interhand_ros.multiview.config import FusionConfig
from interhand_ros.multiview.fusion import FusionResult, MultiViewFuser
from interhand_ros.multiview.health import DisagreementTracker
from interhand_ros.multiview.observations import ViewObservation
from interhand_ros.stamps import NS_PER_S
from interhand_ros.teleop.stage import TeleopStage


@dataclass(frozen=True)
class FusedFrame:
    """result: the fusion's own (world frame, unfiltered: hands/raw); estimate: after the
    teleop stage (hands); warnings: view -> the health tracker's WARN (views it warns about)."""

    result: FusionResult
    estimate: TwoHandEstimate
    warnings: dict[str, str]


class FusedChain:
    """Fuser + health tracker + teleop stage, one call per group in stamp order."""

    def __init__(self, fuser: MultiViewFuser, health: DisagreementTracker,
                 stage: TeleopStage) -> None:
        self.fuser, self.health, self.stage = fuser, health, stage

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> FusedChain:
        """From the fusion node's parameter values (fusion_settings); ValueError if bad."""
        config = FusionConfig()
        config.check()
        return cls(MultiViewFuser(config), DisagreementTracker(warn_px=params['health_warn_px']),
                   TeleopStage.from_params(params))

    def fuse(self, views: Sequence[ViewObservation], stamp_ns: int) -> FusedFrame:
        """The group's views (any number >= 1) fused at stamp_ns; ValueError if they cannot be."""
        result = self.fuser.fuse(list(views))
        warnings = self.health.update(result.reprojection_error_px)
        estimate = self.stage.apply(result.estimate, stamp_ns / NS_PER_S)
        return FusedFrame(result, estimate, warnings)

    def reset(self) -> None:
        """A new stream: no filter state, no held hand, no bone lengths, no health history."""
        self.stage.reset()
        self.fuser.reset()
        self.health.reset()
