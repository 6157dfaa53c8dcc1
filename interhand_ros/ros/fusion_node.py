"""The fusion node: several cameras' hands (one hands node each) in, one pair of hands out.

A managed (lifecycle) node like the hands node, and as thin: configure checks the parameters
and builds the multiview parts (stamp grouper, fuser, health tracker) and the teleop stage;
activate subscribes every view's `<view>/hands/raw` and `<view>/camera_info`, /tf_static and
/tf, and creates the outputs; deactivate removes those; cleanup forgets the parts. `autostart`
(default true) configures and activates at start. Each view's message is checked
(ros/view_inputs) and offered to the grouper; every group it emits is fused, filtered once
(teleop stage) and published in the world frame with the group's stamp. A view whose message
is unusable, whose clock is off or which falls silent is left out, reported (throttled log,
/diagnostics: one status per view) and used again when it recovers; the others go on.
"""
from __future__ import annotations

import math
import sys
import time
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import ParameterException, ParameterUninitializedException
from rclpy.impl.rcutils_logger import RcutilsLogger
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.logging import get_logger
from rclpy.parameter import Parameter
from std_msgs.msg import Header

from interhand_msgs.msg import TwoHandPose
from interhand_ros.fusion_settings import (
    FUSION_PARAMETERS,
    FUSION_SPECS,
    frame_period_ns,
    fusion_problem,
    grouping_config,
    normalized_views,
)
from interhand_ros.geometry.transforms import TransformBuffer
from interhand_ros.multiview.grouping import BACK, CLOCK_OFF, SILENT, Group, StampGrouper
from interhand_ros.multiview.observations import ViewObservation
from interhand_ros.processing.fused_chain import FusedChain
from interhand_ros.ros.diagnostics import NodeHealth, Reporter
from interhand_ros.ros.entry import StartupError, spin_node
from interhand_ros.ros.fusion_diagnostics import ViewBoard
from interhand_ros.ros.fusion_outputs import FusedOutputs
from interhand_ros.ros.guarded import guarded
from interhand_ros.ros.parameters import descriptor
from interhand_ros.ros.tf_listener import TfListener
from interhand_ros.ros.view_inputs import ViewChecks, ViewInputs, ViewProblem, observe
from interhand_ros.settings import change_problem
from interhand_ros.stamps import NS_PER_S, ns_to_stamp

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE
POLL_PERIOD_S = 0.025  # groups waiting for a stalled view are checked this often
RETUNE = 0.2  # an automatic tolerance changes when the measured one differs by this fraction


class FusionNode(LifecycleNode):
    """Lifecycle node `fusion`: views' TwoHandPose -> one TwoHandPose in the world frame."""

    def __init__(self, parameter_overrides: list[Parameter] | None = None,
                 node_name: str = 'fusion') -> None:
        super().__init__(node_name, parameter_overrides=parameter_overrides or [])
        self.views: list[str] = []
        self.chain: FusedChain | None = None
        self.grouper: StampGrouper[ViewObservation] | None = None
        self.checks: ViewChecks | None = None
        self.buffer: TransformBuffer | None = None
        self.outputs: FusedOutputs | None = None
        self.inputs: ViewInputs | None = None
        self.tf: TfListener | None = None
        self.board = ViewBoard([])
        self._poll_timer: Any = None
        self.state = 'unconfigured'
        try:
            for spec in FUSION_PARAMETERS:
                # an empty list has no type in rclpy: views is declared as a string array
                default = Parameter.Type.STRING_ARRAY if spec.name == 'views' else spec.default
                self.declare_parameter(spec.name, default, descriptor(spec))
            self.params = self._read_parameters()
        except ParameterException as error:
            super().destroy_node()
            raise StartupError(str(error)) from error
        self.health = NodeHealth()
        self.report = Reporter(self.health, self._warn, lambda: self.params['log_throttle'])
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._diagnostics_timer = self.create_timer(self.params['diagnostics_period'],
                                                    self._publish_diagnostics)
        if self.params['autostart']:
            for transition in (self.trigger_configure, self.trigger_activate):
                if transition() != SUCCESS:
                    reason = self.health.last_error or 'see the log'
                    self.destroy_node()
                    raise StartupError(reason)

    def _read_parameters(self) -> dict[str, Any]:
        params = {}
        for spec in FUSION_PARAMETERS:
            try:
                params[spec.name] = self.get_parameter(spec.name).value
            except ParameterUninitializedException:  # views not given
                params[spec.name] = []
        return params

    # ---- lifecycle transitions (executor thread) -----------------------------------------
    @guarded()
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.params = p = self._read_parameters()
        problem = fusion_problem(p)
        if problem is None:
            try:
                self.chain, grouping = FusedChain.from_params(p), grouping_config(p)
            except ValueError as error:
                problem = str(error)
        if problem is not None:
            reason = f'cannot configure: {problem}'
            self.health.error(time.monotonic(), reason, frame_failed=False)
            self.get_logger().error(reason)
            return FAILURE
        self.views = normalized_views(list(p['views']))
        self.grouper = StampGrouper(self.views, grouping)
        self.checks = ViewChecks(world_frame=p['world_frame'].strip('/'),
                                 rectified=p['rectified'],
                                 tf_tolerance_ns=round(p['tf_tolerance'] * NS_PER_S))
        self.health = NodeHealth(stall_timeout=p['view_timeout'])
        self.report = Reporter(self.health, self._warn, lambda: self.params['log_throttle'])
        self.board = ViewBoard(self.views)
        self.health.estimator = (f"fusion of {len(self.views)} views "
                                 f"({', '.join(self.views)}) in {self.checks.world_frame}")
        self.state = 'inactive'
        self.get_logger().info(f'configured: {self.health.estimator}')
        return SUCCESS

    @guarded()
    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        assert self.checks is not None  # configured (the state machine's rule)
        self.buffer = TransformBuffer()
        self.tf = TfListener(self, self.buffer, lambda text: self.report.fault('tf', text))
        self.outputs = FusedOutputs(self, self.params)
        self.inputs = ViewInputs(self, self.views, self._on_pose)
        self._poll_timer = self.create_timer(POLL_PERIOD_S, self._poll)
        self.state = 'active'
        self.get_logger().info(
            f"fusion node ready: {', '.join(f'{v}/hands/raw' for v in self.views)} -> "
            f"{self.resolve_topic_name('hands')} in frame {self.checks.world_frame}")
        return SUCCESS

    @guarded()
    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop()
        self.state = 'inactive'
        return SUCCESS

    @guarded()
    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.chain = self.grouper = None
        self.state = 'unconfigured'
        return SUCCESS

    @guarded()
    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop()
        self.state = 'finalized'
        return SUCCESS

    @guarded(failed=FAILURE)
    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop()
        self.chain = self.grouper = None
        self.state = 'unconfigured'
        return SUCCESS

    def _stop(self) -> None:
        """Inputs first (no new messages), then the timer and the publishers."""
        for part in (self.inputs, self.tf, self.outputs):
            if part is not None:
                part.destroy()
        if self._poll_timer is not None:
            self.destroy_timer(self._poll_timer)
        self.inputs = self.tf = self.outputs = self._poll_timer = None
        if self.grouper is not None:
            self.grouper.reset()  # a restart must not fuse messages from before the stop
        if self.chain is not None:
            self.chain.reset()

    def safe_logger(self) -> RcutilsLogger:
        """The node's logger, or once Ctrl-C shut the context down a console-only one."""
        if self.context.ok():
            return self.get_logger()
        return get_logger(f'{self.get_logger().name}.stop')

    # ---- callbacks (executor thread) -----------------------------------------------------
    def _warn(self, message: str) -> None:
        self.get_logger().warning(message)

    def _now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def _on_pose(self, view: str, msg: TwoHandPose) -> None:
        if self.grouper is None or self.checks is None or self.buffer is None \
                or self.inputs is None:
            return
        now = time.monotonic()
        self.health.received(now)
        try:
            observation = observe(view, msg, self.inputs.infos.get(view), self.buffer,
                                  self.checks)
        except ViewProblem as problem:
            self.board.problem(view, now, problem.kind, str(problem))
            self.report.fault(f'{view} {problem.kind}', str(problem))
            self._fuse_groups(self.grouper.poll(self._now_ns()))
            return
        self._fuse_groups(self.grouper.add(view, observation.stamp_ns, self._now_ns(),
                                           observation))

    def _poll(self) -> None:
        if self.grouper is not None:
            self._fuse_groups(self.grouper.poll(self._now_ns()))

    def _fuse_groups(self, groups: list[Group[ViewObservation]]) -> None:
        assert self.grouper is not None
        now = time.monotonic()
        for event in self.grouper.take_events():
            if event.kind in (SILENT, BACK):  # the view's status says it while it lasts
                self.board.silent(event.view, event.kind == SILENT)
            elif event.kind == CLOCK_OFF:
                self.board.problem(event.view, now, event.kind, event.message)
            else:  # late, out of order
                self.board.late(event.view, now)
            if event.kind == BACK:
                self.get_logger().info(event.message)
            else:
                self.report.fault(f'{event.view} {event.kind}', event.message)
        for group in groups:
            self._fuse(group)

    def _fuse(self, group: Group[ViewObservation]) -> None:
        assert self.chain is not None and self.outputs is not None and self.checks is not None
        started = time.monotonic()
        try:
            fused = self.chain.fuse(list(group.items.values()), group.stamp_ns)
        except ValueError as error:  # views that cannot be fused together
            self.report('fusion', f'group at {group.stamp_ns} ns not fused: {error}')
            return
        now = time.monotonic()
        self.board.fused(now, fused.result, group.complete)
        for view in group.items:
            self.board.health(view, fused.warnings.get(view, ''))
        header = Header(stamp=ns_to_stamp(group.stamp_ns), frame_id=self.checks.world_frame)
        self.health.published(now, self._now_ns() * 1e-9 - group.stamp_ns * 1e-9,
                              now - started)
        self.outputs.publish(fused.estimate, fused.result.estimate, header, self.params)

    def _on_set_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        configured = self.state in ('inactive', 'active')
        for parameter in parameters:
            spec = FUSION_SPECS.get(parameter.name)
            problem = None
            if spec is not None and configured and not spec.runtime:
                problem = change_problem(parameter.name, parameter.value, configured) or (
                    f'{parameter.name} is read at configure: clean up the node first')
            if problem is not None:
                self.get_logger().warning(f'parameter {parameter.name} not set: {problem}')
                return SetParametersResult(successful=False, reason=problem)
        for parameter in parameters:
            if parameter.name in FUSION_SPECS:
                self.params[parameter.name] = parameter.value
            if parameter.name == 'diagnostics_period':
                self.destroy_timer(self._diagnostics_timer)
                self._diagnostics_timer = self.create_timer(parameter.value,
                                                            self._publish_diagnostics)
        return SetParametersResult(successful=True)

    def _retune(self) -> None:
        """An automatic sync_tolerance follows half the cameras' frame period, measured from
        their camera_info stamps (a new grouper: the few groups pending now are dropped)."""
        grouper = self.grouper
        if grouper is None or self.inputs is None or self.params['sync_tolerance'] > 0:
            return
        wanted = grouping_config(self.params, frame_period_ns(self.inputs.info_stamps))
        current = grouper.config.tolerance_ns
        if abs(wanted.tolerance_ns - current) > RETUNE * current:
            self.grouper = StampGrouper(self.views, wanted)
            self.get_logger().info(f'sync_tolerance {wanted.tolerance_ns * 1e-6:.1f} ms: half '
                                   "the views' frame period")

    def _publish_diagnostics(self) -> None:
        self._retune()
        now = time.monotonic()
        name, hardware_id = self.get_name(), self.get_fully_qualified_name()
        status = self.health.status(now, f'{name}: multi-view hand fusion', hardware_id)
        incomplete = self.board.incomplete_fraction(now)
        tolerance = self.grouper.config.tolerance_ns / NS_PER_S if self.grouper else math.nan
        values = {'lifecycle_state': self.state, 'views': ', '.join(self.views),
                  'views_in_use': ', '.join(self.board.in_use(now)),
                  'groups_incomplete_fraction': f'{incomplete:.3g}',
                  'sync_tolerance_s': f'{tolerance:.4g}'}
        status.values += [KeyValue(key=k, value=v) for k, v in values.items()]
        views = self.board.statuses(now, name, hardware_id)
        warnings = [s.message for s in views if s.level != DiagnosticStatus.OK]
        if incomplete > 0.5:
            warnings.append(f'{incomplete:.0%} of the groups missed a live view: its stamps are '
                            f'further than sync_tolerance ({tolerance:.3g} s) '
                            'from the others, or it arrives after max_wait')
        if warnings and status.level != DiagnosticStatus.ERROR:
            status.message = '; '.join(warnings if status.level == DiagnosticStatus.OK
                                       else [status.message, *warnings])
            status.level = DiagnosticStatus.WARN
        if self.state != 'active' and status.level != DiagnosticStatus.ERROR:
            status.level, status.message = (DiagnosticStatus.WARN,
                                            f'{self.state}: not fusing')
        array = DiagnosticArray(status=[status, *views])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics_pub.publish(array)

    def destroy_node(self) -> None:
        self._stop()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Console entry point `fusion_node`: spin until Ctrl-C; exit 1 when it cannot start."""
    return spin_node(FusionNode, 'fusion', args)


if __name__ == '__main__':
    sys.exit(main())
