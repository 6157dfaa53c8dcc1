"""Stable left/right labels for the landmark fallback: hysteresis plus position continuity.

MediaPipe's handedness label can flip between frames (its most reported complaint), which would
teleport a robot hand to the other arm. Here a hand keeps the side of the track it continues (its
wrist within gate_m of that side's last wrist, seen less than max_gap_s ago), and changes side
only after switch_frames consecutive frames whose label says otherwise: one frame's evidence
never swaps a hand. A hand that continues no track takes its label. InterNet has one head per
hand, so its sides need none of this.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

import numpy as np

from interhand_ros.estimate import HandEstimate, TwoHandEstimate
from interhand_ros.geometry.wrist_frame import identity_quaternion, wrist_quaternion
from interhand_ros.skeleton import SIDES


@dataclass(frozen=True)
class IdentityConfig:
    switch_frames: int = 5    # consecutive frames of the other label before a hand changes side
    gate_m: float = 0.15      # m, a wrist this close to a side's last wrist continues that side
    max_gap_s: float = 0.5    # s, a side's last wrist is forgotten after this
    margin_m: float = 0.02    # m, continuity must beat the labels by this much to override them

    def check(self) -> None:
        if self.switch_frames < 1:
            raise ValueError(f'identity.switch_frames must be >= 1, got {self.switch_frames}')
        for name in ('gate_m', 'max_gap_s', 'margin_m'):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f'identity.{name} must be >= 0, got {getattr(self, name)}')


@dataclass
class _Track:
    wrist: np.ndarray
    stamp: float
    disagreements: int = 0


def with_side(hand: HandEstimate, side: str) -> HandEstimate:
    """The same hand labelled side (its wrist frame depends on the side)."""
    if hand.side == side:
        return hand
    quaternion = wrist_quaternion(hand.joints, side)
    return replace(hand, side=side, wrist_quaternion=identity_quaternion()
                   if quaternion is None else quaternion)


def rebuild(estimate: TwoHandEstimate, right: HandEstimate, left: HandEstimate
            ) -> TwoHandEstimate:
    """estimate with new hands; the two-hand vector follows them (NaN unless both)."""
    both = right.detected and left.detected
    vector = left.wrist_position - right.wrist_position if both else np.full(3, np.nan)
    same_pair = (right is estimate.right and left is estimate.left)
    return replace(
        estimate, right=right, left=left, right_to_left_root=vector,
        relative_root_depth=estimate.relative_root_depth if same_pair or not both
        else float(vector[2]),
        relative_root_depth_valid=both)


class SideTracker:
    """Re-labels the detected hands of consecutive frames (call assign once per image)."""

    def __init__(self, config: IdentityConfig = IdentityConfig()) -> None:
        config.check()
        self.config = config
        self._tracks: dict[str, _Track] = {}
        self._last_stamp = -math.inf

    def reset(self) -> None:
        self._tracks.clear()

    def assign(self, estimate: TwoHandEstimate, stamp_s: float) -> TwoHandEstimate:
        """estimate with each detected hand on its stable side."""
        if stamp_s < self._last_stamp:
            self.reset()
        self._last_stamp = stamp_s
        self._tracks = {side: track for side, track in self._tracks.items()
                        if stamp_s - track.stamp <= self.config.max_gap_s}
        hands = [hand for hand in estimate.hands() if hand.detected]
        sides = self._choose_sides(hands)
        placed = {side: HandEstimate(side=side, presence=0.0, detected=False) for side in SIDES}
        for hand, side in zip(hands, sides):
            placed[side] = with_side(hand, side)
            track = self._tracks.get(side)
            disagreements = track.disagreements if track is not None else 0
            self._tracks[side] = _Track(np.asarray(hand.wrist_position, float).copy(), stamp_s,
                                        disagreements)
        if sides == tuple(hand.side for hand in hands):
            return estimate
        return rebuild(estimate, placed['right'], placed['left'])

    def _choose_sides(self, hands: list[HandEstimate]) -> tuple[str, ...]:
        """Labels unless continuity clearly says otherwise, and then only after switch_frames."""
        labels = tuple(hand.side for hand in hands)
        options = list(itertools.permutations(SIDES, len(hands)))
        costs = {option: self._continuity_cost(hands, option) for option in options}
        best = min(options, key=lambda option: costs[option])
        if best == labels or costs[best] + self.config.margin_m >= costs[labels]:
            for side in labels:
                if side in self._tracks:
                    self._tracks[side].disagreements = 0
            return labels
        contradicted = [side for side, label in zip(best, labels) if side != label]
        for side in contradicted:
            track = self._tracks.get(side)
            if track is not None:
                track.disagreements += 1
        if any(self._tracks[side].disagreements >= self.config.switch_frames
               for side in contradicted if side in self._tracks):
            for side in SIDES:
                if side in self._tracks:
                    self._tracks[side].disagreements = 0
            return labels
        return best

    def _continuity_cost(self, hands: list[HandEstimate], sides: tuple[str, ...]) -> float:
        """Sum of wrist distances to the sides' tracks; gate_m for no track, 2 gate_m too far."""
        gate = self.config.gate_m
        cost = 0.0
        for hand, side in zip(hands, sides):
            track = self._tracks.get(side)
            if track is None:
                cost += gate
                continue
            distance = float(np.linalg.norm(np.asarray(hand.wrist_position) - track.wrist))
            cost += distance if distance <= gate else 2.0 * gate
        return cost
