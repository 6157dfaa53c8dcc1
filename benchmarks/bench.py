"""Speed of every runtime on this machine, side by side in one run: `make bench`.

Cases: the official layers in torch fp32 (the reference: unfolded BatchNorm, the official
concatenated heatmaps decoded afterwards), then the engine with every backend x precision this
CPU runs natively (e.g. torch fp32 / bf16, OpenVINO fp32 / bf16 / int8, ONNX Runtime fp32 /
int8: engine/backends/registry.native_precisions). For each:
- network: one crop through the network and its decoding, both hands (ms, median and p90),
- pipeline: estimate() on a 640x480 and a 1280x720 image with an ROI box (crop, network,
  decoding, lifting with the hand-size prior), both hands present,
wall and process CPU time, the speed-up over the reference, RSS (steady, after the runs) and
peak RSS (including loading / converting). Each case runs in its own process so their memory
does not add up; the reference runs first and again last (the faster run is used for the
ratios). Then the node as deployed (node_bench.py): the real hands_node process (alone and
through hands.launch.py) under a camera in another process over real DDS with the Fast DDS
profile, for the fastest exact runtime (`checkpoint:=X` alone), the fastest (int8), torch, the
one-hand weights and the landmark fallback: frames delivered, output rate, pose age, node CPU
and RSS, and where a frame's time goes in the node.
Speed does not depend on the weights' values: random weights unless --checkpoint is given,
made to behave like a trained model tracking two hands (benchmarks/random_weights.py: both
hands present, so the whole network runs; joints the roi source tracks, so the roi detector
runs every roi.detect_every frames), with a one-hand row of its own. int8 without a model from
interhand-quantize in the cache is calibrated on random crops (speed only; for --checkpoint
into a temporary cache, for the bench's own weights into the model cache, where the launched
node finds it). Wall times on a shared CPU include other processes' load; CPU time is what
the case itself used.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.node_bench import DEFAULT_CASES, PROFILE, expand, parse_case, run_node_cases
from benchmarks.random_weights import save_bench_checkpoint

PIPELINE_SIZES = ((640, 480), (1280, 720))
REFERENCE = 'official-torch:fp32'
REFERENCE_AGAIN = 'official-torch:fp32 (again, last)'  # load drifts: the faster one is used
EXACT = 'fp32'


# ----------------------------------------------------------------------------- measuring

def timed(run: Callable[[], object], repeats: int, warmup: int) -> dict[str, float]:
    """Median / p90 wall ms and median process-CPU ms of `repeats` calls after `warmup`."""
    for _ in range(warmup):
        run()
    wall, cpu = [], []
    for _ in range(repeats):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        run()
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
    return {'median_ms': statistics.median(wall) * 1e3,
            'p90_ms': float(np.percentile(wall, 90)) * 1e3,
            'cpu_ms': statistics.median(cpu) * 1e3}


def memory_mb() -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak) of this process, MB."""
    values = {}
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith(('VmRSS:', 'VmHWM:')):
            name, kilobytes = line.split()[:2]
            values['rss_mb' if name == 'VmRSS:' else 'peak_rss_mb'] = int(kilobytes) / 1024
    return values


def bench_image(size: tuple[int, int]) -> tuple[np.ndarray, Any, Any]:
    from interhand_ros.geometry.box import Box
    from interhand_ros.geometry.camera import CameraModel
    width, height = size
    image = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    camera = CameraModel.from_intrinsics(
        np.array([[0.9 * width, 0, width / 2], [0, 0.9 * width, height / 2], [0, 0, 1]]),
        width, height, np.array([-0.1, 0.02, 0.0, 0.0, 0.0]))
    return image, camera, Box(width * 0.3, height * 0.25, width * 0.35, height * 0.45)


def measure_reference(checkpoint: Path, repeats: int, warmup: int) -> dict[str, Any]:
    """The official network as published: plain layers, concatenated heatmaps, then decoding."""
    import torch

    from interhand_ros.engine.checkpoint import load_internet
    from interhand_ros.engine.decoding import decode_heatmaps, root_bins_to_metres
    from interhand_ros.engine.estimator import (
        EngineConfig,
        lift_two_hands,
        network_crop,
        network_results,
    )
    model = load_internet(checkpoint)
    config = EngineConfig(device='cpu', presence_threshold=0.0, depth_mode='hand_size')

    def network(crop: np.ndarray) -> Any:
        images = torch.from_numpy(crop[None]).permute(0, 3, 1, 2).float().div_(255.0)
        with torch.inference_mode():
            output = model(images)
            decoded = decode_heatmaps(output.heatmaps)
            return network_results(tuple(t.numpy() for t in (
                *decoded, root_bins_to_metres(output.root_depth_bins), output.hand_presence)))

    crop = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    results: dict[str, Any] = {'network': timed(lambda: network(crop), repeats, warmup)}
    for size in PIPELINE_SIZES:
        image, camera, box = bench_image(size)

        def pipeline(image: np.ndarray = image, camera: Any = camera, box: Any = box) -> None:
            patch, square, inverse = network_crop(image, box)
            lift_two_hands(network(patch)[0], inverse, camera.for_image(*image.shape[1::-1]),
                           None, config, square)
        results[f'pipeline_{size[0]}x{size[1]}'] = timed(pipeline, repeats, warmup)
    return results


def measure_engine(checkpoint: Path, backend: str, precision: str, cache_dir: str,
                   repeats: int, warmup: int) -> dict[str, Any]:
    from interhand_ros.engine.estimator import InterNetEstimator
    from interhand_ros.processing.factory import EstimatorSettings, build_estimator
    started = time.perf_counter()
    estimator = build_estimator(EstimatorSettings(
        checkpoint=str(checkpoint), backend=backend, precision=precision, device='cpu',
        cache_dir=cache_dir, presence_threshold=0.0, depth_mode='hand_size'), warn=print)
    assert isinstance(estimator, InterNetEstimator)
    results: dict[str, Any] = {'start_s': time.perf_counter() - started,
                               'describe': estimator.details()}
    crops = np.random.default_rng(0).integers(0, 256, (1, 256, 256, 3), dtype=np.uint8)
    results['network'] = timed(lambda: estimator.infer(crops), repeats, warmup)
    for size in PIPELINE_SIZES:
        image, camera, box = bench_image(size)
        results[f'pipeline_{size[0]}x{size[1]}'] = timed(
            functools.partial(estimator.estimate, image, camera, box), repeats, warmup)
    return results


def ensure_int8(checkpoint: Path, backend: str, cache_dir: str, int8_cache: str) -> str:
    """The cache holding an int8 model of `backend` for the checkpoint: the user's (from
    interhand-quantize) or int8_cache, filled with a model calibrated on random crops (speed
    only)."""
    from interhand_ros.engine.backends.base import BackendOptions
    from interhand_ros.engine.cache import ModelCache
    from interhand_ros.engine.estimator import EngineConfig, InterNetEstimator
    from interhand_ros.runner.quantize import built_quantized, quantized_key
    config = EngineConfig(device='cpu', backend=backend, cache_dir=cache_dir or None)
    key = quantized_key(checkpoint, config, 'int8')
    if ModelCache(cache_dir or None).load(key) is not None:
        return cache_dir
    if ModelCache(int8_cache).load(key) is None:
        fp32 = InterNetEstimator(checkpoint, config)
        crops = np.random.default_rng(1).integers(0, 256, (16, 256, 256, 3), dtype=np.uint8)
        with built_quantized(fp32, crops, 'int8', BackendOptions(precision='int8')) as (_, write):
            assert write is not None  # int8 is always a model to store
            ModelCache(int8_cache).store(key, write)
    return int8_cache


def worker(args: argparse.Namespace) -> None:
    """One case in this process; results as JSON to args.worker_out."""
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    backend, precision = args.worker.split(':')
    if backend == 'official-torch':
        results = measure_reference(args.checkpoint, args.repeats, args.warmup)
    else:
        results = measure_engine(args.checkpoint, backend, precision, args.cache_dir,
                                 args.repeats, args.warmup)
    results.update(memory_mb())
    Path(args.worker_out).write_text(json.dumps(results))


# ----------------------------------------------------------------------------- the run

def cpu_description() -> dict[str, Any]:
    import torch
    name = platform.processor() or 'unknown CPU'
    for line in Path('/proc/cpuinfo').read_text().splitlines():
        if line.startswith('model name'):
            name = line.split(':', 1)[1].strip()
            break
    flags = next((line.split(':', 1)[1].split() for line in
                  Path('/proc/cpuinfo').read_text().splitlines() if line.startswith('flags')),
                 [])
    description = {'cpu': name, 'logical_cpus': os.cpu_count(),
                   'torch_isa': torch.backends.cpu.get_cpu_capability(),
                   'isa_flags': [f for f in ('avx2', 'avx512f', 'avx512_vnni', 'avx512_bf16',
                                             'amx_bf16', 'amx_int8', 'avx512_fp16')
                                 if f in flags],
                   'torch': torch.__version__}
    try:
        import openvino as ov
        description['openvino'] = ov.__version__
        description['openvino_capabilities'] = list(
            ov.Core().get_property('CPU', 'OPTIMIZATION_CAPABILITIES'))
    except ImportError:
        pass
    try:
        import onnxruntime
        description['onnxruntime'] = onnxruntime.__version__
    except ImportError:
        pass
    return description


def cases() -> list[str]:
    """The reference, then every backend x precision this CPU runs natively."""
    from interhand_ros.engine.backends.registry import BACKENDS, installed, native_precisions
    from interhand_ros.engine.options import PRECISIONS
    found = [REFERENCE]
    for backend in BACKENDS:
        if installed(backend):
            found += [f'{backend}:{p}' for p in PRECISIONS if p in native_precisions(backend)]
    return found


def run_case(case: str, args: argparse.Namespace, cache_dir: str) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix='.json') as out:
        command = [sys.executable, '-m', 'benchmarks.bench', '--worker', case,
                   '--worker-out', out.name, '--checkpoint', str(args.checkpoint),
                   '--repeats', str(args.repeats), '--warmup', str(args.warmup),
                   '--threads', str(args.threads), '--cache-dir', cache_dir]
        load = os.getloadavg()[0]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            return {'error': (done.stderr or done.stdout).strip().splitlines()[-1:]}
        results = json.loads(Path(out.name).read_text())
    results.update({'load_before': load, 'process_s': time.perf_counter() - started})
    return results


COLUMNS = ['network'] + [f'pipeline_{w}x{h}' for w, h in PIPELINE_SIZES]


def reference_of(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per column, the faster of the two reference runs (first and last): the ratios are then
    the smaller of the two, so load that hit one reference run does not inflate them."""
    runs = [results[case] for case in (REFERENCE, REFERENCE_AGAIN)
            if case in results and 'error' not in results[case]]
    return {column: min((run[column] for run in runs), key=lambda v: v['median_ms'])
            for column in COLUMNS} if runs else {}


def print_table(results: dict[str, dict[str, Any]]) -> None:
    reference = reference_of(results)
    columns = COLUMNS
    print('| case | ' + ' | '.join(f'{c} median / p90 / cpu ms (x ref)' for c in columns)
          + ' | RSS / peak MB |')
    print('|---' * (len(columns) + 2) + '|')
    for case, result in results.items():
        if 'error' in result:
            print(f'| {case} | failed: {result["error"]} |')
            continue
        cells = []
        for column in columns:
            value, ref = result[column], reference.get(column)
            ratio = f' (x{ref["median_ms"] / value["median_ms"]:.2f})' if ref else ''
            cells.append(f'{value["median_ms"]:.0f} / {value["p90_ms"]:.0f} / '
                         f'{value["cpu_ms"]:.0f}{ratio}')
        print(f'| {case} | ' + ' | '.join(cells)
              + f' | {result["rss_mb"]:.0f} / {result["peak_rss_mb"]:.0f} |')


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--checkpoint', type=Path, help='weights (default: random)')
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--threads', type=int, default=0, help='torch threads, 0 = default')
    parser.add_argument('--cases', nargs='+', default=None,
                        help=f'subset, e.g. {REFERENCE} openvino:int8 (default: all supported)')
    parser.add_argument('--cache-dir', default='', help='model cache (default: the user cache)')
    parser.add_argument('--probe-seconds', type=float, default=10.0,
                        help='measured seconds per node case; 0 = no node cases')
    parser.add_argument('--node-cases', nargs='+', default=list(DEFAULT_CASES),
                        help='estimator:WxH:raw|compressed:profile|none (node_bench.py)')
    parser.add_argument('--node-only', action='store_true', help='only the node cases')
    parser.add_argument('--profile', default=str(PROFILE), help='Fast DDS profile of the cases')
    parser.add_argument('--json', type=Path, default=None, help='also write all results here')
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    parser.add_argument('--worker-out', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return
    from interhand_ros.engine.cache import default_cache_dir
    cache_dir = args.cache_dir or str(default_cache_dir())
    own_weights = args.checkpoint is None
    if own_weights:  # fixed files: compiled models are reused between runs
        checkpoints = {hands: save_bench_checkpoint(
            Path(cache_dir) / f'bench_{hands}_hands_internet.pth', weights)
            for hands, weights in (('two', 'two'), ('one-hand', 'right'))}
        args.checkpoint = checkpoints['two']
    else:  # the user's weights: the photo decides which hands they see
        checkpoints = {'two': args.checkpoint, 'one-hand': args.checkpoint}
    machine = cpu_description()
    print('machine: ' + ', '.join(f'{k} {v}' for k, v in machine.items()))
    print(f'load average at start {os.getloadavg()[0]:.2f} (wall times include other '
          'processes; cpu = this process)', flush=True)
    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as int8_cache:
        chosen = [] if args.node_only else args.cases or cases()
        if REFERENCE in chosen:
            chosen = [*chosen, REFERENCE_AGAIN]
        for case in chosen:
            case_cache = cache_dir
            if case.endswith(':int8'):
                case_cache = ensure_int8(args.checkpoint, case.split(':')[0], cache_dir,
                                         cache_dir if own_weights else int8_cache)
            results[case] = run_case(REFERENCE if case == REFERENCE_AGAIN else case, args,
                                     case_cache)
            result = results[case]
            summary = (result.get('error') or
                       f"network {result['network']['median_ms']:.0f} ms, pipeline 640x480 "
                       f"{result['pipeline_640x480']['median_ms']:.0f} ms")
            print(f'  {case}: {summary} (load {result.get("load_before", 0):.1f})', flush=True)
        if results:
            print_table(results)
        probes: dict[str, Any] = {}
        if args.probe_seconds > 0:
            node_cases = expand(args.node_cases)
            fastest = {checkpoints['one-hand' if 'one-hand' in parse_case(case)[1] else 'two']
                       for case in node_cases if parse_case(case)[0] == 'fastest'}
            # the bench's own weights: their int8 model goes to the cache the launched node
            # reads; a user's checkpoint never gets one calibrated on random crops there
            fastest_cache = ''
            for checkpoint in sorted(fastest):
                fastest_cache = ensure_int8(checkpoint, 'openvino', args.cache_dir,
                                            cache_dir if own_weights else int8_cache)
            probes = run_node_cases(
                node_cases, checkpoints,
                {'exact': args.cache_dir, 'torch': args.cache_dir,
                 'fastest': args.cache_dir if fastest_cache in ('', cache_dir) else fastest_cache},
                args.profile, args.probe_seconds)
    print(f'bench took {time.perf_counter() - started:.0f} s; load average at end '
          f'{os.getloadavg()[0]:.2f}')
    if args.json is not None:
        args.json.write_text(json.dumps({'machine': machine, 'cases': results,
                                         'node_probe': probes}, indent=1))


if __name__ == '__main__':
    main()
