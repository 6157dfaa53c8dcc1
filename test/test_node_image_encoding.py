"""Image / CompressedImage -> RGB: every encoding against a known picture, row padding, byte
order, YUV 4:2:2 byte order, Bayer pattern names, JPEG/PNG, and bad frames."""
import cv2
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from interhand_ros.image_encoding import (
    SUPPORTED_ENCODINGS,
    ImageEncodingError,
    compressed_to_rgb,
    depth_to_array,
    image_to_rgb,
    rgb_to_image,
)
from interhand_ros.ros.image_input import TRANSPORTS, subscription_for, to_rgb

RNG = np.random.default_rng(7)
RGB = RNG.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)


def smooth_rgb(height: int = 24, width: int = 32) -> np.ndarray:
    """A picture whose channels vary linearly (what demosaicing and 4:2:2 rebuild well)."""
    y, x = np.mgrid[0:height, 0:width] / np.array([height - 1, width - 1])[:, None, None]
    rgb = np.stack([30 + 190 * x, 50 + 160 * y, 220 - 90 * x - 110 * y], axis=-1)
    return np.rint(rgb).astype(np.uint8)


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


def to16(pixels8: np.ndarray) -> np.ndarray:
    """16-bit samples whose high byte is `pixels8` and whose low byte is noise."""
    low = RNG.integers(0, 256, size=pixels8.shape, dtype=np.uint16)
    return (pixels8.astype(np.uint16) << 8) | low


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
@pytest.mark.parametrize('padding', [0, 2])
def test_16bit_colour_is_its_high_byte_exactly(big_endian, padding):
    bgr = np.ascontiguousarray(RGB[..., ::-1])
    alpha = RNG.integers(0, 256, size=RGB.shape[:2] + (1,), dtype=np.uint8)
    sources = {
        'rgb16': RGB, 'bgr16': bgr,
        'rgba16': np.concatenate([RGB, alpha], axis=2),
        'bgra16': np.concatenate([bgr, alpha], axis=2),
        'mono16': RGB[..., 1],
    }
    for encoding, pixels8 in sources.items():
        out = image_to_rgb(make_image(to16(pixels8), encoding, padding, big_endian))
        expected = np.repeat(RGB[..., 1:2], 3, axis=2) if encoding == 'mono16' else RGB
        assert out.dtype == np.uint8 and out.flags['C_CONTIGUOUS']
        np.testing.assert_array_equal(out, expected, err_msg=encoding)


def test_mono16_high_byte_values():
    gray16 = np.array([[0, 255, 256, 0x7FFF, 0x8000, 0xFEFF, 0xFFFF]], dtype=np.uint16)
    out = image_to_rgb(make_image(gray16, 'mono16', big_endian=True))
    assert out[0, :, 0].tolist() == [0, 0, 1, 127, 128, 254, 255]


def bt601_rgb(y: float, u: float, v: float) -> np.ndarray:
    """BT.601 limited-range YCbCr -> RGB (the standard formulas, independent of OpenCV)."""
    c, d, e = y - 16.0, u - 128.0, v - 128.0
    rgb = [1.164 * c + 1.596 * e, 1.164 * c - 0.392 * d - 0.813 * e, 1.164 * c + 2.017 * d]
    return np.clip(np.rint(rgb), 0, 255)


@pytest.mark.parametrize('encoding, order', [('yuv422', 'UYVY'), ('yuv422_yuy2', 'YUYV')])
def test_yuv422_byte_order_follows_ros(encoding, order):
    """Two pixels sharing chroma, bytes packed by hand in the order ROS documents."""
    samples = {'Y': [60, 200], 'U': 90, 'V': 170}
    ys = iter(samples['Y'])
    packed = [next(ys) if c == 'Y' else samples[c] for c in order]
    msg = Image(height=1, width=2, encoding=encoding, step=4, data=bytes(packed))
    out = image_to_rgb(msg)
    for x, y in enumerate(samples['Y']):
        expected = bt601_rgb(y, samples['U'], samples['V'])
        assert np.abs(out[0, x].astype(int) - expected).max() <= 2, (x, out[0, x], expected)


@pytest.mark.parametrize('encoding, to_yuv', [('yuv422', cv2.COLOR_RGB2YUV_UYVY),
                                              ('yuv422_yuy2', cv2.COLOR_RGB2YUV_YUYV)])
@pytest.mark.parametrize('padding', [0, 6])
def test_yuv422_round_trips_a_known_picture(encoding, to_yuv, padding):
    rgb = smooth_rgb()
    yuv = cv2.cvtColor(rgb, to_yuv)  # (H, W, 2) in the named byte order
    out = image_to_rgb(make_image(yuv, encoding, padding))
    assert out.shape == rgb.shape and out.flags['C_CONTIGUOUS']
    assert np.abs(out.astype(int) - rgb).max() <= 4  # 4:2:2 chroma of a smooth picture
    other = 'yuv422_yuy2' if encoding == 'yuv422' else 'yuv422'
    swapped = image_to_rgb(make_image(yuv, other, padding))
    assert np.abs(swapped.astype(int) - rgb).max() > 40  # the byte order is not a guess


def mosaic(rgb: np.ndarray, pattern: str) -> np.ndarray:
    """One sample per pixel: `pattern` gives the colours of the top-left 2x2 block, row-major."""
    channel = {'r': 0, 'g': 1, 'b': 2}
    out = np.empty(rgb.shape[:2], rgb.dtype)
    for k, colour in enumerate(pattern):
        row, col = divmod(k, 2)
        out[row::2, col::2] = rgb[row::2, col::2, channel[colour]]
    return out


BAYER = ['rggb', 'bggr', 'gbrg', 'grbg']


@pytest.mark.parametrize('pattern', BAYER)
@pytest.mark.parametrize('padding', [0, 5])
def test_bayer_orders_demosaic_a_known_picture(pattern, padding):
    rgb = smooth_rgb()
    out = image_to_rgb(make_image(mosaic(rgb, pattern), f'bayer_{pattern}8', padding))
    assert out.shape == rgb.shape
    interior = (slice(2, -2), slice(2, -2))
    assert np.abs(out[interior].astype(int) - rgb[interior]).max() <= 2, pattern
    for other in set(BAYER) - {pattern}:  # each name means one pattern only
        wrong = image_to_rgb(make_image(mosaic(rgb, pattern), f'bayer_{other}8', padding))
        assert np.abs(wrong[interior].astype(int) - rgb[interior]).max() > 40, other


@pytest.mark.parametrize('pattern', BAYER)
@pytest.mark.parametrize('big_endian', [False, True])
def test_bayer16_equals_bayer8_of_its_high_byte(pattern, big_endian):
    raw8 = mosaic(smooth_rgb(), pattern)
    out16 = image_to_rgb(make_image(to16(raw8), f'bayer_{pattern}16', 4, big_endian))
    np.testing.assert_array_equal(out16, image_to_rgb(make_image(raw8, f'bayer_{pattern}8')))


def _make_empty(msg: Image) -> None:
    msg.width, msg.step, msg.data = 0, 0, b''


@pytest.mark.parametrize('mutate, reason', [
    (lambda m: setattr(m, 'encoding', 'nv12'), 'unsupported encoding'),
    (lambda m: setattr(m, 'encoding', '32FC1'), 'unsupported encoding'),
    (lambda m: setattr(m, 'data', bytes(m.step * m.height - 1)), 'data length'),
    (lambda m: setattr(m, 'height', m.height + 1), 'data length'),
    (lambda m: setattr(m, 'step', m.width * 3 - 1), 'step'),
    (lambda m: setattr(m, 'encoding', 'rgb16'), 'step'),  # rows too short for 16-bit samples
    (lambda m: setattr(m, 'encoding', 'yuv422'), 'even width'),  # width 7
    (_make_empty, 'zero-size'),
])
def test_bad_messages_raise_a_clear_error(mutate, reason):
    msg = make_image(RGB, 'rgb8')
    mutate(msg)
    with pytest.raises(ImageEncodingError, match=reason):
        image_to_rgb(msg)
    assert issubclass(ImageEncodingError, ValueError)  # the node's bad-frame path


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
    bayer = {f'bayer_{p}{bits}' for p in BAYER for bits in (8, 16)}
    colour = {f'{c}{bits}' for c in ('rgb', 'bgr', 'rgba', 'bgra', 'mono') for bits in (8, 16)}
    assert set(SUPPORTED_ENCODINGS) == colour | bayer | {'yuv422', 'yuv422_yuy2'}


@pytest.mark.parametrize('encoding, dtype', [('16UC1', np.uint16), ('32FC1', np.float32)])
def test_depth_images_keep_their_units(encoding, dtype):
    depth = (RNG.random((4, 6)) * 3000).astype(dtype)
    out = depth_to_array(make_image(depth, encoding, padding=4, big_endian=True))
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, depth)
    with pytest.raises(ImageEncodingError, match='unsupported depth encoding'):
        depth_to_array(make_image(RGB, 'rgb8'))


# --- CompressedImage ------------------------------------------------------------------------

def encoded(rgb: np.ndarray, ext: str) -> bytes:
    ok, buf = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return buf.tobytes()


def compressed(data: bytes, fmt: str) -> CompressedImage:
    return CompressedImage(format=fmt, data=data)


@pytest.mark.parametrize('fmt', ['jpeg', 'jpg', 'rgb8; jpeg compressed bgr8',
                                 'bgr8; jpeg compressed bgr8'])
def test_jpeg_decodes_to_the_known_picture(fmt):
    rgb = smooth_rgb(48, 64)
    out = compressed_to_rgb(compressed(encoded(rgb, '.jpg'), fmt))
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - rgb).mean() < 2.0  # JPEG loss only; channels not swapped
    assert np.abs(out.astype(int) - rgb).max() <= 16


@pytest.mark.parametrize('fmt', ['png', 'bgr8; png compressed bgr8', ''])
def test_png_decodes_exactly(fmt):
    np.testing.assert_array_equal(compressed_to_rgb(compressed(encoded(RGB, '.png'), fmt)), RGB)


def test_mono_jpeg_and_zero_padded_jpeg_are_read():
    rgb = smooth_rgb(48, 64)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    ok, buf = cv2.imencode('.jpg', gray)
    out = compressed_to_rgb(compressed(buf.tobytes(), 'mono8; jpeg compressed mono8'))
    assert np.abs(out.astype(int) - gray[..., None]).max() <= 8
    padded = encoded(rgb, '.jpg') + bytes(300)  # a driver's fixed-size MJPEG buffer
    assert compressed_to_rgb(compressed(padded, 'jpeg')).shape == rgb.shape


@pytest.mark.parametrize('ext, cut, reason', [
    ('.jpg', 0.5, 'truncated jpeg.*EOI'),
    ('.jpg', -2, 'truncated jpeg.*EOI'),   # only the EOI marker missing
    ('.png', 0.7, 'truncated png.*IEND'),
])
def test_truncated_files_are_rejected(ext, cut, reason):
    data = encoded(smooth_rgb(120, 160), ext)
    end = int(len(data) * cut) if cut > 0 else len(data) + cut
    with pytest.raises(ImageEncodingError, match=reason):
        compressed_to_rgb(compressed(data[:end], ext[1:]))


def test_corrupt_jpeg_is_rejected_with_the_reason():
    data = bytearray(encoded(smooth_rgb(120, 160), '.jpg'))
    data[20:300] = bytes(280)  # headers (quantisation, Huffman tables, frame) destroyed
    with pytest.raises(ImageEncodingError, match='corrupt jpeg'):
        compressed_to_rgb(compressed(bytes(data), 'jpeg'))
    noise = b'\xff\xd8\xff' + RNG.integers(0, 256, 4000, dtype=np.uint8).tobytes() + b'\xff\xd9'
    with pytest.raises(ImageEncodingError, match='corrupt jpeg'):
        compressed_to_rgb(compressed(noise, 'rgb8; jpeg compressed bgr8'))


@pytest.mark.parametrize('data, fmt, reason', [
    (b'', 'jpeg', 'neither JPEG nor PNG'),
    (b'GIF89a' + bytes(20), 'jpeg', 'neither JPEG nor PNG'),
    ('png-bytes', 'jpeg', 'says jpeg but the data is png'),
    ('png-bytes', '16UC1; compressedDepth png', 'unsupported compressed format'),
    ('png-bytes', 'theora', 'unsupported compressed format'),
])
def test_compressed_messages_that_are_not_jpeg_or_png_are_rejected(data, fmt, reason):
    if data == 'png-bytes':
        data = encoded(RGB, '.png')
    with pytest.raises(ImageEncodingError, match=reason):
        compressed_to_rgb(compressed(data, fmt))


# --- image_input: the node's choice of topic and conversion -------------------------------

def test_transports_choose_topic_and_type():
    assert TRANSPORTS == ('raw', 'compressed')
    assert subscription_for('raw') == ('image', Image)
    assert subscription_for('compressed') == ('image/compressed', CompressedImage)
    assert subscription_for('compressed', '/cam/image_raw') == (
        '/cam/image_raw/compressed', CompressedImage)
    with pytest.raises(ValueError, match="image_transport must be one of raw, compressed; got "
                                         "'theora'"):
        subscription_for('theora')


def test_to_rgb_dispatches_on_the_message_type():
    bgr = make_image(np.ascontiguousarray(RGB[..., ::-1]), 'bgr8')
    np.testing.assert_array_equal(to_rgb(bgr), RGB)
    np.testing.assert_array_equal(to_rgb(compressed(encoded(RGB, '.png'), 'png')), RGB)
    with pytest.raises(ImageEncodingError):
        to_rgb(compressed(b'junk', 'jpeg'))
    with pytest.raises(TypeError, match='CompressedImage'):
        to_rgb(Header())
