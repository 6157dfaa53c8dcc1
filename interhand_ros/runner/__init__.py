"""The command-line tools: `interhand-run`, `interhand-quantize`, `interhand-export` and
`interhand-calibrate`.

interhand-run, the node's per-frame chain offline on videos, image folders and ROS 2 bags:
inputs.py (what a path is; video and folder frames), bag.py (bags in and out, paired with the
node's processing/stamp_sync.py), outputs.py (JSONL / CSV / annotated images, staged until the
run is done), cli.py (the flags, the factory-built estimator, and run() composing the parts).
interhand-quantize, a reduced-precision model checked on the user's footage: quantize.py (the
tool), quantize_footage.py (the crops, from the chain's rois), quantize_report.py (the verdict).
interhand-export, the network as ONNX: export.py.
interhand-calibrate, the cameras' lenses and poses from ChArUco views (calibration/):
calibrate.py (the flags and outputs), calibrate_inputs.py (folders, videos, bags),
calibrate_live.py (live topics: the one rclpy import besides bag.py).
"""
