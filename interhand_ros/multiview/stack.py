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
    hands = [view.estimate.hands() for view in views]

    def gather(field: str, dtype: type) -> np.ndarray:   # (V, 2, J, ...)
        return np.array([[getattr(hand, field) for hand in pair] for pair in hands], dtype=dtype)

    detected = np.array([[hand.detected for hand in pair] for pair in hands], dtype=bool)
    pixels, confidence, joints = (gather(name, float) for name in ('pixels', 'confidence',
                                                                   'joints'))
    valid = gather('valid', bool) & detected[..., None]
    finite = np.isfinite(pixels).all(axis=-1)
    size = np.array([[view.camera.width, view.camera.height] for view in views], dtype=float)
    margin = _OUTSIDE_FRACTION * size[:, None, None]
    with np.errstate(invalid='ignore'):
        outside = ((pixels < -margin) | (pixels > size[:, None, None] + margin)).any(axis=-1)
    problems = _problems(views, valid & ~finite, valid & finite & outside)
    use = valid & finite & ~outside & (confidence >= min_confidence)   # NaN confidence: no
    weights = np.where(use, np.maximum(confidence, 1e-3), 0.0)
    pixels = np.where(use[..., None], pixels, np.nan)
    rays = np.full(pixels.shape, np.nan)
    for index, view in enumerate(views):   # one undistortion per view, both hands
        if use[index].any():
            rays[index][use[index]] = view.camera.pixel_rays(pixels[index][use[index]])
    rotation = np.stack([view.rotation for view in views])
    position = np.stack([view.position for view in views])
    own = np.einsum('vij,vsnj->vsni', rotation, joints) + position[:, None, None]
    own = np.where(valid[..., None], own, np.nan)
    projections = np.stack([projection(view.world_from_camera) for view in views])
    focal = np.array([(view.camera.fx + view.camera.fy) / 2 for view in views])
    by_side = [np.ascontiguousarray(array.swapaxes(0, 1)) for array in (rays, pixels, weights,
                                                                          own)]
    return ViewStack([view.name for view in views], projections, focal, by_side[0], by_side[1],
                     by_side[2], by_side[3], problems)


def _problems(views: Sequence[ViewObservation], nan_pixels: np.ndarray, outside: np.ndarray
              ) -> dict[str, str]:
    """View -> why some of its valid joints are not used."""
    problems = {}
    for index, view in enumerate(views):
        for side, hand in enumerate(view.estimate.hands()):
            if nan_pixels[index, side].any():
                problems[view.name] = (f'{hand.side} hand: {nan_pixels[index, side].sum()} '
                                       'valid joints with NaN pixels ignored')
            if outside[index, side].any():
                problems[view.name] = (
                    f'{hand.side} hand: pixels outside the {view.camera.width}x'
                    f'{view.camera.height} image of its camera_info (camera_info of another '
                    'image size?); ignored')
    return problems
