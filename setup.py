"""ament_python package `interhand_ros`: two-hand 3D pose estimation (InterNet) for ROS 2."""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'interhand_ros'

setup(
    name=PACKAGE,
    version='0.1.0',
    # Only interhand_ros and its subpackages: training/ and interhand_msgs/ are not installed.
    packages=find_packages(include=[PACKAGE, f'{PACKAGE}.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', [f'resource/{PACKAGE}']),
        (f'share/{PACKAGE}', ['package.xml']),
        (f'share/{PACKAGE}/launch', glob('launch/*.launch.py')),
        (f'share/{PACKAGE}/config',
         glob('config/*.yaml') + glob('config/*.rviz') + glob('config/*.xml')),
    ],
    install_requires=['setuptools'],
    extras_require={'test': ['pytest']},
    zip_safe=True,
    maintainer='interhand_ros developers',
    maintainer_email='dev@interhand-ros.invalid',
    description='Two-hand 3D pose estimation (InterNet) from one RGB camera for ROS 2.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'extrinsics_publisher = interhand_ros.ros.extrinsics_publisher:main',
            'fusion_node = interhand_ros.ros.fusion_node:main',
            'hands_node = interhand_ros.ros.hands_node:main',
            'interhand-calibrate = interhand_ros.runner.calibrate:main',
            'interhand-run = interhand_ros.runner.cli:main',
            'interhand-export = interhand_ros.runner.export:main',
            'interhand-quantize = interhand_ros.runner.quantize:main',
            'retarget_node = interhand_ros.ros.retarget_node:main',
        ],
    },
)
