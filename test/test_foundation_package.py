"""package.xml lists exactly what interhand_ros/ and launch/ import (imports inside functions
count), under the rosdep keys, and nothing else but rviz2 (started by hands.launch.py); what
has no rosdep key is pip-only and stays out."""
from __future__ import annotations

import ast
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OWN = {'interhand_ros'}
ROSDEP_KEYS = {'yaml': 'python3-yaml', 'cv2': 'python3-opencv', 'numpy': 'python3-numpy',
               'transforms3d': 'python3-transforms3d', 'matplotlib': 'python3-matplotlib',
               'tqdm': 'python3-tqdm', 'scipy': 'python3-scipy'}
ROS_PACKAGES = {'rclpy', 'rcl_interfaces', 'builtin_interfaces', 'std_msgs', 'sensor_msgs',
                'geometry_msgs', 'visualization_msgs', 'diagnostic_msgs', 'tf2_msgs',
                'interhand_msgs', 'message_filters', 'ament_index_python', 'launch',
                'launch_ros'}
PIP_ONLY = {'torch', 'mediapipe', 'rosbags', 'dex_retargeting', 'openvino', 'nncf',
            'onnxruntime'}
NOT_IMPORTED = {'rviz2'}  # an executable hands.launch.py starts


def imported_modules() -> set[str]:
    """Top-level names of every absolute import in interhand_ros/ and launch/."""
    names: set[str] = set()
    for path in [*REPO.glob('interhand_ros/**/*.py'), *REPO.glob('launch/*.py')]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split('.')[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split('.')[0])
    return names - set(sys.stdlib_module_names) - OWN


def test_package_xml_lists_exactly_the_imported_packages():
    imported = imported_modules()
    unknown = imported - ROSDEP_KEYS.keys() - ROS_PACKAGES - PIP_ONLY
    assert not unknown, f'imported but neither a ROS package, a rosdep key nor pip-only: {unknown}'
    root = ElementTree.parse(REPO / 'package.xml').getroot()
    declared = {element.text for element in root.findall('exec_depend')}
    expected = {ROSDEP_KEYS.get(name, name) for name in imported - PIP_ONLY} | NOT_IMPORTED
    assert declared == expected, (f'missing: {expected - declared}, '
                                  f'not imported: {declared - expected}')
