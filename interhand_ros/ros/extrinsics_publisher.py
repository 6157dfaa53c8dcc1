"""`extrinsics_publisher`: the cameras' poses from interhand-calibrate's YAML on /tf_static.

One TransformStamped per camera (parent: the YAML's world_frame, child: the camera's optical
frame_id), sent once on /tf_static with tf2's static QoS (reliable, transient local, keep
last 1: a subscriber that starts later still receives it, as from tf2_ros's
StaticTransformBroadcaster). /diagnostics says which file is published and warns when a
camera's calibration error is high. A missing or malformed file stops the node at start
with a message naming what is wrong (the reader: calibration/extrinsics_yaml.py).
"""
from __future__ import annotations

import sys

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import TransformStamped
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from tf2_msgs.msg import TFMessage

from interhand_ros.calibration.extrinsics_yaml import (
    Extrinsics,
    ExtrinsicsError,
    read_extrinsics,
)
from interhand_ros.ros.entry import StartupError, spin_node

STATIC_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                        reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.TRANSIENT_LOCAL)
HIGH_ERROR_PX = 1.0  # a camera's median reprojection error above this: recalibrate


def transforms(extrinsics: Extrinsics, stamp: object) -> TFMessage:
    """world_frame <- each camera's optical frame."""
    message = TFMessage()
    for camera in extrinsics.cameras.values():
        transform = TransformStamped()
        transform.header.stamp = stamp
        transform.header.frame_id = extrinsics.world_frame
        transform.child_frame_id = camera.frame_id
        t, q = transform.transform.translation, transform.transform.rotation
        t.x, t.y, t.z = camera.translation
        q.x, q.y, q.z, q.w = camera.rotation
        message.transforms.append(transform)
    return message


class ExtrinsicsPublisher(Node):
    def __init__(self) -> None:
        super().__init__('extrinsics_publisher')
        path: str = self.declare_parameter(
            'file', '', ParameterDescriptor(
                description="interhand-calibrate's extrinsics YAML (--out)")).value
        period: float = self.declare_parameter(
            'diagnostics_period', 1.0,
            ParameterDescriptor(description='s, /diagnostics publishing period')).value
        if not path:
            raise StartupError('parameter file is empty: give the extrinsics YAML written by '
                               'interhand-calibrate --out (file:=calibration.yaml)')
        try:
            self.extrinsics = read_extrinsics(path)
        except ExtrinsicsError as error:
            raise StartupError(str(error)) from error
        self.path = path
        self.tf_pub = self.create_publisher(TFMessage, '/tf_static', STATIC_QOS)
        self.tf_pub.publish(transforms(self.extrinsics, self.get_clock().now().to_msg()))
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.create_timer(period, self._diagnose)
        cameras = ', '.join(f'{c.frame_id}' for c in self.extrinsics.cameras.values())
        self.get_logger().info(f'{path}: {self.extrinsics.world_frame} -> {cameras} on '
                               f'/tf_static')

    def _diagnose(self) -> None:
        cameras = self.extrinsics.cameras
        high = [f'{name} ({c.reprojection_error_px:.2f} px)' for name, c in cameras.items()
                if c.reprojection_error_px > HIGH_ERROR_PX]
        status = DiagnosticStatus(
            name='extrinsics_publisher', hardware_id=self.extrinsics.world_frame,
            level=DiagnosticStatus.WARN if high else DiagnosticStatus.OK,
            message=(f'high calibration error: {", ".join(high)}: recalibrate' if high
                     else f'{len(cameras)} cameras on /tf_static'))
        status.values = [KeyValue(key='file', value=str(self.path))] + [
            KeyValue(key=f'{name} reprojection_error_px', value=f'{c.reprojection_error_px:g}')
            for name, c in cameras.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics_pub.publish(array)


def main(args: list[str] | None = None) -> int:
    return spin_node(ExtrinsicsPublisher, 'extrinsics_publisher', args)


if __name__ == '__main__':
    sys.exit(main())
