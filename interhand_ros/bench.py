"""Speed benchmark of the InterNet engine on this machine: `python -m interhand_ros.bench`.

Prints model forward ms (median, p90; wall and process CPU time, the latter robust to other
processes sharing the CPU) per variant / precision / thread count, the full pipeline (crop +
forward + decode + lift) for 640x480 and 1280x720 images, peak RSS (and CUDA memory), and the
FLOP count with the achieved GFLOP/s. Speed does not depend on the weights' values, so random
weights are used unless --checkpoint is given.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from interhand_ros.camera import CameraModel
from interhand_ros.engine.checkpoint import load_internet
from interhand_ros.engine.internet import (
    TORCH_DTYPES,
    EngineConfig,
    InterNetEstimator,
    compile_module,
)
from interhand_ros.engine.model import INPUT_SIZE, InterNet, fold_batchnorm
from interhand_ros.engine.options import PRECISIONS, resolve_device
from interhand_ros.estimate import Box

PIPELINE_SIZES = ((640, 480), (1280, 720))


def timed(run: Callable[[], object], repeats: int, warmup: int,
          synchronize: Callable[[], None]) -> tuple[list[float], list[float]]:
    """Wall and process-CPU seconds of each of `repeats` calls after `warmup` calls."""
    for _ in range(warmup):
        run()
    synchronize()
    wall, cpu = [], []
    for _ in range(repeats):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        run()
        synchronize()
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def percentile_ms(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1e3


def count_flops(model: InterNet) -> int:
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE))
    return counter.get_total_flops()


def machine_description() -> str:
    cpu = platform.processor() or 'unknown CPU'
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    isa = torch.backends.cpu.get_cpu_capability()
    return (f'{cpu}, {os.cpu_count()} logical CPUs, ISA {isa}, '
            f'torch {torch.__version__}, load average {load:.2f} at start')


def bench_forward(model: InterNet, device: torch.device, precision: str, channels_last: bool,
                  batch: int, repeats: int, warmup: int) -> tuple[list[float], list[float]]:
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(device=device, memory_format=memory_format)
    images = torch.rand(batch, 3, INPUT_SIZE, INPUT_SIZE, device=device).contiguous(
        memory_format=memory_format)
    autocast = torch.autocast(device.type, dtype=TORCH_DTYPES[precision],
                              enabled=precision != 'fp32')
    synchronize = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)

    def run() -> None:
        with torch.inference_mode(), autocast:
            model(images)

    return timed(run, repeats, warmup, synchronize)


def bench_pipeline(checkpoint: Path, config: EngineConfig, size: tuple[int, int],
                   repeats: int, warmup: int) -> tuple[list[float], list[float]]:
    estimator = InterNetEstimator(checkpoint, config)
    width, height = size
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    camera = CameraModel.from_intrinsics(
        np.array([[0.9 * width, 0, width / 2], [0, 0.9 * width, height / 2], [0, 0, 1]]),
        width, height, np.array([-0.1, 0.02, 0.0, 0.0, 0.0]))
    box = Box(width * 0.3, height * 0.25, width * 0.35, height * 0.45)
    synchronize = torch.cuda.synchronize if estimator.device.type == 'cuda' else (lambda: None)
    return timed(lambda: estimator.estimate(image, camera, crop=box), repeats, warmup, synchronize)


def report(label: str, wall: list[float], cpu: list[float], threads: int,
           flops: int | None = None) -> None:
    median = statistics.median(wall)
    line = (f'{label:<44} wall median {median * 1e3:7.1f} ms  p90 {percentile_ms(wall, 90):7.1f}'
            f' ms  | cpu/thread median {statistics.median(cpu) / threads * 1e3:7.1f} ms')
    if flops is not None:
        line += f'  | {flops / median / 1e9:6.1f} GFLOP/s'
    print(line, flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--checkpoint', type=Path, help='weights (default: random)')
    parser.add_argument('--device', default='auto')
    parser.add_argument('--threads', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--precisions', nargs='+', default=['fp32'], choices=list(PRECISIONS))
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=15)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--variants', action='store_true',
                        help='also time the unoptimised model (no BN folding / channels-last)')
    parser.add_argument('--compile', action='store_true',
                        help='also time torch.compile with frozen weights (slow to compile)')
    args = parser.parse_args(argv)

    device = torch.device(resolve_device(args.device))
    print(f'machine: {machine_description()}; device {device}')
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = args.checkpoint
        if checkpoint is None:
            checkpoint = Path(folder) / 'random_internet.pth'
            torch.manual_seed(0)
            torch.save({'network': InterNet().state_dict()}, checkpoint)
        plain = load_internet(checkpoint)
        flops = count_flops(plain)
        print(f'FLOPs per crop (forward, batch 1): {flops / 1e9:.2f} GFLOP')
        folded = fold_batchnorm(load_internet(checkpoint))

        for threads in args.threads if device.type == 'cpu' else [torch.get_num_threads()]:
            torch.set_num_threads(threads)
            print(f'-- {threads} thread(s)')
            for precision in args.precisions:
                cases = [('folded BN, contiguous', folded, False)]
                if args.variants:
                    cases += [('folded BN, channels-last', folded, True),
                              ('plain (official layers), contiguous', plain, False)]
                for name, model, channels_last in cases:
                    wall, cpu = bench_forward(model, device, precision, channels_last,
                                              args.batch, args.repeats, args.warmup)
                    report(f'forward {precision} b{args.batch} {name}', wall, cpu, threads,
                           flops * args.batch)
                if args.compile:
                    start = time.perf_counter()
                    compiled = compile_module(folded)
                    wall, cpu = bench_forward(compiled, device, precision, False, args.batch,
                                              args.repeats, args.warmup)
                    compile_s = time.perf_counter() - start
                    print(f'  (torch.compile incl. first call: {compile_s:.0f} s)')
                    report(f'forward {precision} b{args.batch} torch.compile', wall, cpu, threads,
                           flops * args.batch)
                for compiled_pipeline in (False, True) if args.compile else (False,):
                    config = EngineConfig(device=str(device), precision=precision,
                                          presence_threshold=0.0, depth_mode='hand_size',
                                          compile=compiled_pipeline)
                    for size in PIPELINE_SIZES:
                        wall, cpu = bench_pipeline(checkpoint, config, size, args.repeats,
                                                   args.warmup)
                        name = ' compiled' if compiled_pipeline else ''
                        report(f'pipeline{name} {precision} {size[0]}x{size[1]}', wall, cpu,
                               threads)

    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'peak RSS: {peak_rss_mb:.0f} MB')
    if device.type == 'cuda':
        print(f'peak CUDA memory: {torch.cuda.max_memory_allocated(device) / 2 ** 20:.0f} MiB')


if __name__ == '__main__':
    main()
