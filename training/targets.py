"""Training targets as the official code builds them (reference §6).

Per sample (numpy, CPU workers): joint coordinates in heatmap voxels, validity, relative root
depth in bins and its validity. Per batch (torch, on the training device): the 3D Gaussian
heatmaps, rendered there because a 42 x 64^3 volume per sample is too big to ship from workers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from interhand_ros.engine.decoding import (
    HEATMAP_PEAK,
    ROOT_DEPTH_RANGE_M,
    metres_to_depth_bins,
)
from interhand_ros.engine.model import HEATMAP_SIZE, ROOT_DEPTH_BINS
from interhand_ros.geometry.crop import INPUT_SIZE
from interhand_ros.skeleton import LEFT_SLICE, RIGHT_SLICE
from training.dataset import LEFT_ROOT, RIGHT_ROOT

SIGMA_VOXELS = 2.5
MM_PER_M = 1000.0


def root_depth_to_bins(delta_mm: float) -> float:
    """Left-minus-right root depth (mm) -> bins; the inverse of decoding.root_bins_to_metres."""
    return (delta_mm / MM_PER_M / (ROOT_DEPTH_RANGE_M / 2.0) + 1.0) / 2.0 * ROOT_DEPTH_BINS


@dataclass
class SampleTargets:
    """Targets of one crop in the network's output space."""

    joint_coord: np.ndarray      # (42, 3) float32 voxels (x, y, z) in 0..64
    joint_valid: np.ndarray      # (42,) float32
    rel_root_depth: np.float32   # bins
    root_valid: np.float32


def sample_targets(joint_crop: np.ndarray, joint_valid: np.ndarray,
                   hand_type: np.ndarray) -> SampleTargets:
    """joint_crop (42, 3): x, y in crop pixels (already tested inside the crop), z camera mm.

    hand_type (2,) [right, left] after any flip swap.
    """
    valid = joint_valid.astype(np.float32, copy=True)
    delta = joint_crop[LEFT_ROOT, 2] - joint_crop[RIGHT_ROOT, 2]
    root_valid = valid[RIGHT_ROOT] * valid[LEFT_ROOT] if hand_type[0] * hand_type[1] == 1 else 0.0
    coord = np.empty_like(joint_crop, dtype=np.float32)
    coord[:, :2] = joint_crop[:, :2] / INPUT_SIZE * HEATMAP_SIZE
    for hand, root in ((RIGHT_SLICE, RIGHT_ROOT), (LEFT_SLICE, LEFT_ROOT)):
        relative = joint_crop[hand, 2] - joint_crop[root, 2]
        coord[hand, 2] = metres_to_depth_bins(relative / MM_PER_M)
    valid *= (coord[:, 2] >= 0) & (coord[:, 2] < HEATMAP_SIZE)
    root_bins = root_depth_to_bins(float(delta))
    root_valid *= float(0 <= root_bins < ROOT_DEPTH_BINS)
    return SampleTargets(coord, valid, np.float32(root_bins), np.float32(root_valid))


def render_gaussian_heatmaps(joint_coord: torch.Tensor, size: int = HEATMAP_SIZE,
                             sigma: float = SIGMA_VOXELS) -> torch.Tensor:
    """(B, J, 3) voxel coords (x, y, z) -> (B, J, size(z), size(y), size(x)) Gaussians, peak 255.

    Separable: exp(-(dx^2 + dy^2 + dz^2) / 2s^2) = gz * gy * gx, three small outer products.
    """
    grid = torch.arange(size, device=joint_coord.device, dtype=torch.float32)
    g = torch.exp(-(grid - joint_coord.float()[..., None]) ** 2 / (2.0 * sigma ** 2))
    gx, gy, gz = g[..., 0, :], g[..., 1, :], g[..., 2, :]
    return HEATMAP_PEAK * gz[..., :, None, None] * gy[..., None, :, None] * gx[..., None, None, :]
