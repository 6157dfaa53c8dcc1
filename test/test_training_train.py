"""Training on the synthetic set: loss goes down, exact resume, 2-process torchrun (gloo, CPU).

The full 47M-parameter InterNet takes ~1-2 s per batch-1 step on a 2-core CPU, so each test
runs only a handful of steps.
"""
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from interhand_ros.engine.checkpoint import load_internet
from interhand_ros.engine.estimator import EngineConfig, InterNetEstimator
from interhand_ros.geometry.box import Box
from interhand_ros.geometry.camera import CameraModel
from training.checkpointing import load_training_checkpoint
from training.config import TrainConfig
from training.synthetic import write_dataset
from training.train import LAST_CHECKPOINT, Process, Trainer, train

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def data_root(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp('interhand'), frames=3, cameras=2, seed=5,
                         splits=('train',))


def _config(data_root: Path, output: Path, **overrides: Any) -> TrainConfig:
    values: dict[str, Any] = dict(data_root=str(data_root), output_dir=str(output), batch_size=1,
                                  workers=0, device='cpu', log_every_steps=1)
    values.update(overrides)
    return TrainConfig(**values).validate()


def test_a_few_steps_on_one_batch_reduce_the_loss(data_root, tmp_path):
    trainer = Trainer(_config(data_root, tmp_path, augment=False, lr=3e-4),
                      Process(0, 1, torch.device('cpu')))
    batch = next(iter(trainer.batches()))
    losses = [trainer.train_step(batch)['total'] for _ in range(3)]
    assert losses[0] > losses[1] > losses[2], losses
    assert losses[2] < 0.97 * losses[0], losses


def test_resume_gives_the_same_loss_as_an_uninterrupted_run(data_root, tmp_path):
    straight = train(_config(data_root, tmp_path / 'straight', max_steps=2))
    train(_config(data_root, tmp_path / 'resumed', max_steps=1))
    checkpoint = tmp_path / 'resumed' / LAST_CHECKPOINT
    state = load_training_checkpoint(checkpoint)
    assert (state['epoch'], state['step'], state['global_step']) == (0, 1, 1)
    continued = train(_config(data_root, tmp_path / 'resumed', max_steps=2), resume=checkpoint)
    assert len(continued) == 1
    assert continued[0]['step'] == straight[1]['step'] == 1
    # same data, augmentation, weights and Adam moments: the same loss to float precision
    assert continued[0]['total'] == pytest.approx(straight[1]['total'], rel=1e-6, abs=1e-9)
    assert continued[0]['total'] != pytest.approx(straight[0]['total'], rel=1e-6)
    log = (tmp_path / 'resumed' / 'train_log.csv').read_text().splitlines()
    assert len(log) == 1 + 2  # header + step 0 and (after resume) step 1


def test_torchrun_two_processes_train_and_the_checkpoint_loads_in_the_engine(tmp_path):
    data_root = write_dataset(tmp_path / 'data', frames=1, cameras=2, splits=('train',))
    env = dict(os.environ, OMP_NUM_THREADS='1')
    command = [sys.executable, '-m', 'torch.distributed.run', '--standalone',
               '--nproc-per-node', '2', '-m', 'training.train', '--data-root', str(data_root),
               '--output-dir', str(tmp_path / 'run'), '--batch-size', '1', '--workers', '0',
               '--epochs', '1', '--device', 'cpu', '--lr', '1e-4']
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=240)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-4000:])
    assert '2 process(es)' in result.stdout
    snapshot = tmp_path / 'run' / 'snapshot_0.pth'
    state = load_training_checkpoint(snapshot)
    # 2 samples split over 2 processes at batch 1: one step per epoch
    assert (state['epoch'], state['global_step']) == (1, 1)
    model = load_internet(snapshot)
    key = 'pose_net.hand_fc.2.weight'
    assert torch.equal(model.state_dict()[key], state['network'][key])
    estimator = InterNetEstimator(snapshot, EngineConfig(device='cpu', channels_last=False))
    image = np.zeros((512, 334, 3), np.uint8)
    camera = CameraModel(fx=1250.0, fy=1255.0, cx=156.0, cy=259.0, width=334, height=512)
    estimate = estimator.estimate(image, camera, Box(60.0, 150.0, 200.0, 180.0))
    assert estimate.right.joints.shape == (21, 3) and 0.0 <= estimate.right.presence <= 1.0


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
@pytest.mark.parametrize('precision', ['bf16', 'fp16'])
def test_mixed_precision_steps_on_cuda_reduce_the_loss(data_root, tmp_path, precision):
    trainer = Trainer(_config(data_root, tmp_path, augment=False, lr=3e-4, batch_size=2,
                              device='cuda', precision=precision),
                      Process(0, 1, torch.device('cuda')))
    batch = next(iter(trainer.batches()))
    losses = [trainer.train_step(batch)['total'] for _ in range(5)]
    assert losses[-1] < losses[0], losses
