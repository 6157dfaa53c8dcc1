"""MultiViewFuser: the views of one group -> both hands in the world frame, and what it did.

Per group: each view's observations are undistorted into rays (stack.py); views whose left/right
labels disagree with the others are swapped back (labels.py); per side, observations that
disagree with three or more views are rejected (outliers.py); a hand seen by two or more views
is triangulated (triangulation.py) and refined with a robust cost and weak priors
(refinement.py); a hand seen by one view, or whose views still disagree by more than
max_reprojection_px (a moved camera, a wrong transform), is one view's own 3D in the world frame.
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
from interhand_ros.multiview.refinement import BoneLengths, Problem, refine
from interhand_ros.multiview.stack import ViewStack, stack_views
from interhand_ros.multiview.triangulation import lengths, ray_errors_px, triangulate
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
    rejected view: how far off it is). rejected: view -> which hand it lost and why. swapped:
    views whose left/right labels were swapped back. sources: side -> HandSource. problems:
    view -> what else was not used and why (NaN pixels, pixels outside its image, views that
    disagree too much to triangulate)."""

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

    def bone_lengths(self, side: str) -> np.ndarray:
        """(20,) the session's bone lengths of this side, m, BONES order (NaN: not learnt)."""
        return self._bones.lengths(SIDES.index(side)).copy()

    def fuse(self, views: Sequence[ViewObservation]) -> FusionResult:
        """Fuse the views of one group (1 or more; each view name once)."""
        _check(views)
        stamp = group_stamp(view.stamp_ns for view in views)
        stack = stack_views(views, self.config.min_confidence)
        swapped, observed, rejected = self._clean(stack, stamp)
        (right, left), sources, problems = self._hands(views, stack, swapped)
        for side, hand in enumerate((right, left)):
            if hand.detected:
                self._last_wrists[side] = (stamp, hand.wrist_position)
        used = {view for source in sources.values() for view in source.views}
        return FusionResult(
            _two_hands(views, right, left), stamp, [v.name for v in views if v.name in used],
            _reprojection_errors(views, stack, observed, (right, left), sources), rejected,
            [stack.names[index] for index in swapped], sources, problems)

    def _clean(self, stack: ViewStack, stamp_ns: int
               ) -> tuple[list[int], np.ndarray, dict[str, str]]:
        """Swap back swapped labels, then drop disagreeing observations, in place: (the views
        swapped, what was observed before the drops (2, V, J), view -> the hands it lost)."""
        config = self.config
        _drop_sparse(stack, config.min_joints)
        swapped = find_swapped(stack, config.max_reprojection_px, config.label_margin_px,
                               self._recent_wrists(stamp_ns))
        for index in swapped:
            stack.swap(index)
        observed = stack.weights > 0
        rejected = {stack.names[index]: '; '.join(reasons) for index, reasons in
                    reject_outliers(stack, config.max_reprojection_px,
                                    config.max_outlier_fraction).items()}
        _drop_sparse(stack, config.min_joints)
        return swapped, observed, rejected

    def _hands(self, views: Sequence[ViewObservation], stack: ViewStack, swapped: list[int]
               ) -> tuple[tuple[HandEstimate, HandEstimate], dict[str, HandSource],
                          dict[str, str]]:
        """Both hands (triangulated, else one view's, else not seen), their sources, and the
        views' problems."""
        hands: list[HandEstimate | None] = [None, None]
        sources: dict[str, HandSource] = {}
        problems = dict(stack.problems)
        starts = {}
        points = triangulate(stack.projections, stack.rays, stack.weights)   # both sides
        for side, name in enumerate(SIDES):
            start = self._start(stack, side, points[side])
            if start is None:
                hands[side], sources[name] = _single_view(views, stack, side, swapped)
            else:
                starts[side] = start
        for side, (hand, error) in self._refine(views, stack, starts, swapped).items():
            name, seeing = SIDES[side], stack.seen(side) > 0
            names = tuple(stack.names[i] for i in np.flatnonzero(seeing))
            if error <= self.config.max_reprojection_px:
                hands[side], sources[name] = hand, HandSource(TRIANGULATED, names)
                self._bones.observe(side, points[side], (stack.weights[side] > 0).sum(axis=0))
                continue
            hands[side], sources[name] = _single_view(views, stack, side, swapped)
            note = (f'{name} hand: {", ".join(names)} disagree by {error:.0f} px (moved camera, '
                    "or a transform to a frame that is not the image's?); "
                    f'{sources[name].describe()} used')
            for view in names:
                problems[view] = f'{problems[view]}; {note}' if view in problems else note
        right, left = (hand if hand is not None else not_seen(name)
                       for hand, name in zip(hands, SIDES))
        return (right, left), sources, problems

    def _start(self, stack: ViewStack, side: int, points: np.ndarray) -> np.ndarray | None:
        """Start values (J, 3) of a hand two or more views triangulate (None: fewer)."""
        weights = stack.weights[side]
        if np.count_nonzero(weights.any(axis=1)) < 2 or \
                np.isfinite(points).all(axis=1).sum() < self.config.min_joints:
            return None
        return _fill_from_own(points, stack.own[side], stack.rays[side], weights,
                              stack.projections)

    def _refine(self, views: Sequence[ViewObservation], stack: ViewStack,
                starts: dict[int, np.ndarray], swapped: list[int]
                ) -> dict[int, tuple[HandEstimate, float]]:
        """Both triangulated hands refined together: side -> (the hand, the median ray error
        of its observations, px)."""
        if not starts:
            return {}
        config, sides = self.config, list(starts)
        problem = Problem(stack.projections, stack.focal_px, stack.rays[sides],
                          stack.weights[sides], stack.own[sides],
                          np.array([self._bones.lengths(side) for side in sides]),
                          config.robust_scale_px, config.relative_sigma_m, config.bone_sigma_m)
        refined = refine(problem, np.array([starts[side] for side in sides]),
                         config.refine_iterations)
        hands = {}
        for joints, side in zip(refined, sides):
            weights = stack.weights[side]
            seen = weights > 0
            count = np.maximum(seen.sum(axis=0), 1)
            errors = ray_errors_px(stack.projections, stack.focal_px, joints, stack.rays[side])
            rms = np.sqrt((np.where(seen, errors, 0.0) ** 2).sum(axis=0) / count)
            presence = max(float(_view_hand_of(views[i], side, i in swapped).presence)
                           for i in np.flatnonzero(seen.any(axis=1)))
            hands[side] = (triangulated_hand(SIDES[side], joints, presence,
                                             weights.sum(axis=0) / count, seen.sum(axis=0),
                                             rms, config.max_reprojection_px),
                           float(np.median(errors[seen])))
        return hands

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


def _drop_sparse(stack: ViewStack, min_joints: int) -> None:
    """A view sees a hand with min_joints usable joints or not at all."""
    for side in range(2):
        for index in np.flatnonzero(stack.seen(side) < min_joints):
            stack.drop(side, index)


def _view_hand_of(view: ViewObservation, side: int, swapped: bool) -> HandEstimate:
    """The view's own hand that is `side` after the label check."""
    return view.estimate.hands()[1 - side if swapped else side]


def _single_view(views: Sequence[ViewObservation], stack: ViewStack, side: int,
                 swapped: list[int]) -> tuple[HandEstimate | None, HandSource]:
    """The hand of the view that sees most of it (its own 3D in the world), if any."""
    name = SIDES[side]
    seeing = np.flatnonzero(stack.seen(side) > 0)
    if seeing.size == 0:
        return None, HandSource(NOT_SEEN)
    best = int(seeing[np.argmax(stack.weights[side][seeing].sum(axis=1))])
    return view_hand(views[best], _view_hand_of(views[best], side, best in swapped), name), \
        HandSource(SINGLE_VIEW, (stack.names[best],))


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
                         observed: np.ndarray, hands: tuple[HandEstimate, HandEstimate],
                         sources: dict[str, HandSource]) -> dict[str, float]:
    """View -> median distorted-pixel distance of its observations (before any rejection) to
    the triangulated joints."""
    fused = np.stack([hand.joints if sources[hand.side].kind == TRIANGULATED
                      else np.full_like(hand.joints, np.nan) for hand in hands])   # (2, J, 3)
    errors: dict[str, float] = {}
    for index, view in enumerate(views):
        use = observed[:, index] & np.isfinite(fused).all(axis=-1)
        optical = (fused[use] - view.position) @ view.rotation
        front = optical[:, 2] > 0
        if not front.any():
            continue
        pixels = view.camera.camera_to_pixel(optical[front])
        distances = lengths(pixels - stack.pixels[:, index][use][front])
        errors[view.name] = float(np.median(distances))
    return errors


def _two_hands(views: Sequence[ViewObservation], right: HandEstimate, left: HandEstimate
               ) -> TwoHandEstimate:
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
