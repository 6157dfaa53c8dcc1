"""OpenVINO runtime for the network parts: fp32, bf16 (inference precision hint) and int8
(NNCF post-training quantization, built by interhand-quantize from the user's footage).

The parts are converted straight from the torch modules (openvino.convert_model, no ONNX) and
saved as IR with fp32 weights (compress_to_fp16 off: the fp32 model must equal torch's).
bf16 compiles the same IR with INFERENCE_PRECISION_HINT=bf16; it is offered only where the
device lists BF16 among its OPTIMIZATION_CAPABILITIES (native AVX-512 BF16 / AMX).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import openvino as ov
import torch

from interhand_ros.engine.cache import ModelCache
from interhand_ros.engine.model import INPUT_SIZE, InterNet
from interhand_ros.engine.parts import (
    GlobalPart,
    HandPart,
    example_features,
    example_images,
)
from interhand_ros.skeleton import SIDES

RUNTIME = 'openvino'
PART_NAMES = ('global',) + SIDES
_HINTS = {'fp32': 'f32', 'bf16': 'bf16', 'fp16': 'f16', 'int8': 'f32'}
_CAPABILITIES = {'bf16': 'BF16', 'fp16': 'FP16', 'int8': 'INT8'}
_FEATURES_SHAPE = [-1, 2048, INPUT_SIZE // 32, INPUT_SIZE // 32]


def version() -> str:
    return ov.__version__


def cpu_precisions() -> tuple[str, ...]:
    """fp32 plus the reduced precisions the CPU plugin reports native support for."""
    capabilities = set(ov.Core().get_property('CPU', 'OPTIMIZATION_CAPABILITIES'))
    return ('fp32',) + tuple(p for p, c in _CAPABILITIES.items() if c in capabilities)


def convert_parts(model: InterNet, refine: bool) -> dict[str, ov.Model]:
    """The three parts as OpenVINO models with a dynamic batch dimension."""
    features = example_features(model)
    with torch.no_grad():
        converted = {'global': ov.convert_model(
            GlobalPart(model).eval(), example_input=example_images(),
            input=[ov.PartialShape([-1, 3, INPUT_SIZE, INPUT_SIZE])])}
        for side, name in enumerate(SIDES):
            converted[name] = ov.convert_model(
                HandPart(model, side, refine).eval(), example_input=features,
                input=[ov.PartialShape(_FEATURES_SHAPE)])
    return converted


def save_parts(parts: dict[str, ov.Model], folder: Path) -> None:
    for name, part in parts.items():
        ov.save_model(part, folder / f'{name}.xml', compress_to_fp16=False)


def fp32_key(checkpoint_hash: str, refine: bool) -> dict[str, object]:
    from interhand_ros.engine.runtimes import model_key
    return model_key(checkpoint_hash, RUNTIME, version(), 'fp32', refine)


def int8_key(checkpoint_hash: str, refine: bool) -> dict[str, object]:
    from interhand_ros.engine.runtimes import model_key
    return model_key(checkpoint_hash, RUNTIME, version(), 'int8', refine)


def fp32_entry(model: Callable[[], InterNet], checkpoint_hash: str, cache: ModelCache,
               refine: bool) -> Path:
    """The cached fp32 IR of this checkpoint (converted and stored when absent or untrusted)."""
    return cache.load_or_build(fp32_key(checkpoint_hash, refine),
                               lambda folder: save_parts(convert_parts(model(), refine), folder))


class OpenVinoRuntime:
    """The three parts compiled for the CPU at one precision."""

    name = RUNTIME

    def __init__(self, requests: dict[str, ov.InferRequest], precision: str,
                 model_dir: Path | None = None) -> None:
        self._requests = requests
        self.precision = precision
        self.model_dir = model_dir

    def _infer(self, part: str, inputs: np.ndarray) -> tuple[np.ndarray, ...]:
        # share_outputs=False: zero-copy outputs would be overwritten by the next call.
        result = self._requests[part].infer({0: np.ascontiguousarray(inputs, np.float32)},
                                            share_inputs=True, share_outputs=False)
        return tuple(result[index] for index in range(len(result)))

    def run_global(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        features, root_m, presence = self._infer('global', images)
        return features, root_m, presence

    def run_hand(self, side: int, features: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        crop_xy, depth_rel, confidence = self._infer(SIDES[side], features)
        return crop_xy, depth_rel, confidence


def open_openvino(model: Callable[[], InterNet], checkpoint_hash: str, precision: str,
                  cache: ModelCache, threads: int = 0, refine: bool = False) -> OpenVinoRuntime:
    """The runtime from the cache: fp32 IR (converted when absent or untrusted) compiled at
    fp32 / bf16, or the int8 model interhand-quantize stored for this checkpoint."""
    from interhand_ros.engine.runtimes import BackendError
    if precision == 'int8':
        folder = cache.load(int8_key(checkpoint_hash, refine))
        if folder is None:
            raise BackendError(
                f'no int8 OpenVINO model of this checkpoint in {cache.root} (or it is corrupt '
                'or from another OpenVINO version): build one from your own footage with '
                '`interhand-quantize --checkpoint CHECKPOINT --images DIR|VIDEO|BAG '
                f'--cache-dir {cache.root}`')
    else:
        folder = fp32_entry(model, checkpoint_hash, cache, refine)
    return OpenVinoRuntime(compile_parts(read_parts(folder), precision, threads), precision,
                           folder)


def read_parts(folder: Path) -> dict[str, ov.Model]:
    core = ov.Core()
    return {name: core.read_model(folder / f'{name}.xml') for name in PART_NAMES}


def compile_parts(parts: dict[str, ov.Model], precision: str, threads: int = 0
                  ) -> dict[str, ov.InferRequest]:
    """One infer request per part, compiled for the CPU for latency (batch 1)."""
    core = ov.Core()
    config: dict[str, object] = {'INFERENCE_PRECISION_HINT': _HINTS[precision],
                                 'PERFORMANCE_HINT': 'LATENCY'}
    if threads:
        config['INFERENCE_NUM_THREADS'] = threads
    return {name: core.compile_model(part, 'CPU', config).create_infer_request()
            for name, part in parts.items()}
