"""Hands node (hands.launch.py, every argument of it) plus the retarget node for a robot hand.

    ros2 launch interhand_ros teleop.launch.py camera:=/camera/camera/color robot:=leap_hand \
        urdf_dir:=/path/to/dex-urdf/robots/hands
    ros2 launch interhand_ros teleop.launch.py config_right:=/path/to/my_hand.yml \
        robot_left:='' urdf_dir:=/path/to/my/robots

A side's robot hand is a robot name of dex-retargeting (robot sets both sides; robot_right /
robot_left override one side, '' skips it) or a dex-retargeting YAML config of your own
(config_right / config_left; its urdf_path relative to urdf_dir): a side given a config takes
no robot name from `robot` (the node refuses a side with both). The retarget node runs in the
hands node's namespace, subscribes its `hands` and publishes retarget/<side>/joint_states
(docs/teleoperation.md). Its other arguments, like the hands node's, are applied only when
given (left out: the retarget node's own default); the descriptions are the node's own
(ros/retarget_node.py). The included hands.launch.py sets FASTDDS_DEFAULT_PROFILES_FILE
(dds_profile) before the retarget node starts, so it reaches this node too, and passes a SIGINT
sent to launch alone on to every process, this node's included.
"""
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, OpaqueFunction
from launch.launch_context import LaunchContext
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from interhand_ros.ros.retarget_node import PARAMETERS
from interhand_ros.skeleton import SIDES
from launch import LaunchDescription  # type: ignore[attr-defined]  # mypy: repo's launch/

PACKAGE = 'interhand_ros'
DEFAULT_ROBOT = 'leap_hand'
NOT_GIVEN = ''  # a retarget argument's default: the retarget node's own default decides
DESCRIPTIONS = {name: description for name, _, description in PARAMETERS}
# retarget node parameters given as launch arguments of the same name, only when given
RETARGET_ARGUMENTS = {name: type(default) for name, default, _ in PARAMETERS
                      if name in ('retargeting_type', 'urdf_dir', 'max_velocity')}


def side_robot(context: LaunchContext, side: str) -> dict[str, str]:
    """robot_<side> and config_<side> for the node: a config replaces `robot` on its side."""
    config = LaunchConfiguration(f'config_{side}').perform(context)
    robot = LaunchConfiguration(f'robot_{side}').perform(context)
    if config and robot == LaunchConfiguration('robot').perform(context):
        robot = ''
    return {f'robot_{side}': robot, f'config_{side}': config}


def retarget_node(context: LaunchContext) -> list:
    """The retarget node with each side's robot or config and only the arguments given."""
    parameters: dict = {}
    for side in SIDES:
        parameters.update(side_robot(context, side))
    parameters.update({name: ParameterValue(LaunchConfiguration(name), value_type=kind)
                       for name, kind in RETARGET_ARGUMENTS.items()
                       if LaunchConfiguration(name).perform(context) != NOT_GIVEN})
    return [Node(package=PACKAGE, executable='retarget_node', name='retarget',
                 namespace=LaunchConfiguration('namespace', default=''), output='screen',
                 parameters=[parameters])]


def generate_launch_description() -> LaunchDescription:
    share = FindPackageShare(PACKAGE)
    arguments = [DeclareLaunchArgument('robot', default_value=DEFAULT_ROBOT,
                                       description='robot_right and robot_left at once: '
                                                   + DESCRIPTIONS['robot_right'])]
    for side in SIDES:
        arguments += [
            DeclareLaunchArgument(f'robot_{side}', default_value=LaunchConfiguration('robot'),
                                  description=DESCRIPTIONS[f'robot_{side}']
                                  + ' (default: robot, unless config_' + side + ' is given)'),
            DeclareLaunchArgument(f'config_{side}', default_value='',
                                  description=DESCRIPTIONS[f'config_{side}']),
        ]
    arguments += [DeclareLaunchArgument(name, default_value=NOT_GIVEN,
                                        description=f'{DESCRIPTIONS[name]} (not given: node '
                                                    'default)')
                  for name in RETARGET_ARGUMENTS]
    hands = IncludeLaunchDescription(PythonLaunchDescriptionSource(
        PathJoinSubstitution([share, 'launch', 'hands.launch.py'])))
    # After the include: its dds_profile environment applies to the retarget node as well.
    return LaunchDescription([*arguments, hands, OpaqueFunction(function=retarget_node)])
