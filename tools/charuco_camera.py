"""A camera process for the calibration tests: plays a folder of images as <namespace>/image_raw
(mono8) with <namespace>/camera_info, looping, every frame stamped start + index * period so
that several of these processes publish the same moment under the same stamp.

    python -m tools.charuco_camera --folder views/cam1 --namespace /cam1 \\
        --camera-info cam1.yaml --start-ns 1700000000000000000 --period 0.2
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from interhand_ros.geometry.camera_yaml import load_camera_yaml
from interhand_ros.stamps import ns_to_stamp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--folder', type=Path, required=True)
    parser.add_argument('--namespace', required=True)
    parser.add_argument('--frame-id', default='')
    parser.add_argument('--camera-info', type=Path, required=True)
    parser.add_argument('--start-ns', type=int, required=True, help='epoch ns of frame 0')
    parser.add_argument('--period', type=float, default=0.2)
    args = parser.parse_args()
    images = [cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
              for path in sorted(args.folder.glob('*.png'))]
    fields = load_camera_yaml(args.camera_info)
    frame_id = args.frame_id or args.namespace.strip('/') + '_color_optical_frame'
    rclpy.init()
    node = rclpy.create_node(args.namespace.strip('/') + '_charuco_camera')
    image_pub = node.create_publisher(Image, f'{args.namespace}/image_raw',
                                      qos_profile_sensor_data)
    info_pub = node.create_publisher(CameraInfo, f'{args.namespace}/camera_info',
                                     qos_profile_sensor_data)
    index = 0
    try:
        while rclpy.ok():
            stamp_ns = args.start_ns + round(index * args.period * 1e9)
            time.sleep(max(0.0, stamp_ns / 1e9 - time.time()))
            grey = images[index % len(images)]
            height, width = grey.shape
            image = Image(height=height, width=width, encoding='mono8', step=width,
                          data=grey.tobytes())
            info = CameraInfo(width=fields.width, height=fields.height, k=list(fields.k),
                              d=list(fields.d), r=list(fields.r), p=list(fields.p),
                              distortion_model=fields.distortion_model)
            for message in (image, info):
                message.header.stamp = ns_to_stamp(stamp_ns)
                message.header.frame_id = frame_id
            info_pub.publish(info)
            image_pub.publish(image)
            index += 1
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
