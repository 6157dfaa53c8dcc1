"""Teleoperation-grade output: temporal filtering, stable sides, retargeting, trajectories.

Pure computing modules (no rclpy): the hands node, the retarget node and interhand-run use them.
The wrist frame they work in is geometry.wrist_frame's MANO frame.
"""
