"""Shared by the teleop tests (a helper module, not a test file): the test robot URDFs."""
from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

URDF_DIR = Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'robot_hands'


def urdf_limits(robot: str, side: str) -> dict[str, tuple[float, float]]:
    """Moving joints and their limits, read from the URDF itself (not through the library)."""
    root = ElementTree.parse(URDF_DIR / robot / f'{robot}_{side}.urdf').getroot()
    limits = {}
    for joint in root.iter('joint'):
        limit, name = joint.find('limit'), joint.get('name')
        if joint.get('type') in ('revolute', 'prismatic') and limit is not None and name:
            limits[name] = (float(limit.get('lower', 'nan')), float(limit.get('upper', 'nan')))
    return limits
