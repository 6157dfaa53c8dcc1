"""Training throughput: network steps (forward + losses + backward + Adam) and data pipeline.

    python -m training.benchmark [--batch-size 2 --steps 5 --precision fp32 --device auto]

Prints images/s of the optimisation step on one fixed batch (no data loading) and of the
sample pipeline (read, augment, crop, targets) in this process, both on the synthetic set.
The two together tell how many DataLoader workers a device needs.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from interhand_ros.engine.options import FLOAT_PRECISIONS
from training.config import TrainConfig
from training.synthetic import write_dataset
from training.train import Trainer, start_process


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--steps', type=int, default=5, help='timed steps after one warm-up')
    parser.add_argument('--precision', default='fp32', choices=FLOAT_PRECISIONS)
    parser.add_argument('--device', default='auto', choices=('auto', 'cpu', 'cuda'))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data = write_dataset(Path(tmp) / 'data', frames=12, cameras=2, splits=('train',))
        config = TrainConfig(data_root=str(data), output_dir=str(Path(tmp) / 'run'),
                             batch_size=args.batch_size, workers=0, precision=args.precision,
                             device=args.device).validate()
        trainer = Trainer(config, start_process(config))
        device = trainer.process.device
        batch = next(iter(trainer.batches()))
        times = []
        for _ in range(args.steps + 1):
            start = time.perf_counter()
            trainer.train_step(batch)
            if device.type == 'cuda':
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        step = statistics.median(times[1:])
        start = time.perf_counter()
        count = min(len(trainer.samples), 16)
        for row in range(count):
            trainer.samples[row]
        pipeline = count / (time.perf_counter() - start)
    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else \
        f'CPU ({torch.get_num_threads()} threads)'
    print(f'device: {name}; precision {args.precision}; batch {args.batch_size}')
    print(f'train step: median {step:.3f} s over {args.steps} steps -> '
          f'{args.batch_size / step:.2f} images/s')
    print(f'sample pipeline: {pipeline:.1f} images/s per worker process')


if __name__ == '__main__':
    main()
