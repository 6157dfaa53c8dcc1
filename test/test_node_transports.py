"""image_transport `compressed` and max_image_pixels: a CompressedImage too large for the limit
is refused (before decoding when its bytes already exceed it, after decoding when its pixels
do) and the next good frame is served. The same photo as rgb8, yuv422_yuy2 and JPEG giving the
same hands, and corrupt/truncated JPEGs, are in test_node_camera_inputs.py.
"""
from __future__ import annotations

import numpy as np
import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage

from test_node_ros import WAIT, camera_info

pytestmark = pytest.mark.usefixtures('ros')  # rclpy up for the module (conftest)


def as_jpeg(rgb: np.ndarray, stamp) -> CompressedImage:
    import cv2
    ok, data = cv2.imencode('.jpg', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    msg = CompressedImage(format='jpeg', data=data.tobytes())
    msg.header.stamp, msg.header.frame_id = stamp, 'cam_optical'
    return msg


def test_compressed_frames_over_max_image_pixels_are_refused(harness_factory):
    """Too many bytes: refused before decoding; few bytes but too many pixels: once decoded."""
    h = harness_factory(image_transport='compressed', max_image_pixels=64 * 48)
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    publisher = h.probe.create_publisher(CompressedImage, 'image/compressed', qos)
    h.wait_for(lambda: publisher.get_subscription_count() > 0, WAIT, 'image subscription')
    small = np.tile(np.linspace(0, 255, 64, dtype=np.uint8)[None, :, None], (48, 1, 3))

    def send(msg: CompressedImage, width: int = 64, height: int = 48) -> None:
        h.info_pub.publish(camera_info(msg.header.stamp, width=width, height=height))
        publisher.publish(msg)

    def good() -> None:
        msg = as_jpeg(small, h.stamp())
        send(msg)
        h.wait_for_stamp(msg.header.stamp)

    good()
    wide = as_jpeg(np.zeros((48, 128, 3), np.uint8), h.stamp())  # small file, too many pixels
    send(wide, width=128)
    h.wait_for_error('decoded image 128x48 exceeds max_image_pixels 3072')
    good()
    noisy = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    send(as_jpeg(noisy, h.stamp()), width=640, height=480)  # more bytes than 3 x 3072
    h.wait_for_error('refused before decoding')
    good()
    assert len(h.hands) == 3
