"""The offline command-line tools: `interhand-run`, `interhand-quantize` and `interhand-export`.

interhand-run, the node's per-frame chain offline on videos, image folders and ROS 2 bags:
inputs.py (what a path is; video and folder frames), bag.py (bags in and out, paired with the
node's processing/stamp_sync.py), outputs.py (JSONL / CSV / annotated images, staged until the
run is done), cli.py (the flags, the factory-built estimator, and run() composing the parts).
interhand-quantize, a reduced-precision model checked on the user's footage: quantize.py (the
tool), quantize_footage.py (the crops, from the chain's rois), quantize_report.py (the verdict).
interhand-export, the network as ONNX: export.py.
"""
