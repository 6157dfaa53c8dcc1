"""`interhand-export --checkpoint X --onnx OUT`: the network with its decoding as ONNX, for ONNX
Runtime, TensorRT (trtexec / torch-tensorrt) and Jetson; docs/gpu.md shows the next steps.

OUT is a folder with the three parts (global.onnx: images -> features, root depth, presence;
right.onnx / left.onnx: features -> one hand's decoded joints), which keep the absent-hand skip,
and with --whole also network.onnx (images -> all decoded outputs in one graph). Opset 18,
dynamic batch, weights inside each file (engine.onnx_export writes them). Input: float32 RGB in
[0, 1], B x 3 x 256 x 256; outputs as named in engine.parts.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from interhand_ros.engine.checkpoint import CheckpointError, load_internet
from interhand_ros.engine.model import InterNet, fold_batchnorm
from interhand_ros.engine.onnx_export import export_parts
from interhand_ros.engine.parts import GlobalPart, HandPart, example_images
from interhand_ros.skeleton import SIDES


def check_with_onnxruntime(model: InterNet, folder: Path, refine: bool = False) -> float:
    """Largest difference of the decoded crop pixels between ONNX Runtime and torch on random
    crops of two batch sizes (the parts run one after the other)."""
    from interhand_ros.engine.backends.onnx_backend import OnnxBackend
    backend = OnnxBackend(folder, 'fp32')
    worst = 0.0
    for batch in (1, 3):
        images = example_images(batch)
        with torch.no_grad():
            features = GlobalPart(model)(images)[0]
            expected = [HandPart(model, side, refine)(features)[0].numpy() for side in (0, 1)]
        onnx_features = backend.run_global(images.numpy())[0]
        for side in range(len(SIDES)):
            crop_xy = backend.run_hand(side, onnx_features)[0]
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
