"""ONNX Runtime backend (CPU): fp32, and int8 built by interhand-quantize.

This module runs the ONNX parts kept in the model cache and imports no torch; onnx_convert (its
CONVERTER) exports the checkpoint (engine.onnx_export, torch's exporter) and quantizes. The cache
key names ONNX Runtime's version only: an ONNX file is the same model whichever torch wrote it,
so a cache copied from another machine runs where torch is not installed.

int8: static QDQ quantization (onnxruntime.quantization.quantize_static, per-channel int8
weights, uint8 activations) of the global part's convolutions, calibrated on the user's crops.
Kept in fp32: the fully connected root-depth and presence heads and their softmax / sigmoid
(ONNX Runtime's default would quantize the presence output to 1/255 steps), and both hand
parts. The hand parts are deconvolutions, for which ONNX Runtime 1.32's CPU provider has no int8
kernel: QDQ deconvolutions run dequantized, measured 70-79 ms per hand against 58-68 ms in fp32
on the Zen 4 machine; and their 1x1 heatmap conv would hand the argmax a uint8 volume full of
ties. Outputs are fresh arrays (ONNX Runtime copies them out).
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort

from interhand_ros.engine.backends.base import BackendOptions, cpu_isa
from interhand_ros.engine.backends.compiled import PartsBackend, cached_model_dir
from interhand_ros.skeleton import SIDES

NAME = 'onnxruntime'
CONVERTER = f'{__package__}.onnx_convert'
PART_NAMES = ('global',) + SIDES
# x86 ISAs for which ONNX Runtime's MLAS has int8 GEMM kernels (AVX-VNNI / AVX512-VNNI fastest)
_INT8_ISAS = ('AVX2', 'AVX512')


def version() -> str:
    return str(ort.__version__)


def native_precisions(device_type: str = 'cpu') -> tuple[str, ...]:
    """fp32, plus int8 where the CPU has MLAS's int8 kernels (base.cpu_isa names it)."""
    return ('fp32', 'int8') if cpu_isa() in _INT8_ISAS else ('fp32',)


@functools.cache
def share_one_arena() -> None:
    """Register one CPU memory arena for every session of the process (once). By default each
    session keeps an arena of its own at its own peak, so the three parts held the sum of their
    working memory; sharing one holds the largest part's: 413 -> 309 MB RSS for the int8 parts
    after a few frames, the same CPU time per frame (measured 2026-12-07, Zen 4, busy)."""
    memory = ort.OrtMemoryInfo('Cpu', ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0,
                               ort.OrtMemType.DEFAULT)
    ort.create_and_register_allocator(memory, ort.OrtArenaCfg(0, 0, -1, -1))  # ORT's defaults


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
        share_one_arena()
        options.add_session_config_entry('session.use_env_allocators', '1')
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
    folder = cached_model_dir(NAME, 'ONNX Runtime', version(), checkpoint, options, CONVERTER)
    return OnnxBackend(folder, options.precision, options.threads)
