"""Evaluation chain (decode -> image pixels -> camera mm -> official metrics) on synthetic data."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from interhand_ros.engine.checkpoint import load_internet
from interhand_ros.engine.decoding import decode_heatmaps, root_bins_to_metres
from interhand_ros.engine.estimator import NetworkResult
from interhand_ros.engine.model import InterNet, InterNetOutput
from training.checkpointing import save_atomically
from training.dataset import (
    HAND_TYPES,
    LEFT_ROOT,
    RIGHT_ROOT,
    DatasetOptions,
    image_dir,
    load_index,
)
from training.evaluate import (
    EvaluationError,
    build_network,
    evaluate,
    format_table,
    lift_predictions,
    main,
    rootnet_depths,
)
from training.metrics import Metrics
from training.samples import InterHandSamples
from training.synthetic import write_dataset
from training.targets import render_gaussian_heatmaps


@pytest.fixture(scope='module')
def data_root(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp('interhand'), frames=3, cameras=2, seed=11,
                         splits=('test',))


class OracleNet(nn.Module):
    """Outputs the ground-truth Gaussian heatmaps, root depth and hand type of each sample, in
    the evaluation's (sequential) order: a perfect network."""

    def __init__(self, samples: InterHandSamples, root_offset_bins: float = 0.0) -> None:
        super().__init__()
        self.targets = [samples[i] for i in range(len(samples))]
        self.root_offset_bins = root_offset_bins
        self.next = 0

    def forward(self, images: torch.Tensor) -> InterNetOutput:
        batch = self.targets[self.next:self.next + images.shape[0]]
        self.next += images.shape[0]
        coords = torch.stack([t['joint_coord'] for t in batch])
        root = torch.stack([t['rel_root_depth'] for t in batch]) + self.root_offset_bins
        presence = torch.stack([t['hand_type'] for t in batch]) * 0.98 + 0.01
        return InterNetOutput(render_gaussian_heatmaps(coords), root, presence)


class OfficialDecoding:
    """The reference batch path: a plain (unfolded) network's forward + the official decoding
    (hard argmax, or soft refinement), every hand decoded."""

    def __init__(self, model: nn.Module, refine: bool = False) -> None:
        self.model, self.refine = model, refine

    def infer(self, crops: np.ndarray) -> list[NetworkResult]:
        images = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255.0
        with torch.inference_mode():
            output = self.model(images)
            decoded = decode_heatmaps(output.heatmaps, refine=self.refine)
            root_m = root_bins_to_metres(output.root_depth_bins)
        return [NetworkResult(decoded.crop_xy[i].double().numpy(),
                              decoded.depth_rel_m[i].double().numpy(),
                              decoded.confidence[i].double().numpy(), float(root_m[i]),
                              output.hand_presence[i].double().numpy())
                for i in range(len(crops))]


def _index(data_root):
    options = DatasetOptions('test')
    return load_index(data_root, options), image_dir(data_root, options)


def test_a_perfect_network_scores_zero_through_the_whole_chain(data_root):
    index, images = _index(data_root)
    oracle = OracleNet(InterHandSamples(index, images, augment=False))
    metrics = evaluate(OfficialDecoding(oracle, refine=True), index, images, depth='gt',
                       batch_size=4)
    assert metrics.mpjpe_all < 0.05 and metrics.mpjpe_single < 0.05
    assert metrics.mpjpe_interacting < 0.05 and metrics.mrrpe < 0.05
    assert metrics.handedness_accuracy == 1.0 and metrics.handedness_ap == 1.0


def test_official_hard_argmax_costs_only_voxel_quantisation(data_root):
    index, images = _index(data_root)
    oracle = OracleNet(InterHandSamples(index, images, augment=False))
    metrics = evaluate(OfficialDecoding(oracle), index, images, depth='gt', batch_size=4)
    # half a voxel is <= 3.1 mm in depth and ~1-2 mm in x/y for these crops
    assert 0.1 < metrics.mpjpe_all < 5.0


def test_a_known_relative_root_error_gives_the_known_mrrpe(data_root):
    index, images = _index(data_root)
    offset_bins = 1.6                       # 1.6 bins x 6.25 mm = 10 mm further left root
    oracle = OracleNet(InterHandSamples(index, images, augment=False), offset_bins)
    metrics = evaluate(OfficialDecoding(oracle, refine=True), index, images, depth='gt',
                       batch_size=4)
    use = ((index.hand_type == HAND_TYPES.index('interacting'))
           & (index.joint_valid[:, RIGHT_ROOT] > 0) & (index.joint_valid[:, LEFT_ROOT] > 0))
    # moving the left root 10 mm in depth along its viewing ray moves it 10 * |ray| mm
    left = index.joint_cam[use, LEFT_ROOT]
    ray = np.linalg.norm(left / left[:, 2:3], axis=1)
    assert metrics.mrrpe == pytest.approx(10.0 * ray.mean(), abs=0.05)
    assert metrics.mpjpe_all < 0.05          # MPJPE is root-aligned: unchanged


def test_lift_of_exact_pixels_and_depths_recovers_the_camera_joints():
    rng = np.random.default_rng(0)
    joints = rng.normal(0, 50, (3, 42, 3)) + [0.0, 0.0, 900.0]
    focal, princpt = np.full((3, 2), 1200.0), np.full((3, 2), 160.0)
    pixels = joints[..., :2] / joints[..., 2:] * focal[:, None] + princpt[:, None]
    roots = joints[:, [RIGHT_ROOT, LEFT_ROOT], 2]
    rel = joints[..., 2].copy()
    rel[:, :21] -= roots[:, :1]
    rel[:, 21:] -= roots[:, 1:]
    lifted, rel_root = lift_predictions(pixels, rel, roots[:, 1] - roots[:, 0], roots, focal,
                                        princpt)
    assert np.allclose(lifted, joints)
    assert np.allclose(rel_root, joints[:, LEFT_ROOT] - joints[:, RIGHT_ROOT])


def test_depth_sources_rootnet_json_and_engine_prior(data_root, tmp_path):
    index, images = _index(data_root)
    gt_depth = index.joint_cam[:, [RIGHT_ROOT, LEFT_ROOT], 2]
    entries = [{'annot_id': int(a), 'abs_depth': d.tolist(), 'bbox': [0, 0, 1, 1]}
               for a, d in zip(index.annot_id, gt_depth)]
    (tmp_path / 'rootnet.json').write_text(json.dumps(entries))
    assert np.allclose(rootnet_depths(tmp_path / 'rootnet.json', index.annot_id), gt_depth)
    (tmp_path / 'short.json').write_text(json.dumps(entries[1:]))
    with pytest.raises(EvaluationError, match='no abs_depth for 1'):
        rootnet_depths(tmp_path / 'short.json', index.annot_id)
    with pytest.raises(EvaluationError, match='rootnet-json'):
        evaluate(OfficialDecoding(nn.Identity()), index, images, depth='rootnet')
    samples = InterHandSamples(index, images, augment=False)
    via_json = evaluate(OfficialDecoding(OracleNet(samples), refine=True), index, images,
                        depth='rootnet', rootnet_json=tmp_path / 'rootnet.json', batch_size=6)
    assert via_json.mpjpe_all < 0.05
    # the hand-size prior only gets the depth roughly right; root-aligned errors stay small
    engine = evaluate(OfficialDecoding(OracleNet(samples), refine=True), index, images,
                      depth='engine', batch_size=6)
    assert np.isfinite(engine.mpjpe_all) and engine.mpjpe_all < 15.0


def test_cli_evaluates_a_checkpoint_and_prints_the_paper_table(tmp_path, capsys):
    root = write_dataset(tmp_path / 'data', frames=1, cameras=1, splits=('test',))
    torch.manual_seed(0)
    save_atomically({'network': InterNet().state_dict()}, tmp_path / 'model.pth')
    main(['--checkpoint', str(tmp_path / 'model.pth'), '--data-root', str(root),
          '--workers', '0', '--device', 'cpu', '--json', str(tmp_path / 'm.json')])
    printed = capsys.readouterr().out
    assert 'MPJPE interacting hands (mm)' in printed and '16.02' in printed
    assert 'interacting paper' in printed
    saved = json.loads((tmp_path / 'm.json').read_text())
    assert len(saved['per_joint_all']) == 42 and saved['mpjpe_interacting'] > 0
    restored = Metrics(**{k: np.asarray(v) if isinstance(v, list) else v
                          for k, v in saved.items()})
    assert format_table(restored, 'title').split('\n', 1)[1] in printed


@pytest.mark.parametrize('refine', [False, True])
def test_the_engine_path_gives_the_table_of_the_plain_model_with_official_decoding(
        data_root, tmp_path, refine):
    """Evaluation runs the node's engine (BatchNorm folded, branch per hand, its decoding); on
    the synthetic set it scores what the unfolded network + official decoding scores."""
    torch.manual_seed(1)
    model = InterNet()
    for module in model.modules():  # BatchNorm statistics far from identity: folding matters
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    save_atomically({'network': model.state_dict()}, tmp_path / 'model.pth')
    index, images = _index(data_root)
    engine = evaluate(build_network(tmp_path / 'model.pth', 'cpu', refine=refine), index,
                      images, batch_size=4)
    plain = evaluate(OfficialDecoding(load_internet(tmp_path / 'model.pth').eval(), refine),
                     index, images, batch_size=4)
    assert np.isfinite(engine.mpjpe_all) and engine.mpjpe_all > 1.0  # random: large errors
    for field in ('per_joint_all', 'per_joint_single', 'per_joint_interacting', 'mpjpe_all',
                  'mpjpe_single', 'mpjpe_interacting', 'mrrpe', 'handedness_accuracy',
                  'handedness_ap'):
        np.testing.assert_allclose(getattr(engine, field), getattr(plain, field), rtol=1e-4,
                                   atol=1e-3, err_msg=field)
    assert format_table(engine, 't') == format_table(plain, 't')
