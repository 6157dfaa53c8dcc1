"""A robot hand of the tests' own (a helper module, not a test file): a two-finger URDF and its
dex-retargeting position config, written where the test says, to show that a robot is data."""
from __future__ import annotations

from pathlib import Path

# The test robot: two fingers (index, middle) of two revolute joints each, flexing towards +x
# of the MANO wrist frame (the palm side) about y, their bases where the human MCPs are (m).
TWO_FINGERS = {'index': (0.025, 0.090), 'middle': (0.003, 0.093)}
SEGMENTS = (0.045, 0.035)  # m, proximal then distal
TWO_FINGER_LIMITS = {f'{finger}_joint_{segment}': (0.0, 1.6)
                     for finger in TWO_FINGERS for segment in range(len(SEGMENTS))}


def two_finger_robot(folder: Path, urdf_path: str = 'two_finger.urdf') -> Path:
    """Writes folder/two_finger.urdf and its dex-retargeting position config (index and middle
    fingertips follow the human's, joints 8 and 12); returns the config's path."""
    parts = ['<?xml version="1.0"?>', '<robot name="two_finger">', '<link name="palm"/>']
    for finger, (y, z) in TWO_FINGERS.items():
        parent, origin = 'palm', f'0 {y} {z}'
        for segment, length in enumerate(SEGMENTS):
            name = f'{finger}_joint_{segment}'
            lower, upper = TWO_FINGER_LIMITS[name]
            parts += [f'<link name="{finger}_link_{segment}"/>',
                      f'<joint name="{name}" type="revolute"><parent link="{parent}"/>'
                      f'<child link="{finger}_link_{segment}"/><origin xyz="{origin}"/>'
                      f'<axis xyz="0 1 0"/><limit lower="{lower}" upper="{upper}" effort="1" '
                      'velocity="3"/></joint>']
            parent, origin = f'{finger}_link_{segment}', f'0 0 {length}'
        parts += [f'<link name="{finger}_tip"/>',
                  f'<joint name="{finger}_tip_joint" type="fixed"><parent link="{parent}"/>'
                  f'<child link="{finger}_tip"/><origin xyz="{origin}"/></joint>']
    folder.mkdir(parents=True, exist_ok=True)
    (folder / 'two_finger.urdf').write_text('\n'.join([*parts, '</robot>']))
    config = folder / 'two_finger.yml'
    config.write_text('retargeting:\n  type: position\n'
                      f'  urdf_path: {urdf_path}\n'
                      '  target_link_names: [index_tip, middle_tip]\n'
                      '  target_link_human_indices: [8, 12]\n'
                      '  low_pass_alpha: 1\n')
    return config
