"""The views of one group as stacked arrays, per side: what triangulation and the checks use.

Index order everywhere: side (skeleton.SIDES: right, left), view, joint. An observation counts
(weight > 0) when its view detected the hand, marked the joint valid with a confidence of at
least min_confidence, and gave finite pixels. Weights are the confidences.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from interhand_ros.multiview.observations import ViewObservation
from interhand_ros.multiview.triangulation import projection
from interhand_ros.skeleton import NUM_JOINTS

# Observed pixels may lie this far (fraction of the image size) outside the camera_info's image:
# farther means the camera_info is of another image size.
_OUTSIDE_FRACTION = 0.25


@dataclass
class ViewStack:
    """names (V,); projections (V, 3, 4); focal_px (V,); rays (2, V, J, 2) normalised and
    undistorted; pixels (2, V, J, 2) distorted; weights (2, V, J); own (2, V, J, 3) each view's
    own 3D in the world frame (NaN where not valid); problems: view -> why some of its joints
    were ignored."""

    names: list[str]
    projections: np.ndarray
    focal_px: np.ndarray
    rays: np.ndarray
    pixels: np.ndarray
    weights: np.ndarray
    own: np.ndarray
    problems: dict[str, str]

    def swap(self, view: int) -> None:
        """Exchange the two sides' observations of one view (its labels were swapped)."""
        for array in (self.rays, self.pixels, self.weights, self.own):
            array[:, view] = array[::-1, view].copy()

    def drop(self, side: int, view: int, joints: np.ndarray | slice = slice(None)) -> None:
        """Stop using these observations."""
        self.weights[side, view, joints] = 0.0

    def seen(self, side: int) -> np.ndarray:
        """(V,) number of joints of this side each view observes."""
        return np.count_nonzero(self.weights[side] > 0, axis=-1)


def stack_views(views: Sequence[ViewObservation], min_confidence: float) -> ViewStack:
    count = len(views)
    rays = np.full((2, count, NUM_JOINTS, 2), np.nan)
    pixels = np.full((2, count, NUM_JOINTS, 2), np.nan)
    weights = np.zeros((2, count, NUM_JOINTS))
    own = np.full((2, count, NUM_JOINTS, 3), np.nan)
    problems: dict[str, str] = {}
    for index, view in enumerate(views):
        for side, hand in enumerate(view.estimate.hands()):
            if not hand.detected:
                continue
            observed = np.asarray(hand.pixels, dtype=np.float64)
            valid = np.asarray(hand.valid, dtype=bool)
            confidence = np.nan_to_num(np.asarray(hand.confidence, dtype=np.float64))
            finite = np.all(np.isfinite(observed), axis=1)
            if np.any(valid & ~finite):
                problems[view.name] = (f'{hand.side} hand: {np.count_nonzero(valid & ~finite)}'
                                       ' valid joints with NaN pixels ignored')
            outside = _outside(view, observed)
            if np.any(valid & finite & outside):
                problems[view.name] = (
                    f'{hand.side} hand: pixels outside the {view.camera.width}x'
                    f'{view.camera.height} image of its camera_info (camera_info of another '
                    'image size?); ignored')
            use = valid & finite & ~outside & (confidence >= min_confidence)
            weights[side, index, use] = np.maximum(confidence[use], 1e-3)
            pixels[side, index, use] = observed[use]
            if np.any(use):
                rays[side, index, use] = view.camera.pixel_rays(observed[use])
            joints = np.asarray(hand.joints, dtype=np.float64)
            mine = valid & np.all(np.isfinite(joints), axis=1)
            own[side, index, mine] = joints[mine] @ view.rotation.T + view.position
    projections = np.stack([projection(view.world_from_camera) for view in views])
    focal = np.array([(view.camera.fx + view.camera.fy) / 2 for view in views])
    return ViewStack([view.name for view in views], projections, focal, rays, pixels, weights,
                     own, problems)


def _outside(view: ViewObservation, pixels: np.ndarray) -> np.ndarray:
    size = np.array([view.camera.width, view.camera.height], dtype=np.float64)
    margin = _OUTSIDE_FRACTION * size
    with np.errstate(invalid='ignore'):
        return np.any((pixels < -margin) | (pixels > size + margin), axis=1)
