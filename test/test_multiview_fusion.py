"""MultiViewFuser on views of known hands: exact without noise, robust to a bad view, swapped
labels and missing hands, and clear about every input it cannot use."""
from dataclasses import replace

import numpy as np
import pytest
from multiview_support import rig, swapped, views, world_hands

from interhand_ros.estimate import DepthSource, TwoHandEstimate
from interhand_ros.geometry.camera import CameraModel
from interhand_ros.multiview.config import FusionConfig
from interhand_ros.multiview.fusion import (
    NOT_SEEN,
    SINGLE_VIEW,
    TRIANGULATED,
    FusionError,
    MultiViewFuser,
)
from interhand_ros.multiview.observations import ObservationError, ViewObservation
from interhand_ros.skeleton import BONES, LEFT, RIGHT, WRIST


def error_mm(estimate: TwoHandEstimate, hands: dict[str, np.ndarray]) -> dict[str, float]:
    return {hand.side: float(np.nanmax(np.linalg.norm(hand.joints - hands[hand.side], axis=1)))
            * 1e3 for hand in estimate.hands()}


def test_noise_free_views_fuse_exactly_into_the_world_frame():
    hands = world_hands()
    result = MultiViewFuser().fuse(views(hands, rig(3)))
    assert max(error_mm(result.estimate, hands).values()) < 1e-6
    assert result.views_used == ['/cam1', '/cam2', '/cam3']
    assert all(error < 1e-6 for error in result.reprojection_error_px.values())
    assert result.rejected == {} and result.swapped == []
    for hand in result.estimate.hands():
        assert result.sources[hand.side].kind == TRIANGULATED
        assert hand.depth_source == DepthSource.TRIANGULATED
        assert np.isnan(hand.pixels).all() and hand.valid.all()
        assert np.all(hand.confidence > 0.8)
        np.testing.assert_allclose(hand.wrist_position, hands[hand.side][WRIST], atol=1e-9)
    estimate = result.estimate
    np.testing.assert_allclose(estimate.right_to_left_root,
                               hands[LEFT][WRIST] - hands[RIGHT][WRIST], atol=1e-9)
    assert estimate.depth_source == DepthSource.TRIANGULATED
    assert not estimate.relative_root_depth_valid


def test_a_view_far_off_is_rejected_with_its_reason_and_error():
    hands = world_hands()
    observed = views(hands, rig(3))
    moved = observed[1].world_from_camera.copy()
    moved[:3, 3] += (0.0, 0.04, 0.0)   # the camera was bumped by 4 cm
    observed[1] = replace(observed[1], world_from_camera=moved)
    result = MultiViewFuser().fuse(observed)
    assert set(result.rejected) == {'/cam2'}
    assert 'right hand' in result.rejected['/cam2'] and 'px from where' in result.rejected['/cam2']
    assert result.reprojection_error_px['/cam2'] > 20.0
    assert max(error_mm(result.estimate, hands).values()) < 1e-3
    assert all(result.sources[side].views == ('/cam1', '/cam3') for side in (RIGHT, LEFT))


def test_outlier_joints_of_one_view_are_dropped_not_averaged():
    hands = world_hands()
    observed = views(hands, rig(3))
    observed[0].estimate.right.pixels[[4, 8, 12]] += (45.0, -30.0)
    result = MultiViewFuser().fuse(observed)
    assert result.rejected == {}   # three joints of 21 do not make a bad view
    assert max(error_mm(result.estimate, hands).values()) < 1e-3


@pytest.mark.parametrize('count', [2, 3])
def test_a_view_with_swapped_labels_is_swapped_back(count):
    hands = world_hands()
    observed = views(hands, rig(count))
    observed[0] = swapped(observed[0])
    result = MultiViewFuser().fuse(observed)
    assert result.swapped == ['/cam1']
    assert max(error_mm(result.estimate, hands).values()) < 1e-3


def test_a_hand_one_view_sees_is_that_views_own_3d_and_says_so():
    hands = world_hands()
    observed = views(hands, rig(2))
    only_right = views({RIGHT: hands[RIGHT]}, rig(2))
    result = MultiViewFuser().fuse([observed[0], only_right[1]])
    source = result.sources[LEFT]
    assert (source.kind, source.views) == (SINGLE_VIEW, ('/cam1',))
    assert source.describe() == 'single view /cam1 (its own 3D)'
    left = result.estimate.left
    assert left.depth_source == DepthSource.HAND_SIZE   # the view's own source, not fused
    np.testing.assert_allclose(left.joints, hands[LEFT], atol=1e-9)
    assert np.isnan(left.pixels).all()
    assert result.sources[RIGHT].kind == TRIANGULATED
    assert result.estimate.depth_source == DepthSource.TRIANGULATED


def test_no_view_sees_a_hand_then_it_is_not_detected():
    hands = world_hands()
    result = MultiViewFuser().fuse(views({RIGHT: hands[RIGHT]}, rig(2)))
    assert result.sources[LEFT].kind == NOT_SEEN
    assert not result.estimate.left.detected and not result.estimate.left.valid.any()
    assert np.isnan(result.estimate.right_to_left_root).all()


def test_a_joint_one_view_sees_lands_on_its_ray_where_the_hand_puts_it():
    hands = world_hands()
    observed = views(hands, rig(3))
    for view in observed[1:]:
        view.estimate.right.valid[8] = False        # index tip: only /cam1 sees it
    view = observed[0]
    hand = view.estimate.right
    hand.joints = hand.joints + np.random.default_rng(0).normal(0, 0.003, hand.joints.shape)
    result = MultiViewFuser().fuse(observed)
    tip = result.estimate.right.joints[8]
    assert np.linalg.norm(tip - hands[RIGHT][8]) < 0.006
    assert result.estimate.right.valid[8]
    assert result.estimate.right.confidence[8] < result.estimate.right.confidence[9]


def test_nan_pixels_and_pixels_outside_the_image_are_ignored_and_named():
    hands = world_hands()
    observed = views(hands, rig(3))
    observed[0].estimate.right.pixels[3] = np.nan
    small = CameraModel.from_intrinsics(observed[2].camera.k / 3, 213, 160)
    small = replace(small, cx=small.cx, cy=small.cy)
    observed[2] = replace(observed[2], camera=small)
    result = MultiViewFuser().fuse(observed)
    assert 'NaN pixels' in result.problems['/cam1']
    assert 'outside the 213x160 image' in result.problems['/cam3']
    assert result.sources[RIGHT].views == ('/cam1', '/cam2')
    assert np.isfinite(result.estimate.right.joints[3]).all()


def test_bad_inputs_raise_clear_errors():
    hands = world_hands()
    good = views(hands, rig(2))
    with pytest.raises(FusionError, match='no views'):
        MultiViewFuser().fuse([])
    with pytest.raises(FusionError, match='once per group'):
        MultiViewFuser().fuse([good[0], good[0]])
    with pytest.raises(ObservationError, match='/cam1: world_from_camera is not a rigid'):
        replace(good[0], world_from_camera=2 * good[0].world_from_camera)
    with pytest.raises(ObservationError, match='finite 4 x 4'):
        replace(good[0], world_from_camera=np.eye(3))
    bad = replace(good[0].estimate.right, pixels=np.zeros((20, 2)))
    with pytest.raises(ObservationError, match=r'right hand pixels must have shape \(21, 2\)'):
        replace(good[0], estimate=replace(good[0].estimate, right=bad))
    with pytest.raises(ValueError, match='min_confidence'):
        MultiViewFuser(FusionConfig(min_confidence=2.0))


def test_two_views_that_disagree_a_little_lower_the_confidence():
    hands = world_hands()
    observed = views(hands, rig(2))
    moved = observed[1].world_from_camera.copy()
    moved[:3, 3] += (0.0, 0.0, 0.015)
    result = MultiViewFuser().fuse([observed[0], replace(observed[1], world_from_camera=moved)])
    assert result.sources[RIGHT].kind == TRIANGULATED
    assert 3.0 < result.reprojection_error_px['/cam1'] < 20.0
    assert 0.1 < result.estimate.right.confidence.mean() < 0.8


@pytest.mark.parametrize('how', ['moved 8 cm', "the camera's body frame, not its optical frame"])
def test_two_views_that_disagree_a_lot_fall_back_to_one_view_and_say_why(how):
    hands = world_hands()
    observed = views(hands, rig(2))
    pose = observed[1].world_from_camera.copy()
    if how == 'moved 8 cm':
        pose[:3, 3] += (0.0, 0.0, 0.08)
    else:   # REP-103 body frame (x forward, y left, z up) given for the optical frame
        pose[:3, :3] = pose[:3, :3] @ np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0],
                                                [0.0, -1.0, 0.0]]).T
    result = MultiViewFuser().fuse([observed[0], replace(observed[1], world_from_camera=pose)])
    for side in (RIGHT, LEFT):
        assert result.sources[side].kind == SINGLE_VIEW
    assert 'disagree by' in result.problems['/cam2']
    assert "a frame that is not the image's" in result.problems['/cam1']
    assert np.isfinite(result.estimate.right.joints).all()


def test_a_group_of_one_view_is_that_views_own_3d():
    hands = world_hands()
    result = MultiViewFuser().fuse(views(hands, rig(2))[:1])
    assert {source.kind for source in result.sources.values()} == {SINGLE_VIEW}
    assert result.views_used == ['/cam1'] and result.reprojection_error_px == {}
    assert max(error_mm(result.estimate, hands).values()) < 1e-6


def test_the_fused_estimate_converts_to_the_published_message():
    from std_msgs.msg import Header

    from interhand_msgs.msg import HandPose
    from interhand_ros.messages import to_two_hand_pose
    result = MultiViewFuser().fuse(views(world_hands(), rig(2)))
    msg = to_two_hand_pose(result.estimate, Header(frame_id='world'), 0, 0)
    assert msg.right.depth_source == HandPose.DEPTH_TRIANGULATED
    assert all(msg.right.valid) and np.isnan(msg.right.pixels[0].u)
    assert msg.header.frame_id == 'world'


def test_reset_forgets_the_sessions_bone_lengths():
    fuser = MultiViewFuser(FusionConfig(min_bone_samples=2))
    observed = views(world_hands(), rig(2))
    for _ in range(2):
        fuser.fuse(observed)
    learnt = fuser.bone_lengths(RIGHT)
    hand = world_hands()[RIGHT]
    np.testing.assert_allclose(learnt, [np.linalg.norm(hand[c] - hand[p]) for p, c in BONES],
                               atol=1e-9)
    fuser.reset()
    assert np.isnan(fuser.bone_lengths(RIGHT)).all()


def test_observation_pose_is_read_only():
    view = views(world_hands(), rig(2))[0]
    assert isinstance(view, ViewObservation)
    with pytest.raises(ValueError):
        view.world_from_camera[0, 3] = 1.0
