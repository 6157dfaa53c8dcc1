"""`interhand-run`: the node's estimator on a video file, an image folder or a ROS 2 bag, offline.

The estimator comes from processing/factory.py with the settings the node's parameters give
(the flags carry the parameters' names), so a file gives the messages the node would publish.
Outputs: see runner/outputs.py.
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from interhand_ros.engine.options import DEPTH_MODES
from interhand_ros.estimate import HandPoseEstimator
from interhand_ros.geometry.camera_yaml import DEFAULT_HORIZONTAL_FOV_DEG, load_camera_yaml
from interhand_ros.processing.chain import FrameChain
from interhand_ros.processing.factory import EstimatorError, EstimatorSettings, build_estimator
from interhand_ros.runner.bag import BagInput, BagOutput
from interhand_ros.runner.inputs import (
    LOG,
    FolderInput,
    Input,
    InputError,
    VideoInput,
    camera_for,
    input_kind,
)
from interhand_ros.runner.outputs import AnnotatedWriter, OutputSet, RecordWriter
from interhand_ros.settings import (
    DEFAULTS,
    PARAMETERS,
    SYNC_MODES,
    ParameterSpec,
    estimator_settings,
)
from interhand_ros.skeleton import SIDES
from interhand_ros.stamps import ns_to_stamp
from interhand_ros.teleop.trajectories import retargeters_for

ROI_CHOICES = ('full', 'detector', 'track')  # the node's roi.mode values that need no topic
# Written out below: a file needs no checkpoint ('' is the node's), offline depth has 'auto'.
OWN_FLAGS = ('checkpoint', 'depth.mode')
# Every other node parameter that feeds the estimator is a flag built from settings.PARAMETERS.
ENGINE_PARAMETERS = tuple(spec for spec in PARAMETERS
                          if spec.setting and spec.name not in OWN_FLAGS)


def flag_dest(spec: ParameterSpec) -> str:
    """A parameter's flag without its group: --hand-scale sets depth.hand_scale."""
    return spec.name.rsplit('.', 1)[-1]


def value_parser(spec: ParameterSpec) -> Callable[[str], Any]:
    """A flag's type: the parameter's type, within its range (as rclpy checks the node's)."""
    kind = type(spec.default)

    def parse(text: str) -> Any:
        value = kind(text)
        if spec.range is not None and not spec.range[0] <= value <= spec.range[1]:
            raise argparse.ArgumentTypeError(
                f'{spec.name} must be within [{spec.range[0]}, {spec.range[1]}], got {value}')
        return value
    parse.__name__ = kind.__name__  # argparse's "invalid <type> value" message
    return parse


def add_parameter_flag(group: argparse._ArgumentGroup, spec: ParameterSpec) -> None:
    """--<name> for a node parameter, with its default, choices, range and description."""
    flag, text = '--' + flag_dest(spec).replace('_', '-'), spec.description.replace('%', '%%')
    if isinstance(spec.default, bool):
        group.add_argument(flag, dest=flag_dest(spec), default=spec.default, help=text,
                           action=argparse.BooleanOptionalAction)
    else:
        group.add_argument(flag, dest=flag_dest(spec), default=spec.default, help=text,
                           type=value_parser(spec), choices=spec.choices or None)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='interhand-run',
        description='Run the hands node\'s estimator offline on a video file, an image folder '
                    'or a ROS 2 bag.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('input', type=Path,
                        help='video file, image folder, or ROS 2 bag (.db3 / .mcap or its folder)')
    parser.add_argument('--out', type=Path, required=True, help='output folder')
    parser.add_argument('--camera-info', type=Path, default=None,
                        help='camera_calibration YAML (else the bag camera_info, else a guess)')
    parser.add_argument('--fov', type=float, default=DEFAULT_HORIZONTAL_FOV_DEG,
                        help='horizontal field of view GUESS (deg) when no intrinsics are known')
    parser.add_argument('--depth', default=None,
                        help='registered depth: a bag Image topic, or for an image folder a '
                             'folder of same-named 16-bit mm PNG / float32 m TIFF depth images')
    parser.add_argument('--image-topic', default=None, help='bag image topic (default: by type)')
    parser.add_argument('--camera-info-topic', default=None, help='bag CameraInfo topic')
    parser.add_argument('--sync', choices=SYNC_MODES, default='latest',
                        help='bag image/camera_info pairing (the node\'s `sync`); latest: the '
                             'newest camera_info of the frame, any age')
    parser.add_argument('--sync-slop', type=float, default=DEFAULTS['sync_slop'],
                        help='s, largest stamp difference paired (approximate; and depth)')
    parser.add_argument('--roi', choices=ROI_CHOICES, default='detector',
                        help='InterNet roi source (the landmark estimator finds hands itself)')
    parser.add_argument('--fps', type=float, default=10.0,
                        help='frame rate of an image folder (time stamps only)')
    parser.add_argument('--mirrored', action='store_true',
                        help='input is a mirrored (selfie) view: keeps handedness as seen')
    parser.add_argument('--max-frames', type=int, default=0, help='stop after N frames (0: all)')
    parser.add_argument('--views', nargs='+', default=None, metavar='NAMESPACE',
                        help='bag only: fuse these cameras (each <ns>/<image> + <ns>/camera_info, '
                             'extrinsics from the bag\'s /tf_static and /tf) as fusion_node does')
    parser.add_argument('--world-frame', default='world', help='with --views: the fused frame')
    robot = parser.add_argument_group('robot-hand trajectories (teleop.trajectories)')
    robot.add_argument('--retarget', default=None, metavar='ROBOT_OR_CONFIG',
                       help='also write joint trajectories of this robot hand for both sides: '
                            'a robot of dex-retargeting (e.g. leap_hand) or the path of a '
                            'dex-retargeting YAML config (its urdf_path relative to --urdf-dir)')
    for side in SIDES:
        robot.add_argument(f'--retarget-{side}', default=None, metavar='ROBOT_OR_CONFIG',
                           help=f'the same for the {side} hand only (overrides --retarget)')
    robot.add_argument('--urdf-dir', type=Path, default=None,
                       help="the robot URDFs (a dex-urdf checkout's robots/hands folder)")
    robot.add_argument('--retargeting-type', default='vector',
                       help='for robot names: vector, dexpilot or position (a config file '
                            'gives its own)')
    engine = parser.add_argument_group(
        'estimator (the node parameters of these names, without their group: --hand-scale '
        'sets depth.hand_scale)')
    engine.add_argument('--checkpoint', type=Path, default=None,
                        help='InterNet snapshot (e.g. snapshot_20.pth.tar); none: MediaPipe')
    engine.add_argument('--depth-mode', choices=DEPTH_MODES, default='auto',
                        help='absolute hand depth; auto: the depth image when given, else the '
                             'hand-size prior')
    for spec in ENGINE_PARAMETERS:
        add_parameter_flag(engine, spec)
    return parser.parse_args(argv)


def settings_from_flags(args: argparse.Namespace, video: bool) -> EstimatorSettings:
    """The factory's settings from the flags, mapped as the node maps its parameters (the
    node's defaults for every parameter without a flag). video: the landmark fallback tracks."""
    params = dict(DEFAULTS, **{spec.name: getattr(args, flag_dest(spec))
                               for spec in ENGINE_PARAMETERS})
    params['checkpoint'] = str(args.checkpoint) if args.checkpoint is not None else ''
    params['depth.mode'] = args.depth_mode
    return replace(estimator_settings(params), video=video, mirrored=args.mirrored)


def open_input(path: Path, kind: str, fps: float, depth: str | None = None,
               image_topic: str | None = None, camera_info_topic: str | None = None,
               sync: str = 'latest', slop: float = DEFAULTS['sync_slop']) -> Input:
    """The input of `kind` (inputs.input_kind) at path; interhand-quantize reads with it too.
    depth: a bag's depth topic or an image folder's depth folder; fps: an image folder's stamp
    rate; topics (None: found by type) and pairing: bags only. Here, not in inputs.py, because
    runner/bag.py imports inputs.py."""
    if kind == 'video':
        if depth:
            raise InputError('--depth needs a bag (depth topic) or an image folder (depth folder)')
        return VideoInput(path)
    if kind == 'folder':
        return FolderInput(path, fps, Path(depth) if depth else None)
    return BagInput(path, image_topic, camera_info_topic, depth, sync, slop)


def new_chain(args: argparse.Namespace, estimator: HandPoseEstimator) -> FrameChain:
    """The node's per-frame chain around an estimator: roi source, filter, hold, stable sides."""
    from interhand_ros.processing.roi import RoiConfig, RoiSource
    from interhand_ros.teleop.stage import TeleopStage
    roi = None if estimator.finds_hands else RoiSource(RoiConfig(mode=args.roi))
    return FrameChain(estimator, roi, TeleopStage.from_params(DEFAULTS))


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Process the input; returns a summary (frames, hands found per frame, outputs)."""
    kind = input_kind(args.input)
    if args.views:
        if kind != 'bag':
            raise InputError(f'--views fuses the cameras of a ROS 2 bag; {args.input} is a {kind}')
        from interhand_ros.runner.multiview import run_views
        return run_views(args, lambda: build_estimator(
            settings_from_flags(args, video=True), LOG.warning, 'pass --checkpoint PATH'),
            lambda estimator: new_chain(args, estimator))
    robots = {side: getattr(args, f'retarget_{side}') or args.retarget for side in SIDES}
    retargeters = retargeters_for({side: value for side, value in robots.items() if value},
                                  args.urdf_dir or '', args.retargeting_type)
    yaml_info = load_camera_yaml(args.camera_info) if args.camera_info else None
    source = open_input(args.input, kind, args.fps, args.depth, args.image_topic,
                        args.camera_info_topic, args.sync, args.sync_slop)
    roi = None
    estimator: HandPoseEstimator | None = None
    try:
        estimator = build_estimator(settings_from_flags(args, video=kind != 'folder'),
                                    LOG.warning, 'pass --checkpoint PATH')
        chain = new_chain(args, estimator)
        roi = chain.roi
        return _process(args, kind, source, chain, yaml_info, retargeters)
    finally:
        source.close()
        if roi:
            roi.close()
        if estimator is not None:
            estimator.close()


def _process(args: argparse.Namespace, kind: str, source: Input, chain: FrameChain,
             yaml_info: Any, retargeters: dict[str, Any]) -> dict[str, Any]:
    """Run every frame through the node's per-frame chain and write the outputs (kept only
    when the run completes)."""
    from std_msgs.msg import Header
    from tqdm import tqdm

    from interhand_ros.messages import to_two_hand_pose
    from interhand_ros.visualization.drawing import draw_estimate
    from interhand_ros.visualization.markers import to_marker_array

    summary: dict[str, Any] = {
        'input': str(args.input), 'kind': kind, 'frames': 0, 'hands_per_frame': [],
        'estimator': 'internet' if args.checkpoint else 'landmark', 'camera_guessed': False,
        'bad_frames': 0, 'hand_scale': {}}
    total = source.total
    if args.max_frames > 0:
        total = min(total, args.max_frames) if total else args.max_frames
    outputs = OutputSet(args.out)
    annotated = AnnotatedWriter(outputs.path('annotated.mp4' if source.fps else 'annotated'),
                                source.fps)
    records = RecordWriter(outputs)
    trajectories = None
    if retargeters:
        from interhand_ros.teleop.trajectories import TrajectoryWriter
        trajectories = TrajectoryWriter(outputs.path(args.input.stem), retargeters)
        for path in trajectories.paths():
            outputs.path(path.name)  # committed with the other outputs
    bag_out = BagOutput(outputs.path(args.input.stem + '_hands'), source) \
        if isinstance(source, BagInput) else None
    try:
        for frame in tqdm(source.frames(), total=total, unit='frame', desc='interhand-run'):
            if args.max_frames and summary['frames'] >= args.max_frames:
                break
            try:
                camera, guessed = camera_for(frame, yaml_info, args.fov)
                result = chain.process(frame.image_rgb, camera, frame.stamp_ns * 1e-9,
                                       frame.depth)
            except ValueError as error:  # bad frame or CameraInfo: skipped, never fatal
                LOG.warning('frame %d skipped: %s', frame.index, error)
                summary['bad_frames'] += 1
                continue
            summary['camera_guessed'] |= guessed
            summary['hand_scale'].update({h.side: h.calibrated_scale for h in result.raw.hands()
                                          if np.isfinite(h.calibrated_scale)})
            estimate = result.estimate
            header = Header(stamp=ns_to_stamp(frame.stamp_ns), frame_id=frame.frame_id)
            height, width = frame.image_rgb.shape[:2]
            pose = to_two_hand_pose(estimate, header, width, height)
            records.write(frame, estimate, pose, guessed)
            if trajectories:
                trajectories.add(frame.index, frame.stamp_ns * 1e-9, estimate)
            annotated.write(frame, draw_estimate(frame.image_rgb, estimate))
            if bag_out:
                bag_out.write_result(frame.stamp_ns, pose, to_marker_array(estimate, header))
            summary['frames'] += 1
            summary['hands_per_frame'].append(sum(h.detected for h in estimate.hands()))
        if summary['frames'] == 0:
            raise InputError(f'no frame of {args.input} could be processed')
        records.close()
        annotated.close()
        if trajectories:
            trajectories.close()
        if bag_out:
            bag_out.finish()
            bag_out = None
        summary['outputs'] = [str(p) for p in outputs.commit()]
        return summary
    except BaseException:
        records.close()
        annotated.close()
        if trajectories:
            trajectories.close()
        if bag_out:
            bag_out.close()
        outputs.discard()
        raise


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format='%(name)s: %(levelname)s: %(message)s')
    args = parse_args(argv)
    try:
        summary = run(args)
    except (InputError, EstimatorError, OSError, ValueError) as error:
        LOG.error('%s', error)
        return 2
    found = summary['hands_per_frame']
    LOG.info('%d frames, hands found per frame: %s; outputs: %s', summary['frames'],
             found if len(found) <= 20 else f'mean {np.mean(found):.2f}',
             ', '.join(summary['outputs']))
    if summary['hand_scale']:
        LOG.info('hand scale relative to the mean adult hand, self-calibrated from the depth '
                 'images: %s (an RGB-only run can start with --hand-scale, the node with '
                 '-p depth.hand_scale:=...)', ', '.join(
                     f'{side} {scale:.3f}' for side, scale in summary['hand_scale'].items()))
    if summary['camera_guessed']:
        LOG.warning('no intrinsics given: metric depth used a %.0f deg field-of-view GUESS '
                    '(pass --camera-info for real metres)', args.fov)
    return 0


if __name__ == '__main__':
    sys.exit(main())
