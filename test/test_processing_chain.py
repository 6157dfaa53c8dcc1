"""The per-frame chain the node, interhand-run and interhand-quantize share (processing/chain.py):
the roi it gives the estimator, what the roi source and the teleop stage learn from each frame,
raw vs filtered results, reset, and the stage laps the node publishes on /diagnostics.

Real roi sources and teleop stages; only the estimator is scripted (it returns set estimates
and records the roi it was given)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from estimate_builders import make_estimate

from interhand_ros.estimate import TwoHandEstimate
from interhand_ros.geometry.box import Box
from interhand_ros.geometry.camera import CameraModel
from interhand_ros.processing.chain import CHAIN_STAGES, FrameChain, StageClock
from interhand_ros.processing.roi import RoiConfig, RoiSource
from interhand_ros.teleop.stage import TeleopStage

IMAGE = np.zeros((240, 320, 3), np.uint8)
CAMERA = CameraModel(300.0, 300.0, 160.0, 120.0, 320, 240)


class ListEstimator:
    """Returns the given estimates in turn (a ValueError instance is raised instead)."""

    def __init__(self, *results: TwoHandEstimate | ValueError) -> None:
        self.results = list(results)
        self.rois: list[Box | None] = []

    def estimate(self, image_rgb, camera, roi=None, depth=None) -> TwoHandEstimate:
        self.rois.append(roi)
        result = self.results.pop(0)
        if isinstance(result, ValueError):
            raise result
        return result

    finds_hands = False

    def describe(self) -> str:
        return 'scripted estimates'

    def close(self) -> None:
        """Nothing to free."""


def moved(estimate: TwoHandEstimate, metres: float) -> TwoHandEstimate:
    """The estimate with both hands' joints shifted along x (pixels unchanged)."""
    shift = np.array([metres, 0.0, 0.0])
    return replace(estimate, right=replace(estimate.right, joints=estimate.right.joints + shift),
                   left=replace(estimate.left, joints=estimate.left.joints + shift))


def test_the_roi_follows_the_estimate_of_the_frame_before():
    first, second = make_estimate(), moved(make_estimate(), 0.01)
    estimator = ListEstimator(first, second)
    chain = FrameChain(estimator, RoiSource(RoiConfig(mode='track')), TeleopStage())
    assert chain.process(IMAGE, CAMERA, 0.0).roi is None  # nothing tracked yet: whole image
    result = chain.process(IMAGE, CAMERA, 0.1)
    reference = RoiSource(RoiConfig(mode='track'))
    reference.update(first)  # what the chain's roi source must have learnt from frame 0
    expected = reference.roi_for(IMAGE, 0.1)
    assert expected is not None
    assert result.roi == expected and estimator.rois == [None, expected]


def test_raw_is_the_estimators_result_and_estimate_the_teleop_stages():
    results = [make_estimate(), moved(make_estimate(), 0.05)]
    chain = FrameChain(ListEstimator(*results), None, TeleopStage())
    reference = TeleopStage()
    for stamp, given in zip((0.0, 1 / 30), results):
        result = chain.process(IMAGE, CAMERA, stamp)
        assert result.raw is given
        expected = reference.apply(given, stamp)
        assert result.estimate.filtered and not result.raw.filtered
        np.testing.assert_array_equal(result.estimate.right.joints, expected.right.joints)
    # the filter lags a jump of 5 cm: the published joints are not the raw ones
    assert not np.allclose(result.estimate.right.joints, result.raw.right.joints)


def test_without_a_roi_source_or_teleop_stage_the_estimate_is_the_raw_one():
    given = make_estimate()
    estimator = ListEstimator(given, given)
    chain = FrameChain(estimator, None, None)
    for stamp in (0.0, 0.1):
        result = chain.process(IMAGE, CAMERA, stamp)
        assert result.raw is given and result.estimate is given and result.roi is None
    assert estimator.rois == [None, None]


def test_reset_forgets_the_tracked_roi_and_the_held_hands():
    lost = make_estimate(right=False, left=False)

    def run(reset: bool):
        chain = FrameChain(ListEstimator(make_estimate(), lost),
                           RoiSource(RoiConfig(mode='track')), TeleopStage())
        chain.process(IMAGE, CAMERA, 0.0)
        if reset:
            chain.reset()
        return chain.process(IMAGE, CAMERA, 0.05)  # stamps go on: only reset() forgets

    kept, after_reset = run(reset=False), run(reset=True)
    assert kept.roi is not None and kept.estimate.right.held  # within filter.hold_s: held
    assert after_reset.roi is None
    assert not after_reset.estimate.right.detected and not after_reset.estimate.right.held


def test_a_bad_frame_teaches_the_roi_source_nothing():
    first = make_estimate()
    estimator = ListEstimator(first, ValueError('bad depth'), moved(first, 0.01))
    chain = FrameChain(estimator, RoiSource(RoiConfig(mode='track')), TeleopStage())
    chain.process(IMAGE, CAMERA, 0.0)
    with pytest.raises(ValueError, match='bad depth'):
        chain.process(IMAGE, CAMERA, 0.1)
    result = chain.process(IMAGE, CAMERA, 0.2)
    assert estimator.rois[1] is not None and result.roi == estimator.rois[1]


def test_the_roi_source_runs_on_its_own_clock():
    """The node's roi topic is timed by the node's monotonic clock, not the image stamps."""
    roi = RoiSource(RoiConfig(mode='topic', topic_max_age=0.5))
    roi.set_external(Box(10.0, 20.0, 30.0, 40.0), now=1.0)
    chain = FrameChain(ListEstimator(make_estimate(), make_estimate()), roi, None)
    assert chain.process(IMAGE, CAMERA, 100.0, now=1.2).roi == Box(10.0, 20.0, 30.0, 40.0)
    assert chain.process(IMAGE, CAMERA, 100.1).roi is None  # by the stamp the box is stale


def test_the_chain_laps_its_stages_into_the_callers_clock():
    clock = StageClock()
    clock.lap('convert')
    FrameChain(ListEstimator(make_estimate()), RoiSource(RoiConfig(mode='track')),
               TeleopStage()).process(IMAGE, CAMERA, 0.0, clock=clock)
    assert list(clock.times) == ['convert', *CHAIN_STAGES]
    assert all(seconds >= 0.0 for seconds in clock.times.values())


def test_the_next_frames_estimate_before_this_frames_finish_gives_process_results():
    """The node estimates frame n + 1 while its output thread finishes frame n: the rois, raw
    and published estimates are those of process() frame by frame, the teleop stage's state
    included (a hand lost in frame 2 is held from frame 1's filtered pose)."""
    results = [make_estimate(), moved(make_estimate(), 0.02), make_estimate(right=False),
               moved(make_estimate(), 0.04)]
    stamps = [0.0, 1 / 30, 2 / 30, 3 / 30]
    sequential = FrameChain(ListEstimator(*results), RoiSource(RoiConfig(mode='track')),
                            TeleopStage())
    expected = [sequential.process(IMAGE, CAMERA, stamp) for stamp in stamps]
    estimator = ListEstimator(*results)
    chain = FrameChain(estimator, RoiSource(RoiConfig(mode='track')), TeleopStage())
    halves = [chain.estimate(IMAGE, CAMERA, stamps[0])]
    finished = []
    for index, stamp in enumerate(stamps):
        if index + 1 < len(stamps):  # the network runs the next frame first
            halves.append(chain.estimate(IMAGE, CAMERA, stamps[index + 1]))
        roi, raw = halves[index]
        finished.append(chain.finish(roi, raw, stamp))
    assert estimator.rois == sequential.estimator.rois
    assert estimator.rois[1] is not None  # frame 0 was tracked
    for got, want in zip(finished, expected):
        assert got.roi == want.roi and got.raw is want.raw
        for side in ('right', 'left'):
            mine, theirs = getattr(got.estimate, side), getattr(want.estimate, side)
            assert mine.held == theirs.held and mine.detected == theirs.detected
            np.testing.assert_array_equal(mine.joints, theirs.joints)
    assert finished[2].estimate.right.held  # the case the order of finish() decides
