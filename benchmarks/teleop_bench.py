"""Teleoperation benchmark: One Euro filter jitter / lag / loss handling, real-photo jitter
through the landmark fallback, and the retarget node's added latency.

    .venv/bin/python benchmarks/teleop_bench.py [--min-cutoff HZ --beta S_PER_M ...]

Synthetic sequences at 30 Hz use InterNet's quantization: a joint is the argmax of a 64^3
heatmap, 4 crop pixels per bin in the image plane (the crop covering --crop-m metres at the
hand) and 6.25 mm per bin in depth; each frame adds sensor noise of half a bin before the
argmax, so a still hand flickers between neighbouring bins as it does on a real camera.
Jitter: RMS over joints and frames of the frame-to-frame displacement (mm). Lag: mean delay
of the filtered joints behind the true ones along the motion (ms), after a 0.5 s settle.
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from interhand_ros.estimate import DepthSource, HandEstimate
from interhand_ros.skeleton import NUM_JOINTS
from interhand_ros.teleop.filtering import FilterConfig, HandSmoother
from tools.synthetic_hands import hand_joints

ROOT = Path(__file__).resolve().parent.parent

RATE = 30.0
CROP_PX, BIN_PX, DEPTH_BIN_M = 256, 4, 0.00625
PHOTO = ROOT.parent / 'shared' / 'data' / 'hands' / 'handSrc.jpg'


class Quantizer:
    """InterNet-like measurement: truth + half-bin noise, snapped to a per-joint bin grid."""

    def __init__(self, crop_m: float, rng: np.random.Generator) -> None:
        xy_bin = BIN_PX * crop_m / CROP_PX
        self.bins = np.array([xy_bin, xy_bin, DEPTH_BIN_M])
        self.offset = rng.uniform(0.0, 1.0, (NUM_JOINTS, 3)) * self.bins
        self.rng = rng

    def __call__(self, joints: np.ndarray) -> np.ndarray:
        noisy = joints + self.rng.normal(0.0, 0.5, joints.shape) * self.bins
        return np.round((noisy - self.offset) / self.bins) * self.bins + self.offset


def hand(joints: np.ndarray | None) -> HandEstimate:
    if joints is None:
        return HandEstimate(side='right', presence=0.0, detected=False)
    return HandEstimate(side='right', presence=1.0, detected=True, joints=joints,
                        valid=np.ones(NUM_JOINTS, dtype=bool), wrist_position=joints[0],
                        depth_source=DepthSource.HAND_SIZE)


def jitter_mm(sequence: np.ndarray) -> float:
    steps = np.diff(sequence, axis=0)
    return float(np.sqrt(np.mean(np.sum(steps ** 2, axis=-1)))) * 1e3


def run_filter(config: FilterConfig, measured: Sequence[np.ndarray | None]
               ) -> list[HandEstimate]:
    smoother = HandSmoother(config)
    return [smoother.update(hand(m), i / RATE) for i, m in enumerate(measured)]


def still(config: FilterConfig, quantize: Quantizer, frames: int) -> tuple[float, float]:
    truth = hand_joints('right')
    measured = [quantize(truth) for _ in range(frames)]
    filtered = np.array([h.joints for h in run_filter(config, measured)])
    return jitter_mm(np.array(measured)), jitter_mm(filtered[int(RATE):])


def moving(config: FilterConfig, quantize: Quantizer, speed: float) -> tuple[float, float]:
    """(raw lag ms, filtered lag ms) of a hand moving sideways at speed m/s for 1.5 s."""
    times = np.arange(int(1.5 * RATE)) / RATE
    direction = np.array([1.0, 0.0, 0.0])
    truth = [hand_joints('right', (-0.4 + speed * t * 1.0, 0.0, 0.5)) for t in times]
    measured = [quantize(j) for j in truth]
    filtered = [h.joints for h in run_filter(config, measured)]
    settle = int(0.5 * RATE)

    def lag(estimates: list[np.ndarray]) -> float:
        behind = [np.mean((t - e) @ direction) for t, e in zip(truth[settle:], estimates[settle:])]
        return float(np.mean(behind)) / speed * 1e3
    return lag(measured), lag(filtered)


def lost(config: FilterConfig, quantize: Quantizer, gap_s: float) -> dict[str, float]:
    """Still 1 s, lost for gap_s while moving 5 cm, back for 1 s: held frames, error after."""
    frames_before, gap, after = int(RATE), int(round(gap_s * RATE)), int(RATE)
    a, b = hand_joints('right', (0.0, 0.0, 0.5)), hand_joints('right', (0.05, 0.0, 0.5))
    measured = ([quantize(a) for _ in range(frames_before)] + [None] * gap
                + [quantize(b) for _ in range(after)])
    out = run_filter(config, measured)
    gap_out = out[frames_before:frames_before + gap]
    back = out[frames_before + gap:]
    errors = [np.mean(np.linalg.norm(h.joints - b, axis=1)) * 1e3 for h in back]
    settled = next((i for i, e in enumerate(errors) if e < 5.0), len(errors))
    return {'held': sum(h.held for h in gap_out),
            'lost': sum(not h.detected for h in gap_out),
            'first_error_mm': errors[0], 'frames_to_5mm': settled}


def photo_jitter(config: FilterConfig, frames: int, noise: float,
                 rng: np.random.Generator) -> tuple[float, float, int] | None:
    """Raw vs filtered jitter (mm) of the real photo with per-frame pixel noise (fallback)."""
    if not PHOTO.is_file():
        return None
    import cv2

    from interhand_ros.geometry.camera import CameraModel
    from interhand_ros.processing.factory import EstimatorSettings, build_estimator
    image = cv2.cvtColor(cv2.imread(str(PHOTO)), cv2.COLOR_BGR2RGB)
    height, width = image.shape[:2]
    camera = CameraModel.from_intrinsics(
        np.array([[600.0, 0, width / 2], [0, 600.0, height / 2], [0, 0, 1]]), width, height)
    estimator = build_estimator(EstimatorSettings(checkpoint='', video=True),
                                lambda _: None, '')  # the fallback, said in the output
    smoother = HandSmoother(config)
    raw, filtered = [], []
    for i in range(frames):
        noisy = np.clip(image + rng.normal(0.0, noise, image.shape), 0, 255).astype(np.uint8)
        estimate = estimator.estimate(noisy, camera)
        found = [h for h in estimate.hands() if h.detected]
        if not found:
            continue
        measured = found[0]
        raw.append(measured.joints)
        filtered.append(smoother.update(measured, i / RATE).joints)
    if len(raw) < 3:
        return None
    skip = min(int(RATE) // 3, len(raw) // 3)
    return jitter_mm(np.array(raw[skip:])), jitter_mm(np.array(filtered[skip:])), len(raw)


def measure_latency(messages: int, rng: np.random.Generator) -> tuple[float, float, float]:
    """retarget_node in-process over DDS: (median, p90 ms from publishing a TwoHandPose to
    receiving its JointState, median ms of the retarget() call alone)."""
    import os
    import threading

    os.environ.setdefault('ROS_DOMAIN_ID', str(101 + os.getpid() % 100))  # off the tests' ids
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Header

    from interhand_msgs.msg import TwoHandPose
    from interhand_ros.estimate import EstimatorKind, TwoHandEstimate
    from interhand_ros.geometry.box import Box
    from interhand_ros.messages import to_two_hand_pose
    from interhand_ros.ros.retarget_node import RetargetNode

    rclpy.init()
    node = RetargetNode(parameter_overrides=[
        Parameter('robot_right', value='leap_hand'),
        Parameter('urdf_dir', value=str(ROOT.parent / 'shared' / 'data' / 'robot_hands'))])
    probe = rclpy.create_node('teleop_bench_probe')
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    arrived = threading.Event()
    probe.create_subscription(JointState, 'retarget/right/joint_states',
                              lambda _: arrived.set(), qos)
    publisher = probe.create_publisher(TwoHandPose, 'hands', qos)
    executors = []
    for spun in (node, probe):
        executor = SingleThreadedExecutor()
        executor.add_node(spun)
        threading.Thread(target=executor.spin, daemon=True).start()
        executors.append(executor)
    while publisher.get_subscription_count() == 0:
        time.sleep(0.01)
    latencies, computes = [], []
    missing = HandEstimate(side='left', presence=0.0, detected=False)
    for i in range(messages + 10):
        joints = hand_joints('right', curl=0.3 + 0.2 * np.sin(i / 5)) + rng.normal(
            0.0, 0.002, (NUM_JOINTS, 3))
        estimate = TwoHandEstimate(hand(joints), missing, 0.0, False, np.full(3, np.nan),
                                   DepthSource.HAND_SIZE, EstimatorKind.INTERNET, Box(0, 0, 64, 48))
        header = Header(frame_id='camera_optical')
        header.stamp.sec, header.stamp.nanosec = i // 30, int((i % 30) / 30 * 1e9)
        msg = to_two_hand_pose(estimate, header, 64, 48)
        arrived.clear()
        started = time.perf_counter()
        publisher.publish(msg)
        if not arrived.wait(5.0):
            raise RuntimeError('retarget_node did not answer within 5 s')
        if i >= 10:  # warm-up excluded
            latencies.append((time.perf_counter() - started) * 1e3)
            computes.append(node.sides['right'].compute_s * 1e3)
    for executor in executors:
        executor.shutdown()
    node.destroy_node()
    probe.destroy_node()
    rclpy.shutdown()
    return (float(np.median(latencies)), float(np.percentile(latencies, 90)),
            float(np.median(computes)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = FilterConfig()
    parser.add_argument('--min-cutoff', type=float, default=defaults.min_cutoff)
    parser.add_argument('--beta', type=float, default=defaults.beta)
    parser.add_argument('--d-cutoff', type=float, default=defaults.d_cutoff)
    parser.add_argument('--hold', type=float, default=defaults.hold_s)
    parser.add_argument('--crop-m', type=float, default=0.3,
                        help='m covered by the 256 px crop at the hand (0.3: both hands)')
    parser.add_argument('--frames', type=int, default=300, help='still-hand frames')
    parser.add_argument('--photo-frames', type=int, default=60)
    parser.add_argument('--photo-noise', type=float, default=4.0, help='pixel noise std (0-255)')
    parser.add_argument('--latency-messages', type=int, default=200)
    parser.add_argument('--skip', nargs='*', default=[], choices=['photo', 'latency'])
    args = parser.parse_args()
    config = FilterConfig(min_cutoff=args.min_cutoff, beta=args.beta, d_cutoff=args.d_cutoff,
                          hold_s=args.hold)
    rng = np.random.default_rng(0)
    quantize = Quantizer(args.crop_m, rng)
    print(f'filter: min_cutoff {config.min_cutoff} Hz, beta {config.beta} s/m, d_cutoff '
          f'{config.d_cutoff} Hz, hold {config.hold_s} s; {RATE:.0f} Hz; bins '
          f'{quantize.bins[0] * 1e3:.2f} mm (xy) x {DEPTH_BIN_M * 1e3:.2f} mm (z)')
    raw, smooth = still(config, quantize, args.frames)
    print(f'still hand jitter: raw {raw:.2f} mm, filtered {smooth:.2f} mm '
          f'({raw / smooth:.1f}x lower)')
    for speed in (0.25, 0.5, 1.0):
        raw_lag, lag = moving(config, quantize, speed)
        print(f'moving {speed:.2f} m/s lag: raw {raw_lag:.1f} ms, filtered {lag:.1f} ms '
              f'({lag * RATE / 1e3:.2f} frame periods)')
    for gap in (0.1, 1.0):
        result = lost(config, quantize, gap)
        print(f"lost {gap:.1f} s (moved 5 cm meanwhile): {result['held']} frames held, "
              f"{result['lost']} reported lost; first frame back {result['first_error_mm']:.1f} "
              f"mm off, {result['frames_to_5mm']} frames to within 5 mm")
    if 'photo' not in args.skip:
        photo = photo_jitter(config, args.photo_frames, args.photo_noise, rng)
        if photo is None:
            print(f'photo: skipped ({PHOTO} absent or no hand found)')
        else:
            raw, smooth, count = photo
            print(f'real photo {PHOTO.name}, pixel noise std {args.photo_noise}, landmark '
                  f'fallback, {count} frames: jitter raw {raw:.2f} mm, filtered {smooth:.2f} mm '
                  f'({raw / smooth:.1f}x lower)')
    if 'latency' not in args.skip:
        started = time.perf_counter()
        median, p90, compute = measure_latency(args.latency_messages, rng)
        print(f'retarget_node (leap_hand, vector) added latency over DDS: median {median:.2f} '
              f'ms, p90 {p90:.2f} ms; retarget() alone median {compute:.2f} ms '
              f'({time.perf_counter() - started:.0f} s)')


if __name__ == '__main__':
    main()
