"""Node health for /diagnostics: rates, latency, dropped frames and the last error.

Level: ERROR while the newest frame failed (bad input or estimator error), WARN when an error
happened within `window` s but later frames succeeded, when a fault the node survived without
losing a frame (camera restarted, clock jumped back, camera_info resized) happened within
`window` s, or when no image arrived for `stall_timeout` s; OK otherwise. All times are seconds
of one monotonic clock passed in by the caller. Reporter is the one way the node reports a
problem: health + a log throttled per kind.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue

from interhand_ros.estimate import TwoHandEstimate
from interhand_ros.skeleton import SIDES


class NodeHealth:
    """Thread-safe counters fed by the callbacks and the worker."""

    def __init__(self, window: float = 5.0, stall_timeout: float | None = None) -> None:
        self.window = window
        self.stall_timeout = window if stall_timeout is None else stall_timeout
        self._last_input: float | None = None
        self._lock = threading.Lock()
        self._inputs: deque[float] = deque()
        self._outputs: deque[tuple[float, float, float]] = deque()  # time, latency, inference
        self._stages: deque[tuple[float, dict[str, float]]] = deque()  # time, s per stage
        self._disagreements: deque[tuple[float, float]] = deque()  # time, m (depth image)
        self.hand_scales = {side: math.nan for side in SIDES}  # self-calibrated, from depth
        self.frames_received = 0
        self.frames_published = 0
        self.frames_dropped = 0
        self.frames_failed = 0
        self.estimator = ''  # what runs (the estimator's describe()), set when configured
        self.last_error = ''
        self._last_error_time: float | None = None
        self.last_fault = ''
        self._last_fault_time: float | None = None
        self._last_success_time: float | None = None
        self._start: float | None = None

    def received(self, now: float) -> None:
        with self._lock:
            self._start = now if self._start is None else self._start
            self.frames_received += 1
            self._inputs.append(now)
            self._last_input = now

    def dropped(self, count: int = 1) -> None:
        with self._lock:
            self.frames_dropped += count

    def published(self, now: float, latency: float, inference_time: float) -> None:
        with self._lock:
            self.frames_published += 1
            self._last_success_time = now
            self._outputs.append((now, latency, inference_time))

    def stage_times(self, seconds: dict[str, float], now: float | None = None) -> None:
        """One published frame's time per pipeline stage (s), shown as stage_<name>_ms means."""
        with self._lock:
            self._stages.append((time.monotonic() if now is None else now, seconds))

    def depth_measured(self, estimate: TwoHandEstimate, now: float | None = None) -> None:
        """A frame's depth-image checks: the measured-vs-predicted relative root depth (when
        both hands were measured) and each hand's self-calibrated scale (once it has one)."""
        with self._lock:
            if math.isfinite(estimate.root_depth_disagreement):
                self._disagreements.append((time.monotonic() if now is None else now,
                                            estimate.root_depth_disagreement))
            for hand in estimate.hands():
                if math.isfinite(hand.calibrated_scale):
                    self.hand_scales[hand.side] = hand.calibrated_scale

    def error(self, now: float, reason: str, frame_failed: bool = True) -> None:
        """Record a problem; frame_failed: a frame was lost to it (counts as failed)."""
        with self._lock:
            self._start = now if self._start is None else self._start
            self.frames_failed += int(frame_failed)
            self.last_error = reason
            self._last_error_time = now

    def fault(self, now: float, reason: str) -> None:
        """Record a fault the node survived without losing a frame (WARN for `window` s)."""
        with self._lock:
            self.last_fault = reason
            self._last_fault_time = now

    def status(self, now: float, name: str, hardware_id: str) -> DiagnosticStatus:
        with self._lock:
            self._trim(now)
            level, message = self._level(now)
            span = min(self.window, now - self._start) if self._start is not None else 0.0
            latencies = [latency for _, latency, _ in self._outputs]
            inference = [t for _, _, t in self._outputs]
            values = {
                'input_rate_hz': len(self._inputs) / span if span > 0 else 0.0,
                'output_rate_hz': len(self._outputs) / span if span > 0 else 0.0,
                'latency_mean_s': sum(latencies) / len(latencies) if latencies else float('nan'),
                'latency_max_s': max(latencies, default=float('nan')),
                'inference_time_mean_s': (sum(inference) / len(inference) if inference
                                          else float('nan')),
                'estimator': self.estimator,
                'frames_received': self.frames_received,
                'frames_published': self.frames_published,
                'frames_dropped': self.frames_dropped,
                'frames_failed': self.frames_failed,
                'last_error': self.last_error,
                'last_fault': self.last_fault,
            }
            values.update(self._stage_means())
            disagreements = sorted(value for _, value in self._disagreements)
            values['root_depth_disagreement_m'] = (  # median over the window
                disagreements[len(disagreements) // 2] if disagreements else math.nan)
            values.update({f'hand_scale_{side}': scale for side, scale in self.hand_scales.items()})
        return DiagnosticStatus(
            level=level, name=name, message=message, hardware_id=hardware_id,
            values=[KeyValue(key=k, value=f'{v:.4g}' if isinstance(v, float) else str(v))
                    for k, v in values.items()])

    def _trim(self, now: float) -> None:
        while self._inputs and self._inputs[0] < now - self.window:
            self._inputs.popleft()
        while self._outputs and self._outputs[0][0] < now - self.window:
            self._outputs.popleft()
        while self._stages and self._stages[0][0] < now - self.window:
            self._stages.popleft()
        while self._disagreements and self._disagreements[0][0] < now - self.window:
            self._disagreements.popleft()

    def _stage_means(self) -> dict[str, float]:
        """stage_<name>_ms: mean ms per stage over the frames of the last `window` s."""
        totals: dict[str, list[float]] = {}
        for _, seconds in self._stages:
            for stage, value in seconds.items():
                totals.setdefault(stage, []).append(value)
        return {f'stage_{stage}_ms': 1e3 * sum(values) / len(values)
                for stage, values in totals.items()}

    def _level(self, now: float) -> tuple[bytes, str]:
        error_time, success_time = self._last_error_time, self._last_success_time
        if error_time is not None and (success_time is None or error_time > success_time):
            return DiagnosticStatus.ERROR, self.last_error
        if error_time is not None and now - error_time <= self.window:
            return DiagnosticStatus.WARN, f'recovered from: {self.last_error}'
        if self._last_fault_time is not None and now - self._last_fault_time <= self.window:
            return DiagnosticStatus.WARN, f'survived: {self.last_fault}'
        if self._start is None:
            return DiagnosticStatus.WARN, 'no image received yet'
        if self._last_input is not None and now - self._last_input > self.stall_timeout:
            return DiagnosticStatus.WARN, f'no image received for {self.stall_timeout:g} s'
        return DiagnosticStatus.OK, 'running'


class Reporter:
    """Records a problem in NodeHealth and logs it, at most once per `throttle()` s per kind.

    frame_failed: a frame was lost to it ('frame skipped: ...'); otherwise a problem that keeps
    frames from being paired. fault(): something the node survived without losing a frame.
    """

    def __init__(self, health: NodeHealth, log: Callable[[str], object],
                 throttle: Callable[[], float],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._health, self._log, self._throttle, self._clock = health, log, throttle, clock
        self._last_log: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, kind: str, reason: str, detail: str = '',
                 frame_failed: bool = True) -> None:
        now = self._clock()
        self._health.error(now, reason, frame_failed)
        text = f'frame skipped: {reason}' if frame_failed else reason
        self._throttled_log(kind, now, text + (f'\n{detail}' if detail else ''))

    def fault(self, kind: str, reason: str) -> None:
        now = self._clock()
        self._health.fault(now, reason)
        self._throttled_log(kind, now, reason)

    def warn(self, kind: str, text: str) -> None:
        """Log only (the health already shows it, e.g. a stalled camera)."""
        self._throttled_log(kind, self._clock(), text)

    def _throttled_log(self, kind: str, now: float, text: str) -> None:
        with self._lock:
            if now - self._last_log.get(kind, -float('inf')) < self._throttle():
                return
            self._last_log[kind] = now
        self._log(text)
