"""builtin_interfaces/Time <-> integer nanoseconds / float seconds, written once.

Integer nanoseconds are exact (a float second loses nanoseconds after ~104 days of epoch time),
so outputs and look-ups by stamp use them; seconds are for arithmetic with clocks.
"""
from __future__ import annotations

from typing import Any

NS_PER_S = 1_000_000_000


def stamp_to_ns(stamp: Any) -> int:
    """A Time-like stamp (sec, nanosec) as integer nanoseconds."""
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def ns_to_stamp(ns: int) -> Any:
    """Integer nanoseconds as a builtin_interfaces/msg/Time."""
    from builtin_interfaces.msg import Time  # message type only; no rclpy
    sec, nanosec = divmod(int(ns), NS_PER_S)
    return Time(sec=sec, nanosec=nanosec)


def stamp_seconds(stamp: Any) -> float:
    """A Time-like stamp (sec, nanosec) as float seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def header_seconds(msg: Any) -> float:
    """A message's header.stamp as float seconds (stamp_seconds takes the stamp itself)."""
    return stamp_seconds(msg.header.stamp)
