"""ONNX Runtime for the network parts (fp32, CPU): the parts exported by engine.export, cached
like every compiled model (the key names ONNX Runtime's and torch's versions: the exporter is
torch's). Outputs are fresh arrays (ONNX Runtime copies them out)."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from interhand_ros.engine.cache import ModelCache
from interhand_ros.engine.model import InterNet
from interhand_ros.engine.parts import HAND_NAMES

RUNTIME = 'onnxruntime'
PART_NAMES = ('global',) + HAND_NAMES


def version() -> str:
    return f'{ort.__version__}+torch{torch.__version__}'


def fp32_key(checkpoint_hash: str, refine: bool) -> dict[str, object]:
    from interhand_ros.engine.runtimes import model_key
    return model_key(checkpoint_hash, RUNTIME, version(), 'fp32', refine)


class OnnxRuntime:
    """The three parts as ONNX Runtime sessions on the CPU."""

    name = RUNTIME

    def __init__(self, model: Callable[[], InterNet], checkpoint_hash: str, precision: str,
                 cache: ModelCache, threads: int = 0, refine: bool = False) -> None:
        from interhand_ros.engine.export import export_parts

        def write(folder: Path) -> None:
            export_parts(model(), folder, refine)
        self.precision = precision
        self.model_dir: Path | None = cache.load_or_build(fp32_key(checkpoint_hash, refine),
                                                          write)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # ONNX Runtime's default is one thread per physical core (1 on a 2-vCPU VM); use every
        # logical CPU like torch and OpenVINO unless told otherwise.
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        self._sessions = {
            name: ort.InferenceSession(str(self.model_dir / f'{name}.onnx'), options,
                                       providers=['CPUExecutionProvider'])
            for name in PART_NAMES}

    def run_global(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        features, root_m, presence = self._sessions['global'].run(
            None, {'images': np.ascontiguousarray(images, np.float32)})
        return features, root_m, presence

    def run_hand(self, side: int, features: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        crop_xy, depth_rel, confidence = self._sessions[HAND_NAMES[side]].run(
            None, {'features': np.ascontiguousarray(features, np.float32)})
        return crop_xy, depth_rel, confidence
