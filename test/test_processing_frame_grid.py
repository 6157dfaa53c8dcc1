"""processing/frame_grid.py offline: which frames nodes of a multi-camera rig estimate.

A small event simulation plays a node against a camera: frames arrive `LATENCY` s after their
stamp, the node takes the waiting frame whenever it is free and stays busy `busy_s` per frame,
telling the grid when it is done (as ros/mailbox.Worker does).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from interhand_ros.processing.frame_grid import MAX_LEVEL, FrameGrid

FPS = 30.0
BASE = 1.0 / FPS
LATENCY = 0.004  # s, stamp to arrival
FIRST_TICK = 52_000_000_000  # about 2025 in 30 Hz ticks since the epoch


def camera_stamps(seconds: float, jitter_s: float = 0.0, seed: int = 0) -> list[float]:
    """A 30 Hz camera stamping on the shared grid (optionally off it by up to jitter_s)."""
    ticks = np.arange(FIRST_TICK, FIRST_TICK + int(seconds * FPS))
    noise = np.random.default_rng(seed).uniform(-jitter_s, jitter_s, ticks.size)
    return list(ticks / FPS + noise)


def simulate(grid: FrameGrid, stamps: list[float], busy_s: float) -> list[float]:
    """The stamps a node busy `busy_s` per frame takes, in order."""
    taken: list[float] = []
    waiting: tuple[float, float] | None = None  # stamp, arrival
    free_at, running = -math.inf, False
    for stamp in stamps:
        now = stamp + LATENCY
        while True:
            if running and free_at <= now:
                grid.busy(busy_s)
                running = False
            if running or waiting is None:
                break
            start = max(free_at, waiting[1])
            grid.took(waiting[0])
            taken.append(waiting[0])
            free_at, running, waiting = start + busy_s, True, None
        if grid.admits(stamp, None if waiting is None else waiting[0]):
            waiting = (stamp, now)
    return taken


def ticks(stamps: list[float]) -> list[int]:
    return [round(stamp * FPS) - FIRST_TICK for stamp in stamps]


def test_nodes_at_different_levels_estimate_the_same_frames_at_the_coarser_slot_starts():
    stamps = camera_stamps(20.0)
    fast, slow = FrameGrid(BASE), FrameGrid(BASE)
    fast_taken = ticks(simulate(fast, stamps, busy_s=0.10))
    slow_taken = ticks(simulate(slow, stamps, busy_s=0.21))
    assert (fast.level, slow.level) == (2, 3)  # 133 ms >= 100 ms, 267 ms >= 210 ms
    fast_taken, slow_taken = fast_taken[5:], slow_taken[5:]  # after the level settled
    assert all(tick % 4 == 0 for tick in fast_taken)  # the first frame of each slot
    assert all(tick % 8 == 0 for tick in slow_taken)
    assert set(slow_taken) <= set(fast_taken)
    assert len(slow_taken) >= 0.9 * 20.0 * FPS / 8  # every slot: the node keeps up


def test_without_the_grid_the_same_nodes_estimate_different_frames():
    """The problem the grid solves (newest frame wins): few frames in common."""
    stamps = camera_stamps(20.0)
    fast = set(simulate(FrameGrid(0.0), stamps, busy_s=0.10))
    slow = simulate(FrameGrid(0.0), stamps, busy_s=0.21)
    assert len(fast & set(slow)) < 0.5 * len(slow)
    assert len(fast) > len(slow) > 0.8 * 20.0 / 0.21  # each takes a frame whenever free


def test_stamp_jitter_smaller_than_half_a_period_picks_the_same_instants():
    first = simulate(FrameGrid(BASE), camera_stamps(10.0, 0.008, seed=1), busy_s=0.15)
    second = simulate(FrameGrid(BASE), camera_stamps(10.0, 0.008, seed=2), busy_s=0.15)
    assert ticks(first)[5:] == ticks(second)[5:]


def test_off_admits_every_frame_so_the_newest_wins():
    grid = FrameGrid(0.0)
    assert not grid.enabled and grid.width == 0.0
    grid.took(10.0)
    grid.busy(5.0)
    assert grid.admits(10.0, None) and grid.admits(10.0, 10.0) and grid.admits(9.0, 10.0)
    assert grid.level == 0


def test_the_first_frame_of_a_slot_is_kept_and_taken_slots_are_skipped():
    grid = FrameGrid(BASE)
    grid.busy(0.1)  # level 2: slots of four frames
    tick = FIRST_TICK - FIRST_TICK % 4
    stamp = [(tick + i) / FPS for i in range(13)]
    assert grid.admits(stamp[1], None)  # the node saw none of this slot before
    assert not grid.admits(stamp[2], stamp[1])  # the waiting one came first in its slot
    assert grid.admits(stamp[4], stamp[1])  # a new slot's first frame replaces it
    grid.took(stamp[4])
    assert not grid.admits(stamp[5], None) and not grid.admits(stamp[7], None)
    assert grid.admits(stamp[9], None)  # the first frame of the next slot that arrived
    assert not grid.admits(stamp[10], stamp[9])
    assert grid.slot(stamp[8]) == grid.slot(stamp[11]) == grid.slot(stamp[4]) + 1


def test_the_level_follows_the_busy_time_with_hysteresis_and_a_cap():
    grid = FrameGrid(BASE)
    assert grid.level == 0 and grid.width == pytest.approx(BASE)
    grid.busy(0.02)
    assert grid.level == 0  # faster than the camera: every frame
    for _ in range(30):
        grid.busy(0.10)
    assert grid.level == 2 and grid.width == pytest.approx(4 * BASE)
    for _ in range(30):
        grid.busy(0.14)  # over 133 ms: up
    assert grid.level == 3
    for _ in range(30):
        grid.busy(0.12)  # fits level 2, but not with the margin: stays
    assert grid.level == 3
    for _ in range(30):
        grid.busy(0.09)  # fits level 2 with the margin: down
    assert grid.level == 2
    for _ in range(30):
        grid.busy(30.0)
    assert grid.level == MAX_LEVEL


def test_a_stamp_jumping_back_starts_the_grid_again():
    grid = FrameGrid(BASE)
    grid.busy(0.25)  # level 3
    late = (FIRST_TICK + 800) / FPS
    grid.took(late)
    assert not grid.admits(late + BASE, None)
    back = FIRST_TICK / FPS + 1.0 / FPS  # a looped bag: not the first frame of its slot
    assert grid.admits(back, None)
    grid.took(back)
    assert not grid.admits(back + BASE, None)  # the grid goes on from there
    assert grid.admits(FIRST_TICK / FPS + 8 / FPS, None)


@pytest.mark.parametrize('period', [-0.1, math.inf, math.nan])
def test_a_bad_base_period_is_refused(period):
    with pytest.raises(ValueError, match='base period'):
        FrameGrid(period)
