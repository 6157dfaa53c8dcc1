"""Start the hands node on a camera, with config/hands.yaml and optionally RViz.

    ros2 launch interhand_ros hands.launch.py camera:=/camera/camera/color \
        checkpoint:=/path/to/snapshot_20.pth.tar use_rviz:=true

Topics are wired by remapping the node's generic names (image, camera_info, depth, depth_info)
to <camera>/<topic> and roi to roi_topic (image_transport:=compressed subscribes
<camera>/<image_topic>/compressed). A parameter argument (checkpoint, backend, ...) overrides
params_file only when given: left out ('' = not given) the params file, else the node's own
default, decides. The node is a lifecycle node: autostart:=false leaves it unconfigured for a
lifecycle manager (nav2_lifecycle_manager, or launch_ros ChangeState events on this action).

Every process started here gets FASTDDS_DEFAULT_PROFILES_FILE=dds_profile (default: the
installed config/fastdds.xml, whose shared-memory segment carries camera images between
processes; '' = Fast DDS defaults), unless the variable is already exported: that value is kept.
"""
import os

from launch.actions import DeclareLaunchArgument, LogInfo, OpaqueFunction, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.launch_context import LaunchContext
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription  # type: ignore[attr-defined]  # mypy: repo's launch/

PACKAGE = 'interhand_ros'
EXECUTABLE = 'hands_node'
PARAMS_FILE = 'config/hands.yaml'
RVIZ_FILE = 'config/hands.rviz'
DDS_PROFILE = 'config/fastdds.xml'
DDS_VARIABLE = 'FASTDDS_DEFAULT_PROFILES_FILE'
NOT_GIVEN = ''  # a parameter argument's default: params_file (else the node) decides

# node parameter: (launch argument, parameter type, description)
PARAMETER_ARGUMENTS = {
    'checkpoint': ('checkpoint', str, "InterNet checkpoint; the node's '' = MediaPipe landmark "
                                      'fallback'),
    'device': ('device', str, 'auto | cpu | cuda | cuda:N'),
    'precision': ('precision', str, 'fp32 | bf16 | fp16 | int8 (int8: backend openvino)'),
    'backend': ('backend', str, 'auto (fastest exact) | torch | openvino | onnxruntime'),
    'roi.mode': ('roi_mode', str, 'full | fixed | track | topic | detector'),
    'depth.mode': ('depth_mode', str, 'hand_size | depth_image | fixed'),
    'sync': ('sync', str, 'approximate | exact | latest'),
    'rectified': ('rectified', bool, 'true when the image topic is rectified (image_rect*)'),
    'image_transport': ('image_transport', str,
                        'raw | compressed (subscribes <image_topic>/compressed)'),
    'autostart': ('autostart', bool, 'configure + activate at start; false = lifecycle manager'),
}
# node input: (launch argument, default topic under the camera namespace)
TOPIC_ARGUMENTS = {
    'image': ('image_topic', 'image_raw'),
    'camera_info': ('camera_info_topic', 'camera_info'),
    'depth': ('depth_topic', 'aligned_depth_to_color/image_raw'),
    'depth_info': ('depth_info_topic', 'aligned_depth_to_color/camera_info'),
}


def dds_environment(context: LaunchContext) -> list:
    """FASTDDS_DEFAULT_PROFILES_FILE for this launch's processes, unless the user exported one.

    SetEnvironmentVariable changes the environment of every process started after it, so a
    launch file that includes this one (teleop.launch.py) passes it on to its own nodes too.
    """
    exported = context.environment.get(DDS_VARIABLE)
    if exported is not None:
        return [LogInfo(msg=f'keeping the exported {DDS_VARIABLE}={exported!r}; '
                            'dds_profile is not applied')]
    profile = LaunchConfiguration('dds_profile').perform(context)
    if not profile:
        return [LogInfo(msg="dds_profile:='': Fast DDS default transports; camera images over "
                            '512 KB from another process may be lost (docs/node.md)')]
    if not os.path.isfile(profile):
        raise FileNotFoundError(f"dds_profile {profile} does not exist ('' = no profile)")
    return [SetEnvironmentVariable(DDS_VARIABLE, profile),
            LogInfo(msg=f'{DDS_VARIABLE}={profile} for every process of this launch')]


def hands_node(context: LaunchContext) -> list:
    """The node with params_file plus only the parameter arguments the user gave."""
    overrides = {parameter: ParameterValue(LaunchConfiguration(argument), value_type=kind)
                 for parameter, (argument, kind, _) in PARAMETER_ARGUMENTS.items()
                 if LaunchConfiguration(argument).perform(context) != NOT_GIVEN}
    remappings = [(topic, [LaunchConfiguration('camera'), '/', LaunchConfiguration(name)])
                  for topic, (name, _) in TOPIC_ARGUMENTS.items()]
    remappings.append(('roi', LaunchConfiguration('roi_topic')))
    parameters: list = [LaunchConfiguration('params_file')]
    if overrides:
        parameters.append(overrides)
    return [LifecycleNode(package=PACKAGE, executable=EXECUTABLE, name='hands',
                          namespace=LaunchConfiguration('namespace'), output='screen',
                          parameters=parameters, remappings=remappings)]


def generate_launch_description() -> LaunchDescription:
    share = FindPackageShare(PACKAGE)
    arguments = [
        DeclareLaunchArgument('camera', default_value='/camera/camera/color',
                              description='namespace of the camera topics'),
        DeclareLaunchArgument('roi_topic', default_value='/hands/roi',
                              description="sensor_msgs/RegionOfInterest for roi_mode 'topic'"),
        DeclareLaunchArgument('namespace', default_value='',
                              description='namespace of the node and its outputs'),
        DeclareLaunchArgument('params_file', default_value=PathJoinSubstitution([share,
                                                                                 PARAMS_FILE]),
                              description='parameter file'),
        DeclareLaunchArgument('dds_profile', default_value=PathJoinSubstitution([share,
                                                                                 DDS_PROFILE]),
                              description=f"Fast DDS profile for every process ('' = none); "
                                          f'an exported {DDS_VARIABLE} is kept'),
        DeclareLaunchArgument('use_rviz', default_value='false', description='start RViz'),
        DeclareLaunchArgument('frame', default_value='camera_color_optical_frame',
                              description="RViz fixed frame: the camera's optical frame"),
    ]
    arguments += [DeclareLaunchArgument(name, default_value=NOT_GIVEN,
                                        description=f'{description} (not given: params_file)')
                  for name, _, description in PARAMETER_ARGUMENTS.values()]
    arguments += [DeclareLaunchArgument(name, default_value=default,
                                        description=f'{topic} topic under the camera namespace')
                  for topic, (name, default) in TOPIC_ARGUMENTS.items()]
    rviz = Node(package='rviz2', executable='rviz2', name='rviz2', output='screen',
                arguments=['-d', PathJoinSubstitution([share, RVIZ_FILE]),
                           '-f', LaunchConfiguration('frame')],
                condition=IfCondition(LaunchConfiguration('use_rviz')))
    return LaunchDescription([*arguments, OpaqueFunction(function=dds_environment),
                              OpaqueFunction(function=hands_node), rviz])
