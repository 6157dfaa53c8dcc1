"""Checkpoint loading: official layout variants accepted, wrong files rejected by name."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from interhand_ros.engine.checkpoint import (
    CheckpointError,
    expected_state_dict_shapes,
    load_internet,
    load_internet_state_dict,
)
from interhand_ros.engine.model import InterNet

REFERENCE = Path(__file__).parents[1] / '..' / 'shared' / 'reference' / 'internet_state_dict.tsv'


def _official_layout_from_reference() -> dict[str, torch.Tensor]:
    """A state dict keyed and shaped exactly as the official key list says (module. prefix)."""
    if not REFERENCE.is_file():
        pytest.skip(f'official key list not found at {REFERENCE}')
    state = {}
    rows = [line.split('\t') for line in REFERENCE.read_text().splitlines()
            if line and not line.startswith('#')]
    for index, (key, shape_text, _) in enumerate(rows):
        shape = tuple(int(n) for n in shape_text.strip('()').split(',') if n.strip())
        if key.endswith('num_batches_tracked'):
            state[key] = torch.tensor(index, dtype=torch.long)
        else:  # a distinct value per key proves every tensor lands under its own name
            state[key] = torch.tensor(float(index + 1)).expand(shape)
    return state


def _cheap_state(prefix: str = '') -> dict[str, torch.Tensor]:
    """Correctly shaped but tiny on disk: each tensor is a broadcast view of one number."""
    return {prefix + key: torch.zeros(()).expand(shape) if shape else torch.tensor(0)
            for key, shape in expected_state_dict_shapes().items()}


@pytest.fixture(scope='module')
def shared_model() -> InterNet:
    return InterNet()


def _save(tmp_path: Path, content: object, name: str = 'ckpt.pth') -> Path:
    path = tmp_path / name
    torch.save(content, path)
    return path


def test_official_snapshot_layout_loads_strictly_with_its_values(tmp_path):
    official = _official_layout_from_reference()
    path = _save(tmp_path, {'epoch': 19, 'network': official, 'optimizer': {'state': {}}},
                 'snapshot_20.pth.tar')
    model = load_internet(path)
    ours = model.state_dict()
    for key, value in official.items():
        assert torch.equal(ours[key.removeprefix('module.')], value), key
    assert not model.training


@pytest.mark.parametrize('variant', ['module_prefix', 'no_prefix', 'no_num_batches_tracked',
                                     'model_key', 'bare'])
def test_checkpoint_variants_are_accepted(tmp_path, variant, shared_model):
    state = _cheap_state('module.' if variant == 'module_prefix' else '')
    if variant == 'no_num_batches_tracked':
        state = {k: v for k, v in state.items() if not k.endswith('num_batches_tracked')}
    content = {'bare': state, 'model_key': {'model': state, 'epoch': 3}}.get(
        variant, {'network': state, 'epoch': 3})
    loaded = load_internet_state_dict(_save(tmp_path, content))
    assert set(loaded) == set(expected_state_dict_shapes())
    assert all(not key.startswith('module.') for key in loaded)
    shared_model.load_state_dict(loaded, strict=True)


def test_missing_unexpected_and_misshaped_keys_are_named(tmp_path):
    state = _cheap_state()
    del state['pose_net.hand_fc.2.bias']
    state['pose_net.extra_head.weight'] = torch.zeros(3)
    state['pose_net.root_fc.2.weight'] = torch.zeros(32, 512)
    with pytest.raises(CheckpointError) as error:
        load_internet_state_dict(_save(tmp_path, {'network': state}))
    message = str(error.value)
    assert 'missing keys: pose_net.hand_fc.2.bias' in message
    assert 'unexpected keys: pose_net.extra_head.weight' in message
    assert 'pose_net.root_fc.2.weight (32, 512) != (64, 512)' in message


def test_a_different_network_is_rejected(tmp_path):
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8))
    with pytest.raises(CheckpointError, match=r'missing keys: backbone_net\.resnet\.conv1'):
        load_internet_state_dict(_save(tmp_path, other.state_dict()))


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


@pytest.mark.filterwarnings('ignore:Detected pickle protocol')
def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'network': _Exploit(marker)}, path)
    with pytest.raises(CheckpointError, match='weights-only'):
        load_internet_state_dict(path)
    assert not marker.exists()
    raw_pickle = tmp_path / 'evil.pkl'
    raw_pickle.write_bytes(pickle.dumps(_Exploit(marker)))
    with pytest.raises(CheckpointError):
        load_internet_state_dict(raw_pickle)
    assert not marker.exists()


@pytest.mark.parametrize('content', [[1, 2, 3], {'epoch': 3, 'note': 'no weights'}, {}])
def test_files_without_a_state_dict_are_rejected(tmp_path, content):
    with pytest.raises(CheckpointError):
        load_internet_state_dict(_save(tmp_path, content))


def test_missing_and_corrupt_files_raise_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match='not found'):
        load_internet_state_dict(tmp_path / 'absent.pth')
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'\x00not a checkpoint' * 10)
    with pytest.raises(CheckpointError):
        load_internet_state_dict(garbage)


def test_random_checkpoint_with_both_hands_runs_the_whole_network(tmp_path):
    """save_random_checkpoint(both_hands=True): the handedness head says both hands on any
    image; the same seed without it writes the plain random weights, byte for byte."""
    from interhand_ros.engine.checkpoint import save_random_checkpoint
    model = load_internet(save_random_checkpoint(tmp_path / 'two.pth', seed=3, both_hands=True))
    images = torch.rand(4, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        _, presence = model.pose_net.global_heads(model.backbone_net(images))
    assert (presence > 0.99).all()
    for name in ('a', 'b'):  # the file name is part of torch's archive: same name, two folders
        (tmp_path / name).mkdir()
    plain = [save_random_checkpoint(tmp_path / name / 'plain.pth', seed=3) for name in 'ab']
    assert plain[0].read_bytes() == plain[1].read_bytes()
    assert not torch.equal(load_internet(plain[0]).pose_net.hand_fc[-1].bias,
                           model.pose_net.hand_fc[-1].bias)
