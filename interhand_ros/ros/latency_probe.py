"""Measure the hands node: end-to-end latency and throughput, and its overhead over the engine.

    python -m interhand_ros.ros.latency_probe [--checkpoint snapshot_20.pth.tar] [--seconds 10]

Three runs on the same 640x480 rgb8 frames (content does not change the cost):
1. bare engine: InterNetEstimator.estimate() in a loop (in a worker thread, as in the node),
   then each of the node's own per-frame steps (conversion in, message, markers, debug image);
2. closed loop through the node over DDS: send a frame, wait for its pose, repeat
   (end-to-end latency = pose received - image stamp; overhead = that minus the engine time);
3. open loop at --rate Hz (a camera faster than inference): output rate, pose age, dropped frames.
Without --checkpoint a random-weight InterNet is used (same cost as the trained one). The
estimator is built by the factory (--backend, --precision as the node's parameters);
--open-loop-only runs 3 alone (the benchmark uses it).
The node runs in this process on its own executor thread, as in a single-process launch.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from interhand_msgs.msg import TwoHandPose
from interhand_ros.engine.checkpoint import save_random_checkpoint
from interhand_ros.engine.internet import InterNetEstimator
from interhand_ros.engine.options import BACKENDS, PRECISIONS
from interhand_ros.estimate import TwoHandEstimate
from interhand_ros.factory import EstimatorSettings, build_estimator
from interhand_ros.geometry.camera import CameraModel
from interhand_ros.image_encoding import image_to_rgb, rgb_to_image
from interhand_ros.messages import to_two_hand_pose
from interhand_ros.ros.hands_node import HandsNode
from interhand_ros.stamps import stamp_seconds
from interhand_ros.visualization.drawing import draw_estimate
from interhand_ros.visualization.markers import to_marker_array

WIDTH, HEIGHT, FOCAL = 640, 480, 600.0


def camera_info() -> CameraInfo:
    info = CameraInfo(width=WIDTH, height=HEIGHT, distortion_model='plumb_bob', d=[0.0] * 5)
    info.k = [FOCAL, 0.0, WIDTH / 2, 0.0, FOCAL, HEIGHT / 2, 0.0, 0.0, 1.0]
    info.p = [FOCAL, 0.0, WIDTH / 2, 0.0, 0.0, FOCAL, HEIGHT / 2, 0.0, 0.0, 0.0, 1.0, 0.0]
    info.header.frame_id = 'camera_color_optical_frame'
    return info


def summary(values: list[float]) -> str:
    ms = np.asarray(values) * 1e3
    return (f'mean {ms.mean():7.1f} ms  p50 {np.percentile(ms, 50):7.1f} ms  '
            f'p95 {np.percentile(ms, 95):7.1f} ms  (n={len(ms)})')


def both_hands_drawn(estimate: TwoHandEstimate) -> TwoHandEstimate:
    """The estimate with both hands detected and all joints valid (the costliest output)."""
    for hand in estimate.hands():
        hand.detected = True
        hand.valid[:] = True
        hand.joints = np.nan_to_num(hand.joints, nan=0.5)
        hand.pixels = np.nan_to_num(hand.pixels, nan=100.0)
    return estimate


def conversion_costs(estimate: TwoHandEstimate, rgb: np.ndarray,
                     repeats: int = 50) -> dict[str, list[float]]:
    """The node's own per-frame work besides the estimator, step by step."""
    header = Header(frame_id='camera_color_optical_frame')
    bgr = Image(width=WIDTH, height=HEIGHT, encoding='bgr8', step=WIDTH * 3,
                data=rgb[..., ::-1].tobytes())
    steps = {
        'image_to_rgb (bgr8)': lambda: image_to_rgb(bgr),
        'to_two_hand_pose': lambda: to_two_hand_pose(estimate, header, WIDTH, HEIGHT),
        'to_marker_array': lambda: to_marker_array(estimate, header),
        'debug image (draw + msg)': lambda: rgb_to_image(draw_estimate(rgb, estimate), header),
    }
    costs: dict[str, list[float]] = {}
    for name, step in steps.items():
        costs[name] = []
        for _ in range(repeats):
            began = time.perf_counter()
            step()
            costs[name].append(time.perf_counter() - began)
    return costs


def bare_engine(estimator: InterNetEstimator, rgb: np.ndarray, seconds: float) -> list[float]:
    camera = CameraModel.from_camera_info(camera_info(), rectified=False)
    for _ in range(2):  # first calls pay for allocator / oneDNN primitive set-up
        estimator.estimate(rgb, camera)
    times = []
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        began = time.perf_counter()
        estimator.estimate(rgb, camera)
        times.append(time.perf_counter() - began)
    return times


class NodeProbe:
    """The node (injected estimator) plus a publisher/subscriber of our own."""

    def __init__(self, estimator: InterNetEstimator, rgb: np.ndarray) -> None:
        self.node = HandsNode(estimator=estimator,
                              parameter_overrides=[Parameter('sync', value='approximate')])
        self.probe = rclpy.create_node('latency_probe')
        qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
        self.image_pub = self.probe.create_publisher(Image, 'image', qos)
        self.info_pub = self.probe.create_publisher(CameraInfo, 'camera_info', qos)
        self.received: list[tuple[float, TwoHandPose]] = []
        self.arrived = threading.Event()
        self.probe.create_subscription(TwoHandPose, 'hands', self._on_hands, qos)
        self.image = Image(width=WIDTH, height=HEIGHT, encoding='rgb8', step=WIDTH * 3,
                           data=rgb.tobytes())
        self.image.header.frame_id = 'camera_color_optical_frame'
        self.info = camera_info()
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.executor.add_node(self.probe)
        threading.Thread(target=self.executor.spin, daemon=True).start()
        while (self.image_pub.get_subscription_count() == 0
               or self.node.hands_pub.get_subscription_count() == 0):
            time.sleep(0.05)

    def now(self) -> float:
        return self.probe.get_clock().now().nanoseconds * 1e-9

    def _on_hands(self, msg: TwoHandPose) -> None:
        self.received.append((self.now(), msg))
        self.arrived.set()

    def send(self) -> None:
        stamp = self.probe.get_clock().now().to_msg()
        self.image.header.stamp = self.info.header.stamp = stamp
        self.info_pub.publish(self.info)
        self.image_pub.publish(self.image)

    def closed_loop(self, seconds: float) -> tuple[list[float], list[float]]:
        """(end-to-end latency, node overhead) per frame, one frame in flight at a time."""
        latency, overhead = [], []
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            self.arrived.clear()
            self.send()
            if not self.arrived.wait(10.0):
                raise RuntimeError('no pose within 10 s')
            received, msg = self.received[-1]
            age = received - stamp_seconds(msg.header.stamp)
            latency.append(age)
            overhead.append(age - msg.inference_time)
        return latency, overhead

    def open_loop(self, rate: float, seconds: float) -> tuple[int, int, list[float]]:
        """(frames sent, poses received, pose ages) with a camera at `rate` Hz."""
        first = len(self.received)
        sent = 0
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            self.send()
            sent += 1
            time.sleep(max(0.0, start + sent / rate - time.monotonic()))
        time.sleep(1.0)
        ages = [received - stamp_seconds(m.header.stamp)
                for received, m in self.received[first:]]
        return sent, len(ages), ages

    def close(self) -> None:
        if self.node.worker is not None:
            self.node.worker.stop()
        self.executor.shutdown()
        self.node.destroy_node()
        self.probe.destroy_node()


def open_loop_only(estimator: InterNetEstimator, rgb: np.ndarray,
                   args: argparse.Namespace) -> None:
    """Run 3 alone: output rate and pose age with a camera at args.rate Hz."""
    rclpy.init()
    probe = NodeProbe(estimator, rgb)
    try:
        probe.open_loop(args.rate, 2.0)  # the node's first frames pay for warm-up
        sent, received, ages = probe.open_loop(args.rate, args.seconds)
    finally:
        probe.close()
        rclpy.shutdown()
    ms = np.asarray(ages) * 1e3
    result = {'backend': args.backend, 'precision': args.precision, 'camera_hz': args.rate,
              'seconds': args.seconds, 'sent': sent, 'received': received,
              'output_hz': received / args.seconds,
              'pose_age_ms_p50': float(np.percentile(ms, 50)) if ages else None,
              'pose_age_ms_p90': float(np.percentile(ms, 90)) if ages else None}
    print(f'open loop at {args.rate:g} Hz: {sent} frames sent, {received} poses '
          f"({result['output_hz']:.1f} Hz); pose age {summary(ages) if ages else 'n/a'}")
    if args.json is not None:
        args.json.write_text(json.dumps(result))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--checkpoint', help='InterNet checkpoint (default: random weights)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--seconds', type=float, default=10.0, help='per measurement')
    parser.add_argument('--rate', type=float, default=30.0, help='Hz, open-loop camera rate')
    parser.add_argument('--backend', default='torch', choices=BACKENDS)
    parser.add_argument('--precision', default='fp32', choices=PRECISIONS)
    parser.add_argument('--cache-dir', default='', help='compiled models (default cache)')
    parser.add_argument('--open-loop-only', action='store_true',
                        help='only run 3 (the camera-rate run), e.g. from the benchmark')
    parser.add_argument('--json', type=Path, default=None, help='also write the results here')
    args = parser.parse_args(argv)
    import torch
    print(f'torch {torch.__version__}, threads {torch.get_num_threads()}, '
          f'cpus {os.cpu_count()}, device {args.device}, input {WIDTH}x{HEIGHT} rgb8, '
          f'backend {args.backend}, precision {args.precision}')
    rgb = np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as directory:
        checkpoint = args.checkpoint or save_random_checkpoint(
            Path(directory) / 'random_internet.pth.tar')
        estimator = build_estimator(EstimatorSettings(
            checkpoint=str(checkpoint), device=args.device, backend=args.backend,
            precision=args.precision, cache_dir=args.cache_dir), warn=print)
    assert isinstance(estimator, InterNetEstimator)  # a checkpoint is always given
    if args.open_loop_only:
        open_loop_only(estimator, rgb, args)
        return
    engine: list[float] = []
    # In a worker thread like the node's: on this machine torch runs the same forward several
    # times slower from the main thread (OpenMP threads contend on a busy 2-core CPU).
    runner = threading.Thread(target=lambda: engine.extend(bare_engine(estimator, rgb,
                                                                        args.seconds)))
    runner.start()
    runner.join()
    print(f'bare engine estimate(), thread: {summary(engine)}  -> {1 / np.mean(engine):.1f} Hz')
    camera = CameraModel.from_camera_info(camera_info(), rectified=False)
    for name, costs in conversion_costs(both_hands_drawn(estimator.estimate(rgb, camera)),
                                        rgb).items():
        print(f'  node step {name:26s} {summary(costs)}')
    rclpy.init()
    probe = NodeProbe(estimator, rgb)
    try:
        latency, overhead = probe.closed_loop(args.seconds)
        print(f'node end-to-end (closed loop): {summary(latency)}  -> '
              f'{1 / np.mean(latency):.1f} Hz')
        print(f'node overhead over the engine: {summary(overhead)}')
        sent, received, ages = probe.open_loop(args.rate, args.seconds)
        print(f'open loop at {args.rate:g} Hz: {sent} frames sent, {received} poses '
              f'({received / args.seconds:.1f} Hz), dropped {sent - received}; pose age '
              f'{summary(ages)}')
    finally:
        probe.close()
        rclpy.shutdown()


if __name__ == '__main__':
    main()
