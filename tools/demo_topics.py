"""What the demo's two halves share: its topic names, its error and one frame's result.

tools/demo.py (orchestration, outputs; no rclpy) and tools/demo_camera.py (the rclpy camera)
both import this module and not each other at load time, so there is no import cycle.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

NAMESPACE = '/demo'
IMAGE_TOPIC = f'{NAMESPACE}/camera/image_raw'
INFO_TOPIC = f'{NAMESPACE}/camera/camera_info'
POSE_TOPIC = f'{NAMESPACE}/hands'
DEBUG_TOPIC = f'{NAMESPACE}/hands/debug_image'
FRAME_ID = 'demo_camera_optical_frame'


class DemoError(RuntimeError):
    """The demo cannot run (no photos, the node died or never answered); the text says why."""


@dataclass
class FrameResult:
    """What came back for one played photo."""

    name: str
    pose: Any = None
    debug_rgb: np.ndarray | None = None
    latency_s: float = float('nan')
    sends: int = 0  # times the frame was published (> 1: only before the first answer)
