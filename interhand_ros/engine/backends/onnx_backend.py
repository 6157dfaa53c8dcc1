"""ONNX Runtime backend (CPU): fp32, and int8 built by interhand-quantize.

fp32: the parts exported by engine.onnx_export, cached like every compiled model (the key names ONNX
Runtime's and torch's versions: the exporter is torch's). int8: static QDQ quantization
(onnxruntime.quantization.quantize_static, per-channel int8 weights, uint8 activations)
of the global part's convolutions, calibrated on the user's crops. Kept in fp32: the fully
connected root-depth and presence heads and their softmax / sigmoid (ONNX Runtime's default
would quantize the presence output to 1/255 steps), and both hand parts. The hand parts are
deconvolutions, for which ONNX Runtime 1.32's CPU provider has no int8 kernel: QDQ deconvolutions
run dequantized, measured 70-79 ms per hand against 58-68 ms in fp32 on the Zen 4 machine; and
their 1x1 heatmap conv would hand the argmax a uint8 volume full of ties. Outputs are fresh
arrays (ONNX Runtime copies them out).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from interhand_ros.engine.backends.base import Backend, BackendOptions, ModelWriter, cpu_isa
from interhand_ros.engine.backends.compiled import (
    ModelSource,
    PartsBackend,
    cached_model_dir,
    calibration_images,
)
from interhand_ros.engine.onnx_export import export_parts
from interhand_ros.skeleton import SIDES

NAME = 'onnxruntime'
PART_NAMES = ('global',) + SIDES
INT8_OP_TYPES = ('Conv',)  # quantized ops of the global part (the Gemm heads stay fp32)
# x86 ISAs for which ONNX Runtime's MLAS has int8 GEMM kernels (AVX-VNNI / AVX512-VNNI fastest)
_INT8_ISAS = ('AVX2', 'AVX512')


def version() -> str:
    return f'{ort.__version__}+torch{torch.__version__}'


def native_precisions(device_type: str = 'cpu') -> tuple[str, ...]:
    """fp32, plus int8 where the CPU has MLAS's int8 kernels (torch's capability names it)."""
    return ('fp32', 'int8') if cpu_isa() in _INT8_ISAS else ('fp32',)


def write_fp32(model: ModelSource, folder: Path, refine: bool) -> None:
    """The fp32 ONNX parts of the folded network into a cache folder."""
    export_parts(model(), folder, refine)


def quantize_parts(fp32_dir: Path, images: list[np.ndarray], folder: Path) -> None:
    """Write the int8 parts into `folder`: the global part quantized (static QDQ, calibrated on
    `images`, each 1 x 3 x 256 x 256 in [0, 1]), the hand parts copied in fp32."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        """The calibration images, one feed per call, then None."""

        def __init__(self) -> None:
            self._feeds = iter({'images': np.ascontiguousarray(image, np.float32)}
                               for image in images)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._feeds, None)
    folder.mkdir(parents=True, exist_ok=True)
    quantize_static(str(fp32_dir / 'global.onnx'), str(folder / 'global.onnx'), Reader(),
                    quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    op_types_to_quantize=list(INT8_OP_TYPES))
    for name in SIDES:
        shutil.copyfile(fp32_dir / f'{name}.onnx', folder / f'{name}.onnx')


class OnnxBackend(PartsBackend):
    """The three parts as ONNX Runtime sessions on the CPU."""

    name = NAME

    def __init__(self, folder: Path, precision: str, threads: int = 0) -> None:
        self.precision = precision
        self.model_dir: Path | None = folder
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # ONNX Runtime's default is one thread per physical core (1 on a 2-vCPU VM); use every
        # logical CPU like torch and OpenVINO unless told otherwise.
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        self._sessions = {
            name: ort.InferenceSession(str(folder / f'{name}.onnx'), options,
                                       providers=['CPUExecutionProvider'])
            for name in PART_NAMES}

    def run_global(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        features, root_m, presence = self._sessions['global'].run(
            None, {'images': np.ascontiguousarray(images, np.float32)})
        return features, root_m, presence

    def run_hand(self, side: int, features: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        crop_xy, depth_rel, confidence = self._sessions[SIDES[side]].run(
            None, {'features': np.ascontiguousarray(features, np.float32)})
        return crop_xy, depth_rel, confidence


def open_backend(checkpoint: Path, options: BackendOptions) -> OnnxBackend:
    """The fp32 parts from the cache (exported when absent or untrusted), or the int8 parts
    interhand-quantize --backend onnxruntime stored for this checkpoint."""
    folder = cached_model_dir(NAME, 'ONNX Runtime', version(), checkpoint, options, write_fp32)
    return OnnxBackend(folder, options.precision, options.threads)


def build_quantized(fp32: Backend, calibration: np.ndarray, precision: str,
                    options: BackendOptions, presence_threshold: float, scratch: Path
                    ) -> tuple[OnnxBackend, ModelWriter | None]:
    """int8 (the only precision it builds): quantize_parts into `scratch`, and a writer that
    copies them into the cache."""
    assert fp32.model_dir is not None
    quantize_parts(fp32.model_dir, calibration_images(calibration), scratch)

    def copy(folder: Path) -> None:
        for path in scratch.iterdir():
            shutil.copyfile(path, folder / path.name)
    return OnnxBackend(scratch, precision, options.threads), copy
