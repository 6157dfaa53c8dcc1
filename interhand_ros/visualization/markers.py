"""TwoHandEstimate -> visualization_msgs/MarkerArray for RViz (no rclpy: only message types).

Per hand (namespace = side) three markers with stable ids: joints (SPHERE_LIST), bones
(LINE_LIST of skeleton.BONES) and, optionally, the axes of the wrist frame (LINE_LIST, x red,
y green, z blue): geometry.wrist_frame's MANO frame, that of HandPose.wrist_pose and /tf. Only
valid joints are drawn. A hand that is not detected gets DELETE markers so it vanishes at once;
the short lifetime also clears hands when the node stops publishing.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point, Vector3
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from interhand_ros.estimate import HandEstimate, TwoHandEstimate
from interhand_ros.geometry.wrist_frame import quaternion_to_rotation
from interhand_ros.skeleton import BONES, LEFT, RIGHT, WRIST

JOINTS_ID = 0
BONES_ID = 1
WRIST_AXES_ID = 2

# RGBA in 0..1: right hand orange, left hand blue (bones a darker shade of the same colour).
HAND_COLOURS = {RIGHT: (1.0, 0.45, 0.0, 1.0), LEFT: (0.0, 0.55, 1.0, 1.0)}
_AXIS_COLOURS = ((1.0, 0.0, 0.0, 1.0), (0.0, 1.0, 0.0, 1.0), (0.0, 0.0, 1.0, 1.0))


@dataclass(frozen=True)
class MarkerStyle:
    """Sizes in metres, lifetime in seconds."""

    joint_diameter: float = 0.012
    bone_width: float = 0.006
    axis_length: float = 0.05
    lifetime: float = 0.3
    wrist_axes: bool = False


def _colour(rgba: tuple[float, float, float, float], shade: float = 1.0) -> ColorRGBA:
    r, g, b, a = rgba
    return ColorRGBA(r=r * shade, g=g * shade, b=b * shade, a=a)


def _point(xyz: np.ndarray) -> Point:
    return Point(x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2]))


def _duration(seconds: float) -> Duration:
    whole = int(seconds)
    return Duration(sec=whole, nanosec=int(round((seconds - whole) * 1e9)))


def _marker(header: Header, ns: str, marker_id: int, marker_type: int, scale: float,
            style: MarkerStyle) -> Marker:
    marker = Marker(header=header, ns=ns, id=marker_id, type=marker_type, action=Marker.ADD)
    marker.pose.orientation.w = 1.0
    marker.scale = Vector3(x=scale, y=scale, z=scale)
    marker.lifetime = _duration(style.lifetime)
    return marker


def _hand_markers(hand: HandEstimate, header: Header, style: MarkerStyle) -> list[Marker]:
    ids = [JOINTS_ID, BONES_ID] + ([WRIST_AXES_ID] if style.wrist_axes else [])
    if not hand.detected:
        return [Marker(header=header, ns=hand.side, id=i, action=Marker.DELETE) for i in ids]
    valid = np.asarray(hand.valid, dtype=bool) & np.isfinite(hand.joints).all(axis=1)
    colour = HAND_COLOURS[hand.side]

    joints = _marker(header, hand.side, JOINTS_ID, Marker.SPHERE_LIST, style.joint_diameter,
                     style)
    joints.color = _colour(colour)
    joints.points = [_point(p) for p in hand.joints[valid]]

    bones = _marker(header, hand.side, BONES_ID, Marker.LINE_LIST, style.bone_width, style)
    bones.color = _colour(colour, shade=0.7)
    bones.points = [_point(hand.joints[j]) for parent, child in BONES
                    if valid[parent] and valid[child] for j in (parent, child)]
    markers = [joints, bones]

    if style.wrist_axes:
        axes = _marker(header, hand.side, WRIST_AXES_ID, Marker.LINE_LIST, style.bone_width,
                       style)
        if valid[WRIST] and np.isfinite(hand.wrist_quaternion).all():
            rotation = quaternion_to_rotation(hand.wrist_quaternion)
            origin = hand.joints[WRIST]
            for axis in range(3):
                axes.points += [_point(origin),
                                _point(origin + style.axis_length * rotation[:, axis])]
                axes.colors += [_colour(_AXIS_COLOURS[axis])] * 2
        markers.append(axes)
    return markers


def to_marker_array(estimate: TwoHandEstimate, header: Header,
                    style: MarkerStyle = MarkerStyle()) -> MarkerArray:
    """Markers of both hands in the image's optical frame (header = the image header)."""
    return MarkerArray(markers=[m for hand in estimate.hands()
                                for m in _hand_markers(hand, header, style)])
