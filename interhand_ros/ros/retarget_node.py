"""The retarget node: `hands` (interhand_msgs/TwoHandPose) in, robot-hand JointState out.

One concern: each side's fresh, fully valid hand is retargeted with dex-retargeting
(interhand_ros.teleop.retargeting) from its wrist-frame joints (HandPose.joints_wrist) to that
side's robot hand: a robot dex-retargeting ships a config for (robot_<side>) or the user's own
dex-retargeting YAML config (config_<side>), and published on retarget/<side>/joint_states with
the URDF's joint names, stamped with the input stamp, every value within the URDF's limits. A
lost, held or partly invalid hand gets no command (the robot's controller holds its last one)
and a WARN status on /diagnostics. A bad setting (unknown robot, both or neither of robot and
config, unreadable config, missing URDF, dex-retargeting not installed) stops the node at
start with a message naming it.
"""
from __future__ import annotations

import contextlib
import io
import sys
import time
from dataclasses import dataclass

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.publisher import Publisher
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState

from interhand_msgs.msg import HandPose, TwoHandPose
from interhand_ros.ros.entry import StartupError, spin_node
from interhand_ros.skeleton import RIGHT, SIDES
from interhand_ros.stamps import header_seconds
from interhand_ros.teleop.retargeting import HandRetargeter, RetargetingError

PARAMETERS: tuple[tuple[str, object, str], ...] = (
    ('robot_right', '', "robot hand for the subject's right hand: a robot name of "
                        "dex-retargeting's bundled configs (e.g. leap_hand; an unknown name "
                        "is refused with the list); '' = none"),
    ('robot_left', '', "robot hand for the subject's left hand (the same names); '' = none"),
    ('config_right', '', "instead of robot_right: a dex-retargeting YAML config (your own or "
                         "a tuned robot hand); its urdf_path is relative to urdf_dir"),
    ('config_left', '', 'instead of robot_left: a dex-retargeting YAML config'),
    ('retargeting_type', 'vector',
     "for robot names: 'vector' (teleoperation), 'dexpilot' (teleoperation, finger-closing "
     "prior) or 'position' (offline; adds a free-floating base that is not published); a "
     "config file gives its own type"),
    ('urdf_dir', '', "the folder the configs' urdf_path are relative to: dex-urdf's "
                     "robots/hands for robot names (holds <robot>/<robot>_<side>.urdf)"),
    ('max_velocity', 0.0, 'rad/s (m/s prismatic) per joint between commands; 0 = no limit'),
    ('low_pass_alpha', 1.0,
     "dex-retargeting's own low-pass weight of the new value; 1 = off (the hands node filters)"),
    ('diagnostics_period', 1.0, 's, /diagnostics publishing period'),
    ('log_throttle', 2.0, 's, the same kind of warning is logged at most once per this period'),
)


def qos() -> QoSProfile:
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5,
                      reliability=ReliabilityPolicy.RELIABLE)


@dataclass
class SideState:
    """One side's retargeter, publisher and what /diagnostics says about it."""

    retargeter: HandRetargeter
    publisher: Publisher
    commands: int = 0
    state: str = 'waiting for hands'
    level: bytes = DiagnosticStatus.WARN
    compute_s: float = 0.0


def usable(hand: HandPose) -> str | None:
    """Why a hand gets no command (None: retarget it)."""
    if not hand.detected:
        return 'hand lost: no command (the controller holds)'
    if hand.held:
        return f'hand held for {hand.held_for:.2f} s (not measured): no command'
    if not all(hand.valid):
        return 'not every joint valid: no command'
    return None


class RetargetNode(Node):
    """rclpy node `retarget`."""

    def __init__(self, parameter_overrides: list[Parameter] | None = None,
                 node_name: str = 'retarget') -> None:
        super().__init__(node_name, parameter_overrides=parameter_overrides or [])
        for name, default, description in PARAMETERS:
            self.declare_parameter(name, default, ParameterDescriptor(
                description=description, read_only=True))
        self.params = {name: self.get_parameter(name).value for name, _, _ in PARAMETERS}
        try:
            self.sides = self._build_sides()
        except (StartupError, RetargetingError) as error:
            super().destroy_node()
            raise StartupError(str(error)) from error
        self._last_log: dict[str, float] = {}
        self.create_subscription(TwoHandPose, 'hands', self._on_hands, qos())
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.create_timer(self.params['diagnostics_period'], self._publish_diagnostics)
        self.get_logger().info('retarget node ready: ' + ', '.join(
            f'{side} -> {state.retargeter.robot} ({len(state.retargeter.joint_names)} joints, '
            f'{state.retargeter.retargeting_type})' for side, state in self.sides.items()))

    def _build_sides(self) -> dict[str, SideState]:
        p = self.params
        chosen = [side for side in SIDES if p[f'robot_{side}'] or p[f'config_{side}']]
        if not chosen:
            raise StartupError('no robot hand: set robot_right and/or robot_left (a robot of '
                               'dex-retargeting, e.g. leap_hand) or config_right / config_left '
                               '(a dex-retargeting YAML config)')
        if p['diagnostics_period'] <= 0.0:
            raise StartupError(f"diagnostics_period must be > 0 s, got {p['diagnostics_period']}")
        sides = {}
        for side in chosen:
            with contextlib.redirect_stdout(io.StringIO()) as chatter:  # mesh-less URDF notes
                retargeter = HandRetargeter(
                    side, p['urdf_dir'], robot=p[f'robot_{side}'], config=p[f'config_{side}'],
                    retargeting_type=p['retargeting_type'], max_velocity=p['max_velocity'],
                    low_pass_alpha=p['low_pass_alpha'])
            if chatter.getvalue().strip():
                self.get_logger().debug(chatter.getvalue())
            publisher = self.create_publisher(JointState, f'retarget/{side}/joint_states', qos())
            sides[side] = SideState(retargeter, publisher)
        return sides

    def _on_hands(self, msg: TwoHandPose) -> None:
        stamp = header_seconds(msg)
        for side, state in self.sides.items():
            hand = msg.right if side == RIGHT else msg.left
            reason = usable(hand)
            if reason is not None:
                state.state, state.level = reason, DiagnosticStatus.WARN
                continue
            joints = np.array([[p.x, p.y, p.z] for p in hand.joints_wrist])
            started = time.perf_counter()
            try:
                positions = state.retargeter.retarget(joints, stamp)
            except (ValueError, RuntimeError) as error:
                state.state, state.level = f'retargeting failed: {error}', DiagnosticStatus.ERROR
                self._warn(side, f'{side} hand not retargeted: {error}')
                continue
            state.compute_s = time.perf_counter() - started
            state.publisher.publish(JointState(
                header=msg.header, name=list(state.retargeter.joint_names),
                position=positions.tolist()))
            state.commands += 1
            state.state, state.level = 'retargeting', DiagnosticStatus.OK

    def _warn(self, kind: str, text: str) -> None:
        now = time.monotonic()
        if now - self._last_log.get(kind, -float('inf')) >= self.params['log_throttle']:
            self._last_log[kind] = now
            self.get_logger().warning(text)

    def _publish_diagnostics(self) -> None:
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        for side, state in self.sides.items():
            array.status.append(DiagnosticStatus(
                level=state.level, name=f'{self.get_name()}: {side} hand -> '
                                        f'{state.retargeter.robot}',
                message=state.state, hardware_id=self.get_fully_qualified_name(), values=[
                    KeyValue(key='commands', value=str(state.commands)),
                    KeyValue(key='retarget_ms', value=f'{state.compute_s * 1e3:.2f}'),
                    KeyValue(key='retargeting_type', value=state.retargeter.retargeting_type)]))
        self.diagnostics_pub.publish(array)


def main(args: list[str] | None = None) -> int:
    """Console entry point `retarget_node`: spin until Ctrl-C; exit 1 when it cannot start."""
    return spin_node(RetargetNode, 'retarget', args)

if __name__ == '__main__':
    sys.exit(main())
