"""`interhand-export --checkpoint X --onnx OUT`: the network with its decoding as ONNX, for ONNX
Runtime, TensorRT (trtexec / torch-tensorrt) and Jetson; docs/gpu.md shows the next steps.

OUT is a folder with the three parts (global.onnx: images -> features, root depth, presence;
right.onnx / left.onnx: features -> one hand's decoded joints), which keep the absent-hand skip,
and with --whole also network.onnx (images -> all decoded outputs in one graph). Opset 18,
dynamic batch, weights inside each file (they are far below ONNX's 2 GB limit). Input: float32
RGB in [0, 1], B x 3 x 256 x 256; outputs as named in engine.parts.
"""
from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from interhand_ros.engine.checkpoint import CheckpointError, load_internet
from interhand_ros.engine.model import InterNet, fold_batchnorm
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


def check_with_onnxruntime(model: InterNet, folder: Path, refine: bool = False) -> float:
    """Largest difference of the decoded crop pixels between ONNX Runtime and torch on random
    crops of two batch sizes (the parts run one after the other)."""
    import onnxruntime as ort
    sessions = {name: ort.InferenceSession(str(folder / f'{name}.onnx'),
                                           providers=['CPUExecutionProvider'])
                for name in ('global', *SIDES)}
    worst = 0.0
    for batch in (1, 3):
        images = example_images(batch)
        with torch.no_grad():
            features = GlobalPart(model)(images)[0]
            expected = [HandPart(model, side, refine)(features)[0].numpy() for side in (0, 1)]
        onnx_features = sessions['global'].run(None, {'images': images.numpy()})[0]
        for side, name in enumerate(SIDES):
            crop_xy = sessions[name].run(None, {'features': onnx_features})[0]
            worst = max(worst, float(np.abs(crop_xy - expected[side]).max()))
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='interhand-export', description=__doc__.splitlines()[0])
    parser.add_argument('--checkpoint', type=Path, required=True)
    parser.add_argument('--onnx', type=Path, required=True, help='output folder')
    parser.add_argument('--whole', action='store_true',
                        help='also network.onnx: all parts in one graph (no absent-hand skip)')
    parser.add_argument('--refine', action='store_true', help='sub-voxel refinement in graph')
    parser.add_argument('--no-check', action='store_true',
                        help='skip the ONNX Runtime vs torch comparison')
    args = parser.parse_args(argv)
    try:
        model = fold_batchnorm(load_internet(args.checkpoint))
    except CheckpointError as error:
        print(f'interhand-export: {error}', file=sys.stderr)
        return 2
    for path in export_parts(model, args.onnx, args.refine, args.whole):
        print(f'wrote {path} ({path.stat().st_size / 2 ** 20:.0f} MiB)')
    if not args.no_check:
        difference = check_with_onnxruntime(model, args.onnx, args.refine)
        print(f'ONNX Runtime vs torch: largest crop-pixel difference {difference:g}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
