"""sensor_msgs/Image -> RGB conversion: every encoding, row padding, byte order, bad frames."""
import cv2
import numpy as np
import pytest
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from interhand_ros.image_encoding import (
    SUPPORTED_ENCODINGS,
    ImageEncodingError,
    depth_to_array,
    image_to_rgb,
    rgb_to_image,
)

RNG = np.random.default_rng(7)
RGB = RNG.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)


def make_image(pixels: np.ndarray, encoding: str, padding: int = 0,
               big_endian: bool = False) -> Image:
    """Pack pixels row by row, each row followed by `padding` junk bytes."""
    height, width = pixels.shape[:2]
    if big_endian:
        pixels = pixels.astype(pixels.dtype.newbyteorder('>'))
    rows = pixels.reshape(height, -1).view(np.uint8)
    junk = np.full((height, padding), 0xAB, np.uint8)
    data = np.concatenate([rows, junk], axis=1)
    return Image(height=height, width=width, encoding=encoding, is_bigendian=int(big_endian),
                 step=data.shape[1], data=data.tobytes())


@pytest.mark.parametrize('padding', [0, 3])
def test_colour_encodings_give_the_same_rgb(padding):
    bgr = RGB[..., ::-1]
    alpha = RNG.integers(0, 256, size=RGB.shape[:2] + (1,), dtype=np.uint8)
    sources = {
        'rgb8': RGB, 'bgr8': bgr,
        'rgba8': np.concatenate([RGB, alpha], axis=2),
        'bgra8': np.concatenate([bgr, alpha], axis=2),
    }
    for encoding, pixels in sources.items():
        out = image_to_rgb(make_image(np.ascontiguousarray(pixels), encoding, padding))
        assert out.dtype == np.uint8 and out.flags['C_CONTIGUOUS']
        np.testing.assert_array_equal(out, RGB, err_msg=encoding)


def test_mono8_is_replicated_to_three_channels():
    gray = RGB[..., 0].copy()
    out = image_to_rgb(make_image(gray, 'mono8', padding=1))
    np.testing.assert_array_equal(out, np.repeat(gray[..., None], 3, axis=2))


@pytest.mark.parametrize('big_endian', [False, True])
def test_mono16_is_scaled_like_cv_bridge(big_endian):
    gray16 = np.array([[0, 128, 129, 385, 386, 65535, 30000]], dtype=np.uint16)
    out = image_to_rgb(make_image(gray16, 'mono16', padding=2, big_endian=big_endian))
    # cv_bridge: cv::Mat::convertTo(CV_8U, 255/65535) (OpenCV's rounding), then gray -> RGB.
    reference = cv2.cvtColor(cv2.convertScaleAbs(gray16, alpha=255.0 / 65535.0),
                             cv2.COLOR_GRAY2RGB)
    np.testing.assert_array_equal(out, reference)
    assert out[0, :, 0].tolist() == [0, 0, 1, 1, 2, 255, 117]


@pytest.mark.parametrize('mutate, reason', [
    (lambda m: setattr(m, 'encoding', 'yuv422'), 'unsupported encoding'),
    (lambda m: setattr(m, 'encoding', '32FC1'), 'unsupported encoding'),
    (lambda m: setattr(m, 'data', bytes(m.step * m.height - 1)), 'data length'),
    (lambda m: setattr(m, 'height', m.height + 1), 'data length'),
    (lambda m: setattr(m, 'step', m.width * 3 - 1), 'step'),
    (lambda m: (setattr(m, 'width', 0), setattr(m, 'step', 0), setattr(m, 'data', b'')),
     'zero-size'),
])
def test_bad_messages_raise_a_clear_error(mutate, reason):
    msg = make_image(RGB, 'rgb8')
    mutate(msg)
    with pytest.raises(ImageEncodingError, match=reason):
        image_to_rgb(msg)


def test_rgb_to_image_round_trips_and_keeps_the_header():
    header = Header(frame_id='cam_optical')
    header.stamp.sec, header.stamp.nanosec = 12, 345
    msg = rgb_to_image(RGB, header)
    assert (msg.encoding, msg.width, msg.height, msg.step) == ('rgb8', 7, 5, 21)
    assert msg.header.frame_id == 'cam_optical' and msg.header.stamp.nanosec == 345
    np.testing.assert_array_equal(image_to_rgb(msg), RGB)
    with pytest.raises(ImageEncodingError):
        rgb_to_image(RGB[..., 0], header)


def test_supported_encodings_are_the_documented_ones():
    assert set(SUPPORTED_ENCODINGS) == {'rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8', 'mono16'}


@pytest.mark.parametrize('encoding, dtype', [('16UC1', np.uint16), ('32FC1', np.float32)])
def test_depth_images_keep_their_units(encoding, dtype):
    depth = (RNG.random((4, 6)) * 3000).astype(dtype)
    out = depth_to_array(make_image(depth, encoding, padding=4, big_endian=True))
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, depth)
    with pytest.raises(ImageEncodingError, match='unsupported depth encoding'):
        depth_to_array(make_image(RGB, 'rgb8'))
