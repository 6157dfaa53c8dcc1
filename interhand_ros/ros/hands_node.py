"""The hands node: camera image (+ camera_info, depth + its camera_info, ROI) in, 3D hands out.

A managed (lifecycle) node composed of small parts: configure reads the parameters and builds
and warms the estimator through interhand_ros.processing.factory; activate creates the publishers
(ros/pipeline.Outputs), the inference worker (ros/mailbox) and the subscriptions with their
pairing (ros/inputs); deactivate removes those and keeps the model; cleanup frees the model.
`autostart` (default true) configures and activates at start, as a plain `ros2 run` expects.
Callbacks only pair messages and drop the newest frame into a one-slot mailbox (with
frame_grid.period, the first of the newest slot of a stamp grid the rig's cameras share:
processing/frame_grid.py); the worker converts, estimates and publishes, so poses lag by about
one inference time under any camera rate. Every bad input is logged (throttled), reported on
/diagnostics, and the next good frame is processed.
"""
from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import ParameterException
from rclpy.impl.rcutils_logger import RcutilsLogger
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.logging import get_logger
from rclpy.parameter import Parameter

from interhand_ros.estimate import HandPoseEstimator
from interhand_ros.processing.factory import (
    EstimatorError,
    EstimatorSettings,
    build_estimator,
)
from interhand_ros.processing.frame_grid import FrameGrid
from interhand_ros.processing.roi import RoiConfig, RoiSource
from interhand_ros.ros.diagnostics import NodeHealth, Reporter
from interhand_ros.ros.entry import StartupError, spin_node
from interhand_ros.ros.frames import Frame
from interhand_ros.ros.guarded import guarded
from interhand_ros.ros.image_input import subscription_for
from interhand_ros.ros.inputs import PAIRINGS, Inputs, default_pairing
from interhand_ros.ros.mailbox import LatestMailbox, Worker
from interhand_ros.ros.parameters import descriptor
from interhand_ros.ros.pipeline import FramePipeline, Outputs, set_presence_threshold
from interhand_ros.settings import (
    PARAMETERS,
    SPECS,
    change_problem,
    choice_problem,
    estimator_settings,
)
from interhand_ros.stamps import header_seconds

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


class EstimatorFactory(Protocol):
    """processing.factory.build_estimator's signature (tests pass their own)."""

    def __call__(self, settings: EstimatorSettings, warn: Callable[[str], None],
                 how_to_pass_checkpoint: str = ...,
                 info: Callable[[str], object] | None = None) -> HandPoseEstimator: ...


def roi_config(params: dict[str, Any], estimator_finds_hands: bool = False) -> RoiConfig:
    """The roi settings (ValueError if bad). roi.mode 'detector' for an estimator that finds
    the hands itself (the landmark fallback) is the whole image: no second detector loads."""
    mode = params['roi.mode']
    return RoiConfig(
        mode='full' if mode == 'detector' and estimator_finds_hands else mode,
        fixed=tuple(params['roi.fixed']),
        track_scale=params['roi.track_scale'], track_smoothing=params['roi.track_smoothing'],
        topic_max_age=params['roi.topic_max_age'],
        detector_min_confidence=params['roi.detector_min_confidence'],
        detect_every=params['roi.detect_every'])


def make_roi_source(params: dict[str, Any], estimator_finds_hands: bool) -> RoiSource:
    # a bool, not the estimator: MediaPipe's detector keeps the frames that built it (and so
    # their locals) alive, which would keep a cleaned-up estimator in memory
    return RoiSource(roi_config(params, estimator_finds_hands))


def free_accelerator_memory() -> None:
    """Give cached CUDA blocks back once the model is gone (only where torch is loaded)."""
    gc.collect()
    torch = sys.modules.get('torch')
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


class HandsNode(LifecycleNode):
    """Lifecycle node `hands`. estimator: injected (tests), else built by estimator_factory;
    pairing: 'message_filters' or 'stamp_sync' (default: message_filters when importable)."""

    def __init__(self, estimator: HandPoseEstimator | None = None,
                 parameter_overrides: list[Parameter] | None = None,
                 node_name: str = 'hands', pairing: str | None = None,
                 estimator_factory: EstimatorFactory = build_estimator) -> None:
        super().__init__(node_name, parameter_overrides=parameter_overrides or [])
        self.pairing = pairing or default_pairing()
        self._factory: EstimatorFactory = (
            estimator_factory if estimator is None else lambda *_, **__: estimator)
        self._owns_estimator = estimator is None  # the node closes what it built
        self.estimator: HandPoseEstimator | None = None
        self.roi: RoiSource | None = None
        self.outputs: Outputs | None = None
        self.inputs: Inputs | None = None
        self.worker: Worker[Frame] | None = None
        self.mailbox: LatestMailbox[Frame] | None = None
        self._pipeline: FramePipeline | None = None
        self.state = 'unconfigured'
        try:
            if self.pairing not in PAIRINGS:
                raise StartupError(f'pairing must be one of {PAIRINGS}, got {self.pairing!r}')
            for spec in PARAMETERS:
                self.declare_parameter(spec.name, spec.default, descriptor(spec))
            self.params = self._read_parameters(check=False)  # configure checks them
        except (StartupError, ParameterException) as error:
            super().destroy_node()
            raise StartupError(str(error)) from error
        self._new_health()
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

    @property
    def hands_pub(self):
        return self.outputs.hands if self.outputs else None

    @property
    def markers_pub(self):
        return self.outputs.markers if self.outputs else None

    @property
    def debug_pub(self):
        return self.outputs.debug if self.outputs else None

    def _new_health(self) -> None:
        """Fresh counters and error state (at start, and for each newly configured model)."""
        self.health = NodeHealth()
        self.report = Reporter(self.health, self._warn, lambda: self.params['log_throttle'])

    def _read_parameters(self, check: bool = True) -> dict[str, Any]:
        """Current values (rclpy enforced types and ranges); check: also the choices."""
        params = {spec.name: self.get_parameter(spec.name).value for spec in PARAMETERS}
        problems = [p for p in (choice_problem(n, v) for n, v in params.items()) if p]
        if check and problems:
            raise StartupError('; '.join(problems))
        return params

    # ---- lifecycle transitions (executor thread) -----------------------------------------
    @guarded()
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self.params = self._read_parameters()
            roi_config(self.params)  # bad roi settings fail before the model loads
        except (StartupError, ValueError) as error:
            return self._configure_failed(error)
        self.get_logger().info('configuring: building the estimator (checkpoint '
                               f"{self.params['checkpoint'] or 'none: the fallback'})")
        try:
            self.estimator = self._factory(estimator_settings(self.params), self._warn,
                                           'set -p checkpoint:=/path/to/snapshot_20.pth.tar',
                                           info=self.get_logger().info)
        except EstimatorError as error:
            return self._configure_failed(error)
        try:
            self.roi = make_roi_source(self.params, self.estimator.finds_hands)
        except ImportError as error:  # roi.mode detector without MediaPipe
            self._free_model()
            return self._configure_failed(error)
        self.state = 'inactive'
        self._new_health()  # an earlier failed configure is no longer the node's state
        self.health.estimator = self.estimator.describe()
        self.get_logger().info(f'configured: {self.health.estimator}')
        return SUCCESS

    def _configure_failed(self, error: BaseException) -> TransitionCallbackReturn:
        reason = f'cannot configure: {error}'
        self.health.error(time.monotonic(), reason, frame_failed=False)
        self.get_logger().error(reason)
        return FAILURE

    @guarded()
    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        p, estimator, roi = self.params, self.estimator, self.roi
        assert estimator is not None and roi is not None  # configured (the state machine's rule)
        self.outputs = Outputs(self, p)
        self.mailbox = LatestMailbox(FrameGrid(p['frame_grid.period']),
                                     lambda frame: header_seconds(frame.image))
        self._pipeline = FramePipeline(
            estimator, roi, self.outputs, p, self.report, self.health,
            lambda: self.get_clock().now().nanoseconds * 1e-9, self._warn, self.context.ok)
        self.worker = Worker(self.mailbox, self._pipeline.process, self._pipeline.on_error)
        self.worker.start()
        # image_transport style: the transport's topic follows the (remapped) image topic
        topic, image_type = subscription_for(p['image_transport'],
                                             self.resolve_topic_name('image'))
        self.inputs = Inputs(self, p, self._on_frame, self.report, self.health, self.pairing,
                             self._pipeline.reset_tracking, roi.set_external,
                             image_type=image_type, image_topic=topic)
        self.state = 'active'
        roi_mode = roi.config.mode + (
            '' if roi.config.mode == p['roi.mode'] else
            f" (roi.mode {p['roi.mode']}: the estimator finds the hands itself)")
        self.get_logger().info(
            f"hands node ready: {self.health.estimator}, image {topic} "
            f"({p['image_transport']}), sync {p['sync']} ({self.pairing}), roi {roi_mode}, "
            f"depth {p['depth.mode']}")
        return SUCCESS

    @guarded()
    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop()
        self.state = 'inactive'
        return SUCCESS

    @guarded()
    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._free_model()
        self.state = 'unconfigured'
        return SUCCESS

    @guarded()
    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        self.state = 'finalized'
        return SUCCESS

    @guarded(failed=FAILURE)  # releasing failed too: FAILURE finalizes the node
    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """A transition raised: release everything, back to unconfigured (configure retries)."""
        self._release()
        self.state = 'unconfigured'
        return SUCCESS

    def _release(self) -> None:
        self._stop()
        self._free_model()

    def _stop(self) -> None:
        """Inputs first (no new frames), then the worker, then the publishers it used."""
        if self.inputs is not None:
            self.inputs.destroy()
        if self.worker is not None:
            if self.worker.busy:
                self.safe_logger().info('stopping: the frame in the estimator finishes first')
            self.worker.stop()
        if self.outputs is not None:
            self.outputs.destroy()
        self.inputs = self.worker = self.mailbox = self.outputs = self._pipeline = None

    def safe_logger(self) -> RcutilsLogger:
        """The node's logger, or once Ctrl-C shut the context down (its /rosout publisher gone)
        a logger of the same name's child that only writes to the console."""
        if self.context.ok():
            return self.get_logger()
        return get_logger(f'{self.get_logger().name}.stop')

    def _free_model(self) -> None:
        """Close the roi detector and the estimator (when the node built it), then give the
        accelerator's cached memory back."""
        roi, estimator = self.roi, self.estimator
        self.estimator = self.roi = None
        if roi is not None:
            roi.close()
        if estimator is not None and self._owns_estimator:
            estimator.close()
        free_accelerator_memory()

    # ---- callbacks (executor thread) -----------------------------------------------------
    def _warn(self, message: str) -> None:
        self.get_logger().warning(message)

    def _on_frame(self, frame: Frame) -> None:
        if self.mailbox is not None and self.mailbox.put(frame) is not None:
            self.health.dropped()

    def _on_set_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        configured = self.state in ('inactive', 'active')
        for parameter in parameters:
            problem = change_problem(parameter.name, parameter.value, configured)
            if (problem is None and parameter.name == 'presence_threshold'
                    and self.estimator is not None):
                try:
                    set_presence_threshold(self.estimator, parameter.value)
                except ValueError as error:
                    problem = str(error)
            if problem is not None:
                self.get_logger().warning(f'parameter {parameter.name} not set: {problem}')
                return SetParametersResult(successful=False, reason=problem)
        for parameter in parameters:
            if parameter.name in SPECS and (SPECS[parameter.name].runtime or not configured):
                self.params[parameter.name] = parameter.value
            if parameter.name == 'diagnostics_period':
                self.destroy_timer(self._diagnostics_timer)
                self._diagnostics_timer = self.create_timer(parameter.value,
                                                            self._publish_diagnostics)
        return SetParametersResult(successful=True)

    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        if self.inputs is not None:
            self.inputs.check_inputs(now)
        self.health.stall_timeout = self.params['stall_timeout']
        status = self.health.status(now, f'{self.get_name()}: hand pose estimation',
                                    self.get_fully_qualified_name())
        status.values.append(KeyValue(key='lifecycle_state', value=self.state))
        if self.inputs is not None:  # lost samples since activation, and in the last period
            period = self.inputs.last_loss_period
            status.values += self.inputs.loss.values(period)
            lost = period.summary() if period is not None else ''
            if lost and status.level != DiagnosticStatus.ERROR:  # the cause of a stall, too
                status.message = (lost if status.level == DiagnosticStatus.OK else
                                  f'{lost}; {status.message}')
                status.level = DiagnosticStatus.WARN
        if self.mailbox is not None:  # frames the stamp grid passed over on purpose (not lost)
            status.values += [
                KeyValue(key='frames_skipped_for_grid', value=str(self.mailbox.skipped)),
                KeyValue(key='frame_grid_slot_s', value=f'{self.mailbox.slot_width:.4g}')]
        if self.state != 'active' and status.level != DiagnosticStatus.ERROR:
            status.level, status.message = (DiagnosticStatus.WARN,
                                            f'{self.state}: not processing images')
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics_pub.publish(array)

    def destroy_node(self) -> None:
        self._release()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Console entry point `hands_node`: spin until Ctrl-C; exit 1 when the node cannot start."""
    return spin_node(HandsNode, 'hands', args)

if __name__ == '__main__':
    sys.exit(main())
