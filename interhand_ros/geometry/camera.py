"""Pinhole camera (+ lens distortion) built from sensor_msgs/CameraInfo fields, without ROS.

Raw images use K and D (pixels are undistorted before back-projection); rectified images use P
and no distortion, as CameraInfo.msg prescribes. ROI and binning are applied like
image_geometry does (ROI offset subtracted; binning treated as a resize); a resized image is
handled by `scaled_to`. Pixel convention: the centre of
the top-left pixel is (0, 0).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

_FISHEYE_MODELS = ('equidistant', 'fisheye')
_PINHOLE_MODELS = ('plumb_bob', 'rational_polynomial', '')
_OPENCV_DISTORTION_SIZES = (4, 5, 8, 12, 14)
_ASPECT_TOLERANCE = 0.02


class CameraInfoError(ValueError):
    """The camera calibration is missing, invalid, or does not fit the image."""


@dataclass(frozen=True)
class CameraModel:
    """Intrinsics of the image the estimator sees. distortion=None: an ideal pinhole."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    distortion: np.ndarray | None = None
    distortion_model: str = 'plumb_bob'

    def __post_init__(self) -> None:
        values = (self.fx, self.fy, self.cx, self.cy)
        if not all(math.isfinite(v) for v in values):
            raise CameraInfoError(f'camera intrinsics must be finite, got {values}')
        if self.fx <= 0 or self.fy <= 0:
            raise CameraInfoError(
                f'focal lengths must be positive, got fx={self.fx}, fy={self.fy}')
        if self.width <= 0 or self.height <= 0:
            raise CameraInfoError(f'image size must be positive, got {self.width}x{self.height}')
        if self.distortion is not None:
            if not np.all(np.isfinite(self.distortion)):
                raise CameraInfoError('distortion coefficients must be finite')
            fisheye = self.distortion_model in _FISHEYE_MODELS
            if not fisheye and self.distortion_model not in _PINHOLE_MODELS:
                raise CameraInfoError(f'unsupported distortion model {self.distortion_model!r}')
            sizes = (4,) if fisheye else _OPENCV_DISTORTION_SIZES
            if self.distortion.size not in sizes:
                raise CameraInfoError(f'{self.distortion_model!r} needs {sizes} distortion '
                                      f'coefficients, got {self.distortion.size}')

    @classmethod
    def from_intrinsics(cls, k: np.ndarray, width: int, height: int,
                        distortion: np.ndarray | None = None,
                        distortion_model: str = 'plumb_bob') -> CameraModel:
        """From a 3 x 3 K (zero distortion coefficients count as none)."""
        k = np.asarray(k, dtype=np.float64).reshape(3, 3)
        if distortion is not None:
            distortion = np.asarray(distortion, dtype=np.float64).ravel()
            if distortion.size == 0 or (np.all(distortion == 0)):
                distortion = None
        return cls(float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]),
                   int(width), int(height), distortion, distortion_model)

    @classmethod
    def from_camera_info(cls, info: Any, rectified: bool) -> CameraModel:
        """From any object with CameraInfo's fields (k, d, p, width, height, binning_*, roi).

        rectified=True: the image is rectified (image_rect*), so P applies and D does not.
        """
        k = np.asarray(info.k, dtype=np.float64).ravel()
        p = np.asarray(info.p, dtype=np.float64).ravel()
        d = np.asarray(info.d, dtype=np.float64).ravel()
        if k.size != 9 or p.size != 12:
            raise CameraInfoError(f'CameraInfo needs 9 K and 12 P values, got {k.size}, {p.size}')
        if not (np.all(np.isfinite(k)) and np.all(np.isfinite(p)) and np.all(np.isfinite(d))):
            raise CameraInfoError('CameraInfo holds NaN or infinite values')
        if k[0] == 0.0:
            raise CameraInfoError('camera is uncalibrated (CameraInfo K[0] == 0)')
        if rectified and p[0] == 0.0:
            raise CameraInfoError('rectified image requested but CameraInfo P[0] == 0')
        width, height = int(info.width), int(info.height)
        fx, fy, cx, cy = (p[0], p[5], p[2], p[6]) if rectified else (k[0], k[4], k[2], k[5])
        roi = getattr(info, 'roi', None)
        if roi is not None and int(roi.width) > 0 and int(roi.height) > 0:
            cx, cy = cx - int(roi.x_offset), cy - int(roi.y_offset)
            width, height = int(roi.width), int(roi.height)
        bin_x, bin_y = max(1, int(info.binning_x)), max(1, int(info.binning_y))
        distortion = None if rectified else d
        camera = cls.from_intrinsics(np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]]),
                                     width, height, distortion, str(info.distortion_model))
        if bin_x > 1 or bin_y > 1:
            camera = camera.scaled_to(width // bin_x, height // bin_y)
        return camera

    @property
    def k(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def scaled_to(self, width: int, height: int) -> CameraModel:
        """The same camera for the image resized to width x height (pixel centres kept)."""
        if width <= 0 or height <= 0:
            raise CameraInfoError(f'image size must be positive, got {width}x{height}')
        scale_x, scale_y = width / self.width, height / self.height
        if abs(scale_x - scale_y) > _ASPECT_TOLERANCE * max(scale_x, scale_y):
            raise CameraInfoError(
                f'image {width}x{height} does not have the calibrated aspect of '
                f'{self.width}x{self.height}: cropped images need their own CameraInfo')
        return CameraModel(self.fx * scale_x, self.fy * scale_y,
                           (self.cx + 0.5) * scale_x - 0.5, (self.cy + 0.5) * scale_y - 0.5,
                           int(width), int(height), self.distortion, self.distortion_model)

    def for_image(self, width: int, height: int) -> CameraModel:
        """This camera if it matches the image size, else the camera scaled to it."""
        if (width, height) == (self.width, self.height):
            return self
        return self.scaled_to(width, height)

    def undistort_pixels(self, uv: np.ndarray) -> np.ndarray:
        """Observed (distorted) pixels (..., 2) -> pixels of the ideal pinhole camera K."""
        uv = np.asarray(uv, dtype=np.float64)
        if self.distortion is None:
            return uv.copy()
        points = uv.reshape(-1, 1, 2)
        if self.distortion_model in _FISHEYE_MODELS:
            ideal = cv2.fisheye.undistortPoints(points, self.k, self.distortion, P=self.k)
        else:
            ideal = cv2.undistortPoints(points, self.k, self.distortion, P=self.k)
        return ideal.reshape(uv.shape)

    def pixel_rays(self, uv: np.ndarray) -> np.ndarray:
        """Observed pixels (..., 2) -> normalised coordinates ((u - cx) / fx, (v - cy) / fy) of
        the undistorted pixels: the optical-frame point at depth z is (ray * z, z)."""
        ideal = self.undistort_pixels(uv)
        return np.stack([(ideal[..., 0] - self.cx) / self.fx,
                         (ideal[..., 1] - self.cy) / self.fy], axis=-1)

    def camera_to_pixel(self, xyz: np.ndarray) -> np.ndarray:
        """Optical-frame points (..., 3) in metres -> observed (distorted) pixels (..., 2)."""
        xyz = np.asarray(xyz, dtype=np.float64)
        if self.distortion is None:
            u = xyz[..., 0] / xyz[..., 2] * self.fx + self.cx
            v = xyz[..., 1] / xyz[..., 2] * self.fy + self.cy
            return np.stack([u, v], axis=-1)
        points = xyz.reshape(-1, 1, 3)
        zero = np.zeros(3)
        if self.distortion_model in _FISHEYE_MODELS:
            pixels, _ = cv2.fisheye.projectPoints(points, zero, zero, self.k, self.distortion)
        else:
            pixels, _ = cv2.projectPoints(points, zero, zero, self.k, self.distortion)
        return pixels.reshape(xyz.shape[:-1] + (2,))


def rays_to_camera(rays: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Normalised coordinates (..., 2) (CameraModel.pixel_rays) at depths z (...), metres ->
    optical-frame points (..., 3)."""
    z = np.asarray(z, dtype=np.float64)
    x, y = rays[..., 0] * z, rays[..., 1] * z
    return np.stack([x, y, np.broadcast_to(z, x.shape)], axis=-1)
