"""MultiViewFuser: the views of one group -> both hands in the world frame, and what it did.

Per group: each view's observations are undistorted into rays (stack.py); views whose left/right
labels disagree with the others are swapped back (labels.py); per side, observations that
disagree with three or more views are rejected (outliers.py); a hand seen by two or more views
is triangulated (triangulation.py) and refined with a robust cost and weak priors
(refinement.py); a hand seen by one view is that view's own 3D in the world frame.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from interhand_ros.estimate import DepthSource, HandEstimate, TwoHandEstimate
from interhand_ros.geometry.box import Box
from interhand_ros.multiview.config import FusionConfig
from interhand_ros.multiview.grouping import group_stamp
from interhand_ros.multiview.hands import not_seen, triangulated_hand, view_hand
from interhand_ros.multiview.labels import find_swapped
from interhand_ros.multiview.observations import ViewObservation
from interhand_ros.multiview.outliers import reject_outliers
from interhand_ros.multiview.refinement import BoneLengths, HandProblem, refine
from interhand_ros.multiview.stack import ViewStack, stack_views
from interhand_ros.multiview.triangulation import ray_errors_px, triangulate
from interhand_ros.skeleton import SIDES

# HandSource kinds
TRIANGULATED, SINGLE_VIEW, NOT_SEEN = 'triangulated', 'single_view', 'not_seen'


class FusionError(ValueError):
    """The group cannot be fused at all (no views, duplicate names, not observations)."""


@dataclass(frozen=True)
class HandSource:
    """Where a fused hand came from: TRIANGULATED from views, SINGLE_VIEW (that view's own 3D
    in the world frame), or NOT_SEEN."""

    kind: str
    views: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == TRIANGULATED:
            return 'triangulated from ' + ', '.join(self.views)
        if self.kind == SINGLE_VIEW:
            return f'single view {self.views[0]} (its own 3D)'
        return 'not seen'


@dataclass
class FusionResult:
    """estimate: both hands in the world frame. reprojection_error_px: view -> median distance,
    in its distorted image pixels, between its observations and the fused joints (also for a
    rejected view: how far off it is). rejected: view -> why it was not used. swapped: views
    whose left/right labels were swapped back. sources: side -> HandSource. problems: view ->
    joints ignored and why (NaN pixels, pixels outside its image)."""

    estimate: TwoHandEstimate
    stamp_ns: int
    views_used: list[str]
    reprojection_error_px: dict[str, float]
    rejected: dict[str, str]
    swapped: list[str]
    sources: dict[str, HandSource]
    problems: dict[str, str] = field(default_factory=dict)


class MultiViewFuser:
    """Fuses one group per call; keeps the session's bone lengths and last wrists (one owner)."""

    def __init__(self, config: FusionConfig = FusionConfig()) -> None:
        config.check()
        self.config = config
        self._bones = BoneLengths(config.bone_window, config.min_bone_samples)
        self._last_wrists: dict[int, tuple[int, np.ndarray]] = {}

    def reset(self) -> None:
        """Forget the session: bone lengths and last wrists (a new user, a new session)."""
        self._bones.reset()
        self._last_wrists.clear()

    def fuse(self, views: Sequence[ViewObservation]) -> FusionResult:
        """Fuse the views of one group (1 or more; each view name once)."""
        _check(views)
        config = self.config
        stamp = group_stamp(view.stamp_ns for view in views)
        stack = stack_views(views, config.min_confidence)
        for side in range(2):
            for index in np.flatnonzero(stack.seen(side) < config.min_joints):
                stack.drop(side, index)
        swapped = find_swapped(stack, config.max_reprojection_px, config.label_margin_px,
                               self._recent_wrists(stamp))
        for index in swapped:
            stack.swap(index)
        observed = stack.weights > 0
        rejected: dict[str, list[str]] = {}
        hands: list[HandEstimate] = []
        sources: dict[str, HandSource] = {}
        for side, name in enumerate(SIDES):
            for index, reason in reject_outliers(stack, side, config.max_reprojection_px,
                                                 config.max_outlier_fraction).items():
                rejected.setdefault(stack.names[index], []).append(f'{name} hand: {reason}')
            hand, source = self._fuse_side(views, stack, side, swapped)
            hands.append(hand)
            sources[name] = source
            if source.kind != NOT_SEEN:
                self._last_wrists[side] = (stamp, hand.wrist_position)
        estimate = _two_hands(views, hands[0], hands[1], sources)
        used = sorted({view for source in sources.values() for view in source.views})
        return FusionResult(
            estimate, stamp, [v.name for v in views if v.name in used],
            _reprojection_errors(views, stack, observed, hands, sources),
            {view: '; '.join(reasons) for view, reasons in rejected.items()},
            [stack.names[index] for index in swapped], sources, dict(stack.problems))

    def _fuse_side(self, views: Sequence[ViewObservation], stack: ViewStack, side: int,
                   swapped: list[int]) -> tuple[HandEstimate, HandSource]:
        config, name = self.config, SIDES[side]
        seeing = np.flatnonzero(stack.seen(side) >= config.min_joints)
        weights, rays = stack.weights[side][seeing], stack.rays[side][seeing]
        projections, focal = stack.projections[seeing], stack.focal_px[seeing]
        points = triangulate(projections, rays, weights) if seeing.size >= 2 else None
        if points is None or np.isfinite(points).all(axis=1).sum() < config.min_joints:
            if seeing.size == 0:
                seeing = np.flatnonzero(stack.seen(side) > 0)
            if seeing.size == 0:
                return not_seen(name), HandSource(NOT_SEEN)
            best = int(seeing[np.argmax(stack.weights[side][seeing].sum(axis=1))])
            original = views[best].estimate.hands()[1 - side if best in swapped else side]
            return view_hand(views[best], original, name), \
                HandSource(SINGLE_VIEW, (stack.names[best],))
        per_joint = np.count_nonzero(weights > 0, axis=0)
        self._bones.observe(side, points, per_joint)
        own = stack.own[side][seeing]
        start = _fill_from_own(points, own, rays, weights, projections)
        problem = HandProblem(projections, focal, rays, weights, own, self._bones.lengths(side),
                              config.robust_scale_px, config.relative_sigma_m,
                              config.bone_sigma_m)
        joints = refine(problem, start, config.refine_iterations)
        errors = ray_errors_px(projections, focal, joints, rays)
        with warnings.catch_warnings():  # joints no view saw: all-NaN columns
            warnings.simplefilter('ignore', RuntimeWarning)
            rms = np.sqrt(np.nanmean(np.where(weights > 0, errors ** 2, np.nan), axis=0))
            confidence = np.nanmean(np.where(weights > 0, weights, np.nan), axis=0)
        presence = max(float(views[i].estimate.hands()[1 - side if i in swapped else side]
                             .presence) for i in seeing)
        hand = triangulated_hand(name, joints, presence, np.nan_to_num(confidence), per_joint,
                                 rms, config.max_reprojection_px)
        return hand, HandSource(TRIANGULATED, tuple(stack.names[i] for i in seeing))

    def _recent_wrists(self, stamp_ns: int) -> dict[int, np.ndarray]:
        limit = self.config.memory_s * 1e9
        return {side: wrist for side, (when, wrist) in self._last_wrists.items()
                if abs(stamp_ns - when) <= limit and np.isfinite(wrist).all()}


def _check(views: Sequence[ViewObservation]) -> None:
    if len(views) == 0:
        raise FusionError('no views to fuse')
    for view in views:
        if not isinstance(view, ViewObservation):
            raise FusionError(f'fuse takes ViewObservations, got {type(view).__name__}')
    names = [view.name for view in views]
    if len(set(names)) != len(names):
        raise FusionError(f'each view may appear once per group, got {names}')


def _fill_from_own(points: np.ndarray, own: np.ndarray, rays: np.ndarray, weights: np.ndarray,
                   projections: np.ndarray) -> np.ndarray:
    """Start values for joints seen by one view: the views' own 3D, shifted onto the
    triangulated joints (median offset), then moved onto the seeing view's ray."""
    start = points.copy()
    missing = ~np.isfinite(points).all(axis=1) & (weights > 0).any(axis=0)
    if not missing.any():
        return start
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        offsets = np.nanmedian(points[None] - own, axis=1)            # (V, 3)
        guess = np.nanmean(own + offsets[:, None], axis=0)             # (J, 3)
    for joint in np.flatnonzero(missing):
        view = int(np.argmax(weights[:, joint]))
        rotation, translation = projections[view, :, :3], projections[view, :, 3]
        depth = (rotation @ guess[joint] + translation)[2] if np.isfinite(guess[joint]).all() \
            else float(np.nanmedian((points @ rotation.T + translation)[:, 2]))
        camera = np.array([*rays[view, joint] * depth, depth])
        start[joint] = rotation.T @ (camera - translation)
    return start


def _reprojection_errors(views: Sequence[ViewObservation], stack: ViewStack,
                         observed: np.ndarray, hands: list[HandEstimate],
                         sources: dict[str, HandSource]) -> dict[str, float]:
    """View -> median distorted-pixel distance of its observations to the triangulated joints."""
    errors: dict[str, float] = {}
    for index, view in enumerate(views):
        distances = []
        for side, hand in enumerate(hands):
            if sources[SIDES[side]].kind != TRIANGULATED:
                continue
            use = observed[side, index] & hand.valid
            if not use.any():
                continue
            optical = (hand.joints[use] - view.position) @ view.rotation
            in_front = optical[:, 2] > 0
            pixels = view.camera.camera_to_pixel(optical[in_front])
            distances.append(np.linalg.norm(pixels - stack.pixels[side, index, use][in_front],
                                            axis=1))
        if distances and np.concatenate(distances).size:
            errors[view.name] = float(np.median(np.concatenate(distances)))
    return errors


def _two_hands(views: Sequence[ViewObservation], right: HandEstimate, left: HandEstimate,
               sources: dict[str, HandSource]) -> TwoHandEstimate:
    both = right.detected and left.detected
    kinds = [hand.depth_source for hand in (right, left) if hand.detected]
    scene = DepthSource.TRIANGULATED if DepthSource.TRIANGULATED in kinds else \
        (kinds[0] if kinds else DepthSource.NONE)
    return TwoHandEstimate(
        right=right, left=left, relative_root_depth=math.nan, relative_root_depth_valid=False,
        right_to_left_root=(left.wrist_position - right.wrist_position) if both
        else np.full(3, np.nan),
        depth_source=scene, estimator=views[0].estimate.estimator, roi=Box(0.0, 0.0, 0.0, 0.0),
        inference_time=max(view.estimate.inference_time for view in views))
