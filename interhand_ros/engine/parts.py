"""The network cut into the parts a backend compiles: the backbone with the global heads, and
each hand's heatmap head with its decoding.

Two parts, not one graph, so the heatmap head of an absent hand (28 % of the work each) can
still be skipped; decoding inside the hand part so that only B x 21 x 4 numbers per hand leave
the backend, never the B x 21 x 64^3 volume. Every backend (engine.backends: torch, OpenVINO,
ONNX Runtime) runs these same modules, so they compute the same thing. Changing their graphs
means bumping engine.backends.base.PARTS_VERSION (part of every cached model's key).
"""
from __future__ import annotations

import torch

from interhand_ros.engine.decoding import decode_heatmap_channels, root_bins_to_metres
from interhand_ros.engine.model import InterNet
from interhand_ros.geometry.crop import INPUT_SIZE
from interhand_ros.skeleton import NUM_JOINTS

GLOBAL_OUTPUTS = ('features', 'root_m', 'presence')
HAND_OUTPUTS = ('crop_xy', 'depth_rel_m', 'confidence')
WHOLE_OUTPUTS = HAND_OUTPUTS + GLOBAL_OUTPUTS[1:]
# Hand parts are named and indexed by skeleton.SIDES: side 0 = branch 1 (right), 1 = branch 2.


class GlobalPart(torch.nn.Module):
    """images B x 3 x 256 x 256 in [0, 1] -> (features B x 2048 x 8 x 8, root depth m B,
    presence B x 2 [right, left])."""

    def __init__(self, model: InterNet) -> None:
        super().__init__()
        self.backbone_net = model.backbone_net
        self.pose_net = model.pose_net

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        features = self.backbone_net(images)
        root_bins, presence = self.pose_net.global_heads(features)
        return features, root_bins_to_metres(root_bins), presence


class HandPart(torch.nn.Module):
    """features B x 2048 x 8 x 8 -> one hand's decoded joints: (crop pixels B x 21 x 2,
    depth relative to the hand root m B x 21, confidence B x 21)."""

    def __init__(self, model: InterNet, side: int, refine: bool = False) -> None:
        super().__init__()
        self.pose_net = model.pose_net
        self.side = side
        self.refine = refine

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        decoded = decode_heatmap_channels(self.pose_net.hand_heatmap_channels(features, self.side),
                                          NUM_JOINTS, self.refine)
        return decoded.crop_xy, decoded.depth_rel_m, decoded.confidence


class WholeNetwork(torch.nn.Module):
    """The parts as one graph (for runtimes without the absent-hand skip, e.g. a TensorRT
    engine): images -> (crop_xy B x 42 x 2, depth_rel_m B x 42, confidence B x 42, root_m B,
    presence B x 2). Only the decoded joints are concatenated, never the heatmaps."""

    def __init__(self, model: InterNet, refine: bool = False) -> None:
        super().__init__()
        self.global_part = GlobalPart(model)
        self.hands = torch.nn.ModuleList(HandPart(model, side, refine) for side in (0, 1))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        features, root_m, presence = self.global_part(images)
        right, left = (hand(features) for hand in self.hands)
        decoded = tuple(torch.cat(pair, dim=1) for pair in zip(right, left))
        return (*decoded, root_m, presence)


def example_images(batch: int = 1) -> torch.Tensor:
    """An input of the global part's shape (for tracing / conversion)."""
    return torch.rand(batch, 3, INPUT_SIZE, INPUT_SIZE, generator=torch.Generator().manual_seed(0))


def example_features(model: InterNet, batch: int = 1) -> torch.Tensor:
    """An input of the hand parts' shape: the backbone's features of example images."""
    with torch.no_grad():  # not inference mode: exporters trace through these tensors
        return model.backbone_net(example_images(batch))
