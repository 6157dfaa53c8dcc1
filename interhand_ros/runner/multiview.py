"""`interhand-run --views /cam1 /cam2 ...`: the fusion node's path on a bag of several cameras.

Each view is `<view>/<image topic>` + `<view>/camera_info` of the bag, read and paired as the
hands node pairs them (runner/bag.BagInput) and run through its own estimator and FrameChain, as
one hands node per camera would; /tf_static and /tf of the bag give world <- each optical frame
(geometry.transforms); the views' estimates are grouped by stamp and fused by the same parts as
fusion_node (multiview.grouping.StampGrouper, processing.fused_chain.FusedChain with the fusion
node's default settings). Bag time stands in for arrival time, so no clock check applies.
Outputs: fused.jsonl (one line per group: the fused pose and what the fusion did) and a copy of
the bag with the fused /hands and /hands/markers (world frame) added.
"""
from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from interhand_ros.estimate import HandPoseEstimator
from interhand_ros.fusion_settings import FUSION_DEFAULTS, grouping_config, normalized_views
from interhand_ros.geometry.camera import CameraInfoError, CameraModel
from interhand_ros.geometry.transforms import TransformBuffer, TransformError
from interhand_ros.multiview.grouping import Group, StampGrouper
from interhand_ros.multiview.observations import ObservationError, ViewObservation
from interhand_ros.processing.chain import FrameChain
from interhand_ros.processing.fused_chain import FusedChain
from interhand_ros.runner.bag import CAMERA_INFO_TYPE, IMAGE_TYPES, BagInput
from interhand_ros.runner.inputs import LOG, InputError, InputFrame
from interhand_ros.runner.outputs import OutputSet, message_to_dict
from interhand_ros.stamps import NS_PER_S, ns_to_stamp

TF_TOPICS = ('/tf_static', '/tf')
FLUSH_NS = 10 * NS_PER_S  # past the last frame: every pending group is complete or timed out


def view_topics(topics: dict[str, str], view: str) -> tuple[str, str]:
    """(image topic, camera_info topic) under a view's namespace; InputError naming what the
    bag lacks (fusion needs every view's calibration)."""
    under = {t: kind for t, kind in topics.items()
             if t.startswith(view + '/') and 'depth' not in t.lower()}
    images = sorted(t for t, kind in under.items() if kind in IMAGE_TYPES)
    infos = sorted(t for t, kind in under.items() if kind == CAMERA_INFO_TYPE)
    if not images or not infos:
        raise InputError(f'{view}: the bag has no {"image" if not images else "camera_info"} '
                         f'topic under {view}/ (topics: {sorted(topics)})')
    return images[0], infos[0]


def bag_transforms(source: BagInput) -> TransformBuffer:
    """Every transform of the bag's /tf_static and /tf (the whole bag's history)."""
    buffer = TransformBuffer(history_ns=2**62)
    reader = source.reader
    wanted = [c for c in reader.connections if c.topic in TF_TOPICS]
    for connection, _, raw in reader.messages(connections=wanted):
        msg = reader.deserialize(raw, connection.msgtype)
        for problem in buffer.add_message(msg, static=connection.topic == '/tf_static'):
            LOG.warning('%s', problem)
    return buffer


class ViewRunner:
    """One view of the bag: its frames, its estimator and chain, its observations."""

    def __init__(self, view: str, source: BagInput, chain: FrameChain) -> None:
        self.view, self.source, self.chain = view, source, chain
        self.used = self.skipped = 0

    def frames(self) -> Iterator[tuple[int, str, InputFrame]]:
        for frame in self.source.frames():
            yield frame.stamp_ns, self.view, frame

    def observe(self, frame: InputFrame, buffer: TransformBuffer, world: str,
                tolerance_ns: int) -> ViewObservation | None:
        """The frame's estimate as an observation, or None (logged) when it cannot be one."""
        try:
            if frame.camera_info is None:
                raise CameraInfoError('no camera_info for this frame')
            camera = CameraModel.from_camera_info(frame.camera_info, rectified=False)
            raw = self.chain.process(frame.image_rgb, camera, frame.stamp_ns / NS_PER_S,
                                     frame.depth).raw
            pose = buffer.lookup(world, frame.frame_id.lstrip('/'), frame.stamp_ns,
                                 tolerance_ns)
            observation = ViewObservation(self.view, frame.stamp_ns, camera, pose, raw)
        except (ValueError, TransformError, ObservationError) as error:
            LOG.warning('%s frame at %d ns not fused: %s', self.view, frame.stamp_ns, error)
            self.skipped += 1
            return None
        self.used += 1
        return observation


def run_views(args: Any, build: Callable[[], HandPoseEstimator],
              make_chain: Callable[[HandPoseEstimator], FrameChain]) -> dict[str, Any]:
    """Fuse the bag's views (args.views) into args.out; returns interhand-run's summary."""
    views = normalized_views(list(args.views))
    with ExitStack() as opened:  # closed in reverse: each view's roi, estimator, bag reader
        topics = _topics(args.input)
        runners = []
        for view in views:
            source = BagInput(args.input, *view_topics(topics, view), None, args.sync,
                              args.sync_slop)
            opened.callback(source.close)
            estimator = build()
            opened.callback(estimator.close)
            chain = make_chain(estimator)
            if chain.roi is not None:
                opened.callback(chain.roi.close)
            runners.append(ViewRunner(view, source, chain))
        return _fuse(args, runners, bag_transforms(runners[0].source))


def _topics(path: Path) -> dict[str, str]:
    from rosbags.highlevel import AnyReader
    with AnyReader([path]) as reader:
        return {c.topic: c.msgtype for c in reader.connections}


def _fuse(args: Any, runners: list[ViewRunner], buffer: TransformBuffer) -> dict[str, Any]:
    from std_msgs.msg import Header

    from interhand_ros.messages import to_two_hand_pose
    from interhand_ros.runner.bag import BagOutput
    from interhand_ros.visualization.markers import MarkerStyle, to_marker_array

    params = FUSION_DEFAULTS
    world = args.world_frame.strip('/')
    tolerance_ns = round(params['tf_tolerance'] * NS_PER_S)
    grouper: StampGrouper[ViewObservation] = StampGrouper([r.view for r in runners],
                                                          grouping_config(params))
    fused_chain = FusedChain.from_params(params)
    by_view = {runner.view: runner for runner in runners}
    summary: dict[str, Any] = {'input': str(args.input), 'kind': 'bag', 'frames': 0,
                               'hands_per_frame': [], 'camera_guessed': False,
                               'hand_scale': {}, 'views': {}}
    outputs = OutputSet(args.out)
    bag_out = BagOutput(outputs.path(args.input.stem + '_fused'), runners[0].source)
    records = open(outputs.path('fused.jsonl'), 'w')  # noqa: SIM115 - closed below

    def write(group: Group[ViewObservation]) -> None:
        fused = fused_chain.fuse(list(group.items.values()), group.stamp_ns)
        header = Header(stamp=ns_to_stamp(group.stamp_ns), frame_id=world)
        pose = to_two_hand_pose(fused.estimate, header, 0, 0)
        bag_out.write_result(group.stamp_ns, pose, to_marker_array(fused.estimate, header,
                                                                   MarkerStyle()))
        result = fused.result
        records.write(json.dumps({
            'stamp_ns': group.stamp_ns, 'views_used': result.views_used,
            'reprojection_error_px': result.reprojection_error_px, 'rejected': result.rejected,
            'swapped': result.swapped, 'warnings': fused.warnings,
            'sources': {side: source.describe() for side, source in result.sources.items()},
            'pose': message_to_dict(pose)}) + '\n')
        summary['frames'] += 1
        summary['hands_per_frame'].append(sum(h.detected for h in fused.estimate.hands()))

    last = 0
    try:
        for stamp_ns, view, frame in heapq.merge(*(r.frames() for r in runners),
                                                 key=lambda item: item[0]):
            if args.max_frames and summary['frames'] >= args.max_frames:
                break
            last = max(last, stamp_ns)
            observation = by_view[view].observe(frame, buffer, world, tolerance_ns)
            groups = grouper.poll(stamp_ns) if observation is None else \
                grouper.add(view, stamp_ns, stamp_ns, observation)
            for event in grouper.take_events():
                LOG.info('%s', event.message)
            for group in groups:
                write(group)
        for group in grouper.poll(last + FLUSH_NS):
            write(group)
        if summary['frames'] == 0:
            raise InputError(f'no group of {", ".join(by_view)} could be fused from '
                             f'{args.input} (see the warnings above)')
        records.close()
        bag_out.finish()
        summary['views'] = {r.view: {'frames': r.used, 'skipped': r.skipped} for r in runners}
        summary['outputs'] = [str(p) for p in outputs.commit()]
        return summary
    except BaseException:
        records.close()
        bag_out.close()
        outputs.discard()
        raise
