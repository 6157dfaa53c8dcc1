"""Training checkpoints: atomic writes and weights-only reads.

A checkpoint is {'network': InterNet state dict in our (= official, without `module.`) key
layout, 'optimizer', 'scheduler', 'scaler', 'epoch', 'step', 'rng', 'config'}: the node's
`interhand_ros.engine.checkpoint.load_internet_state_dict` reads its 'network' directly.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import torch


def rng_state() -> dict[str, Any]:
    """Python and torch (CPU, CUDA) generator states; augmentation has its own seeds."""
    state = {'python': random.getstate(), 'torch': torch.get_rng_state()}
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state['python'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


def save_atomically(content: dict[str, Any], path: Path) -> None:
    """torch.save to a temporary file in the same folder, fsync, then os.replace: a crash
    leaves either the old or the new checkpoint, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.tmp{os.getpid()}')
    try:
        with open(tmp, 'wb') as f:
            torch.save(content, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_training_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by save_atomically (weights only, on the CPU)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'checkpoint not found: {path}')
    content = torch.load(path, map_location='cpu', weights_only=True)
    missing = {'network', 'optimizer', 'scheduler', 'epoch', 'step'} - set(content)
    if missing:
        raise ValueError(f'{path} is not a training checkpoint (missing {sorted(missing)}); '
                         'to fine-tune from model weights use --init-checkpoint')
    return content
