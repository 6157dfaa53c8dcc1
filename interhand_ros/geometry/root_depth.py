"""Absolute root (wrist) depth of a hand whose shape InterNet gives only relative to its root.

Three sources, each selectable by the engine:
- a registered depth image (REP-118): the depth pixels around several palm joints, each moved
  from the skin to the joint inside the hand (surface offset, along the joint's ray) and
  corrected by the network's relative depth of that joint, so the wrist need not hit the hand
  itself; pixels far from the hand's consensus (background, the other hand, flying pixels at
  edges) are rejected before the median;
- the hand-size prior: the root depth at which the back-projected skeleton's bone lengths best
  match a mean adult hand (times a hand-scale factor), closed form + Gauss-Newton;
  scale_at_depth is its inverse (the scale that puts a measured hand at its measured depth);
- a fixed distance, chosen explicitly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from interhand_ros.skeleton import (
    BONES,
    INDEX_MCP,
    MIDDLE_MCP,
    NUM_JOINTS,
    PINKY_MCP,
    WRIST,
)

# Mean adult bone lengths (m) in published joint order, bone i = BONES[i] (parent -> child).
# Phalanx/metacarpal lengths are the Buchholz et al. (1992) proportions of a 0.185 m hand
# length; wrist -> base-joint distances are the palm lengths that complete that hand length.
MEAN_BONE_LENGTHS_M: np.ndarray = np.array([
    0.035, 0.046, 0.036, 0.029,   # wrist -> thumb CMC -> MCP -> IP -> tip
    0.080, 0.049, 0.027, 0.018,   # wrist -> index MCP -> PIP -> DIP -> tip
    0.080, 0.051, 0.031, 0.020,   # middle
    0.075, 0.048, 0.031, 0.020,   # ring
    0.070, 0.038, 0.022, 0.017,   # pinky
])
_RING_MCP = 13
PALM_JOINTS = (WRIST, INDEX_MCP, MIDDLE_MCP, _RING_MCP, PINKY_MCP)
_DEPTH_ENCODINGS_MM = ('16UC1', 'mono16')
_DEPTH_ENCODINGS_M = ('32FC1',)
_MIN_VALID_PIXELS = 3
_GAUSS_NEWTON_STEPS = 3
_MIN_DEPTH_M = 0.05
# Skin-to-joint distance seen by a depth camera at the palm joints: half the adult hand's
# thickness at the metacarpal heads (about 3 cm in anthropometric surveys of hand depth; an
# assumption from the literature, not measured here). The wrist is thicker (3.5-4 cm), the
# palmar side has thicker soft tissue than the dorsal side: a few mm either way.
SURFACE_OFFSET_M = 0.015
# Radius of the depth-image window sampled around each joint, as a fraction of the hand's image
# box side (the network crop for InterNet, the searched roi for the landmark estimator).
DEPTH_WINDOW_FRACTION = 0.02
_OUTLIER_MADS = 3.0           # inlier band: this many robust standard deviations (1.4826 MAD)
_MIN_OUTLIER_BAND_M = 0.010   # ... at least this wide (sensor noise + relative depth noise)
_COARSE_BAND_M = 0.05         # first cut around the joints' median: a hand is ~3 cm thick


@dataclass(frozen=True)
class DepthImage:
    """A depth image registered to the colour image, in metres (invalid pixels are NaN)."""

    metres: np.ndarray  # (H, W) float32

    @classmethod
    def from_array(cls, array: np.ndarray, encoding: str) -> DepthImage:
        """REP-118: 16UC1 (and mono16) in millimetres, 32FC1 in metres; 0 / NaN / inf invalid."""
        array = np.asarray(array)
        if array.ndim == 3 and array.shape[2] == 1:
            array = array[..., 0]
        if array.ndim != 2 or array.size == 0:
            raise ValueError(f'depth image must be a non-empty H x W array, got {array.shape}')
        if encoding in _DEPTH_ENCODINGS_MM:
            if array.dtype != np.uint16:
                raise ValueError(f'{encoding} depth must be uint16, got {array.dtype}')
            metres = array.astype(np.float32) / 1000.0
        elif encoding in _DEPTH_ENCODINGS_M:
            if array.dtype != np.float32:
                raise ValueError(f'{encoding} depth must be float32, got {array.dtype}')
            metres = array.astype(np.float32, copy=True)
        else:
            raise ValueError(f'unsupported depth encoding {encoding!r} (REP-118: 16UC1 or 32FC1)')
        metres[~np.isfinite(metres) | (metres <= 0)] = np.nan
        return cls(metres)

    def valid_around(self, uv: np.ndarray, radius_px: int) -> np.ndarray:
        """The valid depths (m) in a (2r+1)^2 window at pixel uv (this image's pixels)."""
        height, width = self.metres.shape
        u, v = int(round(float(uv[0]))), int(round(float(uv[1])))
        window = self.metres[max(0, v - radius_px):min(height, v + radius_px + 1),
                             max(0, u - radius_px):min(width, u + radius_px + 1)]
        return window[np.isfinite(window)].astype(np.float64)


def root_depth_from_depth_image(depth: DepthImage, pixels: np.ndarray, depth_rel_m: np.ndarray,
                                image_size: tuple[int, int], radius_px: int, *,
                                rays: np.ndarray | None = None, surface_offset_m: float = 0.0,
                                reject_outliers: bool = True) -> float | None:
    """Root depth (m) measured at the palm joints, or None if the depth image has no valid data.

    pixels: (21, 2) in the colour image (width, height = image_size); depth_rel_m: (21,) joint
    depth minus root depth. A depth image of another resolution is sampled at scaled pixels.
    Each window pixel gives one root estimate: its depth + the surface offset along the joint's
    ray (rays: (21, 2) normalised coordinates, needed when the offset is not 0) - the joint's
    relative depth. reject_outliers drops the pixels outside a robust (MAD) band around the
    hand's consensus; the answer is the median over joints of each joint's median. Offset 0
    without rejection is the plain median of the palm joints' window medians (before issue 17).
    """
    if surface_offset_m != 0.0 and rays is None:
        raise ValueError('a surface offset needs the joints\' rays')
    height, width = depth.metres.shape
    scale = np.array([width / image_size[0], height / image_size[1]])
    radius = max(1, int(round(radius_px * scale.mean())))
    samples = []
    for joint in PALM_JOINTS:
        if not np.all(np.isfinite(pixels[joint])):
            continue
        values = depth.valid_around(pixels[joint] * scale, radius)
        if rays is not None and surface_offset_m != 0.0:
            values = values + surface_offset_m / math.hypot(1.0, *rays[joint])
        samples.append(values - depth_rel_m[joint])
    if reject_outliers:
        samples = _without_outliers(samples)
    estimates = [float(np.median(values)) for values in samples
                 if values.size >= _MIN_VALID_PIXELS]
    estimates = [value for value in estimates if math.isfinite(value) and value > _MIN_DEPTH_M]
    return float(np.median(estimates)) if estimates else None


def _without_outliers(samples: list[np.ndarray]) -> list[np.ndarray]:
    """Each joint's root estimates within the inlier band around the hand's consensus.

    The consensus starts at the median of the joints' medians (robust while most palm joints
    mostly see the hand); the estimates within a coarse band of it give the new consensus
    (their median) and the final band (a few robust standard deviations, 1.4826 MAD), so the
    background, the other hand and flying pixels at edges (centimetres to metres off) go and
    the sensor's noise stays.
    """
    medians = [float(np.median(values)) for values in samples if values.size >= _MIN_VALID_PIXELS]
    if not medians:
        return samples
    pooled = np.concatenate(samples)
    centre = float(np.median(medians))
    near = pooled[np.abs(pooled - centre) <= _COARSE_BAND_M]
    if near.size == 0:
        return samples
    centre = float(np.median(near))
    band = max(_MIN_OUTLIER_BAND_M,
               _OUTLIER_MADS * 1.4826 * float(np.median(np.abs(near - centre))))
    centre = float(np.median(pooled[np.abs(pooled - centre) <= band]))
    return [values[np.abs(values - centre) <= band] for values in samples]


def root_depth_from_hand_size(rays: np.ndarray, depth_rel_m: np.ndarray,
                              hand_scale: float = 1.0) -> float | None:
    """Root depth (m) whose back-projected skeleton best matches the mean hand's bone lengths.

    rays: (21, 2) normalised image coordinates ((u - cx) / fx, (v - cy) / fy) of undistorted
    pixels; joint j sits at (root + depth_rel_m[j]) * (ray_x, ray_y, 1). Each bone vector is
    affine in the root depth Z: Z * a + b. The closed form matching the summed squared lengths
    (or, when noise leaves it none, the depth at which the image extent alone has that size)
    starts a few Gauss-Newton steps on the per-bone length residuals. None if no depth fits.
    """
    if hand_scale <= 0:
        raise ValueError(f'hand_scale must be positive, got {hand_scale}')
    terms = _bone_terms(rays, depth_rel_m)
    if terms is None:
        return None
    a, b, mean_lengths = terms
    lengths = mean_lengths * hand_scale
    quad_a, quad_b = float(np.sum(a * a)), float(np.sum(a * b))
    quad_c = float(np.sum(b * b) - np.sum(lengths ** 2))
    discriminant = quad_b ** 2 - quad_a * quad_c
    if quad_a <= 0:
        return None
    if discriminant >= 0:
        z = (-quad_b + math.sqrt(discriminant)) / quad_a
    else:  # noisy relative depths alone exceed the hand's size: start from its image extent
        z = math.sqrt(float(np.sum(lengths ** 2)) / quad_a)
    for _ in range(_GAUSS_NEWTON_STEPS):
        bones = z * a + b
        norms = np.linalg.norm(bones, axis=1)
        jacobian = np.sum(bones * a, axis=1) / np.maximum(norms, 1e-12)
        denominator = float(np.sum(jacobian ** 2))
        if denominator <= 0:
            break
        z -= float(np.sum(jacobian * (norms - lengths))) / denominator
    return z if math.isfinite(z) and z > _MIN_DEPTH_M else None


def scale_at_depth(rays: np.ndarray, depth_rel_m: np.ndarray, root_depth_m: float
                   ) -> float | None:
    """The hand scale at which the hand-size prior puts this hand at root_depth_m (measured).

    The prior's optimum in Z satisfies sum_i (|bone_i| - s L_i) d|bone_i|/dZ = 0; solved for s
    at the measured Z, this is the bone lengths of the measured metric skeleton against the mean
    hand's, weighted as the prior weighs them. So the noise the network's 2.5D output adds to
    the bone lengths is in the scale too, and the prior with this scale gives back the measured
    depth (root_depth_from_hand_size(rays, depth_rel_m, s) == root_depth_m).
    """
    terms = _bone_terms(rays, depth_rel_m)
    if terms is None or not (math.isfinite(root_depth_m) and root_depth_m > _MIN_DEPTH_M):
        return None
    a, b, lengths = terms
    bones = root_depth_m * a + b
    norms = np.linalg.norm(bones, axis=1)
    slope = np.sum(bones * a, axis=1) / np.maximum(norms, 1e-12)  # d|bone_i| / dZ
    denominator = float(np.sum(slope * lengths))
    if denominator <= 0:
        return None
    scale = float(np.sum(slope * norms)) / denominator
    return scale if math.isfinite(scale) and scale > 0 else None


def _bone_terms(rays: np.ndarray, depth_rel_m: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Each bone as Z * a + b for root depth Z, with the mean length of each usable bone.

    Joint j sits at (Z + depth_rel_m[j]) * (ray_x, ray_y, 1); None when no bone is usable.
    """
    homogeneous = np.concatenate([rays, np.ones((NUM_JOINTS, 1))], axis=1)
    parents, children = np.array(BONES).T
    a = homogeneous[children] - homogeneous[parents]
    b = (depth_rel_m[children, None] * homogeneous[children]
         - depth_rel_m[parents, None] * homogeneous[parents])
    usable = np.all(np.isfinite(a), axis=1) & np.all(np.isfinite(b), axis=1)
    if not np.any(usable):
        return None
    return a[usable], b[usable], MEAN_BONE_LENGTHS_M[usable]
