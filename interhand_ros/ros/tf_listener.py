"""/tf_static and /tf into a geometry.transforms.TransformBuffer (tf2_ros's listener, in small).

tf2_ros is not on PyPI, so this is the fusion node's way to its camera extrinsics everywhere
(a ROS install has tf2_ros too; the buffer's lookups are the subset the fusion needs). QoS as
tf2_ros's listener: /tf_static transient local (a late subscriber still gets the static
transforms latched by their publisher), /tf volatile. A malformed transform is reported (never
stored) and the rest of its message kept (TransformBuffer.add_message).
"""
from __future__ import annotations

from collections.abc import Callable

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from tf2_msgs.msg import TFMessage

from interhand_ros.geometry.transforms import TransformBuffer
from interhand_ros.ros.teleop_outputs import tf_qos


def static_qos() -> QoSProfile:
    """tf2_ros's static listener: reliable, transient local, depth 100."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


class TfListener:
    """Subscribes /tf_static and /tf on `node` and fills `buffer`; bad: called per refusal."""

    def __init__(self, node: Node, buffer: TransformBuffer,
                 bad: Callable[[str], None]) -> None:
        self._node, self.buffer, self._bad = node, buffer, bad
        self._subscriptions = [
            node.create_subscription(TFMessage, '/tf_static',
                                     lambda msg: self._on(msg, True), static_qos()),
            node.create_subscription(TFMessage, '/tf', lambda msg: self._on(msg, False),
                                     tf_qos()),
        ]

    def _on(self, msg: TFMessage, static: bool) -> None:
        for problem in self.buffer.add_message(msg, static):
            self._bad(problem)

    def destroy(self) -> None:
        for subscription in self._subscriptions:
            self._node.destroy_subscription(subscription)
        self._subscriptions = []
