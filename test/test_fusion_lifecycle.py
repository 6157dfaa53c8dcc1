"""The fusion node's lifecycle and parameters, in this process (its DDS behaviour is
test_fusion_node.py's): each transition builds or releases what it should, a bad configuration
fails the transition with the reason, and parameters read at configure refuse to change while
configured."""
from __future__ import annotations

import pytest
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter

from interhand_ros.ros.entry import StartupError
from interhand_ros.ros.fusion_node import FusionNode

pytestmark = pytest.mark.usefixtures('ros')
SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


def fusion_node(**values) -> FusionNode:
    values.setdefault('autostart', False)
    return FusionNode([Parameter(name, value=value) for name, value in values.items()])


def test_each_transition_builds_or_releases_its_parts():
    node = fusion_node(views=['/cam1', 'cam2'])
    try:
        assert node.state == 'unconfigured' and node.grouper is None
        assert node.trigger_configure() == SUCCESS and node.state == 'inactive'
        assert node.views == ['/cam1', '/cam2'] and node.chain is not None
        assert node.inputs is None and node.outputs is None  # nothing subscribed yet
        assert node.trigger_activate() == SUCCESS and node.state == 'active'
        assert node.inputs is not None and node.outputs is not None and node.tf is not None
        topics = {name for name, _ in node.get_subscriber_names_and_types_by_node(
            node.get_name(), node.get_namespace())}
        assert {'/cam1/hands/raw', '/cam2/hands/raw', '/cam1/camera_info', '/cam2/camera_info',
                '/tf', '/tf_static'} <= topics
        assert node.trigger_deactivate() == SUCCESS and node.inputs is None
        assert node.outputs is None and node.tf is None
        assert node.trigger_cleanup() == SUCCESS and node.state == 'unconfigured'
        assert node.chain is None and node.grouper is None
        assert node.trigger_configure() == SUCCESS  # configure again after cleanup
    finally:
        node.destroy_node()


@pytest.mark.parametrize('values, words', [
    ({'views': ['/cam1']}, 'at least 2 views'),
    ({'views': ['/cam1', '/cam1']}, 'more than once'),
    ({'views': ['/cam1', '/cam2'], 'world_frame': '/'}, 'world_frame'),
    ({}, 'views:='),  # not given at all
])
def test_a_bad_configuration_fails_with_the_reason(values, words):
    node = fusion_node(**values)
    try:
        assert node.trigger_configure() == FAILURE and node.state == 'unconfigured'
        assert words in node.health.last_error
    finally:
        node.destroy_node()


def test_autostart_with_a_bad_configuration_is_a_startup_error():
    with pytest.raises(StartupError, match='at least 2 views'):
        fusion_node(views=['/cam1'], autostart=True)


def test_configure_time_parameters_refuse_to_change_while_configured():
    node = fusion_node(views=['/cam1', '/cam2'])
    try:
        assert node.trigger_configure() == SUCCESS
        refused = node.set_parameters([Parameter('world_frame', value='table')])[0]
        assert not refused.successful and 'configure' in refused.reason
        assert node.params['world_frame'] == 'world'
        accepted = node.set_parameters([Parameter('markers.lifetime', value=1.5)])[0]
        assert accepted.successful and node.params['markers.lifetime'] == 1.5
    finally:
        node.destroy_node()
