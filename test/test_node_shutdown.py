"""Ctrl-C on launch/hands.launch.py run by the real launch.LaunchService: the node exits 0 well
within launch's 5 s, without the SIGTERM escalation, while it waits for a camera and while a
frame is in the estimator; a second Ctrl-C during the stop changes nothing.

Ctrl-C in a terminal sends SIGINT to its whole foreground process group: the launch process and
the node together. launch (interactive, as `ros2 launch` runs) therefore does not forward the
SIGINT it gets; it only starts its 5 s timer before SIGTERM. The tests press Ctrl-C the same way:
SIGINT to this process (where LaunchService runs) and to the node's process. A script's
`kill -INT <launch pid>` reaches the launch process alone: the launch file passes it on.
"""
from __future__ import annotations

import os
import signal
import threading
import time
import uuid

import pytest
from test_node_launch_run import (  # noqa: F401 - ament_env and checkpoint are fixtures
    Camera,
    RosThread,
    ament_env,
    checkpoint,
    run_launch_file,
)
from test_node_launch_run import pytestmark as launch_requirements

pytestmark = launch_requirements
STOP_DEADLINE_S = 5.0  # launch's sigterm_timeout: later, launch escalates to SIGTERM
ESCALATION = "escalating to 'SIGTERM'"
READY_TIMEOUT_S = 180.0
SECOND_PRESS_AFTER_S = 0.05


class NodeProcess:
    """Event handlers recording the node's pid, output, exit (status, time) and every signal
    launch sends it (an escalation is a SignalProcess event with SIGTERM, then SIGKILL)."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.output: list[str] = []
        self.exit_code: int | None = None
        self.exited_at: float | None = None
        self.exited = threading.Event()
        self.signals_from_launch: list[str] = []

    def handlers(self) -> list:
        from launch.actions import OpaqueFunction, RegisterEventHandler
        from launch.event_handler import EventHandler
        from launch.event_handlers import OnProcessExit, OnProcessIO, OnProcessStart
        from launch.events.process import SignalProcess

        def on_exit(event, _context) -> None:
            self.exit_code, self.exited_at = event.returncode, time.monotonic()
            self.exited.set()

        def on_signal(context) -> None:
            self.signals_from_launch.append(str(context.locals.event.signal_name))
        return [
            RegisterEventHandler(EventHandler(
                matcher=lambda event: isinstance(event, SignalProcess),
                entities=OpaqueFunction(function=on_signal))),
            RegisterEventHandler(OnProcessStart(
                on_start=lambda event, _context: setattr(self, 'pid', event.pid))),
            RegisterEventHandler(OnProcessIO(
                on_stdout=lambda event: self.output.append(event.text.decode()),
                on_stderr=lambda event: self.output.append(event.text.decode()))),
            RegisterEventHandler(OnProcessExit(on_exit=on_exit)),
        ]

    def ctrl_c(self, presses: int, launch_only: bool = False) -> float:
        """What a terminal does on Ctrl-C (`presses` times), or with launch_only what a
        script's `kill -INT <launch pid>` does; returns the first press's time. Waits for the
        node's exit, so launch handles the SIGINT before anything else ends it."""
        assert self.pid is not None
        # the foreground process group, or the launch process (this one) alone
        pids = (os.getpid(),) if launch_only else (self.pid, os.getpid())
        pressed = time.monotonic()
        for press in range(presses):
            if press:
                time.sleep(SECOND_PRESS_AFTER_S)
            for pid in pids:
                os.kill(pid, signal.SIGINT)
        self.exited.wait(STOP_DEADLINE_S + 10.0)
        return pressed


class IdleCamera(RosThread):
    """No camera: presses Ctrl-C once the node is active (its image subscription is on DDS)."""

    def __init__(self, camera: str, node: NodeProcess, presses: int, on_done,
                 launch_only: bool = False) -> None:
        super().__init__(on_done)
        self.image_topic, self.node, self.presses = f'{camera}/image_raw', node, presses
        self.launch_only = launch_only
        self.pressed: float | None = None

    def work(self, ros_node, executor) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while ros_node.count_subscribers(self.image_topic) == 0:
            assert time.monotonic() < deadline, 'the node did not subscribe to the camera'
            executor.spin_once(timeout_sec=0.1)
        executor.spin_once(timeout_sec=0.5)  # waiting for a camera, worker idle
        self.pressed = self.node.ctrl_c(self.presses, self.launch_only)


IN_FLIGHT_ATTEMPTS = 3


class BusyCamera(Camera):
    """Plays the photo faster than the network runs, so a frame always waits in the mailbox,
    and presses Ctrl-C when the first answer comes: the worker is in the next frame then."""

    spin_period = 0.05
    checked_frames = 0

    def __init__(self, camera: str, node: NodeProcess, on_done) -> None:
        super().__init__(camera, '/hands', on_done)
        self.node = node
        self.pressed: float | None = None

    def work(self, ros_node, executor) -> None:
        super().work(ros_node, executor)
        assert self.received, f'no TwoHandPose after {len(self.sent)} photos'
        self.pressed = self.node.ctrl_c(presses=1)


def stop_launch(arguments: dict[str, str], make_player) -> tuple[int, NodeProcess, float]:
    """Runs hands.launch.py until the player pressed Ctrl-C; returns the launch's return code,
    the node's record and the seconds from the first Ctrl-C to the node's exit."""
    node = NodeProcess()
    camera = f'/shutdown_test_{uuid.uuid4().hex[:8]}/color'
    return_code, _, player = run_launch_file(
        'hands.launch.py', {'camera': camera, 'use_rviz': 'false', **arguments},
        lambda done: make_player(camera, node, done), node.handlers())
    assert player.pressed is not None and node.exited_at is not None, ''.join(node.output)
    return return_code, node, node.exited_at - player.pressed


def assert_clean_stop(return_code: int, node: NodeProcess, seconds: float, capfd) -> None:
    output = ''.join(node.output)
    assert node.exit_code == 0, output
    assert return_code == 0
    assert seconds < STOP_DEADLINE_S, f'the node took {seconds:.2f} s to stop'
    assert not {'SIGTERM', 'SIGKILL'} & set(node.signals_from_launch), node.signals_from_launch
    assert ESCALATION not in output + ''.join(capfd.readouterr())
    assert 'Traceback' not in output, output


@pytest.mark.usefixtures('ament_env')
@pytest.mark.parametrize('presses', [1, 2], ids=['ctrl_c', 'ctrl_c_twice'])
def test_ctrl_c_while_waiting_for_a_camera_stops_the_node_cleanly(capfd, presses):
    return_code, node, seconds = stop_launch(
        {}, lambda camera, node, done: IdleCamera(camera, node, presses, done))
    assert_clean_stop(return_code, node, seconds, capfd)


@pytest.mark.usefixtures('ament_env')
def test_sigint_to_the_launch_process_alone_stops_the_node_cleanly(capfd):
    """`kill -INT <launch pid>` from a script: launch (interactive) would only wait for the
    node, then escalate; the launch file sends the node the SIGINT itself."""
    return_code, node, seconds = stop_launch(
        {}, lambda camera, node, done: IdleCamera(camera, node, 1, done, launch_only=True))
    assert_clean_stop(return_code, node, seconds, capfd)
    assert node.signals_from_launch == ['SIGINT']


@pytest.mark.usefixtures('ament_env')
def test_ctrl_c_while_a_frame_is_in_the_estimator_stops_the_node_cleanly(
        capfd, checkpoint):  # noqa: F811 - the fixture imported above
    # Every stop must be clean. Whether the press lands inside a frame is a race with the
    # worker (it may be between two frames): up to three launches until one did, as its log says.
    outputs = []
    for _ in range(IN_FLIGHT_ATTEMPTS):
        return_code, node, seconds = stop_launch(
            {'checkpoint': str(checkpoint), 'device': 'cpu', 'backend': 'torch'},  # slowest
            lambda camera, node, done: BusyCamera(camera, node, done))
        assert_clean_stop(return_code, node, seconds, capfd)
        outputs.append(''.join(node.output))
        if 'the frame in the estimator finishes first' in outputs[-1]:
            return
    pytest.fail('Ctrl-C never landed while a frame was in the estimator:\n' + outputs[-1])
