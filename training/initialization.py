"""Weight initialisation for training, as the official `init_weights` (reference §1.1, §1.6).

Convolutions N(0, 0.001), BatchNorm 1 / 0, linear layers N(0, 0.01) / 0; then the backbone
takes an ImageNet ResNet-50 state dict in torchvision's layout from a file (fc dropped; no
download at run time).
"""
from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch import nn

from interhand_ros.engine.model import InterNet

_CLASSIFIER_PREFIX = 'fc.'


class PretrainedWeightsError(ValueError):
    """The ImageNet weights file is unreadable or not a torchvision ResNet-50 state dict."""


def init_internet_weights(model: InterNet) -> InterNet:
    """Official initialisation of every layer (in place); returns the model."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(module.weight, std=0.001)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.01)
            nn.init.zeros_(module.bias)
    return model


def load_imagenet_backbone(model: InterNet, path: Path) -> None:
    """Load torchvision's resnet50 state dict (e.g. resnet50-0676ba61.pth) into the backbone."""
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except (OSError, pickle.UnpicklingError, RuntimeError, EOFError) as error:
        raise PretrainedWeightsError(f'cannot read ImageNet weights {path}: {error}') from error
    if isinstance(state, dict) and isinstance(state.get('state_dict'), dict):
        state = state['state_dict']
    if not isinstance(state, dict):
        raise PretrainedWeightsError(f'{path} holds a {type(state).__name__}, not a state dict')
    backbone_state = {key: value for key, value in state.items()
                      if not key.startswith(_CLASSIFIER_PREFIX)}
    try:
        model.backbone_net.resnet.load_state_dict(backbone_state, strict=True)
    except RuntimeError as error:
        raise PretrainedWeightsError(
            f'{path} is not a torchvision ResNet-50 state dict: {error}') from error
