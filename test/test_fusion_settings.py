"""The fusion node's settings table and its per-view checks, without DDS.

config/fusion.yaml must repeat fusion_settings' defaults; views are namespaces, at least two;
a view's message becomes an observation in the world frame, or a ViewProblem naming the view,
the kind of fault and what to do (bad camera_info of each kind, a missing transform, NaN).
"""
from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np
import pytest
import yaml
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header

from interhand_ros.fusion_settings import (
    FUSION_DEFAULTS,
    FUSION_PARAMETERS,
    frame_period_ns,
    grouping_config,
    normalized_views,
)
from interhand_ros.geometry.transforms import TransformBuffer
from interhand_ros.messages import to_two_hand_pose
from interhand_ros.ros.view_inputs import ViewChecks, ViewProblem, observe
from interhand_ros.settings import SPECS
from tools.synthetic_scene import HEIGHT, WIDTH, cameras, view_estimate

REPO = Path(__file__).resolve().parents[1]
CHECKS = ViewChecks(world_frame='world', rectified=False, tf_tolerance_ns=100_000_000)
STAMP_NS = 1_700_000_000_000_000_000


def test_config_file_repeats_every_default_but_the_required_views():
    document = yaml.safe_load((REPO / 'config' / 'fusion.yaml').read_text())
    values = document['/**']['ros__parameters']
    assert values == {name: value for name, value in FUSION_DEFAULTS.items() if name != 'views'}


def test_the_shared_settings_are_the_hands_nodes_own():
    shared = [spec for spec in FUSION_PARAMETERS if spec.name in SPECS]
    assert shared and all(spec is SPECS[spec.name] for spec in shared)
    assert len({spec.name for spec in FUSION_PARAMETERS}) == len(FUSION_PARAMETERS)


def test_views_are_absolute_namespaces_and_at_least_two():
    assert normalized_views(['cam1', '/cam2/', ' /rig/cam3']) == ['/cam1', '/cam2', '/rig/cam3']
    with pytest.raises(ValueError, match='at least 2 views'):
        normalized_views(['/cam1'])
    with pytest.raises(ValueError, match='more than once'):
        normalized_views(['/cam1', 'cam1/'])
    with pytest.raises(ValueError, match='namespaces'):
        normalized_views(['/cam1', '/'])


def test_an_automatic_tolerance_is_half_the_measured_frame_period():
    period = 66_666_667
    stamps = {'/cam1': [k * period for k in range(6)],
              '/cam2': deque(k * period + 5_000_000 for k in range(6))}  # as the node keeps
    assert frame_period_ns(stamps) == period
    assert frame_period_ns({'/cam1': stamps['/cam1'][:3]}) is None  # too few yet
    assert grouping_config(FUSION_DEFAULTS, period).tolerance_ns == period // 2
    assert grouping_config(FUSION_DEFAULTS).tolerance_ns == 16_666_667  # until measured
    assert grouping_config(dict(FUSION_DEFAULTS, sync_tolerance=0.01), period
                           ).tolerance_ns == 10_000_000  # a given one is kept


def test_grouping_config_is_the_parameters_in_nanoseconds():
    config = grouping_config(dict(FUSION_DEFAULTS, sync_tolerance=0.02, max_wait=0.05))
    assert (config.tolerance_ns, config.max_wait_ns) == (20_000_000, 50_000_000)
    assert config.view_timeout_ns == round(FUSION_DEFAULTS['view_timeout'] * 1e9)


def scene_view(fault: str = ''):
    """(pose message, camera_info, transform buffer) of the scene's cam1."""
    camera = cameras(2)[0]
    header = Header(frame_id=camera.frame_id)
    header.stamp.sec, header.stamp.nanosec = divmod(STAMP_NS, 1_000_000_000)
    msg = to_two_hand_pose(view_estimate(camera, STAMP_NS * 1e-9), header, WIDTH, HEIGHT)
    info = CameraInfo(header=Header(stamp=header.stamp, frame_id=header.frame_id),
                      **camera.camera_info_fields())
    buffer = TransformBuffer()
    if fault != 'no_tf':
        buffer.set_transform('world', camera.frame_id, 0, camera.world_from_camera, static=True)
    return camera, msg, info, buffer


def test_a_good_view_becomes_an_observation_in_the_world_frame():
    camera, msg, info, buffer = scene_view()
    observation = observe('/cam1', msg, info, buffer, CHECKS)
    assert observation.name == '/cam1' and observation.stamp_ns == STAMP_NS
    np.testing.assert_allclose(observation.world_from_camera, camera.world_from_camera)
    assert (observation.camera.width, observation.camera.height) == (WIDTH, HEIGHT)
    assert observation.camera.distortion is not None  # raw pixels: K and D


def halve(info: CameraInfo) -> None:
    """A camera_info of the quarter-size stream."""
    info.width, info.height = WIDTH // 2, HEIGHT // 2


@pytest.mark.parametrize('change, kind, words', [
    (lambda msg, info: setattr(info, 'k', [float('nan')] * 9), 'camera_info', 'finite'),
    (lambda msg, info: setattr(info.header, 'frame_id', 'other_optical'), 'camera_info',
     "not the image's 'cam1_color_optical_frame'"),
    (lambda msg, info: halve(info), 'camera_info', 'another size'),
    (lambda msg, info: setattr(msg.left.pixels[4], 'u', float('nan')), 'pose',
     'left joint 4 is marked valid'),
    (lambda msg, info: setattr(msg.right, 'depth_source', 99), 'pose', 'pose unusable'),
])
def test_an_unusable_view_is_a_problem_naming_the_view_and_the_fault(change, kind, words):
    _, msg, info, buffer = scene_view()
    change(msg, info)
    with pytest.raises(ViewProblem, match=words) as raised:
        observe('/cam1', msg, info, buffer, CHECKS)
    assert raised.value.kind == kind and str(raised.value).startswith('/cam1: ')


def test_no_camera_info_and_no_transform_say_what_is_missing():
    _, msg, info, buffer = scene_view('no_tf')
    with pytest.raises(ViewProblem, match='no camera_info received yet on /cam1/camera_info'):
        observe('/cam1', msg, None, buffer, CHECKS)
    with pytest.raises(ViewProblem, match="'cam1_color_optical_frame' never heard.*extrinsics"
                       ) as raised:
        observe('/cam1', msg, info, buffer, CHECKS)
    assert raised.value.kind == 'transform'


def test_docs_describe_every_parameter_of_the_fusion_node():
    text = (REPO / 'docs' / 'fusion.md').read_text()
    table = text[text.index('## Parameters'):text.index('## Topics')]
    rows = [line.split('|')[1] for line in table.splitlines() if line.startswith('| `')]
    named = {name.strip(' `') for row in rows for name in row.split(',')}
    for spec in FUSION_PARAMETERS:
        group = spec.name.split('.')[0] + '.*'
        assert spec.name in named or group in named, f'{spec.name} is not in docs/fusion.md'
