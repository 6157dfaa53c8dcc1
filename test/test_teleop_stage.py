"""TeleopStage.reset: a new stream starts from nothing (no held hand, no filter pull, no side
track), exactly as a newly built stage, even when its stamps go on forward."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
from estimate_builders import make_estimate

from interhand_ros.estimate import EstimatorKind, TwoHandEstimate
from interhand_ros.teleop.filtering import FilterConfig
from interhand_ros.teleop.identity import IdentityConfig
from interhand_ros.teleop.stage import TeleopStage

RATE = 30.0


def stage() -> TeleopStage:
    return TeleopStage(FilterConfig(hold_s=0.5), IdentityConfig(switch_frames=3))


def landmark(shift: float = 0.0, swapped: bool = False) -> TwoHandEstimate:
    """Both hands from the landmark fallback; swapped: each labelled as the other side."""
    estimate = make_estimate(right=True, left=True)
    right, left = (replace(hand, joints=hand.joints + [shift, 0.0, 0.0],
                           wrist_position=hand.wrist_position + [shift, 0.0, 0.0])
                   for hand in estimate.hands())
    if swapped:
        right, left = replace(left, side='right'), replace(right, side='left')
    return replace(estimate, right=right, left=left, estimator=EstimatorKind.LANDMARK)


def run(teleop: TeleopStage, estimates: list[TwoHandEstimate], start: float
        ) -> list[TwoHandEstimate]:
    return [teleop.apply(estimate, start + i / RATE) for i, estimate in enumerate(estimates)]


def test_after_reset_a_stream_is_processed_as_by_a_new_stage():
    first = [landmark(0.001 * i) for i in range(10)]
    second = [landmark(0.05 + 0.001 * i, swapped=True) for i in range(5)]
    used, fresh, kept = stage(), stage(), stage()
    run(used, first, 0.0)
    used.reset()
    after_reset = run(used, second, 10 / RATE)  # stamps go on forward: no self-reset
    expected = run(fresh, second, 10 / RATE)
    for ours, theirs in zip(after_reset, expected):
        for hand, other in zip(ours.hands(), theirs.hands()):
            assert hand.side == other.side and hand.held == other.held
            np.testing.assert_array_equal(hand.joints, other.joints)
    # the labels of the new stream are taken, not the old tracks' sides, and no filter pull
    assert after_reset[0].right.wrist_position[0] == second[0].right.wrist_position[0]
    run(kept, first, 0.0)  # without the reset the old tracks keep the hands on their sides
    continued = run(kept, second, 10 / RATE)[0]
    assert continued.right.wrist_position[0] != second[0].right.wrist_position[0]


def test_after_reset_a_lost_hand_is_not_held():
    teleop = stage()
    run(teleop, [make_estimate()] * 5, 0.0)
    lost = make_estimate(right=False, left=True)
    assert teleop.apply(lost, 5 / RATE).right.held  # within hold_s: the last pose is held
    teleop.reset()
    out = teleop.apply(lost, 6 / RATE)
    assert not out.right.detected and not out.right.held
