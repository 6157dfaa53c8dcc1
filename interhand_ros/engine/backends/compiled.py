"""What the compiled backends (OpenVINO, ONNX Runtime) share: they run engine.parts (the global
part, then each present hand's part) from a model file kept in the model cache, so the torch
weights are loaded only when the cache has no trusted model to convert, and are not kept.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

import numpy as np

from interhand_ros.engine.backends.base import BackendError, BackendOptions, Decoded, cache_key
from interhand_ros.engine.cache import ModelCache, file_sha256
from interhand_ros.engine.checkpoint import CheckpointError, load_internet
from interhand_ros.engine.model import InterNet, fold_batchnorm
from interhand_ros.skeleton import LEFT_SLICE, NUM_MODEL_JOINTS, RIGHT_SLICE

ModelSource = Callable[[], InterNet]  # the folded eval-mode network, loaded only when needed


class PartsBackend(ABC):
    """A backend running engine.parts on numpy arrays (float32 in, float32 out)."""

    name: str
    precision: str
    model_dir: Path | None

    @abstractmethod
    def run_global(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """B x 3 x 256 x 256 in [0, 1] -> (features, root depth m (B,), presence (B, 2))."""

    @abstractmethod
    def run_hand(self, side: int, features: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """features of B' crops -> (crop_xy (B', 21, 2), depth_rel_m (B', 21), conf (B', 21))."""

    def infer(self, crops: np.ndarray, presence_threshold: float) -> Decoded:
        """The decoded batch, running a hand's part only for the crops in which that hand is
        present (as the torch backend does); an absent hand's joints are NaN, confidence 0."""
        images = np.ascontiguousarray(crops.transpose(0, 3, 1, 2), dtype=np.float32)
        images *= np.float32(1.0 / 255.0)
        features, root_m, presence = self.run_global(images)
        batch = crops.shape[0]
        crop_xy = np.full((batch, NUM_MODEL_JOINTS, 2), np.nan, np.float32)
        depth_rel = np.full((batch, NUM_MODEL_JOINTS), np.nan, np.float32)
        confidence = np.zeros((batch, NUM_MODEL_JOINTS), np.float32)
        for side, joints in enumerate((RIGHT_SLICE, LEFT_SLICE)):
            rows = np.flatnonzero(presence[:, side] >= presence_threshold)
            if rows.size == 0:
                continue
            hand_features = features if rows.size == batch else features[rows]
            hand_xy, hand_depth, hand_confidence = self.run_hand(side, hand_features)
            crop_xy[rows, joints] = hand_xy
            depth_rel[rows, joints] = hand_depth
            confidence[rows, joints] = hand_confidence
        return crop_xy, depth_rel, confidence, root_m, presence


def cached_model_dir(name: str, label: str, version: str, checkpoint: Path,
                     options: BackendOptions,
                     write_fp32: Callable[[ModelSource, Path, bool], None]) -> Path:
    """The cache entry backend `name` runs: for int8 the model interhand-quantize stored
    (BackendError saying how to build one when absent or untrusted), else the fp32 model,
    written by write_fp32(model source, folder, refine) when absent or untrusted.
    label: the library's name for messages; version: its version (part of the key)."""
    if options.compile or options.cuda_graph:
        raise ValueError(f'compile and cuda_graph are torch options; backend {name!r} '
                         'compiles its own model')
    if not checkpoint.is_file():
        raise CheckpointError(f'checkpoint not found: {checkpoint}')
    cache = ModelCache(options.cache_dir)
    checkpoint_hash = file_sha256(checkpoint)
    if options.precision == 'int8':
        folder = cache.load(cache_key(checkpoint_hash, name, version, 'int8', options.refine))
        if folder is None:
            raise BackendError(
                f'no int8 {label} model of this checkpoint in {cache.root} (or it is corrupt or '
                f'from another {label} version): build one from your own footage with '
                f'`interhand-quantize --backend {name} --checkpoint CHECKPOINT '
                f'--images DIR|VIDEO|BAG --cache-dir {cache.root}`')
        return folder

    def model() -> InterNet:
        return fold_batchnorm(load_internet(checkpoint))
    key = cache_key(checkpoint_hash, name, version, 'fp32', options.refine)
    return cache.load_or_build(key, lambda folder: write_fp32(model, folder, options.refine))


def calibration_images(crops: np.ndarray) -> list[np.ndarray]:
    """256 x 256 x 3 uint8 crops -> the global part's 1 x 3 x 256 x 256 inputs in [0, 1], one
    per crop (as quantizers feed calibration data)."""
    return [crop.transpose(2, 0, 1)[None].astype(np.float32) / 255.0 for crop in crops]
