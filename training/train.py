"""Train InterNet on InterHand2.6M (or anything in its file layout).

    python -m training.train --data-root DATA [--config cfg.json] [--flags ...]
    torchrun --nproc-per-node 4 -m training.train --data-root DATA       # 4 GPUs, batch 4 x 16

Paper defaults (Adam 1e-4, x0.1 at epochs 15 and 17, 20 epochs, batch 16 per GPU). One process
per device under torchrun with DistributedDataParallel (NCCL on GPUs, gloo on CPU). Checkpoints
are written atomically at each epoch end (and every N steps); `--resume FILE` continues exactly.
"""
from __future__ import annotations

import argparse
import csv
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from interhand_ros.engine.checkpoint import CheckpointError, load_internet_state_dict
from interhand_ros.engine.model import InterNet
from interhand_ros.engine.options import resolve_device
from training.checkpointing import (
    load_training_checkpoint,
    restore_rng_state,
    rng_state,
    save_atomically,
)
from training.config import (
    ConfigError,
    TrainConfig,
    add_config_arguments,
    config_from_args,
)
from training.dataset import DatasetError, DatasetOptions, image_dir, load_index
from training.initialization import (
    PretrainedWeightsError,
    init_internet_weights,
    load_imagenet_backbone,
)
from training.losses import internet_losses
from training.samples import InterHandSamples

LOSS_NAMES = ('total', 'heatmap', 'root_depth', 'hand_type')
LAST_CHECKPOINT = 'checkpoint_last.pth'
# Long enough for the main process to parse the full train jsons while the others wait.
PROCESS_GROUP_TIMEOUT = timedelta(hours=1)


@dataclass(frozen=True)
class Process:
    """Where this process sits in the (possibly single-process) run."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def start_process(config: TrainConfig) -> Process:
    """Join the torchrun process group if launched by torchrun; pick the device."""
    single_device = torch.device(resolve_device(config.device))
    use_cuda = single_device.type == 'cuda'
    if 'RANK' not in os.environ:
        return Process(0, 1, single_device)
    local_rank = int(os.environ.get('LOCAL_RANK', 0))
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group('nccl' if use_cuda else 'gloo', timeout=PROCESS_GROUP_TIMEOUT)
    device = torch.device('cuda', local_rank) if use_cuda else torch.device('cpu')
    return Process(dist.get_rank(), dist.get_world_size(), device)


def build_model(config: TrainConfig) -> InterNet:
    """Official init, then ImageNet backbone or a whole InterNet checkpoint if given."""
    model = init_internet_weights(InterNet())
    if config.imagenet_weights:
        load_imagenet_backbone(model, Path(config.imagenet_weights))
    if config.init_checkpoint:
        model.load_state_dict(load_internet_state_dict(config.init_checkpoint), strict=True)
    return model


def build_samples(config: TrainConfig, process: Process) -> InterHandSamples:
    """The training set; the main process parses and caches the index, the others then read
    the cache (one parse of the large jsons instead of one per process)."""
    options = DatasetOptions('train', config.annot_subset, config.hand_set, config.fps)
    root = Path(config.data_root)
    cache = Path(config.cache_dir) if config.cache_dir else Path(config.output_dir) / 'cache'
    distributed = process.world_size > 1
    if distributed and not process.is_main:
        dist.barrier()
    index = load_index(root, options, cache)
    if distributed and process.is_main:
        dist.barrier()
    return InterHandSamples(index, image_dir(root, options), config.augment, config.seed)


def autocast_context(config: TrainConfig, device: torch.device):
    if config.precision == 'fp32':
        return nullcontext()
    dtype = torch.bfloat16 if config.precision == 'bf16' else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


class CsvLog:
    """Append-only CSV of per-step losses (main process only); survives resume."""

    FIELDS = ('epoch', 'step', 'lr', *LOSS_NAMES, 'images_per_s')

    def __init__(self, path: Path) -> None:
        new = not path.exists()
        self._file = open(path, 'a', newline='')
        self._writer = csv.DictWriter(self._file, self.FIELDS)
        if new:
            self._writer.writeheader()

    def write(self, row: dict[str, Any]) -> None:
        self._writer.writerow(row)
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class Trainer:
    """Owns model, optimiser, schedule and data of one process; `run` trains to the end."""

    def __init__(self, config: TrainConfig, process: Process) -> None:
        self.config = config
        self.process = process
        torch.manual_seed(config.seed)
        self.model = build_model(config).to(process.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(
            self.optimizer, config.lr_decay_epochs, config.lr_decay_factor)
        self.scaler = torch.amp.GradScaler(process.device.type,
                                           enabled=config.precision == 'fp16')
        self.network = (DistributedDataParallel(self.model) if process.world_size > 1
                        else self.model)
        self.samples = build_samples(config, process)
        self.sampler: DistributedSampler = DistributedSampler(
            self.samples, process.world_size, process.rank, shuffle=True, seed=config.seed,
            drop_last=True)
        self.steps_per_epoch = len(self.sampler) // config.batch_size
        if self.steps_per_epoch == 0:
            raise ValueError(f'{len(self.samples)} samples give no full batch of '
                             f'{config.batch_size} x {process.world_size} processes')
        self.epoch = 0
        self.step_in_epoch = 0
        self.global_step = 0
        self.output = Path(config.output_dir)

    def state(self) -> dict[str, Any]:
        return {'network': self.model.state_dict(), 'optimizer': self.optimizer.state_dict(),
                'scheduler': self.scheduler.state_dict(), 'scaler': self.scaler.state_dict(),
                'epoch': self.epoch, 'step': self.step_in_epoch,
                'global_step': self.global_step, 'rng': rng_state(),
                'config': self.config.to_dict()}

    def resume(self, path: Path) -> None:
        content = load_training_checkpoint(path)
        self.model.load_state_dict(content['network'], strict=True)
        self.optimizer.load_state_dict(content['optimizer'])
        self.scheduler.load_state_dict(content['scheduler'])
        self.scaler.load_state_dict(content['scaler'])
        self.epoch, self.step_in_epoch = int(content['epoch']), int(content['step'])
        self.global_step = int(content['global_step'])
        restore_rng_state(content['rng'])

    def save(self, name: str) -> None:
        if self.process.is_main:
            save_atomically(self.state(), self.output / name)

    def batches(self) -> DataLoader:
        """This epoch's remaining batches (skips those done before a mid-epoch resume)."""
        self.sampler.set_epoch(self.epoch)
        self.samples.set_epoch(self.epoch)
        order = list(self.sampler)[:self.steps_per_epoch * self.config.batch_size]
        remaining = order[self.step_in_epoch * self.config.batch_size:]
        return DataLoader(self.samples, self.config.batch_size, sampler=remaining,
                          num_workers=self.config.workers,
                          pin_memory=self.process.device.type == 'cuda', drop_last=True)

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        device = self.process.device
        batch = {key: value.to(device, non_blocking=True) for key, value in batch.items()}
        with autocast_context(self.config, device):
            output = self.network(batch['image'])
        losses = internet_losses(output, batch)
        if not torch.isfinite(losses['total']):
            raise FloatingPointError(f'non-finite loss at step {self.global_step}: '
                                     f'{ {k: float(v) for k, v in losses.items()} }')
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(losses['total']).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return {name: float(losses[name].detach()) for name in LOSS_NAMES}

    def run(self) -> list[dict[str, float]]:
        """Train until the last epoch (or max_steps); returns this process's per-step log."""
        self.output.mkdir(parents=True, exist_ok=True)
        log = CsvLog(self.output / 'train_log.csv') if self.process.is_main else None
        history: list[dict[str, float]] = []
        images_per_step = self.config.batch_size * self.process.world_size
        try:
            while self.epoch < self.config.epochs and not self._step_limit_reached():
                self.network.train()
                progress = tqdm(self.batches(), total=self.steps_per_epoch,
                                initial=self.step_in_epoch, desc=f'epoch {self.epoch}',
                                disable=not self.process.is_main, dynamic_ncols=True)
                tick = time.perf_counter()
                for batch in progress:
                    losses = self.train_step(batch)
                    now = time.perf_counter()
                    row = {'epoch': self.epoch, 'step': self.global_step,
                           'lr': self.optimizer.param_groups[0]['lr'], **losses,
                           'images_per_s': images_per_step / (now - tick)}
                    tick = now
                    history.append(row)
                    self.step_in_epoch += 1
                    self.global_step += 1
                    progress.set_postfix(loss=f"{losses['total']:.4g}",
                                         img_s=f"{row['images_per_s']:.2f}")
                    if log and (self.global_step % self.config.log_every_steps == 0
                                or self.step_in_epoch == self.steps_per_epoch):
                        log.write(row)
                    every = self.config.checkpoint_every_steps
                    if every and self.global_step % every == 0:
                        self.save(LAST_CHECKPOINT)
                    if self._step_limit_reached():
                        break
                progress.close()
                if self.step_in_epoch < self.steps_per_epoch:
                    self.save(LAST_CHECKPOINT)      # stopped by max_steps inside the epoch
                    break
                self.scheduler.step()
                self.epoch += 1
                self.step_in_epoch = 0
                self.save(f'snapshot_{self.epoch - 1}.pth')
                self.save(LAST_CHECKPOINT)
        finally:
            if log:
                log.close()
        return history

    def _step_limit_reached(self) -> bool:
        return bool(self.config.max_steps) and self.global_step >= self.config.max_steps


def train(config: TrainConfig, resume: Path | None = None) -> list[dict[str, float]]:
    """Run (or continue) a training run in this process; returns its per-step losses."""
    process = start_process(config)
    try:
        trainer = Trainer(config, process)
        if resume is not None:
            trainer.resume(resume)
        history = trainer.run()
        if process.is_main and history:
            rates = [row['images_per_s'] for row in history[1:]] or \
                [history[0]['images_per_s']]
            print(f'trained {len(history)} steps; last loss {history[-1]["total"]:.5g}; '
                  f'median throughput {sorted(rates)[len(rates) // 2]:.2f} images/s '
                  f'({process.world_size} process(es), {process.device.type})')
        return history
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_arguments(parser)
    parser.add_argument('--resume', type=Path, help='training checkpoint to continue from')
    args = parser.parse_args(argv)
    try:
        train(config_from_args(args), args.resume)
    except (ConfigError, DatasetError, PretrainedWeightsError, CheckpointError,
            FileNotFoundError) as error:
        parser.exit(2, f'training.train: error: {error}\n')


if __name__ == '__main__':
    main()
