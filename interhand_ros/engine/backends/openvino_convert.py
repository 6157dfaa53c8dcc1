"""Builds the OpenVINO backend's models (its CONVERTER): needs torch, and NNCF for int8.

The parts are converted straight from the torch modules (openvino.convert_model, no ONNX) and
saved as IR with fp32 weights (compress_to_fp16 off: the fp32 model must equal torch's).
int8 quantizes each part with NNCF on the user's crops; the fully connected heads (root depth,
presence: 0.02 % of the work) and the decoding tail stay fp32. bf16 stores nothing: it is the
fp32 IR compiled with a precision hint.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import openvino as ov
import torch

from interhand_ros.engine.backends.base import Backend, BackendOptions, ModelWriter
from interhand_ros.engine.backends.compiled import calibration_images
from interhand_ros.engine.backends.openvino_backend import (
    OpenVinoBackend,
    compile_parts,
    read_parts,
)
from interhand_ros.engine.checkpoint import load_internet
from interhand_ros.engine.model import InterNet, fold_batchnorm
from interhand_ros.engine.parts import (
    GlobalPart,
    HandPart,
    example_features,
    example_images,
)
from interhand_ros.geometry.crop import INPUT_SIZE
from interhand_ros.skeleton import SIDES

_FEATURES_SHAPE = [-1, 2048, INPUT_SIZE // 32, INPUT_SIZE // 32]


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


def write_fp32(checkpoint: Path, folder: Path, refine: bool) -> None:
    """The fp32 IR of the checkpoint's folded network into a cache folder."""
    save_parts(convert_parts(fold_batchnorm(load_internet(checkpoint)), refine), folder)


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
