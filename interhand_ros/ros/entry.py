"""What every console node of the package does around its node: start, spin, stop cleanly."""
from __future__ import annotations

from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node


class StartupError(RuntimeError):
    """A node cannot start (bad parameter, checkpoint, robot, device); the message says why."""


def spin_node(build: Callable[[], Node], logger_name: str,
              args: list[str] | None = None) -> int:
    """rclpy.init, build the node, spin until Ctrl-C; exit status 1 when it cannot start."""
    rclpy.init(args=args)
    try:
        node = build()
    except StartupError as error:
        rclpy.logging.get_logger(logger_name).fatal(f'cannot start: {error}')
        rclpy.try_shutdown()
        return 1
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        if rclpy.ok():
            raise
        # Ctrl-C shut the context down while a message was being taken: a shutdown, not a fault.
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
