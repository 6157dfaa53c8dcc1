"""Robot-facing outputs of the hands node: wrist PoseStamped per hand, /tf, and the raw pose.

Only fresh measurements are published here: a held hand (teleop.filtering) gets no wrist pose
and no transform, so an arm controller never receives an old pose under a new stamp (it holds
on its own). The wrist frame is the MANO wrist frame of geometry.wrist_frame (the frame of
HandPose.wrist_pose), a child of the image's optical frame, stamped with the image stamp.
"""
from __future__ import annotations

from geometry_msgs.msg import Point, Pose, PoseStamped, Quaternion, TransformStamped, Vector3
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header
from tf2_msgs.msg import TFMessage

from interhand_msgs.msg import TwoHandPose
from interhand_ros.estimate import TwoHandEstimate
from interhand_ros.geometry.wrist_frame import wrist_pose
from interhand_ros.messages import to_two_hand_pose
from interhand_ros.skeleton import SIDES


def tf_qos() -> QoSProfile:
    """What tf2_ros's TransformBroadcaster uses for /tf: reliable, volatile, depth 100."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


def wrist_transforms(estimate: TwoHandEstimate, header: Header,
                     prefix: str) -> dict[str, TransformStamped]:
    """Per side, the fresh hand's MANO wrist frame as a transform from the image's frame."""
    transforms = {}
    for hand in estimate.hands():
        if not hand.detected or hand.held:
            continue
        pose = wrist_pose(hand.joints, hand.side)
        if pose is None:
            continue
        (x, y, z), (qx, qy, qz, qw) = (tuple(float(c) for c in part) for part in pose)
        transform = TransformStamped(header=header, child_frame_id=f'{prefix}{hand.side}_wrist')
        transform.transform.translation = Vector3(x=x, y=y, z=z)
        transform.transform.rotation = Quaternion(x=qx, y=qy, z=qz, w=qw)
        transforms[hand.side] = transform
    return transforms


class TeleopOutputs:
    """Publishers of hands/<side>/wrist, /tf and hands/raw on a node (the hands node's)."""

    def __init__(self, node: Node, qos: QoSProfile, tf_prefix: str = '',
                 publish_tf: bool = True) -> None:
        self._node, self.prefix, self.publish_tf = node, tf_prefix, publish_tf
        self.wrist_pubs = {side: node.create_publisher(PoseStamped, f'hands/{side}/wrist', qos)
                           for side in SIDES}
        self.raw_pub = node.create_publisher(TwoHandPose, 'hands/raw', qos)
        self.tf_pub = node.create_publisher(TFMessage, '/tf', tf_qos()) if publish_tf else None

    def publish(self, estimate: TwoHandEstimate, header: Header) -> None:
        """Wrist poses and /tf of the estimate published on `hands` for the image of header."""
        transforms = wrist_transforms(estimate, header, self.prefix)
        for side, transform in transforms.items():
            translation, rotation = transform.transform.translation, transform.transform.rotation
            self.wrist_pubs[side].publish(PoseStamped(header=header, pose=Pose(
                position=Point(x=translation.x, y=translation.y, z=translation.z),
                orientation=rotation)))
        if self.tf_pub is not None and transforms:
            self.tf_pub.publish(TFMessage(transforms=list(transforms.values())))

    def publish_raw(self, raw: TwoHandEstimate, header: Header, width: int, height: int) -> None:
        """The estimator's unfiltered estimate on hands/raw (only while someone listens)."""
        if self.raw_pub.get_subscription_count() > 0:
            self.raw_pub.publish(to_two_hand_pose(raw, header, width, height))

    def destroy(self) -> None:
        """Remove the publishers (the node's deactivation)."""
        for publisher in (*self.wrist_pubs.values(), self.raw_pub, self.tf_pub):
            if publisher is not None:
                self._node.destroy_publisher(publisher)
