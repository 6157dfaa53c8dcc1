"""The ROS side of the node's settings: each one's descriptor, built from settings.PARAMETERS.

The table itself (names, defaults, ranges, choices, meaning, run-time safety) is
interhand_ros/settings.py, free of rclpy so the launch file and the offline tools read it too.
"""
from __future__ import annotations

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

from interhand_ros.settings import ParameterSpec


def descriptor(spec: ParameterSpec) -> ParameterDescriptor:
    """What `ros2 param describe` shows; rclpy enforces the range on every set."""
    text = spec.description + ('' if spec.runtime else
                               ' (read at configure; change only while unconfigured)')
    result = ParameterDescriptor(description=text)
    if spec.choices:
        result.additional_constraints = f"one of: {', '.join(spec.choices)}"
    if spec.range is not None:
        low, high = spec.range
        if isinstance(spec.default, int) and not isinstance(spec.default, bool):
            result.integer_range = [IntegerRange(from_value=int(low), to_value=int(high),
                                                 step=1)]
        else:
            result.floating_point_range = [FloatingPointRange(
                from_value=float(low), to_value=float(high), step=0.0)]
    return result
