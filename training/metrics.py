"""Official InterHand2.6M metrics (reference §8): MPJPE, MRRPE, handedness accuracy and AP.

All inputs are in camera millimetres in InterNet's 42-joint order. MPJPE root-aligns each hand
separately, averages every joint over the samples where it is valid, then averages the 42
per-joint means (the two roots included, whose error is 0) -- the number the paper reports.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from interhand_ros.skeleton import LEFT_SLICE, NUM_MODEL_JOINTS, RIGHT_SLICE
from training.dataset import HAND_TYPES, LEFT_ROOT, RIGHT_ROOT

INTERACTING = HAND_TYPES.index('interacting')
PRESENCE_THRESHOLD = 0.5


def root_align(joints: np.ndarray) -> np.ndarray:
    """(N, 42, 3) -> the same with each hand's root (wrist) subtracted from its 21 joints."""
    aligned = joints.astype(np.float64, copy=True)
    aligned[:, RIGHT_SLICE] -= aligned[:, RIGHT_ROOT:RIGHT_ROOT + 1]
    aligned[:, LEFT_SLICE] -= aligned[:, LEFT_ROOT:LEFT_ROOT + 1]
    return aligned


def per_joint_errors(pred_cam: np.ndarray, gt_cam: np.ndarray) -> np.ndarray:
    """(N, 42) Euclidean error (mm) of every joint after per-hand root alignment."""
    if pred_cam.shape != gt_cam.shape or pred_cam.shape[1:] != (NUM_MODEL_JOINTS, 3):
        raise ValueError(f'expected two (N, 42, 3) arrays, got {pred_cam.shape} and {gt_cam.shape}')
    return np.linalg.norm(root_align(pred_cam) - root_align(gt_cam), axis=-1)


def per_joint_mean(errors: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(42,) mean error of each joint over samples where it is valid (NaN if never valid)."""
    mask = valid > 0
    counts = mask.sum(axis=0)
    sums = np.where(mask, errors, 0.0).sum(axis=0)
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def mrrpe(pred_rel_root: np.ndarray, gt_cam: np.ndarray, valid: np.ndarray,
          hand_type: np.ndarray) -> float:
    """Mean ||(P_left - P_right) - (G_left - G_right)|| (mm) over interacting samples with both
    roots valid; pred_rel_root is (N, 3) predicted left root minus right root. NaN if none."""
    use = (hand_type == INTERACTING) & (valid[:, RIGHT_ROOT] > 0) & (valid[:, LEFT_ROOT] > 0)
    if not use.any():
        return float('nan')
    gt_rel = gt_cam[use, LEFT_ROOT] - gt_cam[use, RIGHT_ROOT]
    return float(np.linalg.norm(pred_rel_root[use] - gt_rel, axis=-1).mean())


def presence_targets(hand_type: np.ndarray) -> np.ndarray:
    """(N, 2) [right, left] presence labels of each GT hand type."""
    return np.stack([hand_type != HAND_TYPES.index('left'),
                     hand_type != HAND_TYPES.index('right')], axis=1).astype(np.float64)


def handedness_accuracy(presence: np.ndarray, hand_type: np.ndarray,
                        hand_type_valid: np.ndarray) -> float:
    """Official accuracy: both thresholded presences must match the GT type (valid samples)."""
    use = hand_type_valid > 0
    if not use.any():
        return float('nan')
    predicted = presence[use] > PRESENCE_THRESHOLD
    expected = presence_targets(hand_type[use]) > 0.5
    return float(np.all(predicted == expected, axis=1).mean())


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the precision-recall step curve, sum_k (R_k - R_{k-1}) P_k over distinct
    score thresholds (ties form one step). NaN without positives."""
    positives = labels.sum()
    if positives == 0:
        return float('nan')
    order = np.argsort(-scores, kind='stable')
    scores, labels = scores[order], labels[order]
    last_of_threshold = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    true_positives = np.cumsum(labels)[last_of_threshold]
    precision = true_positives / (last_of_threshold + 1)
    recall = true_positives / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def handedness_ap(presence: np.ndarray, hand_type: np.ndarray,
                  hand_type_valid: np.ndarray) -> float:
    """AP_h: mean over the two hands of the AP of p_right / p_left against presence labels.

    The official code has no AP; this is the standard per-class AP averaged over classes.
    """
    use = hand_type_valid > 0
    labels = presence_targets(hand_type[use])
    aps = [average_precision(presence[use, hand], labels[:, hand]) for hand in (0, 1)]
    return float(np.nanmean(aps)) if not np.all(np.isnan(aps)) else float('nan')


@dataclass(frozen=True)
class Metrics:
    """Everything the paper's tables report (mm; accuracy and AP in 0..1)."""

    per_joint_single: np.ndarray       # (42,)
    per_joint_interacting: np.ndarray  # (42,)
    per_joint_all: np.ndarray          # (42,)
    mpjpe_single: float
    mpjpe_interacting: float
    mpjpe_all: float
    mrrpe: float
    handedness_accuracy: float
    handedness_ap: float


def _mean_of_joints(per_joint: np.ndarray) -> float:
    return float(np.nanmean(per_joint)) if np.isfinite(per_joint).any() else float('nan')


def compute_metrics(pred_cam: np.ndarray, pred_rel_root: np.ndarray, presence: np.ndarray,
                    gt_cam: np.ndarray, joint_valid: np.ndarray, hand_type: np.ndarray,
                    hand_type_valid: np.ndarray) -> Metrics:
    """All metrics for N samples: pred_cam / gt_cam (N, 42, 3) mm, pred_rel_root (N, 3) mm,
    presence (N, 2) [right, left], joint_valid (N, 42), hand_type (N,) index into HAND_TYPES."""
    errors = per_joint_errors(pred_cam, gt_cam)
    interacting = (hand_type == INTERACTING)[:, None]
    per_single = per_joint_mean(errors, joint_valid * ~interacting)
    per_inter = per_joint_mean(errors, joint_valid * interacting)
    per_all = per_joint_mean(errors, joint_valid)
    return Metrics(per_single, per_inter, per_all, _mean_of_joints(per_single),
                   _mean_of_joints(per_inter), _mean_of_joints(per_all),
                   mrrpe(pred_rel_root, gt_cam, joint_valid, hand_type),
                   handedness_accuracy(presence, hand_type, hand_type_valid),
                   handedness_ap(presence, hand_type, hand_type_valid))
