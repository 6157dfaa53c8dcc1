"""Which runtime runs the network parts (engine.parts), and whether this machine can run it.

The torch path inside InterNetEstimator is the reference; a compiled runtime (OpenVINO, ONNX
Runtime) runs the same parts from a cached model file and hands back numpy arrays. A backend
that is not installed, or a precision the hardware has no native kernels for, is refused with
a BackendError saying what to do, never run at a crawl.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from interhand_ros.engine.cache import ModelCache, file_sha256
from interhand_ros.engine.model import InterNet
from interhand_ros.engine.parts import PARTS_VERSION
from interhand_ros.skeleton import LEFT_SLICE, NUM_MODEL_JOINTS, RIGHT_SLICE

# backend -> python module it needs; 'auto' tries them in this order (fastest exact first,
# measured in benchmarks/README.md), torch last: it is always there.
RUNTIME_MODULES = {'openvino': 'openvino', 'onnxruntime': 'onnxruntime'}
AUTO_ORDER = ('openvino', 'onnxruntime', 'torch')
ModelSource = Callable[[], InterNet]  # loads the folded network (only when a cache is built)


class BackendError(ValueError):
    """A backend or precision this machine cannot run (not installed, no native kernels)."""


class Runtime(Protocol):
    """Compiled network parts. Inputs and outputs are float32 numpy arrays it does not keep."""

    name: str
    precision: str
    model_dir: Path | None   # cache entry the model was loaded from

    def run_global(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """B x 3 x 256 x 256 in [0, 1] -> (features, root depth m (B,), presence (B, 2))."""

    def run_hand(self, side: int, features: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """features of B' crops -> (crop_xy (B', 21, 2), depth_rel_m (B', 21), conf (B', 21))."""


def installed(backend: str) -> bool:
    module = RUNTIME_MODULES.get(backend)
    return module is None or importlib.util.find_spec(module) is not None


def require_installed(backend: str) -> None:
    if not installed(backend):
        raise BackendError(
            f"backend {backend!r} needs the python package {RUNTIME_MODULES[backend]!r}, which "
            f"is not installed (pip install -r requirements.txt, or choose backend 'torch')")


def native_precisions(backend: str) -> tuple[str, ...]:
    """Precisions this backend runs with native kernels on this machine's CPU."""
    require_installed(backend)
    if backend == 'openvino':
        from interhand_ros.engine.openvino_backend import cpu_precisions
        return cpu_precisions()
    if backend == 'onnxruntime':
        from interhand_ros.engine.onnx_backend import cpu_precisions as onnx_precisions
        return onnx_precisions()
    import torch
    precisions = ['fp32']
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        precisions.append('bf16')
    if torch.ops.mkldnn._is_mkldnn_fp16_supported():
        precisions.append('fp16')
    return tuple(precisions)


def cpu_isa() -> str:
    import torch
    return torch.backends.cpu.get_cpu_capability()


def check_precision(backend: str, precision: str) -> None:
    """BackendError unless `backend` runs `precision` natively on this CPU."""
    supported = native_precisions(backend)
    if precision not in supported:
        raise BackendError(
            f'{precision} with backend {backend!r} has no native kernels on this CPU '
            f'(ISA {cpu_isa()}; this backend runs {", ".join(supported)} here) and would run far '
            'slower than fp32 or not at all; choose one of those')


def choose_backend(backend: str, precision: str, device: str) -> str:
    """Resolve 'auto': the first installed backend of AUTO_ORDER that runs `precision`
    natively (torch on a CUDA device); any other name is checked and returned."""
    if backend != 'auto':
        if backend != 'torch' and device != 'cpu':
            raise BackendError(f'backend {backend!r} runs on the CPU only here, not on '
                               f'{device!r}; use backend torch for CUDA')
        return backend
    if device != 'cpu':
        return 'torch'
    for candidate in AUTO_ORDER:
        if installed(candidate) and precision in native_precisions(candidate):
            return candidate
    raise BackendError(f'no installed backend runs {precision} natively on this CPU '
                       f'(ISA {cpu_isa()}); use fp32')


def model_key(checkpoint_hash: str, runtime: str, version: str, precision: str,
              refine: bool) -> dict[str, object]:
    """Everything a cached model depends on."""
    return {'checkpoint_sha256': checkpoint_hash, 'runtime': runtime,
            'runtime_version': version, 'precision': precision, 'refine': refine,
            'parts_version': PARTS_VERSION}


def open_runtime(backend: str, precision: str, model: ModelSource,
                 checkpoint: str | Path, cache_dir: str | Path | None,
                 threads: int, refine: bool) -> Runtime:
    """A compiled runtime (backend: openvino | onnxruntime) of a checkpoint; model() gives
    the folded eval-mode network, called only when the cache has to be (re)built."""
    require_installed(backend)
    check_precision(backend, precision)
    cache = ModelCache(cache_dir)
    checkpoint_hash = file_sha256(checkpoint)
    if backend == 'openvino':
        from interhand_ros.engine.openvino_backend import open_openvino
        return open_openvino(model, checkpoint_hash, precision, cache, threads, refine)
    if backend == 'onnxruntime':
        from interhand_ros.engine.onnx_backend import open_onnxruntime
        return open_onnxruntime(model, checkpoint_hash, precision, cache, threads, refine)
    raise BackendError(f'no compiled runtime called {backend!r}')


def run_parts(runtime: Runtime, crops: np.ndarray, presence_threshold: float
              ) -> tuple[np.ndarray, ...]:
    """B x 256 x 256 x 3 uint8 crops -> (crop_xy, depth_rel, confidence, root_m, presence),
    running a hand's part only for the crops in which that hand is present (as the torch path
    does); an absent hand's joints are NaN with confidence 0."""
    images = np.ascontiguousarray(crops.transpose(0, 3, 1, 2), dtype=np.float32)
    images *= np.float32(1.0 / 255.0)
    features, root_m, presence = runtime.run_global(images)
    batch = crops.shape[0]
    crop_xy = np.full((batch, NUM_MODEL_JOINTS, 2), np.nan, np.float32)
    depth_rel = np.full((batch, NUM_MODEL_JOINTS), np.nan, np.float32)
    confidence = np.zeros((batch, NUM_MODEL_JOINTS), np.float32)
    for side, joints in enumerate((RIGHT_SLICE, LEFT_SLICE)):
        rows = np.flatnonzero(presence[:, side] >= presence_threshold)
        if rows.size == 0:
            continue
        hand_features = features if rows.size == batch else features[rows]
        hand_xy, hand_depth, hand_confidence = runtime.run_hand(side, hand_features)
        crop_xy[rows, joints] = hand_xy
        depth_rel[rows, joints] = hand_depth
        confidence[rows, joints] = hand_confidence
    return crop_xy, depth_rel, confidence, root_m, presence
