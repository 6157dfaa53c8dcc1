"""sensor_msgs/Image <-> numpy RGB, with the validation a camera driver's bad frame needs.

The network wants RGB uint8. Messages are checked (encoding, size, step, data length) before any
conversion so a bad frame raises `ImageEncodingError` with a precise reason instead of a numpy
reshape error. The conversion gives the same pixels as cv_bridge's
`imgmsg_to_cv2(msg, 'rgb8')` (16-bit mono scaled by 255/65535 and rounded, as cv_bridge does);
cv_bridge is used when it is importable. No rclpy here: only the message type.
"""
from __future__ import annotations

from typing import Optional

import cv2
import numpy as np
from sensor_msgs.msg import Image
from std_msgs.msg import Header

try:  # a real ROS install has cv_bridge; the PyPI venv does not.
    from cv_bridge import CvBridge
    _BRIDGE: Optional[CvBridge] = CvBridge()
except ImportError:  # pragma: no cover - depends on the install
    _BRIDGE = None

# encoding -> (channels, numpy dtype, OpenCV code to RGB or None when already RGB)
_ENCODINGS: dict[str, tuple[int, np.dtype, Optional[int]]] = {
    'rgb8': (3, np.dtype(np.uint8), None),
    'bgr8': (3, np.dtype(np.uint8), cv2.COLOR_BGR2RGB),
    'rgba8': (4, np.dtype(np.uint8), cv2.COLOR_RGBA2RGB),
    'bgra8': (4, np.dtype(np.uint8), cv2.COLOR_BGRA2RGB),
    'mono8': (1, np.dtype(np.uint8), cv2.COLOR_GRAY2RGB),
    'mono16': (1, np.dtype(np.uint16), cv2.COLOR_GRAY2RGB),
}
SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(_ENCODINGS)
# REP-118 depth encodings: 16-bit millimetres (0 = invalid) or 32-bit float metres.
DEPTH_ENCODINGS: dict[str, np.dtype] = {
    '16UC1': np.dtype(np.uint16), 'mono16': np.dtype(np.uint16), '32FC1': np.dtype(np.float32)}


class ImageEncodingError(ValueError):
    """The image message cannot be read as an RGB picture (the reason is in the message)."""


def image_to_array(msg: Image, channels: int, dtype: np.dtype) -> np.ndarray:
    """View an Image's data as (H, W[, C]) after checking size, step and data length.

    Row padding (step > width * pixel size) is skipped; big-endian data is byte-swapped.
    """
    if msg.height == 0 or msg.width == 0:
        raise ImageEncodingError(f'zero-size image ({msg.width}x{msg.height})')
    dtype = np.dtype(dtype)
    row_bytes = msg.width * channels * dtype.itemsize
    if msg.step < row_bytes:
        raise ImageEncodingError(
            f'step {msg.step} is smaller than width {msg.width} x {channels} channel(s) x '
            f'{dtype.itemsize} byte(s) = {row_bytes} for encoding {msg.encoding!r}')
    expected = msg.step * msg.height
    data = np.frombuffer(memoryview(msg.data), dtype=np.uint8)
    if data.size != expected:
        raise ImageEncodingError(
            f'data length {data.size} does not match step {msg.step} x height {msg.height} '
            f'= {expected}')
    rows = data.reshape(msg.height, msg.step)[:, :row_bytes]
    order = '>' if msg.is_bigendian else '<'
    pixels = np.ascontiguousarray(rows).view(dtype.newbyteorder(order))
    shape = (msg.height, msg.width) if channels == 1 else (msg.height, msg.width, channels)
    return pixels.reshape(shape).astype(dtype, copy=False)


def image_to_rgb(msg: Image) -> np.ndarray:
    """Convert a sensor_msgs/Image to a contiguous uint8 (H, W, 3) RGB array.

    Raises ImageEncodingError for an unsupported encoding or an inconsistent message.
    """
    spec = _ENCODINGS.get(msg.encoding)
    if spec is None:
        raise ImageEncodingError(
            f'unsupported encoding {msg.encoding!r}; supported: {", ".join(SUPPORTED_ENCODINGS)}')
    channels, dtype, to_rgb = spec
    pixels = image_to_array(msg, channels, dtype)
    if _BRIDGE is not None:  # pragma: no cover - only on a ROS install
        return np.ascontiguousarray(_BRIDGE.imgmsg_to_cv2(msg, desired_encoding='rgb8'))
    if dtype == np.uint16:
        # cv_bridge: convertTo(CV_8U, 255/65535), i.e. rounded to nearest (never a tie here).
        pixels = np.rint(pixels.astype(np.float32) * np.float32(255.0 / 65535.0)).astype(np.uint8)
    if to_rgb is None:
        return np.ascontiguousarray(pixels)
    return cv2.cvtColor(pixels, to_rgb)


def depth_to_array(msg: Image) -> np.ndarray:
    """A depth Image as an (H, W) array in its own units (see DEPTH_ENCODINGS), validated."""
    dtype = DEPTH_ENCODINGS.get(msg.encoding)
    if dtype is None:
        raise ImageEncodingError(f'unsupported depth encoding {msg.encoding!r}; supported: '
                                 f'{", ".join(DEPTH_ENCODINGS)}')
    return image_to_array(msg, 1, dtype)


def rgb_to_image(rgb: np.ndarray, header: Header) -> Image:
    """Wrap a uint8 (H, W, 3) RGB array as an rgb8 Image with the given header."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageEncodingError(
            f'expected uint8 (H, W, 3) RGB, got {rgb.dtype} {tuple(rgb.shape)}')
    if _BRIDGE is not None:  # pragma: no cover - only on a ROS install
        return _BRIDGE.cv2_to_imgmsg(np.ascontiguousarray(rgb), encoding='rgb8', header=header)
    height, width = rgb.shape[:2]
    return Image(header=header, height=height, width=width, encoding='rgb8', is_bigendian=0,
                 step=width * 3, data=np.ascontiguousarray(rgb).tobytes())
