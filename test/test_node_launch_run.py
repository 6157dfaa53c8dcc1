"""Launch files executed by the real launch.LaunchService against the installed package.

The package is found through the ament index (make setup registers it in the venv the way
colcon installs it); the node runs as its own process, a real photo is played as a camera over
DDS, TwoHandPose messages come back, and the launch shuts down cleanly (every process exits 0).
Each test process has FASTDDS_DEFAULT_PROFILES_FILE (test/conftest.py), so after the first
answer (DDS discovery) every photo must arrive: one lost in transport fails the test.
LaunchService must run in the main thread, so the camera and the listener spin in a thread.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
import rclpy
import yaml
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

from interhand_msgs.msg import TwoHandPose
from interhand_ros.estimate import EstimatorKind

REPO = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)
PHOTO = REPO / '..' / 'shared' / 'data' / 'hands' / 'handSrc.jpg'
RECEIVE_TIMEOUT_S = 180.0  # node start (torch import, checkpoint load, warm-up) on a busy CPU
FRAME_TIMEOUT_S = 30.0  # one photo's answer once the node runs; later = lost
# launch's SIGINT -> SIGTERM escalation (its default is 5 s): on a loaded CPU a node stopping
# cleanly may need longer; how fast it stops is test_node_shutdown.py's to check
SIGTERM_TIMEOUT_S = 60.0
DDS_VARIABLE = 'FASTDDS_DEFAULT_PROFILES_FILE'
REPO_PROFILE = str(REPO / 'config' / 'fastdds.xml')  # what test/conftest.py exports

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec('launch_ros') is None,
                       reason='launch_ros is absent: make setup installs it from '
                              '../shared/vendor/ros2 (a ROS install has it)'),
    pytest.mark.skipif(not (VENV / 'share' / 'ament_index' / 'resource_index' / 'packages'
                            / 'interhand_ros').exists(),
                       reason=f'interhand_ros is not registered in the ament index of {VENV} '
                              '(run make setup)'),
    pytest.mark.skipif(not PHOTO.exists(), reason=f'test photo {PHOTO} is absent'),
]


@pytest.fixture
def ament_env(monkeypatch):
    """The venv is the install prefix, as /opt/ros/<distro> is on a ROS install."""
    prefixes = [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    monkeypatch.setenv('AMENT_PREFIX_PATH', os.pathsep.join([str(VENV)] + prefixes))


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory) -> Path:
    """A random-weight InterNet checkpoint in the official layout."""
    import torch

    from interhand_ros.engine.model import InterNet
    path = tmp_path_factory.mktemp('launch_ckpt') / 'random_internet.pth.tar'
    torch.manual_seed(0)
    torch.save({'network': InterNet().state_dict()}, path)
    return path


def photo_messages(stamp, frame: str = 'camera_color_optical_frame') -> tuple[Image, CameraInfo]:
    import cv2
    bgr = cv2.imread(str(PHOTO))
    height, width = bgr.shape[:2]
    image = Image(width=width, height=height, encoding='bgr8', step=width * 3,
                  data=bgr.tobytes())
    info = CameraInfo(width=width, height=height, distortion_model='plumb_bob',
                      d=[0.0] * 5, k=[600.0, 0.0, width / 2, 0.0, 600.0, height / 2, 0.0, 0.0,
                                      1.0],
                      p=[600.0, 0.0, width / 2, 0.0, 0.0, 600.0, height / 2, 0.0, 0.0, 0.0,
                         1.0, 0.0])
    for msg in (image, info):
        msg.header.stamp, msg.header.frame_id = stamp, frame
    return image, info


class RosThread(threading.Thread):
    """A thread with its own rclpy context and node; it ends the launch (on_done) when done."""

    def __init__(self, on_done: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.on_done = on_done
        self.error: BaseException | None = None

    def run(self) -> None:
        context = rclpy.Context()
        rclpy.init(context=context)
        node = rclpy.create_node(f'launch_test_{uuid.uuid4().hex[:8]}', context=context)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        try:
            self.work(node, executor)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.error = error
        finally:
            executor.shutdown()
            node.destroy_node()
            rclpy.shutdown(context=context)
            self.on_done()

    def work(self, node, executor) -> None:
        raise NotImplementedError


class Camera(RosThread):
    """Plays the photo on <camera>/image_raw + camera_info and collects the answers.

    Until the first answer the photo is repeated (the node's readers may not have matched this
    camera yet: DDS discovery); then checked_frames photos go one at a time, each sent once and
    answered before the next; an unanswered one lands in `unanswered` (lost in transport).
    configure: first act as a lifecycle manager and configure /hands through its services.
    Subclasses wait for other outputs by overriding subscribe() and stamp_of().
    """

    spin_period = 0.5  # s between repeats before the first answer
    checked_frames = 5

    def __init__(self, camera: str, hands_topic: str, on_done, configure: bool = False) -> None:
        super().__init__(on_done)
        self.camera, self.hands_topic, self.configure = camera, hands_topic, configure
        self.received: list = []
        self.sent: list = []
        self.unanswered: list = []

    def work(self, node, executor) -> None:
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        image_pub = node.create_publisher(Image, f'{self.camera}/image_raw', qos)
        info_pub = node.create_publisher(CameraInfo, f'{self.camera}/camera_info', qos)
        self.subscribe(node, qos)

        def publish():
            stamp = node.get_clock().now().to_msg()
            image, info = photo_messages(stamp)
            info_pub.publish(info)
            image_pub.publish(image)
            self.sent.append(stamp)
            return stamp

        deadline = time.monotonic() + RECEIVE_TIMEOUT_S
        if self.configure:
            configure_node('/hands', node, executor, deadline)
        while not self.received and time.monotonic() < deadline:
            if image_pub.get_subscription_count() > 0 and info_pub.get_subscription_count() > 0:
                publish()
            executor.spin_once(timeout_sec=self.spin_period)
        for _ in range(self.checked_frames if self.received else 0):
            stamp = publish()
            frame_deadline = time.monotonic() + FRAME_TIMEOUT_S
            while not self.answered(stamp) and time.monotonic() < frame_deadline:
                executor.spin_once(timeout_sec=0.05)
            if not self.answered(stamp):
                self.unanswered.append(stamp)

    def subscribe(self, node, qos: QoSProfile) -> None:
        """The outputs waited for: every message goes into self.received."""
        node.create_subscription(TwoHandPose, self.hands_topic, self.received.append, qos)

    def stamp_of(self, item):
        """The input stamp an item of self.received answers."""
        return item.header.stamp

    def answered(self, stamp) -> bool:
        return any(self.stamp_of(item) == stamp for item in self.received)


class ParameterReader(RosThread):
    """Reads a node's parameters through its get_parameters service (rcl_interfaces)."""

    def __init__(self, node_name: str, names: Iterable[str], on_done) -> None:
        super().__init__(on_done)
        self.node_name, self.names = node_name, list(names)
        self.values: dict[str, Any] = {}

    def work(self, node, executor) -> None:
        from rcl_interfaces.srv import GetParameters
        from rclpy.parameter import parameter_value_to_python
        client = node.create_client(GetParameters, f'{self.node_name}/get_parameters')
        deadline = time.monotonic() + RECEIVE_TIMEOUT_S
        while not self.values:
            answer = call_service(client, GetParameters.Request(names=self.names), executor,
                                  deadline, 3.0)
            if answer is not None:
                self.values = {name: parameter_value_to_python(value)
                               for name, value in zip(self.names, answer.values)}


def call_service(client, request, executor, deadline: float, timeout: float):
    """One call once the service is there; None when the answer does not come within timeout
    (a request sent the moment a service appears can be lost: the caller asks again)."""
    while time.monotonic() < deadline:
        if client.wait_for_service(timeout_sec=1.0):
            future = client.call_async(request)
            executor.spin_until_future_complete(future, timeout_sec=timeout)
            if future.done():
                return future.result()
            client.remove_pending_request(future)
            return None
    raise TimeoutError(f'{client.srv_name} did not answer')


def configure_node(name: str, node, executor, deadline: float) -> None:
    """What a lifecycle manager does: get_state until the node answers (so both directions of
    its services are discovered), then configure, checking the state again if the answer
    does not come."""
    from lifecycle_msgs.msg import State, Transition
    from lifecycle_msgs.srv import ChangeState, GetState
    get_state = node.create_client(GetState, f'{name}/get_state')
    change_state = node.create_client(ChangeState, f'{name}/change_state')
    configure = ChangeState.Request(transition=Transition(id=Transition.TRANSITION_CONFIGURE))
    while time.monotonic() < deadline:
        state = call_service(get_state, GetState.Request(), executor, deadline, 3.0)
        if state is None:
            continue
        if state.current_state.id != State.PRIMARY_STATE_UNCONFIGURED:
            return
        # launch_ros activates the node on its 'inactive' transition event: a configure before
        # launch's reader of those events is in the graph could go unseen
        if node.count_subscribers(f'{name}/transition_event') == 0:
            executor.spin_once(timeout_sec=0.2)
            continue
        call_service(change_state, configure, executor, deadline, 30.0)
    raise TimeoutError(f'{name} was not configured')


def process_environments() -> tuple[Any, dict[str, dict[str, str]]]:
    """An event handler recording each started process's environment (/proc/<pid>/environ)."""
    from launch.actions import RegisterEventHandler
    from launch.event_handlers import OnProcessStart
    environments: dict[str, dict[str, str]] = {}

    def record(event, _context) -> None:
        raw = Path(f'/proc/{event.pid}/environ').read_bytes().decode(errors='replace')
        environments[event.action.name] = dict(item.split('=', 1) for item in raw.split('\0')
                                               if '=' in item)
    return RegisterEventHandler(OnProcessStart(on_start=record)), environments


def run_launch_file(name: str, arguments: dict[str, str],
                    make_worker: Callable[[Callable[[], Any]], RosThread],
                    extra_entities=()) -> tuple[int, dict[str, int], Any]:
    """Runs launch/<name> (from the ament index) with `arguments` until the worker thread,
    made by make_worker(service.shutdown), ends it.

    Returns the launch's return code, each process's exit code and the worker.
    """
    from ament_index_python.packages import get_package_share_directory
    from launch.actions import (
        IncludeLaunchDescription,
        RegisterEventHandler,
        SetLaunchConfiguration,
    )
    from launch.event_handlers import OnProcessExit
    from launch.launch_description_sources import PythonLaunchDescriptionSource

    from launch import LaunchDescription, LaunchService  # type: ignore[attr-defined]

    launch_file = Path(get_package_share_directory('interhand_ros')) / 'launch' / name
    assert launch_file.resolve() == (REPO / 'launch' / name).resolve()
    exits: dict[str, int] = {}
    service = LaunchService()
    service.include_launch_description(LaunchDescription([
        SetLaunchConfiguration('sigterm_timeout', str(SIGTERM_TIMEOUT_S)),
        RegisterEventHandler(OnProcessExit(on_exit=lambda event, _: exits.__setitem__(
            event.action.name, event.returncode))),
        IncludeLaunchDescription(PythonLaunchDescriptionSource(str(launch_file)),
                                 launch_arguments=arguments.items()),
        *extra_entities,
    ]))
    worker = make_worker(service.shutdown)
    worker.start()
    return_code = service.run()
    worker.join(10.0)
    assert worker.error is None, worker.error
    return return_code, exits, worker


def run_launch(arguments: dict[str, str], extra_entities=(),
               configure: bool = False) -> tuple[int, dict, Camera]:
    """Runs hands.launch.py with `arguments` until the camera got its answers.

    Returns the launch's return code, each process's exit code and the camera.
    """
    camera = f'/launch_test_{uuid.uuid4().hex[:8]}/color'
    return_code, exits, player = run_launch_file(
        'hands.launch.py', {'camera': camera, **arguments},
        lambda done: Camera(camera, '/hands', on_done=done, configure=configure),
        extra_entities)
    assert player.received, f'no TwoHandPose after {len(player.sent)} photos'
    assert not player.unanswered, \
        f'{len(player.unanswered)} of {player.checked_frames} photos lost after the first answer'
    return return_code, exits, player


def test_launch_file_starts_the_node_and_a_photo_gives_hands(ament_env, checkpoint):
    record, environments = process_environments()
    return_code, exits, player = run_launch(
        {'checkpoint': str(checkpoint), 'device': 'cpu', 'use_rviz': 'false'}, [record])
    msg = player.received[0]
    assert msg.header.stamp in player.sent  # output header = input header
    assert msg.header.frame_id == 'camera_color_optical_frame'
    assert msg.estimator == EstimatorKind.INTERNET  # the checkpoint argument reached the node
    assert (msg.roi.width, msg.roi.height) == (640, 480)
    # the profile exported here (test/conftest.py) is kept, not replaced by dds_profile's
    assert [env.get(DDS_VARIABLE) for env in environments.values()] == [REPO_PROFILE]
    assert return_code == 0
    assert len(exits) == 1 and set(exits.values()) == {0}, exits  # the node exited 0


def test_without_autostart_a_manager_and_launch_lifecycle_events_bring_the_node_up(ament_env):
    """autostart:=false: the node waits unconfigured; a lifecycle manager (here the camera
    thread, through the services) configures it, and a launch_ros event handler of the kind a
    launch file adds activates it once it is inactive."""
    from launch.actions import EmitEvent, OpaqueFunction, RegisterEventHandler
    from launch_ros.event_handlers import OnStateTransition
    from launch_ros.events.lifecycle import ChangeState
    from lifecycle_msgs.msg import Transition

    def change(transition_id: int) -> EmitEvent:
        return EmitEvent(event=ChangeState(lifecycle_node_matcher=lambda _: True,
                                           transition_id=transition_id))

    states: list[str] = []
    record = OnStateTransition(entities=[OpaqueFunction(
        function=lambda context: states.append(context.locals.event.goal_state))])
    activate = OnStateTransition(goal_state='inactive',
                                 entities=[change(Transition.TRANSITION_ACTIVATE)])
    return_code, exits, player = run_launch(
        {'autostart': 'false', 'use_rviz': 'false'},
        [RegisterEventHandler(handler) for handler in (record, activate)], configure=True)
    # launch_ros may discover the transition_event topic only after 'configuring' went out
    assert states[-3:] == ['inactive', 'activating', 'active'], states
    assert player.received[0].estimator == EstimatorKind.LANDMARK  # checkpoint '' by default
    assert return_code == 0
    assert len(exits) == 1 and set(exits.values()) == {0}, exits


INSTALLED_PROFILE = 'installed'  # expected: dds_profile's default, the installed fastdds.xml


@pytest.mark.parametrize('arguments, expected, profile', [
    ({}, {'backend': 'openvino', 'precision': 'bf16', 'autostart': False}, INSTALLED_PROFILE),
    ({'backend': 'torch', 'dds_profile': ''},
     {'backend': 'torch', 'precision': 'bf16', 'autostart': False}, None),
], ids=['params_file_only', 'backend_given_and_no_profile'])
def test_a_params_file_keeps_its_values_unless_an_argument_is_given(
        ament_env, tmp_path, monkeypatch, arguments, expected, profile):
    """Only the launch arguments the user gives override params_file (read back through the
    node's get_parameters service); without an exported FASTDDS_DEFAULT_PROFILES_FILE the
    launch gives its node dds_profile (default: the installed config/fastdds.xml; '' = none)."""
    from ament_index_python.packages import get_package_share_directory
    params_file = tmp_path / 'params.yaml'
    params_file.write_text(yaml.safe_dump({'/**': {'ros__parameters': {
        'backend': 'openvino', 'precision': 'bf16', 'autostart': False}}}))
    monkeypatch.delenv(DDS_VARIABLE, raising=False)
    record, environments = process_environments()
    return_code, exits, reader = run_launch_file(
        'hands.launch.py', {'params_file': str(params_file), **arguments},
        lambda done: ParameterReader('/hands', expected, done), [record])
    assert reader.values == expected
    if profile == INSTALLED_PROFILE:
        profile = str(Path(get_package_share_directory('interhand_ros'))
                      / 'config' / 'fastdds.xml')
    assert [env.get(DDS_VARIABLE) for env in environments.values()] == [profile]
    assert return_code == 0
    assert len(exits) == 1 and set(exits.values()) == {0}, exits


def test_a_parameter_argument_outside_its_choices_stops_the_launch_before_the_node(
        ament_env) -> None:
    """The parameter arguments carry the table's choices (settings.py): a wrong value ends
    the launch at once, naming the argument and its choices, and no process starts."""
    import logging
    from logging.handlers import BufferingHandler

    from launch.actions import IncludeLaunchDescription, RegisterEventHandler
    from launch.event_handlers import OnProcessStart
    from launch.launch_description_sources import PythonLaunchDescriptionSource

    from launch import LaunchDescription, LaunchService  # type: ignore[attr-defined]

    started: list[str] = []
    service = LaunchService()
    service.include_launch_description(LaunchDescription([
        RegisterEventHandler(OnProcessStart(
            on_start=lambda event, _: started.append(event.action.name))),
        IncludeLaunchDescription(PythonLaunchDescriptionSource(
            str(REPO / 'launch' / 'hands.launch.py')),
            launch_arguments={'backend': 'tiny', 'use_rviz': 'false'}.items()),
    ]))
    record = BufferingHandler(capacity=10_000)  # keeps what it is given
    record.setLevel(logging.ERROR)
    launch_log = logging.getLogger('launch')  # LaunchService's own (it does not propagate)
    launch_log.addHandler(record)
    try:
        assert service.run() != 0
    finally:
        launch_log.removeHandler(record)
    assert not started
    errors = [entry.getMessage() for entry in record.buffer]
    assert any('Argument "backend" provided value "tiny" is not valid' in error
               and "'onnxruntime'" in error for error in errors), errors
