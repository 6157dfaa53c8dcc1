"""Multi-view fusion accuracy and speed on synthetic two-hand scenes of known truth (issue 21).

    .venv/bin/python -m benchmarks.multiview_accuracy [--users 8 --scenes-per-user 40 --rows TEXT]

Scenes (benchmarks/multiview_scenes.py): one user per session (hand scale 0.85-1.15 of the mean
adult hand, bones +-4 %), two hands in random poses, 2-4 cameras (640 x 480, f 540-660 px, mild
distortion) on the hands' front side 0.5-1.2 m away, spread over 50-90 deg (2 views), 90-150
(3) or 120-180 (4) of azimuth and 10-45 deg up. Each view's estimate is InterNet-like (2D
joints + 3 px Gaussian noise per axis, relative depths +- 10 mm, the paper's MRRPE), lifted by
the package's lift_two_hands with the hand-size prior at scale 1.0: its own 3D. The fuser runs
one session per user (bone lengths learnt as it goes, reset between users). Per hand, MPJPE
(mm) in the world frame of the fused hand and of the best single view (the lowest of the
views' own 3D, an oracle choice); targets on hands whose cameras are all within 1 m.
The depth-camera row is benchmarks/depth_accuracy.py's 'depth image, now' (run here on fewer
scenes with --depth-scenes, 0 to skip).
"""
from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from benchmarks import depth_accuracy
from benchmarks import multiview_scenes as scenes
from interhand_ros.geometry.camera import CameraModel
from interhand_ros.multiview.fusion import TRIANGULATED, MultiViewFuser
from interhand_ros.multiview.observations import ViewObservation
from interhand_ros.skeleton import SIDES, WRIST

PIXEL_NOISE = 3.0
HAND_SPEED_M_S = 0.5
SPREADS = {2: (50.0, 90.0), 3: (90.0, 150.0), 4: (120.0, 180.0)}
Specs = Callable[[np.random.Generator], dict[int, scenes.ViewSpec]]


def motion(offset_s: float) -> Specs:
    def specs(rng: np.random.Generator) -> dict[int, scenes.ViewSpec]:
        direction = rng.normal(size=3)
        step = direction / np.linalg.norm(direction) * HAND_SPEED_M_S * offset_s
        return {1: scenes.ViewSpec(motion_m=step)}
    return specs


@dataclass(frozen=True)
class Row:
    name: str
    cameras: int
    specs: Specs = lambda rng: {}
    target_mm: float | None = None
    swapped_view: str | None = None


ROWS = (
    Row('2 views', 2, target_mm=8.0),
    Row('3 views', 3, target_mm=6.0),
    Row('4 views', 4),
    Row('3 views, one with outlier joints (1/3 at 50 px)', 3,
        lambda rng: {0: scenes.ViewSpec(outlier_fraction=1 / 3)}, target_mm=10.0),
    Row('3 views, a hand occluded in one', 3,
        lambda rng: {0: scenes.ViewSpec(missing=(SIDES[int(rng.integers(2))],))},
        target_mm=10.0),
    Row('3 views, labels swapped in one', 3, lambda rng: {0: scenes.ViewSpec(swapped=True)},
        swapped_view='/cam1'),
    Row('2 views, labels swapped in one', 2, lambda rng: {0: scenes.ViewSpec(swapped=True)},
        swapped_view='/cam1'),
    Row('2 views, sync offset 10 ms (0.5 m/s)', 2, motion(0.010)),
    Row('2 views, sync offset 33 ms (0.5 m/s)', 2, motion(0.033)),
    Row('3 views, sync offset 33 ms in one', 3, motion(0.033)),
    Row('2 views, 0.5 deg extrinsic error in one', 2,
        lambda rng: {1: scenes.ViewSpec(extrinsic_error_deg=0.5)}),
    Row('3 views, 0.5 deg extrinsic error in one', 3,
        lambda rng: {1: scenes.ViewSpec(extrinsic_error_deg=0.5)}),
)


@dataclass
class Outcome:
    fused: list[float]          # MPJPE per hand, mm
    single: list[float]         # best single view per hand, mm
    near: list[bool]            # the hand's cameras all within 1 m
    triangulated: list[bool]
    swap_corrected: list[bool]  # the views swapped back are exactly the swapped one(s)
    seconds: list[float]        # fuse() per group


def scene(rng: np.random.Generator, count: int, scale: float
          ) -> tuple[dict[str, np.ndarray], list[tuple[CameraModel, np.ndarray]], float]:
    while True:
        joints = scenes.hands(rng, scale)
        target = (joints[SIDES[0]][WRIST] + joints[SIDES[1]][WRIST]) / 2
        cameras = scenes.rig(rng, count, target, (0.5, 1.2), rng.uniform(*SPREADS[count]))
        if scenes.visible(cameras, joints):
            farthest = max(float(np.linalg.norm(pose[:3, 3] - target)) for _, pose in cameras)
            return joints, cameras, farthest


def own_world(view: ViewObservation, side: int) -> np.ndarray:
    hand = view.estimate.hands()[side]
    return np.asarray(hand.joints) @ view.rotation.T + view.position


def run_row(row: Row, users: int, per_user: int, seed: int) -> Outcome:
    rng = np.random.default_rng(seed)
    outcome = Outcome([], [], [], [], [], [])
    for _ in range(users):
        fuser = MultiViewFuser()
        scale = rng.uniform(0.85, 1.15)
        for index in range(per_user):
            joints, cameras, farthest = scene(rng, row.cameras, scale)
            views = scenes.observations(rng, cameras, joints, PIXEL_NOISE, row.specs(rng),
                                        stamp_ns=index * 1_000_000_000)
            start = time.perf_counter()
            result = fuser.fuse(views)
            outcome.seconds.append(time.perf_counter() - start)
            outcome.swap_corrected.append(result.swapped == (
                [row.swapped_view] if row.swapped_view else []))
            for side, hand in enumerate(result.estimate.hands()):
                if not hand.detected:
                    continue
                truth = joints[hand.side]
                outcome.fused.append(scenes.mpjpe_mm(hand.joints, truth))
                swapped = {0: 1 - side} if row.swapped_view else {}
                outcome.single.append(np.nanmin([
                    scenes.mpjpe_mm(own_world(view, swapped.get(i, side) if i == 0 else side),
                                    truth)
                    for i, view in enumerate(views) if view.estimate.hands()[
                        swapped.get(i, side) if i == 0 else side].detected]))
                outcome.near.append(farthest <= 1.0)
                outcome.triangulated.append(result.sources[hand.side].kind == TRIANGULATED)
    return outcome


def timing(groups: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """fuse() wall and thread-CPU seconds for groups of four views, both hands, one session.

    The CPU time is the fusion's own work; the wall time also holds whatever else the machine
    ran meanwhile (on a shared machine, most of it)."""
    rng = np.random.default_rng(seed)
    fuser = MultiViewFuser()
    groups_views = []
    for index in range(min(groups, 100)):
        joints, cameras, _ = scene(rng, 4, 1.0)
        groups_views.append(scenes.observations(rng, cameras, joints, PIXEL_NOISE, {},
                                                stamp_ns=index * 1_000_000_000))
    wall, cpu = [], []
    for index in range(groups):
        views = groups_views[index % len(groups_views)]
        start, start_cpu = time.perf_counter(), time.thread_time()
        fuser.fuse(views)
        cpu.append(time.thread_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    return np.array(wall), np.array(cpu)


def depth_camera_row(scenes_per_user: int, seed: int) -> tuple[float, float] | None:
    """depth_accuracy's 'depth image, now' median MPJPE (right, left), mm."""
    if scenes_per_user <= 0:
        return None
    rows = depth_accuracy.evaluate(2, scenes_per_user, seed, depth_accuracy.Noise())
    return tuple(float(np.median([e[side][1] for e in rows[depth_accuracy.ROWS[3]]]))
                 for side in SIDES)  # type: ignore[return-value]


def report(row: Row, outcome: Outcome) -> str:
    fused, single = np.array(outcome.fused), np.array(outcome.single)
    near = np.array(outcome.near)
    line = (f'| {row.name} | {np.median(fused):.1f} / {np.percentile(fused, 90):.1f} | '
            f'{np.median(fused[near]):.1f} | {np.median(single):.1f} | '
            f'{np.mean(outcome.triangulated):.0%} | ')
    extra = []
    if row.swapped_view:
        extra.append(f'labels corrected in {np.mean(outcome.swap_corrected):.1%} of scenes')
    elif not all(outcome.swap_corrected):
        extra.append(f'labels wrongly swapped in {1 - np.mean(outcome.swap_corrected):.1%}')
    if row.target_mm is not None:
        met = 'met' if np.median(fused[near]) <= row.target_mm else 'MISSED'
        extra.append(f'target <= {row.target_mm:g} mm: {met}')
    return line + '; '.join(extra) + ' |'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--users', type=int, default=8)
    parser.add_argument('--scenes-per-user', type=int, default=40)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--timing-groups', type=int, default=2000)
    parser.add_argument('--rows', default='',
                        help='only the rows whose name contains this text')
    parser.add_argument('--depth-scenes', type=int, default=24,
                        help="scenes per user (2 users) of depth_accuracy's depth-camera row")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    print(f'{args.users} users x {args.scenes_per_user} scenes per row, {PIXEL_NOISE:g} px '
          f'noise, seed {args.seed}')
    print('| row | fused MPJPE median / p90 | fused, hands <= 1 m | best single view '
          '(hand-size prior) | hands triangulated | notes |')
    print('|---|---|---|---|---|---|')
    for index, row in enumerate(ROWS):
        if args.rows not in row.name:
            continue
        outcome = run_row(row, args.users, args.scenes_per_user, args.seed + index)
        print(report(row, outcome), flush=True)
    depth = depth_camera_row(args.depth_scenes, args.seed)
    if depth is not None:
        print(f'| one depth camera (depth_accuracy "depth image, now", {2 * args.depth_scenes} '
              f'scenes) | right {depth[0]:.1f}, left {depth[1]:.1f} | | | | |')
    load = os.getloadavg()[0]
    wall, cpu = (seconds * 1e3 for seconds in timing(args.timing_groups, args.seed))
    print(f'fusion time per group (two hands, four views, {wall.size} groups; target p99 <= 2 '
          f'ms), median / p90 / p99: wall {np.median(wall):.2f} / {np.percentile(wall, 90):.2f}'
          f' / {np.percentile(wall, 99):.2f} ms, thread CPU {np.median(cpu):.2f} / '
          f'{np.percentile(cpu, 90):.2f} / {np.percentile(cpu, 99):.2f} ms; load average '
          f'{load:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs')
    print(f'({time.perf_counter() - start:.0f} s)')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
