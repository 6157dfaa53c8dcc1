"""`interhand-quantize`: a reduced-precision model calibrated and checked on the user's footage.

    interhand-quantize --checkpoint snapshot_20.pth.tar --images FOLDER|VIDEO|BAG
                       [--backend openvino|onnxruntime] [--precision int8|bf16]
                       [--max-error-px 4] [--max-error-mm 10] [--out DIR]

With random weights the heatmaps are nearly flat, so only trained weights on real hands can tell
how much int8 or bf16 moves the joints; this tool measures it where the model will run. The
frames are cropped as the node's per-frame chain crops them (processing/chain.py; its roi
source tracks the fp32 result as in the node) and split: every --held-out-every-th frame is
held out, the others calibrate.
int8: NNCF post-training quantization of the OpenVINO parts (the fully connected heads and the
decoding tail stay fp32). bf16: the fp32 IR compiled with the bf16 hint (nothing to build).
--backend onnxruntime (int8 only): static QDQ quantization of the ONNX global part, per-channel
weights (engine.backends.onnx_convert.quantize_parts says what stays fp32 and why).
The report (printed, and JSON) compares the candidate with fp32 on the held-out crops: per-joint
error in crop pixels and in mm after lifting, presence / handedness agreement, and the speed of
both. The model is stored in the model cache (and --out) only when it passes the thresholds
(or with --keep-failed); otherwise the exit status is 1 and the report says why.
Jobs: this module is the tool (flags, the run, the store); quantize_footage.py makes the crops,
quantize_report.py measures and judges, and the backend's module builds the candidate
(build_quantized), so a backend registered with `quantizes` is offered here with no edit.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from interhand_ros.engine.backends.base import Backend, BackendError, BackendOptions, ModelWriter
from interhand_ros.engine.backends.registry import (
    BACKENDS,
    build_quantized,
    check_precision,
    quantizable,
    stored_model_key,
)
from interhand_ros.engine.cache import ModelCache, file_sha256
from interhand_ros.engine.estimator import EngineConfig, InterNetEstimator, network_results
from interhand_ros.geometry.camera_yaml import DEFAULT_HORIZONTAL_FOV_DEG
from interhand_ros.runner.quantize_footage import collect_crops
from interhand_ros.runner.quantize_report import (
    Thresholds,
    compare,
    forward_ms,
    output_label,
    print_report,
    verdict,
)

LOG = logging.getLogger('interhand-quantize')


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='interhand-quantize', description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--checkpoint', type=Path, required=True, help='InterNet checkpoint')
    parser.add_argument('--images', type=Path, required=True,
                        help='your footage: image folder, video file or ROS 2 bag')
    parser.add_argument('--backend', choices=quantizable(), default='openvino',
                        help='backend the model is built for (' + '; '.join(
                            f'{name}: {", ".join(BACKENDS[name].quantizes)}'
                            for name in quantizable()) + ')')
    parser.add_argument('--precision', default='int8', choices=tuple(dict.fromkeys(
        precision for name in quantizable() for precision in BACKENDS[name].quantizes)))
    parser.add_argument('--out', type=Path, default=Path('.'),
                        help='folder for the report (<precision>_report.json; onnxruntime_'
                             '<precision>_report.json for onnxruntime) and a copy of the int8 '
                             'model')
    parser.add_argument('--cache-dir', default=None,
                        help='model cache (default: $INTERHAND_MODEL_CACHE or '
                             '~/.cache/interhand_ros/models); the node loads int8 from here')
    parser.add_argument('--max-error-px', type=float, default=4.0,
                        help='refuse when a joint moves more than this on average (crop px; '
                             '4 px = one heatmap voxel)')
    parser.add_argument('--max-error-mm', type=float, default=10.0,
                        help='refuse when a lifted joint moves more than this on average (mm)')
    parser.add_argument('--min-agreement', type=float, default=0.95,
                        help='refuse when fewer held-out crops detect the same hands as fp32')
    parser.add_argument('--max-frames', type=int, default=300, help='frames read at most')
    parser.add_argument('--held-out-every', type=int, default=4,
                        help='every N-th frame is held out for the report, the rest calibrate')
    parser.add_argument('--roi', choices=('full', 'detector', 'track'), default='detector',
                        help="crop source, as the node's roi.mode")
    parser.add_argument('--fov', type=float, default=DEFAULT_HORIZONTAL_FOV_DEG,
                        help='horizontal field of view guess (deg) when the input has no '
                             'CameraInfo (only scales the mm errors)')
    parser.add_argument('--depth-mode', choices=('hand_size', 'fixed'), default='hand_size',
                        help="root depth used for the mm errors, as the node's depth.mode")
    parser.add_argument('--fixed-depth', type=float, default=0.5,
                        help="m, wrist distance for --depth-mode fixed")
    parser.add_argument('--fps', type=float, default=10.0, help='frame rate of an image folder')
    parser.add_argument('--threads', type=int, default=0, help='CPU threads, 0 = all')
    parser.add_argument('--presence-threshold', type=float, default=0.5)
    parser.add_argument('--keep-failed', action='store_true',
                        help='store the model even when it fails the thresholds')
    return parser.parse_args(argv)


def quantized_key(checkpoint: Path, config: EngineConfig, precision: str) -> dict[str, object]:
    """The model cache key under which the node looks for the checkpoint's model at precision."""
    return stored_model_key(config.backend, file_sha256(checkpoint), precision, config.refine)


@contextlib.contextmanager
def built_quantized(reference: InterNetEstimator, calibration: np.ndarray, precision: str,
                    options: BackendOptions) -> Iterator[tuple[Backend, ModelWriter | None]]:
    """(candidate, writer of its files or None) built from the reference's fp32 backend in a
    scratch folder that lives as long as the block (the candidate may run from it)."""
    with tempfile.TemporaryDirectory(prefix='interhand-quantize-') as scratch:
        yield build_quantized(reference.config.backend, reference.backend, calibration,
                              precision, options, reference.config.presence_threshold,
                              Path(scratch))


def run(args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    """(report, good). Raises ValueError / BackendError for inputs or machines it cannot use."""
    check_precision(args.backend, args.precision)
    config = EngineConfig(device='cpu', backend=args.backend, cache_dir=args.cache_dir,
                          threads=args.threads, presence_threshold=args.presence_threshold,
                          depth_mode=args.depth_mode, fixed_depth_m=args.fixed_depth)
    reference = InterNetEstimator(args.checkpoint, config)
    calibration, held_out = collect_crops(args, reference)
    LOG.info('%d calibration and %d held-out crops', len(calibration), len(held_out))
    fp32 = reference.backend
    options = BackendOptions(precision=args.precision, cache_dir=args.cache_dir,
                             threads=args.threads)
    with built_quantized(reference, calibration, args.precision, options) as (candidate,
                                                                              write_model):
        crops = np.stack([item.crop for item in held_out])
        results = [network_results(backend.infer(crops, args.presence_threshold))
                   for backend in (fp32, candidate)]
        report = compare(results[0], results[1], held_out, config)
        report['speed_ms'] = {'fp32': forward_ms(fp32, crops[0]),
                              args.precision: forward_ms(candidate, crops[0])}
        limits = Thresholds(args.max_error_px, args.max_error_mm, args.min_agreement)
        reasons = verdict(report, limits)
        report.update({'backend': args.backend, 'precision': args.precision,
                       'checkpoint': str(args.checkpoint), 'input': str(args.images),
                       'roi': args.roi, 'calibration_crops': len(calibration),
                       'thresholds': vars(limits), 'good': not reasons, 'reasons': reasons})
        if write_model is not None and (not reasons or args.keep_failed):
            model = write_model

            def write(folder: Path) -> None:
                model(folder)
                (folder / 'report.json').write_text(json.dumps(report, indent=1))
            key = quantized_key(args.checkpoint, config, args.precision)
            report['model_dir'] = str(ModelCache(args.cache_dir).store(key, write))
    return report, not reasons


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format='%(name)s: %(message)s')
    args = parse_args(argv)
    try:
        report, good = run(args)
    except (ValueError, BackendError, OSError) as error:
        print(f'interhand-quantize: {error}', file=sys.stderr)
        return 2
    print_report(report)
    args.out.mkdir(parents=True, exist_ok=True)
    report_path = args.out / f'{output_label(report)}_report.json'
    report_path.write_text(json.dumps(report, indent=1))
    print(f'report written to {report_path}')
    if 'model_dir' in report:
        shutil.copytree(report['model_dir'], args.out / f'{output_label(report)}_model',
                        dirs_exist_ok=True)
    return 0 if good else 1


if __name__ == '__main__':
    sys.exit(main())
