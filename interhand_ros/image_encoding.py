"""sensor_msgs/Image and CompressedImage -> numpy RGB, with the validation a bad frame needs.

Why our own conversion: cv_bridge is C++/Boost and cannot be built in the PyPI-only environment
this project is developed and tested in, so this module is the single image path everywhere (node,
bag runner, demo), also on a ROS install. It uses the OpenCV conversion codes cv_bridge uses
(vision_opencv `cv_bridge.cpp`: `yuv422` is UYVY, `yuv422_yuy2` is YUYV, `bayer_rggb*` is
`COLOR_BayerBG2RGB`, `bayer_bggr*` BayerRG, `bayer_gbrg*` BayerGR, `bayer_grbg*` BayerGB: OpenCV
names a Bayer pattern after its second row) and the tests check every encoding against a known
image. One deliberate difference: 16-bit samples become 8-bit by their high byte (`>> 8`) instead of
cv_bridge's rounded `* 255 / 65535` (at most 1 level apart); the high byte is read in place, in
either byte order, so no 16-bit copy is made (it is also what OpenCV's PNG decoder does with a
16-bit PNG read as 8-bit colour).

Messages are checked (encoding, size, step, data length) before any conversion so a bad frame
raises `ImageEncodingError` (a ValueError) with a precise reason, not a numpy or OpenCV error. The
data is viewed without copying; at most one intermediate copy (OpenCV's, of the strided 16-bit high
bytes) is made besides the result. No rclpy here: only the message types.
"""
from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header


class _Layout(NamedTuple):
    channels: int            # samples per pixel as stored (2 for YUV 4:2:2: Y plus U or V)
    sample_bytes: int        # 1 or 2 (16-bit: the high byte is used)
    to_rgb: int | None       # OpenCV conversion code, None when the samples are RGB already


def _with_16bit(layouts: dict[str, _Layout]) -> dict[str, _Layout]:
    """Each 8-bit layout plus its 16-bit twin ('rgb8' -> 'rgb16', 'bayer_rggb8' -> ...16)."""
    wide = {name[:-1] + '16': layout._replace(sample_bytes=2) for name, layout in layouts.items()}
    return {**layouts, **wide}


_ENCODINGS: dict[str, _Layout] = {
    **_with_16bit({
        'rgb8': _Layout(3, 1, None),
        'bgr8': _Layout(3, 1, cv2.COLOR_BGR2RGB),
        'rgba8': _Layout(4, 1, cv2.COLOR_RGBA2RGB),
        'bgra8': _Layout(4, 1, cv2.COLOR_BGRA2RGB),
        'mono8': _Layout(1, 1, cv2.COLOR_GRAY2RGB),
        'bayer_rggb8': _Layout(1, 1, cv2.COLOR_BayerBG2RGB),
        'bayer_bggr8': _Layout(1, 1, cv2.COLOR_BayerRG2RGB),
        'bayer_gbrg8': _Layout(1, 1, cv2.COLOR_BayerGR2RGB),
        'bayer_grbg8': _Layout(1, 1, cv2.COLOR_BayerGB2RGB),
    }),
    'yuv422': _Layout(2, 1, cv2.COLOR_YUV2RGB_UYVY),       # U Y0 V Y1
    'yuv422_yuy2': _Layout(2, 1, cv2.COLOR_YUV2RGB_YUYV),  # Y0 U Y1 V
}
SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(_ENCODINGS)
_YUV422 = ('yuv422', 'yuv422_yuy2')
# REP-118 depth encodings: 16-bit millimetres (0 = invalid) or 32-bit float metres.
DEPTH_ENCODINGS: dict[str, np.dtype] = {
    '16UC1': np.dtype(np.uint16), 'mono16': np.dtype(np.uint16), '32FC1': np.dtype(np.float32)}

# CompressedImage: image_transport's compressed plugin writes '<encoding>; <codec> compressed
# <encoding>' ('rgb8; jpeg compressed bgr8'); older drivers write just the codec ('jpeg').
_SIGNATURES = {'jpeg': b'\xff\xd8\xff', 'png': b'\x89PNG\r\n\x1a\n'}
_ENDINGS = {'jpeg': b'\xff\xd9', 'png': b'IEND\xaeB`\x82'}  # EOI marker; IEND chunk type + CRC
_CODEC_NAMES = {'jpeg': 'jpeg', 'jpg': 'jpeg', 'png': 'png'}
_TAIL = 4096  # bytes searched for the end marker (drivers may zero-pad a fixed-size buffer)


class ImageEncodingError(ValueError):
    """The image message cannot be read as an RGB picture (the reason is in the message)."""


def _rows(msg: Image, row_bytes: int) -> np.ndarray:
    """(height, row_bytes) uint8 view of the data without row padding, after checking sizes."""
    if msg.height == 0 or msg.width == 0:
        raise ImageEncodingError(f'zero-size image ({msg.width}x{msg.height})')
    if msg.step < row_bytes:
        raise ImageEncodingError(
            f'step {msg.step} is smaller than the {row_bytes} bytes a row of {msg.width} '
            f'{msg.encoding!r} pixels needs')
    expected = msg.step * msg.height
    data = np.frombuffer(memoryview(msg.data), dtype=np.uint8)
    if data.size != expected:
        raise ImageEncodingError(
            f'data length {data.size} does not match step {msg.step} x height {msg.height} '
            f'= {expected}')
    return data.reshape(msg.height, msg.step)[:, :row_bytes]


def image_to_array(msg: Image, channels: int, dtype: np.dtype) -> np.ndarray:
    """View an Image's data as (H, W[, C]) of `dtype` after checking size, step and data length.

    Row padding (step > width * pixel size) is skipped; big-endian data is byte-swapped.
    """
    dtype = np.dtype(dtype)
    rows = _rows(msg, msg.width * channels * dtype.itemsize)
    stored = dtype.newbyteorder('>' if msg.is_bigendian else '<')
    pixels = np.ascontiguousarray(rows).view(stored)
    shape = (msg.height, msg.width) if channels == 1 else (msg.height, msg.width, channels)
    return pixels.reshape(shape).astype(dtype, copy=False)


def _samples8(msg: Image, layout: _Layout) -> np.ndarray:
    """(H, W[, C]) uint8 view of the samples; of 16-bit ones, the high byte (>> 8), in place."""
    rows = _rows(msg, msg.width * layout.channels * layout.sample_bytes)
    if layout.sample_bytes == 2:
        rows = rows[:, 0 if msg.is_bigendian else 1::2]
    if layout.channels == 1:
        return rows
    return rows.reshape(msg.height, msg.width, layout.channels)


def image_to_rgb(msg: Image) -> np.ndarray:
    """Convert a sensor_msgs/Image to a uint8 (H, W, 3) RGB array (C-contiguous).

    Raises ImageEncodingError for an unsupported encoding or an inconsistent message.
    """
    layout = _ENCODINGS.get(msg.encoding)
    if layout is None:
        raise ImageEncodingError(
            f'unsupported encoding {msg.encoding!r}; supported: {", ".join(SUPPORTED_ENCODINGS)}')
    if msg.encoding in _YUV422 and msg.width % 2:
        raise ImageEncodingError(
            f'{msg.encoding} needs an even width (two pixels share U and V), got {msg.width}')
    pixels = _samples8(msg, layout)
    if layout.to_rgb is None:
        return np.ascontiguousarray(pixels)
    return cv2.cvtColor(pixels, layout.to_rgb)


def _codec(fmt: str, head: bytes) -> str:
    """'jpeg' or 'png' from a CompressedImage format string, checked against the first bytes."""
    words = fmt.split(';', 1)[-1].split()
    named = words[0].lower() if words else ''
    codec = _CODEC_NAMES.get(named)
    sniffed = next((c for c, magic in _SIGNATURES.items() if head.startswith(magic)), None)
    if codec is None and named:
        raise ImageEncodingError(f'unsupported compressed format {fmt!r}; supported: jpeg, png '
                                 f"(image_transport's 'compressed' plugin)")
    if sniffed is None:
        raise ImageEncodingError(f'compressed data (format {fmt!r}) is neither JPEG nor PNG: '
                                 f'it starts with {head.hex(" ")!r}')
    if codec is not None and codec != sniffed:
        raise ImageEncodingError(f'format {fmt!r} says {codec} but the data is {sniffed}')
    return sniffed


def compressed_to_rgb(msg: CompressedImage) -> np.ndarray:
    """Decode a JPEG or PNG sensor_msgs/CompressedImage to a uint8 (H, W, 3) RGB array.

    A truncated file is rejected even where the decoder would return a partial picture (JPEG
    without its EOI marker, PNG without its IEND chunk; zero bytes a driver pads after the end
    are allowed, up to _TAIL bytes); so is anything OpenCV cannot decode. Bit errors inside JPEG
    entropy data, which libjpeg only warns about, cannot be seen through OpenCV and decode to a
    damaged picture. The data is decoded in place (no copy).
    """
    data = np.frombuffer(memoryview(msg.data), np.uint8)  # no copy
    codec = _codec(msg.format, data[:8].tobytes())
    if not data[-_TAIL:].tobytes().rstrip(b'\x00').endswith(_ENDINGS[codec]):
        end = 'EOI marker FF D9' if codec == 'jpeg' else 'IEND chunk'
        raise ImageEncodingError(f'truncated {codec} ({data.size} bytes, format '
                                 f'{msg.format!r}): no {end} at the end')
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageEncodingError(f'corrupt {codec}: OpenCV cannot decode these {data.size} bytes '
                                 f'(format {msg.format!r})')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


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
    height, width = rgb.shape[:2]
    return Image(header=header, height=height, width=width, encoding='rgb8', is_bigendian=0,
                 step=width * 3, data=np.ascontiguousarray(rgb).tobytes())
