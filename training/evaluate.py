"""Evaluate an InterNet checkpoint on InterHand2.6M with the official metrics (reference §8).

    python -m training.evaluate --checkpoint snapshot_19.pth --data-root DATA --split test \
        [--depth gt|engine|rootnet --rootnet-json rootnet_output.json] [--json metrics.json]

Absolute root depths (needed to back-project the crop-space prediction) come from the ground
truth, from this project's monocular estimate (the engine's hand-size prior), or from a
RootNet-style json list of {"annot_id", "abs_depth": [right, left] mm} as the official code uses.
The GT box (squared, x1.25) defines the crop, as in the official evaluation (the RootNet boxes
are the GT boxes, official issue #94). The network runs through the node's engine (built by
processing/factory.py, its batch path InterNetEstimator.infer: BatchNorm folded, the chosen
backend and precision, the same decoding), so the table describes what the node runs. Prints a
table beside the paper's numbers.
"""
from __future__ import annotations

import argparse
import json
import warnings
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from interhand_ros.engine.estimator import NetworkResult
from interhand_ros.engine.options import BACKENDS, PRECISIONS
from interhand_ros.geometry.crop import apply_affine
from interhand_ros.geometry.root_depth import root_depth_from_hand_size
from interhand_ros.processing.factory import EstimatorError, EstimatorSettings, build_estimator
from interhand_ros.skeleton import (
    LEFT_SLICE,
    NUM_JOINTS,
    RIGHT_SLICE,
    SIDES,
    split_model_joints,
)
from training.dataset import (
    LEFT_ROOT,
    RIGHT_ROOT,
    DatasetError,
    DatasetOptions,
    InterHandIndex,
    image_dir,
    load_index,
)
from training.geometry import pixel_to_camera
from training.metrics import Metrics, compute_metrics, per_joint_mean
from training.samples import InterHandSamples
from training.targets import MM_PER_M

DEPTH_SOURCES = ('gt', 'engine', 'rootnet')
# Paper (InterNet trained on InterHand2.6M H+M, evaluated on Test H+M, RootNet depth).
PAPER = {'mpjpe_single': 12.16, 'mpjpe_interacting': 16.02, 'mrrpe': 32.57,
         'handedness_ap': 99.09}
PAPER_PER_JOINT = {  # finger joints T4 T3 T2 T1 I4 ... P1 (InterNet order within a hand)
    'single': [15.4, 12.0, 9.3, 6.7, 15.8, 14.0, 12.6, 10.4, 17.1, 15.0, 13.3, 10.2,
               16.6, 14.3, 12.7, 9.7, 15.6, 13.4, 11.9, 9.4],
    'interacting': [20.7, 15.9, 12.3, 8.8, 23.0, 19.3, 16.6, 13.2, 25.4, 19.5, 16.5, 12.6,
                    22.1, 17.6, 15.5, 12.2, 20.9, 17.1, 15.0, 12.2],
}
FINGER_JOINT_LABELS = [f'{finger}{level}' for finger in 'TIMRP' for level in (4, 3, 2, 1)]


class EvaluationError(ValueError):
    """Bad evaluation inputs (e.g. a RootNet json without some annotation)."""


@runtime_checkable
class CropNetwork(Protocol):
    """The estimator's batch path: decoded network outputs of B x 256 x 256 x 3 uint8 crops."""

    def infer(self, crops: np.ndarray) -> Sequence[NetworkResult]: ...


def build_network(checkpoint: Path, device: str = 'auto', precision: str = 'fp32',
                  refine: bool = False, backend: str = 'torch') -> CropNetwork:
    """The node's engine for a checkpoint, built by the one factory (BatchNorm folded, the
    requested backend and precision). Every hand's heatmap branch runs (presence threshold 0):
    the official MPJPE scores each annotated hand whatever presence the network predicts,
    while handedness is scored from the presence outputs themselves."""
    settings = EstimatorSettings(checkpoint=str(checkpoint), backend=backend, device=device,
                                 cuda_fallback=False, precision=precision, refine=refine,
                                 presence_threshold=0.0, warmup=False)
    try:
        estimator = build_estimator(settings, warnings.warn)
    except EstimatorError as error:
        raise EvaluationError(str(error)) from error
    if not isinstance(estimator, CropNetwork):
        raise EvaluationError(f'{type(estimator).__name__} has no batch path (infer) to evaluate')
    return estimator


def to_crops(images: torch.Tensor) -> np.ndarray:
    """Sample images (B x 3 x 256 x 256, 0..1) -> B x 256 x 256 x 3 uint8, the crops the node
    feeds the network (it crops uint8 camera images)."""
    pixels = images.permute(0, 2, 3, 1).mul(255.0).round_().clamp_(0.0, 255.0)
    return pixels.to(torch.uint8).numpy()


def predict(network: CropNetwork, samples: InterHandSamples, batch_size: int,
            workers: int) -> dict[str, np.ndarray]:
    """The network's decoded outputs for every sample, through its batch path."""
    loader = DataLoader(samples, batch_size, shuffle=False, num_workers=workers)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ('crop_xy', 'depth_rel_mm', 'root_mm',
                                                         'presence', 'inverse', 'row')}
    for batch in tqdm(loader, desc='evaluate', dynamic_ncols=True):
        results = network.infer(to_crops(batch['image']))
        parts['crop_xy'].append(np.stack([r.crop_xy for r in results]))
        parts['depth_rel_mm'].append(np.stack([r.depth_rel_m for r in results]) * MM_PER_M)
        parts['root_mm'].append(np.array([r.relative_root_m for r in results]) * MM_PER_M)
        parts['presence'].append(np.stack([r.presence for r in results]))
        parts['inverse'].append(batch['inverse_transform'].numpy())
        parts['row'].append(batch['row'].numpy())
    return {key: np.concatenate(values).astype(np.float64) for key, values in parts.items()}


def image_pixels(crop_xy: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """(N, 42, 2) crop pixels -> original image pixels with each sample's T_inv."""
    return np.stack([apply_affine(t, xy) for t, xy in zip(inverse, crop_xy)])


def rootnet_depths(path: Path, annot_ids: np.ndarray) -> np.ndarray:
    """(N, 2) [right, left] absolute root depths (mm) from a RootNet output json."""
    try:
        entries = json.loads(Path(path).read_text())
        by_id = {int(entry['annot_id']): entry['abs_depth'] for entry in entries}
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise EvaluationError(f'cannot read RootNet depths from {path}: {error!r}') from error
    missing = [int(a) for a in annot_ids if int(a) not in by_id]
    if missing:
        raise EvaluationError(f'{path} has no abs_depth for {len(missing)} annotations, '
                              f'e.g. annot_id {missing[:5]}')
    return np.array([by_id[int(a)] for a in annot_ids], dtype=np.float64)


def engine_depths(pixels: np.ndarray, depth_rel_mm: np.ndarray, focal: np.ndarray,
                  princpt: np.ndarray) -> np.ndarray:
    """(N, 2) root depths (mm) from the engine's monocular hand-size prior.

    Where it has no answer for a hand, the median of all its answers is used.
    """
    depths = np.full((len(pixels), 2), np.nan)
    for row in range(len(pixels)):
        rays = split_model_joints((pixels[row] - princpt[row]) / focal[row])
        depth_rel_m = split_model_joints(depth_rel_mm[row] / MM_PER_M)
        for hand, side in enumerate(SIDES):
            estimate = root_depth_from_hand_size(rays[side], depth_rel_m[side])
            if estimate is not None:
                depths[row, hand] = estimate * MM_PER_M
    if np.isnan(depths).all():
        raise EvaluationError('the hand-size prior found no root depth for any hand')
    return np.where(np.isnan(depths), np.nanmedian(depths), depths)


def lift_predictions(pixels: np.ndarray, depth_rel_mm: np.ndarray, root_mm: np.ndarray,
                     abs_depth: np.ndarray, focal: np.ndarray,
                     princpt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Camera-space joints (N, 42, 3) and left-minus-right root vectors (N, 3), official rules.

    Joints: each hand's z_rel + its own absolute root depth. MRRPE roots: the right root at
    D_right + z_rel, the left root at D_right + z_rel + predicted relative root depth.
    """
    focal, princpt = focal[:, None], princpt[:, None]
    z = depth_rel_mm.copy()
    z[:, RIGHT_SLICE] += abs_depth[:, :1]
    z[:, LEFT_SLICE] += abs_depth[:, 1:2]
    joints = pixel_to_camera(np.concatenate([pixels, z[..., None]], axis=-1), focal, princpt)
    right_z = depth_rel_mm[:, RIGHT_ROOT] + abs_depth[:, 0]
    left_z = depth_rel_mm[:, LEFT_ROOT] + abs_depth[:, 0] + root_mm
    roots = np.stack([np.c_[pixels[:, RIGHT_ROOT], right_z], np.c_[pixels[:, LEFT_ROOT], left_z]],
                     axis=1)
    roots_cam = pixel_to_camera(roots, focal, princpt)
    return joints, roots_cam[:, 1] - roots_cam[:, 0]


def evaluate(network: CropNetwork, index: InterHandIndex, images: Path, depth: str = 'gt',
             rootnet_json: Path | None = None, batch_size: int = 32,
             workers: int = 0) -> Metrics:
    """Run the network (build_network: the node's engine) over the index and compute the
    official metrics."""
    if depth not in DEPTH_SOURCES:
        raise EvaluationError(f'depth must be one of {DEPTH_SOURCES}, got {depth!r}')
    if depth == 'rootnet' and rootnet_json is None:
        raise EvaluationError("--depth rootnet needs --rootnet-json")
    predictions = predict(network, InterHandSamples(index, images, augment=False), batch_size,
                          workers)
    index = index.select(predictions['row'].astype(np.int64))
    pixels = image_pixels(predictions['crop_xy'], predictions['inverse'])
    if depth == 'gt':
        abs_depth = index.joint_cam[:, [RIGHT_ROOT, LEFT_ROOT], 2].astype(np.float64)
    elif depth == 'rootnet':
        assert rootnet_json is not None  # checked above
        abs_depth = rootnet_depths(rootnet_json, index.annot_id)
    else:
        abs_depth = engine_depths(pixels, predictions['depth_rel_mm'], index.focal, index.princpt)
    joints, rel_root = lift_predictions(pixels, predictions['depth_rel_mm'],
                                        predictions['root_mm'], abs_depth, index.focal,
                                        index.princpt)
    return compute_metrics(joints, rel_root, predictions['presence'], index.joint_cam,
                           index.joint_valid, index.hand_type, index.hand_type_valid)


def _finger_joint_means(per_joint: np.ndarray) -> np.ndarray:
    """(42,) -> (20,) finger joints in the paper's column order, averaged over the two hands
    that have a value (NaN where neither has)."""
    finger = [j for j in range(NUM_JOINTS) if j != RIGHT_ROOT]
    both = np.stack([per_joint[finger], per_joint[[j + NUM_JOINTS for j in finger]]])
    return per_joint_mean(both, np.isfinite(both))


def format_table(metrics: Metrics, title: str) -> str:
    """A summary laid out like the paper's tables, the paper's numbers beside ours."""
    def cell(value: float, scale: float = 1.0) -> str:
        return f'{value * scale:8.2f}' if np.isfinite(value) else '       -'

    lines = [title, f'{"metric":<34}{"ours":>8}{"paper":>8}']
    rows = [('MPJPE single hand (mm)', metrics.mpjpe_single, 'mpjpe_single', 1.0),
            ('MPJPE interacting hands (mm)', metrics.mpjpe_interacting, 'mpjpe_interacting', 1.0),
            ('MPJPE all (mm)', metrics.mpjpe_all, None, 1.0),
            ('MRRPE (mm)', metrics.mrrpe, 'mrrpe', 1.0),
            ('AP_h (%)', metrics.handedness_ap, 'handedness_ap', 100.0),
            ('handedness accuracy (%)', metrics.handedness_accuracy, None, 100.0)]
    for label, value, paper_key, scale in rows:
        paper = cell(PAPER[paper_key]) if paper_key else '       -'
        lines.append(f'{label:<34}{cell(value, scale)}{paper}')
    lines.append('')
    lines.append('per-joint MPJPE (mm), both hands averaged; paper row below ours')
    lines.append(f'{"":<18}' + ''.join(f'{label:>6}' for label in FINGER_JOINT_LABELS)
                 + f'{"avg":>7}')
    for name, per_joint, mean in (('single', metrics.per_joint_single, metrics.mpjpe_single),
                                  ('interacting', metrics.per_joint_interacting,
                                   metrics.mpjpe_interacting)):
        ours = _finger_joint_means(per_joint)
        lines.append(f'{name + " ours":<18}' + ''.join(
            f'{v:6.1f}' if np.isfinite(v) else '     -' for v in ours) + cell(mean)[1:])
        lines.append(f'{name + " paper":<18}' + ''.join(
            f'{v:6.1f}' for v in PAPER_PER_JOINT[name]) + cell(PAPER[f'mpjpe_{name}'])[1:])
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--checkpoint', type=Path, required=True)
    parser.add_argument('--data-root', type=Path, required=True)
    parser.add_argument('--split', default='test', choices=('train', 'val', 'test'))
    parser.add_argument('--annot-subset', default='H+M', choices=('H', 'M', 'H+M'))
    parser.add_argument('--hand-set', default='all', choices=('all', 'single', 'interacting'))
    parser.add_argument('--fps', type=int, default=5, choices=(5, 30))
    parser.add_argument('--depth', default='gt', choices=DEPTH_SOURCES)
    parser.add_argument('--rootnet-json', type=Path)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--workers', type=int, default=4)
    parser.add_argument('--device', default='auto', help='auto | cpu | cuda | cuda:N')
    parser.add_argument('--backend', default='torch', choices=BACKENDS)
    parser.add_argument('--precision', default='fp32', choices=PRECISIONS)
    parser.add_argument('--refine', action='store_true', help='sub-voxel refinement (not official)')
    parser.add_argument('--cache-dir', type=Path, help='index cache folder')
    parser.add_argument('--json', type=Path, help='also write the metrics here')
    args = parser.parse_args(argv)
    try:
        options = DatasetOptions(args.split, args.annot_subset, args.hand_set, args.fps)
        index = load_index(args.data_root, options, args.cache_dir)
        network = build_network(args.checkpoint, args.device, args.precision, args.refine,
                                args.backend)
        metrics = evaluate(network, index, image_dir(args.data_root, options), args.depth,
                           args.rootnet_json, args.batch_size, args.workers)
    except (DatasetError, EvaluationError) as error:
        parser.exit(2, f'training.evaluate: error: {error}\n')
    title = (f'InterNet {args.checkpoint.name} on {args.split} ({args.annot_subset}, '
             f'{args.hand_set}), {len(index)} images, root depth: {args.depth}; '
             'paper: Train(H+M) -> Test(H+M), RootNet depth')
    print(format_table(metrics, title))
    if args.json:
        content = {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                   for k, v in asdict(metrics).items()}
        args.json.write_text(json.dumps(content, indent=1))


if __name__ == '__main__':
    main()
