"""One hands node per camera, the fusion node, the extrinsics on /tf_static, optionally a robot.

    ros2 launch interhand_ros multi_camera.launch.py cameras:=[/cam1,/cam2,/cam3] \
        extrinsics:=rig.yaml checkpoint:=/path/to/snapshot_20.pth.tar precision:=int8

Each camera namespace gets hands.launch.py, included with camera:=<camera> namespace:=<camera>
and every other argument of it passed on (checkpoint, backend, precision, params_file,
dds_profile, roi_mode, topic names, ...): its node reads <camera>/image_raw and
<camera>/camera_info and publishes <camera>/hands/raw, which the fusion node (namespace
`namespace`, default the root: /hands) fuses in world_frame. The cameras' own wrist transforms
are remapped from /tf to <camera>/hands/tf, so /tf carries one right_wrist and one left_wrist:
the fused ones. extrinsics:=FILE (interhand-calibrate's YAML) starts extrinsics_publisher,
which publishes it on /tf_static; without it, publish world <- each optical frame yourself.
robot:=NAME also starts retarget_node on the fused hands (robot_right = robot_left = NAME).
Every hands node gets frame_grid.period = 1/camera_fps (default 30 Hz; frame_grid_period:=
overrides it, 0 = off): a node slower than its camera then estimates the same frames as the
others, so the fusion can triangulate them (docs/fusion.md).

On one machine this is the whole system; across machines, run hands.launch.py next to each
camera (camera:=/camN namespace:=/camN) and fusion_node where the fusion runs (docs/fusion.md,
"Across machines"). SIGINT
to launch alone is passed on to every process by hands.launch.py's forward_sigint, and every
process gets its dds_profile (FASTDDS_DEFAULT_PROFILES_FILE, unless exported).
"""
from pathlib import Path

from launch.actions import (
    DeclareLaunchArgument,
    GroupAction,
    IncludeLaunchDescription,
    OpaqueFunction,
)
from launch.launch_context import LaunchContext
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.launch_description_sources.python_launch_file_utilities import (
    load_python_launch_file_as_module,
)
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node, SetRemap
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from interhand_ros.fusion_settings import FUSION_PARAMETERS, normalized_views
from interhand_ros.settings import launch_argument
from launch import LaunchDescription  # type: ignore[attr-defined]  # mypy: repo's launch/

HANDS_LAUNCH = Path(__file__).resolve().parent / 'hands.launch.py'
hands = load_python_launch_file_as_module(str(HANDS_LAUNCH))  # its helpers, written once
PACKAGE, NOT_GIVEN = hands.PACKAGE, hands.NOT_GIVEN
FUSION_PARAMS_FILE = 'config/fusion.yaml'
# hands.launch.py arguments set per camera here, not passed on
PER_CAMERA = ('camera', 'namespace', 'use_rviz', 'frame')
# fusion node parameters offered as arguments (views comes from cameras)
FUSION_ARGUMENTS = [spec for spec in FUSION_PARAMETERS if spec.launch and spec.name != 'views']


def camera_list(context: LaunchContext) -> list[str]:
    """cameras:='[/cam1, /cam2]' (or '/cam1,/cam2') as namespaces; ValueError for fewer than
    two (the fusion node's own rule, said before any process starts)."""
    text = LaunchConfiguration('cameras').perform(context).strip().strip('[]')
    names = [name.strip().strip('\'"') for name in text.split(',') if name.strip()]
    return normalized_views(names)


def hands_arguments() -> list[DeclareLaunchArgument]:
    """hands.launch.py's own arguments (names, defaults, descriptions), but those set per
    camera: declared here so that `ros2 launch ... --show-args` lists them."""
    return [entity for entity in hands.generate_launch_description().entities
            if isinstance(entity, DeclareLaunchArgument) and entity.name not in PER_CAMERA]


def grid_period(context: LaunchContext) -> str:
    """frame_grid_period as given, else one frame period of camera_fps (0: newest frame wins)."""
    given = LaunchConfiguration('frame_grid_period').perform(context)
    if given != NOT_GIVEN:
        return given
    fps = float(LaunchConfiguration('camera_fps').perform(context))
    if not fps >= 0.0:
        raise ValueError(f'camera_fps must be >= 0, got {fps}')
    return str(1.0 / fps if fps > 0.0 else 0.0)


def camera_groups(context: LaunchContext) -> list:
    """Per camera: hands.launch.py in the camera's namespace, its /tf set aside (scoped)."""
    passed = [(argument.name, LaunchConfiguration(argument.name))
              for argument in hands_arguments() if argument.name != 'frame_grid_period']
    passed.append(('frame_grid_period', grid_period(context)))
    return [GroupAction([
        SetRemap(src='/tf', dst=f'{camera}/hands/tf'),
        IncludeLaunchDescription(PythonLaunchDescriptionSource(str(HANDS_LAUNCH)),
                                 launch_arguments=[('camera', camera), ('namespace', camera),
                                                   *passed]),
    ]) for camera in camera_list(context)]


def fusion_node(context: LaunchContext) -> list:
    """The fusion node on the cameras, with its params file and the arguments given."""
    overrides: dict = {'views': camera_list(context)}
    overrides.update({spec.name: ParameterValue(LaunchConfiguration(launch_argument(spec)),
                                                value_type=type(spec.default))
                      for spec in FUSION_ARGUMENTS
                      if LaunchConfiguration(launch_argument(spec)).perform(context) != NOT_GIVEN})
    nodes = [LifecycleNode(package=PACKAGE, executable='fusion_node', name='fusion',
                           namespace=LaunchConfiguration('namespace'), output='screen',
                           parameters=[LaunchConfiguration('fusion_params_file'), overrides])]
    extrinsics = LaunchConfiguration('extrinsics').perform(context)
    if extrinsics:
        if not Path(extrinsics).is_file():
            raise FileNotFoundError(f'extrinsics {extrinsics} does not exist (the YAML of '
                                    "interhand-calibrate --out; '' = publish /tf_static "
                                    'yourself)')
        nodes.append(Node(package=PACKAGE, executable='extrinsics_publisher',
                          name='extrinsics_publisher', output='screen',
                          parameters=[{'file': extrinsics}]))
    robot = LaunchConfiguration('robot').perform(context)
    if robot:
        nodes.append(Node(package=PACKAGE, executable='retarget_node', name='retarget',
                          namespace=LaunchConfiguration('namespace'), output='screen',
                          parameters=[{'robot_right': robot, 'robot_left': robot,
                                       'urdf_dir': LaunchConfiguration('urdf_dir')}]))
    return nodes


def generate_launch_description() -> LaunchDescription:
    share = FindPackageShare(PACKAGE)
    arguments = [
        DeclareLaunchArgument('cameras', description='camera namespaces, at least two: '
                                                     '[/cam1,/cam2,...]'),
        DeclareLaunchArgument('extrinsics', default_value='',
                              description="interhand-calibrate's YAML, published on /tf_static "
                                          "('' = publish world <- each optical frame yourself)"),
        DeclareLaunchArgument('namespace', default_value='',
                              description='namespace of the fusion node and its outputs'),
        DeclareLaunchArgument('fusion_params_file',
                              default_value=PathJoinSubstitution([share, FUSION_PARAMS_FILE]),
                              description='parameter file of the fusion node'),
        DeclareLaunchArgument('robot', default_value='',
                              description="also retarget the fused hands to this robot hand "
                                          "of dex-retargeting ('' = no retarget node)"),
        DeclareLaunchArgument('urdf_dir', default_value='',
                              description="the robot URDFs (a dex-urdf checkout's "
                                          'robots/hands folder), with robot'),
        DeclareLaunchArgument('camera_fps', default_value='30.0',
                              description='Hz, the cameras\' frame rate: every hands node '
                                          'estimates frames on a stamp grid of this period '
                                          'shared by all cameras (frame_grid.period; 0 = off)'),
        *hands_arguments(),
    ]
    arguments += [DeclareLaunchArgument(launch_argument(spec), default_value=NOT_GIVEN,
                                        description=f'fusion node: {spec.description} (not '
                                                    'given: fusion_params_file)')
                  for spec in FUSION_ARGUMENTS]
    # The camera groups are scoped: the fusion node's dds_profile is set again at the top.
    return LaunchDescription([*arguments, OpaqueFunction(function=camera_groups),
                              OpaqueFunction(function=hands.dds_environment),
                              OpaqueFunction(function=fusion_node)])
