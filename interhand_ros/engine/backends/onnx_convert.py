"""Builds the ONNX Runtime backend's models (its CONVERTER): needs torch (the exporter) and
onnxruntime.quantization for int8 (onnx_backend says what stays fp32 and why)."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from interhand_ros.engine.backends.base import Backend, BackendOptions, ModelWriter
from interhand_ros.engine.backends.compiled import calibration_images
from interhand_ros.engine.backends.onnx_backend import OnnxBackend
from interhand_ros.engine.checkpoint import load_internet
from interhand_ros.engine.model import fold_batchnorm
from interhand_ros.engine.onnx_export import export_parts
from interhand_ros.skeleton import SIDES

INT8_OP_TYPES = ('Conv',)  # quantized ops of the global part (the Gemm heads stay fp32)


def write_fp32(checkpoint: Path, folder: Path, refine: bool) -> None:
    """The fp32 ONNX parts of the checkpoint's folded network into a cache folder."""
    export_parts(fold_batchnorm(load_internet(checkpoint)), folder, refine)


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
