"""What the compiled backends (OpenVINO, ONNX Runtime) share: they run engine.parts (the global
part, then each present hand's part) from a model file kept in the model cache.

Running a cached model needs no torch: the cache is looked up by the checkpoint file's SHA-256,
and the module that converts a checkpoint (the backend's CONVERTER: torch, the exporters, the
quantizers) is imported by name only when the cache has no trusted model, so a warm cache (or
one copied from another machine: docs/runtime_install.md) runs where torch is not installed.
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import cast

import numpy as np

from interhand_ros.engine.backends.base import (
    BackendError,
    BackendOptions,
    ConverterModule,
    Decoded,
    cache_key,
)
from interhand_ros.engine.cache import ModelCache
from interhand_ros.engine.checkpoint_file import checkpoint_sha256
from interhand_ros.skeleton import LEFT_SLICE, NUM_MODEL_JOINTS, RIGHT_SLICE, SIDES

RUNTIME_INSTALL_DOC = 'docs/runtime_install.md'


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

    def run_hands(self, features: dict[int, np.ndarray]
                  ) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """run_hand for each present side (side -> its crops' features), one after the other;
        a runtime with asynchronous requests runs them together."""
        return {side: self.run_hand(side, side_features)
                for side, side_features in features.items()}

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
        rows = {side: np.flatnonzero(presence[:, side] >= presence_threshold)
                for side in range(len(SIDES))}
        present = {side: features if found.size == batch else features[found]
                   for side, found in rows.items() if found.size}
        for side, (hand_xy, hand_depth, hand_confidence) in self.run_hands(present).items():
            joints = (RIGHT_SLICE, LEFT_SLICE)[side]
            crop_xy[rows[side], joints] = hand_xy
            depth_rel[rows[side], joints] = hand_depth
            confidence[rows[side], joints] = hand_confidence
        return crop_xy, depth_rel, confidence, root_m, presence


def cached_model_dir(name: str, label: str, version: str, checkpoint: Path,
                     options: BackendOptions, converter: str) -> Path:
    """The cache entry backend `name` runs: for int8 the model interhand-quantize stored
    (BackendError saying how to build one when absent or untrusted), else the fp32 model,
    written by the `converter` module's write_fp32(checkpoint, folder, refine) when absent or
    untrusted (BackendError when that needs torch and torch is not installed).
    label: the library's name for messages; version: its version (part of the key)."""
    if options.compile or options.cuda_graph:
        raise ValueError(f'compile and cuda_graph are torch options; backend {name!r} '
                         'compiles its own model')
    cache = ModelCache(options.cache_dir)
    key = cache_key(checkpoint_sha256(checkpoint), name, version, options.precision,
                    options.refine)
    folder = cache.load(key)
    if folder is not None:
        return folder
    missing = (f'no {options.precision} {label} model of checkpoint {checkpoint} in '
               f'{cache.root}{cache.mismatches(key)}')
    if options.precision == 'int8':
        raise BackendError(
            f'{missing}: build one from your own footage with `interhand-quantize --backend '
            f'{name} --checkpoint CHECKPOINT --images DIR|VIDEO|BAG --cache-dir {cache.root}` '
            '(on a machine with the full install, then copy the cache folder here)')
    try:
        writer = cast(ConverterModule, importlib.import_module(converter))
    except ImportError as error:  # a runtime-only install: no torch to convert with
        raise BackendError(
            f'{missing}, and converting one needs {error.name or error}, which is not '
            f'installed here (a runtime-only install, {RUNTIME_INSTALL_DOC}): convert it on a '
            'machine with the full install (run the node or interhand-run once with the same '
            'checkpoint, backend and cache_dir) and copy that cache folder here') from error
    return cache.store(key, lambda entry: writer.write_fp32(checkpoint, entry, options.refine))


def calibration_images(crops: np.ndarray) -> list[np.ndarray]:
    """256 x 256 x 3 uint8 crops -> the global part's 1 x 3 x 256 x 256 inputs in [0, 1], one
    per crop (as quantizers feed calibration data)."""
    return [crop.transpose(2, 0, 1)[None].astype(np.float32) / 255.0 for crop in crops]
