"""FusionConfig: every threshold and prior weight of the multi-view fusion, in one place."""
from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class FusionConfig:
    """Pixels are image pixels, metres for the priors. Defaults suit 640x480 views at 0.5-1.5 m
    with InterNet's 2D noise (a few px)."""

    min_confidence: float = 0.2        # a joint observation below this confidence is not used
    min_joints: int = 5                # a view sees a hand with at least this many usable joints
    max_reprojection_px: float = 20.0  # an observation farther than this from where the other
    #                                    views put the joint is rejected (when >= 3 views see it)
    max_outlier_fraction: float = 0.4  # a view with more of a hand's joints rejected loses it
    label_margin_px: float = 8.0       # swapping a view's labels must lower its error this much
    robust_scale_px: float = 4.0       # reprojection error scale; beyond it errors count
    #                                    linearly (Huber)
    relative_sigma_m: float = 0.015    # how far a bone vector may stray from the views' own 3D
    bone_sigma_m: float = 0.004        # how far a bone may stray from the session's length
    bone_window: int = 300             # fused frames whose bone lengths the session keeps
    min_bone_samples: int = 15         # before this many, no bone-length prior
    refine_iterations: int = 2         # Gauss-Newton steps of the refinement (0: none)
    memory_s: float = 0.5              # the last fused wrists help settle a two-view label tie

    def check(self) -> None:
        """ValueError naming the first setting out of range."""
        for item in fields(self):
            value = getattr(self, item.name)
            if not value >= 0:
                raise ValueError(f'fusion {item.name} must be >= 0, got {value}')
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f'fusion min_confidence must be in [0, 1], got {self.min_confidence}')
        if self.min_joints < 1 or self.bone_window < 1 or self.min_bone_samples < 1:
            raise ValueError('fusion min_joints, bone_window and min_bone_samples must be >= 1')
        for name in ('max_reprojection_px', 'robust_scale_px', 'relative_sigma_m',
                     'bone_sigma_m'):
            if not getattr(self, name) > 0:
                raise ValueError(f'fusion {name} must be > 0, got {getattr(self, name)}')
