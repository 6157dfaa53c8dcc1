"""Parameter file, RViz config and launch file agree with the node and with setup.py."""
from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from distutils.core import run_setup
from pathlib import Path
from typing import Any

import pytest
import rclpy
import yaml
from rclpy.parameter import Parameter

from interhand_ros.ros.hands_node import HandsNode
from interhand_ros.settings import DEFAULTS, PARAMETERS, launch_argument

from test_node_ros import ScriptedEstimator

REPO = Path(__file__).resolve().parents[1]
LAUNCH_FILE = REPO / 'launch' / 'hands.launch.py'
PACKAGE = 'interhand_ros'
RCLPY_BUILTIN = {'use_sim_time', 'start_type_description_service'}


def flatten(tree: dict, prefix: str = '') -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f'{prefix}{key}.'))
        else:
            flat[f'{prefix}{key}'] = value
    return flat


def yaml_parameters() -> dict:
    document = yaml.safe_load((REPO / 'config' / 'hands.yaml').read_text())
    return flatten(document['/**']['ros__parameters'])


def launch_constants() -> dict:
    """Module-level constants of the launch file (never executed here): literals, and tables
    whose entries name a parameter type (str, bool)."""
    tree = ast.parse(LAUNCH_FILE.read_text())
    types = {'str': str, 'bool': bool, 'float': float, 'int': int}
    return {node.targets[0].id: eval(compile(ast.Expression(node.value), str(LAUNCH_FILE), 'eval'),
                                     {'__builtins__': {}}, types)
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, (ast.Constant, ast.Dict))}


def installed_files() -> tuple[dict[str, Path], Any]:
    """share/... install path -> repository file, from setup.py's data_files; the distribution."""
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        distribution = run_setup('setup.py', stop_after='init')
    finally:
        os.chdir(cwd)
    return {f'{target}/{Path(source).name}': REPO / source
            for target, sources in distribution.data_files for source in sources}, distribution


def test_yaml_defaults_equal_the_node_defaults():
    assert yaml_parameters() == DEFAULTS


def test_node_declares_every_yaml_parameter_with_its_value():
    rclpy.init()
    try:
        node = HandsNode(estimator=ScriptedEstimator(), parameter_overrides=[
            Parameter(name, value=value) for name, value in yaml_parameters().items()])
        declared = {name: parameter.value
                    for name, parameter in node.get_parameters_by_prefix('').items()
                    if name not in RCLPY_BUILTIN and not name.startswith('qos_overrides.')}
        node.destroy_node()
    finally:
        rclpy.shutdown()
    assert declared == DEFAULTS


def test_launch_file_names_installed_files_and_declared_parameters():
    constants = launch_constants()
    files, distribution = installed_files()
    assert constants['PACKAGE'] == PACKAGE
    scripts = [entry.split('=')[0].strip()
               for entry in distribution.entry_points['console_scripts']]
    assert constants['EXECUTABLE'] in scripts
    for name in ('PARAMS_FILE', 'RVIZ_FILE', 'DDS_PROFILE'):
        installed = f'share/{PACKAGE}/{constants[name]}'
        assert installed in files, f'{constants[name]} is not installed by setup.py'
        assert files[installed].is_file()
    assert f'share/{PACKAGE}/launch/hands.launch.py' in files
    assert set(constants['TOPIC_ARGUMENTS']) == {'image', 'camera_info', 'depth', 'depth_info'}


def test_the_settings_table_imports_without_torch_or_rclpy():
    """The launch file reads it: launching must not load the network's libraries."""
    code = ('import sys, interhand_ros.settings; '
            "print(sorted({'torch', 'rclpy', 'cv2', 'mediapipe'} & set(sys.modules)))")
    loaded = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == '[]'


def test_rviz_config_shows_the_node_outputs():
    config = yaml.safe_load((REPO / 'config' / 'hands.rviz').read_text())
    manager = config['Visualization Manager']
    topics = {display['Class']: display['Topic']['Value']
              for display in manager['Displays'] if 'Topic' in display}
    assert topics == {'rviz_default_plugins/MarkerArray': '/hands/markers',
                      'rviz_default_plugins/Image': '/hands/debug_image'}
    assert manager['Global Options']['Fixed Frame'].endswith('optical_frame')


@pytest.mark.skipif(importlib.util.find_spec('launch_ros') is None,
                    reason='launch_ros is not installable from PyPI; present on a ROS install')
def test_launch_file_imports_and_builds_a_description():
    """Parameter arguments default to '' (not given), so params_file decides unless the user
    gives one (test_node_launch_run runs it with a params file)."""
    from launch import LaunchDescription
    spec = importlib.util.spec_from_file_location('hands_launch', LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    assert isinstance(description, LaunchDescription)
    arguments = {argument.name: argument for argument in description.get_launch_arguments()}
    # the parameter arguments are the table's entries marked launch, with their text and choices
    assert module.PARAMETER_ARGUMENTS == [spec for spec in PARAMETERS if spec.launch]
    for spec in module.PARAMETER_ARGUMENTS:
        argument = arguments[launch_argument(spec)]
        assert [part.perform(None) for part in argument.default_value] == [module.NOT_GIVEN]
        assert argument.description.startswith(spec.description), spec.name
        if spec.choices:
            assert argument.choices == [module.NOT_GIVEN, *spec.choices], spec.name
    assert {'params_file', 'dds_profile', 'camera', 'namespace'} <= set(arguments)


def test_every_parameter_is_documented_with_its_default():
    text = (REPO / 'docs' / 'node.md').read_text()
    for name, default in DEFAULTS.items():
        shown = (str(default).lower() if isinstance(default, bool)
                 else "''" if default == '' else str(default))
        assert f'| `{name}` | `{shown}` |' in text, name


def test_the_documented_parameter_arguments_are_the_launch_files():
    """docs/node.md's launch table row lists exactly the table's launch arguments."""
    text = (REPO / 'docs' / 'node.md').read_text()
    row = next(line for line in text.splitlines() if " | `''` (not given) | " in line)
    documented = row.split(' | ')[0].lstrip('| ').replace('`', '').split(', ')
    assert documented == [launch_argument(spec) for spec in PARAMETERS if spec.launch]
