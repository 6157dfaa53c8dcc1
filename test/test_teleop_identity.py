"""Stable sides for the landmark fallback (interhand_ros.teleop.identity), pure."""
from __future__ import annotations

import numpy as np

from interhand_ros.estimate import DepthSource, EstimatorKind, HandEstimate, TwoHandEstimate
from interhand_ros.geometry.box import Box
from interhand_ros.skeleton import NUM_JOINTS
from interhand_ros.teleop.identity import IdentityConfig, SideTracker
from tools.synthetic_hands import hand_joints

RATE = 30.0


def found(side: str, wrist) -> HandEstimate:
    joints = hand_joints(side, wrist)
    return HandEstimate(side=side, presence=0.9, detected=True, joints=joints,
                        valid=np.ones(NUM_JOINTS, bool), wrist_position=joints[0].copy())


def frame(*hands: HandEstimate) -> TwoHandEstimate:
    by_side = {h.side: h for h in hands}
    right = by_side.get('right', HandEstimate(side='right', presence=0.0, detected=False))
    left = by_side.get('left', HandEstimate(side='left', presence=0.0, detected=False))
    return TwoHandEstimate(right=right, left=left, relative_root_depth=float('nan'),
                           relative_root_depth_valid=False,
                           right_to_left_root=np.full(3, np.nan), depth_source=DepthSource.NONE,
                           estimator=EstimatorKind.LANDMARK, roi=Box(0, 0, 640, 480))


def test_one_frame_of_the_other_label_does_not_swap_a_hand():
    tracker = SideTracker(IdentityConfig(switch_frames=4))
    here = (0.05, 0.0, 0.5)
    for i in range(10):
        out = tracker.assign(frame(found('right', here)), i / RATE)
        assert out.right.detected
    flipped = tracker.assign(frame(found('left', here)), 10 / RATE)
    assert flipped.right.detected and not flipped.left.detected
    np.testing.assert_allclose(flipped.right.wrist_position, hand_joints('left', here)[0])


def test_a_persistent_other_label_switches_after_switch_frames():
    tracker = SideTracker(IdentityConfig(switch_frames=4))
    here = (0.05, 0.0, 0.5)
    for i in range(10):
        tracker.assign(frame(found('right', here)), i / RATE)
    sides = [tracker.assign(frame(found('left', here)), (10 + i) / RATE) for i in range(6)]
    detected = ['right' if s.right.detected else 'left' for s in sides]
    assert detected == ['right', 'right', 'right', 'left', 'left', 'left']


def test_two_hands_with_swapped_labels_keep_their_sides_by_position():
    tracker = SideTracker()
    right_at, left_at = (-0.15, 0.0, 0.5), (0.15, 0.0, 0.5)
    for i in range(5):
        tracker.assign(frame(found('right', right_at), found('left', left_at)), i / RATE)
    # MediaPipe swaps both labels for one frame: the hand at right_at is labelled left.
    swapped = frame(found('left', right_at), found('right', left_at))
    out = tracker.assign(swapped, 5 / RATE)
    assert out.right.wrist_position[0] < 0 < out.left.wrist_position[0]
    np.testing.assert_allclose(out.right_to_left_root,
                               out.left.wrist_position - out.right.wrist_position)


def test_a_hand_far_from_every_track_takes_its_label_and_consistent_frames_pass_unchanged():
    tracker = SideTracker()
    first = frame(found('right', (-0.2, 0.0, 0.5)))
    assert tracker.assign(first, 0.0) is first
    far = frame(found('left', (0.3, 0.0, 0.5)))
    out = tracker.assign(far, 1 / RATE)
    assert out.left.detected and not out.right.detected


def test_old_tracks_are_forgotten_after_max_gap_and_stamps_going_back_reset():
    tracker = SideTracker(IdentityConfig(max_gap_s=0.5))
    here = (0.0, 0.0, 0.5)
    for i in range(5):
        tracker.assign(frame(found('right', here)), i / RATE)
    late = tracker.assign(frame(found('left', here)), 5 / RATE + 1.0)
    assert late.left.detected  # the right track expired: the label decides
    tracker2 = SideTracker()
    for i in range(5):
        tracker2.assign(frame(found('right', here)), 10 + i / RATE)
    looped = tracker2.assign(frame(found('left', here)), 0.0)
    assert looped.left.detected


def test_stage_relabels_only_the_landmark_fallback_and_marks_filtered_output():
    from dataclasses import replace

    from interhand_ros.teleop.filtering import FilterConfig
    from interhand_ros.teleop.stage import TeleopStage
    here = (0.05, 0.0, 0.5)
    for estimator, relabelled in ((EstimatorKind.LANDMARK, True), (EstimatorKind.INTERNET, False)):
        stage = TeleopStage()
        for i in range(5):
            stage.apply(replace(frame(found('right', here)), estimator=estimator), i / RATE)
        out = stage.apply(replace(frame(found('left', here)), estimator=estimator), 5 / RATE)
        assert out.filtered
        if relabelled:  # one frame's left label: still the right hand, freshly measured
            assert out.right.detected and not out.right.held and not out.left.detected
        else:  # InterNet's heads are trusted: a new left hand, the right one held
            assert out.right.held and out.left.detected and not out.left.held
    off = TeleopStage(FilterConfig(enabled=False))
    internet = replace(frame(found('right', here)), estimator=EstimatorKind.INTERNET)
    assert off.apply(internet, 0.0) is internet
