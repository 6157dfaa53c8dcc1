"""Test-wide settings: keep this run's DDS traffic to itself.

DDS discovers every participant on the machine, so each pytest process gets its own domain id
(before any test imports rclpy) and discovery stays on loopback. The id is set even when the
shell has one: tests publish on generic topic names (image, hands, ...) and must never reach a
live robot's domain.
"""
import os

os.environ['ROS_DOMAIN_ID'] = str(1 + os.getpid() % 100)
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
