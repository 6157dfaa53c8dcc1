"""One Euro filter (Casiez, Roussel, Vogel, CHI 2012) on hand joints, in header-stamp time.

InterNet's argmax output is quantized (4 crop pixels, 6.25 mm of depth per voxel), so a still
hand jitters by millimetres every frame. The One Euro filter is a first-order low-pass whose
cutoff rises with speed: min_cutoff (Hz) sets the smoothing of a still hand, beta (s/m) how fast
the cutoff grows with a joint's speed (less lag when moving), d_cutoff (Hz) smooths the speed
estimate. Time is the images' header stamps, so a slow or bursty transport does not change the
result. A hand lost for longer than hold_s, or stamps going backwards (a bag played in a loop),
restarts the filter; within hold_s the last pose is held and marked held.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from interhand_ros.estimate import HandEstimate
from interhand_ros.geometry.wrist_frame import wrist_quaternion
from interhand_ros.skeleton import WRIST

STAMP_TOLERANCE = 1e-6  # s: stamps as float seconds must not make 6 frames at 30 Hz > 0.2 s


@dataclass(frozen=True)
class FilterConfig:
    """Filter settings; defaults tuned with benchmarks/teleop_bench.py (30 Hz, InterNet noise)."""

    enabled: bool = True
    min_cutoff: float = 0.5   # Hz, cutoff of a still joint
    beta: float = 8.0         # s/m, cutoff increase per m/s of joint speed
    d_cutoff: float = 1.0     # Hz, cutoff of the speed estimate
    hold_s: float = 0.2       # s, a lost hand's last pose is held this long, then the filter resets

    def check(self) -> None:
        """ValueError naming the first bad setting."""
        for name in ('min_cutoff', 'd_cutoff'):
            if not getattr(self, name) > 0.0:
                raise ValueError(f'filter.{name} must be > 0 Hz, got {getattr(self, name)}')
        if not self.beta >= 0.0:
            raise ValueError(f'filter.beta must be >= 0 s/m, got {self.beta}')
        if not self.hold_s >= 0.0:
            raise ValueError(f'filter.hold_s must be >= 0 s, got {self.hold_s}')


def smoothing_factor(cutoff: np.ndarray | float, dt: np.ndarray | float) -> np.ndarray:
    """Exponential smoothing weight of the new sample for a first-order low-pass at cutoff Hz."""
    r = 2.0 * math.pi * np.asarray(cutoff) * np.asarray(dt)
    return np.asarray(r / (r + 1.0))


class OneEuroFilter:
    """One Euro filter vectorized over the rows of an (N, D) array (one row per joint).

    A row's speed is the norm of its D-dimensional derivative, so the cutoff is the same for a
    joint's three coordinates. Non-finite rows are skipped (their state waits); each row keeps
    its own last update time.
    """

    def __init__(self, min_cutoff: float, beta: float, d_cutoff: float) -> None:
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self._state: _RowState | None = None

    def reset(self) -> None:
        self._state = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """Filtered copy of x (N, D) at time t (s); the caller resets on stamps going back."""
        x = np.asarray(x, dtype=np.float64)
        if self._state is None or self._state.x.shape != x.shape:
            self._state = _RowState.empty(x.shape)
        state = self._state
        finite = np.isfinite(x).all(axis=1)
        dt = t - state.t
        first = finite & ~state.started
        step = finite & state.started & (dt > 0.0)
        state.x[first], state.dx[first], state.t[first] = x[first], 0.0, t
        state.started |= first
        if step.any():
            dt_s = dt[step][:, None]
            dx = (x[step] - state.x[step]) / dt_s
            dx_hat = state.dx[step] + smoothing_factor(self.d_cutoff, dt_s) * (
                dx - state.dx[step])
            speed = np.linalg.norm(dx_hat, axis=1, keepdims=True)
            alpha = smoothing_factor(self.min_cutoff + self.beta * speed, dt_s)
            state.x[step] += alpha * (x[step] - state.x[step])
            state.dx[step], state.t[step] = dx_hat, t
        out = state.x.copy()
        out[~finite] = np.nan  # this frame did not measure them
        return out


@dataclass
class _RowState:
    """Per row: filtered value, filtered derivative, last update time, has a value."""

    x: np.ndarray
    dx: np.ndarray
    t: np.ndarray
    started: np.ndarray

    @classmethod
    def empty(cls, shape: tuple[int, ...]) -> _RowState:
        return cls(np.full(shape, np.nan), np.zeros(shape), np.full(shape[0], -np.inf),
                   np.zeros(shape[0], dtype=bool))


class HandSmoother:
    """One hand's filter with the hold / reset policy (HandEstimate in, HandEstimate out)."""

    def __init__(self, config: FilterConfig) -> None:
        config.check()
        self.config = config
        self._filter = OneEuroFilter(config.min_cutoff, config.beta, config.d_cutoff)
        self._last: HandEstimate | None = None
        self._last_measured = -math.inf
        self._last_stamp = -math.inf

    def reset(self) -> None:
        self._filter.reset()
        self._last, self._last_measured = None, -math.inf

    def update(self, hand: HandEstimate, stamp_s: float) -> HandEstimate:
        """The filtered hand at stamp_s, a held copy of the last one, or the hand as given."""
        if stamp_s < self._last_stamp:  # looped bag or restarted clock: no stale state
            self.reset()
        self._last_stamp = stamp_s
        lost_for = stamp_s - self._last_measured
        within_hold = lost_for <= self.config.hold_s + STAMP_TOLERANCE
        if not hand.detected:
            if self._last is not None and within_hold:
                return replace(self._last, held=True, held_for=lost_for)
            self.reset()
            return hand
        if not within_hold:
            self.reset()
        measured = np.where(np.asarray(hand.valid)[:, None], hand.joints, np.nan)
        joints = self._filter(measured, stamp_s)
        joints = np.where(np.isfinite(joints), joints, hand.joints)
        quaternion = wrist_quaternion(joints, hand.side)
        smoothed = replace(
            hand, joints=joints, wrist_position=joints[WRIST].copy(),
            wrist_quaternion=hand.wrist_quaternion if quaternion is None else quaternion,
            held=False, held_for=0.0)
        self._last, self._last_measured = smoothed, stamp_s
        return smoothed
