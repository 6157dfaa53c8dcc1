"""Runs an installed interhand_ros launch file the way `ros2 launch` does, for tests that must
signal launch from outside the test process (ros2launch is not installed here):

    python test/launch_child.py hands.launch.py camera:=/cam use_rviz:=false

An interactive launch.LaunchService in this process's main thread, the launch file found
through the ament index (AMENT_PREFIX_PATH); the exit status is launch's return code.
"""
from __future__ import annotations

import sys
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource

from launch import LaunchDescription, LaunchService  # type: ignore[attr-defined]


def main(argv: list[str]) -> int:
    name, *arguments = argv
    launch_file = Path(get_package_share_directory('interhand_ros')) / 'launch' / name
    pairs = [argument.partition(':=') for argument in arguments]
    service = LaunchService(argv=arguments)
    service.include_launch_description(LaunchDescription([IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(launch_file)),
        launch_arguments=[(name, value) for name, _, value in pairs])]))
    return service.run()


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
