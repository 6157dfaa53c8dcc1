"""One Euro filter and the hold / reset policy (interhand_ros.teleop.filtering), pure numpy."""
from __future__ import annotations

import numpy as np
import pytest

from interhand_ros.estimate import HandEstimate
from interhand_ros.skeleton import NUM_JOINTS
from interhand_ros.teleop.filtering import FilterConfig, HandSmoother, OneEuroFilter
from tools.synthetic_hands import hand_joints

RATE = 30.0


def hand(joints=None, valid=None) -> HandEstimate:
    if joints is None:
        return HandEstimate(side='right', presence=0.0, detected=False)
    return HandEstimate(side='right', presence=0.9, detected=True, joints=joints,
                        valid=np.ones(NUM_JOINTS, bool) if valid is None else valid,
                        wrist_position=joints[0].copy())


def jitter(sequence) -> float:
    return float(np.sqrt(np.mean(np.sum(np.diff(np.asarray(sequence), axis=0) ** 2, -1))))


def test_still_noisy_hand_jitters_far_less_after_the_filter():
    rng = np.random.default_rng(1)
    truth = hand_joints('right')
    smoother = HandSmoother(FilterConfig())
    raw, out = [], []
    for i in range(150):
        measured = truth + rng.normal(0.0, 0.003, truth.shape)
        raw.append(measured)
        out.append(smoother.update(hand(measured), i / RATE).joints)
    assert jitter(out[30:]) < jitter(raw[30:]) / 5.0
    assert np.abs(np.mean(out[30:], axis=0) - truth).max() < 0.003  # no drift off the hand


def test_moving_hand_lags_less_than_one_and_a_half_frames_at_half_a_metre_per_second():
    smoother = HandSmoother(FilterConfig())
    speed, lags = 0.5, []
    for i in range(45):
        t = i / RATE
        truth = hand_joints('right', (speed * t, 0.0, 0.5))
        out = smoother.update(hand(truth), t).joints
        if i >= 15:
            lags.append(np.mean(truth[:, 0] - out[:, 0]) / speed)
    assert 0.0 < np.mean(lags) < 1.5 / RATE


def test_time_is_the_stamps_a_repeated_stamp_changes_nothing():
    one = OneEuroFilter(1.0, 0.0, 1.0)
    first = one(np.zeros((2, 3)), 0.0)
    moved = one(np.ones((2, 3)), 0.1)
    again = one(np.full((2, 3), 5.0), 0.1)  # same stamp: no time passed, no update
    np.testing.assert_array_equal(first, 0.0)
    assert 0.0 < moved[0, 0] < 1.0
    np.testing.assert_array_equal(again, moved)
    # Same samples at twice the rate: the cutoff is in Hz of stamp time, so the first-order
    # response to a step after 0.1 s is about the same, not twice as far.
    fast = OneEuroFilter(1.0, 0.0, 1.0)
    fast(np.zeros((2, 3)), 0.0)
    fast(np.ones((2, 3)), 0.05)
    assert fast(np.ones((2, 3)), 0.1)[0, 0] == pytest.approx(moved[0, 0], abs=0.05)


def test_invalid_joints_are_not_filtered_and_do_not_disturb_the_others():
    smoother = HandSmoother(FilterConfig())
    truth = hand_joints('right')
    smoother.update(hand(truth), 0.0)
    valid = np.ones(NUM_JOINTS, bool)
    valid[8] = False
    moved = truth + 0.01
    out = smoother.update(hand(moved, valid), 1 / RATE)
    np.testing.assert_array_equal(out.joints[8], moved[8])  # the measurement as given
    assert np.all(np.abs(out.joints[9] - truth[9]) < 0.01)   # smoothed towards the old one


def test_lost_hand_is_held_and_marked_then_dropped_and_the_filter_restarts():
    config = FilterConfig(hold_s=0.2)
    smoother = HandSmoother(config)
    a = hand_joints('right')
    for i in range(10):
        last = smoother.update(hand(a), i / RATE)
    held = smoother.update(hand(), 10 / RATE)
    assert held.detected and held.held and held.held_for == pytest.approx(1 / RATE)
    np.testing.assert_array_equal(held.joints, last.joints)
    gone = smoother.update(hand(), 9 / RATE + 0.25)
    assert not gone.detected and not gone.held
    b = hand_joints('right', (0.2, 0.0, 0.6))
    fresh = smoother.update(hand(b), 9 / RATE + 0.3)
    np.testing.assert_array_equal(fresh.joints, b)  # restarted: no pull towards the old pose
    assert not fresh.held


def test_hand_back_within_the_hold_time_continues_the_filter():
    smoother = HandSmoother(FilterConfig(hold_s=0.2))
    a = hand_joints('right')
    for i in range(10):
        smoother.update(hand(a), i / RATE)
    smoother.update(hand(), 10 / RATE)
    b = a + np.array([0.05, 0.0, 0.0])
    back = smoother.update(hand(b), 11 / RATE)
    assert not back.held
    assert 0.0 < np.mean(back.joints[:, 0] - a[:, 0]) < 0.05


def test_stamps_going_back_restart_the_filter():
    smoother = HandSmoother(FilterConfig())
    a = hand_joints('right')
    for i in range(10):
        smoother.update(hand(a), 100.0 + i / RATE)
    b = hand_joints('right', (0.1, 0.0, 0.5))
    out = smoother.update(hand(b), 100.0)  # a bag played again from its start
    np.testing.assert_array_equal(out.joints, b)


@pytest.mark.parametrize('field, value', [('min_cutoff', 0.0), ('d_cutoff', -1.0),
                                          ('beta', -0.1), ('hold_s', -1.0)])
def test_bad_settings_are_refused_by_name(field, value):
    with pytest.raises(ValueError, match=field):
        HandSmoother(FilterConfig(**{field: value}))


def test_node_parameter_defaults_are_the_stage_defaults():
    from interhand_ros.settings import DEFAULTS
    from interhand_ros.teleop.stage import TeleopStage
    from_node, plain = TeleopStage.from_params(DEFAULTS), TeleopStage()
    assert from_node.filter_config == plain.filter_config
    assert from_node.sides.config == plain.sides.config
