"""InterNet's structure against the official snapshot's key list and the reference (§1)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from interhand_ros.engine.model import HEATMAP_SIZE, InterNet, fold_batchnorm
from interhand_ros.skeleton import NUM_JOINTS

REFERENCE = Path(__file__).parents[1] / '..' / 'shared' / 'reference' / 'internet_state_dict.tsv'
OFFICIAL_PARAMETER_COUNT = 47_305_474


def _reference_rows() -> list[tuple[str, tuple[int, ...], str]]:
    if not REFERENCE.is_file():
        pytest.skip(f'official key list not found at {REFERENCE}')
    rows = []
    for line in REFERENCE.read_text().splitlines():
        if line and not line.startswith('#'):
            key, shape, kind = line.split('\t')
            rows.append((key, tuple(int(n) for n in shape.strip('()').split(',') if n.strip()),
                         kind))
    return rows


@pytest.fixture(scope='module')
def model() -> InterNet:
    torch.manual_seed(0)
    return InterNet().eval()


def test_parameter_count_equals_official(model):
    assert sum(p.numel() for p in model.parameters()) == OFFICIAL_PARAMETER_COUNT


def test_every_key_and_shape_matches_the_official_state_dict(model):
    rows = _reference_rows()
    assert len(rows) == 366
    ours = model.state_dict()
    params = {name for name, _ in model.named_parameters()}
    expected = {key.removeprefix('module.'): (shape, kind) for key, shape, kind in rows}
    assert set(ours) == set(expected)
    for key, (shape, kind) in expected.items():
        assert tuple(ours[key].shape) == shape, key
        assert (key in params) == (kind == 'param'), key


def test_stride_sits_in_the_3x3_conv_of_each_stage(model):
    resnet = model.backbone_net.resnet
    for stage, stride in ((resnet.layer1, 1), (resnet.layer2, 2), (resnet.layer3, 2),
                          (resnet.layer4, 2)):
        assert stage[0].conv1.stride == (1, 1)
        assert stage[0].conv2.stride == (stride, stride)
        assert stage[0].downsample[0].stride == (stride, stride)


def test_stage_shapes_for_a_256_input(model):
    resnet = model.backbone_net.resnet
    shapes = {}
    hooks = [getattr(resnet, name).register_forward_hook(
        lambda _m, _i, out, name=name: shapes.__setitem__(name, tuple(out.shape[1:])))
        for name in ('maxpool', 'layer1', 'layer2', 'layer3', 'layer4')]
    with torch.inference_mode():
        model.backbone_net(torch.rand(1, 3, 256, 256))
    for hook in hooks:
        hook.remove()
    assert shapes == {'maxpool': (64, 64, 64), 'layer1': (256, 64, 64),
                      'layer2': (512, 32, 32), 'layer3': (1024, 16, 16),
                      'layer4': (2048, 8, 8)}


def test_heads_channel_layout_root_soft_argmax_and_sigmoid_presence():
    """Analytic cases: with zero weights each head outputs a function of its bias alone."""
    model = InterNet().eval()
    pose = model.pose_net
    heatmap_bias = torch.arange(NUM_JOINTS * HEATMAP_SIZE, dtype=torch.float32)
    with torch.no_grad():
        for conv, offset in ((pose.joint_conv_1[0], 0.0), (pose.joint_conv_2[0], 10_000.0)):
            conv.weight.zero_()
            conv.bias.copy_(heatmap_bias + offset)
        root_logits = torch.linspace(-3.0, 2.0, 64)
        pose.root_fc[2].weight.zero_()
        pose.root_fc[2].bias.copy_(root_logits)
        pose.hand_fc[2].weight.zero_()
        pose.hand_fc[2].bias.copy_(torch.tensor([2.0, -1.0]))
        out = model(torch.rand(2, 3, 256, 256))
    assert out.heatmaps.shape == (2, 42, 64, 64, 64)
    # channel c = joint * 64 + z (joint-major, depth-minor); branch 1 = joints 0-20 (right)
    joint, z = 7, 33
    assert torch.all(out.heatmaps[:, joint, z] == joint * 64 + z)
    assert torch.all(out.heatmaps[:, NUM_JOINTS + joint, z] == 10_000 + joint * 64 + z)
    expected_bins = float((root_logits.softmax(0) * torch.arange(64.0)).sum())
    assert out.root_depth_bins.shape == (2,)
    assert torch.allclose(out.root_depth_bins, torch.full((2,), expected_bins), atol=1e-4)
    expected_presence = torch.tensor([2.0, -1.0]).sigmoid()
    assert torch.allclose(out.hand_presence, expected_presence.expand(2, 2), atol=1e-6)


def test_batchnorm_folding_keeps_the_outputs():
    torch.manual_seed(1)
    model = InterNet().eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.1, 0.1)
    images = torch.rand(1, 3, 256, 256)
    with torch.inference_mode():
        reference = model(images)
        folded = fold_batchnorm(model)(images)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    scale = reference.heatmaps.abs().max()
    assert torch.allclose(folded.heatmaps, reference.heatmaps, atol=1e-4 * scale)
    assert torch.allclose(folded.root_depth_bins, reference.root_depth_bins, atol=1e-3)
    assert torch.allclose(folded.hand_presence, reference.hand_presence, atol=1e-5)


def test_folding_refuses_a_training_mode_model():
    with pytest.raises(ValueError, match='eval'):
        fold_batchnorm(InterNet().train())
