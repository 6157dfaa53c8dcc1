"""Multi-camera fusion as deployed on one machine (issue 21 item 7), beside one camera alone.

    python -m benchmarks.fusion_bench [--seconds 20] [--json out.json]

Two camera processes (this file with --camera: the hand photo at 640x480, 30 Hz, rgb8, stamps
on a shared 30 Hz grid as synchronised cameras give; /cam2 sees it moved by a 5 cm baseline's
disparity) and launch/multi_camera.launch.py as deployed: two hands nodes with precision:=int8
(the benchmark's two-hand weights: the whole network runs), the fusion node, the extrinsics on
/tf_static. This process listens to the fused /hands. Printed beside it, measured in the same
run with node_bench's helper: one camera into one int8 hands node (node case
`fastest:640x480:raw:profile`). Figures: fused output rate, its ratio to the single-camera rate
(target >= 0.45), fused pose age (received - group stamp) p50/p90 (target p90 <= 200 ms), the
share of fused poses triangulated from both views, each hands node's output rate and the share
of frames both estimated (only those can be triangulated), CPU of each process. Wall-clock
figures: the machine is shared, so the load average is printed.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from benchmarks.bench import ensure_int8
from benchmarks.node_bench import PROFILE, run_node_case
from benchmarks.random_weights import save_bench_checkpoint
from tools.demo import stop_process
from tools.node_process import LAUNCHER, node_environment, process_usage

VIEWS = ('/cam1', '/cam2')
RATE_HZ, SIZE = 30.0, (640, 480)
FOCAL, BASELINE_M, SHIFT_PX = 500.0, 0.05, 50  # a hand 0.5 m away
SINGLE_CASE = 'fastest:640x480:raw:profile'
START_TIMEOUT = 240.0  # both nodes load the int8 model on a busy 2-core CPU
TARGETS = {'ratio': 0.45, 'age_p90_ms': 200.0}


def camera(view: str, seconds: float) -> None:
    """A camera process: the photo (shifted for /cam2) on <view>/image_raw + camera_info."""
    import rclpy
    from rclpy.qos import qos_profile_sensor_data
    from rclpy.signals import SignalHandlerOptions
    from sensor_msgs.msg import CameraInfo
    from std_msgs.msg import Header

    from interhand_ros.image_encoding import rgb_to_image
    from interhand_ros.stamps import NS_PER_S, ns_to_stamp
    from tools.latency_probe import camera_frame
    rgb = camera_frame(SIZE)
    if view == VIEWS[1]:
        rgb = np.concatenate([rgb[:, SHIFT_PX:], np.repeat(rgb[:, -1:], SHIFT_PX, axis=1)], 1)
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)  # Ctrl-C: KeyboardInterrupt
    node = rclpy.create_node(f'camera_{view.strip("/")}')
    frame_id = f'{view.strip("/")}_color_optical_frame'
    width, height = SIZE
    k = [FOCAL, 0.0, width / 2, 0.0, FOCAL, height / 2, 0.0, 0.0, 1.0]
    info = CameraInfo(width=width, height=height, distortion_model='plumb_bob', d=[0.0] * 5,
                      k=k, p=k[:3] + [0.0] + k[3:6] + [0.0] + k[6:] + [0.0])
    image = rgb_to_image(rgb, Header(frame_id=frame_id))
    info.header.frame_id = frame_id
    image_pub = node.create_publisher(type(image), f'{view}/image_raw', qos_profile_sensor_data)
    info_pub = node.create_publisher(CameraInfo, f'{view}/camera_info', qos_profile_sensor_data)
    period = int(NS_PER_S / RATE_HZ)
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            now = node.get_clock().now().nanoseconds
            tick = (now // period + 1) * period
            time.sleep((tick - now) / NS_PER_S)  # the camera's frame clock
            info.header.stamp = image.header.stamp = ns_to_stamp(tick)
            info_pub.publish(info)
            image_pub.publish(image)
    except KeyboardInterrupt:  # stop_process: Ctrl-C
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def extrinsics(path: Path) -> Path:
    path.write_text(yaml.safe_dump({'world_frame': 'world', 'cameras': {
        view.strip('/'): {'frame_id': f'{view.strip("/")}_color_optical_frame',
                          'translation': [BASELINE_M * index, 0.0, 0.0],
                          'rotation': [0.0, 0.0, 0.0, 1.0], 'reprojection_error_px': 0.3}
        for index, view in enumerate(VIEWS)}}))
    return path


def measure_fused(checkpoint: Path, cache: str, seconds: float, logs: Path,
                  launch_args: tuple[str, ...] = ()) -> dict[str, Any]:
    """The deployed multi-camera set-up for `seconds` after warm-up; rate, age, CPU."""
    import rclpy

    from interhand_msgs.msg import HandPose, TwoHandPose
    from interhand_ros.stamps import stamp_to_ns
    env = node_environment(str(PROFILE), 10 + os.getpid() % 90)
    env['INTERHAND_MODEL_CACHE'] = cache  # where the launched nodes find the int8 model
    os.environ.update(env)  # this process's participant: same domain and profile
    with open(logs / 'launch.log', 'w') as log:
        launch = subprocess.Popen(
            [sys.executable, str(LAUNCHER), 'multi_camera.launch.py',
             f'cameras:=[{",".join(VIEWS)}]', f'extrinsics:={extrinsics(logs / "rig.yaml")}',
             f'checkpoint:={checkpoint}', 'precision:=int8', *launch_args], env=env, stdout=log,
            stderr=subprocess.STDOUT)
    total = START_TIMEOUT + seconds + 30
    cameras = [subprocess.Popen([sys.executable, '-m', 'benchmarks.fusion_bench', '--camera',
                                 view, '--seconds', str(total)], env=env)
               for view in VIEWS]
    rclpy.init()
    node = rclpy.create_node('fusion_bench')
    ages: list[tuple[float, float, str]] = []  # (receipt time, age s, what was fused)

    def fused_kind(msg: TwoHandPose) -> str:
        hands = (msg.right, msg.left)
        if any(hand.depth_source == HandPose.DEPTH_TRIANGULATED for hand in hands):
            return 'triangulated'
        return 'one view' if any(hand.detected for hand in hands) else 'no hand'
    node.create_subscription(TwoHandPose, '/hands', lambda msg: ages.append((
        time.monotonic(), (node.get_clock().now().nanoseconds - stamp_to_ns(msg.header.stamp))
        * 1e-9, fused_kind(msg))), 50)
    processed: dict[str, list[tuple[float, int]]] = {view: [] for view in VIEWS}  # each node's
    for view in VIEWS:
        node.create_subscription(TwoHandPose, f'{view}/hands/raw', lambda msg, v=view: processed[
            v].append((time.monotonic(), stamp_to_ns(msg.header.stamp))), 50)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while len(ages) < 30:  # warm-up: the nodes loaded and fused a second of frames
            if time.monotonic() > deadline or launch.poll() is not None:
                raise RuntimeError(f'no fused poses (see {logs / "launch.log"})')
            rclpy.spin_once(node, timeout_sec=0.1)
        pids = processes(launch.pid)
        before = {name: process_usage(pid)[0] for name, pid in pids.items()}
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            rclpy.spin_once(node, timeout_sec=0.1)
        elapsed = time.monotonic() - start
        cpu = {name: 100.0 * (process_usage(pid)[0] - before[name]) / elapsed
               for name, pid in pids.items()}
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        for process in (*cameras, launch):
            stop_process(process)
    measured = [(age, kind) for when, age, kind in ages if start <= when <= start + elapsed]
    frames = [{stamp for when, stamp in processed[view] if start <= when <= start + elapsed}
              for view in VIEWS]
    window = np.array([age for age, _ in measured]) * 1e3
    return {'output_hz': window.size / elapsed,
            **{f'{kind.replace(" ", "_")}_pct': 100.0 * sum(k == kind for _, k in measured)
               / max(1, window.size) for kind in ('triangulated', 'one view', 'no hand')},
            'node_hz': [len(stamps) / elapsed for stamps in frames],
            'same_frame_pct': 100.0 * len(frames[0] & frames[1]) / max(1, len(frames[0])),
            'pose_age_ms_p50': float(np.percentile(window, 50)),
            'pose_age_ms_p90': float(np.percentile(window, 90)), 'cpu_pct': cpu}


def processes(launcher: int) -> dict[str, int]:
    """The launch process's children by executable and namespace (from /proc)."""
    found = {}
    for stat in Path('/proc').glob('[0-9]*/stat'):
        try:
            parent = int(stat.read_text().rsplit(')', 1)[1].split()[1])
            command = (stat.parent / 'cmdline').read_bytes().split(b'\0')
        except OSError:
            continue
        if parent == launcher:
            name = Path(command[1].decode()).name if len(command) > 1 else '?'
            namespace = next((part.decode().split(':=')[1] for part in command
                              if part.startswith(b'__ns:=')), '')
            found[f'{name}{namespace}'] = int(stat.parent.name)
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=20.0, help='measured window, each')
    parser.add_argument('--json', type=Path, default=None, help='also write the results here')
    parser.add_argument('--logs', type=Path, default=None,
                        help="keep the launch's output and the extrinsics here (default: a "
                             'temporary folder)')
    parser.add_argument('--camera-fps', type=float, default=None,
                        help="the launch's camera_fps: the hands nodes' shared frame grid "
                             "(0 = off: each takes the newest frame); default: the launch's")
    parser.add_argument('--camera', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.camera:
        camera(args.camera, args.seconds)
        return
    from interhand_ros.engine.cache import default_cache_dir
    cache = str(default_cache_dir())
    checkpoint = save_bench_checkpoint(Path(cache) / 'bench_two_hands_internet.pth', 'two')
    ensure_int8(checkpoint, 'openvino', cache, cache)
    launch_args = () if args.camera_fps is None else (f'camera_fps:={args.camera_fps}',)
    print(f'load average at start {os.getloadavg()[0]:.2f}', flush=True)
    single = run_node_case(SINGLE_CASE, {'two': checkpoint}, cache, str(PROFILE), args.seconds)
    if 'error' in single:
        raise SystemExit(f'single camera case failed: {single["error"]}')
    if args.logs is not None:
        args.logs.mkdir(parents=True, exist_ok=True)
        fused = measure_fused(checkpoint, cache, args.seconds, args.logs, launch_args)
    else:
        with tempfile.TemporaryDirectory() as logs:
            fused = measure_fused(checkpoint, cache, args.seconds, Path(logs), launch_args)
    ratio = fused['output_hz'] / single['output_hz']
    print(f"one camera, one int8 hands node: {single['output_hz']:.1f} Hz out, pose age p50/p90 "
          f"{single['pose_age_ms_p50']:.0f} / {single['pose_age_ms_p90']:.0f} ms")
    print(f"two cameras, two int8 hands nodes + fusion: {fused['output_hz']:.1f} Hz fused "
          f"({ratio:.2f} x one camera; target >= {TARGETS['ratio']}), fused pose age p50/p90 "
          f"{fused['pose_age_ms_p50']:.0f} / {fused['pose_age_ms_p90']:.0f} ms (target p90 <= "
          f"{TARGETS['age_p90_ms']:.0f}); fused poses: {fused['triangulated_pct']:.0f} % "
          f"triangulated, {fused['one_view_pct']:.0f} % one view's own hands, "
          f"{fused['no_hand_pct']:.0f} % no hand (random weights: joints below the fusion's "
          "min_confidence, not consistent across views; a trained checkpoint triangulates); "
          "hands nodes " + ' and '.join(
              f'{hz:.1f}' for hz in fused['node_hz']) + f" Hz, {fused['same_frame_pct']:.0f} % of "
          "/cam1's frames also estimated by /cam2; CPU % " + ', '.join(
              f'{name} {value:.0f}' for name, value in sorted(fused['cpu_pct'].items())))
    print(f'load average at end {os.getloadavg()[0]:.2f}')
    if args.json is not None:
        args.json.write_text(json.dumps({'single': single, 'fused': fused, 'ratio': ratio,
                                         'load_end': os.getloadavg()[0]}, indent=1))


if __name__ == '__main__':
    main()
