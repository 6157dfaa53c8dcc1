"""Crop geometry of InterNet's input: official box squaring x1.25 and the affine crop to 256 x 256.

The engine and the training pipeline both use these so the network always sees crops made
the same way. `T` maps original-image pixels to crop pixels, `T_inv` the other way; both are
2 x 3 affine matrices as OpenCV uses them.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from interhand_ros.geometry.box import Box

INPUT_SIZE = 256  # px, the network's square input patch (InterNet is trained on 256 x 256)
ENLARGE_FACTOR = 1.25


def square_and_enlarge(box: Box, factor: float = ENLARGE_FACTOR) -> Box:
    """Official `process_bbox`: grow the short side to a square around the centre, then x factor.

    No clipping to the image: the crop may extend past the border (filled with zeros).
    """
    if not all(math.isfinite(v) for v in (box.x, box.y, box.w, box.h)):
        raise ValueError(f'box has non-finite values: {box}')
    if box.w <= 0 or box.h <= 0:
        raise ValueError(f'box must have positive width and height: {box}')
    side = max(box.w, box.h) * factor
    center_x, center_y = box.center
    return Box(center_x - side / 2.0, center_y - side / 2.0, side, side)


def crop_transform(box: Box, output_size: int = INPUT_SIZE, scale: float = 1.0,
                   rotation_deg: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Affine (T, T_inv) mapping the box (times scale, rotated) onto an output_size square.

    Built like the official `gen_trans_from_patch_cv` from three point pairs (centre, centre +
    half height down, centre + half width right) so crops match the official ones exactly.
    """
    if box.w <= 0 or box.h <= 0 or scale <= 0:
        raise ValueError(f'crop needs a positive box size and scale, got {box}, scale={scale}')
    angle = math.radians(rotation_deg)
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    center = np.array(box.center, dtype=np.float32)
    half_w, half_h = box.w * scale / 2.0, box.h * scale / 2.0
    down = np.array([-half_h * sin_a, half_h * cos_a], dtype=np.float32)
    right = np.array([half_w * cos_a, half_w * sin_a], dtype=np.float32)
    half_out = output_size / 2.0
    src = np.stack([center, center + down, center + right]).astype(np.float32)
    dst = np.array([[half_out, half_out], [half_out, output_size], [output_size, half_out]],
                   dtype=np.float32)
    return cv2.getAffineTransform(src, dst), cv2.getAffineTransform(dst, src)


def crop_image(image: np.ndarray, transform: np.ndarray,
               output_size: int = INPUT_SIZE) -> np.ndarray:
    """Warp the image with T into an output_size square (bilinear, zeros outside the image)."""
    return cv2.warpAffine(image, transform, (output_size, output_size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))


def apply_affine(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2 x 3 affine to (..., 2) points."""
    points = np.asarray(points, dtype=np.float64)
    return points @ transform[:, :2].T + transform[:, 2]
