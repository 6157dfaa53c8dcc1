"""Random InterNet weights that behave like a trained model to the node: the benchmark's weights.

Plain random weights (engine/checkpoint.save_random_checkpoint) leave the handedness head near
0.5, so one hand (or none) is present and its heatmap branch (28 % of the network) is skipped;
and their heatmaps are nearly flat (random features at init are ~1e-4), so the decoded joints
scatter over +-0.2 m of relative depth or collapse onto one voxel. The hand-size prior then finds
no root depth, no joint is valid, the roi source never confirms a hand and roi.mode 'detector'
runs MediaPipe on every frame instead of one in roi.detect_every. A speed figure from such
weights is the cost of a network and a node that a user tracking two hands never runs.

These weights keep every layer's random values except three, which cost the same to run:
- the handedness head's final bias: +PRESENCE_LOGIT for each hand that is present (sigmoid
  0.993), -PRESENCE_LOGIT for an absent one;
- each hand's 1x1 heatmap conv: its random weights scaled so the features' spatial pattern
  decides each joint's pixel (distinct joints, robust to int8 rounding), and a bias that puts
  every joint's peak in the middle depth slice (relative depth 0: a flat hand, whose size the
  hand-size prior always fits).
So every frame has the given hands with finite joints, the roi source tracks them, and the
detector runs only when due (every roi.detect_every frames), as with a trained model following
hands. Speed does not depend on these values; accuracy is meaningless.
"""
from __future__ import annotations

from pathlib import Path

import torch

from interhand_ros.engine.model import HEATMAP_SIZE, InterNet

PRESENCE_LOGIT = 5.0   # sigmoid(5) = 0.993: well above any presence threshold
HEATMAP_GAIN = 3e3     # random features ~1e-4 -> a spatial pattern of order 1
PEAK_MARGIN = 20.0     # middle depth slice above every other slice's pattern
HANDS = {'two': (True, True), 'right': (True, False)}  # [right, left] present


def bench_weights(hands: str = 'two', seed: int = 0) -> dict[str, torch.Tensor]:
    """InterNet's state dict: random (seeded) with the changes above; hands: a key of HANDS."""
    torch.manual_seed(seed)
    state = InterNet().state_dict()
    state['pose_net.hand_fc.2.bias'] = torch.tensor(
        [PRESENCE_LOGIT if present else -PRESENCE_LOGIT for present in HANDS[hands]])
    for branch in (1, 2):
        prefix = f'pose_net.joint_conv_{branch}.0'
        bias = torch.zeros_like(state[f'{prefix}.bias']).reshape(-1, HEATMAP_SIZE)
        bias[:, HEATMAP_SIZE // 2] = PEAK_MARGIN
        state[f'{prefix}.bias'] = bias.reshape(-1)
        state[f'{prefix}.weight'] = state[f'{prefix}.weight'] * HEATMAP_GAIN
    return state


def save_bench_checkpoint(path: str | Path, hands: str = 'two', seed: int = 0) -> Path:
    """Write bench_weights as a checkpoint (the same bytes for the same arguments, so compiled
    and quantized models of it are reused from the cache between runs)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({'network': bench_weights(hands, seed)}, path)
    return path
