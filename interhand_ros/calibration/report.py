"""How good a calibration is: per camera the reprojection error, views and their spread; per
pair the shared views; and warnings where a camera is poorly constrained."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from interhand_ros.calibration.checks import distance_warning
from interhand_ros.calibration.solve import Calibration, CameraResult

MIN_VIEWS = 15            # board views per camera for a well-constrained lens and pose
MIN_SHARED = 5            # shared views for a pair to be tied together firmly
MIN_TILT_RANGE_DEG = 20.0  # the board's tilt must vary for focal length and depth to separate
MAX_GOOD_ERROR_PX = 1.0


@dataclass(frozen=True)
class CameraSummary:
    name: str
    views: int
    median_px: float
    p90_px: float
    tilt_range_deg: float
    distance_m: float


def tilt_range_deg(board_poses: list[np.ndarray]) -> float:
    """How much the board's normal turns across the views, seen from the camera: twice the
    90th percentile of its angle to the mean normal (0 for identical views)."""
    if len(board_poses) < 2:
        return 0.0
    normals = np.stack([pose[:3, 2] for pose in board_poses])
    mean = normals.mean(axis=0)
    mean /= np.linalg.norm(mean)
    angles = np.degrees(np.arccos(np.clip(normals @ mean, -1.0, 1.0)))
    return float(2.0 * np.percentile(angles, 90))


def summarise(camera: CameraResult) -> CameraSummary:
    poses = list(camera.board_poses.values())
    errors = camera.errors_px
    return CameraSummary(
        camera.name, len(poses), float(np.median(errors)), float(np.percentile(errors, 90)),
        tilt_range_deg(poses), float(np.median([np.linalg.norm(p[:3, 3]) for p in poses])))


def warnings(calibration: Calibration) -> list[str]:
    """What to fix before trusting the result, one line each."""
    found = []
    for camera in calibration.cameras.values():
        summary = summarise(camera)
        if summary.views < MIN_VIEWS:
            found.append(f'{camera.name}: only {summary.views} board views: capture at least '
                         f'{MIN_VIEWS}, the board at several places and tilts')
        if summary.tilt_range_deg < MIN_TILT_RANGE_DEG:
            found.append(f'{camera.name}: the board\'s tilt varies by only '
                         f'{summary.tilt_range_deg:.0f} deg across its views (too similar '
                         f'views): tilt it 30-45 deg towards and away from the camera')
        if summary.median_px > MAX_GOOD_ERROR_PX:
            found.append(f'{camera.name}: median reprojection error {summary.median_px:.2f} px: '
                         f'check focus and motion blur, its camera_info (or use --intrinsics), '
                         f'and that its frames were taken at the same time as the others\'')
        distance = distance_warning(camera.name, [float(np.linalg.norm(p[:3, 3]))
                                                  for p in camera.board_poses.values()])
        if distance:
            found.append(distance)
    for name in calibration.cameras:
        pairs = {pair: n for pair, n in calibration.shared.items() if name in pair}
        if pairs and max(pairs.values()) < MIN_SHARED:
            found.append(f'{name}: shares at most {max(pairs.values())} board views with any '
                         f'other camera: capture at least {MIN_SHARED} where it and a neighbour '
                         f'both see the board')
    return found


def format_report(calibration: Calibration) -> str:
    """The text interhand-calibrate prints and writes beside the YAML."""
    lines = [f'world frame: {calibration.world_frame}', '',
             f'{"camera":<12} {"views":>5} {"median px":>9} {"p90 px":>7} {"tilt range":>10} '
             f'{"distance":>8}  lens']
    for camera in calibration.cameras.values():
        s = summarise(camera)
        fx, fy = camera.lens.focal
        lens = (f'estimated: f {fx:.1f} {fy:.1f} px' if camera.lens_estimated
                else 'camera_info')
        lines.append(f'{s.name:<12} {s.views:>5} {s.median_px:>9.3f} {s.p90_px:>7.3f} '
                     f'{s.tilt_range_deg:>8.0f} ° {s.distance_m:>6.2f} m  {lens}')
    lines += ['', 'shared board views per camera pair:']
    lines += [f'  {a} - {b}: {count}' for (a, b), count in calibration.shared.items()]
    if not calibration.shared:
        lines.append('  (one camera: its lens and its pose in the world frame only)')
    found = warnings(calibration)
    lines += ['', 'warnings:' if found else 'warnings: none']
    lines += [f'  - {warning}' for warning in found]
    return '\n'.join(lines) + '\n'
