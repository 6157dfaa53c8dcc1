"""The fusion node's per-view /diagnostics: one status per view, beside the node's own.

Each view's status says whether it is in use (and its reprojection error in px, median over
the last `window` s), or why not: excluded (its clock, camera_info, transform or pose, with
the reason the node logged), rejected by the fusion (an outlier; labels swapped back is only
noted), with joints the fusion ignored (NaN pixels, pixels outside its camera_info's image),
silent (nothing within view_timeout), or the health tracker's WARN that it disagrees with the
others. The board also counts groups fused without a live view (stamps further apart than
sync_tolerance, or a slow view). Times are seconds of one monotonic clock.
"""
from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue

from interhand_ros.multiview.fusion import FusionResult

OK, WARN = DiagnosticStatus.OK, DiagnosticStatus.WARN


@dataclass
class _View:
    used: deque[float] = field(default_factory=deque)               # times fused in a group
    errors: deque[tuple[float, float]] = field(default_factory=deque)  # time, px
    problem: tuple[float, str, str] | None = None                   # time, kind, reason
    rejected: tuple[float, str] | None = None                       # time, reason by fusion
    ignored: tuple[float, str] | None = None                        # time, joints ignored
    swapped: deque[float] = field(default_factory=deque)            # times its labels swapped
    late: deque[float] = field(default_factory=deque)               # samples after their group
    health: str = ''                                                # health tracker's WARN
    silent: bool = False


class ViewBoard:
    """Thread-safe record of what happened to each view within the last `window` s."""

    def __init__(self, views: list[str], window: float = 5.0) -> None:
        self.window = window
        self._lock = threading.Lock()
        self._views = {view: _View() for view in views}
        self._groups: deque[tuple[float, bool]] = deque()  # time, every live view in it

    def problem(self, view: str, now: float, kind: str, reason: str) -> None:
        """The view's message was excluded before fusion (kind: clock, camera_info, ...)."""
        with self._lock:
            self._views[view].problem = (now, kind, reason)

    def late(self, view: str, now: float) -> None:
        """A sample came after its group was fused (or out of order): counted, not a fault
        (a busy machine delays one now and then; a view always late shows as missing)."""
        with self._lock:
            self._views[view].late.append(now)

    def silent(self, view: str, silent: bool) -> None:
        with self._lock:
            self._views[view].silent = silent

    def health(self, view: str, warning: str) -> None:
        """The health tracker's current warning for the view ('' = none)."""
        with self._lock:
            self._views[view].health = warning

    def fused(self, now: float, result: FusionResult, complete: bool) -> None:
        """One fused group: the views it used, their reprojection errors, the views the
        fusion rejected, those whose labels it swapped back, joints it ignored; complete: every
        live view was in the group."""
        with self._lock:
            self._groups.append((now, complete))
            for view in result.views_used:
                self._views[view].used.append(now)
            for view, error in result.reprojection_error_px.items():
                if math.isfinite(error):
                    self._views[view].errors.append((now, error))
            for view, reason in result.rejected.items():
                self._views[view].rejected = (now, reason)
            for view, reason in result.problems.items():
                self._views[view].ignored = (now, reason)
            for view in result.swapped:
                self._views[view].swapped.append(now)

    def incomplete_fraction(self, now: float) -> float:
        """Share of the window's groups fused without a live view (NaN: no group)."""
        with self._lock:
            self._trim(now)
            if not self._groups:
                return math.nan
            return sum(not complete for _, complete in self._groups) / len(self._groups)

    def in_use(self, now: float) -> list[str]:
        """Views fused within the window."""
        with self._lock:
            self._trim(now)
            return [view for view, state in self._views.items() if state.used]

    def statuses(self, now: float, node_name: str, hardware_id: str) -> list[DiagnosticStatus]:
        with self._lock:
            self._trim(now)
            return [self._status(view, state, now, node_name, hardware_id)
                    for view, state in self._views.items()]

    def _status(self, view: str, state: _View, now: float, node_name: str,
                hardware_id: str) -> DiagnosticStatus:
        errors = sorted(error for _, error in state.errors)
        median = errors[len(errors) // 2] if errors else math.nan
        notes = []  # what kept it out within the window, newest last
        if state.problem and now - state.problem[0] <= self.window:
            notes.append((state.problem[0], f'excluded ({state.problem[1]}): {state.problem[2]}'))
        if state.rejected and now - state.rejected[0] <= self.window:
            notes.append((state.rejected[0], f'rejected by the fusion: {state.rejected[1]}'))
        if state.ignored and now - state.ignored[0] <= self.window:
            notes.append((state.ignored[0], f'joints ignored: {state.ignored[1]}'))
        latest = max(notes)[1] if notes else ''
        if state.health:
            level, message = WARN, state.health
        elif latest:
            level, message = WARN, latest
        elif state.silent:
            level, message = WARN, 'silent: nothing received within view_timeout'
        elif state.used:
            level, message = OK, f'in use, reprojection error {median:.2f} px'
        else:
            level, message = WARN, 'not fused yet'
        values = {
            'in_use': str(bool(state.used)).lower(),
            'groups_fused': str(len(state.used)),
            'reprojection_error_px': f'{median:.3g}',
            'labels_swapped_back': str(len(state.swapped)),
            'late_samples': str(len(state.late)),
            'excluded': latest,
        }
        return DiagnosticStatus(level=level, name=f'{node_name}: view {view}', message=message,
                                hardware_id=hardware_id,
                                values=[KeyValue(key=k, value=v) for k, v in values.items()])

    def _trim(self, now: float) -> None:
        while self._groups and self._groups[0][0] < now - self.window:
            self._groups.popleft()
        for state in self._views.values():
            for times in (state.used, state.swapped, state.late):
                while times and times[0] < now - self.window:
                    times.popleft()
            while state.errors and state.errors[0][0] < now - self.window:
                state.errors.popleft()
