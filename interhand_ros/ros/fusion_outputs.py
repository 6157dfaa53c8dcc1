"""The fusion node's publishers: the fused hands, as the hands node publishes one camera's.

`hands` (filtered, held, stable sides: the teleop stage ran after fusion), `hands/raw` (the
fusion's own result, only while subscribed), `hands/markers` (only while subscribed), the wrist
poses and /tf: all in the world frame, stamped with the group's stamp, so retarget_node and
RViz take the fused topic unchanged. A fused pose has no image: its roi is empty.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from std_msgs.msg import Header

from interhand_ros.estimate import TwoHandEstimate
from interhand_ros.messages import to_two_hand_pose
from interhand_ros.ros.pipeline import PoseOutputs, marker_style
from interhand_ros.visualization.markers import to_marker_array

NO_IMAGE = (0, 0)  # width, height given to the encoder: the roi of a fused pose is empty


class FusedOutputs(PoseOutputs):
    """The fusion node's publishers of one activation; destroy() removes them."""

    def publish(self, estimate: TwoHandEstimate, raw: TwoHandEstimate, header: Header,
                params: Mapping[str, Any]) -> None:
        """The filtered estimate on every output, the fusion's own on hands/raw."""
        self.hands.publish(to_two_hand_pose(estimate, header, *NO_IMAGE))
        self.teleop.publish(estimate, header)
        self.teleop.publish_raw(raw, header, *NO_IMAGE)
        if params['publish_markers'] and self.markers.get_subscription_count() > 0:
            self.markers.publish(to_marker_array(estimate, header, marker_style(params)))
