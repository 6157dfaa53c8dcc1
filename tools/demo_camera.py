"""The demo's camera: an rclpy node that plays photos and collects the hands node's answers.

The demo's only rclpy module, apart from tools/demo.py (no rclpy), which orchestrates it,
imports it only when it plays the photos, and writes the outputs.
"""
from __future__ import annotations

import subprocess
import time
from typing import Any

import numpy as np
import rclpy
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from interhand_msgs.msg import TwoHandPose
from interhand_ros.geometry.camera_yaml import guess_camera_info
from interhand_ros.image_encoding import image_to_rgb, rgb_to_image
from interhand_ros.stamps import stamp_to_ns
from tools.demo_topics import (
    DEBUG_TOPIC,
    FRAME_ID,
    IMAGE_TOPIC,
    INFO_TOPIC,
    POSE_TOPIC,
    DemoError,
    FrameResult,
)


class DemoCamera:
    """An rclpy node that plays photos as a camera and collects the hands node's answers."""

    def __init__(self, fov_deg: float) -> None:
        rclpy.init()
        self.node = rclpy.create_node('demo_camera')
        self.fov_deg = fov_deg
        camera_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                                reliability=ReliabilityPolicy.RELIABLE)
        self.image_pub = self.node.create_publisher(Image, IMAGE_TOPIC, camera_qos)
        self.info_pub = self.node.create_publisher(CameraInfo, INFO_TOPIC, camera_qos)
        self.poses: dict[int, tuple[Any, float]] = {}       # stamp -> (message, receipt time)
        self.answered_once = False  # the node has answered a frame: discovery is complete
        self.debug_images: dict[int, Any] = {}
        self.pose_sub = self.node.create_subscription(TwoHandPose, POSE_TOPIC, self._on_pose, 10)
        self.node.create_subscription(Image, DEBUG_TOPIC, self._on_debug, 10)

    def _on_pose(self, msg: Any) -> None:
        self.poses[stamp_to_ns(msg.header.stamp)] = (msg, time.monotonic())

    def _on_debug(self, msg: Any) -> None:
        self.debug_images[stamp_to_ns(msg.header.stamp)] = msg

    def spin_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            rclpy.spin_once(self.node, timeout_sec=min(0.05, seconds))

    def wait_for_node(self, process: subprocess.Popen, timeout: float) -> None:
        """Until the hands node's image and camera_info readers and pose writer are matched
        with ours (DDS)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise DemoError(f'hands_node exited with code {process.returncode} at start')
            if (self.image_pub.get_subscription_count() > 0
                    and self.info_pub.get_subscription_count() > 0
                    and self.pose_sub.get_publisher_count() > 0):
                return
            self.spin_for(0.2)
        raise DemoError(f'hands_node did not appear on DDS within {timeout:.0f} s')

    def publish(self, rgb: np.ndarray) -> tuple[int, float]:
        """Publish one frame (Image + CameraInfo with one stamp); returns (stamp ns, time)."""
        height, width = rgb.shape[:2]
        header = Header(stamp=self.node.get_clock().now().to_msg(), frame_id=FRAME_ID)
        guess = guess_camera_info(width, height, self.fov_deg)
        info = CameraInfo(header=header, width=width, height=height,
                          distortion_model=guess.distortion_model, d=list(guess.d),
                          k=list(guess.k), r=list(guess.r), p=list(guess.p))
        self.info_pub.publish(info)
        self.image_pub.publish(rgb_to_image(rgb, header))
        return stamp_to_ns(header.stamp), time.monotonic()

    def play(self, name: str, rgb: np.ndarray, process: subprocess.Popen, timeout: float,
             resend_every: float = 2.0) -> FrameResult:
        """Publish a frame and wait for its pose (no answer within timeout: pose None).

        Until the node's first answer the frame is re-sent every resend_every s: its readers
        may not have matched this camera yet although ours see them (DDS discovery). After
        that a frame is sent once, so a frame lost in transport shows as unanswered.
        """
        result = FrameResult(name)
        sent_at: dict[int, float] = {}
        deadline, next_send = time.monotonic() + timeout, 0.0
        while time.monotonic() < deadline and result.pose is None:
            if process.poll() is not None:
                raise DemoError(f'hands_node exited with code {process.returncode}')
            if time.monotonic() >= next_send and not (self.answered_once and sent_at):
                stamp, now = self.publish(rgb)
                sent_at[stamp] = now
                result.sends += 1
                next_send = now + resend_every
            self.spin_for(0.02)
            answered = [s for s in sent_at if s in self.poses]
            if answered:
                stamp = answered[-1]
                result.pose, received = self.poses[stamp]
                self.answered_once = True
                result.latency_s = received - sent_at[stamp]
                debug_deadline = time.monotonic() + 1.0
                while stamp not in self.debug_images and time.monotonic() < debug_deadline:
                    self.spin_for(0.02)
                if stamp in self.debug_images:
                    result.debug_rgb = image_to_rgb(self.debug_images[stamp])
        return result

    def close(self) -> None:
        self.node.destroy_node()
        rclpy.try_shutdown()
