"""The ROS-user path of the README: colcon builds both packages, the installed code runs.

The workspace uses the venv as its underlay (what a ROS install's /opt/ros/<distro> is to a
user). interhand_msgs is then installed twice, in the venv and in the workspace, so processes
that use the workspace get an environment made only from the workspace's setup script with the
workspace's libraries ahead of the venv's, and we check which copy they really loaded.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from test_foundation_messages import (
    RECEIVE_TIMEOUT_S,
    filled_two_hand_pose,
    spin_until,
    stop_child,
)

from interhand_msgs.msg import TwoHandPose

REPO = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)
COLCON = VENV / 'bin' / 'colcon'
ENTRY_POINTS = ('hands_node', 'retarget_node', 'fusion_node', 'extrinsics_publisher',
                'interhand-run', 'interhand-export', 'interhand-quantize', 'interhand-calibrate')
COMMAND_LINE_TOOLS = ('interhand-run', 'interhand-export', 'interhand-quantize',
                      'interhand-calibrate')
# The README's build command, word for word.
COLCON_BUILD = [str(COLCON), 'build', '--base-paths', 'src', 'src/*/interhand_msgs']
NOT_SOURCE = shutil.ignore_patterns('.git', '.venv', 'build', 'install', 'log', '__pycache__',
                                    '*.egg-info', '.pytest_cache', 'out', '*.pth', '*.pt')

pytestmark = pytest.mark.skipif(not COLCON.exists(), reason=f'colcon not installed in {VENV}')


def venv_env() -> dict[str, str]:
    env = dict(os.environ, VIRTUAL_ENV=str(VENV), AMENT_PREFIX_PATH=str(VENV),
               CMAKE_PREFIX_PATH=str(VENV))
    env['PATH'] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope='module')
def workspace(tmp_path_factory) -> Path:
    """A colcon workspace with this repository in src/, built with the README's command."""
    root = tmp_path_factory.mktemp('colcon_ws')
    shutil.copytree(REPO, root / 'src' / 'interhand_ros', ignore=NOT_SOURCE)
    result = subprocess.run(COLCON_BUILD, cwd=root, env=venv_env(), capture_output=True,
                            text=True, timeout=540)
    assert result.returncode == 0, f'colcon build failed:\n{result.stdout}\n{result.stderr}'
    return root


def workspace_env(root: Path) -> dict[str, str]:
    """Environment of a shell that sourced only install/setup.bash over the venv underlay.

    The venv's ROS wheels normally re-exec Python with their library dirs in random order; we
    give the same dirs in overlay order (workspace first) and mark that step done, so the
    workspace's interhand_msgs libraries deterministically win over the venv's copy.
    """
    base = {'PATH': f"{VENV / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin",
            'HOME': os.environ.get('HOME', '/tmp'), 'AMENT_PREFIX_PATH': str(VENV)}
    for name in ('ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE', 'LANG'):
        if name in os.environ:
            base[name] = os.environ[name]
    dump = subprocess.run(['bash', '-c', 'source install/setup.bash && env -0'], cwd=root,
                          env=base, capture_output=True, text=True, check=True)
    env = dict(item.split('=', 1) for item in dump.stdout.split('\0') if '=' in item)
    site = VENV / 'lib' / f'python{sys.version_info.major}.{sys.version_info.minor}'
    wheel_libs = sorted(str(p) for p in (site / 'site-packages').glob('ros_*.libs'))
    overlay = [p for p in env.get('LD_LIBRARY_PATH', '').split(os.pathsep) if p]
    env['LD_LIBRARY_PATH'] = os.pathsep.join(overlay + [str(VENV / 'lib')] + wheel_libs)
    env['_ROS_WHEELS_BOOTSTRAP_COMPLETE'] = '1'
    return env


def loaded_interhand_msgs_files(pid: int) -> set[str]:
    maps = Path(f'/proc/{pid}/maps').read_text()
    return {line.split()[-1] for line in maps.splitlines() if 'interhand_msgs' in line}


def test_colcon_build_installs_both_packages_with_their_data(workspace):
    msgs_share = workspace / 'install' / 'interhand_msgs' / 'share' / 'interhand_msgs'
    for name in ('Point2D', 'HandPose', 'TwoHandPose'):
        assert (msgs_share / 'msg' / f'{name}.msg').is_file(), name
    share = workspace / 'install' / 'interhand_ros' / 'share'
    assert (share / 'ament_index' / 'resource_index' / 'packages' / 'interhand_ros').is_file()
    source = workspace / 'src' / 'interhand_ros'
    assert (share / 'interhand_ros' / 'package.xml').read_text() == \
        (source / 'package.xml').read_text()
    for folder, pattern in (('launch', '*.launch.py'), ('config', '*.yaml'), ('config', '*.rviz'),
                            ('config', '*.xml')):
        expected = sorted(p.name for p in (source / folder).glob(pattern))
        installed = sorted(p.name for p in (share / 'interhand_ros' / folder).glob(pattern))
        assert installed == expected, folder


def test_colcon_installs_every_module_of_the_package_and_nothing_else(workspace):
    site = next((workspace / 'install' / 'interhand_ros' / 'lib').glob('python3*/site-packages'))
    copied = workspace / 'src' / 'interhand_ros'
    source = {p.relative_to(copied).as_posix() for p in (copied / 'interhand_ros').rglob('*.py')}
    installed = {p.relative_to(site).as_posix() for p in (site / 'interhand_ros').rglob('*.py')}
    assert source and installed == source
    assert not (site / 'training').exists() and not (site / 'interhand_msgs').exists()
    for script in ENTRY_POINTS:
        path = workspace / 'install' / 'interhand_ros' / 'lib' / 'interhand_ros' / script
        assert path.is_file() and os.access(path, os.X_OK), script


def test_workspace_messages_interoperate_with_the_venv_build(workspace):
    """A process on the workspace alone echoes our message; it loaded only the workspace copy."""
    context = rclpy.Context()
    rclpy.init(context=context)
    to_child = f'/foundation_ws/in_{uuid.uuid4().hex[:8]}'
    from_child = f'/foundation_ws/out_{uuid.uuid4().hex[:8]}'
    echo_script = REPO / 'test' / 'test_foundation_messages.py'
    child = subprocess.Popen([str(VENV / 'bin' / 'python'), str(echo_script), to_child,
                              from_child], cwd=workspace, env=workspace_env(workspace),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    node = Node('foundation_ws_client', context=context)
    received: list[TwoHandPose] = []
    node.create_subscription(TwoHandPose, from_child, received.append, 10)
    publisher = node.create_publisher(TwoHandPose, to_child, 10)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    loaded: set[str] = set()
    try:
        spin_until(executor, lambda: bool(received) or child.poll() is not None,
                   RECEIVE_TIMEOUT_S, tick=lambda: publisher.publish(filled_two_hand_pose()))
        if child.poll() is None:
            loaded = loaded_interhand_msgs_files(child.pid)
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=context)
        output = stop_child(child)
    assert received, f'no echo from the workspace process; its output:\n{output}'
    assert received[0] == filled_two_hand_pose()
    install = str(workspace / 'install') + os.sep
    assert any(path.endswith('.so') for path in loaded), loaded
    assert all(path.startswith(install) for path in loaded), loaded


def test_venv_bin_entry_points_run():
    for script in ENTRY_POINTS:
        path = VENV / 'bin' / script
        assert path.exists() and os.access(path, os.X_OK), f'{path} missing: run make setup'
    for tool in COMMAND_LINE_TOOLS:
        result = subprocess.run([str(VENV / 'bin' / tool), '--help'],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0 and result.stdout.startswith(f'usage: {tool}'), result


def test_installed_runner_entry_point_runs_from_the_workspace(workspace):
    script = workspace / 'install' / 'interhand_ros' / 'lib' / 'interhand_ros' / 'interhand-run'
    result = subprocess.run([str(script), '--help'], cwd=workspace, env=workspace_env(workspace),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith('usage: interhand-run'), result


def installed_hands_node(workspace: Path, *ros_args: str) -> subprocess.Popen:
    script = workspace / 'install' / 'interhand_ros' / 'lib' / 'interhand_ros' / 'hands_node'
    return subprocess.Popen([str(script), '--ros-args', *ros_args], cwd=workspace,
                            env=workspace_env(workspace), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def publishes_hands(observer: Node, node_name: str) -> bool:
    """The node's `hands` publisher exists: it is created once the estimator has loaded."""
    try:
        topics = observer.get_publisher_names_and_types_by_node(node_name, '/')
    except rclpy.node.NodeNameNonExistentError:
        return False
    return ('/hands', ['interhand_msgs/msg/TwoHandPose']) in topics


def test_installed_hands_node_starts_and_exits_cleanly_on_sigint(workspace):
    node_name = f'hands_{uuid.uuid4().hex[:8]}'
    child = installed_hands_node(workspace, '-r', f'__node:={node_name}')
    context = rclpy.Context()
    rclpy.init(context=context)
    observer = Node('foundation_observer', context=context)
    ready, loaded = False, set()
    try:
        deadline = time.monotonic() + 120.0  # model load on a busy CPU
        while not ready and child.poll() is None and time.monotonic() < deadline:
            ready = publishes_hands(observer, node_name)
            time.sleep(0.2)
        if child.poll() is None:
            loaded = loaded_interhand_msgs_files(child.pid)
            child.send_signal(signal.SIGINT)
        output, _ = child.communicate(timeout=30)
    finally:
        observer.destroy_node()
        rclpy.shutdown(context=context)
        if child.poll() is None:
            child.kill()
    assert ready, f'{node_name} never published /hands; its output:\n{output}'
    assert child.returncode == 0, f'exit code {child.returncode}; output:\n{output}'
    install = str(workspace / 'install') + os.sep
    assert loaded and all(path.startswith(install) for path in loaded), loaded


def test_installed_hands_node_exits_with_a_clear_error_on_a_missing_checkpoint(workspace):
    missing = workspace / 'no_such_snapshot.pth.tar'
    child = installed_hands_node(workspace, '-p', f'checkpoint:={missing}')
    output, _ = child.communicate(timeout=90)
    assert child.returncode == 1, output
    assert str(missing) in output and 'Traceback' not in output, output
