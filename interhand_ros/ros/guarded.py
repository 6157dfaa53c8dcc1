"""Lifecycle transitions that say why they failed.

rclpy turns an exception raised inside a transition callback into ERROR without logging it, so
a node that cannot start would only say "see the log" with nothing there. `guarded` logs the
exception with its traceback, reports it on /diagnostics and returns what rclpy expects.
"""
from __future__ import annotations

import functools
import time
import traceback
from collections.abc import Callable
from typing import Protocol, TypeVar

from rclpy.impl.rcutils_logger import RcutilsLogger
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn

from interhand_ros.ros.diagnostics import NodeHealth


class GuardedNode(Protocol):
    health: NodeHealth

    def safe_logger(self) -> RcutilsLogger:
        """A logger that still works while the context shuts down."""
        ...


Node = TypeVar('Node', bound=GuardedNode)
Transition = Callable[[Node, LifecycleState], TransitionCallbackReturn]


def guarded(failed: TransitionCallbackReturn = TransitionCallbackReturn.ERROR
            ) -> Callable[[Transition[Node]], Transition[Node]]:
    """The transition, but an exception is logged with its traceback, recorded as the node's
    error (/diagnostics) and answered with `failed` (ERROR: rclpy then runs on_error, which
    releases what the transition built; for on_error itself FAILURE, which finalizes)."""
    def wrap(transition: Transition[Node]) -> Transition[Node]:
        name = transition.__name__.removeprefix('on_')

        @functools.wraps(transition)
        def run(node: Node, state: LifecycleState) -> TransitionCallbackReturn:
            try:
                return transition(node, state)
            except Exception as error:  # anything: rclpy would hide it
                reason = f'cannot {name}: {type(error).__name__}: {error}'
                node.health.error(time.monotonic(), reason, frame_failed=False)
                node.safe_logger().error(f'{reason}\n{traceback.format_exc()}')
                return failed
        return run
    return wrap
