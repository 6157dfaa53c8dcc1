"""A fusion rig for the tests: the real fusion_node and synthetic cameras, each its own process.

Each view is tools/synthetic_views.py (what a hands node publishes for one camera of the known
scene of tools/synthetic_scene.py); the test process listens to /hands, /hands/raw (the
fusion's own, unfiltered), /tf and /diagnostics
and waits for events with generous deadlines (never fixed sleeps). A helper module, not a test
file: pytest does not collect it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from tf2_msgs.msg import TFMessage

from interhand_msgs.msg import TwoHandPose
from interhand_ros.messages import from_two_hand_pose
from interhand_ros.stamps import NS_PER_S, stamp_to_ns
from tools.synthetic_scene import hands_at

REPO = Path(__file__).resolve().parents[1]
FUSION_NODE = Path(sys.prefix) / 'bin' / 'fusion_node'
EVENT_TIMEOUT_S = 90.0  # process start-up and DDS discovery on a busy 2-core machine
STOP_TIMEOUT_S = 20.0


def pose_error_m(msg: TwoHandPose) -> float:
    """Largest distance (m) of a fused pose's valid joints from the scene's true hands."""
    estimate = from_two_hand_pose(msg)
    truth = hands_at(stamp_to_ns(msg.header.stamp) / NS_PER_S)
    errors = [np.linalg.norm(hand.joints[hand.valid] - truth[hand.side][hand.valid], axis=1)
              for hand in estimate.hands() if hand.valid.any()]
    return float(np.max(np.concatenate(errors))) if errors else float('nan')


class FusionRig:
    """fusion_node on `views` + one synthetic camera process per view (view -> its flags)."""

    def __init__(self, tmp_path: Path, views: dict[str, list[str]], count: int | None = None,
                 params: tuple[str, ...] = ()) -> None:
        self.logs = tmp_path
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self.node = rclpy.create_node(f'fusion_test_{uuid.uuid4().hex[:8]}')
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.poses: list[TwoHandPose] = []  # hands/raw: the fusion's own
        self.filtered: list[TwoHandPose] = []  # hands: after the teleop stage
        self.statuses: dict[str, DiagnosticStatus] = {}
        self.wrists: list = []
        reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.node.create_subscription(TwoHandPose, '/hands/raw', self.poses.append, reliable)
        self.node.create_subscription(TwoHandPose, '/hands', self.filtered.append, reliable)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics,
                                      reliable)
        self.node.create_subscription(TFMessage, '/tf', lambda m: self.wrists.extend(
            m.transforms), QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        names = ','.join(views)
        self._start('fusion', [str(FUSION_NODE), '--ros-args', '-p', f'views:=[{names}]',
                               '-p', 'diagnostics_period:=0.25', *params])
        for index, (view, flags) in enumerate(views.items(), start=1):
            self._start(view.strip('/'), [
                sys.executable, '-m', 'tools.synthetic_views', '--view', view, '--index',
                str(index), '--count', str(count or len(views)), *flags])

    def _start(self, name: str, command: list[str]) -> None:
        log = open(self.logs / f'{name}.log', 'w')  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                   env=dict(os.environ, PYTHONUNBUFFERED='1'))
        self.processes.append((name, process))

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            self.statuses[status.name] = status

    def status(self, view: str = '') -> DiagnosticStatus | None:
        """The fusion node's newest status (of `view`, or its own)."""
        return self.statuses.get(f'fusion: view {view}' if view else
                                 'fusion: multi-view hand fusion')

    def value(self, key: str, view: str = '') -> str:
        status = self.status(view)
        return next((kv.value for kv in status.values if kv.key == key), '') if status else ''

    def wait_for(self, what: str, condition: Callable[[], bool],
                 timeout: float = EVENT_TIMEOUT_S) -> None:
        """Spin until condition() holds; fail naming `what` and the fusion log otherwise."""
        deadline = time.monotonic() + timeout
        while not condition():
            for name, process in self.processes:
                if process.poll() is not None:
                    raise AssertionError(f'{name} exited ({process.returncode}) while waiting '
                                         f'for {what}:\n{self.log(name)}')
            if time.monotonic() > deadline:
                raise AssertionError(f'no {what} within {timeout:.0f} s; fusion log:\n'
                                     f'{self.log("fusion")[-3000:]}')
            self.executor.spin_once(timeout_sec=0.05)

    def wait_for_poses(self, count: int, keep: Callable[[TwoHandPose], bool] = lambda _: True
                       ) -> list[TwoHandPose]:
        """The next `count` fused poses (hands/raw) that `keep` accepts."""
        since = len(self.poses)
        self.wait_for(f'{count} fused poses', lambda: sum(
            map(keep, self.poses[since:])) >= count)
        return [msg for msg in self.poses[since:] if keep(msg)][:count]

    def log(self, name: str) -> str:
        return (self.logs / f'{name}.log').read_text()

    def close(self) -> None:
        """SIGINT every process (the fusion node must exit 0), SIGKILL what does not stop."""
        for _, process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        codes = {}
        for name, process in self.processes:
            try:
                codes[name] = process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = process.wait()
        self.executor.shutdown()
        self.node.destroy_node()
        assert codes.get('fusion') == 0, f'fusion_node exit {codes}:\n{self.log("fusion")}'
