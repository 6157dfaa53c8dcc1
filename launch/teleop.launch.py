"""Hands node (hands.launch.py, every argument of it) plus the retarget node for a robot hand.

    ros2 launch interhand_ros teleop.launch.py camera:=/camera/camera/color robot:=leap_hand \
        urdf_dir:=/path/to/dex-urdf/robots/hands

robot sets both sides; robot_right / robot_left override one side ('' skips it). The retarget
node runs in the hands node's namespace, subscribes its `hands` and publishes
retarget/<side>/joint_states (docs/teleoperation.md). Its other arguments, like the hands
node's, are applied only when given (left out: the retarget node's own default). The
included hands.launch.py sets FASTDDS_DEFAULT_PROFILES_FILE (dds_profile) before the retarget
node starts, so it reaches this node too.
"""
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, OpaqueFunction
from launch.launch_context import LaunchContext
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription  # type: ignore[attr-defined]  # mypy: repo's launch/

PACKAGE = 'interhand_ros'
NOT_GIVEN = ''  # a retarget argument's default: the retarget node's own default decides

# retarget node parameter: (launch argument, parameter type, description)
RETARGET_ARGUMENTS = {
    'retargeting_type': ('retargeting_type', str, 'vector | dexpilot | position'),
    'urdf_dir': ('urdf_dir', str, "dex-urdf's robots/hands folder"),
    'max_velocity': ('max_velocity', float, 'rad/s per joint between commands; 0 = no limit'),
}


def retarget_node(context: LaunchContext) -> list:
    """The retarget node with the robots and only the retarget arguments the user gave."""
    parameters = {
        'robot_right': ParameterValue(LaunchConfiguration('robot_right'), value_type=str),
        'robot_left': ParameterValue(LaunchConfiguration('robot_left'), value_type=str),
    }
    parameters.update({parameter: ParameterValue(LaunchConfiguration(argument), value_type=kind)
                       for parameter, (argument, kind, _) in RETARGET_ARGUMENTS.items()
                       if LaunchConfiguration(argument).perform(context) != NOT_GIVEN})
    return [Node(package=PACKAGE, executable='retarget_node', name='retarget',
                 namespace=LaunchConfiguration('namespace', default=''), output='screen',
                 parameters=[parameters])]


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
    arguments += [DeclareLaunchArgument(name, default_value=NOT_GIVEN,
                                        description=f'{description} (not given: node default)')
                  for name, _, description in RETARGET_ARGUMENTS.values()]
    hands = IncludeLaunchDescription(PythonLaunchDescriptionSource(
        PathJoinSubstitution([share, 'launch', 'hands.launch.py'])))
    # After the include: its dds_profile environment applies to the retarget node as well.
    return LaunchDescription([*arguments, hands, OpaqueFunction(function=retarget_node)])
