"""The node's footprint running a cached compiled model: start-up times and memory.

    python benchmarks/runtime_footprint.py --checkpoint X --cache-dir DIR --backend openvino \
        --precision int8 [--python ENV/bin/python] [--runtime-only] [--code-root DIR]

Starts hands_node (in its own process, with config/fastdds.xml as deployed) on a cache that
already holds the model, plays a 640x480 camera at --rate from this process, and prints one
JSON line: seconds from the process start to the node's 'hands node ready' log line (active) and
to the first pose, the first pose after active, the node's RSS after --seconds of serving and
its peak (VmHWM), the output rate, and whether libtorch is mapped in the node process.
--python runs the node with another interpreter (e.g. a runtime-only venv, docs/runtime_install.md);
--runtime-only refuses the build-only packages (test/runtime_only.py); --code-root puts another
checkout's interhand_ros first on the node's path (a before/after comparison).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header

from benchmarks.node_bench import PROFILE
from interhand_msgs.msg import TwoHandPose
from interhand_ros.geometry.camera_yaml import guess_camera_info
from interhand_ros.image_encoding import rgb_to_image
from tools.demo import stop_process
from tools.demo_topics import FRAME_ID, IMAGE_TOPIC, INFO_TOPIC, NAMESPACE, POSE_TOPIC
from tools.latency_probe import camera_frame
from tools.node_process import node_environment

REPO = Path(__file__).resolve().parents[1]
READY = 'hands node ready'
START_TIMEOUT = 120.0


def node_command(args: argparse.Namespace) -> list[str]:
    wrapper = [str(REPO / 'test' / 'runtime_only.py')] if args.runtime_only else []
    return [args.python, *wrapper, '-m', 'interhand_ros.ros.hands_node', '--ros-args',
            '-r', f'__ns:={NAMESPACE}', '-r', f'image:={IMAGE_TOPIC}',
            '-r', f'camera_info:={INFO_TOPIC}', '-p', f'checkpoint:={args.checkpoint}',
            '-p', f'backend:={args.backend}', '-p', f'precision:={args.precision}',
            '-p', f'cache_dir:={args.cache_dir}']


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) of a process, MB."""
    status = dict(line.split(':', 1) for line in
                  Path(f'/proc/{pid}/status').read_text().splitlines() if ':' in line)
    return {name: int(status[name].split()[0]) / 1024 for name in ('VmRSS', 'VmHWM')}


def largest_mappings(pid: int, count: int) -> dict[str, float]:
    """The `count` largest contributors to the RSS (MB): each mapped file, and anonymous memory
    (heap, arenas, thread stacks) as one entry."""
    totals: dict[str, float] = {}
    name = ''
    for line in Path(f'/proc/{pid}/smaps').read_text().splitlines():
        fields = line.split()
        if '-' in fields[0] and not fields[0].endswith(':'):
            path = fields[5] if len(fields) > 5 else ''
            name = Path(path).name if path.startswith('/') else '[anonymous]'
        elif fields[0] == 'Rss:':
            totals[name] = totals.get(name, 0.0) + int(fields[1]) / 1024
    return dict(sorted(totals.items(), key=lambda item: -item[1])[:count])


def torch_mapped(pid: int) -> bool:
    return 'libtorch' in Path(f'/proc/{pid}/maps').read_text()


def measure(args: argparse.Namespace) -> dict[str, object]:
    env = node_environment(PROFILE, 10 + os.getpid() % 90)
    if Path(args.python).resolve().parents[1] != Path(sys.prefix).resolve():
        # another venv: its own libraries and ament prefix, its own ROS bootstrap
        for name in ('LD_LIBRARY_PATH', '_ROS_WHEELS_BOOTSTRAP_COMPLETE'):
            env.pop(name, None)
        env['AMENT_PREFIX_PATH'] = str(Path(args.python).parents[1])
    if args.code_root:
        env['PYTHONPATH'] = os.pathsep.join(filter(None, [args.code_root,
                                                          env.get('PYTHONPATH')]))
    os.environ.update({k: v for k, v in env.items() if k.startswith(('ROS_', 'FASTDDS'))})
    events: dict[str, float] = {}
    log: list[str] = []
    started = time.monotonic()
    # not from this checkout's root: `-m` puts the working folder first on the node's path
    process = subprocess.Popen(node_command(args), env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               cwd=args.code_root or tempfile.gettempdir())

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            log.append(line)
            if READY in line:
                events.setdefault('ready', time.monotonic())

    threading.Thread(target=read, daemon=True).start()
    rclpy.init()
    node = rclpy.create_node('footprint_camera')
    rgb = camera_frame((640, 480))
    header = Header(frame_id=FRAME_ID)
    guess = guess_camera_info(640, 480)
    info = CameraInfo(header=header, width=640, height=480, distortion_model=guess.distortion_model,
                      d=list(guess.d), k=list(guess.k), r=list(guess.r), p=list(guess.p))
    image = rgb_to_image(rgb, header)
    image_pub = node.create_publisher(type(image), IMAGE_TOPIC, qos_profile_sensor_data)
    info_pub = node.create_publisher(CameraInfo, INFO_TOPIC, qos_profile_sensor_data)
    poses: list[float] = []
    node.create_subscription(TwoHandPose, POSE_TOPIC, lambda _: poses.append(time.monotonic()),
                             50)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    try:
        serving_until = None
        while serving_until is None or time.monotonic() < serving_until:
            if process.poll() is not None or time.monotonic() - started > START_TIMEOUT:
                raise RuntimeError('the node stopped or never answered:\n' + ''.join(log[-30:]))
            if poses and serving_until is None:
                serving_until = time.monotonic() + args.seconds
                first_served = len(poses)
            stamp = node.get_clock().now().to_msg()
            image.header.stamp = info.header.stamp = stamp
            info_pub.publish(info)
            image_pub.publish(image)
            time.sleep(1.0 / args.rate)
        memory = memory_mb(process.pid)
        return {'backend': args.backend, 'precision': args.precision, 'python': args.python,
                'runtime_only': args.runtime_only, 'code_root': args.code_root,
                'start_to_ready_s': events['ready'] - started,
                'start_to_first_pose_s': poses[0] - started,
                'ready_to_first_pose_s': poses[0] - events['ready'],
                'rss_mb': memory['VmRSS'], 'peak_rss_mb': memory['VmHWM'],
                'output_hz': (len(poses) - first_served) / args.seconds,
                'torch_in_node': torch_mapped(process.pid),
                'largest_mb': largest_mappings(process.pid, args.mappings)}
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
        stop_process(process)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--checkpoint', required=True)
    parser.add_argument('--cache-dir', required=True, help='holds the model already')
    parser.add_argument('--backend', default='openvino')
    parser.add_argument('--precision', default='int8')
    parser.add_argument('--python', default=sys.executable, help="the node's interpreter")
    parser.add_argument('--runtime-only', action='store_true')
    parser.add_argument('--code-root', default='', help="another checkout's root, first on the "
                                                        "node's PYTHONPATH")
    parser.add_argument('--seconds', type=float, default=20.0, help='serving before the RSS')
    parser.add_argument('--rate', type=float, default=30.0)
    parser.add_argument('--mappings', type=int, default=8, help='largest RSS contributors shown')
    print(json.dumps(measure(parser.parse_args(argv))), flush=True)


if __name__ == '__main__':
    main()
