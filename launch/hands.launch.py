"""Start the hands node on a camera, with config/hands.yaml and optionally RViz.

    ros2 launch interhand_ros hands.launch.py camera:=/camera/camera/color \
        checkpoint:=/path/to/snapshot_20.pth.tar use_rviz:=true

Topics are wired by remapping the node's generic names (image, camera_info, depth, depth_info)
to <camera>/<topic> and roi to roi_topic (image_transport:=compressed subscribes
<camera>/<image_topic>/compressed). The parameter arguments (checkpoint, backend, roi_mode, ...)
are the node parameters marked `launch` in interhand_ros/settings.py, with their descriptions
and choices; one overrides params_file only when given: left out ('' = not given) the params
file, else the node's own default, decides. The node is a lifecycle node: autostart:=false
leaves it unconfigured for a lifecycle manager (nav2_lifecycle_manager, or launch_ros
ChangeState events on this action).

Ctrl-C in a terminal reaches every process of the group, so launch only waits for them. A
SIGINT sent to the launch process alone (`kill -INT <pid>` from a script) is passed on to the
processes here (forward_sigint), as the terminal would, instead of launch escalating to SIGTERM
after 5 s; a node stops the same on a duplicate SIGINT. A second Ctrl-C while launch stops must
not abort launch itself (launch_sigint_never_interrupts).

Every process started here gets FASTDDS_DEFAULT_PROFILES_FILE=dds_profile (default: the
installed config/fastdds.xml, whose shared-memory segment carries camera images between
processes; '' = Fast DDS defaults), unless the variable is already exported: that value is kept.
"""
import os
import signal

from launch.actions import (
    DeclareLaunchArgument,
    EmitEvent,
    LogInfo,
    OpaqueFunction,
    RegisterEventHandler,
    SetEnvironmentVariable,
)
from launch.conditions import IfCondition
from launch.event_handlers import OnShutdown
from launch.events import Shutdown
from launch.events.process import SignalProcess
from launch.launch_context import LaunchContext
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from interhand_ros.dds_shm import clean_dead_segments
from interhand_ros.settings import PARAMETERS, launch_argument
from launch import LaunchDescription  # type: ignore[attr-defined]  # mypy: repo's launch/

PACKAGE = 'interhand_ros'
EXECUTABLE = 'hands_node'
PARAMS_FILE = 'config/hands.yaml'
RVIZ_FILE = 'config/hands.rviz'
DDS_PROFILE = 'config/fastdds.xml'
DDS_VARIABLE = 'FASTDDS_DEFAULT_PROFILES_FILE'
NOT_GIVEN = ''  # a parameter argument's default: params_file (else the node) decides

# The node parameters offered as arguments (settings.PARAMETERS marked `launch`).
PARAMETER_ARGUMENTS = [spec for spec in PARAMETERS if spec.launch]
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


def clean_shared_memory(context: LaunchContext) -> list:
    """Removes the shared memory of dead processes before this launch starts any node; once
    per launch, also when several launch files include this one."""
    if hasattr(context.locals, 'interhand_shm_cleaned'):
        return []
    context.extend_globals({'interhand_shm_cleaned': True})
    try:
        report = clean_dead_segments()
    except RuntimeError as error:
        return [LogInfo(msg=f'shared memory of dead processes left as it is: {error}')]
    if report.segments or report.ports:
        return [LogInfo(msg=report.describe())]
    return []


def hands_node(context: LaunchContext) -> list:
    """The node with params_file plus only the parameter arguments the user gave."""
    given = [spec for spec in PARAMETER_ARGUMENTS
             if LaunchConfiguration(launch_argument(spec)).perform(context) != NOT_GIVEN]
    overrides = {spec.name: ParameterValue(LaunchConfiguration(launch_argument(spec)),
                                           value_type=type(spec.default)) for spec in given}
    remappings = [(topic, [LaunchConfiguration('camera'), '/', LaunchConfiguration(name)])
                  for topic, (name, _) in TOPIC_ARGUMENTS.items()]
    remappings.append(('roi', LaunchConfiguration('roi_topic')))
    parameters: list = [LaunchConfiguration('params_file')]
    if overrides:
        parameters.append(overrides)
    return [LifecycleNode(package=PACKAGE, executable=EXECUTABLE, name='hands',
                          namespace=LaunchConfiguration('namespace'), output='screen',
                          parameters=parameters, remappings=remappings)]


def forward_sigint(event: Shutdown, context: LaunchContext) -> list:
    """SIGINT to every running process when interactive launch itself got one.

    Interactive launch (`ros2 launch`) takes its SIGINT for a terminal's Ctrl-C, which reached
    the processes too, and only waits 5 s before escalating to SIGTERM; a script's `kill -INT
    <launch pid>` reaches launch alone. After a Ctrl-C a node gets this SIGINT a second time,
    which it ignores while stopping. Non-interactive, or shutting down for another reason,
    launch sends the SIGINT itself.
    """
    if not event.due_to_sigint or context.noninteractive:
        return []
    return [EmitEvent(event=SignalProcess(signal_number=signal.SIGINT, process_matcher=running))]


def launch_sigint_never_interrupts(context: LaunchContext) -> list:
    """Ctrl-C reaches launch only through its own signal handling, never as KeyboardInterrupt.

    launch reads SIGINT from a wakeup fd, but Python's default handler also raises
    KeyboardInterrupt in launch's main thread, wherever it is. A second Ctrl-C raised it inside
    launch_ros's ROSAdapter.shutdown() (the LifecycleNode action's ROS node in the launch
    process), in its executor thread's join(); CPython 3.11's Thread.join then marks the still
    running thread as stopped (python/cpython#90882), the adapter's shutdown is abandoned, the
    interpreter exits while that thread waits in rclpy, and launch dies of SIGABRT ("terminate
    called without an active exception"), leaving its DDS participant's shared memory behind.
    A Python handler that does nothing keeps the wakeup fd (launch still logs "again,
    ignoring...") and removes the KeyboardInterrupt. launch ignores it anyway: run() catches it.
    """
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    return []


def running(process: object) -> bool:
    """A process launch can signal now: its transport is open (launch's own check before a
    signal; one still starting gets launch's deferred shutdown instead)."""
    return getattr(process, '_subprocess_transport', None) is not None


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
    arguments += [DeclareLaunchArgument(launch_argument(spec), default_value=NOT_GIVEN,
                                        description=f'{spec.description} (not given: '
                                                    'params_file)',
                                        choices=[NOT_GIVEN, *spec.choices] if spec.choices
                                        else None)
                  for spec in PARAMETER_ARGUMENTS]
    arguments += [DeclareLaunchArgument(name, default_value=default,
                                        description=f'{topic} topic under the camera namespace')
                  for topic, (name, default) in TOPIC_ARGUMENTS.items()]
    rviz = Node(package='rviz2', executable='rviz2', name='rviz2', output='screen',
                arguments=['-d', PathJoinSubstitution([share, RVIZ_FILE]),
                           '-f', LaunchConfiguration('frame')],
                condition=IfCondition(LaunchConfiguration('use_rviz')))
    return LaunchDescription([*arguments, OpaqueFunction(function=launch_sigint_never_interrupts),
                              OpaqueFunction(function=clean_shared_memory),
                              OpaqueFunction(function=dds_environment),
                              OpaqueFunction(function=hands_node), rviz,
                              RegisterEventHandler(OnShutdown(on_shutdown=forward_sigint))])
