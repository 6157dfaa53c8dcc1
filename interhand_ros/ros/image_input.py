"""The node's image input per image_transport transport: which topic and type, and how to RGB.

image_transport names a transport's topic after the base image topic (`<image>/compressed`), so
the base is resolved (remapped) first and the suffix appended, as image_transport does; a remap of
`image` then moves the compressed topic with it.
"""
from __future__ import annotations

import numpy as np
from sensor_msgs.msg import CompressedImage, Image

from interhand_ros.image_encoding import compressed_to_rgb, image_to_rgb
from interhand_ros.settings import TRANSPORTS


def subscription_for(transport: str, base: str = 'image') -> tuple[str, type]:
    """(topic, message type) the node subscribes to for `transport`; `base` is the image topic
    (pass the node's resolved name, `node.resolve_topic_name('image')`, so remaps apply)."""
    if transport == 'raw':
        return base, Image
    if transport == 'compressed':
        return f'{base.rstrip("/")}/compressed', CompressedImage
    raise ValueError(f'image_transport must be one of {", ".join(TRANSPORTS)}; '
                     f'got {transport!r}')


def to_rgb(msg: Image | CompressedImage) -> np.ndarray:
    """uint8 (H, W, 3) RGB of either message type (ImageEncodingError, a ValueError, if bad)."""
    if isinstance(msg, CompressedImage):
        return compressed_to_rgb(msg)
    if isinstance(msg, Image):
        return image_to_rgb(msg)
    raise TypeError(f'expected sensor_msgs/Image or CompressedImage, got {type(msg).__name__}')
