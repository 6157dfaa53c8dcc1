"""One camera's lens: intrinsics from its board views (cv2.calibrateCamera on ChArUco corners),
or from its CameraInfo; and the board's pose in one view (PnP)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from interhand_ros.calibration.board import BoardSpec
from interhand_ros.calibration.detection import Detection
from interhand_ros.calibration.poses import transform

MIN_INTRINSICS_VIEWS = 4      # calibrateCamera's practical minimum for a plumb_bob lens
MIN_INTRINSICS_CORNERS = 8


class CalibrationError(ValueError):
    """The calibration cannot be done; the message names the camera and what to do."""


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole + plumb_bob (k1, k2, p1, p2, k3) at one image size, OpenCV's pixel convention."""

    matrix: np.ndarray        # (3, 3)
    distortion: np.ndarray    # (5,)
    width: int
    height: int

    @classmethod
    def from_camera_info(cls, info: Any) -> Intrinsics:
        """From a CameraInfo message or geometry.camera_yaml.CameraInfoFields (k, d, width)."""
        model = getattr(info, 'distortion_model', 'plumb_bob') or 'plumb_bob'
        if model not in ('plumb_bob', 'rational_polynomial'):
            raise CalibrationError(f'distortion model {model!r} is not supported: use '
                                   f'--intrinsics to estimate a plumb_bob lens')
        matrix = np.asarray(info.k, dtype=np.float64).reshape(3, 3)
        if not np.all(np.isfinite(matrix)) or matrix[0, 0] <= 0 or matrix[1, 1] <= 0:
            raise CalibrationError('camera_info has no focal length (uncalibrated camera): use '
                                   '--intrinsics')
        distortion = np.zeros(5)
        given = np.asarray(info.d, dtype=np.float64)[:5]
        distortion[:len(given)] = given
        return cls(matrix, distortion, int(info.width), int(info.height))

    @property
    def focal(self) -> tuple[float, float]:
        return float(self.matrix[0, 0]), float(self.matrix[1, 1])

    def vector(self) -> np.ndarray:
        """(9,) fx, fy, cx, cy, k1, k2, p1, p2, k3: what the bundle adjustment refines."""
        m = self.matrix
        return np.concatenate([[m[0, 0], m[1, 1], m[0, 2], m[1, 2]], self.distortion])

    def with_vector(self, vector: np.ndarray) -> Intrinsics:
        fx, fy, cx, cy = vector[:4]
        matrix = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        return Intrinsics(matrix, np.asarray(vector[4:9], dtype=np.float64), self.width,
                          self.height)


def object_points(spec: BoardSpec, detection: Detection) -> np.ndarray:
    """(N, 3) board-frame points of a detection's corners."""
    return spec.corner_points()[detection.ids]


def calibrate_intrinsics(name: str, spec: BoardSpec, detections: list[Detection],
                         size: tuple[int, int], tangential: bool = False
                         ) -> tuple[Intrinsics, float]:
    """(intrinsics, RMS px) from every view of one camera; CalibrationError when too few.

    k3 is fixed at 0 (as ROS camera_calibration does by default): with a board that never
    reaches the image corners it only fits noise and bends the lens wildly at the edges. The
    tangential terms p1, p2 are 0 unless asked: over a board that stays near the image centre
    they trade off against the principal point, whose error turns the camera (measured: cx off
    by 4.6 px and a camera-to-camera rotation error of 0.46 degrees with them, 1.2 px and 0.13
    degrees without, on a lens whose true p1, p2 are 5e-4 and -3e-4)."""
    views = [d for d in detections if len(d) >= MIN_INTRINSICS_CORNERS]
    if len(views) < MIN_INTRINSICS_VIEWS:
        raise CalibrationError(
            f'{name}: only {len(views)} views with at least {MIN_INTRINSICS_CORNERS} board '
            f'corners, {MIN_INTRINSICS_VIEWS} needed for intrinsics: capture more views of the '
            f'board filling much of the image at several tilts, or give its camera_info')
    points = spec.corner_points()
    width, height = size
    guess = np.array([[max(size), 0.0, (width - 1) / 2], [0.0, max(size), (height - 1) / 2],
                      [0.0, 0.0, 1.0]])
    rms, matrix, distortion, _, _ = cv2.calibrateCamera(
        [points[d.ids].astype(np.float32) for d in views],
        [d.corners.astype(np.float32) for d in views], (width, height), guess, np.zeros(5),
        flags=cv2.CALIB_USE_INTRINSIC_GUESS | cv2.CALIB_FIX_K3 | (
            0 if tangential else cv2.CALIB_ZERO_TANGENT_DIST),
        criteria=(cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 100, 1e-10))
    return Intrinsics(matrix, distortion.reshape(-1)[:5], width, height), float(rms)


def board_pose(spec: BoardSpec, detection: Detection, lens: Intrinsics) -> np.ndarray | None:
    """T_camera_board (4x4) by PnP (IPPE for the plane, then iterative refinement), or None when
    the board would be behind the camera (a failed solve)."""
    points = object_points(spec, detection)
    ok, rvec, tvec = cv2.solvePnP(points, detection.corners, lens.matrix, lens.distortion,
                                  flags=cv2.SOLVEPNP_IPPE)
    if not ok:
        return None
    rvec, tvec = cv2.solvePnPRefineLM(points, detection.corners, lens.matrix, lens.distortion,
                                      rvec, tvec)
    if tvec[2, 0] <= 0:
        return None
    return transform(rvec, tvec)
