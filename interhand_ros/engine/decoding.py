"""InterNet's 2.5D output -> crop pixels, relative depths and confidences, on the model's device.

Official decoding (reference §3): hard argmax over each joint's 64^3 volume; x_in = x / 64 * 256;
z_rel = (z / 64 * 2 - 1) * 200 mm; root depth bins the same way. Only B x 42 x 4 numbers leave
the device, never the B x 42 x 64^3 volume.

Optional sub-voxel refinement: per axis, fit a parabola to the log of the peak and its two
neighbours. The training targets are Gaussians (sigma 2.5 voxels), whose log is exactly a
parabola, so this recovers the continuous peak of a clean target; measured on synthetic
heatmaps in test_engine_decoding.py.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from interhand_ros.engine.model import HEATMAP_SIZE, ROOT_DEPTH_BINS
from interhand_ros.geometry.crop import INPUT_SIZE

DEPTH_RANGE_M = 0.4        # bbox_3d_size: joint depth range, +-0.2 m around each hand's root
ROOT_DEPTH_RANGE_M = 0.4   # bbox_3d_size_root: left-minus-right root depth range, +-0.2 m
HEATMAP_PEAK = 255.0       # training targets peak at 255; confidence = peak / 255, clipped
_LOG_FLOOR = 1e-6          # heatmap values below this count as empty when refining


class DecodedJoints(NamedTuple):
    """Decoded joints of a batch, still on the model's device."""

    crop_xy: torch.Tensor      # B x J x 2, pixels of the 256 x 256 crop
    depth_rel_m: torch.Tensor  # B x J, metres relative to the joint's own hand root
    confidence: torch.Tensor   # B x J, heatmap peak / 255 clipped to 0..1


def argmax_voxels(heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Hard 3D argmax per joint of B x J x D x H x W: (voxel (x, y, z) B x J x 3, peak B x J).

    Two reductions (over depth, then over the image plane) like the official code, which also
    avoids copying a strided (channels-last) volume into a flat one.
    """
    peak_over_z, z_index = heatmaps.max(dim=2)
    peak, plane_index = peak_over_z.flatten(start_dim=2).max(dim=2)
    width = heatmaps.shape[-1]
    z = z_index.flatten(start_dim=2).gather(2, plane_index.unsqueeze(-1)).squeeze(-1)
    x = plane_index % width
    y = torch.div(plane_index, width, rounding_mode='floor')
    return torch.stack([x, y, z], dim=-1).to(torch.float32), peak


def refine_subvoxel(heatmaps: torch.Tensor, voxels: torch.Tensor) -> torch.Tensor:
    """Per-axis log-parabola peak offsets (each within +-0.5 voxel) added to the argmax voxels."""
    batch, joints, depth, height, width = heatmaps.shape
    index = voxels.long()
    device = heatmaps.device
    batch_index = torch.arange(batch, device=device).view(batch, 1).expand(batch, joints)
    joint_index = torch.arange(joints, device=device).view(1, joints).expand(batch, joints)

    def log_value(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        value = heatmaps[batch_index, joint_index, z, y, x].float()
        return value.clamp_min(_LOG_FLOOR).log()

    x, y, z = index.unbind(dim=-1)
    center = log_value(x, y, z)
    offsets = []
    for axis, size in enumerate((width, height, depth)):
        step = torch.zeros_like(index)
        step[..., axis] = 1
        coordinate = index[..., axis]
        inside = (coordinate > 0) & (coordinate < size - 1)
        lower_at = torch.where(inside.unsqueeze(-1), index - step, index)
        upper_at = torch.where(inside.unsqueeze(-1), index + step, index)
        lower, upper = log_value(*lower_at.unbind(-1)), log_value(*upper_at.unbind(-1))
        curvature = lower - 2.0 * center + upper
        usable = inside & (curvature < 0)
        offset = 0.5 * (lower - upper) / torch.where(usable, curvature, torch.ones_like(curvature))
        offsets.append(torch.where(usable, offset.clamp(-0.5, 0.5), torch.zeros_like(offset)))
    return voxels + torch.stack(offsets, dim=-1)


def argmax_voxels_by_slice(channels: torch.Tensor, joints: int
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """argmax_voxels of the heatmaps as the 1x1 conv gives them, B x (J * D) x H x W with
    channel = joint * D + z: the same voxel wherever the maximum is unique (first index on exact
    ties, taken per depth slice instead of per pixel column).

    Peak of each depth slice (a spatial reduction, which compiled runtimes run in their blocked
    channel layout), then the best slice per joint, then the argmax within that one slice only:
    in OpenVINO 6-8 ms less per hand than reducing the reshaped 5D volume over depth.
    """
    batch, channel_count, _, width = channels.shape
    depth = channel_count // joints
    peak, z = channels.amax(dim=(2, 3)).reshape(batch, joints, depth).max(dim=2)
    joint_index = torch.arange(joints, device=channels.device).reshape(1, joints)
    rows = torch.arange(batch, device=channels.device).reshape(batch, 1).expand(batch, joints)
    plane_index = channels[rows, joint_index * depth + z].flatten(start_dim=2).argmax(dim=2)
    x = plane_index % width
    y = torch.div(plane_index, width, rounding_mode='floor')
    return torch.stack([x, y, z], dim=-1).to(torch.float32), peak


def decode_heatmaps(heatmaps: torch.Tensor, refine: bool = False) -> DecodedJoints:
    """B x J x 64 x 64 x 64 heatmaps -> crop pixels, relative depths (m) and confidences."""
    if heatmaps.dim() != 5 or tuple(heatmaps.shape[2:]) != (HEATMAP_SIZE,) * 3:
        raise ValueError(f'expected B x J x 64 x 64 x 64 heatmaps, got {tuple(heatmaps.shape)}')
    voxels, peak = argmax_voxels(heatmaps)
    if refine:
        voxels = refine_subvoxel(heatmaps, voxels)
    return decoded_joints(voxels, peak)


def decode_heatmap_channels(channels: torch.Tensor, joints: int,
                            refine: bool = False) -> DecodedJoints:
    """decode_heatmaps of the 1x1 conv's B x (J * 64) x 64 x 64 output (see
    argmax_voxels_by_slice); refinement needs the 5D volume, so it decodes that instead."""
    if refine:
        return decode_heatmaps(channels.reshape(channels.shape[0], joints, -1,
                                                *channels.shape[2:]), refine=True)
    return decoded_joints(*argmax_voxels_by_slice(channels, joints))


def decoded_joints(voxels: torch.Tensor, peak: torch.Tensor) -> DecodedJoints:
    """Heatmap voxels (x, y, z) and peak values -> crop pixels, depths (m), confidences."""
    crop_xy = voxels[..., :2] * (INPUT_SIZE / HEATMAP_SIZE)
    depth_rel_m = depth_bins_to_metres(voxels[..., 2])
    confidence = (peak.float() / HEATMAP_PEAK).clamp(0.0, 1.0)
    return DecodedJoints(crop_xy, depth_rel_m, confidence)


def depth_bins_to_metres(z_bins: torch.Tensor) -> torch.Tensor:
    """Heatmap depth coordinate (0..64) -> metres relative to the hand root."""
    return (z_bins / HEATMAP_SIZE * 2.0 - 1.0) * (DEPTH_RANGE_M / 2.0)


def root_bins_to_metres(root_bins: torch.Tensor) -> torch.Tensor:
    """Relative root depth bins (0..64) -> left wrist depth minus right wrist depth, metres."""
    return (root_bins / ROOT_DEPTH_BINS * 2.0 - 1.0) * (ROOT_DEPTH_RANGE_M / 2.0)


def metres_to_depth_bins(depth_rel_m: torch.Tensor) -> torch.Tensor:
    """Inverse of depth_bins_to_metres (the training target encoding)."""
    return (depth_rel_m / (DEPTH_RANGE_M / 2.0) + 1.0) / 2.0 * HEATMAP_SIZE
