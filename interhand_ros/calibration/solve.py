"""The whole calibration: every camera's lens and pose in one world frame from its board views.

Per camera: its lens (estimated, or from its camera_info), the marker-ratio check, the board
pose in each view (PnP). Across cameras: first poses chained through shared views, then one
bundle adjustment over every corner seen, then the world frame: the board's first pose seen by
two cameras (origin at the board's bottom-left outer corner, x along the bottom edge, y up the
board, z out of the printed face: z up for a board lying face up), or a camera's optical frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from interhand_ros.calibration.board import BoardSpec
from interhand_ros.calibration.bundle import Observations, Solution, bundle_adjust
from interhand_ros.calibration.checks import check_marker_ratio
from interhand_ros.calibration.detection import Detection
from interhand_ros.calibration.initial import (
    BoardPoses,
    initial_board_poses,
    initial_camera_poses,
    shared_views,
)
from interhand_ros.calibration.intrinsics import (
    CalibrationError,
    Intrinsics,
    board_pose,
    calibrate_intrinsics,
)
from interhand_ros.calibration.poses import transform
from interhand_ros.geometry.transforms import invert


@dataclass
class CameraViews:
    """What one camera gives the calibration: its board detections by frame index."""

    name: str
    frame_id: str
    size: tuple[int, int]                      # width, height of its images
    detections: dict[int, Detection]
    images: int                                # frames read (with or without the board)
    lens: Intrinsics | None = None             # its camera_info, if it has a usable one


@dataclass
class CameraResult:
    name: str
    frame_id: str
    pose: np.ndarray                 # T_world_camera
    lens: Intrinsics
    lens_estimated: bool
    errors_px: np.ndarray            # every corner's reprojection error after adjustment
    board_poses: dict[int, np.ndarray]   # T_camera_board by frame (its own PnP)
    marker_ratio: float | None


@dataclass
class Calibration:
    world_frame: str
    cameras: dict[str, CameraResult]
    board_poses: dict[int, np.ndarray]        # T_world_board by frame index
    shared: dict[tuple[str, str], int]


def world_from_board(spec: BoardSpec) -> np.ndarray:
    """T_board_world: the world frame described above, in the board's own (OpenCV) frame."""
    return transform(np.diag([1.0, -1.0, -1.0]), np.array([0.0, spec.size_m[1], 0.0]))


def camera_lens(camera: CameraViews, spec: BoardSpec, estimate: bool, tangential: bool
                ) -> tuple[Intrinsics, bool]:
    """(lens, estimated): estimated when asked or when there is no camera_info."""
    if camera.lens is not None and not estimate:
        lens = camera.lens
        if (lens.width, lens.height) != camera.size:
            raise CalibrationError(
                f'{camera.name}: its camera_info is for {lens.width}x{lens.height} images but '
                f'the images are {camera.size[0]}x{camera.size[1]}: give the matching '
                f'camera_info or use --intrinsics')
        return lens, False
    return calibrate_intrinsics(camera.name, spec, list(camera.detections.values()),
                                camera.size, tangential)[0], True


def _observations(spec: BoardSpec, cameras: list[CameraViews], frames: list[int]
                  ) -> Observations:
    points = spec.corner_points()
    frame_index = {frame: i for i, frame in enumerate(frames)}
    parts = [(c, frame_index[frame], d) for c, camera in enumerate(cameras)
             for frame, d in camera.detections.items() if frame in frame_index]
    return Observations(
        camera=np.concatenate([np.full(len(d), c) for c, _, d in parts]),
        frame=np.concatenate([np.full(len(d), f) for _, f, d in parts]),
        points=np.concatenate([points[d.ids] for _, _, d in parts]),
        pixels=np.concatenate([d.corners for _, _, d in parts]))


def calibrate(spec: BoardSpec, cameras: list[CameraViews], estimate_intrinsics: bool = False,
              world_camera: str | None = None, world_frame: str = 'world',
              tangential: bool = False) -> Calibration:
    """Every camera's lens and pose; CalibrationError naming the camera and what to do.
    tangential: estimated lenses get p1, p2 too (views must reach the image corners)."""
    names = [camera.name for camera in cameras]
    if world_camera is not None and world_camera not in names:
        raise CalibrationError(f'--world-camera {world_camera} is not one of the cameras '
                               f'({", ".join(names)})')
    for camera in cameras:
        if not camera.detections:
            raise CalibrationError(
                f'{camera.name}: no board found in any of its {camera.images} images. Check '
                f'that --board, --dictionary and the sizes match the printed board '
                f'({spec.describe()}), and that the board is in view, lit and in focus')
    lenses = {c.name: camera_lens(c, spec, estimate_intrinsics, tangential) for c in cameras}
    ratios = {c.name: check_marker_ratio(c.name, spec, list(c.detections.values()),
                                         lenses[c.name][0]) for c in cameras}
    poses: BoardPoses = {}
    for camera in cameras:
        lens = lenses[camera.name][0]
        found = {f: board_pose(spec, d, lens) for f, d in camera.detections.items()}
        poses[camera.name] = {f: pose for f, pose in found.items() if pose is not None}
    shared = shared_views(poses)
    reference = world_camera or max(names, key=lambda n: sum(
        count for pair, count in shared.items() if n in pair))
    placed = initial_camera_poses(poses, reference)
    counts = {c.name: {f: len(d) for f, d in c.detections.items()} for c in cameras}
    boards = initial_board_poses(poses, placed, counts)
    frames = sorted(boards)
    observations = _observations(spec, cameras, frames)
    solution = bundle_adjust(
        observations,
        [invert(placed[name]) for name in names], [boards[f] for f in frames],
        [lenses[name][0] for name in names], names.index(reference),
        [c for c, name in enumerate(names) if lenses[name][1]], tangential)
    world = _world(spec, solution, names, frames, poses, world_camera)
    return _result(cameras, solution, observations, world, frames, lenses, poses, ratios,
                   shared, world_frame)


def _world(spec: BoardSpec, solution: Solution, names: list[str], frames: list[int],
           poses: BoardPoses, world_camera: str | None) -> np.ndarray:
    """T_world_reference."""
    if world_camera is not None:
        return solution.camera_poses[names.index(world_camera)]
    seen = [f for f in frames if sum(f in views for views in poses.values()) >= 2] or frames
    reference_board = solution.board_poses[frames.index(seen[0])]
    return invert(reference_board @ world_from_board(spec))


def _result(cameras: list[CameraViews], solution: Solution, observations: Observations,
            world: np.ndarray, frames: list[int], lenses: dict[str, tuple[Intrinsics, bool]],
            poses: BoardPoses, ratios: dict[str, float | None],
            shared: dict[tuple[str, str], int], world_frame: str) -> Calibration:
    errors = np.linalg.norm(solution.residuals, axis=1)
    results = {}
    for c, camera in enumerate(cameras):
        results[camera.name] = CameraResult(
            camera.name, camera.frame_id, world @ invert(solution.camera_poses[c]),
            solution.lenses[c], lenses[camera.name][1], errors[observations.camera == c],
            poses[camera.name], ratios[camera.name])
    boards = {f: world @ solution.board_poses[i] for i, f in enumerate(frames)}
    return Calibration(world_frame, results, boards, shared)
