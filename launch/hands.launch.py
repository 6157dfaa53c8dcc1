"""Start the hands node on a camera, with config/hands.yaml and optionally RViz.

    ros2 launch interhand_ros hands.launch.py camera:=/camera/camera/color \
        checkpoint:=/path/to/snapshot_20.pth.tar use_rviz:=true

Topics are wired by remapping the node's generic names (image, camera_info, depth, depth_info)
to <camera>/<topic> and roi to roi_topic (image_transport:=compressed subscribes
<camera>/<image_topic>/compressed). Launch arguments override the parameter file; their
defaults equal it. The node is a lifecycle node: autostart:=false leaves it unconfigured for a
lifecycle manager (nav2_lifecycle_manager, or launch_ros ChangeState events on this action).
"""
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription  # type: ignore[attr-defined]  # mypy: repo's launch/

PACKAGE = 'interhand_ros'
EXECUTABLE = 'hands_node'
PARAMS_FILE = 'config/hands.yaml'
RVIZ_FILE = 'config/hands.rviz'

# node parameter: (launch argument, default = config/hands.yaml, description)
PARAMETER_ARGUMENTS = {
    'checkpoint': ('checkpoint', '', "InterNet checkpoint; '' = MediaPipe landmark fallback"),
    'device': ('device', 'auto', 'auto | cpu | cuda | cuda:N'),
    'precision': ('precision', 'fp32', 'fp32 | bf16 | fp16 | int8 (int8: backend openvino)'),
    'backend': ('backend', 'torch', 'torch | openvino | onnxruntime | auto (fastest exact)'),
    'roi.mode': ('roi_mode', 'full', 'full | fixed | track | topic | detector'),
    'depth.mode': ('depth_mode', 'hand_size', 'hand_size | depth_image | fixed'),
    'sync': ('sync', 'approximate', 'approximate | exact | latest'),
    'rectified': ('rectified', 'false', 'true when the image topic is rectified (image_rect*)'),
    'image_transport': ('image_transport', 'raw',
                        'raw | compressed (subscribes <image_topic>/compressed)'),
    'autostart': ('autostart', 'true', 'configure + activate at start; false = lifecycle manager'),
}
# node input: (launch argument, default topic under the camera namespace)
TOPIC_ARGUMENTS = {
    'image': ('image_topic', 'image_raw'),
    'camera_info': ('camera_info_topic', 'camera_info'),
    'depth': ('depth_topic', 'aligned_depth_to_color/image_raw'),
    'depth_info': ('depth_info_topic', 'aligned_depth_to_color/camera_info'),
}


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
        DeclareLaunchArgument('use_rviz', default_value='false', description='start RViz'),
        DeclareLaunchArgument('frame', default_value='camera_color_optical_frame',
                              description="RViz fixed frame: the camera's optical frame"),
    ]
    arguments += [DeclareLaunchArgument(name, default_value=default, description=description)
                  for name, default, description in PARAMETER_ARGUMENTS.values()]
    arguments += [DeclareLaunchArgument(name, default_value=default,
                                        description=f'{topic} topic under the camera namespace')
                  for topic, (name, default) in TOPIC_ARGUMENTS.items()]

    overrides = {parameter: ParameterValue(LaunchConfiguration(name), value_type=str)
                 for parameter, (name, _, _) in PARAMETER_ARGUMENTS.items()
                 if parameter not in ('rectified', 'autostart')}
    overrides['rectified'] = ParameterValue(LaunchConfiguration('rectified'), value_type=bool)
    overrides['autostart'] = ParameterValue(LaunchConfiguration('autostart'), value_type=bool)
    remappings = [(topic, [LaunchConfiguration('camera'), '/', LaunchConfiguration(name)])
                  for topic, (name, _) in TOPIC_ARGUMENTS.items()]
    remappings.append(('roi', LaunchConfiguration('roi_topic')))

    hands = LifecycleNode(package=PACKAGE, executable=EXECUTABLE, name='hands',
                          namespace=LaunchConfiguration('namespace'), output='screen',
                          parameters=[LaunchConfiguration('params_file'), overrides],
                          remappings=remappings)
    rviz = Node(package='rviz2', executable='rviz2', name='rviz2', output='screen',
                arguments=['-d', PathJoinSubstitution([share, RVIZ_FILE]),
                           '-f', LaunchConfiguration('frame')],
                condition=IfCondition(LaunchConfiguration('use_rviz')))
    return LaunchDescription(arguments + [hands, rviz])
