"""Test-wide settings: keep this run's DDS traffic to itself, and camera images whole.

DDS discovers every participant on the machine, so each pytest process gets its own domain id
(before any test imports rclpy) and discovery stays on loopback. The id is set even when the
shell has one: tests publish on generic topic names (image, hands, ...) and must never reach a
live robot's domain.
Every test process, and every process it starts, gets the repository's Fast DDS profile
(config/fastdds.xml), as `make demo` and the launch files give it: camera images played from
one process to the node in another then travel through shared memory instead of being lost
over UDP (docs/node.md "Camera drivers and DDS"). A test of default transports removes
FASTDDS_DEFAULT_PROFILES_FILE from the environment of the processes it starts.
"""
import os
from pathlib import Path

os.environ['ROS_DOMAIN_ID'] = str(1 + os.getpid() % 100)
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ['FASTDDS_DEFAULT_PROFILES_FILE'] = str(
    Path(__file__).resolve().parents[1] / 'config' / 'fastdds.xml')

import importlib.util  # noqa: E402 - after the environment above

import pytest  # noqa: E402

from interhand_ros.processing.stamp_sync import PAIRINGS  # noqa: E402 - no rclpy import


@pytest.fixture(scope='session', autouse=True)
def shared_memory_left_as_found():
    """The run leaves /dev/shm as it found it: segments of processes that a test killed are
    removed at the end with Fast DDS's own clean (interhand_ros/dds_shm.py)."""
    yield
    from interhand_ros.dds_shm import clean_dead_segments
    try:
        clean_dead_segments()
    except RuntimeError as error:  # no fastdds tool: nothing to clean with
        print(f'/dev/shm not cleaned: {error}')


@pytest.fixture(scope='module')
def ros():
    """rclpy initialised for the test module (node test modules use it with pytestmark);
    imported here, not at the top, so tests without ROS never load rclpy."""
    import rclpy
    rclpy.init()
    yield
    rclpy.shutdown()


@pytest.fixture
def harness_factory():
    """Makes node-under-test harnesses (test_node_ros.Harness) and closes them afterwards."""
    from test_node_ros import Harness, ScriptedEstimator
    made = []

    def make(estimator=None, pairing=None, **params):
        harness = Harness(estimator or ScriptedEstimator(), pairing=pairing,
                          diagnostics_period=0.1, **params)
        made.append(harness)
        return harness
    yield make
    for harness in made:
        harness.close()


@pytest.fixture(params=PAIRINGS)
def pairing(request) -> str:
    """Each pairing test runs on message_filters (as on a ROS install) and on
    processing/stamp_sync.py."""
    if request.param == 'message_filters' and importlib.util.find_spec('message_filters') is None:
        pytest.skip('message_filters is absent: make setup installs it from '
                    '../shared/vendor/ros2 (a ROS install has it)')
    return request.param
