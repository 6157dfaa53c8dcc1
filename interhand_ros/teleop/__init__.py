"""Teleoperation-grade output: temporal filtering, stable sides, wrist frames, retargeting.

Pure computing modules (no rclpy): the hands node, the retarget node and interhand-run use them.
"""
