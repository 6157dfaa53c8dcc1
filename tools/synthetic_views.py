"""One camera of tools/synthetic_scene.py as its own process: what a hands node would publish.

    python -m tools.synthetic_views --view /cam2 --index 2 --count 3 [--swap] [--shift-px 40]
        [--no-tf] [--stamp-offset 0.2] [--stop-after 2 --stop-for 2] [--camera-info nan]

Publishes, at --rate on the shared stamp grid (stamp = the ROS clock rounded down to a whole
frame period, so views in separate processes stamp the same instant alike, as synchronised
cameras do): `<view>/hands/raw` (TwoHandPose of the scene's estimate for this camera, header
frame = its optical frame) and `<view>/camera_info`; and once, latched, world <- optical frame on
/tf_static. Faults for the tests: swapped labels, shifted pixels, no transform, an offset
clock, a pause, a bad camera_info (nan, another frame id, another size). Prints 'publishing'
when its publishers exist. Runs until --duration or SIGINT/SIGTERM.
"""
from __future__ import annotations

import argparse
import time

import rclpy
import transforms3d.quaternions as quaternions
from geometry_msgs.msg import TransformStamped
from rclpy.executors import ExternalShutdownException
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header
from tf2_msgs.msg import TFMessage

from interhand_msgs.msg import TwoHandPose
from interhand_ros.messages import to_two_hand_pose
from interhand_ros.stamps import NS_PER_S, ns_to_stamp
from tools.synthetic_scene import HEIGHT, WIDTH, WORLD, SceneCamera, cameras, view_estimate

CAMERA_INFO_FAULTS = ('ok', 'nan', 'other_frame', 'other_size')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--view', required=True, help='namespace, e.g. /cam1')
    parser.add_argument('--index', type=int, required=True, help='camera of the scene, 1..count')
    parser.add_argument('--count', type=int, default=3, help='cameras in the scene')
    parser.add_argument('--rate', type=float, default=15.0, help='Hz')
    parser.add_argument('--duration', type=float, default=300.0, help='s, then exit')
    parser.add_argument('--noise-px', type=float, default=0.5)
    parser.add_argument('--swap', action='store_true', help='publish right as left')
    parser.add_argument('--shift-px', type=float, default=0.0, help='every pixel moved by this')
    parser.add_argument('--no-tf', action='store_true', help='publish no transform')
    parser.add_argument('--stamp-offset', type=float, default=0.0, help='s added to stamps')
    parser.add_argument('--stop-after', type=float, default=0.0, help='s of publishing, then')
    parser.add_argument('--stop-for', type=float, default=0.0, help='s of silence')
    parser.add_argument('--camera-info', choices=CAMERA_INFO_FAULTS, default='ok')
    return parser.parse_args(argv)


def static_transform(camera: SceneCamera, stamp) -> TransformStamped:
    w, x, y, z = quaternions.mat2quat(camera.world_from_camera[:3, :3])
    transform = TransformStamped(header=Header(stamp=stamp, frame_id=WORLD),
                                 child_frame_id=camera.frame_id)
    tx, ty, tz = (float(c) for c in camera.world_from_camera[:3, 3])
    transform.transform.translation.x, transform.transform.translation.y = tx, ty
    transform.transform.translation.z = tz
    rotation = transform.transform.rotation
    rotation.x, rotation.y, rotation.z, rotation.w = float(x), float(y), float(z), float(w)
    return transform


def camera_info(camera: SceneCamera, header: Header, fault: str) -> CameraInfo:
    fields = camera.camera_info_fields()
    info = CameraInfo(header=Header(stamp=header.stamp, frame_id=header.frame_id), **fields)
    if fault == 'nan':
        info.k[0] = float('nan')
    elif fault == 'other_frame':
        info.header.frame_id = 'some_other_optical_frame'
    elif fault == 'other_size':  # a calibration of a quarter-size stream
        info.width, info.height = WIDTH // 2, HEIGHT // 2
    return info


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    camera = cameras(args.count)[args.index - 1]
    rclpy.init()
    node = rclpy.create_node(f'synthetic_{camera.name}')
    reliable = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    pose_pub = node.create_publisher(TwoHandPose, f'{args.view}/hands/raw', reliable)
    info_pub = node.create_publisher(CameraInfo, f'{args.view}/camera_info', reliable)
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
    tf_pub = node.create_publisher(TFMessage, '/tf_static', latched)
    if not args.no_tf:
        tf_pub.publish(TFMessage(transforms=[static_transform(camera,
                                                              node.get_clock().now().to_msg())]))
    print('publishing', flush=True)
    period_ns = int(NS_PER_S / args.rate)
    start = time.monotonic()
    try:
        while rclpy.ok() and time.monotonic() - start < args.duration:
            now_ns = node.get_clock().now().nanoseconds
            next_ns = (now_ns // period_ns + 1) * period_ns
            time.sleep((next_ns - now_ns) * 1e-9)  # a camera's frame clock, not a test wait
            elapsed = time.monotonic() - start
            if args.stop_for and args.stop_after <= elapsed < args.stop_after + args.stop_for:
                continue
            stamp_ns = next_ns + int(args.stamp_offset * NS_PER_S)
            header = Header(stamp=ns_to_stamp(stamp_ns), frame_id=camera.frame_id)
            estimate = view_estimate(camera, stamp_ns * 1e-9, args.noise_px, swap=args.swap,
                                     shift_px=args.shift_px)
            info_pub.publish(camera_info(camera, header, args.camera_info))
            pose_pub.publish(to_two_hand_pose(estimate, header, WIDTH, HEIGHT))
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
