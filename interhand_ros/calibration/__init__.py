"""Multi-camera calibration with a ChArUco board (numpy, OpenCV, SciPy; no ROS, no torch).

board.py (the board from its flags), detection.py (corners per image), intrinsics.py (one
camera's lens from its views, board poses by PnP), poses.py (rigid transforms), initial.py
(first camera poses from shared views), bundle.py (one bundle adjustment over every corner),
checks.py (what a wrong board size shows), solve.py (the whole calibration), report.py and
plot.py (how good it is), extrinsics_yaml.py (the output YAML, its reader and the
camera_calibration YAML per camera), printing.py (the board at true scale).
"""
