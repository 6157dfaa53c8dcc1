"""Parameters through the real parameter services: descriptors, ranges, run-time changes.

Every parameter has a description and, where numeric, a range; the safe ones change while the
node runs and take effect on the next frame; the ones read at configure are refused while the
node is configured, with the reason, and keep their value.
"""
from __future__ import annotations

import dataclasses

import pytest
from rcl_interfaces.msg import ParameterType
from rcl_interfaces.srv import DescribeParameters, SetParameters
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter

from interhand_ros.processing.factory import EstimatorSettings
from interhand_ros.settings import DEFAULTS, PARAMETERS, SPECS, estimator_settings

from test_node_ros import WAIT, ScriptedEstimator

pytestmark = pytest.mark.usefixtures('ros')  # rclpy up for the module (conftest)


def call(h, srv_type, service: str, request):
    client = h.probe.create_client(srv_type, f'/{h.node.get_name()}/{service}')
    try:
        assert client.wait_for_service(timeout_sec=WAIT), service
        future = client.call_async(request)
        h.wait_for(future.done, WAIT, f'{service} response')
        return future.result()
    finally:
        h.probe.destroy_client(client)


def set_parameter(h, name: str, value):
    """SetParameters over DDS, as `ros2 param set` does; the service's result."""
    msg = Parameter(name, value=value).to_parameter_msg()
    return call(h, SetParameters, 'set_parameters',
                SetParameters.Request(parameters=[msg])).results[0]


# EstimatorSettings fields that are no node parameter: set by the caller (interhand-run, tests)
CALLER_SETTINGS = {'video', 'mirrored', 'warmup'}


def test_each_estimator_setting_comes_from_exactly_one_parameter():
    """The one mapping from parameters to the engine's settings: a new setting needs a
    parameter (or is the caller's), and a parameter's value arrives unchanged."""
    targets = [spec.setting for spec in PARAMETERS if spec.setting]
    assert len(targets) == len(set(targets))
    fields = {field.name for field in dataclasses.fields(EstimatorSettings)}
    assert set(targets) == fields - CALLER_SETTINGS
    changed = {'precision': 'bf16', 'depth.fixed_distance': 1.25,
               'depth.calibrate_hand_scale': False, 'cache_dir': '/tmp/models'}
    settings = estimator_settings({**DEFAULTS, **changed})
    assert (settings.precision, settings.fixed_depth_m, settings.calibrate_hand_scale,
            settings.cache_dir) == (*changed.values(),)


def test_interhand_run_flags_are_the_estimator_parameters(capsys):
    """interhand-run's estimator flags come from the table: name without its group,
    default, choices and range; mapped to the engine as the node maps its parameters."""
    from interhand_ros.runner import cli
    args = cli.parse_args(['video.mp4', '--out', 'out'])
    assert {spec.name for spec in cli.ENGINE_PARAMETERS} == \
        {spec.name for spec in PARAMETERS if spec.setting} - {'checkpoint', 'depth.mode'}
    for spec in cli.ENGINE_PARAMETERS:
        assert getattr(args, cli.flag_dest(spec)) == spec.default, spec.name
    assert cli.settings_from_flags(args, video=True) == dataclasses.replace(
        estimator_settings(DEFAULTS), depth_mode='auto')
    args = cli.parse_args(['video.mp4', '--out', 'out', '--hand-scale', '1.2',
                           '--no-calibrate-hand-scale', '--backend', 'torch'])
    settings = cli.settings_from_flags(args, video=False)
    assert (settings.hand_scale, settings.calibrate_hand_scale, settings.backend,
            settings.video) == (1.2, False, 'torch', False)
    for flag, value, reason in (('--presence-threshold', '1.5', 'presence_threshold must be '
                                 'within [0.0, 1.0]'), ('--threads', 'two', 'invalid int'),
                                ('--backend', 'tiny', 'invalid choice')):
        with pytest.raises(SystemExit):
            cli.parse_args(['video.mp4', '--out', 'out', flag, value])
        assert reason in capsys.readouterr().err, flag


def test_every_parameter_is_described_and_numeric_ones_have_a_range(harness_factory):
    h = harness_factory()
    names = [spec.name for spec in PARAMETERS]
    descriptors = call(h, DescribeParameters, 'describe_parameters',
                       DescribeParameters.Request(names=names)).descriptors
    assert [d.name for d in descriptors] == names
    for descriptor in descriptors:
        spec = SPECS[descriptor.name]
        assert len(descriptor.description) > 10, descriptor.name
        if descriptor.type == ParameterType.PARAMETER_INTEGER:
            assert len(descriptor.integer_range) == 1, descriptor.name
            assert descriptor.integer_range[0].from_value <= spec.default \
                <= descriptor.integer_range[0].to_value
        elif descriptor.type == ParameterType.PARAMETER_DOUBLE:
            assert len(descriptor.floating_point_range) == 1, descriptor.name
            assert descriptor.floating_point_range[0].from_value <= spec.default \
                <= descriptor.floating_point_range[0].to_value
        if spec.choices:
            assert all(choice in descriptor.additional_constraints for choice in spec.choices)
        assert ('read at configure' in descriptor.description) != spec.runtime, descriptor.name


def test_safe_parameters_change_at_run_time(harness_factory):
    h = harness_factory()
    h.wait_for(lambda: h.node.markers_pub.get_subscription_count() > 0, WAIT, 'markers sub')
    assert set_parameter(h, 'markers.joint_diameter', 0.03).successful
    assert set_parameter(h, 'markers.wrist_axes', True).successful
    stamp = h.send_good()
    h.wait_for_stamp(stamp)
    h.wait_for(lambda: any(m.markers and m.markers[0].header.stamp == stamp
                           for m in h.markers), WAIT, 'markers')
    markers = next(m for m in h.markers if m.markers[0].header.stamp == stamp).markers
    joints = next(m for m in markers if m.ns == 'right' and m.id == 0)
    assert joints.scale.x == pytest.approx(0.03)
    assert any(m.id == 2 for m in markers)  # wrist axes now drawn
    assert h.node.get_parameter('markers.joint_diameter').value == pytest.approx(0.03)

    assert set_parameter(h, 'publish_markers', False).successful
    h.markers.clear()
    h.wait_for_stamp(h.send_good())
    h.wait_for_stamp(h.send_good())  # the first frame's markers would have come before this
    assert not h.markers

    assert set_parameter(h, 'max_image_pixels', 100).successful  # 64x48 is now too large
    h.send_good()
    h.wait_for_error('exceeds max_image_pixels 100')
    assert set_parameter(h, 'max_image_pixels', 10_000).successful
    h.wait_for_stamp(h.send_good())


@dataclasses.dataclass(frozen=True)
class Config:
    presence_threshold: float = 0.5


class ConfiguredEstimator(ScriptedEstimator):
    """Reads its presence threshold from a config dataclass each frame, as the engine does."""

    def __init__(self) -> None:
        super().__init__()
        self.config = Config()


def test_presence_threshold_changes_where_the_estimator_reads_it_per_frame(harness_factory):
    h = harness_factory(ConfiguredEstimator())
    assert set_parameter(h, 'presence_threshold', 0.8).successful
    assert h.estimator.config.presence_threshold == pytest.approx(0.8)
    assert h.node.get_parameter('presence_threshold').value == pytest.approx(0.8)
    h.wait_for_stamp(h.send_good())


def test_presence_threshold_is_refused_where_the_estimator_fixes_it(harness_factory):
    h = harness_factory(ScriptedEstimator())
    result = set_parameter(h, 'presence_threshold', 0.8)
    assert not result.successful and 'fixes its presence threshold' in result.reason
    assert h.node.get_parameter('presence_threshold').value == pytest.approx(0.5)


@pytest.mark.parametrize('name, value', [('checkpoint', '/elsewhere/snapshot.pth.tar'),
                                         ('device', 'cpu'), ('sync', 'exact'),
                                         ('image_transport', 'compressed'),
                                         ('depth.mode', 'fixed')])
def test_parameters_read_at_configure_are_refused_while_configured(harness_factory, name,
                                                                    value):
    h = harness_factory()
    before = h.node.get_parameter(name).value
    result = set_parameter(h, name, value)
    assert not result.successful
    assert f'{name} is read when the node is configured' in result.reason
    assert 'clean up' in result.reason
    assert h.node.get_parameter(name).value == before
    h.wait_for_stamp(h.send_good())  # still serving


@pytest.mark.parametrize('name, value, reason', [
    ('presence_threshold', 1.5, 'out of range'),  # rclpy checks the descriptor's range
    ('log_throttle', -1.0, 'out of range'),
    ('sync_queue_size', 0, 'out of range'),
    ('markers.lifetime', 'long', 'wrong parameter type'),
])
def test_out_of_range_or_wrongly_typed_values_are_refused(harness_factory, name, value, reason):
    h = harness_factory()
    before = h.node.get_parameter(name).value
    result = set_parameter(h, name, value)
    assert not result.successful and reason in result.reason.lower(), result.reason
    assert h.node.get_parameter(name).value == before


def test_out_of_range_override_fails_at_start():
    from interhand_ros.ros.hands_node import HandsNode, StartupError
    with pytest.raises(StartupError, match='sync_queue_size'):
        HandsNode(estimator=ScriptedEstimator(),
                  parameter_overrides=[Parameter('sync_queue_size', value=0)])


def test_unsafe_parameter_changes_while_unconfigured_and_configure_reads_it(harness_factory):
    h = harness_factory(autostart=False)
    assert set_parameter(h, 'sync', 'latest').successful
    result = set_parameter(h, 'sync', 'sometimes')
    assert not result.successful and result.reason.startswith('sync must be one of')
    assert h.node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert h.node.params['sync'] == 'latest'
    result = set_parameter(h, 'sync', 'exact')  # configured now
    assert not result.successful and 'cannot change while it is configured' in result.reason
