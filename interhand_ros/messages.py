"""TwoHandEstimate <-> interhand_msgs/TwoHandPose (no rclpy: only message types).

Every field is filled for both hands; a hand that is not detected is still published with
detected = false, valid all false and NaN positions, so consumers index hands by side, never by
list position. The decoder (from_two_hand_pose) gives the fusion node each camera's estimate
back; what the message does not carry (the hand-scale calibration, the depth-image check) comes
back as NaN.
"""
from __future__ import annotations

import math

import numpy as np
from geometry_msgs.msg import Point, Pose, Quaternion, Vector3
from sensor_msgs.msg import RegionOfInterest
from std_msgs.msg import Header

from interhand_msgs.msg import HandPose, Point2D, TwoHandPose
from interhand_ros.estimate import DepthSource, EstimatorKind, HandEstimate, TwoHandEstimate
from interhand_ros.geometry.box import Box
from interhand_ros.geometry.wrist_frame import joints_in_wrist_frame
from interhand_ros.skeleton import LEFT, RIGHT

_SIDES = {RIGHT: HandPose.RIGHT, LEFT: HandPose.LEFT}
_SIDE_NAMES = {code: side for side, code in _SIDES.items()}


def box_to_roi(box: Box, width: int, height: int) -> RegionOfInterest:
    """Box in pixels -> RegionOfInterest clipped to a width x height image (whole pixels)."""
    x0 = min(max(math.floor(box.x), 0), width)
    y0 = min(max(math.floor(box.y), 0), height)
    x1 = min(max(math.ceil(box.x + box.w), x0), width)
    y1 = min(max(math.ceil(box.y + box.h), y0), height)
    return RegionOfInterest(x_offset=x0, y_offset=y0, width=x1 - x0, height=y1 - y0)


def hand_to_msg(hand: HandEstimate) -> HandPose:
    """One HandEstimate -> HandPose (arrays already in published joint order).

    check_fields makes a wrongly sized array an AssertionError here instead of a crash (or a
    silently short array) when rclpy serializes the message.
    """
    msg = HandPose(check_fields=True, side=_SIDES[hand.side], presence=float(hand.presence),
                   detected=bool(hand.detected), depth_source=int(hand.depth_source))
    msg.joints = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in hand.joints]
    msg.pixels = [Point2D(u=float(u), v=float(v)) for u, v in hand.pixels]
    msg.confidence = np.asarray(hand.confidence, dtype=np.float32)
    msg.valid = [bool(v) for v in hand.valid]
    x, y, z = (float(c) for c in hand.wrist_position)
    qx, qy, qz, qw = (float(c) for c in hand.wrist_quaternion)
    msg.wrist_pose = Pose()
    msg.wrist_pose.position = Point(x=x, y=y, z=z)
    msg.wrist_pose.orientation = Quaternion(x=qx, y=qy, z=qz, w=qw)
    msg.held, msg.held_for = bool(hand.held), float(hand.held_for)
    msg.joints_wrist = [Point(x=float(x), y=float(y), z=float(z))
                        for x, y, z in joints_in_wrist_frame(hand.joints, hand.side, hand.valid)]
    return msg


def to_two_hand_pose(estimate: TwoHandEstimate, header: Header, image_width: int,
                     image_height: int) -> TwoHandPose:
    """Build the published message; header is the input image's header (stamp + optical frame)."""
    dx, dy, dz = (float(c) for c in estimate.right_to_left_root)
    return TwoHandPose(
        header=header,
        right=hand_to_msg(estimate.right),
        left=hand_to_msg(estimate.left),
        relative_root_depth=float(estimate.relative_root_depth),
        relative_root_depth_valid=bool(estimate.relative_root_depth_valid),
        right_to_left_root=Vector3(x=dx, y=dy, z=dz),
        depth_source=int(estimate.depth_source),
        estimator=int(estimate.estimator),
        roi=box_to_roi(estimate.roi, image_width, image_height),
        inference_time=float(estimate.inference_time),
        filtered=bool(estimate.filtered),
    )


def hand_from_msg(msg: HandPose) -> HandEstimate:
    """One HandPose -> HandEstimate (ValueError for a side or depth source it does not know)."""
    if msg.side not in _SIDE_NAMES:
        raise ValueError(f'HandPose.side must be RIGHT (0) or LEFT (1), got {msg.side}')
    orientation = msg.wrist_pose.orientation
    return HandEstimate(
        side=_SIDE_NAMES[msg.side], presence=float(msg.presence), detected=bool(msg.detected),
        joints=np.array([(p.x, p.y, p.z) for p in msg.joints], dtype=np.float64),
        pixels=np.array([(p.u, p.v) for p in msg.pixels], dtype=np.float64),
        confidence=np.asarray(msg.confidence, dtype=np.float64).copy(),
        valid=np.asarray(msg.valid, dtype=bool).copy(),
        wrist_position=np.array([msg.wrist_pose.position.x, msg.wrist_pose.position.y,
                                 msg.wrist_pose.position.z]),
        wrist_quaternion=np.array([orientation.x, orientation.y, orientation.z,
                                   orientation.w]),
        depth_source=DepthSource(msg.depth_source), held=bool(msg.held),
        held_for=float(msg.held_for))


def from_two_hand_pose(msg: TwoHandPose) -> TwoHandEstimate:
    """The inverse of to_two_hand_pose (the header is the caller's: stamp, frame, image size
    are not part of the estimate); ValueError for an unknown side, depth source or estimator,
    or a right/left hand published under the other's field."""
    right, left = hand_from_msg(msg.right), hand_from_msg(msg.left)
    if (right.side, left.side) != (RIGHT, LEFT):
        raise ValueError(f'TwoHandPose.right/left carry sides {right.side}/{left.side}')
    vector = msg.right_to_left_root
    roi = msg.roi
    return TwoHandEstimate(
        right=right, left=left, relative_root_depth=float(msg.relative_root_depth),
        relative_root_depth_valid=bool(msg.relative_root_depth_valid),
        right_to_left_root=np.array([vector.x, vector.y, vector.z]),
        depth_source=DepthSource(msg.depth_source), estimator=EstimatorKind(msg.estimator),
        roi=Box(float(roi.x_offset), float(roi.y_offset), float(roi.width), float(roi.height)),
        inference_time=float(msg.inference_time), filtered=bool(msg.filtered))
