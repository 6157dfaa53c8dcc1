"""extrinsics_publisher in its own process puts interhand-calibrate's YAML on /tf_static over
DDS, latched for subscribers that start later; multi_camera.launch.py extrinsics:=FILE starts
it; a missing or malformed file stops it at start with the reason."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from tf2_msgs.msg import TFMessage

from interhand_ros.calibration.extrinsics_yaml import (
    CameraExtrinsics,
    Extrinsics,
    write_extrinsics,
)
from interhand_ros.calibration.intrinsics import Intrinsics

pytestmark = pytest.mark.usefixtures('ros')  # rclpy up for the module (conftest)
REPO = Path(__file__).resolve().parents[1]
PUBLISHER = Path(sys.prefix) / 'bin' / 'extrinsics_publisher'
DEADLINE_S = 90.0  # process start and DDS discovery on a busy 2-core machine
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
RIG = Extrinsics('world', {
    'cam1': CameraExtrinsics('cam1_color_optical_frame', (0.1, -0.8, 1.2),
                             (0.0, 0.0, 0.0, 1.0), 0.21),
    'cam2': CameraExtrinsics('cam2_color_optical_frame', (0.9, -0.2, 1.1),
                             (-0.6532815, 0.2705981, -0.2705981, 0.6532815), 1.7,
                             Intrinsics(np.array([[600.0, 0, 320], [0, 600, 240], [0, 0, 1]]),
                                        np.zeros(5), 640, 480)),
})


@pytest.fixture
def rig_yaml(tmp_path) -> Path:
    path = tmp_path / 'rig.yaml'
    write_extrinsics(path, RIG)
    return path


def start(command: list[str], tmp_path: Path, name: str) -> subprocess.Popen:
    """In a session of its own (a launch and its nodes stop together); the venv is the ament
    prefix launch finds the package in, as a sourced ROS install would be."""
    log = open(tmp_path / f'{name}.log', 'w')  # noqa: SIM115 - closed with the process
    prefixes = [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    env = dict(os.environ, PYTHONUNBUFFERED='1',
               AMENT_PREFIX_PATH=os.pathsep.join([sys.prefix, *prefixes]))
    return subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, env=env)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def receive_static(process: subprocess.Popen, tmp_path: Path, name: str
                   ) -> tuple[TFMessage, DiagnosticStatus]:
    """The /tf_static message and the publisher's status, heard by a subscriber created after
    the publisher has started (the transient-local message must still arrive)."""
    node = rclpy.create_node(f'tf_static_probe_{os.getpid()}')
    heard: list[TFMessage] = []
    statuses: list[DiagnosticStatus] = []
    node.create_subscription(TFMessage, '/tf_static', heard.append, LATCHED)
    node.create_subscription(DiagnosticArray, '/diagnostics', lambda m: statuses.extend(
        s for s in m.status if s.name == 'extrinsics_publisher'), 10)
    try:
        deadline = time.monotonic() + DEADLINE_S
        while not (heard and statuses):
            assert process.poll() is None, (tmp_path / f'{name}.log').read_text()
            assert time.monotonic() < deadline, 'no /tf_static and status within the deadline'
            rclpy.spin_once(node, timeout_sec=0.1)
        return heard[0], statuses[-1]
    finally:
        node.destroy_node()


def assert_rig(message: TFMessage) -> None:
    transforms = {t.child_frame_id: t for t in message.transforms}
    assert set(transforms) == {'cam1_color_optical_frame', 'cam2_color_optical_frame'}
    for camera in RIG.cameras.values():
        sent = transforms[camera.frame_id]
        assert sent.header.frame_id == 'world'
        t, q = sent.transform.translation, sent.transform.rotation
        assert np.allclose([t.x, t.y, t.z], camera.translation, atol=1e-6)
        assert np.allclose([q.x, q.y, q.z, q.w], camera.rotation, atol=1e-6)


def test_the_yaml_is_latched_on_tf_static(rig_yaml, tmp_path):
    process = start([str(PUBLISHER), '--ros-args', '-p', f'file:={rig_yaml}',
                     '-p', 'diagnostics_period:=0.2'], tmp_path, 'publisher')
    try:
        message, status = receive_static(process, tmp_path, 'publisher')
        assert_rig(message)
        # cam2's calibration error (1.7 px) is high: the status says to recalibrate it.
        assert status.level == DiagnosticStatus.WARN
        assert 'cam2 (1.70 px)' in status.message and 'recalibrate' in status.message
    finally:
        stop(process)
    assert process.returncode == 0, (tmp_path / 'publisher.log').read_text()


@pytest.mark.parametrize('content, reason', [
    (None, 'cannot read extrinsics YAML'),
    ('world_frame: world\ncameras:\n  cam1: {frame_id: c1, translation: [0, 0],'
     ' rotation: [0, 0, 0, 1]}\n', 'camera cam1: translation must be a list of 3 numbers'),
    ('world_frame: world\ncameras:\n  cam1: {frame_id: c1, translation: [0, 0, 0],'
     ' rotation: [0, 0, 0, 2]}\n', 'must be a unit quaternion'),
])
def test_a_bad_file_stops_the_publisher_with_the_reason(tmp_path, content, reason):
    path = tmp_path / 'rig.yaml'
    if content is not None:
        path.write_text(content)
    result = subprocess.run([str(PUBLISHER), '--ros-args', '-p', f'file:={path}'],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert 'cannot start' in result.stderr and reason in result.stderr


def test_multi_camera_launch_publishes_the_extrinsics(rig_yaml, tmp_path):
    """The launch file as a user runs it (two cameras, no checkpoint: the landmark fallback);
    /tf_static comes from the extrinsics_publisher it started."""
    launch = start([sys.executable, str(REPO / 'test' / 'launch_child.py'),
                    'multi_camera.launch.py', 'cameras:=[/cam1,/cam2]',
                    f'extrinsics:={rig_yaml}', 'use_rviz:=false'], tmp_path, 'launch')
    try:
        message, _ = receive_static(launch, tmp_path, 'launch')
        assert_rig(message)
    finally:
        stop(launch)
