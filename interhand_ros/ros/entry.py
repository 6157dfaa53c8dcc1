"""What every console node of the package does around its node: start, spin, stop cleanly.

Ctrl-C (SIGINT) and SIGTERM reach rclpy's handler, which shuts the context down and so ends the
spin; the node then stops (a frame in the estimator finishes) and the process exits 0. A terminal
sends Ctrl-C to the launch process and the node together, and users press it twice: a second
SIGINT must not break the stop. So Python's SIGINT handler raises KeyboardInterrupt only while
the node is being built (Ctrl-C interrupts model loading), does nothing while it spins and
stops, and SIGINT is ignored once rclpy is shut down (the interpreter's exit resets a Python
handler to the default action, and a Ctrl-C then killed the exiting process: status -2). A
Ctrl-C while building interrupts it once: the SIGINT launch forwards after a terminal's press
then finds the stop under way and does nothing (it interrupted the clean-up, status -2).
"""
from __future__ import annotations

import signal
from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node


class StartupError(RuntimeError):
    """A node cannot start (bad parameter, checkpoint, robot, device); the message says why."""


class _CtrlC:
    """Python's SIGINT handler for the rest of the process: KeyboardInterrupt while building,
    nothing once spinning (rclpy's handler, installed after this one, shuts the context down
    and chains to it; during the stop and the interpreter's exit a Ctrl-C is not an error)."""

    def __init__(self) -> None:
        self.building = True
        signal.signal(signal.SIGINT, self)

    def __call__(self, signum: int, frame: object) -> None:
        if self.building:  # only the first press interrupts: the stop after it runs to its end
            self.building = False
            raise KeyboardInterrupt


def _shutdown() -> None:
    """rclpy down (its signal handlers removed), then nothing left for a Ctrl-C to stop."""
    rclpy.try_shutdown()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def spin_node(build: Callable[[], Node], logger_name: str,
              args: list[str] | None = None) -> int:
    """rclpy.init, build the node, spin until Ctrl-C; exit status 1 when it cannot start.

    The process's entry point (main thread): it keeps its SIGINT handler until the process ends.
    """
    ctrl_c = _CtrlC()  # before rclpy.init: rclpy's handler chains to the one it replaces
    rclpy.init(args=args)
    try:
        node = build()
        ctrl_c.building = False
    except StartupError as error:
        rclpy.logging.get_logger(logger_name).fatal(f'cannot start: {error}')
        _shutdown()
        return 1
    except KeyboardInterrupt:  # Ctrl-C while loading: a stop, not a failure
        _shutdown()
        return 0
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except ExternalShutdownException:
        pass
    except Exception:
        if rclpy.ok():
            raise
        # Ctrl-C shut the context down while a message was being taken: a shutdown, not a fault.
    finally:
        node.destroy_node()
        _shutdown()
    return 0
