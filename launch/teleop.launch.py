"""Hands node (hands.launch.py, every argument of it) plus the retarget node for a robot hand.

    ros2 launch interhand_ros teleop.launch.py camera:=/camera/camera/color robot:=leap_hand \
        urdf_dir:=/path/to/dex-urdf/robots/hands

robot sets both sides; robot_right / robot_left override one side ('' skips it). The retarget
node runs in the hands node's namespace, subscribes its `hands` and publishes
retarget/<side>/joint_states (docs/teleoperation.md).
"""
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription  # type: ignore[attr-defined]  # mypy: repo's launch/

PACKAGE = 'interhand_ros'

# retarget node parameter: (launch argument, default, description)
RETARGET_ARGUMENTS = {
    'retargeting_type': ('retargeting_type', 'vector', 'vector | dexpilot | position'),
    'urdf_dir': ('urdf_dir', '', "dex-urdf's robots/hands folder"),
    'max_velocity': ('max_velocity', '0.0', 'rad/s per joint between commands; 0 = no limit'),
}


def generate_launch_description() -> LaunchDescription:
    share = FindPackageShare(PACKAGE)
    arguments = [
        DeclareLaunchArgument('robot', default_value='leap_hand',
                              description='robot hand for both sides: leap_hand, allegro_hand, '
                                          'shadow_hand, inspire_hand, ability_hand'),
        DeclareLaunchArgument('robot_right', default_value=LaunchConfiguration('robot'),
                              description="robot hand for the right hand ('' = skip)"),
        DeclareLaunchArgument('robot_left', default_value=LaunchConfiguration('robot'),
                              description="robot hand for the left hand ('' = skip)"),
    ]
    arguments += [DeclareLaunchArgument(name, default_value=default, description=description)
                  for name, default, description in RETARGET_ARGUMENTS.values()]
    hands = IncludeLaunchDescription(PythonLaunchDescriptionSource(
        PathJoinSubstitution([share, 'launch', 'hands.launch.py'])))
    parameters = {
        'robot_right': ParameterValue(LaunchConfiguration('robot_right'), value_type=str),
        'robot_left': ParameterValue(LaunchConfiguration('robot_left'), value_type=str),
        'retargeting_type': ParameterValue(LaunchConfiguration('retargeting_type'),
                                           value_type=str),
        'urdf_dir': ParameterValue(LaunchConfiguration('urdf_dir'), value_type=str),
        'max_velocity': ParameterValue(LaunchConfiguration('max_velocity'), value_type=float),
    }
    retarget = Node(package=PACKAGE, executable='retarget_node', name='retarget',
                    namespace=LaunchConfiguration('namespace', default=''), output='screen',
                    parameters=[parameters])
    return LaunchDescription([*arguments, hands, retarget])
