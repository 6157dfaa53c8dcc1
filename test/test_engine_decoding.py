"""Decoding formulas of the reference §3 by hand, argmax layout independence, refinement gain."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from interhand_ros.engine.decoding import (
    argmax_voxels,
    decode_heatmaps,
    depth_bins_to_metres,
    metres_to_depth_bins,
    root_bins_to_metres,
)

SIGMA = 2.5  # voxels, the training targets' Gaussian (reference §6.1)


def gaussian_volumes(centres: torch.Tensor, peak: float = 255.0) -> torch.Tensor:
    """J x 64 x 64 x 64 training-style targets (z, y, x) with peaks at continuous (x, y, z)."""
    grid = torch.arange(64, dtype=torch.float32)
    def axis(c: torch.Tensor) -> torch.Tensor:
        return torch.exp(-(grid - c[:, None]) ** 2 / (2 * SIGMA ** 2))
    gx, gy, gz = axis(centres[:, 0]), axis(centres[:, 1]), axis(centres[:, 2])
    return peak * gz[:, :, None, None] * gy[:, None, :, None] * gx[:, None, None, :]


def test_depth_and_root_bins_convert_like_the_reference():
    bins = torch.tensor([0.0, 32.0, 63.0, 16.0])
    # (z / 64 * 2 - 1) * 200 mm = z * 6.25 - 200 mm
    expected_m = torch.tensor([-0.2, 0.0, 0.19375, -0.1])
    assert torch.allclose(depth_bins_to_metres(bins), expected_m, atol=1e-7)
    assert torch.allclose(root_bins_to_metres(bins), expected_m, atol=1e-7)
    assert torch.allclose(metres_to_depth_bins(expected_m), bins, atol=1e-5)


def test_single_peak_decodes_to_crop_pixels_depth_and_confidence():
    heatmaps = torch.zeros(1, 2, 64, 64, 64)
    heatmaps[0, 0, 5, 10, 20] = 127.5     # (z, y, x)
    heatmaps[0, 1, 63, 0, 63] = 400.0     # above the trained 255 peak: confidence clips to 1
    decoded = decode_heatmaps(heatmaps)
    assert decoded.crop_xy.tolist() == [[[80.0, 40.0], [252.0, 0.0]]]   # x / 64 * 256
    assert torch.allclose(decoded.depth_rel_m, torch.tensor([[-0.16875, 0.19375]]))
    assert torch.allclose(decoded.confidence, torch.tensor([[0.5, 1.0]]))


def test_argmax_is_the_same_for_contiguous_and_channels_last_volumes():
    torch.manual_seed(0)
    flat = torch.randn(2, 3 * 64, 64, 64)
    contiguous = flat.view(2, 3, 64, 64, 64)
    strided = flat.contiguous(memory_format=torch.channels_last).view(2, 3, 64, 64, 64)
    assert not strided.is_contiguous()
    voxels_a, peak_a = argmax_voxels(contiguous)
    voxels_b, peak_b = argmax_voxels(strided)
    assert torch.equal(voxels_a, voxels_b) and torch.equal(peak_a, peak_b)
    index = contiguous.flatten(2).argmax(dim=2)
    assert torch.equal(voxels_a[..., 2].long() * 4096 + voxels_a[..., 1].long() * 64
                       + voxels_a[..., 0].long(), index)


def test_decoding_rejects_wrong_shapes():
    with pytest.raises(ValueError, match='64 x 64 x 64'):
        decode_heatmaps(torch.zeros(1, 42, 32, 64, 64))


def test_argmax_error_is_within_half_a_voxel_and_refinement_lowers_it():
    generator = torch.Generator().manual_seed(3)
    centres = 4 + 56 * torch.rand(200, 3, generator=generator)
    clean = gaussian_volumes(centres).unsqueeze(0)
    noisy = clean + 5.0 * torch.randn(clean.shape, generator=generator)  # 2 % of the peak
    assert ((decode_heatmaps(clean).crop_xy[0] / 4.0 - centres[:, :2]).abs() <= 0.5).all()
    for heatmaps, gain in ((clean, 100.0), (noisy, 1.5)):
        official = decode_heatmaps(heatmaps).crop_xy[0] / 4.0
        refined = decode_heatmaps(heatmaps, refine=True).crop_xy[0] / 4.0
        official_error = (official - centres[:, :2]).abs().mean()
        refined_error = (refined - centres[:, :2]).abs().mean()
        assert refined_error * gain < official_error
    depth_official = decode_heatmaps(noisy).depth_rel_m[0]
    depth_refined = decode_heatmaps(noisy, refine=True).depth_rel_m[0]
    depth_true = depth_bins_to_metres(centres[:, 2])
    assert (depth_refined - depth_true).abs().mean() < (depth_official - depth_true).abs().mean()


def test_refinement_leaves_border_and_flat_peaks_at_the_argmax():
    heatmaps = torch.zeros(1, 1, 64, 64, 64)
    heatmaps[0, 0, 0, 63, 0] = 10.0   # on the volume border, neighbours empty
    decoded = decode_heatmaps(heatmaps, refine=True)
    assert decoded.crop_xy.tolist() == [[[0.0, 252.0]]]
    assert np.isclose(float(decoded.depth_rel_m), -0.2)
