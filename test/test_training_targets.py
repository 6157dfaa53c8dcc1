"""Targets, losses, augmentation draws, weight init, config precedence and atomic checkpoints."""
import argparse
import json
import random

import numpy as np
import pytest
import torch

from interhand_ros.engine.model import InterNet, InterNetOutput
from training.augment import sample_augmentation, sample_generator
from training.checkpointing import restore_rng_state, rng_state, save_atomically
from training.config import (
    ConfigError,
    TrainConfig,
    add_config_arguments,
    config_from_args,
)
from training.initialization import (
    PretrainedWeightsError,
    init_internet_weights,
    load_imagenet_backbone,
)
from training.losses import (
    hand_type_loss,
    heatmap_loss,
    internet_losses,
    root_depth_loss,
)
from training.targets import render_gaussian_heatmaps, sample_targets


def test_gaussian_heatmap_peaks_at_255_on_the_joint_voxel_and_matches_the_formula():
    coord = torch.tensor([[[10.0, 20.0, 30.0], [40.3, 5.0, 63.0]]])
    heatmaps = render_gaussian_heatmaps(coord)
    assert heatmaps.shape == (1, 2, 64, 64, 64)
    assert heatmaps[0, 0, 30, 20, 10] == pytest.approx(255.0)
    assert heatmaps[0, 0].flatten().argmax() == (30 * 64 + 20) * 64 + 10
    z, y, x = 33, 18, 12  # direct formula at an arbitrary voxel
    expected = 255 * np.exp(-((x - 10) ** 2 + (y - 20) ** 2 + (z - 30) ** 2) / (2 * 2.5 ** 2))
    assert float(heatmaps[0, 0, z, y, x]) == pytest.approx(expected, rel=1e-5)


def test_sample_targets_encode_depth_relative_to_each_root_and_mask_out_of_range():
    joints = np.zeros((42, 3), np.float32)
    joints[:, :2] = 128.0
    joints[:21, 2] = 800.0
    joints[21:, 2] = 850.0
    joints[0, 2] = 800.0 + 100.0      # 100 mm behind the right root: bin 48
    joints[1, 2] = 800.0 + 250.0      # beyond +-200 mm: invalid
    targets = sample_targets(joints, np.ones(42, np.float32), np.array([1.0, 1.0]))
    assert targets.joint_coord[20].tolist() == [32.0, 32.0, 32.0]
    assert targets.joint_coord[0, 2] == pytest.approx(48.0)
    assert targets.joint_valid[1] == 0 and targets.joint_valid[0] == 1
    assert targets.rel_root_depth == pytest.approx((50 / 200 + 1) / 2 * 64)
    assert targets.root_valid == 1
    single = sample_targets(joints, np.ones(42, np.float32), np.array([1.0, 0.0]))
    assert single.root_valid == 0


def test_losses_mask_invalid_elements_but_keep_them_in_the_mean():
    pred = torch.zeros(2, 42, 64, 64, 64)
    target = torch.zeros_like(pred)
    target[0, 0] = 2.0
    valid = torch.ones(2, 42)
    assert float(heatmap_loss(pred, target, valid)) == pytest.approx(4.0 / (2 * 42))
    valid[0, 0] = 0
    assert float(heatmap_loss(pred, target, valid)) == 0.0
    assert float(root_depth_loss(torch.tensor([30.0, 10.0]), torch.tensor([32.0, 0.0]),
                                 torch.tensor([1.0, 0.0]))) == pytest.approx(1.0)
    bce = float(hand_type_loss(torch.tensor([[0.5, 0.5]]), torch.tensor([[1.0, 0.0]]),
                               torch.tensor([1.0])))
    assert bce == pytest.approx(np.log(2.0))


def test_total_loss_is_the_unweighted_sum():
    output = InterNetOutput(torch.zeros(1, 42, 64, 64, 64), torch.tensor([31.0]),
                            torch.tensor([[0.9, 0.2]]))
    batch = {'joint_coord': torch.full((1, 42, 3), 32.0), 'joint_valid': torch.ones(1, 42),
             'rel_root_depth': torch.tensor([32.0]), 'root_valid': torch.tensor([1.0]),
             'hand_type': torch.tensor([[1.0, 0.0]]), 'hand_type_valid': torch.tensor([1.0])}
    losses = internet_losses(output, batch)
    assert float(losses['root_depth']) == pytest.approx(1.0)
    assert float(losses['total']) == pytest.approx(
        float(losses['heatmap'] + losses['root_depth'] + losses['hand_type']))


def test_augmentation_draws_follow_the_official_ranges():
    draws = [sample_augmentation(sample_generator(0, 0, i)) for i in range(400)]
    shifts = np.array([d.shift for d in draws])
    scales = np.array([d.scale for d in draws])
    rotations = np.array([d.rotation_deg for d in draws])
    colours = np.array([d.colour for d in draws])
    assert np.abs(shifts).max() <= 0.15 and 0.75 <= scales.min() and scales.max() <= 1.25
    assert np.abs(rotations).max() <= 90 and 0.3 < np.mean(rotations == 0) < 0.5
    assert 0.4 < np.mean([d.flip for d in draws]) < 0.6
    assert 0.8 <= colours.min() and colours.max() <= 1.2


def test_official_init_and_imagenet_backbone_loading(tmp_path):
    model = init_internet_weights(InterNet())
    head = model.pose_net.joint_conv_1[0]
    assert float(head.weight.detach().std()) == pytest.approx(0.001, rel=0.05)
    assert float(head.bias.detach().abs().max()) == 0.0
    imagenet = {key: torch.full_like(value, 0.5) if value.is_floating_point() else value
                for key, value in model.backbone_net.resnet.state_dict().items()}
    imagenet['fc.weight'], imagenet['fc.bias'] = torch.zeros(1000, 2048), torch.zeros(1000)
    torch.save(imagenet, tmp_path / 'resnet50.pth')
    load_imagenet_backbone(model, tmp_path / 'resnet50.pth')
    assert float(model.backbone_net.resnet.layer4[2].conv3.weight.detach().mean()) == 0.5
    del imagenet['layer1.0.conv1.weight']
    torch.save(imagenet, tmp_path / 'broken.pth')
    with pytest.raises(PretrainedWeightsError, match='layer1.0.conv1.weight'):
        load_imagenet_backbone(model, tmp_path / 'broken.pth')


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    return config_from_args(parser.parse_args(argv))


def test_config_defaults_are_the_papers_and_flags_override_the_file(tmp_path):
    defaults = TrainConfig()
    assert (defaults.lr, defaults.lr_decay_epochs, defaults.epochs, defaults.batch_size) == \
        (1e-4, [15, 17], 20, 16)
    (tmp_path / 'c.json').write_text(json.dumps({'data_root': '/d', 'lr': 0.5, 'epochs': 3}))
    config = _parse(['--config', str(tmp_path / 'c.json'), '--epochs', '7',
                     '--augment', 'false', '--lr-decay-epochs', '4', '5'])
    assert (config.data_root, config.lr, config.epochs, config.augment) == ('/d', 0.5, 7, False)
    assert config.lr_decay_epochs == [4, 5]
    (tmp_path / 'bad.json').write_text(json.dumps({'data_root': '/d', 'learning_rate': 1}))
    with pytest.raises(ConfigError, match='learning_rate'):
        _parse(['--config', str(tmp_path / 'bad.json')])
    with pytest.raises(ConfigError, match='data_root'):
        _parse([])
    with pytest.raises(ConfigError, match='precision'):
        _parse(['--data-root', '/d', '--precision', 'fp8'])


def test_atomic_save_keeps_the_old_checkpoint_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / 'ckpt.pth'
    save_atomically({'step': 1}, path)

    def failing_save(obj, f):
        f.write(b'partial')
        raise OSError('disk full')

    monkeypatch.setattr(torch, 'save', failing_save)
    with pytest.raises(OSError):
        save_atomically({'step': 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {'step': 1}
    assert [p.name for p in tmp_path.iterdir()] == ['ckpt.pth']


def test_rng_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    state = rng_state()
    save_atomically({'rng': state}, tmp_path / 'r.pth')
    expected = (random.random(), torch.rand(3))
    restore_rng_state(torch.load(tmp_path / 'r.pth', weights_only=True)['rng'])
    assert random.random() == expected[0] and torch.equal(torch.rand(3), expected[1])
