"""Every setting of the fusion node, defined once (the pattern of settings.py, its own table).

The fusion node's own parameters come first; the teleop stage, markers, /tf and diagnostics
settings are the hands node's (settings.SPECS), so both nodes filter, hold and draw the same way
and the hands node's docs describe them once. config/fusion.yaml repeats the defaults for people
to read and edit (a test keeps them equal). No rclpy here: the launch file imports it too.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import pairwise
from typing import Any

from interhand_ros.multiview.grouping import GroupingConfig
from interhand_ros.settings import SPECS, ParameterSpec
from interhand_ros.stamps import NS_PER_S

# The hands node's settings the fusion node shares: what happens after the estimate.
SHARED = ('autostart', 'rectified', 'filter.enabled', 'filter.min_cutoff', 'filter.beta',
          'filter.d_cutoff', 'filter.hold_s', 'identity.switch_frames', 'identity.gate',
          'identity.max_gap', 'publish_markers', 'markers.lifetime', 'markers.joint_diameter',
          'markers.bone_width', 'markers.wrist_axes', 'tf.publish', 'tf.prefix',
          'diagnostics_period', 'log_throttle')
MIN_VIEWS = 2

FUSION_PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec('views', [],
                  'camera namespaces, at least two (e.g. [/cam1, /cam2]): view /cam1 is '
                  "/cam1/hands/raw (the TwoHandPose of a hands node in that namespace) and "
                  '/cam1/camera_info', launch=True),
    ParameterSpec('world_frame', 'world',
                  'fixed frame of the fused hands (REP-105); each camera optical frame is '
                  'looked up in it on /tf_static and /tf', launch=True),
    ParameterSpec('sync_tolerance', 0.0,
                  's, largest stamp difference between views fused together; 0 = half the '
                  "cameras' frame period, measured from their camera_info stamps (half a 30 Hz "
                  'period until measured)', range=(0.0, 1.0), launch=True),
    ParameterSpec('max_wait', 0.3,
                  's, a group still missing a live view is fused without it this long after '
                  'its first view arrived (a view that skipped the instant moves past it with '
                  'its next message, so this only bounds the wait for a view that stalls)',
                  range=(0.001, 10.0), launch=True),
    ParameterSpec('view_timeout', 1.0,
                  's, a view that sent nothing for this long is left out of the groups (the '
                  'others go on without waiting for it); it rejoins with its next message',
                  range=(0.01, 60.0), launch=True),
    ParameterSpec('max_clock_offset', 2.0,
                  "s, a view whose stamps are further than this from the fusion node's clock "
                  '(behind or ahead) is excluded: its clock is off, or its poses are too old',
                  range=(0.001, 3600.0)),
    ParameterSpec('tf_tolerance', 0.1,
                  's, a camera transform on /tf (not /tf_static) is used within this of the '
                  "view's stamp", range=(0.0, 10.0)),
    ParameterSpec('health_warn_px', 8.0,
                  'px, /diagnostics warns that a view disagrees with the others (recalibrate, '
                  'or it moved) when its median reprojection error over the last 90 groups is '
                  'above this while the other views (two or more) stay below half of it',
                  range=(0.1, 1000.0)),
) + tuple(SPECS[name] for name in SHARED)

FUSION_DEFAULTS: dict[str, Any] = {spec.name: spec.default for spec in FUSION_PARAMETERS}
FUSION_SPECS: dict[str, ParameterSpec] = {spec.name: spec for spec in FUSION_PARAMETERS}


def normalized_views(views: list[str]) -> list[str]:
    """Views as absolute namespaces without a trailing '/'; ValueError for fewer than two
    distinct ones (fusion needs two views of a hand), an empty name or a duplicate."""
    names = ['/' + view.strip().strip('/') for view in views]
    if any(name == '/' for name in names):
        raise ValueError(f'views must be camera namespaces such as /cam1, got {list(views)}')
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f'views lists {", ".join(duplicates)} more than once')
    if len(names) < MIN_VIEWS:
        raise ValueError(f'fusion needs at least {MIN_VIEWS} views (camera namespaces), got '
                         f'{len(names)}: {list(views)}; set -p views:="[/cam1, /cam2]"')
    return names


def fusion_problem(params: Mapping[str, Any]) -> str | None:
    """Why the parameters cannot configure the fusion node (None: they can)."""
    try:
        normalized_views(list(params['views']))
    except ValueError as error:
        return str(error)
    if not str(params['world_frame']).strip('/'):
        return 'world_frame must name a frame, got an empty string'
    return None


def grouping_config(params: Mapping[str, Any], period_ns: int | None = None) -> GroupingConfig:
    """The stamp grouper's settings from the parameters (seconds -> nanoseconds); an automatic
    sync_tolerance (0) is half of period_ns, the views' measured frame period (None: unknown)."""
    tolerance_ns = round(params['sync_tolerance'] * NS_PER_S) or (
        period_ns // 2 if period_ns else GroupingConfig.tolerance_ns)
    config = GroupingConfig(
        tolerance_ns=tolerance_ns,
        max_wait_ns=round(params['max_wait'] * NS_PER_S),
        view_timeout_ns=round(params['view_timeout'] * NS_PER_S),
        max_clock_offset_ns=round(params['max_clock_offset'] * NS_PER_S))
    config.check()
    return config


def frame_period_ns(stamps_ns: Mapping[str, Iterable[int]], min_intervals: int = 10
                    ) -> int | None:
    """The views' frame period: the median of every view's intervals between consecutive
    stamps (each view's recent stamps, oldest first); None before min_intervals of them."""
    intervals = [later - earlier for stamps in stamps_ns.values()
                 for earlier, later in pairwise(stamps) if later > earlier]
    if len(intervals) < min_intervals:
        return None
    return sorted(intervals)[len(intervals) // 2]
