"""End to end over DDS: the same real photo as rgb8, as yuv422_yuy2 (a USB webcam through
usb_cam / v4l2_camera) and as a CompressedImage JPEG (image_transport `compressed`) gives the same
hands. The landmark fallback (MediaPipe, no checkpoint needed) is the estimator, so the hands are
real detections of the hand in the photo; yuy2 halves the chroma and JPEG loses detail, so the
joints agree within a few pixels, not exactly.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

from interhand_ros.factory import build_estimator
from interhand_ros.ros.parameters import DEFAULTS, estimator_settings

from test_node_ros import Harness, camera_info

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / '..' / 'shared' / 'data' / 'hands' / 'handSrc.jpg'
FOCAL = 600.0

pytestmark = pytest.mark.skipif(not PHOTO.exists(), reason=f'test photo {PHOTO} is absent')


@pytest.fixture(scope='module', autouse=True)
def ros():
    rclpy.init()
    yield
    rclpy.shutdown()


def photo_rgb() -> np.ndarray:
    import cv2
    return cv2.cvtColor(cv2.imread(str(PHOTO)), cv2.COLOR_BGR2RGB)


def as_image(rgb: np.ndarray, encoding: str, stamp) -> Image:
    import cv2
    height, width = rgb.shape[:2]
    if encoding == 'rgb8':
        data, step = rgb.tobytes(), width * 3
    elif encoding == 'yuv422_yuy2':
        data, step = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_YUYV).tobytes(), width * 2
    else:
        raise ValueError(encoding)
    msg = Image(width=width, height=height, encoding=encoding, step=step, data=data)
    msg.header.stamp, msg.header.frame_id = stamp, 'cam_optical'
    return msg


def as_jpeg(rgb: np.ndarray, stamp) -> CompressedImage:
    import cv2
    ok, data = cv2.imencode('.jpg', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    msg = CompressedImage(format='jpeg', data=data.tobytes())
    msg.header.stamp, msg.header.frame_id = stamp, 'cam_optical'
    return msg


def hands_of(encoding: str):
    """The TwoHandPose a fresh node publishes for the photo sent in `encoding` (the node is
    closed afterwards: one node at a time answers on /hands)."""
    transport = 'compressed' if encoding == 'jpeg' else 'raw'
    estimator = build_estimator(estimator_settings(DEFAULTS), lambda _: None)
    h = Harness(estimator, diagnostics_period=0.2, image_transport=transport)
    try:
        return photo_hands(h, encoding)
    finally:
        h.close()


def photo_hands(h: Harness, encoding: str):
    rgb = photo_rgb()
    height, width = rgb.shape[:2]
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    compressed_pub = h.probe.create_publisher(CompressedImage, 'image/compressed', qos)
    publisher = compressed_pub if encoding == 'jpeg' else h.image_pub
    h.wait_for(lambda: publisher.get_subscription_count() > 0, 5.0, 'image subscription')
    stamp = h.stamp()
    h.info_pub.publish(camera_info(stamp, width=width, height=height, fx=FOCAL))
    publisher.publish(as_jpeg(rgb, stamp) if encoding == 'jpeg'
                      else as_image(rgb, encoding, stamp))
    msg = h.wait_for_stamp(stamp, timeout=30.0)
    assert h.node.inputs is not None
    assert h.node.inputs.subscriptions[0].topic_name == (
        '/image/compressed' if encoding == 'jpeg' else '/image')
    return msg


def detected_pixels(msg) -> dict[str, np.ndarray]:
    return {side: np.array([[p.u, p.v] for p in hand.pixels])
            for side, hand in (('right', msg.right), ('left', msg.left)) if hand.detected}


def test_yuy2_and_jpeg_cameras_give_the_hands_of_the_rgb8_camera():
    reference = detected_pixels(hands_of('rgb8'))
    assert len(reference) == 1, 'the photo shows one hand'
    for encoding in ('yuv422_yuy2', 'jpeg'):
        pixels = detected_pixels(hands_of(encoding))
        assert pixels.keys() == reference.keys(), encoding
        for side, uv in pixels.items():
            error = np.linalg.norm(uv - reference[side], axis=1)
            print(f'{encoding}: joint pixel error mean {error.mean():.2f} max {error.max():.2f}')
            assert error.mean() < 2.0 and error.max() < 5.0, (encoding, error.round(1))


def test_bad_compressed_frames_are_reported_and_the_next_good_one_served(harness_factory):
    """Truncated or corrupt JPEG, and JPEGs too large for max_image_pixels, are skipped."""
    h = harness_factory(image_transport='compressed', max_image_pixels=64 * 48)
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    publisher = h.probe.create_publisher(CompressedImage, 'image/compressed', qos)
    h.wait_for(lambda: publisher.get_subscription_count() > 0, 5.0, 'image subscription')
    small = np.tile(np.linspace(0, 255, 64, dtype=np.uint8)[None, :, None], (48, 1, 3))

    def send(msg: CompressedImage, width: int = 64, height: int = 48) -> None:
        h.info_pub.publish(camera_info(msg.header.stamp, width=width, height=height))
        publisher.publish(msg)

    def good() -> None:
        msg = as_jpeg(small, h.stamp())
        send(msg)
        h.wait_for_stamp(msg.header.stamp)

    good()
    truncated = as_jpeg(small, h.stamp())
    truncated.data = bytes(truncated.data)[:-40]
    send(truncated)
    h.wait_for_error('truncated jpeg')
    good()
    corrupt = as_jpeg(small, h.stamp())
    corrupt.data = bytes(corrupt.data)[:20] + bytes(400) + bytes(corrupt.data)[-2:]
    send(corrupt)
    h.wait_for_error('corrupt jpeg')
    good()
    wide = as_jpeg(np.zeros((48, 128, 3), np.uint8), h.stamp())  # small file, too many pixels
    send(wide, width=128)
    h.wait_for_error('decoded image 128x48 exceeds max_image_pixels 3072')
    good()
    noisy = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    send(as_jpeg(noisy, h.stamp()), width=640, height=480)  # more bytes than 3 x 3072
    h.wait_for_error('refused before decoding')
    good()
    assert len(h.hands) == 5
