"""The CUDA path's speed in one short run on a GPU machine: `make bench-gpu`.

    .venv/bin/python -m benchmarks.gpu_bench [--checkpoint X] [--probe-seconds 10] [--json out]

Prints the same tables as `make bench` (bench.py, node_bench.py), for two hands present (the
bench's weights, benchmarks/random_weights.py, unless --checkpoint), on the first CUDA device:
- engine cases, each in a process of its own: the torch backend in fp32, fp16 and bf16
  (autocast), fp16 and fp32 with the forward captured as a CUDA graph (`cuda_graph`), then
  TensorRT where it is installed: torch-tensorrt compiling the whole network in fp16, and ONNX
  Runtime's TensorRT / CUDA providers on the exported network (interhand-export --whole).
  network = one crop through the network and its decoding; pipeline = estimate() on 640x480
  (crop, network, lifting); ms median / p90, process CPU ms, RSS and the GPU memory peak;
- the node as deployed: hands_node under a camera in another process (alone and through
  hands.launch.py) with `device:=cuda` in fp32, fp16, fp16 with a CUDA graph, and one hand.
A case the machine cannot run (no bf16, no TensorRT) is printed as skipped with the reason;
no case stops the others. Without CUDA it says so and stops (the CPU figures: `make bench`).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench import bench_image, memory_mb, timed
from benchmarks.node_bench import PROFILE, run_node_cases
from benchmarks.random_weights import save_bench_checkpoint

# engine case -> (how it runs, precision, CUDA graph)
ENGINE_CASES = {'torch:fp32': ('torch', 'fp32', False), 'torch:fp16': ('torch', 'fp16', False),
                'torch:bf16': ('torch', 'bf16', False),
                'torch:fp16:cuda-graph': ('torch', 'fp16', True),
                'torch:fp32:cuda-graph': ('torch', 'fp32', True),
                'torch-tensorrt:fp16': ('torch-tensorrt', 'fp16', False),
                'onnxruntime-tensorrt:fp16': ('TensorrtExecutionProvider', 'fp16', False),
                'onnxruntime-cuda:fp32': ('CUDAExecutionProvider', 'fp32', False)}
CUDA = 'device:=cuda'
NODE_CASES = [f'exact,{CUDA}:640x480:raw:profile',
              f'exact,{CUDA},precision:=fp16:640x480:raw:profile',
              f'exact,{CUDA},precision:=fp16,cuda_graph:=true:640x480:raw:profile',
              f'exact,launch,{CUDA},precision:=fp16:640x480:raw:profile',
              f'exact,one-hand,{CUDA},precision:=fp16:640x480:raw:profile']


class Skipped(RuntimeError):
    """This machine cannot run the case (said in the table, the other cases go on)."""


def gpu_description() -> dict[str, Any]:
    """The GPU, driver, CUDA and the TensorRT pieces found."""
    import torch
    description: dict[str, Any] = {'torch': torch.__version__, 'cuda': torch.version.cuda}
    if torch.cuda.is_available():
        properties = torch.cuda.get_device_properties(0)
        description.update({'gpu': properties.name,
                            'gpu_memory_gb': round(properties.total_memory / 2**30, 1),
                            'compute_capability': f'{properties.major}.{properties.minor}',
                            'bf16': torch.cuda.is_bf16_supported()})
    if shutil.which('nvidia-smi'):
        query = subprocess.run(['nvidia-smi', '--query-gpu=driver_version,clocks.max.sm,'
                                'power.limit', '--format=csv,noheader'],
                               capture_output=True, text=True)
        description['nvidia_smi'] = query.stdout.strip()
    for module in ('torch_tensorrt', 'tensorrt', 'onnxruntime'):
        try:
            imported = __import__(module)
            description[module] = getattr(imported, '__version__', 'installed')
        except ImportError:
            description[module] = None
    if description['onnxruntime']:
        import onnxruntime
        description['onnxruntime_providers'] = onnxruntime.get_available_providers()
    description['trtexec'] = shutil.which('trtexec')
    return description


def cuda_peak_mb() -> float:
    import torch
    return torch.cuda.max_memory_allocated() / 2**20


def measure_torch(checkpoint: Path, precision: str, graph: bool, repeats: int,
                  warmup: int) -> dict[str, Any]:
    """The node's estimator on CUDA: network and the 640x480 pipeline, both hands."""
    import torch

    from interhand_ros.processing.factory import EstimatorSettings, build_estimator
    if precision == 'bf16' and not torch.cuda.is_bf16_supported():
        raise Skipped('this GPU has no bf16')
    started = time.perf_counter()
    estimator = build_estimator(EstimatorSettings(
        checkpoint=str(checkpoint), backend='torch', precision=precision, device='cuda',
        cuda_fallback=False, cuda_graph=graph, presence_threshold=0.0,
        depth_mode='hand_size'), warn=print)
    results: dict[str, Any] = {'start_s': time.perf_counter() - started}
    crops = np.random.default_rng(0).integers(0, 256, (1, 256, 256, 3), dtype=np.uint8)
    results['network'] = timed(lambda: estimator.infer(crops), repeats, warmup)  # type: ignore
    image, camera, box = bench_image((640, 480))
    results['pipeline_640x480'] = timed(lambda: estimator.estimate(image, camera, box),
                                        repeats, warmup)
    return results


def folded_model(checkpoint: Path) -> Any:
    """The network as the engine runs it: BatchNorm folded, eval mode, on the CPU."""
    from interhand_ros.engine.checkpoint import load_internet
    from interhand_ros.engine.model import fold_batchnorm
    return fold_batchnorm(load_internet(checkpoint)).eval()


def measure_torch_tensorrt(checkpoint: Path, repeats: int, warmup: int) -> dict[str, Any]:
    """torch-tensorrt (dynamo) fp16 engine of the whole network, decoding included."""
    import torch
    try:
        import torch_tensorrt
    except ImportError as error:
        raise Skipped('torch-tensorrt is not installed') from error
    from interhand_ros.engine.parts import WholeNetwork
    network = WholeNetwork(folded_model(checkpoint)).cuda().eval()
    started = time.perf_counter()
    engine = torch_tensorrt.compile(network, ir='dynamo', enabled_precisions={torch.float16},
                                    inputs=[torch_tensorrt.Input((1, 3, 256, 256))])
    images = torch.rand(1, 3, 256, 256, device='cuda')

    def run() -> None:
        with torch.inference_mode():
            [output.cpu() for output in engine(images)]  # the copy back waits for the GPU
    return {'start_s': time.perf_counter() - started, 'network': timed(run, repeats, warmup)}


def measure_onnxruntime(checkpoint: Path, provider: str, precision: str, repeats: int,
                        warmup: int) -> dict[str, Any]:
    """ONNX Runtime's GPU provider on network.onnx (interhand-export --whole)."""
    try:
        import onnxruntime
    except ImportError as error:
        raise Skipped('onnxruntime is not installed') from error
    if provider not in onnxruntime.get_available_providers():
        raise Skipped(f'{provider} is absent (onnxruntime-gpu with TensorRT libraries needed)')
    from interhand_ros.engine.onnx_export import export_parts
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        export_parts(folded_model(checkpoint), Path(folder), whole=True)
        providers: list[Any] = [provider]
        if provider == 'TensorrtExecutionProvider':  # what TensorRT cannot take runs on CUDA
            providers = [(provider, {'trt_fp16_enable': precision == 'fp16'}),
                         'CUDAExecutionProvider']
        session = onnxruntime.InferenceSession(str(Path(folder) / 'network.onnx'),
                                               providers=providers)
        images = np.random.default_rng(0).random((1, 3, 256, 256), dtype=np.float32)
        session.run(None, {'images': images})  # builds the TensorRT engine
        start_s = time.perf_counter() - started
        return {'start_s': start_s, 'network': timed(
            lambda: session.run(None, {'images': images}), repeats, warmup)}


def worker(args: argparse.Namespace) -> None:
    """One engine case in this process; its results (or why it was skipped) as JSON."""
    import torch
    runs, precision, graph = ENGINE_CASES[args.worker]
    torch.cuda.reset_peak_memory_stats()
    try:
        if runs == 'torch':
            results = measure_torch(args.checkpoint, precision, graph, args.repeats, args.warmup)
        elif runs == 'torch-tensorrt':
            results = measure_torch_tensorrt(args.checkpoint, args.repeats, args.warmup)
        else:
            results = measure_onnxruntime(args.checkpoint, runs, precision, args.repeats,
                                          args.warmup)
        results.update(memory_mb(), cuda_peak_mb=cuda_peak_mb())
    except Skipped as reason:
        results = {'error': f'skipped: {reason}'}
    Path(args.worker_out).write_text(json.dumps(results))


def run_case(case: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix='.json') as out:
        done = subprocess.run([sys.executable, '-m', 'benchmarks.gpu_bench', '--worker', case,
                               '--worker-out', out.name, '--checkpoint', str(args.checkpoint),
                               '--repeats', str(args.repeats), '--warmup', str(args.warmup)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            return {'error': (done.stderr or done.stdout).strip().splitlines()[-1:]}
        return json.loads(Path(out.name).read_text())


def print_engine_table(results: dict[str, dict[str, Any]]) -> None:
    """Markdown: per case the network and (torch backend) the 640x480 pipeline, start time and
    memory."""
    print('| case | network median / p90 / cpu ms | pipeline 640x480 median / p90 / cpu ms '
          '| start s | RSS / peak MB | GPU memory peak MB |')
    print('|---|---|---|---|---|---|')
    for case, r in results.items():
        if 'error' in r:
            print(f'| {case} | {r["error"]} | | | | |')
            continue
        cells = [f"{r[c]['median_ms']:.2f} / {r[c]['p90_ms']:.2f} / {r[c]['cpu_ms']:.2f}"
                 if c in r else '-' for c in ('network', 'pipeline_640x480')]
        print(f"| {case} | {' | '.join(cells)} | {r['start_s']:.1f} | {r['rss_mb']:.0f} / "
              f"{r['peak_rss_mb']:.0f} | {r['cuda_peak_mb']:.0f} |")


def run_all(args: argparse.Namespace, scratch: Path
            ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Every engine case, then the node cases; both printed as tables."""
    checkpoints = ({'two': args.checkpoint, 'one-hand': args.checkpoint} if args.checkpoint
                   else {hands: save_bench_checkpoint(scratch / f'{hands}.pth', weights)
                         for hands, weights in (('two', 'two'), ('one-hand', 'right'))})
    args.checkpoint = checkpoints['two']
    started = time.perf_counter()
    results = {}
    for case in args.cases:
        results[case] = run_case(case, args)
        print(f'  {case}: ' + str(results[case].get('error') or
                                  f"network {results[case]['network']['median_ms']:.2f} ms"),
              flush=True)
    print_engine_table(results)
    probes = (run_node_cases(NODE_CASES, checkpoints, {}, str(PROFILE), args.probe_seconds)
              if args.probe_seconds > 0 else {})
    print(f'gpu bench took {time.perf_counter() - started:.0f} s')
    return results, probes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--checkpoint', type=Path, help='weights (default: the bench weights)')
    parser.add_argument('--repeats', type=int, default=50)
    parser.add_argument('--warmup', type=int, default=10)
    parser.add_argument('--cases', nargs='+', default=list(ENGINE_CASES),
                        choices=list(ENGINE_CASES))
    parser.add_argument('--probe-seconds', type=float, default=10.0,
                        help='measured seconds per node case; 0 = no node cases')
    parser.add_argument('--json', type=Path, default=None)
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    parser.add_argument('--worker-out', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return
    import torch
    machine = gpu_description()
    print('machine: ' + ', '.join(f'{k} {v}' for k, v in machine.items()), flush=True)
    if not torch.cuda.is_available():
        sys.exit('no CUDA device: nothing to measure here (the CPU figures: make bench)')
    with tempfile.TemporaryDirectory(prefix='gpu_bench_') as scratch:
        results, probes = run_all(args, Path(scratch))
    print(f'CPU load average at the end {os.getloadavg()[0]:.2f}')
    if args.json is not None:
        args.json.write_text(json.dumps({'machine': machine, 'cases': results,
                                         'node_probe': probes}, indent=1))


if __name__ == '__main__':
    main()
