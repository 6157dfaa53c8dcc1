"""InterNet (Moon et al., ECCV 2020): ResNet-50, per-hand 3D heatmap heads, root depth, hand type.

Submodule names equal the official snapshot's keys without `module.` so its state dict loads
strictly. The backbone is torchvision's ResNet-50 layout ("v1.5": stride in the 3x3 conv of the
first bottleneck of a stage) written with plain torch.nn, because torchvision is not installable
beside our torch. Input: RGB in [0, 1], 256 x 256, no mean/std normalisation.
"""
from __future__ import annotations

from typing import NamedTuple, cast

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from interhand_ros.skeleton import NUM_JOINTS

HEATMAP_SIZE = 64         # heatmap depth, height and width, voxels
ROOT_DEPTH_BINS = 64      # bins of the relative root depth soft-argmax
_BACKBONE_CHANNELS = 2048
_HEAD_CHANNELS = 256
_FC_HIDDEN = 512


class InterNetOutput(NamedTuple):
    """Raw network output for a batch of B crops."""

    heatmaps: torch.Tensor         # B x 42 x 64(z) x 64(y) x 64(x), raw (trained on 0..255 peaks)
    root_depth_bins: torch.Tensor  # B, left-minus-right root depth in bins, 0..63
    hand_presence: torch.Tensor    # B x 2, sigmoid probabilities [right, left]


class Bottleneck(nn.Module):
    """torchvision's ResNet bottleneck: 1x1 -> 3x3 (carries the stride) -> 1x1 (x4), residual."""

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1) -> None:
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Sequential | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet50Backbone(nn.Module):
    """ResNet-50 without avgpool/fc: 3 x 256 x 256 -> 2048 x 8 x 8 (output stride 32)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1: nn.Module = nn.BatchNorm2d(64)  # nn.Identity once folded
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._stage(64, 64, blocks=3, stride=1)
        self.layer2 = self._stage(256, 128, blocks=4, stride=2)
        self.layer3 = self._stage(512, 256, blocks=6, stride=2)
        self.layer4 = self._stage(1024, 512, blocks=3, stride=2)

    @staticmethod
    def _stage(in_channels: int, width: int, blocks: int, stride: int) -> nn.Sequential:
        layers = [Bottleneck(in_channels, width, stride)]
        layers += [Bottleneck(width * Bottleneck.expansion, width) for _ in range(blocks - 1)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class BackboneNet(nn.Module):
    """Wrapper kept only so parameter names read `backbone_net.resnet.*` as in the snapshot."""

    def __init__(self) -> None:
        super().__init__()
        self.resnet = ResNet50Backbone()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.resnet(x)


def _deconv_stack(channels: list[int]) -> nn.Sequential:
    """[ConvTranspose2d 4/2/1 no bias, BN, ReLU] per step; upsamples x2 each time."""
    layers: list[nn.Module] = []
    for c_in, c_out in zip(channels[:-1], channels[1:]):
        layers += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False),
                   nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def _mlp(in_features: int, out_features: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_features, _FC_HIDDEN), nn.ReLU(inplace=True),
                         nn.Linear(_FC_HIDDEN, out_features))


class PoseNet(nn.Module):
    """Two identical per-hand 3D heatmap branches (1: right, 2: left), root depth and hand type."""

    def __init__(self) -> None:
        super().__init__()
        deconv = [_BACKBONE_CHANNELS, _HEAD_CHANNELS, _HEAD_CHANNELS, _HEAD_CHANNELS]
        heatmap_channels = NUM_JOINTS * HEATMAP_SIZE
        self.joint_deconv_1 = _deconv_stack(deconv)
        self.joint_conv_1 = nn.Sequential(nn.Conv2d(_HEAD_CHANNELS, heatmap_channels, 1))
        self.joint_deconv_2 = _deconv_stack(deconv)
        self.joint_conv_2 = nn.Sequential(nn.Conv2d(_HEAD_CHANNELS, heatmap_channels, 1))
        self.root_fc = _mlp(_BACKBONE_CHANNELS, ROOT_DEPTH_BINS)
        self.hand_fc = _mlp(_BACKBONE_CHANNELS, 2)
        self.register_buffer('_bin_index', torch.arange(ROOT_DEPTH_BINS, dtype=torch.float32),
                             persistent=False)

    def hand_heatmaps(self, features: torch.Tensor, side: int) -> torch.Tensor:
        """One hand's heatmaps (side 0: right, branch 1; 1: left, branch 2), B x 21 x 64^3.

        Axes (joint, z, y, x): channel c of the 1x1 conv is joint c // 64, depth c % 64.
        """
        shape = (features.shape[0], NUM_JOINTS, HEATMAP_SIZE, HEATMAP_SIZE, HEATMAP_SIZE)
        return self.hand_heatmap_channels(features, side).reshape(shape)

    def hand_heatmap_channels(self, features: torch.Tensor, side: int) -> torch.Tensor:
        """hand_heatmaps before the reshape: B x (21 * 64) x 64 x 64, channel = joint * 64 + z."""
        deconv, conv = ((self.joint_deconv_1, self.joint_conv_1) if side == 0
                        else (self.joint_deconv_2, self.joint_conv_2))
        return conv(deconv(features))

    def global_heads(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(root depth in bins B, hand presence B x 2) from the globally pooled features."""
        pooled = features.mean(dim=(2, 3))
        root_logits = self.root_fc(pooled).float()
        root_bins = (root_logits.softmax(dim=1) * self._bin_index).sum(dim=1)
        presence = self.hand_fc(pooled).float().sigmoid()
        return root_bins, presence

    def forward(self, features: torch.Tensor) -> InterNetOutput:
        heatmaps = torch.cat([self.hand_heatmaps(features, side) for side in (0, 1)], dim=1)
        root_bins, presence = self.global_heads(features)
        return InterNetOutput(heatmaps, root_bins, presence)


class InterNet(nn.Module):
    """The full network: forward(B x 3 x 256 x 256 RGB in [0, 1]) -> InterNetOutput."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone_net = BackboneNet()
        self.pose_net = PoseNet()

    def forward(self, images: torch.Tensor) -> InterNetOutput:
        return self.pose_net(self.backbone_net(images))


def fold_batchnorm(model: InterNet) -> InterNet:
    """Fold every eval-mode BatchNorm into the conv / transposed conv before it (in place).

    Exact up to float rounding; removes 59 memory-bound passes per forward. Only for inference:
    the folded model no longer has the official parameter names.
    """
    if model.training:
        raise ValueError('fold_batchnorm needs an eval-mode model (running statistics)')
    for bottleneck in model.backbone_net.resnet.modules():
        if isinstance(bottleneck, Bottleneck):
            for conv_name, bn_name in (('conv1', 'bn1'), ('conv2', 'bn2'), ('conv3', 'bn3')):
                setattr(bottleneck, conv_name, fuse_conv_bn_eval(
                    getattr(bottleneck, conv_name), getattr(bottleneck, bn_name)))
                setattr(bottleneck, bn_name, nn.Identity())
            if bottleneck.downsample is not None:
                conv = cast(nn.Conv2d, bottleneck.downsample[0])
                bn = cast(nn.BatchNorm2d, bottleneck.downsample[1])
                bottleneck.downsample = nn.Sequential(fuse_conv_bn_eval(conv, bn), nn.Identity())
    resnet = model.backbone_net.resnet
    resnet.conv1 = fuse_conv_bn_eval(resnet.conv1, cast(nn.BatchNorm2d, resnet.bn1))
    resnet.bn1 = nn.Identity()
    for stack in (model.pose_net.joint_deconv_1, model.pose_net.joint_deconv_2):
        for index in range(0, len(stack), 3):
            stack[index] = fuse_conv_bn_eval(cast(nn.ConvTranspose2d, stack[index]),
                                             cast(nn.BatchNorm2d, stack[index + 1]),
                                             transpose=True)
            stack[index + 1] = nn.Identity()
    return model
