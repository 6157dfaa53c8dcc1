"""Strict, weights-only loading of InterNet checkpoints.

Accepted files: the official snapshots ({'epoch', 'network': DataParallel state dict with
`module.` keys, 'optimizer'}), our training checkpoints ({'network': state dict in our layout,
...}; {'model': ...} is accepted too) and bare state dicts. `torch.load(weights_only=True)` never
runs pickled code, so a malicious file is refused instead of executed. Anything whose keys or
shapes differ from `InterNet` is rejected with the offending keys named.
"""
from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from interhand_ros.engine.checkpoint_file import CheckpointError
from interhand_ros.engine.model import InterNet

_CONTAINER_KEYS = ('network', 'model')
_DATA_PARALLEL_PREFIX = 'module.'
_OPTIONAL_SUFFIX = '.num_batches_tracked'  # absent from snapshots of old torch versions
_MAX_KEYS_LISTED = 12
_PRESENT_LOGIT = 20.0  # sigmoid(20 + the random layer's small output) = 1.0: hand present


def expected_state_dict_shapes() -> dict[str, tuple[int, ...]]:
    """Key -> shape of InterNet's state dict, built on the meta device (no memory, ~ms)."""
    with torch.device('meta'):
        return {key: tuple(value.shape) for key, value in InterNet().state_dict().items()}


def load_internet_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a checkpoint file and return a state dict in our key layout (no `module.` prefix).

    Raises CheckpointError naming missing / unexpected / mis-shaped keys.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'checkpoint not found: {path}')
    try:
        content = torch.load(path, map_location='cpu', weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as error:
        raise CheckpointError(
            f'{path} is not a weights-only torch checkpoint (refused to unpickle): {error}'
        ) from error
    return _normalize_state_dict(_find_state_dict(content, path), path)


def load_internet(path: str | Path) -> InterNet:
    """An eval-mode InterNet on the CPU with the checkpoint's weights loaded strictly."""
    model = InterNet()
    model.load_state_dict(load_internet_state_dict(path), strict=True)
    return model.eval()


def _find_state_dict(content: object, path: Path) -> Mapping[str, object]:
    if not isinstance(content, Mapping):
        raise CheckpointError(f'{path} holds a {type(content).__name__}, not a state dict')
    for key in _CONTAINER_KEYS:
        if isinstance(content.get(key), Mapping):
            return content[key]
    if content and all(isinstance(value, torch.Tensor) for value in content.values()):
        return content
    raise CheckpointError(
        f'{path} has neither a state dict under {_CONTAINER_KEYS} nor only tensors; '
        f'top-level keys: {_listed(list(content))}')


def _normalize_state_dict(raw: Mapping[str, object], path: Path) -> dict[str, torch.Tensor]:
    state: dict[str, Any] = {_strip_prefix(str(key)): value for key, value in raw.items()}
    expected = expected_state_dict_shapes()
    for key in expected:
        if key.endswith(_OPTIONAL_SUFFIX) and key not in state:
            state[key] = torch.tensor(0, dtype=torch.long)
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    not_tensors = [key for key in state if key in expected
                   and not isinstance(state[key], torch.Tensor)]
    misshaped = [f'{key} {tuple(state[key].shape)} != {expected[key]}' for key in expected
                 if key in state and key not in not_tensors
                 and tuple(state[key].shape) != expected[key]]
    problems = [f'{label}: {_listed(keys)}' for label, keys in (
        ('missing keys', missing), ('unexpected keys', unexpected),
        ('mis-shaped keys', misshaped), ('non-tensor values', not_tensors)) if keys]
    if problems:
        raise CheckpointError(f'{path} does not fit InterNet; ' + '; '.join(problems))
    return state


def _strip_prefix(key: str) -> str:
    return key[len(_DATA_PARALLEL_PREFIX):] if key.startswith(_DATA_PARALLEL_PREFIX) else key


def _listed(keys: list[str]) -> str:
    shown = ', '.join(keys[:_MAX_KEYS_LISTED])
    more = len(keys) - _MAX_KEYS_LISTED
    return f'{shown} (+{more} more)' if more > 0 else shown


def save_random_checkpoint(path: str | Path, seed: int = 0, both_hands: bool = False) -> Path:
    """A random-weight InterNet checkpoint (for speed measurements: cost does not depend on the
    weights). The same seed writes the same bytes, so compiled backends reuse their cache.
    both_hands: the handedness head's last bias makes both hands present on every image, so the
    whole network runs, as with a trained model tracking two hands."""
    torch.manual_seed(seed)
    model = InterNet()
    if both_hands:
        last = model.pose_net.hand_fc[-1]
        assert isinstance(last, torch.nn.Linear)
        torch.nn.init.constant_(last.bias, _PRESENT_LOGIT)
    path = Path(path)
    torch.save({'network': model.state_dict()}, path)
    return path
