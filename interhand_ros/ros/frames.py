"""One paired input frame and the checks it passes before the estimator sees it.

Messages only (no rclpy): the node's callbacks refuse what must never be queued (a zero stamp,
an image too large to convert), the worker converts the rest and raises ValueError with the
reason for anything that does not describe one registered camera.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sensor_msgs.msg import CameraInfo, Image, RegionOfInterest

from interhand_ros.geometry.box import Box
from interhand_ros.geometry.camera import CameraModel
from interhand_ros.geometry.root_depth import DepthImage
from interhand_ros.image_encoding import depth_to_array
from interhand_ros.ros.image_input import to_rgb

REGISTRATION_TOLERANCE = 0.01  # relative: focal lengths, principal point (x image width)
BYTES_PER_PIXEL_MAX = 3  # a compressed image bigger than raw rgb8 of max_image_pixels is refused


@dataclass
class Frame:
    """One paired input, waiting in the mailbox for the worker (image: Image or CompressedImage)."""

    image: Any
    info: CameraInfo
    depth: Image | None = None
    depth_info: CameraInfo | None = None


def refusal(image: Any, max_pixels: int) -> str | None:
    """Why an image message is refused on arrival, before it is paired or queued (None: ok)."""
    stamp = image.header.stamp
    if stamp.sec == 0 and stamp.nanosec == 0:
        return ('image header.stamp is zero: the camera driver does not stamp its images, and '
                'outputs carry the input stamp (set the driver to stamp frames)')
    if isinstance(image, Image):
        pixels = int(image.width) * int(image.height)
        if pixels > max_pixels:
            return (f'image {image.width}x{image.height} ({pixels} px) exceeds max_image_pixels '
                    f'{max_pixels}: refused before conversion')
    elif len(image.data) > BYTES_PER_PIXEL_MAX * max_pixels:
        return (f'compressed image of {len(image.data)} bytes exceeds '
                f'{BYTES_PER_PIXEL_MAX} x max_image_pixels {max_pixels}: refused before decoding')
    return None


def require_size(name: str, width: int, height: int, image_width: int,
                 image_height: int) -> None:
    """camera_info and depth must describe the image they are paired with."""
    if (width, height) != (image_width, image_height):
        raise ValueError(f'{name} is {width}x{height} but the image is '
                         f'{image_width}x{image_height}')


def require_registered(depth_camera: CameraModel, camera: CameraModel) -> None:
    """The depth image must be registered to the colour image: same size and intrinsics."""
    same_focal = all(abs(a - b) <= REGISTRATION_TOLERANCE * b for a, b in (
        (depth_camera.fx, camera.fx), (depth_camera.fy, camera.fy)))
    same_centre = all(abs(a - b) <= REGISTRATION_TOLERANCE * camera.width for a, b in (
        (depth_camera.cx, camera.cx), (depth_camera.cy, camera.cy)))
    if (depth_camera.width, depth_camera.height) != (camera.width, camera.height) or not (
            same_focal and same_centre):
        raise ValueError(
            'depth image is not registered to the colour image: depth camera_info '
            f'{depth_camera.width}x{depth_camera.height} fx={depth_camera.fx:.1f} '
            f'cx={depth_camera.cx:.1f} cy={depth_camera.cy:.1f}, colour {camera.width}x'
            f'{camera.height} fx={camera.fx:.1f} cx={camera.cx:.1f} cy={camera.cy:.1f} '
            '(use the depth topic aligned to the colour camera)')


def convert(frame: Frame, rectified: bool,
            max_pixels: int) -> tuple[np.ndarray, CameraModel, DepthImage | None]:
    """Validated RGB array, camera model and depth image of a frame (ValueError if bad)."""
    rgb = to_rgb(frame.image)
    height, width = rgb.shape[:2]
    if width * height > max_pixels:  # a compressed image is only measured once decoded
        raise ValueError(f'decoded image {width}x{height} exceeds max_image_pixels {max_pixels}')
    camera = CameraModel.from_camera_info(frame.info, rectified=rectified)
    require_size('camera_info', camera.width, camera.height, width, height)
    if frame.depth is None:
        return rgb, camera, None
    array = depth_to_array(frame.depth)
    require_size('depth image', array.shape[1], array.shape[0], width, height)
    require_registered(CameraModel.from_camera_info(frame.depth_info, rectified=rectified),
                       camera)
    return rgb, camera, DepthImage.from_array(array, frame.depth.encoding)


def roi_msg_to_box(roi: RegionOfInterest) -> Box | None:
    """RegionOfInterest -> Box; all zero (the message's 'full image') -> None."""
    if roi.width == 0 or roi.height == 0:
        return None
    return Box(float(roi.x_offset), float(roi.y_offset), float(roi.width), float(roi.height))
