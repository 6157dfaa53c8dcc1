"""`interhand-quantize`: a reduced-precision model calibrated and checked on the user's footage.

    interhand-quantize --checkpoint snapshot_20.pth.tar --images FOLDER|VIDEO|BAG
                       [--backend openvino|onnxruntime] [--precision int8|bf16]
                       [--max-error-px 4] [--max-error-mm 10] [--out DIR]

With random weights the heatmaps are nearly flat, so only trained weights on real hands can tell
how much int8 or bf16 moves the joints; this tool measures it where the model will run. The
frames are cropped by the node's crop source (roi.RoiSource, tracking the fp32 result as the
node does) and split: every --held-out-every-th frame is held out, the others calibrate.
int8: NNCF post-training quantization of the OpenVINO parts (the fully connected heads and the
decoding tail stay fp32). bf16: the fp32 IR compiled with the bf16 hint (nothing to build).
--backend onnxruntime (int8 only): static QDQ quantization of the ONNX global part, per-channel
weights (engine.onnx_backend.quantize_parts says what stays fp32 and why).
The report (printed, and JSON) compares the candidate with fp32 on the held-out crops: per-joint
error in crop pixels and in mm after lifting, presence / handedness agreement, and the speed of
both. The model is stored in the model cache (and --out) only when it passes the thresholds
(or with --keep-failed); otherwise the exit status is 1 and the report says why.
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from interhand_ros.engine.cache import ModelCache, file_sha256
from interhand_ros.engine.internet import (
    EngineConfig,
    InterNetEstimator,
    NetworkResult,
    lift_two_hands,
    network_crop,
    network_results,
)
from interhand_ros.engine.runtimes import BackendError, Runtime, check_precision, run_parts
from interhand_ros.estimate import Box, TwoHandEstimate
from interhand_ros.geometry.camera_yaml import DEFAULT_HORIZONTAL_FOV_DEG
from interhand_ros.skeleton import LEFT_SLICE, NUM_MODEL_JOINTS, RIGHT_SLICE, SIDES

LOG = logging.getLogger('interhand-quantize')
QUANTIZED_PRECISIONS = ('int8', 'bf16')
QUANTIZED_BACKENDS = ('openvino', 'onnxruntime')
ModelWriter = Callable[[Path], None]  # writes the candidate's model files into a cache folder
_SPEED_REPEATS = 10


@dataclass
class HeldOut:
    """One held-out crop with what lifting its result needs."""

    crop: np.ndarray
    box: Box
    inverse: np.ndarray
    camera: Any


@dataclass
class Thresholds:
    max_error_px: float      # worst joint's mean error, crop pixels
    max_error_mm: float      # worst joint's mean error after lifting, mm
    min_agreement: float     # fraction of held-out crops with the same hands detected


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='interhand-quantize', description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--checkpoint', type=Path, required=True, help='InterNet checkpoint')
    parser.add_argument('--images', type=Path, required=True,
                        help='your footage: image folder, video file or ROS 2 bag')
    parser.add_argument('--backend', choices=QUANTIZED_BACKENDS, default='openvino',
                        help='runtime the model is built for (onnxruntime: int8 only)')
    parser.add_argument('--precision', choices=QUANTIZED_PRECISIONS, default='int8')
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


def open_frames(path: Path, fps: float) -> tuple[Iterator[Any], Any]:
    """(frames, source with close()) of a folder / video / bag, read by interhand-run's readers."""
    from interhand_ros.runner.inputs import FolderInput, VideoInput, input_kind
    kind = input_kind(path)
    if kind == 'video':
        source: Any = VideoInput(path)
    elif kind == 'folder':
        source = FolderInput(path, fps)
    else:
        from interhand_ros.runner.bag import BagInput
        source = BagInput(path, None, None)
    return source.frames(), source


def camera_of(frame: Any, fov: float) -> Any:
    from interhand_ros.geometry.camera import CameraModel
    from interhand_ros.geometry.camera_yaml import guess_camera_info
    height, width = frame.image_rgb.shape[:2]
    info = frame.camera_info or guess_camera_info(width, height, fov)
    return CameraModel.from_camera_info(info, rectified=False).for_image(width, height)


def collect_crops(args: argparse.Namespace, reference: InterNetEstimator
                  ) -> tuple[np.ndarray, list[HeldOut]]:
    """(calibration crops, held-out crops) through the node's crop source; the crop source
    tracks the fp32 estimate of each frame, as it does in the node."""
    from interhand_ros.roi import RoiConfig, RoiSource
    frames, source = open_frames(args.images, args.fps)
    roi = RoiSource(RoiConfig(mode=args.roi))
    calibration, held_out = [], []
    try:
        for index, frame in enumerate(frames):
            if index >= args.max_frames:
                break
            camera = camera_of(frame, args.fov)
            box = roi.roi_for(frame.image_rgb, frame.stamp_ns * 1e-9)
            crop, square, inverse = network_crop(frame.image_rgb, box)
            roi.update(reference.estimate(frame.image_rgb, camera, box))
            if index % args.held_out_every == args.held_out_every - 1:
                held_out.append(HeldOut(crop, square, inverse, camera))
            else:
                calibration.append(crop)
    finally:
        roi.close()
        source.close()
    if not calibration or not held_out:
        raise ValueError(f'{args.images} gave {len(calibration)} calibration and '
                         f'{len(held_out)} held-out frames; need at least one of each '
                         f'(every {args.held_out_every}th frame is held out)')
    return np.stack(calibration), held_out


def network_images(crops: np.ndarray) -> list[np.ndarray]:
    """256 x 256 x 3 uint8 crops -> the global part's 1 x 3 x 256 x 256 inputs in [0, 1]."""
    return [crop.transpose(2, 0, 1)[None].astype(np.float32) / 255.0 for crop in crops]


def quantize_int8(reference: InterNetEstimator, calibration: np.ndarray) -> dict[str, Any]:
    """NNCF int8 versions of the three OpenVINO parts, calibrated on the user's crops: the
    global part on every crop, each hand's part on the features of the crops where fp32 sees
    that hand (where it runs in the node), or on every crop when it sees it in none."""
    import nncf
    nncf.set_log_level(logging.WARNING)

    from interhand_ros.engine.openvino_backend import read_parts
    runtime = reference.runtime
    assert runtime is not None and runtime.model_dir is not None
    parts = read_parts(runtime.model_dir)
    images = network_images(calibration)
    outputs = [runtime.run_global(image) for image in images]
    threshold = reference.config.presence_threshold
    # The fully connected heads (root depth, presence) are 0.02 % of the work: keep them fp32.
    keep_fp32 = nncf.IgnoredScope(types=['MatMul'])
    quantized = {'global': nncf.quantize(parts['global'], nncf.Dataset(images),
                                         subset_size=len(images), ignored_scope=keep_fp32)}
    for side, name in enumerate(SIDES):
        features = [features for features, _, presence in outputs
                    if presence[0, side] >= threshold] or [output[0] for output in outputs]
        quantized[name] = nncf.quantize(parts[name], nncf.Dataset(features),
                                        subset_size=len(features))
    return quantized


def forward_ms(runtime: Runtime, crop: np.ndarray) -> float:
    """Median ms of the parts on one crop with both hands' parts run."""
    times = []
    for _ in range(_SPEED_REPEATS + 1):
        start = time.perf_counter()
        run_parts(runtime, crop[None], 0.0)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:]) * 1e3


def compare(reference: list[NetworkResult], candidate: list[NetworkResult],
            held_out: list[HeldOut], config: EngineConfig) -> dict[str, Any]:
    """Per-joint errors of candidate vs reference on the hands both detect, and agreement."""
    pixel_errors: list[list[float]] = [[] for _ in range(NUM_MODEL_JOINTS)]
    metre_errors: list[list[float]] = [[] for _ in range(NUM_MODEL_JOINTS)]
    agree = 0
    for ref, cand, item in zip(reference, candidate, held_out):
        lifted = [lift_two_hands(result, item.inverse, item.camera, None, config, item.box)
                  for result in (ref, cand)]
        detected = [tuple(hand.detected for hand in estimate.hands()) for estimate in lifted]
        agree += detected[0] == detected[1]
        for side, joints in zip(SIDES, (RIGHT_SLICE, LEFT_SLICE)):
            hands = [getattr(estimate, side) for estimate in lifted]
            if not (hands[0].detected and hands[1].detected):
                continue
            pixels = np.linalg.norm(ref.crop_xy[joints] - cand.crop_xy[joints], axis=1)
            metres = _lifted_error(lifted[0], lifted[1], side)
            for joint, (px, m) in enumerate(zip(pixels, metres)):
                if np.isfinite(px):
                    pixel_errors[joints.start + joint].append(float(px))
                if np.isfinite(m):
                    metre_errors[joints.start + joint].append(float(m))
    return {'held_out_crops': len(held_out),
            'presence_handedness_agreement': agree / len(held_out),
            'per_joint_error_px': _stats(pixel_errors, 1.0),
            'per_joint_error_mm': _stats(metre_errors, 1e3)}


def _lifted_error(reference: TwoHandEstimate, candidate: TwoHandEstimate, side: str
                  ) -> np.ndarray:
    ref, cand = getattr(reference, side), getattr(candidate, side)
    if ref.joints is None or cand.joints is None:
        return np.full(NUM_MODEL_JOINTS // 2, np.nan)
    return np.linalg.norm(np.asarray(ref.joints) - np.asarray(cand.joints), axis=1)


def _stats(errors: list[list[float]], scale: float) -> dict[str, Any]:
    means = [float(np.mean(e)) * scale if e else None for e in errors]
    values = [v * scale for e in errors for v in e]
    return {'mean_per_joint': means,
            'worst_joint_mean': max((m for m in means if m is not None), default=None),
            'mean': float(np.mean(values)) if values else None,
            'p95': float(np.percentile(values, 95)) if values else None,
            'max': float(np.max(values)) if values else None,
            'samples': len(values)}


def verdict(report: dict[str, Any], limits: Thresholds) -> list[str]:
    """Reasons the candidate is not good (empty: good)."""
    reasons = []
    agreement = report['presence_handedness_agreement']
    if agreement < limits.min_agreement:
        reasons.append(f'the same hands are detected in only {agreement:.1%} of the held-out '
                       f'crops (< {limits.min_agreement:.1%})')
    for key, limit, unit in (('per_joint_error_px', limits.max_error_px, 'crop px'),
                             ('per_joint_error_mm', limits.max_error_mm, 'mm')):
        worst = report[key]['worst_joint_mean']
        if worst is None:
            reasons.append(f'{unit} error unmeasured: no joint found (or, for mm, lifted to '
                           '3D) by both fp32 and the candidate; use footage with hands in view')
        elif worst > limit:
            reasons.append(f'worst joint moves {worst:.2f} {unit} on average (> {limit:g})')
    return reasons


def build_candidate(args: argparse.Namespace, reference: InterNetEstimator,
                    calibration: np.ndarray, scratch: Path
                    ) -> tuple[Runtime, ModelWriter | None]:
    """(the candidate runtime, the writer of its model files; None when there is nothing to
    store, as for bf16, which compiles the cached fp32 model)."""
    runtime = reference.runtime
    assert runtime is not None and runtime.model_dir is not None
    if args.backend == 'onnxruntime':
        from interhand_ros.engine.onnx_backend import OnnxRuntime
        int8_writer('onnxruntime', reference, calibration)(scratch)

        def copy(folder: Path) -> None:
            for path in scratch.iterdir():
                shutil.copyfile(path, folder / path.name)
        return OnnxRuntime(scratch, 'int8', args.threads), copy
    from interhand_ros.engine.openvino_backend import (
        OpenVinoRuntime,
        compile_parts,
        read_parts,
        save_parts,
    )
    if args.precision == 'int8':
        int8_parts = quantize_int8(reference, calibration)
        return (OpenVinoRuntime(compile_parts(int8_parts, 'int8', args.threads), 'int8'),
                lambda folder: save_parts(int8_parts, folder))
    return OpenVinoRuntime(compile_parts(read_parts(runtime.model_dir), 'bf16', args.threads),
                           'bf16', runtime.model_dir), None


def int8_writer(backend: str, reference: InterNetEstimator, calibration: np.ndarray
                ) -> ModelWriter:
    """The writer of `backend`'s int8 model files calibrated on `calibration` crops
    (`reference` runs the cached fp32 model of that backend)."""
    runtime = reference.runtime
    assert runtime is not None and runtime.model_dir is not None
    if backend == 'onnxruntime':
        from interhand_ros.engine.onnx_backend import quantize_parts
        fp32_dir, images = runtime.model_dir, network_images(calibration)
        return lambda folder: quantize_parts(fp32_dir, images, folder)
    from interhand_ros.engine.openvino_backend import save_parts
    parts = quantize_int8(reference, calibration)
    return lambda folder: save_parts(parts, folder)


def model_key(backend: str, checkpoint: Path, refine: bool) -> dict[str, object]:
    """The cache key under which `backend` loads the int8 model of `checkpoint`."""
    if backend == 'onnxruntime':
        from interhand_ros.engine.onnx_backend import int8_key
    else:
        from interhand_ros.engine.openvino_backend import int8_key
    return int8_key(file_sha256(checkpoint), refine)


def run(args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    """(report, good). Raises ValueError / BackendError for inputs or machines it cannot use."""
    check_precision(args.backend, args.precision)
    config = EngineConfig(device='cpu', backend=args.backend, cache_dir=args.cache_dir,
                          threads=args.threads, presence_threshold=args.presence_threshold,
                          depth_mode=args.depth_mode, fixed_depth_m=args.fixed_depth)
    reference = InterNetEstimator(args.checkpoint, config)
    calibration, held_out = collect_crops(args, reference)
    LOG.info('%d calibration and %d held-out crops', len(calibration), len(held_out))
    assert reference.runtime is not None
    with tempfile.TemporaryDirectory(prefix='interhand-quantize-') as scratch:
        candidate, write_model = build_candidate(args, reference, calibration, Path(scratch))
        crops = np.stack([item.crop for item in held_out])
        results = [network_results(run_parts(runtime, crops, args.presence_threshold))
                   for runtime in (reference.runtime, candidate)]
        report = compare(results[0], results[1], held_out, config)
        report['speed_ms'] = {'fp32': forward_ms(reference.runtime, crops[0]),
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
            key = model_key(args.backend, args.checkpoint, config.refine)
            report['model_dir'] = str(ModelCache(args.cache_dir).store(key, write))
    return report, not reasons


def output_label(report: dict[str, Any]) -> str:
    """File name stem in --out: <precision> for OpenVINO (the default), else backend_precision."""
    if report.get('backend', 'openvino') == 'openvino':
        return str(report['precision'])
    return f"{report['backend']}_{report['precision']}"


def print_report(report: dict[str, Any]) -> None:
    px, mm = report['per_joint_error_px'], report['per_joint_error_mm']

    def number(value: float | None, unit: str) -> str:
        return 'n/a' if value is None else f'{value:.2f} {unit}'
    print(f"{report['backend']} {report['precision']} vs fp32 on {report['held_out_crops']} "
          f"held-out crops ({report['calibration_crops']} calibration crops, roi "
          f"{report['roi']}):")
    print(f"  joint error, crop px: mean {number(px['mean'], 'px')}, p95 "
          f"{number(px['p95'], 'px')}, max {number(px['max'], 'px')}, worst joint's mean "
          f"{number(px['worst_joint_mean'], 'px')} ({px['samples']} joints)")
    print(f"  joint error after lifting: mean {number(mm['mean'], 'mm')}, p95 "
          f"{number(mm['p95'], 'mm')}, worst joint's mean {number(mm['worst_joint_mean'], 'mm')}")
    print(f"  presence / handedness agreement: {report['presence_handedness_agreement']:.1%}")
    speed = report['speed_ms']
    print('  speed (parts, both hands, one crop): ' + ', '.join(
        f'{name} {ms:.1f} ms' for name, ms in speed.items()))
    if report['good']:
        print(f"GOOD: within the thresholds {report['thresholds']}")
    else:
        print('NOT GOOD: ' + '; '.join(report['reasons']))
    if 'model_dir' in report:
        print(f"model stored in {report['model_dir']}")


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
