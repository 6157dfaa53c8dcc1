"""First camera poses from shared board views, for the bundle adjustment to refine.

Two cameras that see the board in the same frame give one estimate of their relative pose;
the estimates of a pair are averaged robustly. Poses are chained from the reference camera
along the pairs that share the most views (a maximum spanning tree), so a camera that never
sees the board with the reference is still placed through a camera it does share views with.
"""
from __future__ import annotations

from itertools import combinations

import numpy as np

from interhand_ros.calibration.intrinsics import CalibrationError
from interhand_ros.calibration.poses import robust_mean
from interhand_ros.geometry.transforms import invert

BoardPoses = dict[str, dict[int, np.ndarray]]   # camera -> frame -> T_camera_board


def shared_views(poses: BoardPoses) -> dict[tuple[str, str], int]:
    """Frames in which both cameras of a pair (names sorted as given) found the board."""
    return {(a, b): len(poses[a].keys() & poses[b].keys())
            for a, b in combinations(list(poses), 2)}


def spanning_tree(poses: BoardPoses, reference: str) -> list[tuple[str, str]]:
    """(placed, new) edges from the reference, best-shared pair first (Prim); raises
    CalibrationError naming the cameras that share no view with the reference's group."""
    counts = shared_views(poses)
    placed, edges = {reference}, []
    while len(placed) < len(poses):
        best = max(((counts.get((a, b), counts.get((b, a), 0)), a, b) for a in placed
                    for b in poses if b not in placed), default=(0, '', ''))
        if best[0] == 0:
            lonely = sorted(set(poses) - placed)
            raise CalibrationError(
                f'{", ".join(lonely)} never saw the board at the same time as '
                f'{", ".join(sorted(placed))}: capture frames where the board is in view of '
                f'{lonely[0]} and at least one of the other cameras at once (same frame index '
                f'or stamp)')
        edges.append((best[1], best[2]))
        placed.add(best[2])
    return edges


def relative_pose(poses: BoardPoses, a: str, b: str) -> np.ndarray:
    """T_a_b from every frame both saw."""
    frames = sorted(poses[a].keys() & poses[b].keys())
    return robust_mean([poses[a][f] @ invert(poses[b][f]) for f in frames])


def initial_camera_poses(poses: BoardPoses, reference: str) -> dict[str, np.ndarray]:
    """T_reference_camera for every camera (the reference: identity)."""
    placed = {reference: np.eye(4)}
    for parent, child in spanning_tree(poses, reference):
        placed[child] = placed[parent] @ relative_pose(poses, parent, child)
    return placed


def initial_board_poses(poses: BoardPoses, cameras: dict[str, np.ndarray],
                        corner_counts: dict[str, dict[int, int]]) -> dict[int, np.ndarray]:
    """T_reference_board per frame, from the camera that saw most of the board in it."""
    boards: dict[int, np.ndarray] = {}
    best: dict[int, int] = {}
    for name, frames in poses.items():
        for frame, pose in frames.items():
            if corner_counts[name][frame] > best.get(frame, -1):
                best[frame] = corner_counts[name][frame]
                boards[frame] = cameras[name] @ pose
    return boards
