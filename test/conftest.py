"""Test-wide settings: keep this run's DDS traffic to itself.

DDS discovers every participant on the machine, so each pytest process gets its own domain id
(before any test imports rclpy) and discovery stays on loopback.
"""
import os

os.environ.setdefault('ROS_DOMAIN_ID', str(1 + os.getpid() % 100))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
