"""`interhand-calibrate`: every camera's intrinsics and pose in one world frame from views of a
ChArUco board, checked, written as the YAML the launch file publishes on /tf_static.

    interhand-calibrate --board 7x5 --square 0.05 --marker 0.037 \\
        --images cam1=cam1/ cam2=cam2.mp4 --out calibration.yaml
    interhand-calibrate ... --bag recording/ --topics /cam1/image_raw /cam2/image_raw
    interhand-calibrate ... --live /cam1 /cam2            # running cameras
    interhand-calibrate --board 7x5 --square 0.05 --marker 0.037 --print-board board.pdf

Beside --out: <stem>_report.txt, <stem>_top_view.png, and <stem>_<camera>.yaml (the
camera_calibration format) for every camera whose intrinsics were estimated.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from interhand_ros.calibration.board import DEFAULT_DICTIONARY, BoardError, BoardSpec
from interhand_ros.calibration.detection import BoardDetector
from interhand_ros.calibration.extrinsics_yaml import (
    CameraExtrinsics,
    Extrinsics,
    write_camera_yaml,
    write_extrinsics,
)
from interhand_ros.calibration.intrinsics import CalibrationError, Intrinsics
from interhand_ros.calibration.plot import plot_top_view
from interhand_ros.calibration.poses import quaternion_xyzw
from interhand_ros.calibration.printing import print_board
from interhand_ros.calibration.report import format_report
from interhand_ros.calibration.solve import Calibration, CameraViews, calibrate
from interhand_ros.geometry.camera_yaml import CameraYamlError, load_camera_yaml
from interhand_ros.runner.calibrate_inputs import bag_views, file_views, parse_named
from interhand_ros.runner.inputs import InputError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='interhand-calibrate', description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    board = parser.add_argument_group('the printed board')
    board.add_argument('--board', required=True, help='squares across x down, e.g. 7x5')
    board.add_argument('--square', type=float, required=True, help='square side in metres')
    board.add_argument('--marker', type=float, required=True, help='marker side in metres')
    board.add_argument('--dictionary', default=DEFAULT_DICTIONARY,
                       help=f'OpenCV ArUco dictionary (default {DEFAULT_DICTIONARY})')
    board.add_argument('--print-board', type=Path, metavar='FILE',
                       help='write the board at true scale (.png or .pdf) and exit')
    source = parser.add_mutually_exclusive_group()
    source.add_argument('--images', nargs='+', metavar='NAME=PATH', default=[],
                        help='per camera an image folder or a video; the same frame index '
                             'in every camera was taken at the same time')
    source.add_argument('--bag', type=Path, help='a ROS 2 bag; its image topics by --topics')
    source.add_argument('--live', nargs='+', metavar='[NAME=]TOPIC', default=[],
                        help='running cameras: a namespace (/cam1: /cam1/image_raw and '
                             '/cam1/camera_info) or an image topic')
    parser.add_argument('--topics', nargs='+', metavar='[NAME=]TOPIC', default=[],
                        help="the bag's image topics, one per camera")
    parser.add_argument('--camera-info', nargs='+', metavar='NAME=YAML', default=[],
                        help='camera_calibration YAML per camera (images and videos have none)')
    parser.add_argument('--frame-id', nargs='+', metavar='NAME=FRAME', default=[],
                        help="optical frame id per camera (default: the images' header "
                             'frame_id, or NAME_optical_frame for files)')
    parser.add_argument('--intrinsics', action='store_true',
                        help='estimate every camera\'s intrinsics (always done for a camera '
                             'without a usable camera_info)')
    parser.add_argument('--tangential', action='store_true',
                        help='estimated lenses also get tangential distortion (p1, p2): only '
                             "with views that reach every image's corners")
    parser.add_argument('--world-camera', metavar='NAME',
                        help="world frame = this camera's optical frame (default: the board's "
                             'first pose seen by two cameras)')
    parser.add_argument('--world-frame', default='world', help='world frame id (default world)')
    parser.add_argument('--out', type=Path, default=Path('calibration.yaml'))
    parser.add_argument('--slop', type=float, default=0.01,
                        help='bag and live: stamps within this many seconds are one moment')
    parser.add_argument('--views', type=int, default=30, help='live: views to grab')
    parser.add_argument('--timeout', type=float, default=120.0, help='live: seconds at most')
    return parser


def given_lens(name: str, path: str) -> Intrinsics:
    """A --camera-info YAML's lens; the error names the camera."""
    try:
        return Intrinsics.from_camera_info(load_camera_yaml(path))
    except (CameraYamlError, CalibrationError) as error:
        raise CalibrationError(f'{name}: --camera-info {path}: {error}') from error


def camera_views(args: argparse.Namespace, spec: BoardSpec) -> list[CameraViews]:
    """Each camera's detections from the chosen source."""
    detector = BoardDetector(spec)
    lenses = {name: given_lens(name, path)  # --intrinsics estimates every lens instead
              for name, path in parse_named(args.camera_info, '--camera-info').items()
              if not args.intrinsics}
    frame_ids = parse_named(args.frame_id, '--frame-id')
    if args.images:
        paths = parse_named(args.images, '--images')
        return [file_views(name, Path(path), detector,
                           frame_ids.get(name, f'{name}_optical_frame'), lenses.get(name))
                for name, path in paths.items()]
    if args.bag:
        if not args.topics:
            raise InputError('--bag needs --topics, one image topic per camera')
        topics = parse_named(args.topics, '--topics', default_names=True)
        return bag_views(args.bag, topics, detector, frame_ids, lenses, args.slop)
    if args.live:
        from interhand_ros.runner.calibrate_live import grab_live
        views = grab_live(parse_named(args.live, '--live', default_names=True), detector,
                          args.views, args.timeout, args.slop)
        for camera in views:
            camera.frame_id = frame_ids.get(camera.name, camera.frame_id)
            camera.lens = lenses.get(camera.name, camera.lens)
        return views
    raise InputError('give the cameras: --images, --bag with --topics, or --live')


def extrinsics_of(calibration: Calibration) -> Extrinsics:
    cameras = {}
    for name, camera in calibration.cameras.items():
        x, y, z = (float(v) for v in camera.pose[:3, 3])
        qx, qy, qz, qw = (float(v) for v in quaternion_xyzw(camera.pose))
        cameras[name] = CameraExtrinsics(
            camera.frame_id, (x, y, z), (qx, qy, qz, qw),
            float(np.median(camera.errors_px)),
            camera.lens if camera.lens_estimated else None)
    return Extrinsics(calibration.world_frame, cameras)


def write_outputs(calibration: Calibration, spec: BoardSpec, out: Path) -> str:
    """The YAML, the report, the plan view and the per-camera lens YAMLs; returns the report."""
    out.parent.mkdir(parents=True, exist_ok=True)
    write_extrinsics(out, extrinsics_of(calibration))
    report = format_report(calibration)
    (out.parent / f'{out.stem}_report.txt').write_text(report)
    plot_top_view(calibration, spec, out.parent / f'{out.stem}_top_view.png')
    for name, camera in calibration.cameras.items():
        if camera.lens_estimated:
            write_camera_yaml(out.parent / f'{out.stem}_{name}.yaml', name, camera.lens)
    return report


def run(args: argparse.Namespace) -> int:
    spec = BoardSpec.parse(args.board, args.square, args.marker, args.dictionary)
    if args.print_board:
        caption = print_board(spec, args.print_board)
        print(f'wrote {args.print_board}: {spec.describe()}\n{caption}')
        return 0
    views = camera_views(args, spec)
    calibration = calibrate(spec, views, args.intrinsics, args.world_camera, args.world_frame,
                            args.tangential)
    print(write_outputs(calibration, spec, args.out), end='')
    print(f'wrote {args.out} (and its report, top view and lens files beside it)')
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format='[interhand-calibrate] %(message)s')
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (BoardError, CalibrationError, InputError, CameraYamlError) as error:
        print(f'interhand-calibrate: error: {error}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
