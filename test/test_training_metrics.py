"""Official InterHand2.6M metrics against ground truth, known perturbations and hand-made cases."""
import numpy as np
import pytest

from training.dataset import HAND_TYPES, LEFT_ROOT, RIGHT_ROOT
from training.metrics import (
    average_precision,
    compute_metrics,
    handedness_accuracy,
    handedness_ap,
    mrrpe,
    per_joint_errors,
)

RIGHT, LEFT, BOTH = (HAND_TYPES.index(t) for t in ('right', 'left', 'interacting'))


def _scene(count: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    gt = rng.normal(0.0, 40.0, (count, 42, 3)) + np.array([0.0, 0.0, 700.0])
    hand_type = np.array([RIGHT, LEFT, BOTH] * (count // 3))
    valid = np.ones((count, 42))
    valid[hand_type == RIGHT, 21:] = 0
    valid[hand_type == LEFT, :21] = 0
    presence = np.stack([hand_type != LEFT, hand_type != RIGHT], 1) * 0.8 + 0.1
    rel_root = gt[:, LEFT_ROOT] - gt[:, RIGHT_ROOT]
    return gt, hand_type, valid, presence, rel_root


def test_ground_truth_predictions_score_zero_error_and_perfect_handedness():
    gt, hand_type, valid, presence, rel_root = _scene()
    m = compute_metrics(gt.copy(), rel_root, presence, gt, valid, hand_type, np.ones(len(gt)))
    assert m.mpjpe_all == pytest.approx(0.0) and m.mpjpe_single == pytest.approx(0.0)
    assert m.mpjpe_interacting == pytest.approx(0.0) and m.mrrpe == pytest.approx(0.0)
    assert m.handedness_accuracy == 1.0 and m.handedness_ap == 1.0


def test_known_offset_of_non_root_joints_gives_the_mean_over_42_joints():
    gt, hand_type, valid, presence, rel_root = _scene()
    pred = gt.copy()
    pred[:, [j for j in range(42) if j not in (RIGHT_ROOT, LEFT_ROOT)]] += np.array([3.0, 4.0, 0.0])
    m = compute_metrics(pred, rel_root, presence, gt, valid, hand_type, np.ones(len(gt)))
    # every non-root joint is off by 5 mm; the roots are 0 after alignment: 40 * 5 / 42
    assert m.mpjpe_all == pytest.approx(40 * 5.0 / 42)
    assert m.mpjpe_single == pytest.approx(40 * 5.0 / 42)
    assert m.per_joint_all[RIGHT_ROOT] == 0.0 and m.per_joint_all[0] == pytest.approx(5.0)


def test_whole_hand_translation_is_removed_by_root_alignment():
    gt, *_ = _scene()
    shifted = gt + np.array([10.0, -20.0, 30.0])
    assert np.allclose(per_joint_errors(shifted, gt), 0.0)


def test_per_joint_mean_weights_samples_not_hands_and_skips_invalid_joints():
    gt = np.zeros((2, 42, 3))
    pred = gt.copy()
    pred[0, 0] = [6.0, 0, 0]     # sample 0, joint 0: 6 mm
    pred[1, 0] = [2.0, 0, 0]     # sample 1, joint 0: 2 mm but invalid
    pred[1, 1] = [0, 8.0, 0]     # sample 1, joint 1: 8 mm
    valid = np.ones((2, 42))
    valid[1, 0] = 0
    hand_type = np.array([BOTH, BOTH])
    m = compute_metrics(pred, np.zeros((2, 3)), np.ones((2, 2)), gt, valid, hand_type, np.ones(2))
    assert m.per_joint_interacting[0] == pytest.approx(6.0)
    assert m.per_joint_interacting[1] == pytest.approx(4.0)
    assert m.mpjpe_interacting == pytest.approx(10.0 / 42)
    assert np.isnan(m.mpjpe_single)


def test_mrrpe_uses_interacting_frames_with_both_roots_valid():
    gt, hand_type, valid, _, rel_root = _scene()
    pred_rel = rel_root + np.array([0.0, 0.0, 12.0])
    assert mrrpe(pred_rel, gt, valid, hand_type) == pytest.approx(12.0)
    pred_rel[hand_type != BOTH] += 1000.0        # single-hand frames never count
    valid[5, LEFT_ROOT] = 0                      # second interacting frame drops out
    pred_rel[5] += 500.0
    assert mrrpe(pred_rel, gt, valid, hand_type) == pytest.approx(12.0)


def test_handedness_accuracy_needs_both_thresholds_right():
    hand_type = np.array([RIGHT, LEFT, BOTH, BOTH])
    presence = np.array([[0.9, 0.1], [0.9, 0.9], [0.6, 0.7], [0.6, 0.2]])
    assert handedness_accuracy(presence, hand_type, np.ones(4)) == pytest.approx(0.5)
    assert handedness_accuracy(presence, hand_type, np.array([1, 0, 1, 0])) == 1.0


def test_average_precision_matches_a_hand_computed_curve():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    labels = np.array([1, 0, 1, 0, 1])
    # precision at each positive: 1/1, 2/3, 3/5 -> mean
    assert average_precision(scores, labels) == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    # a tie between a positive and a negative is one step: P = 1/2 at R = 1
    assert average_precision(np.array([0.5, 0.5]), np.array([1, 0])) == pytest.approx(0.5)


def test_handedness_ap_averages_right_and_left():
    hand_type = np.array([RIGHT, LEFT, BOTH])
    presence = np.array([[0.9, 0.8], [0.2, 0.9], [0.7, 0.6]])
    # right labels [1,0,1], scores .9 .2 .7 -> AP 1; left labels [0,1,1], scores .8 .9 .6:
    # ranks: .9 (pos) P=1, .8 (neg), .6 (pos) P=2/3 -> AP = (1 + 2/3)/2
    expected = (1.0 + (1 + 2 / 3) / 2) / 2
    assert handedness_ap(presence, hand_type, np.ones(3)) == pytest.approx(expected)


def test_mismatched_shapes_are_rejected():
    with pytest.raises(ValueError, match='42, 3'):
        per_joint_errors(np.zeros((1, 21, 3)), np.zeros((1, 21, 3)))
