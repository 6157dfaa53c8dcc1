"""The calibration's files: the extrinsics YAML (read by the publisher and the launch file),
and one camera_calibration_parsers YAML per camera with estimated intrinsics (the format
geometry/camera_yaml.py reads and camera_info_manager loads)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from interhand_ros.calibration.intrinsics import Intrinsics
from interhand_ros.geometry.transforms import matrix_from


class ExtrinsicsError(ValueError):
    """The extrinsics YAML is missing, unreadable or incomplete; the message says where."""


@dataclass(frozen=True)
class CameraExtrinsics:
    """One camera's optical frame in the world frame (and its lens, when it was estimated)."""

    frame_id: str
    translation: tuple[float, float, float]         # metres
    rotation: tuple[float, float, float, float]     # qx, qy, qz, qw
    reprojection_error_px: float
    intrinsics: Intrinsics | None = None

    def matrix(self) -> np.ndarray:
        """T_world_camera (4x4)."""
        return matrix_from(self.translation, self.rotation)


@dataclass(frozen=True)
class Extrinsics:
    world_frame: str
    cameras: dict[str, CameraExtrinsics]


def _numbers(entry: Any, key: str, size: int, where: str) -> tuple[float, ...]:
    values = entry.get(key)
    if not isinstance(values, list) or len(values) != size:
        raise ExtrinsicsError(f'{where}: {key} must be a list of {size} numbers, got {values!r}')
    try:
        numbers = tuple(float(v) for v in values)
    except (TypeError, ValueError) as error:
        raise ExtrinsicsError(f'{where}: {key}: {error}') from error
    if not all(math.isfinite(v) for v in numbers):
        raise ExtrinsicsError(f'{where}: {key} has a non-finite number: {values}')
    return numbers


def _camera(name: str, entry: Any, path: Path) -> CameraExtrinsics:
    where = f'{path}: camera {name}'
    if not isinstance(entry, dict):
        raise ExtrinsicsError(f'{where}: expected a mapping, got {entry!r}')
    frame_id = entry.get('frame_id')
    if not isinstance(frame_id, str) or not frame_id:
        raise ExtrinsicsError(f'{where}: frame_id must be a non-empty string')
    rotation = _numbers(entry, 'rotation', 4, where)
    norm = math.sqrt(sum(v * v for v in rotation))
    if not 0.99 < norm < 1.01:
        raise ExtrinsicsError(f'{where}: rotation [qx, qy, qz, qw] must be a unit quaternion '
                              f'(norm {norm:.3f})')
    lens = None
    if 'camera_matrix' in entry:
        width, height = (int(v) for v in _numbers(entry, 'image_size', 2, where))
        lens = Intrinsics(np.array(_numbers(entry, 'camera_matrix', 9, where)).reshape(3, 3),
                          np.array(_numbers(entry, 'distortion', 5, where)), width, height)
    x, y, z = _numbers(entry, 'translation', 3, where)
    qx, qy, qz, qw = (v / norm for v in rotation)
    error = entry.get('reprojection_error_px', float('nan'))
    return CameraExtrinsics(frame_id, (x, y, z), (qx, qy, qz, qw), float(error), lens)


def read_extrinsics(path: Path | str) -> Extrinsics:
    """The YAML `interhand-calibrate --out` writes; ExtrinsicsError naming what is wrong."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ExtrinsicsError(f'cannot read extrinsics YAML {path}: {error}') from error
    if not isinstance(data, dict) or not isinstance(data.get('cameras'), dict) \
            or not data['cameras']:
        raise ExtrinsicsError(f'{path}: expected world_frame and a non-empty cameras mapping')
    world = data.get('world_frame')
    if not isinstance(world, str) or not world:
        raise ExtrinsicsError(f'{path}: world_frame must be a non-empty string')
    cameras = {str(name): _camera(str(name), entry, path)
               for name, entry in data['cameras'].items()}
    frames = [camera.frame_id for camera in cameras.values()]
    if len(set(frames)) != len(frames) or world in frames:
        raise ExtrinsicsError(f'{path}: every camera needs its own frame_id, different from '
                              f'world_frame {world!r} (got {frames})')
    return Extrinsics(world, cameras)


def _rounded(values: Any, digits: int) -> list[float]:
    return [round(float(v), digits) for v in np.asarray(values).ravel()]


def write_extrinsics(path: Path, extrinsics: Extrinsics) -> None:
    """The issue's format; intrinsics only for cameras whose lens was estimated."""
    cameras: dict[str, Any] = {}
    for name, camera in extrinsics.cameras.items():
        entry: dict[str, Any] = {
            'frame_id': camera.frame_id,
            'translation': _rounded(camera.translation, 6),
            'rotation': _rounded(camera.rotation, 8),
            'reprojection_error_px': round(camera.reprojection_error_px, 3)}
        if camera.intrinsics is not None:
            lens = camera.intrinsics
            entry['camera_matrix'] = _rounded(lens.matrix, 4)
            entry['distortion'] = _rounded(lens.distortion, 8)
            entry['image_size'] = [lens.width, lens.height]
        cameras[name] = entry
    text = yaml.safe_dump({'world_frame': extrinsics.world_frame, 'cameras': cameras},
                          sort_keys=False, default_flow_style=None)
    path.write_text(text)


def write_camera_yaml(path: Path, name: str, lens: Intrinsics) -> None:
    """camera_calibration_parsers' YAML (image_width, camera_matrix {rows, cols, data}, ...)."""
    def matrix(rows: int, cols: int, values: Any) -> dict[str, Any]:
        return {'rows': rows, 'cols': cols, 'data': _rounded(values, 8)}
    projection = np.hstack([lens.matrix, np.zeros((3, 1))])
    data = {'image_width': lens.width, 'image_height': lens.height, 'camera_name': name,
            'camera_matrix': matrix(3, 3, lens.matrix), 'distortion_model': 'plumb_bob',
            'distortion_coefficients': matrix(1, 5, lens.distortion),
            'rectification_matrix': matrix(3, 3, np.eye(3)),
            'projection_matrix': matrix(3, 4, projection)}
    path.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=None))
