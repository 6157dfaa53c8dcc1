"""One-command smoke run without the dataset: synthetic data -> short training -> evaluation.

    python -m training.smoke [--out out/smoke] [--steps 6] [--precision fp32|bf16]

Writes a small synthetic InterHand2.6M (official layout) under OUT/data, trains the real
InterNet for a few steps on it (CPU or GPU), evaluates the last checkpoint on the synthetic
test split and prints the training throughput. Exercises the same code paths as a full run.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from interhand_ros.engine.options import FLOAT_PRECISIONS
from training.config import TrainConfig
from training.dataset import DatasetOptions, image_dir, load_index
from training.evaluate import build_network, evaluate, format_table
from training.synthetic import write_dataset
from training.train import LAST_CHECKPOINT, train


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', type=Path, default=Path('out/smoke'))
    parser.add_argument('--steps', type=int, default=6)
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--precision', default='fp32', choices=FLOAT_PRECISIONS)
    parser.add_argument('--device', default='auto', choices=('auto', 'cpu', 'cuda'))
    args = parser.parse_args(argv)
    data = args.out / 'data'
    if not (data / 'annotations').is_dir():
        write_dataset(data, frames=6, cameras=2, seed=0, splits=('train', 'test'))
    run = args.out / 'run'
    config = TrainConfig(data_root=str(data), output_dir=str(run), batch_size=args.batch_size,
                         workers=2, precision=args.precision, device=args.device,
                         epochs=1000, max_steps=args.steps, log_every_steps=1).validate()
    train(config)
    options = DatasetOptions('test')
    # evaluated as the node runs it (fp32, its default): training precision is a training choice
    network = build_network(run / LAST_CHECKPOINT, args.device)
    metrics = evaluate(network, load_index(data, options), image_dir(data, options),
                       batch_size=args.batch_size)
    print(format_table(metrics, f'smoke run: {args.steps} steps on synthetic data '
                                '(numbers only show the pipeline runs; no accuracy expected)'))


if __name__ == '__main__':
    main()
