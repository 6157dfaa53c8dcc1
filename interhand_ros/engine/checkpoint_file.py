"""A checkpoint as a file, without torch: its errors and the SHA-256 the model cache keys on.

The compiled backends look their converted model up by this hash, so a node running a cached
model never loads the checkpoint's weights (engine.checkpoint, which needs torch, does that when
a model must be converted or when torch runs the network).
"""
from __future__ import annotations

from pathlib import Path

from interhand_ros.engine.cache import file_sha256


class CheckpointError(ValueError):
    """The checkpoint is missing, unreadable, not weights-only, or does not fit InterNet."""


def checkpoint_sha256(path: str | Path) -> str:
    """The checkpoint file's SHA-256 (CheckpointError when there is no such file)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'checkpoint not found: {path}')
    return file_sha256(path)
