"""The network's parts (engine.parts) as ONNX files: what the ONNX Runtime backend caches and
what interhand-export writes for ONNX Runtime, TensorRT and Jetson (docs/gpu.md).

Opset 18, dynamic batch, weights inside each file (they are far below ONNX's 2 GB limit), torch's
dynamo exporter. Input: float32 RGB in [0, 1], B x 3 x 256 x 256; outputs as named in
engine.parts. A library module, so the backend does not import the command-line tool.
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch

from interhand_ros.engine.model import InterNet
from interhand_ros.engine.parts import (
    GLOBAL_OUTPUTS,
    HAND_OUTPUTS,
    WHOLE_OUTPUTS,
    GlobalPart,
    HandPart,
    WholeNetwork,
    example_features,
    example_images,
)
from interhand_ros.skeleton import SIDES

OPSET = 18
_EXAMPLE_BATCH = 2  # not 1: torch.export would specialise a batch of one


def export_module(module: torch.nn.Module, example: torch.Tensor, input_name: str,
                  output_names: tuple[str, ...], path: Path) -> None:
    """One module to an ONNX file with a dynamic batch dimension."""
    batch = torch.export.Dim('batch', min=1, max=256)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        logging.getLogger('torch.onnx').setLevel(logging.ERROR)
        torch.onnx.export(module.eval(), (example,), str(path), input_names=[input_name],
                          output_names=list(output_names), opset_version=OPSET, dynamo=True,
                          dynamic_shapes=({0: batch},), external_data=False, verbose=False)


def export_parts(model: InterNet, folder: Path, refine: bool = False,
                 whole: bool = False) -> list[Path]:
    """The parts (and optionally the whole network) of a folded eval model as ONNX files."""
    folder.mkdir(parents=True, exist_ok=True)
    images = example_images(_EXAMPLE_BATCH)
    features = example_features(model, _EXAMPLE_BATCH)
    written = [folder / 'global.onnx']
    export_module(GlobalPart(model), images, 'images', GLOBAL_OUTPUTS, written[0])
    for side, name in enumerate(SIDES):
        written.append(folder / f'{name}.onnx')
        export_module(HandPart(model, side, refine), features, 'features', HAND_OUTPUTS,
                      written[-1])
    if whole:
        written.append(folder / 'network.onnx')
        export_module(WholeNetwork(model, refine), images, 'images', WHOLE_OUTPUTS, written[-1])
    return written
