"""Measure the hands node as deployed: the real hands_node process, a camera in another process.

    python -m tools.latency_probe [--checkpoint snapshot_20.pth.tar] [--size 640x480]
        [--transport raw|compressed] [--profile config/fastdds.xml | --profile ''] [--seconds 20]
        [--launch]

This process plays a camera driver: the real photo (../shared/data/hands/handSrc.jpg, else a
random image) resized to --size, published at --rate Hz with sensor-data QoS as rgb8 Image or as
a JPEG CompressedImage (encoded once, as an MJPEG camera delivers it), with CameraInfo. The node
is `hands_node` started as its own process with the node's defaults plus only the parameters
given (--checkpoint, -p name:=value), on a private ROS_DOMAIN_ID; with --launch it is started
as deployed instead, by launch/hands.launch.py (config/hands.yaml, the parameters given as its
launch arguments; needs launch_ros and the package in the ament index, as `make setup` does
here). --profile gives both processes FASTDDS_DEFAULT_PROFILES_FILE ('' removes it: default
transports). This process also counts the
poses that come back and reads the node's /diagnostics (frames received, per-stage times).

Measured over --seconds after warm-up, with a pause before and after so the node's counters are
exact: frames delivered (% of those sent that reached the node), output rate, pose age (pose
received - image stamp) p50/p90, the node's mean ms per pipeline stage (ros/pipeline.STAGES),
CPU % of the node and of this camera process, the node's RSS.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, CompressedImage
from std_msgs.msg import Header

from benchmarks.node_bench import PROFILE
from interhand_msgs.msg import TwoHandPose
from interhand_ros.geometry.camera_yaml import guess_camera_info
from interhand_ros.image_encoding import rgb_to_image
from interhand_ros.stamps import stamp_to_ns
from tools.demo import stop_process
from tools.demo_topics import FRAME_ID, IMAGE_TOPIC, INFO_TOPIC, NAMESPACE, POSE_TOPIC
from tools.node_process import (
    launched_node_pid,
    node_environment,
    probe_command,
    process_usage,
)

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / '..' / 'shared' / 'data' / 'hands' / 'handSrc.jpg'
NODE_NAME = f'{NAMESPACE}/hands'
START_TIMEOUT = 240.0  # s: a first start converts the model (about 20 s idle, more when busy)
SETTLE = 2.0  # s without frames around the measurement: the node's counters stop moving


def camera_frame(size: tuple[int, int]) -> np.ndarray:
    """The hand photo resized to size (w, h) as RGB; random pixels when the photo is absent."""
    width, height = size
    bgr = cv2.imread(str(PHOTO))
    if bgr is None:  # said out loud: a handless frame makes every estimator look faster
        print(f'latency probe: {PHOTO} is absent, the camera sends random pixels (no hands)',
              file=sys.stderr)
        return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return np.ascontiguousarray(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)[..., ::-1])


@dataclass
class Window:
    """What one measurement saw."""

    sent: list[int] = field(default_factory=list)         # image stamps (ns)
    ages: dict[int, float] = field(default_factory=dict)  # stamp -> pose age (s)
    stages: list[dict[str, float]] = field(default_factory=list)


class Camera:
    """A camera driver's publishers plus an observer of the node's poses and diagnostics."""

    def __init__(self, rgb: np.ndarray, transport: str) -> None:
        self.node = rclpy.create_node('probe_camera')
        height, width = rgb.shape[:2]
        guess = guess_camera_info(width, height)
        self.info = CameraInfo(width=width, height=height, distortion_model=guess.distortion_model,
                               d=list(guess.d), k=list(guess.k), r=list(guess.r), p=list(guess.p))
        header = Header(frame_id=FRAME_ID)
        self.info.header = header
        if transport == 'compressed':
            ok, jpeg = cv2.imencode('.jpg', rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
            assert ok
            self.image: Any = CompressedImage(header=header, format='rgb8; jpeg compressed bgr8',
                                              data=jpeg.tobytes())
            topic, image_type = f'{IMAGE_TOPIC}/compressed', CompressedImage
        else:
            self.image, topic = rgb_to_image(rgb, header), IMAGE_TOPIC
            image_type = type(self.image)
        self.image_pub = self.node.create_publisher(image_type, topic, qos_profile_sensor_data)
        self.info_pub = self.node.create_publisher(CameraInfo, INFO_TOPIC,
                                                   qos_profile_sensor_data)
        self.pose_sub = self.node.create_subscription(TwoHandPose, POSE_TOPIC, self._on_pose, 50)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)
        self.window = Window()
        self.diagnostics: dict[str, str] = {}
        self._diagnostics_at = 0.0
        self._lock = threading.Lock()
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self._spinner = threading.Thread(target=self.executor.spin, daemon=True)
        self._spinner.start()

    def _now_ns(self) -> int:
        return self.node.get_clock().now().nanoseconds

    def _on_pose(self, msg: TwoHandPose) -> None:
        age = (self._now_ns() - stamp_to_ns(msg.header.stamp)) * 1e-9
        with self._lock:
            self.window.ages[stamp_to_ns(msg.header.stamp)] = age

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.hardware_id == NODE_NAME:
                values = {kv.key: kv.value for kv in status.values}
                with self._lock:
                    self.diagnostics, self._diagnostics_at = values, time.monotonic()
                    self.window.stages.append({k: float(v) for k, v in values.items()
                                               if k.startswith('stage_')})

    def fresh_diagnostics(self, after: float, timeout: float = 10.0) -> dict[str, str]:
        """The node's first /diagnostics values published after monotonic time `after`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._diagnostics_at > after:
                    return dict(self.diagnostics)
            time.sleep(0.05)
        raise RuntimeError('the node published no /diagnostics for 10 s')

    def wait_for_node(self, process: subprocess.Popen, timeout: float) -> None:
        """Until the node's image subscription and pose publisher are matched with ours."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f'hands_node exited with code {process.returncode} at start')
            if (self.image_pub.get_subscription_count() > 0
                    and self.pose_sub.get_publisher_count() > 0):
                return
            time.sleep(0.2)
        raise RuntimeError(f'hands_node did not appear on DDS within {timeout:.0f} s')

    def play(self, rate: float, seconds: float) -> list[int]:
        """Publish at `rate` Hz for `seconds`; the stamps sent (ns)."""
        sent: list[int] = []
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            stamp = self.node.get_clock().now().to_msg()
            self.info.header.stamp = self.image.header.stamp = stamp
            self.info_pub.publish(self.info)
            self.image_pub.publish(self.image)
            sent.append(stamp_to_ns(stamp))
            time.sleep(max(0.0, start + len(sent) / rate - time.monotonic()))
        return sent

    def new_window(self) -> Window:
        with self._lock:
            window, self.window = self.window, Window()
        return window

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()


def summarize(window: Window, received: int, seconds: float) -> dict[str, Any]:
    """Delivered %, output rate, pose age and mean stage times of one window."""
    sent = set(window.sent)
    ages = np.array([age for stamp, age in window.ages.items() if stamp in sent]) * 1e3
    stages: dict[str, list[float]] = {}
    for values in window.stages:
        for key, value in values.items():
            stages.setdefault(key[len('stage_'):-len('_ms')], []).append(value)
    return {'sent': len(sent), 'received_by_node': received, 'poses': int(ages.size),
            'delivered_pct': 100.0 * received / max(1, len(sent)),
            'output_hz': ages.size / seconds,
            'pose_age_ms_p50': float(np.percentile(ages, 50)) if ages.size else None,
            'pose_age_ms_p90': float(np.percentile(ages, 90)) if ages.size else None,
            'stage_ms': {k: float(np.nanmean(v)) for k, v in stages.items()}}


def lost_between(before: dict[str, str], after: dict[str, str]) -> int | None:
    """Images the node counted as lost in transport between two /diagnostics values (None
    where the node does not count them)."""
    key = 'images_lost_in_transport'
    return int(after[key]) - int(before[key]) if key in before and key in after else None


class DeployedNode:
    """hands_node in its own process (or hands.launch.py's) and the camera in this one, warmed
    up and ready."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        env = node_environment(args.profile, 10 + os.getpid() % 90)
        os.environ.pop('FASTDDS_DEFAULT_PROFILES_FILE', None)
        os.environ.update(env)  # read when rclpy.init below creates this process's participant
        command = probe_command(args.checkpoint, args.param, args.launch)
        self._log = open(args.node_log or os.devnull, 'w')
        self.process = subprocess.Popen(command, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT)
        self.node_pid = self.process.pid
        rclpy.init()
        self.camera: Camera | None = None
        try:
            if args.launch:
                self.node_pid = launched_node_pid(self.process.pid)
            self.camera = Camera(camera_frame(args.size), args.transport)
            self.camera.wait_for_node(self.process, START_TIMEOUT)
            self._warm_up(self.camera)
        except BaseException:
            self.close()
            raise

    def _warm_up(self, camera: Camera) -> None:
        """Frames until a pose comes back (the node may still be loading), then 2 s more."""
        deadline = time.monotonic() + START_TIMEOUT
        while not camera.window.ages:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError('hands_node answered no frame (see its log)')
            camera.play(self.args.rate, 1.0)
        camera.play(self.args.rate, 2.0)

    def measure(self, seconds: float) -> dict[str, Any]:
        """One window of `seconds` at the camera rate, counted exactly (pauses around it)."""
        assert self.camera is not None  # built in __init__
        time.sleep(SETTLE)
        before = self.camera.fresh_diagnostics(time.monotonic())
        self.camera.new_window()
        cpu_node, rss_start = process_usage(self.node_pid)
        cpu_self, started = time.process_time(), time.monotonic()
        sent = self.camera.play(self.args.rate, seconds)
        elapsed = time.monotonic() - started
        cpu_node = process_usage(self.node_pid)[0] - cpu_node
        cpu_self = time.process_time() - cpu_self
        time.sleep(SETTLE)
        after = self.camera.fresh_diagnostics(time.monotonic())
        window = self.camera.new_window()
        window.sent = sent
        result = summarize(window, int(after['frames_received']) -
                           int(before['frames_received']), seconds)
        result.update({'estimator': after.get('estimator', ''),
                       'node_cpu_pct': 100.0 * cpu_node / elapsed,
                       'camera_cpu_pct': 100.0 * cpu_self / elapsed,
                       'node_rss_mb_start': rss_start,
                       'node_rss_mb_end': process_usage(self.node_pid)[1],
                       'lost_in_transport': lost_between(before, after)})
        return result

    def close(self) -> None:
        if self.camera is not None:
            self.camera.close()
        rclpy.try_shutdown()
        stop_process(self.process)
        self._log.close()


def describe(result: dict[str, Any]) -> str:
    """One line of a measurement, for humans."""
    age = ('n/a' if result['pose_age_ms_p50'] is None else
           f"{result['pose_age_ms_p50']:.0f} / {result['pose_age_ms_p90']:.0f} ms")
    stages = ', '.join(f'{k} {v:.1f}' for k, v in result['stage_ms'].items())
    return (f"delivered {result['delivered_pct']:.1f} % ({result['received_by_node']}/"
            f"{result['sent']}), {result['output_hz']:.1f} Hz out, pose age p50/p90 {age}; "
            f"node CPU {result['node_cpu_pct']:.0f} %, camera CPU {result['camera_cpu_pct']:.0f}"
            f" %; node stages ms: {stages}")


def parse_size(text: str) -> tuple[int, int]:
    width, height = text.lower().split('x')
    return int(width), int(height)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--checkpoint', default='', help="InterNet weights; '' = landmark fallback")
    parser.add_argument('-p', '--param', action='append', default=[],
                        help='node parameter name:=value (repeatable); others keep defaults')
    parser.add_argument('--size', type=parse_size, default=(640, 480), help='WxH')
    parser.add_argument('--transport', choices=('raw', 'compressed'), default='raw')
    parser.add_argument('--profile', default=str(PROFILE),
                        help="Fast DDS profile for both processes ('' = default transports)")
    parser.add_argument('--rate', type=float, default=30.0, help='camera Hz')
    parser.add_argument('--seconds', type=float, default=20.0, help='measured window')
    parser.add_argument('--json', type=Path, default=None, help='also write the result here')
    parser.add_argument('--node-log', default='', help="the node's output (default: discarded)")
    parser.add_argument('--launch', action='store_true',
                        help='start the node with launch/hands.launch.py (config/hands.yaml)')
    return parser


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.transport == 'compressed':
        args.param.append('image_transport:=compressed')
    node = DeployedNode(args)
    try:
        result = node.measure(args.seconds)
    finally:
        node.close()
    result.update({'size': f'{args.size[0]}x{args.size[1]}', 'transport': args.transport,
                   'launch': args.launch,
                   'profile': args.profile, 'camera_hz': args.rate, 'seconds': args.seconds,
                   'node_parameters': args.param})
    print(f"{result['size']} {args.transport}, profile {args.profile or 'none'}, "
          f"{result['estimator']}: {describe(result)}", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(result))


if __name__ == '__main__':
    main()
