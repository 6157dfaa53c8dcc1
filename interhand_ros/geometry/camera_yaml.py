"""Camera intrinsics for offline inputs (videos, photo folders) that carry no CameraInfo.

Either a camera_calibration YAML (what `ros2 run camera_calibration cameracalibrator` and
camera_info_manager write), or an explicit field-of-view guess that callers must flag as a
guess. Both give a `CameraInfoFields` object with the sensor_msgs/CameraInfo field names, so the
engine's `CameraModel.from_camera_info` reads it like a real message.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DEFAULT_HORIZONTAL_FOV_DEG = 60.0  # a typical webcam / robot RGB camera


class CameraYamlError(ValueError):
    """The camera_calibration YAML file is missing, unreadable or incomplete."""


@dataclass(frozen=True)
class CameraInfoFields:
    """The sensor_msgs/CameraInfo fields CameraModel.from_camera_info reads (no ROS import)."""

    width: int
    height: int
    k: tuple[float, ...]
    d: tuple[float, ...] = ()
    r: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    p: tuple[float, ...] = field(default=())
    distortion_model: str = 'plumb_bob'
    binning_x: int = 0
    binning_y: int = 0

    def __post_init__(self) -> None:
        if not self.p:  # P of an unrectified pinhole camera: K with a zero fourth column
            k = self.k
            object.__setattr__(self, 'p', (k[0], k[1], k[2], 0.0, k[3], k[4], k[5], 0.0,
                                           k[6], k[7], k[8], 0.0))


def guess_camera_info(width: int, height: int,
                      horizontal_fov_deg: float = DEFAULT_HORIZONTAL_FOV_DEG) -> CameraInfoFields:
    """Pinhole intrinsics from a field-of-view GUESS: square pixels, centred principal point.

    Metric depth scales with the focal length, so results from a guess are only approximate.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f'image size must be positive, got {width}x{height}')
    if not 1.0 <= horizontal_fov_deg <= 179.0:
        raise ValueError(f'horizontal field of view must be in [1, 179] degrees, '
                         f'got {horizontal_fov_deg}')
    focal = (width / 2.0) / math.tan(math.radians(horizontal_fov_deg) / 2.0)
    # Principal point at the image centre in the CameraInfo convention (pixel centres at 0..W-1).
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    return CameraInfoFields(width=width, height=height,
                            k=(focal, 0.0, cx, 0.0, focal, cy, 0.0, 0.0, 1.0),
                            d=(0.0, 0.0, 0.0, 0.0, 0.0))


def load_camera_yaml(path: Path | str) -> CameraInfoFields:
    """Read a camera_calibration YAML file; raises CameraYamlError naming what is wrong."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise CameraYamlError(f'cannot read camera YAML {path}: {error}') from error
    if not isinstance(data, dict):
        raise CameraYamlError(f'{path}: expected a mapping, got {type(data).__name__}')
    try:
        return CameraInfoFields(
            width=int(data['image_width']), height=int(data['image_height']),
            k=_matrix(data, 'camera_matrix', 9),
            d=_matrix(data, 'distortion_coefficients', None) if 'distortion_coefficients' in
            data else (),
            r=_matrix(data, 'rectification_matrix', 9) if 'rectification_matrix' in data
            else CameraInfoFields.r,
            p=_matrix(data, 'projection_matrix', 12) if 'projection_matrix' in data else (),
            distortion_model=str(data.get('distortion_model', 'plumb_bob')))
    except KeyError as error:
        raise CameraYamlError(f'{path}: missing key {error}') from error
    except (TypeError, ValueError) as error:
        raise CameraYamlError(f'{path}: {error}') from error


def _matrix(data: dict, key: str, size: int | None) -> tuple[float, ...]:
    entry = data[key]
    values = entry['data'] if isinstance(entry, dict) else entry
    values = tuple(float(value) for value in values)
    if size is not None and len(values) != size:
        raise ValueError(f'{key} needs {size} numbers, got {len(values)}')
    return values
