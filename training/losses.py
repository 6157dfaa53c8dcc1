"""InterNet's three losses, each averaged over all elements, summed with weight 1 (§6.6)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from interhand_ros.engine.model import InterNetOutput
from training.targets import render_gaussian_heatmaps


def heatmap_loss(predicted: torch.Tensor, target: torch.Tensor,
                 joint_valid: torch.Tensor) -> torch.Tensor:
    """MSE over B x 42 x 64^3 with invalid joints zeroed (they still count in the mean)."""
    squared = (predicted.float() - target) ** 2
    return (squared * joint_valid[:, :, None, None, None]).mean()


def root_depth_loss(predicted: torch.Tensor, target: torch.Tensor,
                    root_valid: torch.Tensor) -> torch.Tensor:
    """L1 in bin units, masked."""
    return ((predicted.float() - target).abs() * root_valid).mean()


def hand_type_loss(predicted: torch.Tensor, target: torch.Tensor,
                   hand_type_valid: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the two sigmoid presences, averaged per sample, masked."""
    bce = F.binary_cross_entropy(predicted.float(), target, reduction='none').mean(dim=1)
    return (bce * hand_type_valid).mean()


def internet_losses(output: InterNetOutput,
                    batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """{'heatmap', 'root_depth', 'hand_type', 'total'}; call outside autocast (BCE is fp32)."""
    target = render_gaussian_heatmaps(batch['joint_coord'])
    losses = {
        'heatmap': heatmap_loss(output.heatmaps, target, batch['joint_valid']),
        'root_depth': root_depth_loss(output.root_depth_bins, batch['rel_root_depth'],
                                      batch['root_valid']),
        'hand_type': hand_type_loss(output.hand_presence, batch['hand_type'],
                                    batch['hand_type_valid']),
    }
    losses['total'] = losses['heatmap'] + losses['root_depth'] + losses['hand_type']
    return losses
