"""`make demo`: the real hands node, over real DDS, on real photos played as a camera.

Starts `hands_node` as its own process on a private ROS_DOMAIN_ID, publishes each photo as
sensor_msgs/Image + CameraInfo (intrinsics from a field-of-view guess, flagged as such), and
writes what comes back to --out (default out/demo):
  debug/NNN_<photo>.jpg      the node's debug image (2D skeletons, roi box, handedness)
  plot3d/NNN_<photo>.png     both hands in 3D, metres, camera optical frame
  messages.jsonl             every TwoHandPose received, as JSON
  summary.json, node.log     the per-frame summary (also printed) and the node's log
Photos: --input (image, folder or video), else ../shared/data next to the repository, else the
hand photos of Debian's opencv-doc package, downloaded once into the user cache.
With CHECKPOINT=/path/to/snapshot_20.pth.tar (or --checkpoint) the node runs InterNet; without
it, the bundled MediaPipe landmark fallback. The camera (this process) and the node get the
Fast DDS profile config/fastdds.xml (--dds-profile; an exported FASTDDS_DEFAULT_PROFILES_FILE
is kept), so photos over 512 KB travel through shared memory instead of lossy UDP.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from interhand_ros.geometry.camera_yaml import DEFAULT_HORIZONTAL_FOV_DEG
from interhand_ros.runner.inputs import IMAGE_SUFFIXES
from interhand_ros.runner.outputs import message_to_dict
from interhand_ros.skeleton import SIDES
from tools.demo_topics import IMAGE_TOPIC, INFO_TOPIC, NAMESPACE, DemoError, FrameResult

REPOSITORY = Path(__file__).resolve().parents[1]
SHARED_DATA = REPOSITORY / '..' / 'shared' / 'data'
SHARED_PHOTOS = ('hands/handSrc.jpg', 'hands/Histogram_Comparison_Source_0.jpg',
                 'hands/Histogram_Comparison_Source_1.jpg',
                 'hands/Histogram_Comparison_Source_2.jpg', 'interhand_demo/input.jpg')
DDS_PROFILE = REPOSITORY / 'config' / 'fastdds.xml'
DDS_VARIABLE = 'FASTDDS_DEFAULT_PROFILES_FILE'
OPENCV_DOC_PHOTOS = ('handSrc.jpg', 'Histogram_Comparison_Source_0.jpg',
                     'Histogram_Comparison_Source_1.jpg', 'Histogram_Comparison_Source_2.jpg')

# ----------------------------------------------------------------------------- photos

def user_cache_dir() -> Path:
    return Path(os.environ.get('XDG_CACHE_HOME', Path.home() / '.cache')) / 'interhand_ros'


def fetch_opencv_doc_photos(cache: Path) -> list[Path]:
    """Real hand photos from Debian's opencv-doc package (apt-get download, no root needed)."""
    wanted = [cache / name for name in OPENCV_DOC_PHOTOS]
    if all(path.exists() for path in wanted):
        return wanted
    if shutil.which('apt-get') is None or shutil.which('dpkg') is None:
        raise DemoError('no photos: ../shared/data is absent and apt-get/dpkg are not available '
                        'to fetch Debian opencv-doc; pass --input IMAGE_OR_FOLDER_OR_VIDEO')
    print('demo: downloading Debian opencv-doc (about 96 MB) for its hand photos ...')
    with tempfile.TemporaryDirectory() as scratch:
        for command in (['apt-get', 'download', 'opencv-doc'],
                        ['sh', '-c', 'dpkg -x opencv-doc_*.deb extracted']):
            result = subprocess.run(command, cwd=scratch, capture_output=True, text=True)
            if result.returncode != 0:
                raise DemoError(f'{" ".join(command)} failed: {result.stderr.strip()[-500:]}; '
                                'pass --input IMAGE_OR_FOLDER_OR_VIDEO instead')
        cache.mkdir(parents=True, exist_ok=True)
        for path in wanted:
            found = next(Path(scratch, 'extracted').rglob(path.name), None)
            if found is None:
                raise DemoError(f'{path.name} is not in this opencv-doc package')
            shutil.copyfile(found, path)
    return wanted


def find_photos(user_input: Path | None) -> list[Path]:
    """Photo files (or one video) to play: --input, shared data, or opencv-doc photos."""
    if user_input is not None:
        if user_input.is_dir():
            photos = sorted(p for p in user_input.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not photos:
                raise DemoError(f'no images in {user_input}')
            return photos
        if not user_input.exists():
            raise DemoError(f'--input {user_input} does not exist')
        return [user_input]
    shared = [SHARED_DATA / name for name in SHARED_PHOTOS]
    if all(path.exists() for path in shared):
        return shared
    return fetch_opencv_doc_photos(user_cache_dir() / 'demo_photos')


def load_frames(paths: list[Path], max_frames: int) -> list[tuple[str, np.ndarray]]:
    """(name, RGB image) pairs; a video contributes up to max_frames evenly spaced frames."""
    frames: list[tuple[str, np.ndarray]] = []
    for path in paths:
        if path.suffix.lower() in IMAGE_SUFFIXES:
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise DemoError(f'cannot read image {path}')
            frames.append((path.stem, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
            continue
        capture = cv2.VideoCapture(str(path))
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if not capture.isOpened() or count <= 0:
            raise DemoError(f'cannot read {path} as an image or a video')
        for index in np.linspace(0, count - 1, min(max_frames, count)).astype(int):
            capture.set(cv2.CAP_PROP_POS_FRAMES, int(index))
            ok, bgr = capture.read()
            if ok:
                frames.append((f'{path.stem}_{index:05d}', cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
        capture.release()
    if not frames:
        raise DemoError('no frame to play')
    return frames[:max_frames]


# ----------------------------------------------------------------------------- the node

def node_command(checkpoint: str | None) -> list[str]:
    """hands_node with the demo's topics (its console script when installed, else -m)."""
    script = Path(sys.executable).with_name('hands_node')
    launcher = [str(script)] if script.exists() else [sys.executable, '-m',
                                                      'interhand_ros.ros.hands_node']
    # the node's default checkpoint '' means the landmark fallback; with a checkpoint its
    # default roi.mode (detector) puts InterNet's crop around the hands
    parameters = ['-p', f'checkpoint:={checkpoint}'] if checkpoint else []
    return launcher + ['--ros-args', '-r', f'__ns:={NAMESPACE}', '-r', f'image:={IMAGE_TOPIC}',
                       '-r', f'camera_info:={INFO_TOPIC}', *parameters]


def stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """Ctrl-C the node (clean shutdown), then terminate / kill it if it hangs."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.terminate()
        try:
            process.wait(5.0)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ----------------------------------------------------------------------------- outputs

def write_frame_outputs(out: Path, index: int, result: FrameResult, fov_deg: float) -> None:
    from interhand_ros.visualization.plot3d import plot_hands_3d, pose_joints
    stem = f'{index:03d}_{result.name}'
    if result.debug_rgb is not None:
        cv2.imwrite(str(out / 'debug' / f'{stem}.jpg'),
                    cv2.cvtColor(result.debug_rgb, cv2.COLOR_RGB2BGR))
    if result.pose is not None:
        plot_hands_3d(pose_joints(result.pose), out / 'plot3d' / f'{stem}.png',
                      title=f'{result.name} (intrinsics: {fov_deg:.0f} deg FOV guess)')


def _finite(value: float) -> float | None:
    return round(float(value), 3) if np.isfinite(value) else None  # JSON has no NaN


def summarize(results: list[FrameResult], estimator_name: str) -> dict[str, Any]:
    frames: list[dict[str, Any]] = []
    for result in results:
        pose = result.pose
        frames.append({
            'photo': result.name, 'answered': pose is not None,
            'hands': [side for side in SIDES if pose is not None
                      and getattr(pose, side).detected],
            'wrist_z_m': {side: _finite(getattr(pose, side).wrist_pose.position.z)
                          for side in SIDES
                          if pose is not None and getattr(pose, side).detected},
            'latency_ms': round(result.latency_s * 1e3, 1) if pose is not None else None,
            'inference_ms': round(pose.inference_time * 1e3, 1) if pose is not None else None,
            'sends': result.sends,
        })
    latencies = [f['latency_ms'] for f in frames if f['latency_ms'] is not None]
    return {'estimator': estimator_name, 'frames': frames,
            'answered': sum(f['answered'] for f in frames),
            'hands_found': sum(len(f['hands']) for f in frames),
            'median_latency_ms': float(np.median(latencies)) if latencies else None}


def print_summary(summary: dict[str, Any], out: Path) -> None:
    print(f"\ndemo: estimator {summary['estimator']}, {summary['answered']}/"
          f"{len(summary['frames'])} frames answered, {summary['hands_found']} hands found")
    print(f"{'photo':36s} {'hands':12s} {'wrist z [m]':16s} {'latency':>9s} {'inference':>9s}")
    for frame in summary['frames']:
        hands = ','.join(frame['hands']) or '-'
        depth = ','.join('?' if z is None else f'{z:.2f}'
                         for z in frame['wrist_z_m'].values()) or '-'
        latency = f"{frame['latency_ms']:.0f} ms" if frame['answered'] else 'no answer'
        inference = f"{frame['inference_ms']:.0f} ms" if frame['answered'] else ''
        print(f"{frame['photo'][:36]:36s} {hands:12s} {depth:16s} {latency:>9s} {inference:>9s}")
    if summary['median_latency_ms'] is not None:
        print(f"median latency (publish -> pose received): {summary['median_latency_ms']:.0f} ms")
    print(f'outputs in {out}/ (debug/, plot3d/, messages.jsonl, summary.json, node.log)')


# ----------------------------------------------------------------------------- main

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='python -m tools.demo', description=__doc__.split('\n\n')[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--input', type=Path, default=None,
                        help='image, image folder or video (default: real hand photos)')
    parser.add_argument('--out', type=Path, default=Path('out/demo'), help='output folder')
    parser.add_argument('--checkpoint', default=os.environ.get('CHECKPOINT') or None,
                        help='InterNet checkpoint (default: $CHECKPOINT; none: MediaPipe)')
    parser.add_argument('--fov', type=float, default=DEFAULT_HORIZONTAL_FOV_DEG,
                        help='horizontal field of view GUESS for the CameraInfo (deg)')
    parser.add_argument('--max-frames', type=int, default=12, help='most frames to play')
    parser.add_argument('--frame-timeout', type=float, default=30.0,
                        help='s to wait for the pose of one frame')
    parser.add_argument('--startup-timeout', type=float, default=90.0,
                        help='s to wait for the node to come up on DDS')
    parser.add_argument('--domain-id', type=int, default=None,
                        help='ROS_DOMAIN_ID (default: a private one from the process id)')
    parser.add_argument('--dds-profile', default=str(DDS_PROFILE),
                        help=f"Fast DDS profile for the camera and the node ('' = none; an "
                             f'exported {DDS_VARIABLE} is kept)')
    return parser.parse_args(argv)


def use_dds_profile(profile: str) -> str:
    """Export the Fast DDS profile for this process (the camera) and the node; says which."""
    exported = os.environ.get(DDS_VARIABLE)
    if exported is not None:
        return f'keeping the exported {DDS_VARIABLE}={exported!r}'
    if not profile:
        return 'no Fast DDS profile: photos over 512 KB may be lost between the processes'
    if not Path(profile).is_file():
        raise DemoError(f"--dds-profile {profile} does not exist ('' = none)")
    os.environ[DDS_VARIABLE] = str(Path(profile).resolve())
    return f'{DDS_VARIABLE}={os.environ[DDS_VARIABLE]}'


def run_demo(args: argparse.Namespace) -> dict[str, Any]:
    """Play the photos through the node and write the outputs; returns the summary."""
    if args.checkpoint and not Path(args.checkpoint).is_file():
        raise DemoError(f'checkpoint {args.checkpoint} does not exist')
    frames = load_frames(find_photos(args.input), args.max_frames)
    out = args.out
    for folder in ('debug', 'plot3d'):
        shutil.rmtree(out / folder, ignore_errors=True)
        (out / folder).mkdir(parents=True)
    os.environ['ROS_DOMAIN_ID'] = str(args.domain_id if args.domain_id is not None
                                      else 10 + os.getpid() % 90)
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    print(f'demo: {use_dds_profile(args.dds_profile)}')
    estimator_name = 'internet' if args.checkpoint else 'landmark (MediaPipe fallback)'
    print(f"demo: {len(frames)} photos, estimator {estimator_name}, "
          f"ROS_DOMAIN_ID={os.environ['ROS_DOMAIN_ID']}; starting hands_node ...")
    with open(out / 'node.log', 'w') as node_log:
        process = subprocess.Popen(node_command(args.checkpoint), stdout=node_log,
                                   stderr=subprocess.STDOUT, env=os.environ.copy())
        camera = None
        try:
            from tools.demo_camera import (
                DemoCamera,  # rclpy: only when playing
            )
            camera = DemoCamera(args.fov)
            camera.wait_for_node(process, args.startup_timeout)
            results = []
            with open(out / 'messages.jsonl.partial', 'w') as messages:
                for index, (name, rgb) in enumerate(frames):
                    result = camera.play(name, rgb, process, args.frame_timeout)
                    results.append(result)
                    if result.pose is not None:
                        messages.write(json.dumps({'photo': name,
                                                   **message_to_dict(result.pose)}) + '\n')
                    write_frame_outputs(out, index, result, args.fov)
            os.replace(out / 'messages.jsonl.partial', out / 'messages.jsonl')
        finally:
            if camera is not None:
                camera.close()
            stop_process(process)
    summary = summarize(results, estimator_name)
    (out / 'summary.json').write_text(json.dumps(summary, indent=2) + '\n')
    return summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = run_demo(args)
    except DemoError as error:
        print(f'demo: ERROR: {error} (node log: {args.out / "node.log"})', file=sys.stderr)
        return 1
    print_summary(summary, args.out)
    return 0 if summary['answered'] == len(summary['frames']) else 1


if __name__ == '__main__':
    sys.exit(main())
