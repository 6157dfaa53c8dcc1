"""OpenVINO backend (CPU): fp32, bf16 (inference precision hint) and int8 (NNCF post-training
quantization, built by interhand-quantize from the user's footage).

This module runs the IR kept in the model cache and imports no torch; openvino_convert (its
CONVERTER) converts the checkpoint and quantizes. bf16 compiles the fp32 IR with
INFERENCE_PRECISION_HINT=bf16; it is offered only where the device lists BF16 among its
OPTIMIZATION_CAPABILITIES (native AVX-512 BF16 / AMX).
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import openvino as ov

from interhand_ros.engine.backends.base import BackendOptions
from interhand_ros.engine.backends.compiled import PartsBackend, cached_model_dir
from interhand_ros.skeleton import SIDES

NAME = 'openvino'
CONVERTER = f'{__package__}.openvino_convert'
PART_NAMES = ('global',) + SIDES
_HINTS = {'fp32': 'f32', 'bf16': 'bf16', 'fp16': 'f16', 'int8': 'f32'}
_CAPABILITIES = {'bf16': 'BF16', 'fp16': 'FP16', 'int8': 'INT8'}


def version() -> str:
    return ov.__version__


@functools.cache
def core() -> ov.Core:
    """The process's one OpenVINO runtime core (each new one reloads the plugin registry): the
    capability query, reading and compiling share it. Settings go to each compile_model call,
    never onto the shared core."""
    return ov.Core()


def native_precisions(device_type: str = 'cpu') -> tuple[str, ...]:
    """fp32 plus the reduced precisions the CPU plugin reports native support for."""
    capabilities = set(core().get_property('CPU', 'OPTIMIZATION_CAPABILITIES'))
    return ('fp32',) + tuple(p for p, c in _CAPABILITIES.items() if c in capabilities)


class OpenVinoBackend(PartsBackend):
    """The three parts compiled for the CPU at one precision."""

    name = NAME

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

    def run_hands(self, features: dict[int, np.ndarray]
                  ) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Both hands' requests started together, then collected: the two heads (each its own
        compiled model and request) share the CPU's cores instead of taking turns. The same
        computation as one after the other: equal outputs."""
        if len(features) < 2:
            return super().run_hands(features)
        inputs = {side: np.ascontiguousarray(value, np.float32) for side, value in features.items()}
        requests = {side: self._requests[SIDES[side]] for side in inputs}
        for side, request in requests.items():
            request.start_async({0: inputs[side]}, share_inputs=True)
        decoded = {}
        for side, request in requests.items():
            request.wait()
            crop_xy, depth_rel, confidence = (request.get_output_tensor(index).data.copy()
                                              for index in range(3))
            decoded[side] = (crop_xy, depth_rel, confidence)
        return decoded


def open_backend(checkpoint: Path, options: BackendOptions) -> OpenVinoBackend:
    """The cached fp32 IR (converted when absent or untrusted) compiled at fp32 / bf16, or the
    int8 model interhand-quantize stored for this checkpoint."""
    folder = cached_model_dir(NAME, 'OpenVINO', version(), checkpoint, options, CONVERTER)
    return OpenVinoBackend(compile_parts(read_parts(folder), options.precision, options.threads),
                           options.precision, folder)


def read_parts(folder: Path) -> dict[str, ov.Model]:
    return {name: core().read_model(folder / f'{name}.xml') for name in PART_NAMES}


def compile_parts(parts: dict[str, ov.Model], precision: str, threads: int = 0
                  ) -> dict[str, ov.InferRequest]:
    """One infer request per part, compiled for the CPU for latency (batch 1)."""
    config: dict[str, object] = {'INFERENCE_PRECISION_HINT': _HINTS[precision],
                                 'PERFORMANCE_HINT': 'LATENCY'}
    if threads:
        config['INFERENCE_NUM_THREADS'] = threads
    return {name: core().compile_model(part, 'CPU', config).create_infer_request()
            for name, part in parts.items()}
