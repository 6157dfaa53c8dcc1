"""OpenVINO backend (CPU): fp32, bf16 (inference precision hint) and int8 (NNCF post-training
quantization, built by interhand-quantize from the user's footage).

The parts are converted straight from the torch modules (openvino.convert_model, no ONNX) and
saved as IR with fp32 weights (compress_to_fp16 off: the fp32 model must equal torch's).
bf16 compiles the same IR with INFERENCE_PRECISION_HINT=bf16; it is offered only where the
device lists BF16 among its OPTIMIZATION_CAPABILITIES (native AVX-512 BF16 / AMX).
int8 quantizes each part with NNCF on the user's crops; the fully connected heads (root depth,
presence: 0.02 % of the work) and the decoding tail stay fp32.
"""
from __future__ import annotations

import functools
import logging
from pathlib import Path

import numpy as np
import openvino as ov
import torch

from interhand_ros.engine.backends.base import Backend, BackendOptions, ModelWriter
from interhand_ros.engine.backends.compiled import (
    ModelSource,
    PartsBackend,
    cached_model_dir,
    calibration_images,
)
from interhand_ros.engine.model import InterNet
from interhand_ros.engine.parts import (
    GlobalPart,
    HandPart,
    example_features,
    example_images,
)
from interhand_ros.geometry.crop import INPUT_SIZE
from interhand_ros.skeleton import SIDES

NAME = 'openvino'
PART_NAMES = ('global',) + SIDES
_HINTS = {'fp32': 'f32', 'bf16': 'bf16', 'fp16': 'f16', 'int8': 'f32'}
_CAPABILITIES = {'bf16': 'BF16', 'fp16': 'FP16', 'int8': 'INT8'}
_FEATURES_SHAPE = [-1, 2048, INPUT_SIZE // 32, INPUT_SIZE // 32]


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


def write_fp32(model: ModelSource, folder: Path, refine: bool) -> None:
    """The fp32 IR of the folded network into a cache folder."""
    save_parts(convert_parts(model(), refine), folder)


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


def open_backend(checkpoint: Path, options: BackendOptions) -> OpenVinoBackend:
    """The cached fp32 IR (converted when absent or untrusted) compiled at fp32 / bf16, or the
    int8 model interhand-quantize stored for this checkpoint."""
    folder = cached_model_dir(NAME, 'OpenVINO', version(), checkpoint, options, write_fp32)
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


def build_quantized(fp32: Backend, calibration: np.ndarray, precision: str,
                    options: BackendOptions, presence_threshold: float, scratch: Path
                    ) -> tuple[OpenVinoBackend, ModelWriter | None]:
    """int8: the NNCF-quantized parts and their writer; bf16: the fp32 IR compiled with the
    bf16 hint (nothing to store)."""
    assert isinstance(fp32, OpenVinoBackend) and fp32.model_dir is not None
    if precision == 'bf16':
        parts = compile_parts(read_parts(fp32.model_dir), 'bf16', options.threads)
        return OpenVinoBackend(parts, 'bf16', fp32.model_dir), None
    int8_parts = quantize_int8(fp32, calibration, presence_threshold)
    return (OpenVinoBackend(compile_parts(int8_parts, 'int8', options.threads), 'int8'),
            lambda folder: save_parts(int8_parts, folder))


def quantize_int8(fp32: OpenVinoBackend, calibration: np.ndarray, presence_threshold: float
                  ) -> dict[str, ov.Model]:
    """NNCF int8 versions of the three parts, calibrated on the user's crops: the global part on
    every crop, each hand's part on the features of the crops where fp32 sees that hand (where
    it runs in the node), or on every crop when it sees it in none."""
    import nncf
    nncf.set_log_level(logging.WARNING)
    assert fp32.model_dir is not None
    parts = read_parts(fp32.model_dir)
    images = calibration_images(calibration)
    outputs = [fp32.run_global(image) for image in images]
    # The fully connected heads (root depth, presence) are 0.02 % of the work: keep them fp32.
    keep_fp32 = nncf.IgnoredScope(types=['MatMul'])
    quantized = {'global': nncf.quantize(parts['global'], nncf.Dataset(images),
                                         subset_size=len(images), ignored_scope=keep_fp32)}
    for side, name in enumerate(SIDES):
        features = [features for features, _, presence in outputs
                    if presence[0, side] >= presence_threshold] or [output[0] for output in outputs]
        quantized[name] = nncf.quantize(parts[name], nncf.Dataset(features),
                                        subset_size=len(features))
    return quantized
