"""launch/hands.launch.py executed by the real launch.LaunchService against the installed package.

The package is found through the ament index (make setup registers it in the venv the way
colcon installs it); the node runs as its own process, a real photo is played as a camera over
DDS, a TwoHandPose comes back, and the launch shuts down cleanly (every process exits 0).
LaunchService must run in the main thread, so the camera and the listener spin in a thread.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

from interhand_msgs.msg import TwoHandPose
from interhand_ros.estimate import EstimatorKind

REPO = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)
PHOTO = REPO / '..' / 'shared' / 'data' / 'hands' / 'handSrc.jpg'
RECEIVE_TIMEOUT_S = 180.0  # node start (torch import, checkpoint load, warm-up) on a busy CPU

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


class Camera(threading.Thread):
    """Plays the photo on <camera>/image_raw + camera_info until a TwoHandPose comes back.

    configure: first act as a lifecycle manager and configure /hands through its services.
    Subclasses wait for other outputs by overriding subscribe().
    """

    spin_period = 0.5  # s

    def __init__(self, camera: str, hands_topic: str, on_done, configure: bool = False) -> None:
        super().__init__(daemon=True)
        self.camera, self.hands_topic, self.on_done = camera, hands_topic, on_done
        self.configure = configure
        self.received: list = []
        self.sent: list = []
        self.error: BaseException | None = None

    def run(self) -> None:
        context = rclpy.Context()
        rclpy.init(context=context)
        node = rclpy.create_node(f'launch_camera_{uuid.uuid4().hex[:8]}', context=context)
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        image_pub = node.create_publisher(Image, f'{self.camera}/image_raw', qos)
        info_pub = node.create_publisher(CameraInfo, f'{self.camera}/camera_info', qos)
        self.subscribe(node, qos)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        try:
            deadline = time.monotonic() + RECEIVE_TIMEOUT_S
            if self.configure:
                configure_node('/hands', node, executor, deadline)
            while not self.received and time.monotonic() < deadline:
                if image_pub.get_subscription_count() > 0:
                    stamp = node.get_clock().now().to_msg()
                    image, info = photo_messages(stamp)
                    info_pub.publish(info)
                    image_pub.publish(image)
                    self.sent.append(stamp)
                executor.spin_once(timeout_sec=self.spin_period)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.error = error
        finally:
            executor.shutdown()
            node.destroy_node()
            rclpy.shutdown(context=context)
            self.on_done()


    def subscribe(self, node, qos: QoSProfile) -> None:
        """The outputs waited for: every message goes into self.received."""
        node.create_subscription(TwoHandPose, self.hands_topic, self.received.append, qos)


def configure_node(name: str, node, executor, deadline: float) -> None:
    """What a lifecycle manager does: get_state until the node answers (so both directions of
    its services are discovered: a request sent the moment a service appears can be lost),
    then configure, checking the state again if the answer does not come."""
    from lifecycle_msgs.msg import State, Transition
    from lifecycle_msgs.srv import ChangeState, GetState
    get_state = node.create_client(GetState, f'{name}/get_state')
    change_state = node.create_client(ChangeState, f'{name}/change_state')

    def call(client, request, timeout: float):
        while time.monotonic() < deadline:
            if client.wait_for_service(timeout_sec=1.0):
                future = client.call_async(request)
                executor.spin_until_future_complete(future, timeout_sec=timeout)
                if future.done():
                    return future.result()
                client.remove_pending_request(future)
                return None
        raise TimeoutError(f'{client.srv_name} did not answer')

    configure = ChangeState.Request(transition=Transition(id=Transition.TRANSITION_CONFIGURE))
    while time.monotonic() < deadline:
        state = call(get_state, GetState.Request(), 3.0)
        if state is None:
            continue
        if state.current_state.id != State.PRIMARY_STATE_UNCONFIGURED:
            return
        call(change_state, configure, 30.0)
    raise TimeoutError(f'{name} was not configured')


def run_launch(arguments: dict[str, str], extra_entities=(),
               configure: bool = False) -> tuple[int, dict, Camera]:
    """Runs hands.launch.py (from the ament index) with `arguments` until the camera got hands.

    Returns the launch's return code, each process's exit code and the camera.
    """
    from ament_index_python.packages import get_package_share_directory
    from launch.actions import IncludeLaunchDescription, RegisterEventHandler
    from launch.event_handlers import OnProcessExit
    from launch.launch_description_sources import PythonLaunchDescriptionSource

    from launch import LaunchDescription, LaunchService  # type: ignore[attr-defined]

    share = Path(get_package_share_directory('interhand_ros'))
    launch_file = share / 'launch' / 'hands.launch.py'
    assert launch_file.resolve() == (REPO / 'launch' / 'hands.launch.py').resolve()
    camera = f'/launch_test_{uuid.uuid4().hex[:8]}/color'
    exits: dict[str, int] = {}
    service = LaunchService()
    service.include_launch_description(LaunchDescription([
        RegisterEventHandler(OnProcessExit(on_exit=lambda event, _: exits.__setitem__(
            event.action.name, event.returncode))),
        IncludeLaunchDescription(PythonLaunchDescriptionSource(str(launch_file)),
                                 launch_arguments={'camera': camera, **arguments}.items()),
        *extra_entities,
    ]))
    player = Camera(camera, '/hands', on_done=service.shutdown, configure=configure)
    player.start()
    return_code = service.run()
    player.join(10.0)
    assert player.error is None, player.error
    assert player.received, f'no TwoHandPose after {len(player.sent)} photos'
    return return_code, exits, player


def test_launch_file_starts_the_node_and_a_photo_gives_hands(ament_env, checkpoint):
    return_code, exits, player = run_launch(
        {'checkpoint': str(checkpoint), 'device': 'cpu', 'use_rviz': 'false'})
    msg = player.received[0]
    assert msg.header.stamp in player.sent  # output header = input header
    assert msg.header.frame_id == 'camera_color_optical_frame'
    assert msg.estimator == EstimatorKind.INTERNET  # the checkpoint argument reached the node
    assert (msg.roi.width, msg.roi.height) == (640, 480)
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
